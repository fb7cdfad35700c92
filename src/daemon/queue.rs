//! The request queue's poll: every `QUEUE_POLL`, one batch of the names users asked for
//! is onboarded ([`crate::sync::requests::onboard_due_requests`]), and what it did is
//! counted in the daemon's metrics. The batch itself (and every rule about retries and
//! waiting for Spotify) is the sync's.
//!
//! Once an hour (and at the first poll) the requests past `REQUESTS_RETENTION` are
//! deleted: two DELETE statements, outside the runner lock, since they touch only rows
//! that no unit of work will pick up (finished, or asked for by nobody for that long).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::runner::Runner;
use crate::store;
use crate::sync::requests::onboard_due_requests;

/// How often expired requests are deleted.
const EXPIRY_EVERY: Duration = Duration::from_secs(3600);

/// Polls the queue until shutdown.
pub(crate) async fn poll_until_shutdown(runner: &Runner) {
    let poll = runner.settings().daemon.queue_poll;
    let mut interval = tokio::time::interval(poll);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let last_wait_reason = Mutex::new(None::<String>);
    let mut last_expiry: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = runner.shutdown().cancelled() => return,
        }
        if last_expiry.is_none_or(|at| at.elapsed() >= EXPIRY_EVERY) {
            last_expiry = Some(Instant::now());
            delete_expired_requests(runner).await;
        }
        let batch = onboard_due_requests(runner, &last_wait_reason).await;
        for outcome in &batch.handled {
            runner.metrics().count_request(outcome);
        }
        runner
            .metrics()
            .count_calls("spotify", &batch.spotify_calls);
        if batch.resolved + batch.not_found + batch.failed > 0 {
            tracing::info!(
                resolved = batch.resolved,
                added = batch.added.len(),
                not_found = batch.not_found,
                failed = batch.failed,
                "request queue batch done"
            );
        }
    }
}

/// Deletes the requests past `REQUESTS_RETENTION`; a failure is logged and tried again
/// at the next hour.
pub(crate) async fn delete_expired_requests(runner: &Runner) {
    let retention = runner.settings().daemon.requests_retention;
    match runner
        .store()
        .delete_expired_requests(retention, store::now())
        .await
    {
        Ok(0) => {}
        Ok(deleted) => {
            runner.metrics().count_requests_expired(deleted);
            tracing::info!(deleted, ?retention, "expired requests deleted");
        }
        Err(error) => tracing::warn!(%error, "deleting expired requests failed"),
    }
}
