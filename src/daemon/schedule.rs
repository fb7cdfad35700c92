//! The scheduled refresh: the cron wiring (tokio-cron-scheduler, in `SYNC_TIMEZONE`) and
//! the overlap guard around one call to the pipeline, [`SyncEngine::run`].
//!
//! tokio-cron-scheduler has no overlap protection and its `shutdown` does not wait for
//! jobs, so both are done here: a tick that finds the previous refresh of this process
//! still going is skipped (and logged), and the refresh runs as a unit of work of the
//! [`Runner`], which the daemon waits for on shutdown. Across replicas the runner lock
//! serialises the work; a replica that gets the lock after another one already refreshed
//! for the same occurrence skips it rather than refresh twice.
//!
//! This module must not fetch, plan or write catalog data itself: that is the pipeline's.
//!
//! A caveat of tokio-cron-scheduler 0.15: after the first fire it computes later fire
//! times with the zone's UTC offset as it was when the job was created. Asia/Seoul has no
//! daylight saving time, so this is exact there; in a zone with DST the daemon fires an
//! hour off after a change until it is restarted.
//!
//! [`SyncEngine::run`]: crate::sync::SyncEngine::run

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tracing::Instrument;

use super::runner::Runner;
use crate::config::cron::CronSchedule;
use crate::store::runs::RunStatus;
use crate::sync::runner::{Begin, SlotWait};
use crate::sync::{RunOptions, Trigger};

/// What one tick did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickOutcome {
    /// The refresh ran and ended with this status.
    Ran(RunStatus),
    /// The previous refresh of this process was still going.
    SkippedOverlap,
    /// Another runner held the lock for longer than `LOCK_WAIT`.
    SkippedBusy,
    /// Another runner already refreshed for this occurrence.
    AlreadyDone,
    /// The refresh could not run (database, lock); logged, the next tick tries again.
    Failed,
    /// The daemon is shutting down.
    Stopping,
}

impl TickOutcome {
    /// The label used in logs and metrics.
    pub(crate) fn label(self) -> &'static str {
        match self {
            TickOutcome::Ran(_) => "ran",
            TickOutcome::SkippedOverlap => "skipped_overlap",
            TickOutcome::SkippedBusy => "skipped_busy",
            TickOutcome::AlreadyDone => "already_done",
            TickOutcome::Failed => "failed",
            TickOutcome::Stopping => "stopping",
        }
    }
}

/// The scheduled refresh of one daemon: the schedule and the overlap guard.
pub struct ScheduledRefresh {
    runner: Arc<Runner>,
    schedule: CronSchedule,
    /// Set while a tick of this process is refreshing (or waiting to).
    in_progress: AtomicBool,
}

/// Clears the overlap flag however the tick ends.
struct InProgress<'a>(&'a AtomicBool);

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl ScheduledRefresh {
    pub fn new(runner: Arc<Runner>, schedule: CronSchedule) -> Self {
        Self {
            runner,
            schedule,
            in_progress: AtomicBool::new(false),
        }
    }

    pub(crate) fn schedule(&self) -> &CronSchedule {
        &self.schedule
    }

    /// One tick at `now`: the stale-first refresh `artistbot sync` does, unless the
    /// previous one is still going, another runner is working, or it already ran for
    /// this occurrence.
    pub async fn tick(&self, now: DateTime<Utc>) -> TickOutcome {
        let outcome = self.tick_guarded(now).await;
        self.runner.metrics().count_tick(outcome.label());
        outcome
    }

    async fn tick_guarded(&self, now: DateTime<Utc>) -> TickOutcome {
        if self.runner.shutdown().is_cancelled() {
            return TickOutcome::Stopping;
        }
        if self.in_progress.swap(true, Ordering::AcqRel) {
            tracing::warn!("scheduled refresh skipped: the previous one is still running");
            return TickOutcome::SkippedOverlap;
        }
        let _in_progress = InProgress(&self.in_progress);
        let occurrence = self.schedule.latest_at_or_before(now).unwrap_or(now);
        let span = tracing::info_span!("scheduled_refresh", occurrence = %occurrence);
        self.refresh(occurrence).instrument(span).await
    }

    /// The daemon's first run on an empty catalog: a refresh right away (which starts the
    /// catalog from the starter list) rather than an empty bot until the schedule fires.
    /// `None` when the catalog holds artists, there is no starter list, or work is
    /// already going on.
    pub async fn first_run_if_empty(&self) -> Option<TickOutcome> {
        let runner = &self.runner;
        if runner.settings().sync.starter == crate::config::Starter::Off
            || self.in_progress.swap(true, Ordering::AcqRel)
        {
            return None;
        }
        let _in_progress = InProgress(&self.in_progress);
        let wait = runner.settings().daemon.lock_wait;
        let Begin::Began(mut unit) = runner.begin(SlotWait::Wait, wait).await else {
            return None;
        };
        if !matches!(runner.store().artist_count().await, Ok(0)) {
            unit.finish().await;
            return None;
        }
        tracing::info!("the catalog is empty: a first refresh starts it from the starter list now");
        let outcome = match unit
            .guarded(runner.run(RunOptions::stale(Trigger::Schedule)))
            .await
        {
            Ok(report) => TickOutcome::Ran(report.status),
            Err(_) => TickOutcome::Failed,
        };
        unit.finish().await;
        Some(outcome)
    }

    async fn refresh(&self, occurrence: DateTime<Utc>) -> TickOutcome {
        let runner = &self.runner;
        let wait = runner.settings().daemon.lock_wait;
        let mut unit = match runner.begin(SlotWait::Wait, wait).await {
            Begin::Began(unit) => unit,
            Begin::LockBusy | Begin::SlotBusy => {
                tracing::info!(
                    waited = ?wait,
                    "scheduled refresh skipped: another runner is working"
                );
                return TickOutcome::SkippedBusy;
            }
            Begin::Stopping => return TickOutcome::Stopping,
            Begin::Failed(_) => return TickOutcome::Failed,
        };
        match self.already_refreshed(occurrence).await {
            Ok(true) => {
                tracing::info!("scheduled refresh skipped: another runner already did it");
                unit.finish().await;
                return TickOutcome::AlreadyDone;
            }
            Ok(false) => {}
            Err(error) => {
                tracing::error!(%error, "scheduled refresh skipped: cannot read past runs");
                runner.health().database_failed(&error.to_string());
                unit.finish().await;
                return TickOutcome::Failed;
            }
        }
        tracing::info!("scheduled refresh starting");
        let outcome = match unit
            .guarded(runner.run(RunOptions::stale(Trigger::Schedule)))
            .await
        {
            Ok(report) => TickOutcome::Ran(report.status),
            Err(_) => TickOutcome::Failed,
        };
        unit.finish().await;
        outcome
    }

    /// Whether a scheduled run started after the middle of the interval that ends at
    /// `occurrence`: then another replica (whose tick came first) served it. The middle,
    /// not the previous occurrence itself, leaves room for clock skew between hosts and
    /// for this process's own previous run having started a little late.
    async fn already_refreshed(
        &self,
        occurrence: DateTime<Utc>,
    ) -> Result<bool, crate::store::StoreError> {
        let Some(previous) = self.schedule.previous_before(occurrence) else {
            return Ok(false);
        };
        let middle = previous + (occurrence - previous) / 2;
        let latest = self
            .runner
            .store()
            .latest_run_start(Trigger::Schedule.as_str())
            .await?;
        Ok(latest.is_some_and(|started| started > middle.naive_utc()))
    }
}

/// The running cron scheduler with the refresh job.
pub struct Scheduler {
    scheduler: JobScheduler,
    job: Job,
}

impl Scheduler {
    /// Registers the refresh with tokio-cron-scheduler in the schedule's time zone and
    /// starts ticking.
    pub async fn start(refresh: Arc<ScheduledRefresh>) -> Result<Self, JobSchedulerError> {
        let scheduler = JobScheduler::new().await?;
        let schedule = refresh.schedule().clone();
        let job = Job::new_async_tz(
            schedule.expression(),
            schedule.timezone(),
            move |_job, _scheduler| {
                let refresh = refresh.clone();
                Box::pin(async move {
                    refresh.tick(Utc::now()).await;
                })
            },
        )?;
        scheduler.add(job.clone()).await?;
        scheduler.start().await?;
        Ok(Self { scheduler, job })
    }

    /// When the scheduler will fire next, as it has it.
    pub async fn next_fire(&mut self) -> Option<DateTime<Utc>> {
        self.scheduler
            .next_tick_for_job(self.job.guid())
            .await
            .ok()
            .flatten()
    }

    /// Stops ticking. A refresh already started is not waited for here: the daemon waits
    /// for the runner to be idle.
    pub async fn stop(mut self) {
        if let Err(error) = self.scheduler.shutdown().await {
            tracing::warn!(%error, "stopping the scheduler");
        }
    }
}
