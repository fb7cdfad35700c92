//! The daemon's runner: the sync's [`sync::runner::Runner`](crate::sync::runner::Runner),
//! watched by the daemon's metrics and health. Units of work (one at a time, the runner
//! lock across processes, clean shutdown) are the sync's; this module only decides what
//! the daemon learns from them.

use std::ops::Deref;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::health::Health;
use super::metrics::Metrics;
use crate::sync::runner::RunObserver;
use crate::sync::{RunReport, SyncEngine, Trigger};

/// The sync's runner with the daemon watching: every run is counted in [`Metrics`], every
/// database answer or failure goes to [`Health`].
pub struct Runner {
    units: crate::sync::runner::Runner,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

impl Runner {
    pub fn new(
        engine: SyncEngine,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
        shutdown: CancellationToken,
    ) -> Self {
        let observer = Arc::new(DaemonWatch {
            metrics: metrics.clone(),
            health: health.clone(),
        });
        Self {
            units: crate::sync::runner::Runner::new(engine, observer, shutdown),
            metrics,
            health,
        }
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn health(&self) -> &Health {
        &self.health
    }
}

impl Deref for Runner {
    type Target = crate::sync::runner::Runner;

    fn deref(&self) -> &Self::Target {
        &self.units
    }
}

/// What the daemon learns from each unit of work.
struct DaemonWatch {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

impl RunObserver for DaemonWatch {
    fn database_ok(&self) {
        self.health.database_ok();
    }

    fn database_failed(&self, error: &str) {
        self.health.database_failed(error);
    }

    fn lock_held(&self, held: bool) {
        self.metrics.set_lock_held(held);
    }

    fn run_ended(&self, trigger: Trigger, report: Option<&RunReport>) {
        match report {
            Some(report) => self.metrics.count_run(trigger.as_str(), report),
            None => self.metrics.count_failed_run(trigger.as_str()),
        }
    }
}
