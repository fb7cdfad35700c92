//! `artistbot daemon`: runs until stopped, doing two kinds of work through the one
//! pipeline ([`crate::sync::SyncEngine::run`]):
//! - [`schedule`]: the scheduled refresh (`SYNC_SCHEDULE` in `SYNC_TIMEZONE`), with its
//!   overlap guard;
//! - [`queue`]: onboarding the names users asked for (`artist_requests`), every
//!   `QUEUE_POLL`.
//!
//! Both run as units of work of the [`runner`]: one at a time in this process and, through
//! the runner lock ([`crate::store::lock`]), one at a time across every daemon and CLI
//! run on the same database. [`health`] serves `/healthz` and `/metrics` when
//! `HEALTH_ADDR` is set; [`metrics`] counts what the daemon did.
//!
//! Shutdown: the token passed to [`Daemon::run`] (cancelled by the first SIGTERM/Ctrl-C)
//! stops new work; a run in progress stops starting artists, lets the ones in flight
//! finish their transaction and records itself interrupted; the daemon waits up to
//! `SHUTDOWN_GRACE` for that, then records the run itself and returns. A database that
//! is down at start or goes away later is logged and waited for; it never ends the daemon.
//!
//! This module orchestrates; it builds no query and calls no provider itself.

pub mod health;
pub mod metrics;
pub(crate) mod queue;
pub mod runner;
pub mod schedule;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::store::lock::RunnerLock;
use crate::store::{self, PoolOptions, Store};
use crate::sync::SyncEngine;
use health::{Health, HealthState};
use metrics::Metrics;
use runner::Runner;
use schedule::{ScheduledRefresh, Scheduler};

/// The daemon, before it runs.
pub struct Daemon {
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
    health_addr: Arc<OnceLock<std::net::SocketAddr>>,
}

impl Daemon {
    pub fn new(settings: Arc<Settings>) -> Self {
        Self {
            settings,
            metrics: Arc::new(Metrics::default()),
            health_addr: Arc::new(OnceLock::new()),
        }
    }

    /// The daemon's counters (for tests and embedding).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Where the health server listens once it started (`HEALTH_ADDR` may ask for port 0).
    pub fn health_addr(&self) -> Arc<OnceLock<std::net::SocketAddr>> {
        self.health_addr.clone()
    }

    /// Runs until `shutdown` is cancelled and the work in progress has ended (or
    /// `SHUTDOWN_GRACE` has passed). Errors only for what a restart cannot fix (the
    /// health address cannot be bound, the scheduler cannot start).
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let settings = self.settings.clone();
        let daemon = &settings.daemon;
        tracing::info!(
            schedule = daemon.schedule.expression(),
            timezone = %daemon.schedule.timezone(),
            next = ?daemon.schedule.next_after(Utc::now()).map(|t| t.with_timezone(&daemon.schedule.timezone())),
            queue_poll = ?daemon.queue_poll,
            database = %settings.database_url,
            "daemon starting"
        );
        let health = Arc::new(Health::default());
        let health_state = Arc::new(HealthState {
            store: OnceLock::new(),
            metrics: self.metrics.clone(),
            schedule: daemon.schedule.clone(),
            spotify_daily_budget: settings.sync.spotify_daily_budget,
            server: Arc::default(),
        });
        let server = match daemon.health_addr {
            Some(addr) => {
                let (bound, server) = health::serve(
                    addr,
                    health_state.clone(),
                    settings.server,
                    daemon.shutdown_grace,
                    shutdown.clone(),
                )
                .await
                .with_context(|| format!("HEALTH_ADDR {addr}"))?;
                let _ = self.health_addr.set(bound);
                Some(server)
            }
            None => None,
        };

        let Some(store) = connect_until_ready(&settings, &health, &shutdown).await else {
            tracing::info!("stopped before the database was reachable");
            return Ok(());
        };
        let _ = health_state.store.set(store.clone());
        match store.recent_runs(RUNS_REMEMBERED).await {
            Ok(runs) => self.metrics.remember_runs(&runs),
            Err(error) => tracing::warn!(%error, "could not read the recorded runs for /metrics"),
        }
        let engine = SyncEngine::new(store.clone(), settings.clone());
        let runner = Arc::new(Runner::new(
            engine,
            self.metrics.clone(),
            health,
            shutdown.clone(),
        ));
        let refresh = Arc::new(ScheduledRefresh::new(
            runner.clone(),
            daemon.schedule.clone(),
        ));
        let first_run = {
            let refresh = refresh.clone();
            tokio::spawn(async move { refresh.first_run_if_empty().await })
        };
        let mut scheduler = Scheduler::start(refresh)
            .await
            .context("starting the scheduler")?;
        if let Some(next) = scheduler.next_fire().await {
            tracing::info!(
                next = %next.with_timezone(&daemon.schedule.timezone()),
                "scheduled refresh armed"
            );
        }
        let queue = {
            let runner = runner.clone();
            tokio::spawn(async move { queue::poll_until_shutdown(&runner).await })
        };

        shutdown.cancelled().await;
        tracing::info!(
            grace = ?daemon.shutdown_grace,
            "shutting down: no new work; waiting for the work in progress"
        );
        scheduler.stop().await;
        match tokio::time::timeout(daemon.shutdown_grace, runner.wait_idle()).await {
            Ok(()) => tracing::info!("work in progress finished"),
            // Bounded too: past the grace the database may be what is not answering.
            Err(_) => {
                if tokio::time::timeout(FINAL_WRITES, runner.abandon_in_flight())
                    .await
                    .is_err()
                {
                    tracing::error!(
                        "could not record the interrupted run in time; the next runner will close it"
                    );
                }
            }
        }
        queue.abort();
        first_run.abort();
        if let Some(server) = server {
            server.abort();
        }
        // Closing the pool waits for every borrowed connection, including those of
        // artists cut off at the deadline: bounded, so the daemon still exits 0.
        if tokio::time::timeout(FINAL_WRITES, store.close())
            .await
            .is_err()
        {
            tracing::warn!("database connections did not close in time; exiting anyway");
        }
        tracing::info!("daemon stopped");
        Ok(())
    }
}

/// How long the last bookkeeping and closing the pool may take after the grace period.
const FINAL_WRITES: Duration = Duration::from_secs(5);

/// Recorded runs read at start for the last run of each trigger in `/metrics`.
const RUNS_REMEMBERED: u64 = 200;

/// Opens the store, trying again every `QUEUE_POLL` while the database is unreachable
/// (or its schema not yet migrated). `None` when shutdown came first.
async fn connect_until_ready(
    settings: &Settings,
    health: &Health,
    shutdown: &CancellationToken,
) -> Option<Store> {
    loop {
        let pool = PoolOptions::for_workers(settings.sync.concurrency)
            .limit_statements(settings.db_statement_timeout);
        match Store::open(&settings.database_url, pool).await {
            Ok(store) => {
                health.database_ok();
                tracing::info!("database ready");
                return Some(store);
            }
            Err(error) => health.database_failed(&error.to_string()),
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.daemon.queue_poll) => {}
            _ = shutdown.cancelled() => return None,
        }
    }
}

/// Lines for `artistbot status`: the schedule and its next run, whether a runner is
/// working, and the request queue.
pub(crate) async fn status_lines(settings: &Settings, store: &Store) -> Result<Vec<String>> {
    let schedule = &settings.daemon.schedule;
    let tz = schedule.timezone();
    let now = Utc::now();
    let mut lines = vec!["daemon".to_owned()];
    lines.push(format!(
        "  schedule              {} ({tz})",
        schedule.expression()
    ));
    match schedule.next_after(now) {
        Some(next) => {
            let minutes = (next - now).num_minutes();
            lines.push(format!(
                "  next scheduled run    {} (in {}h {:02}m; {} UTC)",
                next.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z"),
                minutes / 60,
                minutes % 60,
                next.format("%Y-%m-%d %H:%M:%S")
            ));
        }
        None => {
            lines.push("  next scheduled run    never (the schedule has no future time)".into())
        }
    }
    let mut lock = RunnerLock::new(&settings.database_url);
    let busy = lock.is_busy().await;
    let described = lock.describe();
    lock.close().await;
    lines.push(match busy {
        Ok(true) => format!(
            "  runner lock           held: a run or request batch is in progress ({described})"
        ),
        Ok(false) => "  runner lock           free".to_owned(),
        Err(error) => format!("  runner lock           unknown: {error}"),
    });
    let queue = store.request_counts(store::now()).await?;
    lines.push(String::new());
    lines.push("request queue".to_owned());
    lines.push(format!(
        "  pending               {} ({} due now)",
        queue.pending, queue.due_now
    ));
    lines.push(format!(
        "  not found             {} retrying, {} given up",
        queue.not_found_retrying, queue.not_found_given_up
    ));
    lines.push(format!(
        "  failed                {} retrying, {} given up",
        queue.failed_retrying, queue.failed_given_up
    ));
    lines.push(format!("  done                  {}", queue.done));
    Ok(lines)
}
