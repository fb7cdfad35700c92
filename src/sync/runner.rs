//! Units of work: one at a time in this process, and one at a time across every process
//! that points at the same database.
//!
//! A unit is one refresh (scheduled or `artistbot sync`), one onboarding (`artistbot
//! add`), one request-queue batch or one import. [`Runner::begin`] takes, in order,
//! this process's slot (a mutex: the refresh and the queue never run together, so they
//! never write the same artist at once and the providers' rate limits and the Spotify
//! budget, which are per client, hold) and then the cross-process runner lock
//! ([`RunnerLock`], held on its own connection for the unit's duration). Holding the
//! lock proves no other runner is working, so a `running` row left in `sync_runs` by a
//! killed process is closed as interrupted right then.
//!
//! The lock is held per unit, not for the daemon's life, so CLI runs (`artistbot sync`
//! from cron or a Lambda, `artistbot add`) take turns with daemons instead of being shut
//! out by one.
//!
//! Whoever runs units watches them through a [`RunObserver`] (the daemon counts runs and
//! tracks the database's health with it; the CLI does not watch). This module calls the
//! pipeline through [`Runner::run`] and nothing else; what a unit does is its caller's
//! business.

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

use super::engine::SyncEngine;
use super::error::SyncError;
use super::options::{RunOptions, Trigger};
use super::progress::{NoProgress, Progress};
use super::report::RunReport;
use crate::config::Settings;
use crate::store::lock::{LockError, RunnerLock};
use crate::store::runs::{RunCounts, RunStatus};
use crate::store::{self, Store};

/// Watches a runner's units of work: the daemon counts runs and tracks whether the
/// database answers; a CLI run watches nothing ([`Unwatched`]). Called from the unit's
/// task; must not block.
pub trait RunObserver: Send + Sync {
    /// The database (or the runner lock's connection) answered.
    fn database_ok(&self) {}
    /// The database (or the runner lock's connection) failed with `error`.
    fn database_failed(&self, _error: &str) {}
    /// This process took (`true`) or gave up (`false`) the runner lock.
    fn lock_held(&self, _held: bool) {}
    /// A pipeline run ended: its report, or `None` when the run itself failed.
    fn run_ended(&self, _trigger: Trigger, _report: Option<&RunReport>) {}
}

/// Nobody watches (the CLI's runs report on the terminal instead).
pub struct Unwatched;

impl RunObserver for Unwatched {}

/// How often a waiting runner asks for the lock again.
const LOCK_RETRY_EVERY: Duration = Duration::from_millis(250);

/// How often a unit of work checks that the runner lock is still its own.
const LOCK_CHECK_EVERY: Duration = Duration::from_secs(15);

/// Whether to wait for this process's slot or give up at once when it is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotWait {
    Wait,
    Try,
}

/// The result of asking to begin a unit of work.
pub(crate) enum Begin<'a> {
    Began(Unit<'a>),
    /// This process is already working (only with [`SlotWait::Try`]).
    SlotBusy,
    /// Another runner held the lock for the whole wait.
    LockBusy,
    Stopping,
    /// The lock could not be asked for (told to the observer as a database failure).
    Failed(LockError),
}

/// A unit of work in progress: holds the slot and the lock. End it with
/// [`Unit::finish`]; a unit dropped without it frees the slot, and the next unit
/// releases the stale lock first.
pub(crate) struct Unit<'a> {
    runner: &'a Runner,
    lock: MutexGuard<'a, RunnerLock>,
}

impl Unit<'_> {
    /// Runs `work` (the unit's pipeline runs and queue work) while checking every
    /// [`LOCK_CHECK_EVERY`] that the runner lock is still ours. If it was lost (its
    /// connection dropped, so the server freed it and another runner may start), the
    /// unit's runs are stopped like on shutdown: no new artists, in-flight ones finish,
    /// the run is recorded as interrupted.
    pub(crate) async fn guarded<F: std::future::Future>(&mut self, work: F) -> F::Output {
        tokio::pin!(work);
        let mut checks = tokio::time::interval(LOCK_CHECK_EVERY);
        checks.tick().await;
        let mut watching = true;
        loop {
            tokio::select! {
                output = &mut work => return output,
                _ = checks.tick(), if watching => {
                    let held = self.lock.still_held().await;
                    if !matches!(held, Ok(true)) {
                        watching = false;
                        let why = match held {
                            Err(error) => error.to_string(),
                            _ => "another session holds it".to_owned(),
                        };
                        tracing::error!(%why, "the runner lock was lost mid-work; stopping this unit's runs");
                        self.runner.observer.lock_held(false);
                        self.runner.stop_unit();
                    }
                }
            }
        }
    }

    /// Releases the lock and the slot.
    pub(crate) async fn finish(mut self) {
        self.runner.end_unit();
        match self.lock.release().await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "the runner lock was lost during the work (its database connection dropped); \
                 another runner may have worked at the same time, which per-artist \
                 transactions keep consistent"
            ),
            Err(error) => tracing::warn!(%error, "releasing the runner lock"),
        }
        self.runner.observer.lock_held(false);
    }
}

/// Runs units of work for one process (a daemon, or one CLI command).
pub struct Runner {
    engine: SyncEngine,
    observer: Arc<dyn RunObserver>,
    shutdown: CancellationToken,
    slot: Mutex<RunnerLock>,
    /// The run in progress and its counts so far, for [`Runner::abandon_in_flight`].
    in_flight: StdMutex<Option<(i64, RunCounts)>>,
    /// Stops the current unit's runs: a child of `shutdown`, cancelled on its own when
    /// the unit loses the runner lock.
    unit_stop: StdMutex<Option<CancellationToken>>,
}

impl Runner {
    /// A runner over `engine`, watched by `observer`; `shutdown` stops its units (no new
    /// work; runs stop starting artists).
    pub fn new(
        engine: SyncEngine,
        observer: Arc<dyn RunObserver>,
        shutdown: CancellationToken,
    ) -> Self {
        let lock = RunnerLock::new(&engine.settings().database_url);
        Self {
            engine,
            observer,
            shutdown,
            slot: Mutex::new(lock),
            in_flight: StdMutex::new(None),
            unit_stop: StdMutex::new(None),
        }
    }

    pub(crate) fn engine(&self) -> &SyncEngine {
        &self.engine
    }

    pub(crate) fn store(&self) -> &Store {
        self.engine.store()
    }

    pub(crate) fn settings(&self) -> &Settings {
        self.engine.settings()
    }

    pub(crate) fn observer(&self) -> &dyn RunObserver {
        self.observer.as_ref()
    }

    pub(crate) fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Begins a unit of work: this process's slot, then the runner lock, asked for until
    /// `lock_wait` has passed. Closes runs abandoned by dead runners once it holds both.
    pub(crate) async fn begin(&self, slot: SlotWait, lock_wait: Duration) -> Begin<'_> {
        let mut lock = match slot {
            SlotWait::Try => match self.slot.try_lock() {
                Ok(lock) => lock,
                Err(_) => return Begin::SlotBusy,
            },
            SlotWait::Wait => tokio::select! {
                lock = self.slot.lock() => lock,
                _ = self.shutdown.cancelled() => return Begin::Stopping,
            },
        };
        if self.shutdown.is_cancelled() {
            return Begin::Stopping;
        }
        if lock.is_held() {
            // Left by a unit that ended without `finish` (a panic).
            let _ = lock.release().await;
        }
        match acquire_within(&mut lock, lock_wait, &self.shutdown).await {
            Ok(Acquired::Yes) => {}
            Ok(Acquired::Busy) => return Begin::LockBusy,
            Ok(Acquired::Stopping) => return Begin::Stopping,
            Err(error) => {
                self.observer.database_failed(&error.to_string());
                return Begin::Failed(error);
            }
        }
        self.observer.lock_held(true);
        self.observer.database_ok();
        close_abandoned_runs(self.store()).await;
        *self.unit_stop.lock().expect("unit lock poisoned") = Some(self.shutdown.child_token());
        Begin::Began(Unit { runner: self, lock })
    }

    /// One pipeline run, its end told to the observer. Shutdown, or the loss of the
    /// unit's runner lock, stops it from starting more artists.
    pub(crate) async fn run(&self, options: RunOptions) -> Result<RunReport, SyncError> {
        self.run_with_progress(options, &NoProgress).await
    }

    /// [`Runner::run`], also telling `progress` how it goes (the CLI's progress bar).
    pub(crate) async fn run_with_progress(
        &self,
        options: RunOptions,
        progress: &dyn Progress,
    ) -> Result<RunReport, SyncError> {
        let trigger = options.trigger;
        let progress = TrackInFlight {
            in_flight: &self.in_flight,
            also: progress,
        };
        let stop = self
            .unit_stop
            .lock()
            .expect("unit lock poisoned")
            .clone()
            .unwrap_or_else(|| self.shutdown.clone());
        let result = self.engine.run(options, stop, &progress).await;
        *self.in_flight.lock().expect("in-flight lock poisoned") = None;
        match &result {
            Ok(report) => {
                self.observer.database_ok();
                self.observer.run_ended(trigger, Some(report));
            }
            Err(error) => {
                // The pipeline logged it and recorded the run when the database let it.
                self.observer.database_failed(&error.to_string());
                self.observer.run_ended(trigger, None);
            }
        }
        result
    }

    fn stop_unit(&self) {
        if let Some(stop) = self.unit_stop.lock().expect("unit lock poisoned").as_ref() {
            stop.cancel();
        }
    }

    fn end_unit(&self) {
        *self.unit_stop.lock().expect("unit lock poisoned") = None;
    }

    /// Waits until no unit of work is in progress, then lets the lock go.
    pub(crate) async fn wait_idle(&self) {
        let mut lock = self.slot.lock().await;
        if lock.is_held() {
            let _ = lock.release().await;
        }
    }

    /// After the shutdown deadline: records the run still in progress as interrupted with
    /// the counts of the artists it finished (the ones in flight are not written: their
    /// transactions end with the process).
    pub(crate) async fn abandon_in_flight(&self) {
        let in_flight = self
            .in_flight
            .lock()
            .expect("in-flight lock poisoned")
            .clone();
        let Some((run_id, counts)) = in_flight else {
            return;
        };
        let recorded = self
            .store()
            .record_run(
                run_id,
                RunStatus::Interrupted,
                &counts,
                Some("interrupted: the shutdown deadline passed with artists in flight"),
                None,
                Some(store::now()),
            )
            .await;
        match recorded {
            Ok(()) => tracing::warn!(
                run_id,
                refreshed = counts.artists_refreshed,
                "shutdown deadline passed: run recorded as interrupted with the artists it finished"
            ),
            Err(error) => tracing::error!(
                run_id,
                %error,
                "shutdown deadline passed and the run could not be recorded; the next runner will close it"
            ),
        }
    }
}

/// Keeps the latest counts of the run in progress, and passes everything on to the
/// caller's own progress.
struct TrackInFlight<'a> {
    in_flight: &'a StdMutex<Option<(i64, RunCounts)>>,
    also: &'a dyn Progress,
}

impl Progress for TrackInFlight<'_> {
    fn planned(&self, artists: u64) {
        self.also.planned(artists);
    }

    fn artist_done(&self, name: &str, outcome: &str) {
        self.also.artist_done(name, outcome);
    }

    fn counts(&self, run_id: i64, counts: &RunCounts) {
        *self.in_flight.lock().expect("in-flight lock poisoned") = Some((run_id, counts.clone()));
        self.also.counts(run_id, counts);
    }

    fn finished(&self) {
        self.also.finished();
    }
}

enum Acquired {
    Yes,
    Busy,
    Stopping,
}

/// Asks for the lock until it is ours, `wait` has passed, or shutdown.
async fn acquire_within(
    lock: &mut RunnerLock,
    wait: Duration,
    shutdown: &CancellationToken,
) -> Result<Acquired, LockError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if lock.try_acquire().await? {
            return Ok(Acquired::Yes);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(Acquired::Busy);
        }
        tokio::select! {
            _ = tokio::time::sleep(LOCK_RETRY_EVERY) => {}
            _ = shutdown.cancelled() => return Ok(Acquired::Stopping),
        }
    }
}

async fn close_abandoned_runs(store: &Store) {
    match store.interrupt_abandoned_runs(store::now()).await {
        Ok(0) => {}
        Ok(closed) => tracing::warn!(
            closed,
            "closed runs left `running` by a runner that died; recorded as interrupted"
        ),
        Err(error) => tracing::warn!(%error, "could not close abandoned runs"),
    }
}
