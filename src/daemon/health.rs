//! Health: whether the database answers (tracked so an outage is logged once, not at
//! every poll) and, with `HEALTH_ADDR`, a small HTTP server for `/healthz` and
//! `/metrics` (Prometheus text), on the same hardened server as `artistbot serve`
//! ([`crate::server`]: header, request and idle timeouts, a connection cap, a bounded
//! stop).
//!
//! `/healthz` answers 200 when the last run this daemon ran did not fail and the
//! database answers a ping now; 503 otherwise, with the reason in a JSON body (never a
//! URL or a secret). It reads the store but never writes, and never calls a provider.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::metrics::{Gauges, Metrics, SpotifyGauges};
use crate::config::ServerSettings;
use crate::config::cron::CronSchedule;
use crate::server::ServerStats;
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
    /// `SPOTIFY_DAILY_BUDGET`, to show what is left of it.
    pub(crate) spotify_daily_budget: u32,
    /// The health server's own connections.
    pub(crate) server: Arc<ServerStats>,
}

/// A ping that takes longer than this counts as the database being down.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Binds `addr` and serves within `limits` until `shutdown`, then gives requests in
/// progress `grace`. Binding errors are returned (a wrong `HEALTH_ADDR` should stop the
/// start, not go unnoticed).
pub(crate) async fn serve(
    addr: SocketAddr,
    state: Arc<HealthState>,
    limits: ServerSettings,
    grace: Duration,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let stats = state.server.clone();
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(|| async { error_response(StatusCode::NOT_FOUND, "not found") })
        .method_not_allowed_fallback(|| async {
            error_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .with_state(state);
    let server = tokio::spawn(crate::server::serve(
        listener,
        app,
        limits,
        grace,
        stats,
        async move { shutdown.cancelled().await },
    ));
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

fn error_response(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}

async fn healthz(State(state): State<Arc<HealthState>>) -> Response {
    let unavailable = |reason: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "unavailable", "reason": reason})),
        )
            .into_response()
    };
    if !database_answers(&state).await {
        return unavailable("database not answering");
    }
    if state.metrics.last_run_failed() {
        return unavailable("last run failed");
    }
    (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response()
}

async fn metrics(State(state): State<Arc<HealthState>>) -> impl IntoResponse {
    let database_up = database_answers(&state).await;
    let store = state.store.get().filter(|_| database_up);
    let queue = match store {
        Some(store) => store.request_counts(store::now()).await.ok(),
        None => None,
    };
    let spotify = match store {
        Some(store) => spotify_gauges(store, state.spotify_daily_budget).await,
        None => None,
    };
    let gauges = Gauges {
        database_up,
        queue,
        spotify,
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
        state.metrics.render(&gauges, &state.server),
    )
}

/// Until when Spotify is blocked and what is left of the daily budget, as the runs
/// recorded them; `None` when the database could not say.
async fn spotify_gauges(store: &Store, daily_budget: u32) -> Option<SpotifyGauges> {
    let now = store::now();
    let states = store.provider_states().await.ok()?;
    let spent = store
        .spotify_calls_since(now - chrono::Duration::hours(24))
        .await
        .ok()?;
    let blocked_until = states
        .iter()
        .filter(|state| state.provider == "spotify")
        .filter_map(|state| state.blocked_until)
        .filter(|until| *until > now)
        .max()
        .map(|until| until.and_utc().timestamp());
    Some(SpotifyGauges {
        blocked_until,
        daily_budget_left: u64::from(daily_budget).saturating_sub(spent),
    })
}
