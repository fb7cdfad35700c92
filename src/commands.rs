//! What each `artistbot` subcommand parses and prints, so `main` stays a thin
//! dispatcher; the work itself is the sync's, the daemon's, the import's or the skill's.
//! Commands print their results to stdout; logs go to stderr.

pub mod import;

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::NaiveDateTime;
use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::catalog::AddedVia;
use crate::config::Settings;
use crate::names::{ArtistRef, parse_artist_ref};
use crate::store::{self, PoolOptions, Store};
use crate::sync::onboard::{AddOutcome, onboard};
use crate::sync::runner::{Begin, Runner, SlotWait, Unit, Unwatched};
use crate::sync::{Progress, RunOptions, RunReport, SyncEngine, Trigger};

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
        bail!("nothing to add: give names, Spotify ids or links, or --file");
    }
    if settings.spotify.is_none() {
        bail!("adding artists needs Spotify: set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET");
    }
    let runner = command_runner(settings).await?;
    let Some(mut unit) = begin_unit(&runner).await? else {
        return Ok(2);
    };
    let progress = ConsoleProgress::new();
    let onboarded = unit
        .guarded(async {
            let (spotify, _) = runner.engine().clients(store::now()).await?;
            let refresh_progress = refresh.then_some(&progress as &dyn Progress);
            onboard(&runner, &spotify, &refs, AddedVia::Cli, refresh_progress).await
        })
        .await;
    unit.finish().await;
    let onboarded = onboarded?;
    let mut problems = 0;
    for outcome in &onboarded.outcomes {
        match outcome {
            AddOutcome::Added { id, name, alias } => {
                println!("added    {name} ({id}){}", alias_note(alias));
            }
            AddOutcome::AlreadyPresent { id, name, alias } => {
                println!("present  {name} ({id}){}", alias_note(alias));
            }
            AddOutcome::NotFound { input, suggestions } => {
                problems += 1;
                if suggestions.is_empty() {
                    println!("unknown  {input}: Spotify has no such artist");
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

/// `artistbot status`: catalog counts, last runs, provider state.
pub async fn status(settings: &Settings) -> Result<()> {
    let pool = PoolOptions::default().limit_statements(settings.db_statement_timeout);
    let store = Store::connect(&settings.database_url, pool).await?;
    let (applied, pending) = store.migration_status().await?;
    println!("database      {}", settings.database_url);
    println!(
        "schema        {} migrations applied{}",
        applied.len(),
        if pending.is_empty() {
            String::new()
        } else {
            format!(", {} PENDING: run `artistbot migrate`", pending.len())
        }
    );
    if !pending.is_empty() && applied.is_empty() {
        return Ok(());
    }
    let counts = store.catalog_counts().await?;
    println!();
    println!("catalog");
    println!("  artists               {}", counts.artists);
    println!("  with top tracks       {}", counts.artists_with_tracks);
    println!("  with related artists  {}", counts.artists_with_related);
    println!("  matched on Deezer     {}", counts.artists_on_deezer);
    println!(
        "  no Deezer match       {}",
        counts.artists_unmatched_on_deezer
    );
    println!("  aliases               {}", counts.aliases);
    println!(
        "  top tracks            {}",
        by_source(&counts.top_tracks_by_source)
    );
    println!(
        "  related rows          {}",
        by_source(&counts.related_by_source)
    );
    println!("  Deezer artists cached {}", counts.deezer_artists_cached);

    println!();
    println!("providers");
    let now = store::now();
    let states = store.provider_states().await?;
    if settings.spotify.is_none() {
        println!("  spotify: not configured (SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET)");
    }
    let spent = store
        .spotify_calls_since(now - chrono::Duration::hours(24))
        .await?;
    println!(
        "  spotify calls in the last 24 h: {spent} of {} (per run at most {})",
        settings.sync.spotify_daily_budget, settings.sync.spotify_run_budget
    );
    if states.is_empty() {
        println!("  nothing learned yet (no run has talked to Spotify)");
    }
    for state in &states {
        let what = match (state.feature.as_str(), state.available, state.blocked_until) {
            ("access", _, Some(until)) if until > now => {
                format!(
                    "BLOCKED until {} UTC ({})",
                    until,
                    state.detail.as_deref().unwrap_or("quota")
                )
            }
            ("access", _, _) => "not blocked".to_owned(),
            (_, Some(true), _) => "available".to_owned(),
            (_, Some(false), _) => format!(
                "refused (re-checked after {} UTC)",
                state.checked_at
                    + chrono::Duration::from_std(settings.sync.spotify_recheck_after)
                        .unwrap_or(chrono::Duration::days(7))
            ),
            _ => "unknown".to_owned(),
        };
        println!(
            "  {}.{:<16} {what} (checked {})",
            state.provider,
            state.feature,
            ago(state.checked_at, now)
        );
    }

    println!();
    println!("last runs");
    let runs = store.recent_runs(5).await?;
    if runs.is_empty() {
        println!("  none yet: `artistbot sync` runs one");
    }
    for run in runs {
        let c = &run.counts;
        println!(
            "  #{:<5} {:<11} {:<8} started {} {}: due {}, refreshed {}, failed {}, added {}, no Deezer match {}; tracks {}, related {}; calls spotify {}, deezer {}",
            run.id,
            run.status.as_str(),
            run.trigger,
            ago(run.started_at, now),
            run.finished_at
                .map(|f| format!("(took {}s)", (f - run.started_at).num_seconds()))
                .unwrap_or_else(|| "(not finished)".into()),
            c.artists_due,
            c.artists_refreshed,
            c.artists_failed,
            c.artists_added,
            c.artists_unmapped,
            c.top_tracks_written,
            c.related_written,
            c.spotify_calls,
            c.deezer_calls,
        );
        if let Some(reason) = &run.stop_reason {
            println!("         stopped: {reason}");
        }
    }

    println!();
    for line in crate::daemon::status_lines(settings, &store).await? {
        println!("{line}");
    }
    Ok(())
}

fn by_source(rows: &[(String, u64)]) -> String {
    if rows.is_empty() {
        return "0".into();
    }
    let total: u64 = rows.iter().map(|(_, n)| n).sum();
    let parts: Vec<String> = rows.iter().map(|(s, n)| format!("{s} {n}")).collect();
    format!("{total} ({})", parts.join(", "))
}

fn ago(at: NaiveDateTime, now: NaiveDateTime) -> String {
    let seconds = (now - at).num_seconds();
    let text = match seconds {
        s if s < 0 => return format!("{at} UTC"),
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    };
    format!("{text} ago")
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
