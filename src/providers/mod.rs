//! Outbound clients for the upstream music APIs. OUTBOUND ONLY: nothing here touches the
//! database; the sync pipeline persists whatever state these clients learn.
//!
//! - [`http`]: the one timeout/retry/backoff/rate-limit/budget policy all providers share.
//! - [`spotify`]: client-credentials token, one method per endpoint, typed errors, and
//!   what this app may call (Development Mode vs Extended Quota).
//! - [`deezer`]: the keyless public API, whose errors arrive inside HTTP 200 bodies.

pub(crate) mod deezer;
pub(crate) mod http;
pub(crate) mod spotify;
