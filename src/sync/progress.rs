//! How a run tells its caller what it is doing: the CLI draws a progress bar on a
//! terminal and logs otherwise; the daemon keeps the latest counts (see [`Progress::counts`]);
//! tests ignore it.

use crate::store::runs::RunCounts;

/// Receives a run's progress. Called from the run's task; must not block.
pub trait Progress: Send + Sync {
    fn planned(&self, _artists: u64) {}
    fn artist_done(&self, _name: &str, _outcome: &str) {}
    /// The run's id and its counts so far, once planned and after each artist. A
    /// supervisor that has to abandon the run (the daemon when its shutdown deadline
    /// passes) records these, so the run's row stays honest.
    fn counts(&self, _run_id: i64, _counts: &RunCounts) {}
    fn finished(&self) {}
}

/// Progress nobody watches.
pub struct NoProgress;

impl Progress for NoProgress {}
