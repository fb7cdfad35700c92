//! What the skill endpoint did since it started, and its Prometheus text (`GET /metrics`
//! on `artistbot serve`): replies by outcome, refusals by reason, a latency histogram,
//! database errors, reply-cache hits, and the HTTP server's connections.
//!
//! Counters only: nothing here touches the database, and no label carries anything a
//! user sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::server::ServerStats;
use crate::store::requests::AskRecorded;
use crate::telemetry::{Histogram, MetricsText};

/// Upper bounds of the reply latency buckets, in seconds: a reply from the catalog takes
/// a few milliseconds; Kakao gives up at 5 s.
const LATENCY_BOUNDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// How a `/skill` request ended, as counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplyKind {
    Hit,
    AliasHit,
    /// A miss answered with "did you mean" suggestions.
    Suggestion,
    /// A miss without suggestions.
    Miss,
    /// Nothing to look up.
    Empty,
    /// The database failed or was too slow: "try again".
    Unavailable,
    /// Refused before any work (see [`RefusalKind`]).
    Rejected,
}

impl ReplyKind {
    const ALL: [ReplyKind; 7] = [
        ReplyKind::Hit,
        ReplyKind::AliasHit,
        ReplyKind::Suggestion,
        ReplyKind::Miss,
        ReplyKind::Empty,
        ReplyKind::Unavailable,
        ReplyKind::Rejected,
    ];

    fn label(self) -> &'static str {
        match self {
            ReplyKind::Hit => "hit",
            ReplyKind::AliasHit => "alias_hit",
            ReplyKind::Suggestion => "suggestion",
            ReplyKind::Miss => "miss",
            ReplyKind::Empty => "empty",
            ReplyKind::Unavailable => "unavailable",
            ReplyKind::Rejected => "rejected",
        }
    }
}

/// Why a request was refused, as counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RefusalKind {
    Unauthorized,
    Forbidden,
    TooLarge,
    Unreadable,
    Malformed,
}

impl RefusalKind {
    const ALL: [RefusalKind; 5] = [
        RefusalKind::Unauthorized,
        RefusalKind::Forbidden,
        RefusalKind::TooLarge,
        RefusalKind::Unreadable,
        RefusalKind::Malformed,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            RefusalKind::Unauthorized => "unauthorized",
            RefusalKind::Forbidden => "forbidden",
            RefusalKind::TooLarge => "too_large",
            RefusalKind::Unreadable => "unreadable",
            RefusalKind::Malformed => "malformed",
        }
    }
}

/// A database call of the skill that failed, as counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DatabaseCall {
    /// Looking up the asked-for artist.
    Lookup,
    /// Recording a missed name.
    RecordMiss,
}

impl DatabaseCall {
    const ALL: [DatabaseCall; 2] = [DatabaseCall::Lookup, DatabaseCall::RecordMiss];

    fn label(self) -> &'static str {
        match self {
            DatabaseCall::Lookup => "lookup",
            DatabaseCall::RecordMiss => "record_miss",
        }
    }
}

/// How a database call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DatabaseFailure {
    /// The driver or the server reported an error.
    Error,
    /// No answer within `SKILL_DB_TIMEOUT`.
    Timeout,
}

/// The skill's counters.
#[derive(Debug)]
pub struct SkillMetrics {
    replies: [AtomicU64; ReplyKind::ALL.len()],
    refusals: [AtomicU64; RefusalKind::ALL.len()],
    /// (call, failure) → count, `DatabaseCall::ALL` × [error, timeout].
    database_errors: [[AtomicU64; 2]; DatabaseCall::ALL.len()],
    cache_hits: AtomicU64,
    /// Misses passed on to the request queue, by what became of them.
    asks: [AtomicU64; AskRecorded::ALL.len()],
    latency: Histogram,
    server: Arc<ServerStats>,
}

impl Default for SkillMetrics {
    fn default() -> Self {
        Self {
            replies: Default::default(),
            refusals: Default::default(),
            database_errors: Default::default(),
            cache_hits: AtomicU64::new(0),
            asks: Default::default(),
            latency: Histogram::new(LATENCY_BOUNDS),
            server: Arc::new(ServerStats::default()),
        }
    }
}

impl SkillMetrics {
    /// The HTTP server's statistics, which `artistbot serve` fills and `/metrics` shows.
    pub fn server_stats(&self) -> Arc<ServerStats> {
        self.server.clone()
    }

    pub(crate) fn count_reply(&self, kind: ReplyKind, took: Duration) {
        let slot = ReplyKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        self.replies[slot].fetch_add(1, Ordering::Relaxed);
        self.latency.observe(took);
    }

    pub(crate) fn count_refusal(&self, reason: RefusalKind, took: Duration) {
        let slot = RefusalKind::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.refusals[slot].fetch_add(1, Ordering::Relaxed);
        self.count_reply(ReplyKind::Rejected, took);
    }

    pub(crate) fn count_database_failure(&self, call: DatabaseCall, failure: DatabaseFailure) {
        let slot = DatabaseCall::ALL
            .iter()
            .position(|c| *c == call)
            .unwrap_or(0);
        let kind = match failure {
            DatabaseFailure::Error => 0,
            DatabaseFailure::Timeout => 1,
        };
        self.database_errors[slot][kind].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_ask(&self, recorded: AskRecorded) {
        let slot = AskRecorded::ALL
            .iter()
            .position(|r| *r == recorded)
            .unwrap_or(0);
        self.asks[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// Misses counted with `label` (`new_request`, `user_limit`, ...), for tests.
    pub fn asks(&self, label: &str) -> u64 {
        AskRecorded::ALL
            .iter()
            .position(|r| r.as_str() == label)
            .map_or(0, |slot| self.asks[slot].load(Ordering::Relaxed))
    }

    /// Replies counted with `kind`'s label (`hit`, `rejected`, ...), for tests.
    pub fn replies(&self, label: &str) -> u64 {
        ReplyKind::ALL
            .iter()
            .position(|k| k.label() == label)
            .map_or(0, |slot| self.replies[slot].load(Ordering::Relaxed))
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub(crate) fn render(&self) -> String {
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        let mut text = MetricsText::new();
        text.build_info();
        text.family(
            "artistbot_skill_replies_total",
            "counter",
            "Skill requests answered, by outcome (hit, alias_hit, suggestion, miss, empty, unavailable, rejected).",
            ReplyKind::ALL
                .iter()
                .zip(&self.replies)
                .map(|(kind, n)| (format!("{{outcome=\"{}\"}}", kind.label()), load(n))),
        );
        text.family(
            "artistbot_skill_rejected_total",
            "counter",
            "Skill requests refused before any work, by reason.",
            RefusalKind::ALL
                .iter()
                .zip(&self.refusals)
                .map(|(reason, n)| (format!("{{reason=\"{}\"}}", reason.label()), load(n))),
        );
        text.histogram(
            "artistbot_skill_reply_duration_seconds",
            "Time from a skill request's arrival at the handler to its reply.",
            &self.latency,
        );
        text.family(
            "artistbot_skill_database_errors_total",
            "counter",
            "Database calls of the skill that failed, by call and by how (error, timeout).",
            DatabaseCall::ALL
                .iter()
                .zip(&self.database_errors)
                .flat_map(|(call, counts)| {
                    [("error", &counts[0]), ("timeout", &counts[1])]
                        .into_iter()
                        .map(move |(how, n)| {
                            (
                                format!("{{call=\"{}\",failure=\"{how}\"}}", call.label()),
                                load(n),
                            )
                        })
                }),
        );
        text.single(
            "artistbot_skill_reply_cache_hits_total",
            "counter",
            "Found artists answered from the in-memory reply cache (SKILL_CACHE_TTL).",
            load(&self.cache_hits),
        );
        text.family(
            "artistbot_skill_requests_recorded_total",
            "counter",
            "Missed names passed on to the request queue, by what became of them: recorded (new_request, new_asker, asked_again) or not (blank, user_limit: REQUESTS_PER_USER_PER_DAY, queue_full: REQUESTS_MAX_PENDING).",
            AskRecorded::ALL
                .iter()
                .zip(&self.asks)
                .map(|(recorded, n)| (format!("{{result=\"{}\"}}", recorded.as_str()), load(n))),
        );
        self.server.render(&mut text, "artistbot_http");
        text.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_reason_and_failure_is_rendered_even_at_zero() {
        let metrics = SkillMetrics::default();
        metrics.count_reply(ReplyKind::AliasHit, Duration::from_millis(3));
        metrics.count_refusal(RefusalKind::Unauthorized, Duration::from_micros(40));
        metrics.count_database_failure(DatabaseCall::Lookup, DatabaseFailure::Timeout);

        let text = metrics.render();

        assert!(text.contains("artistbot_skill_replies_total{outcome=\"alias_hit\"} 1"));
        assert!(text.contains("artistbot_skill_replies_total{outcome=\"rejected\"} 1"));
        assert!(text.contains("artistbot_skill_replies_total{outcome=\"hit\"} 0"));
        assert!(text.contains("artistbot_skill_rejected_total{reason=\"unauthorized\"} 1"));
        assert!(text.contains(
            "artistbot_skill_database_errors_total{call=\"lookup\",failure=\"timeout\"} 1"
        ));
        assert!(text.contains("# TYPE artistbot_skill_reply_duration_seconds histogram"));
        assert!(text.contains("artistbot_skill_reply_duration_seconds_bucket{le=\"0.005\"} 2"));
        assert!(text.contains("artistbot_skill_reply_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("artistbot_skill_reply_duration_seconds_count 2"));
        assert!(text.contains("artistbot_build_info{version=\""));
        assert!(text.contains("artistbot_http_connections_open 0"));
        assert!(text.contains("artistbot_skill_requests_recorded_total{result=\"queue_full\"} 0"));
    }
}
