//! Health: whether the database answers (tracked so an outage is logged once, not at
//! every poll) and, with `HEALTH_ADDR`, a small HTTP server for `/healthz` and
//! `/metrics` (Prometheus text).
//!
//! `/healthz` answers 200 when the last run this daemon ran did not fail and the
//! database answers a ping now; 503 otherwise, with the reason as plain text (never a
//! URL or a secret). It reads the store but never writes, and never calls a provider.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use super::metrics::{Gauges, Metrics};
use crate::config::cron::CronSchedule;
use crate::store::{self, Store};

/// Whether the database is failing, so the first failure is an error line and the rest
/// of an outage stays quiet until it ends.
#[derive(Default)]
pub struct Health {
    failing: Mutex<Option<String>>,
}

impl Health {
    /// A database (or lock connection) error. Logged at error level the first time.
    pub(crate) fn database_failed(&self, error: &str) {
        let mut failing = self.failing.lock().expect("health lock poisoned");
        if failing.is_none() {
            tracing::error!(
                %error,
                "database unavailable; the daemon keeps running and tries again at the next poll or tick"
            );
        } else {
            tracing::debug!(%error, "database still unavailable");
        }
        *failing = Some(error.to_owned());
    }

    /// The database answered.
    pub(crate) fn database_ok(&self) {
        let mut failing = self.failing.lock().expect("health lock poisoned");
        if failing.take().is_some() {
            tracing::info!("database reachable again");
        }
    }
}

/// What the HTTP handlers read.
pub(crate) struct HealthState {
    /// Set once the daemon has connected.
    pub(crate) store: OnceLock<Store>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) schedule: CronSchedule,
}

/// A ping that takes longer than this counts as the database being down.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Binds `addr` and serves until `shutdown`. Binding errors are returned (a wrong
/// `HEALTH_ADDR` should stop the start, not go unnoticed).
pub(crate) async fn serve(
    addr: SocketAddr,
    state: Arc<HealthState>,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state);
    let server = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::warn!(%error, "the health server stopped");
        }
    });
    tracing::info!(addr = %bound, "serving /healthz and /metrics");
    Ok((bound, server))
}

async fn database_answers(state: &HealthState) -> bool {
    match state.store.get() {
        Some(store) => matches!(
            tokio::time::timeout(PING_TIMEOUT, store.ping()).await,
            Ok(Ok(()))
        ),
        None => false,
    }
}

async fn healthz(State(state): State<Arc<HealthState>>) -> impl IntoResponse {
    let text = |t: &'static str| ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], t);
    if !database_answers(&state).await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            text("database not answering\n"),
        );
    }
    if state.metrics.last_run_failed() {
        return (StatusCode::SERVICE_UNAVAILABLE, text("last run failed\n"));
    }
    (StatusCode::OK, text("ok\n"))
}

async fn metrics(State(state): State<Arc<HealthState>>) -> impl IntoResponse {
    let database_up = database_answers(&state).await;
    let queue = match state.store.get() {
        Some(store) if database_up => store.request_counts(store::now()).await.ok(),
        _ => None,
    };
    let gauges = Gauges {
        database_up,
        queue,
        next_scheduled_run: state
            .schedule
            .next_after(chrono::Utc::now())
            .map(|t| t.timestamp()),
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&gauges),
    )
}
