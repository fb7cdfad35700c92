//! The request queue: names users asked for that the catalog did not know (recorded by
//! the skill endpoint in `artist_requests`), onboarded every `QUEUE_POLL`.
//!
//! Each due request is resolved the way `artistbot add` resolves a name (Spotify search
//! within the budget; the user's spelling becomes an alias), and the artists added get
//! their top tracks and related artists right away through one targeted pipeline run. A
//! name that resolves to nothing is marked not found and tried again after growing
//! delays (`REQUEST_RETRY_DELAY`, then four times longer each time) until
//! `REQUEST_MAX_ATTEMPTS`; a name already in the catalog under another spelling only
//! gets the alias. While Spotify cannot be called (blocked, budget spent, not
//! configured) requests wait without using up their tries.
//!
//! Every batch is a unit of work of the [`Runner`], so it never runs alongside a refresh
//! (in this process or another). This module reads and writes requests through the
//! store and catalog data only through `add_artists` and the pipeline.

use std::sync::Mutex;
use std::time::Duration;

use chrono::NaiveDateTime;

use super::runner::{Begin, Runner, SlotWait};
use crate::catalog::AddedVia;
use crate::names::parse_artist_ref;
use crate::store::requests::{ArtistRequest, RequestStatus};
use crate::store::runs::{RunCounts, RunStatus};
use crate::store::{self, Store, StoreError};
use crate::sync::onboard::{AddOutcome, add_artists};
use crate::sync::{RunOptions, Trigger};

/// What one poll did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollOutcome {
    /// Requests resolved to a catalog artist (added or already there).
    pub resolved: u64,
    pub not_found: u64,
    pub failed: u64,
    /// Artists added and refreshed right away.
    pub added: Vec<String>,
    /// Why nothing was tried, if so.
    pub skipped: Option<&'static str>,
}

/// Polls the queue until shutdown.
pub async fn poll_until_shutdown(runner: &Runner) {
    let poll = runner.settings().daemon.queue_poll;
    let mut interval = tokio::time::interval(poll);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let last_wait_reason = Mutex::new(None::<String>);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = runner.shutdown().cancelled() => return,
        }
        let outcome = onboard_due_requests(runner, &last_wait_reason).await;
        if outcome.resolved + outcome.not_found + outcome.failed > 0 {
            tracing::info!(
                resolved = outcome.resolved,
                added = outcome.added.len(),
                not_found = outcome.not_found,
                failed = outcome.failed,
                "request queue batch done"
            );
        }
    }
}

/// One poll: onboards the requests due now, at most `QUEUE_BATCH` of them.
/// `last_wait_reason` keeps "Spotify is blocked" from being logged at every poll.
pub async fn onboard_due_requests(
    runner: &Runner,
    last_wait_reason: &Mutex<Option<String>>,
) -> PollOutcome {
    let store = runner.store();
    let batch = runner.settings().daemon.queue_batch as u64;
    // Looked at without the lock first: an empty queue, the usual case, costs one query
    // and never contends with another runner's lock.
    match store.due_requests(store::now(), batch).await {
        Ok(due) if due.is_empty() => {
            runner.health().database_ok();
            return skipped("nothing due");
        }
        Ok(_) => runner.health().database_ok(),
        Err(error) => {
            runner.health().database_failed(&error.to_string());
            return skipped("database unavailable");
        }
    }
    let mut unit = match runner.begin(SlotWait::Try, Duration::ZERO).await {
        Begin::Began(unit) => unit,
        Begin::SlotBusy => return skipped("this daemon is refreshing"),
        Begin::LockBusy => return skipped("another runner is working"),
        Begin::Stopping => return skipped("stopping"),
        Begin::Failed => return skipped("runner lock unavailable"),
    };
    let span = tracing::info_span!("request_queue");
    let outcome = unit
        .guarded(tracing::Instrument::instrument(
            onboard(runner, last_wait_reason),
            span,
        ))
        .await;
    unit.finish().await;
    match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            runner.health().database_failed(&error.to_string());
            skipped("database unavailable")
        }
    }
}

fn skipped(why: &'static str) -> PollOutcome {
    PollOutcome {
        skipped: Some(why),
        ..Default::default()
    }
}

async fn onboard(
    runner: &Runner,
    last_wait_reason: &Mutex<Option<String>>,
) -> Result<PollOutcome, StoreError> {
    let store = runner.store();
    let settings = &runner.settings().daemon;
    let now = store::now();
    // Read again under the lock: another runner may have done them meanwhile.
    let due = store.due_requests(now, settings.queue_batch as u64).await?;
    if due.is_empty() {
        return Ok(skipped("nothing due"));
    }
    let (spotify, _) = runner.engine().clients(now).await?;
    if let Some(reason) = spotify.unusable() {
        let reason = reason.to_string();
        let mut last = last_wait_reason.lock().expect("wait-reason lock poisoned");
        if last.as_deref() != Some(reason.as_str()) {
            tracing::warn!(%reason, waiting = due.len(), "requests wait: Spotify cannot be called");
            *last = Some(reason);
        }
        return Ok(skipped("Spotify cannot be called"));
    }
    *last_wait_reason.lock().expect("wait-reason lock poisoned") = None;

    let mut outcome = PollOutcome::default();
    for request in &due {
        if runner.shutdown().is_cancelled() {
            break;
        }
        let attempts = request.attempts.saturating_add(1);
        let Some(input) = parse_artist_ref(&request.query) else {
            // A blank spelling cannot become anything; the skill never records one.
            store
                .miss_request(
                    &request.query_key,
                    RequestStatus::NotFound,
                    attempts,
                    None,
                    Some("blank"),
                )
                .await?;
            outcome.not_found += 1;
            continue;
        };
        let result = add_artists(store, &spotify, &[input], AddedVia::Request).await?;
        let Some(result) = result.into_iter().next() else {
            continue;
        };
        match result {
            AddOutcome::Added { id, name, alias } => {
                tracing::info!(query = %request.query, %id, %name, ?alias, "requested artist added");
                alias_the_request(store, &request.query, &id).await?;
                store
                    .resolve_request(&request.query_key, &id, attempts, store::now())
                    .await?;
                runner.metrics().count_request("added");
                outcome.resolved += 1;
                outcome.added.push(id);
            }
            AddOutcome::AlreadyPresent { id, name, alias } => {
                tracing::info!(query = %request.query, %id, %name, ?alias, "requested name is a catalog artist");
                alias_the_request(store, &request.query, &id).await?;
                store
                    .resolve_request(&request.query_key, &id, attempts, store::now())
                    .await?;
                runner.metrics().count_request("already_present");
                outcome.resolved += 1;
            }
            AddOutcome::NotFound { suggestions, .. } => {
                let retry_at = retry_time(request, attempts, runner, store::now());
                let detail = if suggestions.is_empty() {
                    "Spotify has no such artist".to_owned()
                } else {
                    format!("no exact match; closest: {}", suggestions.join(", "))
                };
                tracing::info!(query = %request.query, attempts, ?retry_at, "requested name not found");
                store
                    .miss_request(
                        &request.query_key,
                        RequestStatus::NotFound,
                        attempts,
                        retry_at,
                        Some(&detail),
                    )
                    .await?;
                runner.metrics().count_request("not_found");
                outcome.not_found += 1;
            }
            AddOutcome::Failed { error, .. } => {
                if spotify.unusable().is_some() {
                    // Blocked or out of budget mid-batch: not this name's fault, so it
                    // keeps its tries and waits with the rest.
                    tracing::warn!(query = %request.query, %error, "requests wait: Spotify stopped answering");
                    break;
                }
                let retry_at = retry_time(request, attempts, runner, store::now());
                tracing::warn!(query = %request.query, %error, attempts, ?retry_at, "onboarding a requested name failed");
                store
                    .miss_request(
                        &request.query_key,
                        RequestStatus::Failed,
                        attempts,
                        retry_at,
                        Some(&error),
                    )
                    .await?;
                runner.metrics().count_request("failed");
                outcome.failed += 1;
            }
        }
    }
    // A quota block met while resolving names must stop the next poll too.
    runner.engine().save_spotify_state(&spotify).await;
    let calls = spotify.api_calls();
    runner.metrics().count_calls("spotify", &calls);
    record_search_calls(runner, &outcome, calls.requests).await;
    if !outcome.added.is_empty() {
        // Their data now, not at the next nightly run.
        let options = RunOptions {
            trigger: Trigger::Request,
            only: Some(outcome.added.clone()),
            force: true,
        };
        if let Err(error) = runner.run(options).await {
            tracing::warn!(%error, "the added artists stay due for the next run");
        }
    }
    Ok(outcome)
}

/// When a missed request is tried again: `REQUEST_RETRY_DELAY` after the first miss,
/// four times longer after each further one; `None` once the tries are used up.
fn retry_time(
    request: &ArtistRequest,
    attempts: u32,
    runner: &Runner,
    now: NaiveDateTime,
) -> Option<NaiveDateTime> {
    let settings = &runner.settings().daemon;
    if attempts >= settings.request_max_attempts {
        tracing::info!(query = %request.query, attempts, "giving up on a requested name");
        return None;
    }
    let factor = 4u32.saturating_pow(attempts.saturating_sub(1));
    let delay = settings
        .request_retry_delay
        .saturating_mul(factor)
        .min(MAX_RETRY_DELAY);
    chrono::Duration::from_std(delay).ok().map(|d| now + d)
}

/// No retry waits longer than this, however many tries came before.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30 * 24 * 3600);

/// The searches count against the daily Spotify budget like any run's calls, so they
/// are recorded as a `request` run of their own.
async fn record_search_calls(runner: &Runner, outcome: &PollOutcome, calls: u64) {
    if calls == 0 {
        return;
    }
    let store = runner.store();
    let now = store::now();
    let counts = RunCounts {
        artists_due: outcome.resolved + outcome.not_found + outcome.failed,
        artists_added: outcome.added.len() as u64,
        spotify_calls: calls,
        ..Default::default()
    };
    let recorded = async {
        let id = store
            .start_run(Trigger::Request.as_str(), None, now)
            .await?;
        store
            .record_run(id, RunStatus::Completed, &counts, None, None, Some(now))
            .await
    };
    if let Err(error) = recorded.await {
        tracing::warn!(%error, "could not record the Spotify calls spent resolving requests");
    }
}

/// Makes the exact text users asked with lead to the artist from now on, whatever it
/// was (a Hangul spelling, a Spotify link): otherwise the skill would keep missing it.
/// An alias that already leads somewhere is left alone.
async fn alias_the_request(store: &Store, query: &str, artist_id: &str) -> Result<(), StoreError> {
    store
        .add_alias(query, artist_id, "request", store::now())
        .await
        .map(|_| ())
}
