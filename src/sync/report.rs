//! What a run did, and what that means for the caller's exit code.

use std::time::Duration;

use crate::providers::http::CallCounts;
use crate::store::runs::{RunCounts, RunStatus};

/// Requests sent to one provider, by how they ended: what a run reports of its calls,
/// in the sync's own terms (watchers of runs need not know the HTTP layer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiCalls {
    pub requests: u64,
    pub ok: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub rate_limited: u64,
    pub transport_errors: u64,
    /// Requests that were retries of a failed attempt.
    pub retries: u64,
}

impl From<CallCounts> for ApiCalls {
    fn from(c: CallCounts) -> Self {
        Self {
            requests: c.requests,
            ok: c.ok,
            client_errors: c.client_errors,
            server_errors: c.server_errors,
            rate_limited: c.rate_limited,
            transport_errors: c.transport_errors,
            retries: c.retries,
        }
    }
}

/// The result of one sync run.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub run_id: i64,
    pub status: RunStatus,
    pub counts: RunCounts,
    /// Artists with due work left for a later run (quota, budget, provider down).
    pub left_due: u64,
    pub stop_reason: Option<String>,
    /// A problem no later run gets past by itself (Spotify refused the app's credentials
    /// or the app): the run did what it could without Spotify, but it is a failure.
    pub configuration_error: Option<String>,
    /// The first errors, verbatim.
    pub(crate) errors: Vec<String>,
    pub(crate) errors_total: u64,
    pub spotify_calls: ApiCalls,
    pub deezer_calls: ApiCalls,
    /// SQL statements the store sent during the run's lifetime.
    pub(crate) statements: u64,
    /// Deezer-born artists linked to Spotify this run: (old id, Spotify id).
    pub linked: Vec<(String, String)>,
    /// Why Spotify could not be asked at the end of the run (a block, the budget), when
    /// it is configured: links and Spotify profiles wait for a later run.
    pub spotify_note: Option<String>,
    /// The catalog was empty and its starter list could not be looked up (no network,
    /// Deezer down, an unreadable list): why, in one line. Nothing was changed.
    pub empty_catalog: Option<String>,
    pub(crate) elapsed: Duration,
}

impl RunReport {
    /// 0: everything due was refreshed; 2: stopped early for a reason the next run gets
    /// past (quota, budget, a provider down, a signal); 1 for runs that could not run or
    /// met a configuration problem.
    pub fn exit_code(&self) -> i32 {
        if self.configuration_error.is_some() {
            return 1;
        }
        match self.status {
            RunStatus::Completed => 0,
            RunStatus::Partial | RunStatus::Interrupted | RunStatus::Running => 2,
            RunStatus::Failed => 1,
        }
    }

    /// The errors for `sync_runs.error_summary`, one per line.
    pub fn error_summary(&self) -> Option<String> {
        if self.errors.is_empty() {
            return None;
        }
        let mut summary = self.errors.join("\n");
        let more = self.errors_total.saturating_sub(self.errors.len() as u64);
        if more > 0 {
            summary.push_str(&format!("\n… and {more} more"));
        }
        Some(summary)
    }
}
