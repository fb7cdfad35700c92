//! The daemon's counters and their Prometheus text rendering (`/metrics`).
//!
//! Counters count what this process did since it started (runs by trigger and status,
//! artists refreshed, API calls by provider and answer, schedule ticks, queue outcomes);
//! the last successful run and the last run's duration per trigger are kept from the
//! runs this daemon ran (seeded at start from the recorded runs); gauges read at scrape
//! time (queue length, database up, Spotify's block and budget, next scheduled run) are
//! passed in by the HTTP handler. Nothing here touches the database or the providers.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::NaiveDateTime;

use crate::server::ServerStats;
use crate::store::requests::RequestCounts;
use crate::store::runs::{RunRecord, RunStatus};
use crate::sync::RunReport;
use crate::sync::report::ApiCalls;
use crate::telemetry::MetricsText;

/// What this daemon did since it started.
#[derive(Default)]
pub struct Metrics {
    /// (trigger, status) → runs.
    runs: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    artists_refreshed: AtomicU64,
    /// (provider, answer) → requests.
    api_calls: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    api_retries: Mutex<BTreeMap<&'static str, u64>>,
    ticks: Mutex<BTreeMap<&'static str, u64>>,
    requests: Mutex<BTreeMap<&'static str, u64>>,
    /// Requests deleted past `REQUESTS_RETENTION`.
    requests_expired: AtomicU64,
    lock_held: AtomicBool,
    /// Whether the last run this daemon ran failed outright.
    last_run_failed: AtomicBool,
    /// trigger → when its last completed run ended (Unix seconds).
    last_success: Mutex<BTreeMap<String, i64>>,
    /// trigger → how long its last run took (seconds), whatever its end.
    last_duration: Mutex<BTreeMap<String, f64>>,
}

/// Values read when `/metrics` is scraped.
#[derive(Clone, Debug, Default)]
pub(crate) struct Gauges {
    pub(crate) database_up: bool,
    /// `None` when the database could not be asked.
    pub(crate) queue: Option<RequestCounts>,
    /// `None` when the database could not be asked.
    pub(crate) spotify: Option<SpotifyGauges>,
    /// Unix seconds.
    pub(crate) next_scheduled_run: Option<i64>,
}

/// What Spotify allows now, as the recorded runs left it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SpotifyGauges {
    /// Unix seconds; `None` when not blocked.
    pub(crate) blocked_until: Option<i64>,
    /// `SPOTIFY_DAILY_BUDGET` minus the calls of the runs of the last 24 hours.
    pub(crate) daily_budget_left: u64,
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K, by: u64) {
    *map.lock()
        .expect("metrics lock poisoned")
        .entry(key)
        .or_default() += by;
}

impl Metrics {
    pub(crate) fn count_run(&self, trigger: &'static str, report: &RunReport) {
        bump(&self.runs, (trigger, report.status.as_str()), 1);
        self.last_duration
            .lock()
            .expect("metrics lock poisoned")
            .insert(trigger.to_owned(), report.elapsed.as_secs_f64());
        if report.status == RunStatus::Completed {
            self.last_success
                .lock()
                .expect("metrics lock poisoned")
                .insert(trigger.to_owned(), chrono::Utc::now().timestamp());
        }
        self.artists_refreshed
            .fetch_add(report.counts.artists_refreshed, Ordering::Relaxed);
        self.count_calls("spotify", &report.spotify_calls);
        self.count_calls("deezer", &report.deezer_calls);
        self.last_run_failed
            .store(report.status == RunStatus::Failed, Ordering::Relaxed);
    }

    pub(crate) fn count_failed_run(&self, trigger: &'static str) {
        bump(&self.runs, (trigger, RunStatus::Failed.as_str()), 1);
        self.last_run_failed.store(true, Ordering::Relaxed);
    }

    /// Calls to a provider: a run's, or those made outside a run (the queue's name
    /// searches).
    pub(crate) fn count_calls(&self, provider: &'static str, calls: &ApiCalls) {
        for (answer, n) in [
            ("ok", calls.ok),
            ("client_error", calls.client_errors),
            ("server_error", calls.server_errors),
            ("rate_limited", calls.rate_limited),
            ("transport_error", calls.transport_errors),
        ] {
            if n > 0 {
                bump(&self.api_calls, (provider, answer), n);
            }
        }
        if calls.retries > 0 {
            bump(&self.api_retries, provider, calls.retries);
        }
    }

    pub(crate) fn count_tick(&self, outcome: &'static str) {
        bump(&self.ticks, outcome, 1);
    }

    pub(crate) fn count_request(&self, outcome: &'static str) {
        bump(&self.requests, outcome, 1);
    }

    pub(crate) fn count_requests_expired(&self, deleted: u64) {
        self.requests_expired.fetch_add(deleted, Ordering::Relaxed);
    }

    /// Requests deleted past their retention, for tests.
    pub fn requests_expired(&self) -> u64 {
        self.requests_expired.load(Ordering::Relaxed)
    }

    /// Seeds the last successful run and the last run's duration per trigger from the
    /// recorded runs (newest first), so a restart does not make them unknown until the
    /// next run. Runs this daemon counts later replace them.
    pub(crate) fn remember_runs(&self, runs: &[RunRecord]) {
        let mut success = self.last_success.lock().expect("metrics lock poisoned");
        let mut duration = self.last_duration.lock().expect("metrics lock poisoned");
        for run in runs.iter().rev() {
            let Some(finished) = run.finished_at else {
                continue;
            };
            let seconds = |at: NaiveDateTime| at.and_utc().timestamp();
            duration.insert(
                run.trigger.clone(),
                (seconds(finished) - seconds(run.started_at)).max(0) as f64,
            );
            if run.status == RunStatus::Completed {
                success.insert(run.trigger.clone(), seconds(finished));
            }
        }
    }

    pub(crate) fn set_lock_held(&self, held: bool) {
        self.lock_held.store(held, Ordering::Relaxed);
    }

    /// Schedule ticks that ended with `outcome` (see `TickOutcome::label`).
    pub fn ticks(&self, outcome: &str) -> u64 {
        self.ticks
            .lock()
            .expect("metrics lock poisoned")
            .get(outcome)
            .copied()
            .unwrap_or(0)
    }

    /// Queue requests handled with `outcome`.
    pub fn requests(&self, outcome: &str) -> u64 {
        self.requests
            .lock()
            .expect("metrics lock poisoned")
            .get(outcome)
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn last_run_failed(&self) -> bool {
        self.last_run_failed.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition (format 0.0.4), the health server's connections
    /// included.
    pub(crate) fn render(&self, gauges: &Gauges, server: &ServerStats) -> String {
        let mut text = MetricsText::new();
        text.build_info();
        let runs = self.runs.lock().expect("metrics lock poisoned").clone();
        text.family(
            "artistbot_sync_runs_total",
            "counter",
            "Sync runs this daemon ran, by trigger and final status.",
            runs.into_iter().map(|((trigger, status), n)| {
                (format!("{{trigger=\"{trigger}\",status=\"{status}\"}}"), n)
            }),
        );
        let last_success = self
            .last_success
            .lock()
            .expect("metrics lock poisoned")
            .clone();
        text.family(
            "artistbot_sync_last_success_timestamp_seconds",
            "gauge",
            "When the last completed run of each trigger ended (Unix time).",
            last_success
                .into_iter()
                .map(|(trigger, at)| (format!("{{trigger=\"{trigger}\"}}"), at)),
        );
        let last_duration = self
            .last_duration
            .lock()
            .expect("metrics lock poisoned")
            .clone();
        text.family(
            "artistbot_sync_last_run_duration_seconds",
            "gauge",
            "How long the last run of each trigger took, whatever its end.",
            last_duration
                .into_iter()
                .map(|(trigger, seconds)| (format!("{{trigger=\"{trigger}\"}}"), seconds)),
        );
        text.single(
            "artistbot_artists_refreshed_total",
            "counter",
            "Artists whose due data was refreshed by this daemon's runs.",
            self.artists_refreshed.load(Ordering::Relaxed),
        );
        let calls = self
            .api_calls
            .lock()
            .expect("metrics lock poisoned")
            .clone();
        text.family(
            "artistbot_api_calls_total",
            "counter",
            "HTTP requests to the providers, by provider and how they were answered.",
            calls.into_iter().map(|((provider, answer), n)| {
                (
                    format!("{{provider=\"{provider}\",status=\"{answer}\"}}"),
                    n,
                )
            }),
        );
        let retries = self
            .api_retries
            .lock()
            .expect("metrics lock poisoned")
            .clone();
        text.family(
            "artistbot_api_retries_total",
            "counter",
            "Provider requests that were retries of a failed attempt.",
            retries
                .into_iter()
                .map(|(provider, n)| (format!("{{provider=\"{provider}\"}}"), n)),
        );
        let ticks = self.ticks.lock().expect("metrics lock poisoned").clone();
        text.family(
            "artistbot_schedule_ticks_total",
            "counter",
            "Scheduled refresh ticks, by outcome (ran, skipped_overlap, skipped_busy, already_done, failed).",
            ticks
                .into_iter()
                .map(|(outcome, n)| (format!("{{outcome=\"{outcome}\"}}"), n)),
        );
        let requests = self.requests.lock().expect("metrics lock poisoned").clone();
        text.family(
            "artistbot_requests_handled_total",
            "counter",
            "Requested names this daemon tried to onboard, by outcome.",
            requests
                .into_iter()
                .map(|(outcome, n)| (format!("{{outcome=\"{outcome}\"}}"), n)),
        );
        text.single(
            "artistbot_requests_expired_total",
            "counter",
            "Requests deleted past REQUESTS_RETENTION (finished, or asked for by nobody).",
            self.requests_expired.load(Ordering::Relaxed),
        );
        if let Some(queue) = gauges.queue {
            text.family(
                "artistbot_request_queue",
                "gauge",
                "Requested names in the queue, by state.",
                [
                    ("pending", queue.pending),
                    ("due", queue.due_now),
                    ("not_found_retrying", queue.not_found_retrying),
                    ("not_found_given_up", queue.not_found_given_up),
                    ("failed_retrying", queue.failed_retrying),
                    ("failed_given_up", queue.failed_given_up),
                    ("done", queue.done),
                ]
                .into_iter()
                .map(|(state, n)| (format!("{{state=\"{state}\"}}"), n)),
            );
        }
        if let Some(spotify) = gauges.spotify {
            text.single(
                "artistbot_spotify_blocked_until_timestamp_seconds",
                "gauge",
                "Until when Spotify refuses this app's calls (Unix time); 0 when it does not.",
                spotify.blocked_until.unwrap_or(0).max(0),
            );
            text.single(
                "artistbot_spotify_daily_budget_remaining_calls",
                "gauge",
                "Spotify calls left of SPOTIFY_DAILY_BUDGET over the last 24 hours of runs.",
                spotify.daily_budget_left,
            );
        }
        text.single(
            "artistbot_database_up",
            "gauge",
            "1 when the database answered this scrape.",
            u64::from(gauges.database_up),
        );
        text.single(
            "artistbot_runner_lock_held",
            "gauge",
            "1 while this daemon holds the runner lock (a unit of work is in progress).",
            u64::from(self.lock_held.load(Ordering::Relaxed)),
        );
        if let Some(next) = gauges.next_scheduled_run {
            text.single(
                "artistbot_next_scheduled_run_timestamp_seconds",
                "gauge",
                "When the scheduled refresh fires next (Unix time).",
                next.max(0),
            );
        }
        server.render(&mut text, "artistbot_http");
        text.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text_with_help_and_type() {
        let metrics = Metrics::default();
        metrics.count_calls(
            "deezer",
            &ApiCalls {
                requests: 3,
                ok: 2,
                server_errors: 1,
                retries: 1,
                ..Default::default()
            },
        );
        metrics.count_tick("skipped_overlap");
        let text = metrics.render(
            &Gauges {
                database_up: true,
                queue: Some(RequestCounts {
                    pending: 4,
                    ..Default::default()
                }),
                spotify: Some(SpotifyGauges {
                    blocked_until: Some(1_800_000_100),
                    daily_budget_left: 1234,
                }),
                next_scheduled_run: Some(1_800_000_000),
            },
            &ServerStats::default(),
        );
        assert!(text.contains("# TYPE artistbot_api_calls_total counter"));
        assert!(text.contains("artistbot_api_calls_total{provider=\"deezer\",status=\"ok\"} 2"));
        assert!(
            text.contains(
                "artistbot_api_calls_total{provider=\"deezer\",status=\"server_error\"} 1"
            )
        );
        assert!(text.contains("artistbot_schedule_ticks_total{outcome=\"skipped_overlap\"} 1"));
        assert!(text.contains("artistbot_request_queue{state=\"pending\"} 4"));
        assert!(text.contains("artistbot_database_up 1"));
        assert!(text.contains("artistbot_next_scheduled_run_timestamp_seconds 1800000000"));
        assert!(text.contains("artistbot_spotify_blocked_until_timestamp_seconds 1800000100"));
        assert!(text.contains("artistbot_spotify_daily_budget_remaining_calls 1234"));
        assert!(text.contains("artistbot_build_info{version=\""));
        assert!(text.contains("artistbot_http_connections_open 0"));
    }
}
