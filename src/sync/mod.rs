//! The refresh pipeline: plan (what is stale) -> fetch -> map -> store -> report.
//!
//! [`SyncEngine::run`] is the one way catalog data gets refreshed: `artistbot sync`,
//! `artistbot add`, and (later) the daemon's schedule and onboarding all call it. A run
//! loads what the providers allowed last time, plans stale-first, refreshes Spotify
//! profiles in batches when the app may, then works on artists concurrently (each
//! artist's writes in one transaction), and records itself in `sync_runs`.
//!
//! Spotify is spent like money: a per-run budget (further capped by a daily budget over
//! all runs), no call to an endpoint known to be refused, and a quota block stops every
//! Spotify call at once while Deezer work carries on.

mod artist;
pub mod identity;
pub mod onboard;
pub mod plan;
pub mod progress;
pub mod report;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, TimeZone, Utc};
use futures::StreamExt;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use crate::catalog::{ArtistState, ProfileUpdate, Source};
use crate::config::Settings;
use crate::providers::deezer::{DeezerClient, DeezerError};
use crate::providers::http::CallBudget;
use crate::providers::spotify::{
    SpotifyAccess, SpotifyClient, SpotifyConfig, SpotifyError, SpotifyFeature,
};
use crate::store::provider_state::FeatureState;
use crate::store::runs::{RunCounts, RunStatus};
use crate::store::{self, Store, StoreError};

pub use progress::{NoProgress, Progress};
pub use report::RunReport;

/// Why a run was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Cli,
    Add,
    Schedule,
    Request,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Cli => "cli",
            Trigger::Add => "add",
            Trigger::Schedule => "schedule",
            Trigger::Request => "request",
        }
    }
}

/// What a run should cover.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub trigger: Trigger,
    /// Refresh only these artists (by id), fully, whatever their age.
    pub only: Option<Vec<String>>,
    /// Treat every artist as due.
    pub force: bool,
}

impl RunOptions {
    pub fn stale(trigger: Trigger) -> Self {
        Self {
            trigger,
            only: None,
            force: false,
        }
    }
}

/// A failure to fetch one artist's data.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FetchError {
    #[error(transparent)]
    Spotify(#[from] SpotifyError),
    #[error(transparent)]
    Deezer(#[from] DeezerError),
    #[error("{0}")]
    Store(String),
}

impl From<StoreError> for FetchError {
    fn from(error: StoreError) -> Self {
        FetchError::Store(error.to_string())
    }
}

impl FetchError {
    /// A reason the next run gets past by itself (a block, the budget, a provider down)
    /// rather than something wrong with this artist.
    pub fn is_stop(&self) -> bool {
        match self {
            FetchError::Spotify(error) => error.stops_spotify(),
            FetchError::Deezer(DeezerError::Down) => true,
            _ => false,
        }
    }
}

/// A run that could not happen at all.
#[derive(Debug, Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs refreshes against one store with one configuration.
#[derive(Clone)]
pub struct SyncEngine {
    store: Store,
    settings: Arc<Settings>,
    http: reqwest::Client,
    host: Option<String>,
}

const SPOTIFY: &str = "spotify";
const ACCESS: &str = "access";

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

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Builds the provider clients for one run, with what Spotify allowed last time and
    /// the budget left for today.
    pub async fn clients(
        &self,
        now: NaiveDateTime,
    ) -> Result<(SpotifyClient, DeezerClient), StoreError> {
        let s = &self.settings;
        let access = self.load_spotify_access(now).await?;
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
    pub async fn save_spotify_state(&self, spotify: &SpotifyClient) {
        let loaded = self.load_spotify_access(store::now()).await.ok();
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
        let states = self.store.artist_states().await?;
        probe_unknown_endpoints(&spotify, &states).await;
        let capabilities = plan::Capabilities {
            spotify_configured: spotify.is_configured(),
            tracks_need_deezer: !spotify.is_configured()
                || !spotify.may_use(SpotifyFeature::TopTracks),
            related_need_deezer: !spotify.is_configured()
                || !spotify.may_use(SpotifyFeature::RelatedArtists),
        };
        let mut homonyms: HashMap<String, usize> = HashMap::new();
        for state in &states {
            *homonyms.entry(state.name_key.clone()).or_default() += 1;
        }
        let catalog_size = states.len() as u64;
        let plan = match &options.only {
            Some(ids) => plan::plan_targeted(
                states.into_iter().filter(|s| ids.contains(&s.id)).collect(),
                capabilities,
            ),
            None => plan::plan_refresh(states, now, self.ages(), capabilities, options.force),
        };
        if !spotify.is_configured() {
            tracing::warn!("SPOTIFY_CLIENT_ID/SECRET not set: refreshing from Deezer only");
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

        let slots = u64::from(self.settings.sync.max_new_artists_per_run).min(
            self.settings
                .sync
                .max_catalog_artists
                .saturating_sub(catalog_size),
        );
        let ctx = RunContext {
            engine: self,
            spotify,
            deezer,
            now,
            homonyms,
            new_artist_slots: AtomicI64::new(slots as i64),
            tally: Mutex::new(Tally::default()),
            persisted_access: Arc::new(Mutex::new(Some(loaded_access))),
            run_id,
        };
        ctx.tally().counts.artists_due = plan.tasks.len() as u64;
        ctx.tally().counts.artists_unmapped = plan.waiting_for_deezer_match;
        progress.counts(run_id, &ctx.counts());

        let batched = self
            .refresh_profiles_in_batches(&ctx, &plan.tasks, shutdown)
            .await?;
        let concurrency = self.settings.sync.concurrency;
        let mut prematched =
            match_due_artists_on_deezer(&ctx, &plan.tasks, capabilities, concurrency, shutdown)
                .await;
        let mut finished = 0u64;
        let mut work = futures::stream::iter(plan.tasks)
            .take_while(|_| std::future::ready(!shutdown.is_cancelled()))
            .map(|mut task| {
                if batched.contains_key(&task.artist.id) {
                    task.profile_due = false;
                }
                let matched = prematched.remove(&task.artist.id);
                artist::refresh_artist(&ctx, task, matched)
            })
            .buffer_unordered(concurrency);
        // Progress is saved by a task of its own, never awaited in this loop: a loop body
        // awaiting the database would stop polling workers that hold pooled connections
        // mid-transaction, and starve the pool.
        let mut saving: Option<tokio::task::JoinHandle<()>> = None;
        while let Some(outcome) = work.next().await {
            ctx.absorb(&outcome);
            progress.artist_done(&outcome.name, outcome.summary());
            progress.counts(run_id, &ctx.counts());
            finished += 1;
            if finished.is_multiple_of(25) && saving.as_ref().is_none_or(|s| s.is_finished()) {
                saving = Some(tokio::spawn(save_run_progress(
                    self.store.clone(),
                    run_id,
                    ctx.counts(),
                    ctx.spotify.access(),
                    ctx.persisted_access.clone(),
                )));
            }
        }
        drop(work);
        // The last progress save must land before the final record, not after it.
        if let Some(saving) = saving {
            let _ = saving.await;
        }
        ctx.persist_spotify_access().await;
        progress.finished();

        let report = ctx.finish(shutdown.is_cancelled());
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
            spotify_calls = report.counts.spotify_calls,
            deezer_calls = report.counts.deezer_calls,
            stop_reason = report.stop_reason.as_deref().unwrap_or(""),
            "sync run finished"
        );
        Ok(report)
    }

    fn ages(&self) -> plan::Ages {
        let s = &self.settings.sync;
        plan::Ages {
            profile: s.profile_max_age,
            tracks: s.tracks_max_age,
            related: s.related_max_age,
            deezer_remap: s.deezer_remap_after,
        }
    }

    /// Profiles through `GET /artists?ids=` (50 per call) while the app may use it.
    /// Returns the ids refreshed this way.
    async fn refresh_profiles_in_batches(
        &self,
        ctx: &RunContext<'_>,
        tasks: &[plan::ArtistTask],
        shutdown: &CancellationToken,
    ) -> Result<HashMap<String, ()>, StoreError> {
        let mut done = HashMap::new();
        let due: Vec<&plan::ArtistTask> = tasks.iter().filter(|t| t.profile_due).collect();
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
                    let updates: Vec<ProfileUpdate> = profiles
                        .into_iter()
                        .flatten()
                        .filter(|p| previous.contains_key(p.id.as_str()))
                        .map(|profile| {
                            let before = previous[profile.id.as_str()];
                            ProfileUpdate {
                                deezer_fans: before.deezer_fans,
                                fallback_image_url: before.image_url.clone(),
                                profile,
                                source: Source::Spotify,
                            }
                        })
                        .collect();
                    let written = self.store.update_profiles(&updates, ctx.now).await?;
                    ctx.tally().counts.profiles_written += written;
                    for update in updates {
                        done.insert(update.profile.id, ());
                    }
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

    async fn load_spotify_access(&self, now: NaiveDateTime) -> Result<SpotifyAccess, StoreError> {
        let recheck = chrono::Duration::from_std(self.settings.sync.spotify_recheck_after)
            .unwrap_or(chrono::Duration::days(7));
        let mut access = SpotifyAccess::default();
        for state in self.store.provider_states().await? {
            if state.provider != SPOTIFY {
                continue;
            }
            if state.feature == ACCESS {
                if let Some(until) = state.blocked_until.filter(|until| *until > now) {
                    access.blocked_until = Some(Utc.from_utc_datetime(&until));
                    access.block_reason = state.detail.clone();
                }
            } else if let Some(feature) = SpotifyFeature::parse(&state.feature) {
                match state.available {
                    // Refused, and not yet time to ask again.
                    Some(false) if now - state.checked_at < recheck => {
                        access.unavailable.insert(feature);
                    }
                    Some(true) => {
                        access.available.insert(feature);
                    }
                    _ => {}
                }
            }
        }
        Ok(access)
    }
}

/// Finds out, with one call each, whether this app may use Spotify's top tracks and
/// related artists, when no run has learned it yet (or the last answer is old enough to
/// ask again). Knowing it before planning lets the run match artists on Deezer first
/// instead of discovering the refusal artist by artist.
async fn probe_unknown_endpoints(spotify: &SpotifyClient, states: &[ArtistState]) {
    let Some(sample) = states.first().map(|s| s.id.clone()) else {
        return;
    };
    if spotify.unusable().is_some() {
        return;
    }
    let access = spotify.access();
    let top_tracks_unknown = !access.available.contains(&SpotifyFeature::TopTracks)
        && !access.unavailable.contains(&SpotifyFeature::TopTracks);
    let related_unknown = !access.available.contains(&SpotifyFeature::RelatedArtists)
        && !access.unavailable.contains(&SpotifyFeature::RelatedArtists);
    // The answers only matter for what they say about the endpoint; the artist's data
    // is fetched (from wherever it may come) during the run itself.
    if top_tracks_unknown {
        let _ = spotify.top_tracks(&sample).await;
    }
    if related_unknown {
        let _ = spotify.related_artists(&sample).await;
    }
}

/// Matches every due artist that needs Deezer and has no Deezer id yet, before any
/// artist's data is fetched. Related artists found on Deezer are then mostly catalog
/// artists with a known Deezer id, and linking them costs no Spotify search at all.
async fn match_due_artists_on_deezer(
    ctx: &RunContext<'_>,
    tasks: &[plan::ArtistTask],
    capabilities: plan::Capabilities,
    concurrency: usize,
    shutdown: &CancellationToken,
) -> HashMap<String, artist::DeezerMatch> {
    let mut unmatched: Vec<ArtistState> = Vec::new();
    for task in tasks {
        let needs_deezer = (task.tracks_due && capabilities.tracks_need_deezer)
            || (task.related_due && capabilities.related_need_deezer);
        if needs_deezer && task.artist.deezer_id.is_none() {
            unmatched.push(task.artist.clone());
        }
    }
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

async fn match_one_on_deezer(
    ctx: &RunContext<'_>,
    artist: ArtistState,
) -> (String, artist::DeezerMatch) {
    let matched = artist::match_on_deezer_and_save(ctx, &artist).await;
    (artist.id, matched)
}

/// Records a running run's counts and what Spotify allowed so far (a task of its own).
async fn save_run_progress(
    store: Store,
    run_id: i64,
    counts: RunCounts,
    access: SpotifyAccess,
    persisted: Arc<Mutex<Option<SpotifyAccess>>>,
) {
    save_spotify_access(&store, access, &persisted).await;
    if let Err(error) = store
        .record_run(run_id, RunStatus::Running, &counts, None, None, None)
        .await
    {
        tracing::warn!(%error, run_id, "could not record run progress");
    }
}

/// Saves what Spotify allowed when it changed since the last save (`persisted`), so a
/// quota block or a refused endpoint is honoured by the next run even if this one is
/// killed.
async fn save_spotify_access(
    store: &Store,
    access: SpotifyAccess,
    persisted: &Mutex<Option<SpotifyAccess>>,
) {
    if persisted.lock().expect("access lock poisoned").as_ref() == Some(&access) {
        return;
    }
    let now = store::now();
    let mut states = Vec::new();
    for feature in SpotifyFeature::ALL {
        let available = if access.unavailable.contains(&feature) {
            Some(false)
        } else if access.available.contains(&feature) {
            Some(true)
        } else {
            continue;
        };
        states.push(FeatureState {
            provider: SPOTIFY.into(),
            feature: feature.as_str().into(),
            available,
            blocked_until: None,
            checked_at: now,
            detail: None,
        });
    }
    if let Some(until) = access.blocked_until {
        states.push(FeatureState {
            provider: SPOTIFY.into(),
            feature: ACCESS.into(),
            available: Some(false),
            blocked_until: Some(until.naive_utc()),
            checked_at: now,
            detail: access.block_reason.clone(),
        });
    }
    for state in &states {
        if let Err(error) = store.save_provider_state(state).await {
            tracing::warn!(%error, "could not save Spotify's state");
            return;
        }
    }
    *persisted.lock().expect("access lock poisoned") = Some(access);
}

/// Shared by every artist's work within one run.
pub(crate) struct RunContext<'a> {
    engine: &'a SyncEngine,
    spotify: SpotifyClient,
    deezer: DeezerClient,
    now: NaiveDateTime,
    /// Catalog artists per folded name: more than one means namesakes.
    homonyms: HashMap<String, usize>,
    /// New artists this run may still add through related artists.
    new_artist_slots: AtomicI64,
    tally: Mutex<Tally>,
    persisted_access: Arc<Mutex<Option<SpotifyAccess>>>,
    run_id: i64,
}

/// Running totals of a run.
#[derive(Default)]
struct Tally {
    counts: RunCounts,
    errors: Vec<String>,
    errors_total: u64,
    stop_reasons: BTreeSet<String>,
    left_due: u64,
    configuration_error: Option<String>,
}

/// Errors kept verbatim in the run summary; the rest are only counted.
const ERRORS_KEPT: usize = 20;

impl RunContext<'_> {
    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().expect("tally lock poisoned")
    }

    pub(crate) fn store(&self) -> &Store {
        &self.engine.store
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.engine.settings
    }

    /// Takes one slot for a new catalog artist; `false` when the run's allowance or the
    /// catalog's size limit is reached.
    pub(crate) fn take_new_artist_slot(&self) -> bool {
        if self.new_artist_slots.fetch_sub(1, Ordering::SeqCst) <= 0 {
            self.new_artist_slots.fetch_add(1, Ordering::SeqCst);
            return false;
        }
        true
    }

    pub(crate) fn has_new_artist_slot(&self) -> bool {
        self.new_artist_slots.load(Ordering::SeqCst) > 0
    }

    pub(crate) fn return_new_artist_slot(&self) {
        self.new_artist_slots.fetch_add(1, Ordering::SeqCst);
    }

    /// Logs an error once and keeps it for the run summary.
    pub(crate) fn note_error(&self, error: &FetchError, artist: &str) {
        let mut tally = self.tally();
        if matches!(
            error,
            FetchError::Spotify(SpotifyError::BadCredentials(_) | SpotifyError::Forbidden(_))
        ) && tally.configuration_error.is_none()
        {
            tally.configuration_error = Some(error.to_string());
        }
        if error.is_stop() {
            tally.stop_reasons.insert(error.to_string());
            return;
        }
        tally.errors_total += 1;
        tracing::warn!(artist, %error, "fetch failed; stored data kept");
        if tally.errors.len() < ERRORS_KEPT {
            tally.errors.push(format!("{artist}: {error}"));
        }
    }

    fn absorb(&self, outcome: &artist::ArtistOutcome) {
        let mut tally = self.tally();
        let counts = &mut tally.counts;
        counts.profiles_written += outcome.written.profiles;
        counts.top_tracks_written += outcome.written.top_tracks;
        counts.related_written += outcome.written.related;
        counts.artists_added += outcome.written.artists_added;
        if outcome.failed {
            counts.artists_failed += 1;
        } else if outcome.left_due {
            tally.left_due += 1;
        } else {
            counts.artists_refreshed += 1;
        }
        if outcome.unmapped {
            tally.counts.artists_unmapped += 1;
        }
    }

    fn counts(&self) -> RunCounts {
        let mut counts = self.tally().counts.clone();
        counts.spotify_calls = self.spotify.api_calls().requests;
        counts.deezer_calls = self.deezer.calls().requests;
        counts
    }

    /// Saves what Spotify allowed when it changed since the last save, so a quota block
    /// or a refused endpoint is honoured by the next run even if this one is killed.
    pub(crate) async fn persist_spotify_access(&self) {
        save_spotify_access(
            &self.engine.store,
            self.spotify.access(),
            &self.persisted_access,
        )
        .await;
    }

    fn finish(self, interrupted: bool) -> RunReport {
        let counts = self.counts();
        let spotify_calls = self.spotify.api_calls();
        let deezer_calls = self.deezer.calls();
        let tally = self.tally.into_inner().expect("tally lock poisoned");
        let unfinished =
            counts.artists_due > counts.artists_refreshed + counts.artists_failed + tally.left_due;
        let status = if interrupted {
            RunStatus::Interrupted
        } else if tally.left_due > 0 || counts.artists_failed > 0 || unfinished {
            RunStatus::Partial
        } else {
            RunStatus::Completed
        };
        let stop_reason = if interrupted {
            Some("interrupted".to_owned())
        } else if tally.stop_reasons.is_empty() {
            (counts.artists_failed > 0)
                .then(|| format!("{} artists failed; they stay due", counts.artists_failed))
        } else {
            Some(
                tally
                    .stop_reasons
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        };
        RunReport {
            run_id: self.run_id,
            status,
            counts,
            left_due: tally.left_due,
            stop_reason,
            configuration_error: tally.configuration_error,
            errors: tally.errors,
            errors_total: tally.errors_total,
            spotify_calls,
            deezer_calls,
            statements: 0,
            elapsed: Duration::ZERO,
        }
    }
}
