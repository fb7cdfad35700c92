//! The request queue's poll: every `QUEUE_POLL`, one batch of the names users asked for
//! is onboarded ([`crate::sync::requests::onboard_due_requests`]), and what it did is
//! counted in the daemon's metrics. The batch itself (and every rule about retries and
//! waiting for Spotify) is the sync's.

use std::sync::Mutex;

use super::runner::Runner;
use crate::sync::requests::onboard_due_requests;

/// Polls the queue until shutdown.
pub(crate) async fn poll_until_shutdown(runner: &Runner) {
    let poll = runner.settings().daemon.queue_poll;
    let mut interval = tokio::time::interval(poll);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let last_wait_reason = Mutex::new(None::<String>);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = runner.shutdown().cancelled() => return,
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
