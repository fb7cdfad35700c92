//! The KakaoTalk skill endpoint: INBOUND only. Kakao i Open Builder posts what a user
//! typed; the endpoint answers from the catalog, in Korean, within Kakao's limits.
//!
//! - [`request`]: lenient parsing of the payload (also wrapped in an API Gateway event).
//! - [`reply`]: Kakao's response types, whose limits hold by construction.
//! - [`compose`]: the replies' wording and layout, from already loaded data.
//! - [`suggest`]: close names for a miss, from an in-memory copy of the catalog's names.
//! - [`answer`]: request → store reads (bounded by a timeout) → reply.
//! - [`http`]: the axum router shared by `artistbot serve` and the Lambda binary.
//! - [`preview`]: the chat preview page `artistbot serve` shows on loopback, and who may
//!   use it.
//! - [`metrics`]: what the endpoint did, as Prometheus text (`/metrics` on `serve`).
//! - [`lambda`]: any AWS front door's event → that router → the front door's response
//!   shape, and the Lambda runtime loop.
//!
//! It reads the catalog through [`crate::store`] only, writes nothing but the missed
//! names (`artist_requests`), and never calls a provider: answering must not depend on
//! Spotify or Deezer being up, or spend their quota.

pub(crate) mod answer;
pub(crate) mod compose;
pub(crate) mod http;
pub mod lambda;
pub mod metrics;
pub mod preview;
pub mod reply;
pub(crate) mod request;
pub(crate) mod suggest;

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;

pub use answer::{MissRecording, Outcome, SkillService};
pub use http::{MAX_BODY_BYTES, router};
pub use metrics::SkillMetrics;
pub use preview::{PreviewAccess, router_with_preview};

use crate::config::{ServerSettings, Settings};
use crate::store::{PoolOptions, Store, StoreError};

/// Pooled connections idle at least this long are pinged before reuse; fresher ones are
/// used as they are, so a reply costs no extra round trip.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// Opens the endpoint's pool: small, lazy (a database that is down at start must not stop
/// the process; replies say "try again" until it is back), and bounded by
/// `SKILL_DB_TIMEOUT` when connecting and, on the server's side, for every statement (a
/// reply waits no longer, so a query it gave up on must not go on holding locks). On
/// SQLite the schema is brought up to date (the file is the app's own); a server's schema
/// is managed by `artistbot migrate`.
pub async fn connect_store(settings: &Settings) -> Result<Store, StoreError> {
    let skill = &settings.skill;
    let pool = PoolOptions {
        max_connections: skill.db_max_connections,
        connect_timeout: skill.db_timeout,
        lazy: !settings.database_url.is_sqlite(),
        ping_if_idle_for: Some(PING_IF_IDLE_FOR),
        statement_timeout: Some(skill.db_timeout),
    };
    let store = Store::connect(&settings.database_url, pool).await?;
    if settings.database_url.is_sqlite() {
        store.migrate().await?;
    }
    Ok(store)
}

/// Serves the skill on `listener` within `limits` until `shutdown` completes, then lets
/// requests in flight finish for at most `grace` (see [`crate::server`]).
pub async fn serve(
    listener: TcpListener,
    service: SkillService,
    preview: Option<PreviewAccess>,
    limits: ServerSettings,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send,
) {
    let stats = service.metrics().server_stats();
    let router = router_with_preview(service, preview);
    crate::server::serve(listener, router, limits, grace, stats, shutdown).await;
}
