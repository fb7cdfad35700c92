//! The daemon's counters and their Prometheus text rendering (`/metrics`).
//!
//! Counters count what this process did since it started (runs by trigger and status,
//! artists refreshed, API calls by provider and answer, schedule ticks, queue outcomes);
//! gauges read at scrape time (queue length, database up, next scheduled run) are passed
//! in by the HTTP handler. Nothing here touches the database or the providers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::store::requests::RequestCounts;
use crate::store::runs::RunStatus;
use crate::sync::RunReport;
use crate::sync::report::ApiCalls;

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
    lock_held: AtomicBool,
    /// Whether the last run this daemon ran failed outright.
    last_run_failed: AtomicBool,
}

/// Values read when `/metrics` is scraped.
#[derive(Clone, Debug, Default)]
pub(crate) struct Gauges {
    pub(crate) database_up: bool,
    /// `None` when the database could not be asked.
    pub(crate) queue: Option<RequestCounts>,
    /// Unix seconds.
    pub(crate) next_scheduled_run: Option<i64>,
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

    /// The Prometheus text exposition (format 0.0.4).
    pub(crate) fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, u64)>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let runs = self.runs.lock().expect("metrics lock poisoned").clone();
        family(
            "artistbot_sync_runs_total",
            "counter",
            "Sync runs this daemon ran, by trigger and final status.",
            runs.into_iter()
                .map(|((trigger, status), n)| {
                    (format!("{{trigger=\"{trigger}\",status=\"{status}\"}}"), n)
                })
                .collect(),
        );
        family(
            "artistbot_artists_refreshed_total",
            "counter",
            "Artists whose due data was refreshed by this daemon's runs.",
            vec![(
                String::new(),
                self.artists_refreshed.load(Ordering::Relaxed),
            )],
        );
        let calls = self
            .api_calls
            .lock()
            .expect("metrics lock poisoned")
            .clone();
        family(
            "artistbot_api_calls_total",
            "counter",
            "HTTP requests to the providers, by provider and how they were answered.",
            calls
                .into_iter()
                .map(|((provider, answer), n)| {
                    (
                        format!("{{provider=\"{provider}\",status=\"{answer}\"}}"),
                        n,
                    )
                })
                .collect(),
        );
        let retries = self
            .api_retries
            .lock()
            .expect("metrics lock poisoned")
            .clone();
        family(
            "artistbot_api_retries_total",
            "counter",
            "Provider requests that were retries of a failed attempt.",
            retries
                .into_iter()
                .map(|(provider, n)| (format!("{{provider=\"{provider}\"}}"), n))
                .collect(),
        );
        let ticks = self.ticks.lock().expect("metrics lock poisoned").clone();
        family(
            "artistbot_schedule_ticks_total",
            "counter",
            "Scheduled refresh ticks, by outcome (ran, skipped_overlap, skipped_busy, already_done, failed).",
            ticks
                .into_iter()
                .map(|(outcome, n)| (format!("{{outcome=\"{outcome}\"}}"), n))
                .collect(),
        );
        let requests = self.requests.lock().expect("metrics lock poisoned").clone();
        family(
            "artistbot_requests_handled_total",
            "counter",
            "Requested names this daemon tried to onboard, by outcome.",
            requests
                .into_iter()
                .map(|(outcome, n)| (format!("{{outcome=\"{outcome}\"}}"), n))
                .collect(),
        );
        if let Some(queue) = gauges.queue {
            family(
                "artistbot_request_queue",
                "gauge",
                "Requested names in the queue, by state.",
                vec![
                    ("{state=\"pending\"}".into(), queue.pending),
                    ("{state=\"due\"}".into(), queue.due_now),
                    (
                        "{state=\"not_found_retrying\"}".into(),
                        queue.not_found_retrying,
                    ),
                    (
                        "{state=\"not_found_given_up\"}".into(),
                        queue.not_found_given_up,
                    ),
                    ("{state=\"failed_retrying\"}".into(), queue.failed_retrying),
                    ("{state=\"failed_given_up\"}".into(), queue.failed_given_up),
                    ("{state=\"done\"}".into(), queue.done),
                ],
            );
        }
        family(
            "artistbot_database_up",
            "gauge",
            "1 when the database answered this scrape.",
            vec![(String::new(), u64::from(gauges.database_up))],
        );
        family(
            "artistbot_runner_lock_held",
            "gauge",
            "1 while this daemon holds the runner lock (a unit of work is in progress).",
            vec![(
                String::new(),
                u64::from(self.lock_held.load(Ordering::Relaxed)),
            )],
        );
        if let Some(next) = gauges.next_scheduled_run {
            family(
                "artistbot_next_scheduled_run_timestamp_seconds",
                "gauge",
                "When the scheduled refresh fires next (Unix time).",
                vec![(String::new(), next.max(0) as u64)],
            );
        }
        out
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
        let text = metrics.render(&Gauges {
            database_up: true,
            queue: Some(RequestCounts {
                pending: 4,
                ..Default::default()
            }),
            next_scheduled_run: Some(1_800_000_000),
        });
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
    }
}
