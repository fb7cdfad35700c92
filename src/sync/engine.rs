//! The refresh pipeline's driver: [`SyncEngine::run`] plans what is due, learns what
//! Spotify allows, refreshes profiles in batches when it may, matches due artists on
//! Deezer, then works on artists concurrently (each artist's writes in one transaction,
//! see [`super::artist`]) and records the run in `sync_runs`.
//!
//! It builds the provider clients for every caller (runs, onboarding) with what Spotify
//! allowed last time and the budget left for today.

use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::artist;
use super::context::{RunContext, Tally};
use super::error::{FetchError, SyncError};
use super::options::RunOptions;
use super::plan;
use super::progress::Progress;
use super::report::RunReport;
use super::spotify_state::{load_spotify_access, save_spotify_access};
use crate::catalog::{ArtistState, ProfileUpdate, Source};
use crate::config::Settings;
use crate::providers::deezer::DeezerClient;
use crate::providers::http::CallBudget;
use crate::providers::spotify::{
    SpotifyAccess, SpotifyClient, SpotifyConfig, SpotifyError, SpotifyFeature,
};
use crate::store::runs::{RunCounts, RunStatus};
use crate::store::{self, Store, StoreError};

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
            store: self.store.clone(),
            settings: self.settings.clone(),
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
        ctx: &RunContext,
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
    ctx: &RunContext,
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
    ctx: &RunContext,
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
