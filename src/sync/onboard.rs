//! Onboarding: the one flow that brings named artists into the catalog, for `artistbot
//! add`, the names users asked for (the request queue) and the starter list alike.
//!
//! [`onboard`] resolves each input, Deezer first ([`super::resolve`]: a spelling becomes
//! an alias only on evidence, so the next lookup costs no API call), saves what Spotify
//! taught the client (a block holds for the next caller), records the Spotify calls
//! spent as a run of their own (they count against the daily budget), and refreshes the
//! artists it added right away through the runner: their profile, top tracks and related
//! artists come before any growth work of that run.

use super::error::SyncError;
use super::options::{RunOptions, Trigger};
use super::progress::Progress;
use super::report::{ApiCalls, RunReport};
use super::resolve::Resolver;
use super::runner::Runner;
use crate::catalog::AddedVia;
use crate::names::ArtistRef;
use crate::providers::deezer::DeezerClient;
use crate::providers::spotify::SpotifyClient;
use crate::store::runs::{RunCounts, RunStatus};
use crate::store::{self, Store, StoreError};

pub use super::resolve::AddOutcome;

/// What one onboarding did.
#[derive(Debug)]
pub struct Onboarded {
    /// One per input, in the order given.
    pub outcomes: Vec<AddOutcome>,
    /// Spotify calls spent resolving the inputs.
    pub resolution_calls: ApiCalls,
    /// Why Spotify could not be called any more, if it stopped while resolving (a block,
    /// the budget): inputs it failed are not their own fault.
    pub spotify_stopped: Option<String>,
    /// The refresh of the artists added, when one was asked for and any were added.
    pub refresh: Option<Result<RunReport, SyncError>>,
}

impl Onboarded {
    /// The ids of the artists this onboarding added.
    pub fn added(&self) -> Vec<String> {
        self.outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                AddOutcome::Added { id, .. } => Some(id.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Onboards `inputs` as one flow (see the module docs) with clients the caller built for
/// this unit of work. With `refresh`, the artists added get their data now, the run's
/// progress going to it. Requests and the starter list add only while the catalog has
/// room (`CATALOG_MAX_ARTISTS`). Store errors stop the flow: nothing can be added
/// without the database.
pub async fn onboard(
    runner: &Runner,
    (spotify, deezer): (&SpotifyClient, &DeezerClient),
    inputs: &[ArtistRef],
    via: AddedVia,
    refresh: Option<&dyn Progress>,
) -> Result<Onboarded, StoreError> {
    let store = runner.store();
    let settings = &runner.settings().sync;
    let mut resolver = Resolver::new(
        store,
        Some(spotify),
        deezer,
        settings.confirm_below_fans,
        settings.concurrency,
    );
    if via != AddedVia::Cli {
        let size = store.artist_count().await?;
        resolver = resolver.with_room(settings.max_catalog_artists.saturating_sub(size));
    }
    let outcomes = resolver.resolve(inputs, via).await?;
    runner.engine().save_spotify_state(spotify).await;
    let resolution_calls = ApiCalls::from(spotify.api_calls());
    let trigger = match via {
        AddedVia::Request => Trigger::Request,
        _ => Trigger::Add,
    };
    let mut onboarded = Onboarded {
        outcomes,
        resolution_calls,
        spotify_stopped: spotify.unusable().map(|reason| reason.to_string()),
        refresh: None,
    };
    record_resolution_calls(store, trigger, &onboarded, deezer.calls().requests).await;
    let added = onboarded.added();
    if let Some(progress) = refresh
        && !added.is_empty()
    {
        let options = RunOptions {
            trigger,
            only: Some(added),
            force: true,
        };
        onboarded.refresh = Some(runner.run_with_progress(options, progress).await);
    }
    Ok(onboarded)
}

/// Calls spent outside a run still count against the daily Spotify budget, so they are
/// recorded as a run of their own (with the trigger of the onboarding).
async fn record_resolution_calls(
    store: &Store,
    trigger: Trigger,
    onboarded: &Onboarded,
    deezer_calls: u64,
) {
    let spotify_calls = onboarded.resolution_calls.requests;
    if spotify_calls + deezer_calls == 0 {
        return;
    }
    let now = store::now();
    let counts = RunCounts {
        artists_due: onboarded.outcomes.len() as u64,
        artists_added: onboarded.added().len() as u64,
        spotify_calls,
        deezer_calls,
        ..Default::default()
    };
    let recorded = async {
        let id = store.start_run(trigger.as_str(), None, now).await?;
        store
            .record_run(id, RunStatus::Completed, &counts, None, None, Some(now))
            .await
    };
    if let Err(error) = recorded.await {
        tracing::warn!(%error, "could not record the Spotify calls spent resolving names");
    }
}
