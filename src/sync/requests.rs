//! The request queue's unit of work: names users asked for that the catalog did not
//! know (recorded by the skill endpoint in `artist_requests`), onboarded a batch at a
//! time through the one onboarding flow ([`super::onboard::onboard`]).
//!
//! Each due request is resolved the way `artistbot add` resolves a name, Deezer first
//! (no Spotify app is needed; a spelling becomes an alias only on evidence), and the
//! artists added get their top tracks and related artists right away. A name that
//! resolves to nothing is marked not found and tried again after growing delays
//! (`REQUEST_RETRY_DELAY`, then four times longer each time) until
//! `REQUEST_MAX_ATTEMPTS`; its providers' best guess is kept as a candidate the skill
//! may suggest. While a provider is down, blocked or out of budget, the names it failed
//! wait without using up their tries.
//!
//! A request whose asker tapped a suggested catalog artist afterwards (the skill records
//! the tap) is settled first: the spelling becomes that artist's alias (source `tap`)
//! and the request is done, without a search.
//!
//! Every batch is a unit of work of the [`Runner`], so it never runs alongside a refresh
//! (in this process or another). The daemon decides when to call it and counts what it
//! reports.

use std::sync::Mutex;
use std::time::Duration;

use chrono::NaiveDateTime;

use super::onboard::{AddOutcome, onboard};
use super::progress::NoProgress;
use super::report::ApiCalls;
use super::runner::{Begin, Runner, SlotWait};
use crate::catalog::AddedVia;
use crate::config::DaemonSettings;
use crate::names::{ArtistRef, parse_artist_ref};
use crate::store::requests::{ArtistRequest, RequestStatus};
use crate::store::{self, Store, StoreError};
use crate::telemetry::escaped;

/// What one batch did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueBatch {
    /// Requests resolved to a catalog artist (added or already there).
    pub resolved: u64,
    pub not_found: u64,
    pub failed: u64,
    /// Artists added and refreshed right away.
    pub added: Vec<String>,
    /// How each request handled ended: `tapped` (a user's tap made it an alias),
    /// `added`, `already_present`, `not_found`, `failed`.
    pub handled: Vec<&'static str>,
    /// Spotify calls spent resolving the names.
    pub spotify_calls: ApiCalls,
    /// Why nothing was tried, if so.
    pub skipped: Option<&'static str>,
}

/// One batch: onboards the requests due now, at most `QUEUE_BATCH` of them.
/// `last_wait_reason` keeps "Spotify is blocked" from being logged at every poll.
pub async fn onboard_due_requests(
    runner: &Runner,
    last_wait_reason: &Mutex<Option<String>>,
) -> QueueBatch {
    let store = runner.store();
    let batch = runner.settings().daemon.queue_batch as u64;
    // Looked at without the lock first: an empty queue, the usual case, costs one query
    // and never contends with another runner's lock.
    match work_waiting(store, batch).await {
        Ok(false) => {
            runner.observer().database_ok();
            return skipped("nothing due");
        }
        Ok(true) => runner.observer().database_ok(),
        Err(error) => {
            runner.observer().database_failed(&error.to_string());
            return skipped("database unavailable");
        }
    }
    let mut unit = match runner.begin(SlotWait::Try, Duration::ZERO).await {
        Begin::Began(unit) => unit,
        Begin::SlotBusy => return skipped("this process is refreshing"),
        Begin::LockBusy => return skipped("another runner is working"),
        Begin::Stopping => return skipped("stopping"),
        Begin::Failed(_) => return skipped("runner lock unavailable"),
    };
    let span = tracing::info_span!("request_queue");
    let outcome = unit
        .guarded(tracing::Instrument::instrument(
            onboard_batch(runner, last_wait_reason),
            span,
        ))
        .await;
    unit.finish().await;
    match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            runner.observer().database_failed(&error.to_string());
            skipped("database unavailable")
        }
    }
}

/// Whether any request is due, or was settled by a user's tap.
async fn work_waiting(store: &Store, batch: u64) -> Result<bool, StoreError> {
    Ok(!store.due_requests(store::now(), batch).await?.is_empty()
        || !store.tapped_requests(1).await?.is_empty())
}

fn skipped(why: &'static str) -> QueueBatch {
    QueueBatch {
        skipped: Some(why),
        ..Default::default()
    }
}

async fn onboard_batch(
    runner: &Runner,
    last_wait_reason: &Mutex<Option<String>>,
) -> Result<QueueBatch, StoreError> {
    let store = runner.store();
    let settings = &runner.settings().daemon;
    let now = store::now();
    let mut batch = QueueBatch::default();
    // A user who asked for a spelling and then tapped a suggested catalog artist said
    // what the spelling means: it becomes that artist's alias, no search needed.
    for (query_key, query, artist_id, attempts) in
        store.tapped_requests(settings.queue_batch as u64).await?
    {
        tracing::info!(query = %escaped(&query), %artist_id, "a user tapped a suggestion for a requested name: it becomes an alias");
        store.add_alias(&query, &artist_id, "tap", now).await?;
        let attempts = u32::try_from(attempts).unwrap_or(0);
        store
            .resolve_request(&query_key, &artist_id, attempts, store::now())
            .await?;
        batch.handled.push("tapped");
        batch.resolved += 1;
    }
    // Read again under the lock: another runner may have done them meanwhile.
    let due = store.due_requests(now, settings.queue_batch as u64).await?;
    if due.is_empty() {
        return Ok(if batch.resolved > 0 {
            batch
        } else {
            skipped("nothing due")
        });
    }
    let (spotify, deezer) = runner.engine().clients(now).await?;

    *last_wait_reason.lock().expect("wait-reason lock poisoned") = None;
    let mut asked: Vec<(&ArtistRequest, ArtistRef)> = Vec::new();
    for request in &due {
        match parse_artist_ref(&request.query) {
            Some(input) => asked.push((request, input)),
            None => {
                // A blank spelling cannot become anything; the skill never records one.
                let attempts = request.attempts.saturating_add(1);
                store
                    .miss_request(
                        &request.query_key,
                        RequestStatus::NotFound,
                        attempts,
                        None,
                        Some("blank"),
                    )
                    .await?;
                batch.not_found += 1;
                batch.handled.push("not_found");
            }
        }
    }
    let inputs: Vec<ArtistRef> = asked.iter().map(|(_, input)| input.clone()).collect();
    let onboarded = onboard(
        runner,
        (&spotify, &deezer),
        &inputs,
        AddedVia::Request,
        Some(&NoProgress),
    )
    .await?;
    let stopped = onboarded
        .spotify_stopped
        .clone()
        .or_else(|| deezer.is_down().then(|| "Deezer is down".to_owned()));
    batch.spotify_calls = onboarded.resolution_calls;
    for ((request, _), outcome) in asked.iter().zip(&onboarded.outcomes) {
        let attempts = request.attempts.saturating_add(1);
        match outcome {
            AddOutcome::Added { id, name, alias } => {
                tracing::info!(query = %escaped(&request.query), %id, name = %escaped(name), alias = ?alias.as_deref().map(escaped), "requested artist added");
                alias_the_request(store, &request.query, id).await?;
                store
                    .resolve_request(&request.query_key, id, attempts, store::now())
                    .await?;
                batch.handled.push("added");
                batch.resolved += 1;
                batch.added.push(id.clone());
            }
            AddOutcome::AlreadyPresent { id, name, alias } => {
                tracing::info!(query = %escaped(&request.query), %id, name = %escaped(name), alias = ?alias.as_deref().map(escaped), "requested name is a catalog artist");
                alias_the_request(store, &request.query, id).await?;
                store
                    .resolve_request(&request.query_key, id, attempts, store::now())
                    .await?;
                batch.handled.push("already_present");
                batch.resolved += 1;
            }
            AddOutcome::NotFound {
                suggestions,
                candidate,
                ..
            } => {
                let retry_at = retry_time(request, attempts, settings, store::now());
                let detail = if suggestions.is_empty() {
                    "no artist of that name".to_owned()
                } else {
                    format!("no exact match; closest: {}", suggestions.join(", "))
                };
                tracing::info!(query = %escaped(&request.query), attempts, ?retry_at, "requested name not found");
                store
                    .miss_request(
                        &request.query_key,
                        RequestStatus::NotFound,
                        attempts,
                        retry_at,
                        Some(&detail),
                    )
                    .await?;
                if let Some(candidate) = candidate {
                    store
                        .suggest_for_request(&request.query_key, candidate)
                        .await?;
                }
                batch.handled.push("not_found");
                batch.not_found += 1;
            }
            AddOutcome::Failed { error, .. } => {
                if let Some(reason) = &stopped {
                    // A provider stopped mid-batch: not this name's fault, so it keeps
                    // its tries and waits with the rest.
                    let mut last = last_wait_reason.lock().expect("wait-reason lock poisoned");
                    if last.as_deref() != Some(reason.as_str()) {
                        tracing::warn!(query = %escaped(&request.query), %error, %reason, "requests wait for a provider");
                        *last = Some(reason.clone());
                    }
                    continue;
                }
                let retry_at = retry_time(request, attempts, settings, store::now());
                tracing::warn!(query = %escaped(&request.query), %error, attempts, ?retry_at, "onboarding a requested name failed");
                store
                    .miss_request(
                        &request.query_key,
                        RequestStatus::Failed,
                        attempts,
                        retry_at,
                        Some(error),
                    )
                    .await?;
                batch.handled.push("failed");
                batch.failed += 1;
            }
        }
    }
    if let Some(Err(error)) = &onboarded.refresh {
        tracing::warn!(%error, "the added artists stay due for the next run");
    }
    Ok(batch)
}

/// When a missed request is tried again: `REQUEST_RETRY_DELAY` after the first miss,
/// four times longer after each further one; `None` once the tries are used up.
fn retry_time(
    request: &ArtistRequest,
    attempts: u32,
    settings: &DaemonSettings,
    now: NaiveDateTime,
) -> Option<NaiveDateTime> {
    if attempts >= settings.request_max_attempts {
        tracing::info!(query = %escaped(&request.query), attempts, "giving up on a requested name");
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

/// Makes the exact text users asked with lead to the artist from now on, whatever it
/// was (a Hangul spelling, a Spotify link): otherwise the skill would keep missing it.
/// An alias that already leads somewhere is left alone.
async fn alias_the_request(store: &Store, query: &str, artist_id: &str) -> Result<(), StoreError> {
    store
        .add_alias(query, artist_id, "request", store::now())
        .await
        .map(|_| ())
}
