//! The refresh pipeline's driver. [`SyncEngine::run`], in phases:
//! 1. a fresh (empty) catalog starts from the starter list (`CATALOG_STARTER`);
//! 2. plan what is due, demand first (see [`super::plan`]), after learning what Spotify
//!    allows (an endpoint nobody has asked about is probed once);
//! 3. the Spotify phase, in the plan's order so the budget goes to the artists users
//!    want most: profiles (50 per call when the app may), and Spotify ids sought for
//!    Deezer-born artists ([`super::link`]);
//! 4. due artists that came from Spotify are matched on Deezer (merging an artist met
//!    first through Deezer), so related artists found later are known catalog artists;
//! 5. artists are fetched concurrently ([`super::artist`]) and written by one writer in
//!    batches, many artists per transaction;
//! 6. the run is recorded in `sync_runs` whatever happens.
//!
//! Ids change only in phases 3 and 4 (a re-key, a merge), never while artists are
//! fetched and written. The engine also builds the provider clients for every caller
//! (runs, onboarding) with what Spotify allowed last time and the budget left for today.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::artist::{self, DeezerMatch};
use super::context::{ArtistOutcome, CatalogIndex, Probed, RunContext, Tally};
use super::error::{FetchError, SyncError};
use super::link::{self, SpotifyPhase};
use super::options::RunOptions;
use super::plan;
use super::progress::Progress;
use super::report::RunReport;
use super::resolve::{AddOutcome, Resolver};
use super::spotify_state::{load_spotify_access, save_spotify_access};
use crate::catalog::{AddedVia, ArtistRefresh, ArtistState, ProfileUpdate};
use crate::config::{Settings, Starter};
use crate::names::parse_artist_ref;
use crate::providers::deezer::DeezerClient;
use crate::providers::http::CallBudget;
use crate::providers::spotify::{
    SpotifyAccess, SpotifyClient, SpotifyConfig, SpotifyError, SpotifyFeature,
};
use crate::store::runs::{RunCounts, RunStatus};
use crate::store::{self, Store, StoreError};

/// Artists written per transaction at most.
const BATCH_ARTISTS: usize = 128;
/// How long the writer gathers finished artists before it writes what it has.
const BATCH_GATHER: Duration = Duration::from_millis(50);

/// The bundled starter list: names (and `deezer:` ids) of well-known artists, Korean and
/// international, one per line.
const BUNDLED_STARTER: &str = include_str!("../../data/starter-artists.txt");

/// Runs refreshes against one store with one configuration.
#[derive(Clone)]
pub struct SyncEngine {
    store: Store,
    settings: Arc<Settings>,
    http: reqwest::Client,
    host: Option<String>,
}

impl SyncEngine {
    pub fn new(store: Store, settings: Arc<Settings>) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("artistbot/", env!("CARGO_PKG_VERSION")))
            .timeout(settings.http.timeout)
            .connect_timeout(settings.http.timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .expect("the HTTP client builds with static settings");
        let host = hostname::get().ok().and_then(|h| h.into_string().ok());
        Self {
            store,
            settings,
            http,
            host,
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Builds the provider clients for one run, with what Spotify allowed last time and
    /// the budget left for today.
    pub async fn clients(
        &self,
        now: NaiveDateTime,
    ) -> Result<(SpotifyClient, DeezerClient), StoreError> {
        let s = &self.settings;
        let access =
            load_spotify_access(&self.store, self.settings.sync.spotify_recheck_after, now).await?;
        let spent_today = self
            .store
            .spotify_calls_since(now - chrono::Duration::hours(24))
            .await?;
        let budget = u64::from(s.sync.spotify_run_budget)
            .min(u64::from(s.sync.spotify_daily_budget).saturating_sub(spent_today));
        let spotify = SpotifyClient::new(
            self.http.clone(),
            SpotifyConfig {
                api_url: s.spotify_api_url.clone(),
                auth_url: s.spotify_auth_url.clone(),
                credentials: s.spotify.clone(),
                market: s.spotify_market.clone(),
                http: s.http,
                rate: s.spotify_rate,
                budget: Arc::new(CallBudget::new(budget.min(u64::from(u32::MAX)) as u32)),
            },
            access,
        );
        let deezer = DeezerClient::new(
            self.http.clone(),
            s.deezer_api_url.clone(),
            s.http,
            s.deezer_rate,
        );
        Ok((spotify, deezer))
    }

    /// Saves what a client used outside a run (`add`, the request queue) learned: a quota
    /// block or a refused endpoint must hold for the next caller too.
    pub(crate) async fn save_spotify_state(&self, spotify: &SpotifyClient) {
        let loaded = load_spotify_access(
            &self.store,
            self.settings.sync.spotify_recheck_after,
            store::now(),
        )
        .await
        .ok();
        save_spotify_access(&self.store, spotify.access(), &Mutex::new(loaded)).await;
    }

    /// Refreshes what is due (or `options.only`), until done, stopped by `shutdown`, or
    /// out of provider allowance. Records the run in `sync_runs` whatever happens.
    pub async fn run(
        &self,
        options: RunOptions,
        shutdown: CancellationToken,
        progress: &dyn Progress,
    ) -> Result<RunReport, SyncError> {
        let started = Instant::now();
        let now = store::now();
        let run_id = self
            .store
            .start_run(options.trigger.as_str(), self.host.as_deref(), now)
            .await?;
        let span = tracing::info_span!("sync_run", run_id, trigger = options.trigger.as_str());
        let result = tracing::Instrument::instrument(
            self.run_recorded(run_id, &options, now, &shutdown, progress),
            span,
        )
        .await;
        match result {
            Ok(mut report) => {
                report.elapsed = started.elapsed();
                report.statements = self.store.statements_sent();
                Ok(report)
            }
            Err(error) => {
                tracing::error!(run_id, %error, "sync run failed");
                // Best effort: the database may be what failed.
                let _ = self
                    .store
                    .record_run(
                        run_id,
                        RunStatus::Failed,
                        &RunCounts::default(),
                        None,
                        Some(&error.to_string()),
                        Some(store::now()),
                    )
                    .await;
                Err(error.into())
            }
        }
    }

    async fn run_recorded(
        &self,
        run_id: i64,
        options: &RunOptions,
        now: NaiveDateTime,
        shutdown: &CancellationToken,
        progress: &dyn Progress,
    ) -> Result<RunReport, StoreError> {
        let (spotify, deezer) = self.clients(now).await?;
        // What was loaded is what is stored: only a change is written back, so a refused
        // endpoint keeps its `checked_at` and is asked again once the recheck age passes.
        let loaded_access = spotify.access();
        let mut states = self.store.artist_states().await?;
        let mut starter_problem = None;
        if states.is_empty() && options.only.is_none() {
            match self.seed_starter(&spotify, &deezer).await? {
                StarterSeed::Added(added) => {
                    tracing::info!(added, "an empty catalog starts from the starter list");
                    states = self.store.artist_states().await?;
                }
                StarterSeed::Off => {}
                StarterSeed::Unreachable(reason) => starter_problem = Some(reason),
            }
        }
        let probed = probe_unknown_endpoints(&spotify, &states).await;
        let capabilities = capabilities(&spotify);
        let only = options.only.clone();
        let plan = self.plan(states.clone(), options, only.as_deref(), now, capabilities);
        if !spotify.is_configured() {
            tracing::info!(
                "no Spotify app configured: artists, tracks and related artists come from Deezer"
            );
        }
        if let Some(block) = spotify
            .unusable()
            .filter(|e| matches!(e, SpotifyError::Blocked { .. }))
        {
            tracing::warn!(%block, "Spotify is blocked: this run works without it");
        }
        tracing::info!(
            due = plan.tasks.len(),
            waiting_for_deezer_match = plan.waiting_for_deezer_match,
            spotify_budget = spotify.budget_remaining(),
            "planned"
        );
        progress.planned(plan.tasks.len() as u64);

        let ctx = self.context(run_id, now, spotify, deezer, &states, loaded_access, probed);
        if let Some(reason) = &starter_problem {
            tracing::warn!(%reason, "nothing to refresh");
        }
        ctx.tally().counts.artists_due = plan.tasks.len() as u64;
        ctx.tally().counts.artists_unmapped = plan.waiting_for_deezer_match;
        progress.counts(run_id, &ctx.counts());

        let concurrency = self.settings.sync.concurrency;
        let batched = self
            .refresh_profiles_in_batches(&ctx, &plan.tasks, shutdown)
            .await?;
        let SpotifyPhase {
            renamed,
            mut profiles,
            sought,
        } = link::spotify_phase(&ctx, &plan.tasks, &batched, concurrency, shutdown).await;
        // An artist whose only due work was its link is done with the Spotify phase.
        let (link_only, mut tasks): (Vec<_>, Vec<_>) = plan
            .tasks
            .into_iter()
            .partition(|t| t.link_due && !t.profile_due && !t.tracks_due && !t.related_due);
        for task in &link_only {
            ctx.absorb(&ArtistOutcome {
                name: task.artist.name.clone(),
                left_due: !sought.contains(&task.artist.id),
                ..Default::default()
            });
        }
        let mut prematched =
            match_due_artists_on_deezer(&ctx, &tasks, capabilities, concurrency, shutdown).await;
        if ctx.ids_changed.load(std::sync::atomic::Ordering::SeqCst) {
            // Ids changed (a re-key, a merge): plan the same artists again from what is
            // stored now, so every task names the artist as it is. One left with nothing
            // due (its profile came with its link) or merged into another is done.
            let keep: HashSet<String> = tasks
                .iter()
                .map(|t| renamed.get(&t.artist.id).unwrap_or(&t.artist.id).clone())
                .collect();
            let only: Option<Vec<String>> = only.is_some().then(|| keep.iter().cloned().collect());
            let fresh = self.store.artist_states().await?;
            let replanned: Vec<plan::ArtistTask> = self
                .plan(fresh, options, only.as_deref(), now, capabilities)
                .tasks
                .into_iter()
                .filter(|t| keep.contains(&t.artist.id))
                .map(|mut t| {
                    t.link_due = false;
                    t.profile_due |= profiles.contains_key(&t.artist.id);
                    t
                })
                .collect();
            for _ in replanned.len()..tasks.len() {
                ctx.absorb(&ArtistOutcome::default());
            }
            tasks = replanned;
        }
        self.fetch_and_write(
            &ctx,
            tasks,
            &batched,
            &mut prematched,
            &mut profiles,
            shutdown,
            progress,
        )
        .await;
        ctx.persist_spotify_access().await;
        progress.finished();

        let mut report = ctx.finish(shutdown.is_cancelled());
        report.linked = renamed.into_iter().collect();
        report.linked.sort();
        if let Some(reason) = starter_problem {
            // Stopped before it could start: the next run tries again.
            report.status = RunStatus::Partial;
            report.stop_reason = Some(reason.clone());
            report.empty_catalog = Some(reason);
        }
        self.store
            .record_run(
                run_id,
                report.status,
                &report.counts,
                report.stop_reason.as_deref(),
                report.error_summary().as_deref(),
                Some(store::now()),
            )
            .await?;
        tracing::info!(
            status = report.status.as_str(),
            refreshed = report.counts.artists_refreshed,
            failed = report.counts.artists_failed,
            added = report.counts.artists_added,
            spotify_calls = report.counts.spotify_calls,
            deezer_calls = report.counts.deezer_calls,
            stop_reason = report.stop_reason.as_deref().unwrap_or(""),
            "sync run finished"
        );
        Ok(report)
    }

    fn plan(
        &self,
        states: Vec<ArtistState>,
        options: &RunOptions,
        only: Option<&[String]>,
        now: NaiveDateTime,
        capabilities: plan::Capabilities,
    ) -> plan::Plan {
        match only {
            Some(ids) => plan::plan_targeted(
                states.into_iter().filter(|s| ids.contains(&s.id)).collect(),
                capabilities,
            ),
            None => plan::plan_refresh(states, now, self.ages(), capabilities, options.force),
        }
    }

    /// What every artist's work of this run shares.
    #[allow(clippy::too_many_arguments)]
    fn context(
        &self,
        run_id: i64,
        now: NaiveDateTime,
        spotify: SpotifyClient,
        deezer: DeezerClient,
        states: &[ArtistState],
        loaded_access: SpotifyAccess,
        probed: Probed,
    ) -> RunContext {
        let mut homonyms: HashMap<String, usize> = HashMap::new();
        let mut deezer_born_namesakes: HashMap<String, usize> = HashMap::new();
        let mut catalog = CatalogIndex::default();
        for state in states {
            *homonyms.entry(state.name_key.clone()).or_default() += 1;
            if state.is_deezer_born() {
                *deezer_born_namesakes
                    .entry(state.name_key.clone())
                    .or_default() += 1;
            }
            catalog.ids.insert(state.id.clone());
            if let Some(deezer_id) = state.deezer_id {
                catalog.deezer_holders.insert(deezer_id, state.id.clone());
            }
        }
        let sync = &self.settings.sync;
        let slots = u64::from(sync.max_new_artists_per_run)
            .min(sync.max_catalog_artists.saturating_sub(states.len() as u64));
        RunContext {
            store: self.store.clone(),
            settings: self.settings.clone(),
            spotify,
            deezer,
            now,
            homonyms,
            deezer_born_namesakes,
            catalog: Mutex::new(catalog),
            ids_changed: std::sync::atomic::AtomicBool::new(false),
            joining: tokio::sync::Mutex::new(()),
            probed: Mutex::new(probed),
            new_artist_slots: AtomicI64::new(slots as i64),
            tally: Mutex::new(Tally::default()),
            persisted_access: Arc::new(Mutex::new(Some(loaded_access))),
            run_id,
        }
    }

    fn ages(&self) -> plan::Ages {
        let s = &self.settings.sync;
        plan::Ages {
            profile: s.profile_max_age,
            tracks: s.tracks_max_age,
            related: s.related_max_age,
            deezer_remap: s.deezer_remap_after,
            spotify_relink: s.spotify_relink_after,
        }
    }

    /// A fresh catalog's first artists: the starter list, resolved through Deezer (no
    /// Spotify call) and added. `Unreachable` when not one could be looked up because
    /// Deezer could not be reached: the catalog stays as it was.
    async fn seed_starter(
        &self,
        spotify: &SpotifyClient,
        deezer: &DeezerClient,
    ) -> Result<StarterSeed, StoreError> {
        let text = match &self.settings.sync.starter {
            Starter::Off => return Ok(StarterSeed::Off),
            Starter::Bundled => BUNDLED_STARTER.to_owned(),
            Starter::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(error) => {
                    return Ok(StarterSeed::Unreachable(format!(
                        "cannot read the starter list {} (CATALOG_STARTER): {error}",
                        path.display()
                    )));
                }
            },
        };
        let inputs: Vec<_> = text
            .lines()
            .map(|line| line.split('#').next().unwrap_or(""))
            .filter_map(parse_artist_ref)
            .collect();
        if inputs.is_empty() {
            return Ok(StarterSeed::Off);
        }
        // The starter list is Deezer's work: a Spotify app, if any, links the artists later
        // in the run, in demand order, like any Deezer-born artist.
        let _ = spotify;
        let sync = &self.settings.sync;
        let resolver = Resolver::new(
            &self.store,
            None,
            deezer,
            sync.confirm_below_fans,
            sync.concurrency,
        )
        .with_room(sync.max_catalog_artists);
        let outcomes = resolver.resolve(&inputs, AddedVia::Starter).await?;
        let added = outcomes
            .iter()
            .filter(|o| matches!(o, AddOutcome::Added { .. }))
            .count();
        if added == 0 {
            let first_error = outcomes.iter().find_map(|o| match o {
                AddOutcome::Failed { error, .. } => Some(error.clone()),
                _ => None,
            });
            return Ok(match first_error {
                Some(error) => StarterSeed::Unreachable(format!(
                    "the catalog is empty and the starter list could not be looked up on Deezer ({error}); nothing changed"
                )),
                None => StarterSeed::Off,
            });
        }
        Ok(StarterSeed::Added(added))
    }

    /// Profiles through `GET /artists?ids=` (50 per call) while the app may use it,
    /// written as they come. Returns the ids refreshed this way.
    async fn refresh_profiles_in_batches(
        &self,
        ctx: &RunContext,
        tasks: &[plan::ArtistTask],
        shutdown: &CancellationToken,
    ) -> Result<HashSet<String>, StoreError> {
        let mut done = HashSet::new();
        let due: Vec<&plan::ArtistTask> = tasks
            .iter()
            .filter(|t| t.profile_due && !t.artist.is_deezer_born())
            .collect();
        // A single artist is cheaper per-artist; the batch endpoint pays off from two.
        if due.len() < 2
            || !ctx.spotify.may_use(SpotifyFeature::ArtistsBatch)
            || ctx.spotify.unusable().is_some()
        {
            return Ok(done);
        }
        let previous: HashMap<&str, &ArtistState> = due
            .iter()
            .map(|t| (t.artist.id.as_str(), &t.artist))
            .collect();
        for chunk in due.chunks(50) {
            if shutdown.is_cancelled() {
                break;
            }
            let ids: Vec<String> = chunk.iter().map(|t| t.artist.id.clone()).collect();
            match ctx.spotify.artists(&ids).await {
                Ok(profiles) => {
                    let refreshes: Vec<ArtistRefresh> = profiles
                        .into_iter()
                        .flatten()
                        .filter_map(|profile| {
                            let before = previous.get(profile.id.as_str())?;
                            Some(ArtistRefresh {
                                artist_id: profile.id.clone(),
                                profile: Some(ProfileUpdate::Spotify {
                                    deezer_fans: before.deezer_fans,
                                    fallback_image_url: before.image_url.clone(),
                                    profile,
                                }),
                                ..Default::default()
                            })
                        })
                        .collect();
                    self.store.apply_refreshes(&refreshes, ctx.now).await?;
                    ctx.tally().counts.profiles_written += refreshes.len() as u64;
                    done.extend(refreshes.into_iter().map(|r| r.artist_id));
                }
                Err(error) => {
                    if !matches!(error, SpotifyError::EndpointUnavailable { .. }) {
                        ctx.note_error(&FetchError::Spotify(error), "batch profiles");
                    }
                    break;
                }
            }
        }
        Ok(done)
    }

    /// Fetches every task's due parts concurrently while one writer writes finished
    /// artists in batches; stops starting artists on `shutdown` (those in flight finish
    /// and are written). Returns how many artists were done.
    #[allow(clippy::too_many_arguments)]
    async fn fetch_and_write(
        &self,
        ctx: &RunContext,
        tasks: Vec<plan::ArtistTask>,
        batched_profiles: &HashSet<String>,
        prematched: &mut HashMap<String, DeezerMatch>,
        profiles: &mut HashMap<String, crate::catalog::ArtistProfile>,
        shutdown: &CancellationToken,
        progress: &dyn Progress,
    ) -> u64 {
        let concurrency = self.settings.sync.concurrency;
        let (sender, mut receiver) =
            mpsc::channel::<(ArtistOutcome, ArtistRefresh)>(BATCH_ARTISTS.max(concurrency * 2));
        let work: Vec<_> = tasks
            .into_iter()
            .map(|mut task| {
                if batched_profiles.contains(&task.artist.id) {
                    task.profile_due = false;
                }
                let matched = prematched.remove(&task.artist.id);
                let profile = profiles.remove(&task.artist.id);
                (task, matched, profile)
            })
            .collect();
        let fetching = async move {
            let mut fetched = futures::stream::iter(work)
                .take_while(|_| std::future::ready(!shutdown.is_cancelled()))
                .map(|(task, matched, profile)| artist::refresh_artist(ctx, task, matched, profile))
                .buffer_unordered(concurrency);
            while let Some(done) = fetched.next().await {
                if sender.send(done).await.is_err() {
                    break;
                }
            }
        };
        let writing = async {
            let mut written = 0u64;
            while let Some(first) = receiver.recv().await {
                let mut batch = vec![first];
                let gather_until = tokio::time::Instant::now() + BATCH_GATHER;
                while batch.len() < BATCH_ARTISTS {
                    match tokio::time::timeout_at(gather_until, receiver.recv()).await {
                        Ok(Some(more)) => batch.push(more),
                        _ => break,
                    }
                }
                let before = written / 25;
                written += batch.len() as u64;
                self.write_finished(ctx, batch, progress).await;
                progress.counts(ctx.run_id, &ctx.counts());
                if written / 25 != before {
                    save_run_progress(ctx).await;
                }
            }
            written
        };
        let ((), written) = futures::join!(fetching, writing);
        written
    }

    /// Writes finished artists in one transaction; when that fails for another reason
    /// than a lost lock, each artist on its own, so one bad artist fails alone.
    async fn write_finished(
        &self,
        ctx: &RunContext,
        batch: Vec<(ArtistOutcome, ArtistRefresh)>,
        progress: &dyn Progress,
    ) {
        let (mut outcomes, refreshes): (Vec<ArtistOutcome>, Vec<ArtistRefresh>) =
            batch.into_iter().unzip();
        let writing: Vec<usize> = (0..refreshes.len())
            .filter(|&i| !refreshes[i].is_empty())
            .collect();
        let to_write: Vec<ArtistRefresh> = writing.iter().map(|&i| refreshes[i].clone()).collect();
        let unwritten = |i: usize, error: StoreError, outcomes: &mut [ArtistOutcome]| {
            // Nothing of this artist was written; its new artists' slots go back.
            for new in &refreshes[i].new_artists {
                ctx.return_new_artist_slot();
                ctx.catalog().ids.remove(&new.profile.id);
            }
            let failed = FetchError::from(error);
            ctx.note_error(&failed, &outcomes[i].name);
            outcomes[i].failed = !failed.is_stop();
            outcomes[i].left_due |= failed.is_stop();
        };
        match self.store.apply_refreshes(&to_write, ctx.now).await {
            Ok(counts) => {
                for (&i, written) in writing.iter().zip(counts) {
                    outcomes[i].written = written;
                }
            }
            Err(error) if writing.len() == 1 => unwritten(writing[0], error, &mut outcomes),
            Err(error) => {
                tracing::warn!(%error, artists = writing.len(), "a batch write failed; writing its artists one by one");
                for &i in &writing {
                    match self.store.apply_refresh(&refreshes[i], ctx.now).await {
                        Ok(written) => outcomes[i].written = written,
                        Err(error) => unwritten(i, error, &mut outcomes),
                    }
                }
            }
        }
        for outcome in &outcomes {
            ctx.absorb(outcome);
            progress.artist_done(&outcome.name, outcome.summary());
        }
    }
}

/// What seeding an empty catalog from the starter list did.
enum StarterSeed {
    Added(usize),
    /// `CATALOG_STARTER=none`, or an empty list.
    Off,
    /// Nothing could be looked up; the reason, in one line.
    Unreachable(String),
}

/// What the run may fetch where, known before it starts: top tracks and related artists
/// need Deezer unless Spotify may be asked for them now (configured, the endpoint not
/// refused, and not blocked or out of budget).
fn capabilities(spotify: &SpotifyClient) -> plan::Capabilities {
    let spotify_serves = |feature| {
        spotify.is_configured() && spotify.may_use(feature) && spotify.unusable().is_none()
    };
    plan::Capabilities {
        spotify_configured: spotify.is_configured(),
        tracks_need_deezer: !spotify_serves(SpotifyFeature::TopTracks),
        related_need_deezer: !spotify_serves(SpotifyFeature::RelatedArtists),
    }
}

/// Finds out, with one call each, whether this app may use Spotify's top tracks and
/// related artists, when no run has learned it yet (or the last answer is old enough to
/// ask again). Knowing it before planning lets the run match artists on Deezer first
/// instead of discovering the refusal artist by artist. The answers are kept for the
/// artist they were asked for, whose refresh uses them instead of asking again.
async fn probe_unknown_endpoints(spotify: &SpotifyClient, states: &[ArtistState]) -> Probed {
    let Some(sample) = states
        .iter()
        .find(|s| !s.is_deezer_born())
        .map(|s| s.id.clone())
    else {
        return Probed::default();
    };
    if spotify.unusable().is_some() {
        return Probed::default();
    }
    let access = spotify.access();
    let unknown =
        |feature| !access.available.contains(&feature) && !access.unavailable.contains(&feature);
    let mut probed = Probed {
        artist_id: sample.clone(),
        ..Default::default()
    };
    if unknown(SpotifyFeature::TopTracks) {
        probed.top_tracks = Some(spotify.top_tracks(&sample).await);
    }
    if unknown(SpotifyFeature::RelatedArtists) {
        probed.related = Some(spotify.related_artists(&sample).await);
    }
    probed
}

/// Matches every due artist that came from Spotify, needs Deezer and has no Deezer id
/// yet, before any artist's data is fetched. Related artists found on Deezer are then
/// mostly catalog artists with a known Deezer id, and linking them costs nothing.
async fn match_due_artists_on_deezer(
    ctx: &RunContext,
    tasks: &[plan::ArtistTask],
    capabilities: plan::Capabilities,
    concurrency: usize,
    shutdown: &CancellationToken,
) -> HashMap<String, DeezerMatch> {
    let unmatched: Vec<ArtistState> = tasks
        .iter()
        .filter(|task| {
            let needs_deezer = (task.tracks_due && capabilities.tracks_need_deezer)
                || (task.related_due && capabilities.related_need_deezer)
                || (task.profile_due && !capabilities.spotify_configured);
            needs_deezer && task.artist.deezer_id.is_none() && !task.artist.is_deezer_born()
        })
        .map(|task| task.artist.clone())
        .collect();
    let mut matches = HashMap::new();
    let mut matching = futures::stream::iter(unmatched)
        .map(|artist| match_one_on_deezer(ctx, artist))
        .buffer_unordered(concurrency);
    while let Some((id, matched)) = matching.next().await {
        matches.insert(id, matched);
        if shutdown.is_cancelled() {
            break;
        }
    }
    matches
}

async fn match_one_on_deezer(ctx: &RunContext, artist: ArtistState) -> (String, DeezerMatch) {
    let matched = artist::match_on_deezer(ctx, &artist).await;
    (artist.id, matched)
}

/// Records a running run's counts and what Spotify allowed so far.
async fn save_run_progress(ctx: &RunContext) {
    ctx.persist_spotify_access().await;
    if let Err(error) = ctx
        .store
        .record_run(
            ctx.run_id,
            RunStatus::Running,
            &ctx.counts(),
            None,
            None,
            None,
        )
        .await
    {
        tracing::warn!(%error, run_id = ctx.run_id, "could not record run progress");
    }
}
