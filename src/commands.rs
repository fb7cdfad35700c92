//! What each `artistbot` subcommand parses and prints, so `main` stays a thin
//! dispatcher; the work itself is the sync's, the daemon's, the import's or the skill's.
//! Commands print their results to stdout; logs go to stderr.

pub mod ask;
pub mod doctor;
mod grants;
pub mod import;
pub mod status;

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::catalog::AddedVia;
use crate::config::{EnvFile, Settings};
use crate::names::{ArtistRef, parse_artist_ref};
use crate::store::{self, PoolOptions, Store};
use crate::sync::onboard::{AddOutcome, onboard};
use crate::sync::runner::{Begin, Runner, SlotWait, Unit, Unwatched};
use crate::sync::{Progress, RunOptions, RunReport, SyncEngine, Trigger};

/// Logs a warning for each variable of the settings file or the environment that looks
/// like a setting but is not one (it is ignored, and the setting keeps its default).
pub fn warn_about_misspelt_variables(env_file: &EnvFile) {
    for problem in doctor::misspelt_variables(env_file) {
        tracing::warn!("{problem}; `artistbot doctor` checks the whole setup");
    }
}

/// Opens the catalog for a command's work (see [`Store::open`]).
pub(crate) async fn open_store(settings: &Settings) -> Result<Store> {
    let pool = PoolOptions::for_workers(settings.sync.concurrency)
        .limit_statements(settings.db_statement_timeout);
    Ok(Store::open(&settings.database_url, pool).await?)
}

/// `artistbot migrate`: creates or upgrades the schema.
pub async fn migrate(settings: &Settings, status_only: bool) -> Result<()> {
    let pool = PoolOptions::default().limit_statements(settings.db_statement_timeout);
    let store = Store::connect(&settings.database_url, pool).await?;
    if !status_only {
        store.migrate().await?;
    }
    let (applied, pending) = store.migration_status().await?;
    println!("database: {}", settings.database_url);
    for name in &applied {
        println!("  applied  {name}");
    }
    for name in &pending {
        println!("  pending  {name}");
    }
    if pending.is_empty() {
        println!("schema is up to date ({} migrations)", applied.len());
    }
    Ok(())
}

/// The runner of one CLI command: its units take turns with daemons and other commands
/// on the same database, and the first Ctrl-C or SIGTERM stops them cleanly.
pub(crate) async fn command_runner(settings: Arc<Settings>) -> Result<Runner> {
    let store = open_store(&settings).await?;
    Ok(Runner::new(
        SyncEngine::new(store, settings),
        Arc::new(Unwatched),
        stop_on_ctrl_c(),
    ))
}

/// Begins the command's unit of work, waiting up to `LOCK_WAIT` for another runner.
/// `None`, with a message, when another runner kept the lock all that time (or the
/// command was interrupted meanwhile).
pub(crate) async fn begin_unit(runner: &Runner) -> Result<Option<Unit<'_>>> {
    let wait = runner.settings().daemon.lock_wait;
    match runner.begin(SlotWait::Wait, wait).await {
        Begin::Began(unit) => Ok(Some(unit)),
        Begin::LockBusy | Begin::SlotBusy => {
            eprintln!(
                "artistbot: another runner (a daemon or another sync) has been working for {wait:?}; \
                 nothing done. `artistbot status` shows the run in progress; try again later."
            );
            Ok(None)
        }
        Begin::Stopping => Ok(None),
        Begin::Failed(error) => Err(error.into()),
    }
}

/// `artistbot sync`: one refresh now. Returns the process exit code.
pub async fn sync(settings: Arc<Settings>, force: bool) -> Result<i32> {
    let runner = command_runner(settings).await?;
    let Some(mut unit) = begin_unit(&runner).await? else {
        return Ok(2);
    };
    let progress = ConsoleProgress::new();
    let options = RunOptions {
        force,
        ..RunOptions::stale(Trigger::Cli)
    };
    let report = unit
        .guarded(runner.run_with_progress(options, &progress))
        .await;
    unit.finish().await;
    let report = report?;
    if let Some(reason) = &report.empty_catalog {
        // Nothing was done: one line says why.
        eprintln!("artistbot: {reason}");
        return Ok(report.exit_code());
    }
    print_report(&report);
    Ok(report.exit_code())
}

/// `artistbot daemon`: runs until SIGTERM / Ctrl-C (a second signal exits at once).
pub async fn daemon(settings: Arc<Settings>) -> Result<i32> {
    crate::daemon::Daemon::new(settings)
        .run(stop_on_ctrl_c())
        .await?;
    Ok(0)
}

/// `artistbot add`: resolves names, ids and links, adds them, and refreshes them now.
pub async fn add(
    settings: Arc<Settings>,
    inputs: Vec<String>,
    file: Option<&Path>,
    refresh: bool,
) -> Result<i32> {
    let mut refs: Vec<ArtistRef> = inputs.iter().filter_map(|i| parse_artist_ref(i)).collect();
    if let Some(file) = file {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        refs.extend(
            text.lines()
                .map(|line| line.split('#').next().unwrap_or(""))
                .filter_map(parse_artist_ref),
        );
    }
    if refs.is_empty() {
        bail!("nothing to add: give names, Deezer or Spotify ids or links, or --file");
    }
    let runner = command_runner(settings).await?;
    let Some(mut unit) = begin_unit(&runner).await? else {
        return Ok(2);
    };
    let progress = ConsoleProgress::new();
    let onboarded = unit
        .guarded(async {
            let (spotify, deezer) = runner.engine().clients(store::now()).await?;
            let refresh_progress = refresh.then_some(&progress as &dyn Progress);
            onboard(
                &runner,
                (&spotify, &deezer),
                &refs,
                AddedVia::Cli,
                refresh_progress,
            )
            .await
        })
        .await;
    unit.finish().await;
    let onboarded = onboarded?;
    // An artist met on Deezer may have been linked to its Spotify id by the refresh.
    let linked: std::collections::HashMap<&str, &str> = match &onboarded.refresh {
        Some(Ok(report)) => report
            .linked
            .iter()
            .map(|(from, to)| (from.as_str(), to.as_str()))
            .collect(),
        _ => Default::default(),
    };
    let shown_id = |id: &str| match linked.get(id) {
        Some(to) => format!("{to}, linked from {id}"),
        None => id.to_owned(),
    };
    let mut problems = 0;
    for outcome in &onboarded.outcomes {
        match outcome {
            AddOutcome::Added { id, name, alias } => {
                println!("added    {name} ({}){}", shown_id(id), alias_note(alias));
            }
            AddOutcome::AlreadyPresent { id, name, alias } => {
                println!("present  {name} ({}){}", shown_id(id), alias_note(alias));
            }
            AddOutcome::NotFound {
                input, suggestions, ..
            } => {
                problems += 1;
                if suggestions.is_empty() {
                    println!("unknown  {input}: no artist of that name on Deezer or Spotify");
                } else {
                    println!(
                        "unknown  {input}: no exact match; did you mean {}?",
                        suggestions.join(", ")
                    );
                }
            }
            AddOutcome::Failed { input, error } => {
                problems += 1;
                println!("failed   {input}: {error}");
            }
        }
    }
    let mut exit = if problems > 0 { 1 } else { 0 };
    if let Some(refresh) = onboarded.refresh {
        let report = refresh?;
        print_report(&report);
        exit = exit.max(report.exit_code());
    }
    Ok(exit)
}

fn alias_note(alias: &Option<String>) -> String {
    alias
        .as_ref()
        .map(|a| format!(", alias \"{a}\""))
        .unwrap_or_default()
}

/// `artistbot serve`: the Kakao skill endpoint on `BIND_ADDR` until Ctrl-C or SIGTERM,
/// then requests in flight finish.
pub async fn serve(settings: Arc<Settings>) -> Result<i32> {
    let store = crate::skill::connect_store(&settings).await?;
    let service = crate::skill::SkillService::with_miss_recording(
        store,
        settings.skill.clone(),
        crate::skill::MissRecording::AfterReplying,
    );
    let address = settings.skill.bind_addr;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} (BIND_ADDR)"))?;
    service.warm_up();
    let preview = crate::skill::preview::access(settings.skill.preview, address);
    match preview {
        Some(crate::skill::PreviewAccess::LoopbackHosts) => {
            tracing::info!("chat preview at http://{address}/ (SKILL_PREVIEW=false hides it)");
        }
        Some(crate::skill::PreviewAccess::AnyHost) => tracing::warn!(
            "chat preview at http://{address}/ for anyone who reaches {address}, without \
             SKILL_SECRET (SKILL_PREVIEW=true); keep it to a trusted network"
        ),
        None => {}
    }
    if settings.skill.secret.is_none() && !address.ip().is_loopback() {
        tracing::warn!(
            "SKILL_SECRET is not set and {address} is reachable from other hosts: anyone can \
             ask the skill and fill artist_requests; set SKILL_SECRET (and SKILL_BOT_IDS)"
        );
    }
    tracing::info!(
        "serving the Kakao skill at http://{address}/skill (database {})",
        settings.database_url
    );
    crate::skill::serve(
        listener,
        service,
        preview,
        settings.server,
        settings.daemon.shutdown_grace,
        async {
            wait_for_signal().await;
            tracing::info!("stopping: finishing the requests in flight");
        },
    )
    .await;
    Ok(0)
}

fn print_report(report: &RunReport) {
    let c = &report.counts;
    println!(
        "run #{} {}: {} due, {} refreshed, {} failed, {} left for later, {} without a Deezer match, {} artists added",
        report.run_id,
        report.status.as_str(),
        c.artists_due,
        c.artists_refreshed,
        c.artists_failed,
        report.left_due,
        c.artists_unmapped,
        c.artists_added
    );
    println!(
        "wrote {} profiles, {} top tracks, {} related rows; {} Spotify and {} Deezer calls, {} SQL statements in {:.1}s",
        c.profiles_written,
        c.top_tracks_written,
        c.related_written,
        c.spotify_calls,
        c.deezer_calls,
        report.statements,
        report.elapsed.as_secs_f64()
    );
    if let Some(reason) = &report.stop_reason {
        println!("stopped early: {reason}");
    }
    if let Some(note) = &report.spotify_note {
        println!("Spotify: {note}; Spotify links and profiles wait for a later run");
    }
    for error in &report.errors {
        println!("  error: {error}");
    }
}

/// A token cancelled by the first Ctrl-C or SIGTERM (in-flight artists finish); a second
/// signal exits at once (every artist's writes are one transaction, so the database
/// stays consistent).
pub(crate) fn stop_on_ctrl_c() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::warn!("stopping: finishing the artists in progress (signal again to quit now)");
        trigger.cancel();
        wait_for_signal().await;
        tracing::warn!("quitting now");
        std::process::exit(130);
    });
    token
}

/// Waits for Ctrl-C or (on Unix) SIGTERM.
pub(crate) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A progress bar on a terminal; otherwise a log line every 10% of the work.
struct ConsoleProgress {
    bar: Option<ProgressBar>,
    total: std::sync::atomic::AtomicU64,
    done: std::sync::atomic::AtomicU64,
}

impl ConsoleProgress {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
                )
                .expect("static template"),
            );
            bar
        });
        Self {
            bar,
            total: 0.into(),
            done: 0.into(),
        }
    }
}

impl Progress for ConsoleProgress {
    fn planned(&self, artists: u64) {
        self.total
            .store(artists, std::sync::atomic::Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(artists);
        }
    }

    fn artist_done(&self, name: &str, outcome: &str) {
        let done = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(format!("{name}: {outcome}"));
            }
            None => {
                let total = self.total.load(std::sync::atomic::Ordering::Relaxed).max(1);
                let step = (total / 10).max(1);
                if done.is_multiple_of(step) || done == total {
                    tracing::info!("{done}/{total} artists done");
                }
            }
        }
    }

    fn finished(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
