//! How a run tells its caller what it is doing: the CLI draws a progress bar on a
//! terminal and logs otherwise; the daemon and tests ignore it.

/// Receives a run's progress. Called from the run's task; must not block.
pub trait Progress: Send + Sync {
    fn planned(&self, _artists: u64) {}
    fn artist_done(&self, _name: &str, _outcome: &str) {}
    fn finished(&self) {}
}

/// Progress nobody watches.
pub struct NoProgress;

impl Progress for NoProgress {}
