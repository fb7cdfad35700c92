//! The one HTTP server every artistbot listener runs on (`artistbot serve`, the daemon's
//! health server): an axum router behind hyper's HTTP/1 connection handling, with the
//! limits `axum::serve` does not offer.
//!
//! - **Slow headers**: a request's headers must arrive within `SERVER_HEADER_TIMEOUT`,
//!   counted from the connection's start or from the first byte of a further request on
//!   a kept-alive connection.
//! - **Slow bodies and slow handlers**: a request gets `SERVER_REQUEST_TIMEOUT` from its
//!   headers to its response, the body's upload included; past it the client gets a 408
//!   with a JSON body and the connection is closed.
//! - **Idle connections**: a kept-alive connection waits at most `SERVER_IDLE_TIMEOUT` for
//!   its next request; a response the client does not take is bounded the same way.
//! - **Too many connections**: at most `SERVER_MAX_CONNECTIONS` are open (fewer when the
//!   process's descriptor limit leaves less room). When the cap is reached, or accepting
//!   fails for want of descriptors (EMFILE), the connection that has waited longest
//!   without a request in progress is closed to make room, as nginx reuses idle
//!   connections: hundreds of idle or half-open sockets cannot lock out a real client.
//!   Accept errors never stop the server or spin.
//! - **Stopping**: when `shutdown` completes, nothing new is accepted, connections
//!   without a request in progress close at once, requests in progress get
//!   `SHUTDOWN_GRACE` to finish, and then whatever is left is dropped: a client holding a
//!   half-sent request cannot keep the process alive.
//!
//! Why not hyper's own `header_read_timeout`: hyper starts it whenever it waits for a
//! request, so on a kept-alive connection it is also the idle timeout, and the two could
//! not be set apart. Here one watchdog per connection follows the connection's phase.
//!
//! This module knows nothing of what the router answers; it owns connections, their
//! timeouts and their count. It reads its limits from [`crate::config`] and nothing else.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::config::ServerSettings;

/// Descriptors kept free for everything else the process opens (database connections,
/// log files, outbound HTTP) when the cap is derived from the descriptor limit.
const RESERVED_DESCRIPTORS: u64 = 64;

/// How long to wait before accepting again after an accept error that closing an idle
/// connection could not help.
const ACCEPT_RETRY_AFTER: Duration = Duration::from_millis(100);

/// Time a finished response gets to reach the client past `SERVER_REQUEST_TIMEOUT`
/// before the connection counts as stuck (the idle timeout takes over once the response
/// body was handed to the socket).
const RESPONSE_WRITE_SLACK: Duration = Duration::from_secs(1);

/// Largest request head (request line and headers) accepted; hyper answers a larger one
/// with 431. Kakao's requests carry a few hundred bytes of headers.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// What the connections of one server did, for `/metrics`.
#[derive(Debug, Default)]
pub struct ServerStats {
    open: AtomicU64,
    accepted: AtomicU64,
    closed_header_timeout: AtomicU64,
    closed_idle_timeout: AtomicU64,
    closed_stuck_response: AtomicU64,
    closed_to_make_room: AtomicU64,
    request_timeouts: AtomicU64,
    accept_errors: AtomicU64,
}

impl ServerStats {
    /// Connections open now.
    pub fn open_connections(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Requests answered with 408 because they took longer than `SERVER_REQUEST_TIMEOUT`.
    pub fn request_timeouts(&self) -> u64 {
        self.request_timeouts.load(Ordering::Relaxed)
    }

    /// (reason, connections closed by the server for it), every reason listed.
    pub fn closed_by_server(&self) -> [(&'static str, u64); 4] {
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        [
            ("header_timeout", load(&self.closed_header_timeout)),
            ("idle_timeout", load(&self.closed_idle_timeout)),
            ("response_not_taken", load(&self.closed_stuck_response)),
            ("made_room", load(&self.closed_to_make_room)),
        ]
    }

    /// Connections accepted since the start.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Failed accepts (out of descriptors, aborted handshakes).
    pub fn accept_errors(&self) -> u64 {
        self.accept_errors.load(Ordering::Relaxed)
    }

    /// Writes this server's families into `text`, every name under `prefix`
    /// (`artistbot_http`).
    pub fn render(&self, text: &mut crate::telemetry::MetricsText, prefix: &str) {
        text.single(
            &format!("{prefix}_connections_open"),
            "gauge",
            "HTTP connections open now.",
            self.open_connections(),
        );
        text.single(
            &format!("{prefix}_connections_accepted_total"),
            "counter",
            "HTTP connections accepted.",
            self.accepted(),
        );
        text.family(
            &format!("{prefix}_connections_closed_by_server_total"),
            "counter",
            "HTTP connections the server closed, by reason (slow headers, idle, a response not taken, room for a new connection).",
            self.closed_by_server()
                .into_iter()
                .map(|(reason, n)| (format!("{{reason=\"{reason}\"}}"), n)),
        );
        text.single(
            &format!("{prefix}_request_timeouts_total"),
            "counter",
            "Requests answered 408 for taking longer than SERVER_REQUEST_TIMEOUT.",
            self.request_timeouts(),
        );
        text.single(
            &format!("{prefix}_accept_errors_total"),
            "counter",
            "Failed accepts (out of descriptors, aborted handshakes).",
            self.accept_errors(),
        );
    }
}

/// Where a connection stands, which decides its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request's headers: since the connection started, or since the first
    /// byte of a further request arrived.
    Head { since: Instant },
    /// A kept-alive connection between two requests.
    Idle { since: Instant },
    /// A request is being answered.
    Busy { since: Instant },
    /// The server asked it to close (to make room, or to stop).
    Closing,
}

impl Phase {
    /// A connection without a request in progress: it may be closed to make room or on
    /// shutdown, losing nothing.
    fn may_close_now(self) -> Option<Instant> {
        match self {
            Phase::Head { since } | Phase::Idle { since } => Some(since),
            Phase::Busy { .. } | Phase::Closing => None,
        }
    }
}

/// Why a connection's watchdog closed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cutoff {
    HeaderTimeout,
    IdleTimeout,
    ResponseNotTaken,
    Asked,
}

/// One connection's phase, shared by its I/O, its service and its watchdog.
#[derive(Debug)]
struct Tracker {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Tracker {
    fn new(now: Instant) -> Self {
        Self {
            phase: Mutex::new(Phase::Head { since: now }),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().expect("connection phase poisoned")
    }

    /// Moves to `next` unless the connection is closing; wakes the watchdog.
    fn set(&self, next: impl FnOnce(Phase) -> Option<Phase>) {
        let mut phase = self.phase.lock().expect("connection phase poisoned");
        if let Some(next) = next(*phase)
            && next != *phase
        {
            *phase = next;
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: on an idle connection they start the next request's headers.
    fn bytes_arrived(&self) {
        self.set(|phase| match phase {
            Phase::Idle { .. } => Some(Phase::Head {
                since: Instant::now(),
            }),
            _ => None,
        });
    }

    fn request_started(&self) {
        self.set(|phase| match phase {
            Phase::Closing => None,
            _ => Some(Phase::Busy {
                since: Instant::now(),
            }),
        });
    }

    fn response_sent(&self) {
        self.set(|phase| match phase {
            Phase::Busy { .. } => Some(Phase::Idle {
                since: Instant::now(),
            }),
            _ => None,
        });
    }

    /// Asks the connection to close if it has no request in progress; whether it will.
    fn close_if_waiting(&self) -> bool {
        let mut closing = false;
        self.set(|phase| {
            phase.may_close_now()?;
            closing = true;
            Some(Phase::Closing)
        });
        closing
    }

    /// Returns when the connection's current phase has outlived its limit.
    async fn watch(&self, limits: &ServerSettings) -> Cutoff {
        loop {
            let (deadline, cutoff) = match self.phase() {
                Phase::Head { since } => (since + limits.header_timeout, Cutoff::HeaderTimeout),
                Phase::Idle { since } => (since + limits.idle_timeout, Cutoff::IdleTimeout),
                Phase::Busy { since } => (
                    since + limits.request_timeout + RESPONSE_WRITE_SLACK,
                    Cutoff::ResponseNotTaken,
                ),
                Phase::Closing => return Cutoff::Asked,
            };
            if Instant::now() >= deadline {
                return cutoff;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {}
                _ = self.changed.notified() => {}
            }
        }
    }
}

/// The open connections, for making room and for stopping.
#[derive(Debug, Default)]
struct Connections {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Tracker>>>,
}

impl Connections {
    fn add(&self, tracker: Arc<Tracker>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.open
            .lock()
            .expect("connections poisoned")
            .insert(id, tracker);
        id
    }

    fn remove(&self, id: u64) {
        self.open.lock().expect("connections poisoned").remove(&id);
    }

    /// Closes the connection that has waited longest without a request in progress;
    /// whether there was one.
    fn close_longest_waiting(&self) -> bool {
        let open = self.open.lock().expect("connections poisoned");
        let oldest = open
            .values()
            .filter_map(|tracker| {
                tracker
                    .phase()
                    .may_close_now()
                    .map(|since| (since, tracker))
            })
            .min_by_key(|(since, _)| *since);
        match oldest {
            Some((_, tracker)) => tracker.close_if_waiting(),
            None => false,
        }
    }

    /// Closes every connection without a request in progress.
    fn close_all_waiting(&self) {
        for tracker in self.open.lock().expect("connections poisoned").values() {
            tracker.close_if_waiting();
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then stops
/// as the module docs say, waiting at most `grace` for requests in progress.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerSettings,
    grace: Duration,
    stats: Arc<ServerStats>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let cap = connection_cap(limits.max_connections);
    let permits = Arc::new(Semaphore::new(cap));
    let connections = Arc::new(Connections::default());
    let stopping = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let mut out_of_room_logged: Option<Instant> = None;
    tokio::pin!(shutdown);
    tracing::debug!(cap, "accepting connections");

    loop {
        while tasks.try_join_next().is_some() {}
        let accepted = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                if is_per_connection(&error) {
                    continue;
                }
                // Out of descriptors (or memory): the waiting connection stays in the
                // listen queue. Closing a connection that has no request in progress
                // frees a descriptor for it; with none to close, wait a little rather than
                // spin on the same error.
                let made_room =
                    is_out_of_descriptors(&error) && connections.close_longest_waiting();
                if made_room {
                    stats.closed_to_make_room.fetch_add(1, Ordering::Relaxed);
                } else {
                    warn_now_and_then(&mut out_of_room_logged, || {
                        tracing::warn!(%error, "cannot accept connections; trying again shortly");
                    });
                }
                let pause = if made_room {
                    // The closing connection's task releases its descriptor when it runs.
                    Duration::from_millis(1)
                } else {
                    ACCEPT_RETRY_AFTER
                };
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep(pause) => continue,
                }
            }
        };
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if connections.close_longest_waiting() {
                    stats.closed_to_make_room.fetch_add(1, Ordering::Relaxed);
                } else {
                    warn_now_and_then(&mut out_of_room_logged, || {
                        tracing::warn!(
                            cap,
                            "every connection has a request in progress; new ones wait (SERVER_MAX_CONNECTIONS)"
                        );
                    });
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                    _ = &mut shutdown => break,
                }
            }
        };
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        let tracker = Arc::new(Tracker::new(Instant::now()));
        let id = connections.add(tracker.clone());
        let connection = serve_connection(
            stream,
            router.clone(),
            limits,
            tracker,
            stats.clone(),
            stopping.clone(),
        );
        let connections = connections.clone();
        tasks.spawn(async move {
            connection.await;
            connections.remove(id);
            drop(permit);
        });
    }

    // Stopping: nothing new; waiting connections close now, requests in progress get
    // the grace period, and the rest is dropped with the tasks.
    drop(listener);
    stopping.cancel();
    connections.close_all_waiting();
    let finished =
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if finished.is_err() {
        tracing::warn!(
            left = tasks.len(),
            ?grace,
            "requests still in progress after the grace period: dropping them"
        );
        tasks.shutdown().await;
    }
}

/// The connection cap: the configured one, lowered so the server's sockets leave room
/// for the process's other descriptors.
fn connection_cap(configured: usize) -> usize {
    let Some(limit) = descriptor_limit() else {
        return configured.max(1);
    };
    let room = limit
        .saturating_sub(RESERVED_DESCRIPTORS.min(limit / 2))
        .max(1);
    let cap = configured
        .min(usize::try_from(room).unwrap_or(usize::MAX))
        .max(1);
    if cap < configured {
        tracing::info!(
            configured,
            cap,
            descriptor_limit = limit,
            "SERVER_MAX_CONNECTIONS lowered to fit the open-file limit (ulimit -n)"
        );
    }
    cap
}

/// The process's soft limit on open descriptors.
#[cfg(unix)]
fn descriptor_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes into the struct it is given and nothing else.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    // `rlim_t` is a u64 on Linux and macOS, the platforms artistbot ships for.
    let current: u64 = limit.rlim_cur;
    (read == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(current)
}

#[cfg(not(unix))]
fn descriptor_limit() -> Option<u64> {
    None
}

/// An accept error that concerns only the connection being accepted.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

fn is_out_of_descriptors(error: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        false
    }
}

/// Logs at most once a minute: a flood must not flood the log too.
fn warn_now_and_then(last: &mut Option<Instant>, log: impl FnOnce()) {
    let now = Instant::now();
    if last.is_none_or(|at| now.duration_since(at) >= Duration::from_secs(60)) {
        *last = Some(now);
        log();
    }
}

/// One connection, until the client closes it, its watchdog cuts it off, or the server
/// stops.
async fn serve_connection(
    stream: TcpStream,
    router: Router,
    limits: ServerSettings,
    tracker: Arc<Tracker>,
    stats: Arc<ServerStats>,
    stopping: CancellationToken,
) {
    stats.open.fetch_add(1, Ordering::Relaxed);
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(TrackedIo {
        stream,
        tracker: tracker.clone(),
    });
    let service = {
        let tracker = tracker.clone();
        let stats = stats.clone();
        hyper::service::service_fn(move |request: Request<Incoming>| {
            tracker.request_started();
            let router = router.clone();
            let tracker = tracker.clone();
            let stats = stats.clone();
            async move {
                let answered = tokio::time::timeout(
                    limits.request_timeout,
                    router.oneshot(request.map(Body::new)),
                )
                .await;
                let response = match answered {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(_) => {
                        stats.request_timeouts.fetch_add(1, Ordering::Relaxed);
                        request_timeout_response()
                    }
                };
                Ok::<_, Infallible>(response.map(|body| TrackedBody {
                    body,
                    tracker: Some(tracker),
                }))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .max_buf_size(MAX_HEAD_BYTES.max(8192))
        .keep_alive(true);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let mut graceful = false;
    let cutoff = loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, "connection ended with an error");
                }
                break None;
            }
            cutoff = tracker.watch(&limits) => break Some(cutoff),
            _ = stopping.cancelled(), if !graceful => {
                // In progress: finish this request, then close. Waiting: closed by the
                // watchdog (the server marks it closing).
                graceful = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    };
    let counter = match cutoff {
        Some(Cutoff::HeaderTimeout) => Some(&stats.closed_header_timeout),
        Some(Cutoff::IdleTimeout) => Some(&stats.closed_idle_timeout),
        Some(Cutoff::ResponseNotTaken) => Some(&stats.closed_stuck_response),
        Some(Cutoff::Asked) | None => None,
    };
    if let Some(counter) = counter {
        counter.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(?cutoff, "connection closed by the server");
    }
    stats.open.fetch_sub(1, Ordering::Relaxed);
}

/// The 408 a request gets when it outlives `SERVER_REQUEST_TIMEOUT` (most often a body
/// sent too slowly). The connection is closed after it: the rest of the body may still
/// be on its way.
fn request_timeout_response() -> Response<Body> {
    let mut response = Response::new(Body::from(
        r#"{"error":"the request took longer than the server allows"}"#,
    ));
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The socket, telling the connection's tracker when bytes arrive.
struct TrackedIo {
    stream: TcpStream,
    tracker: Arc<Tracker>,
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.tracker.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// A response body that tells the connection's tracker when hyper is done with it (sent
/// whole, or dropped): the connection is then idle.
struct TrackedBody {
    body: Body,
    tracker: Option<Arc<Tracker>>,
}

impl TrackedBody {
    fn done(&mut self) {
        if let Some(tracker) = self.tracker.take() {
            tracker.response_sent();
        }
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        self.done();
    }
}

impl HttpBody for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            self.done();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ServerSettings {
        ServerSettings {
            header_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            max_connections: 8,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_gets_the_header_timeout() {
        let tracker = Tracker::new(Instant::now());
        let started = Instant::now();

        let cutoff = tracker.watch(&limits()).await;

        assert_eq!(cutoff, Cutoff::HeaderTimeout);
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_kept_alive_connection_waits_the_idle_timeout_then_the_header_timeout() {
        let tracker = Arc::new(Tracker::new(Instant::now()));
        tracker.request_started();
        tracker.response_sent();
        let started = Instant::now();
        let watching = {
            let tracker = tracker.clone();
            tokio::spawn(async move { tracker.watch(&limits()).await })
        };

        tokio::time::sleep(Duration::from_secs(50)).await;
        tracker.bytes_arrived();
        let cutoff = watching.await.unwrap();

        assert_eq!(cutoff, Cutoff::HeaderTimeout);
        assert_eq!(started.elapsed(), Duration::from_secs(52));
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_is_closed_after_the_idle_timeout() {
        let tracker = Tracker::new(Instant::now());
        tracker.request_started();
        tracker.response_sent();
        let started = Instant::now();

        assert_eq!(tracker.watch(&limits()).await, Cutoff::IdleTimeout);
        assert_eq!(started.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_progress_is_never_closed_to_make_room() {
        let connections = Connections::default();
        let busy = Arc::new(Tracker::new(Instant::now()));
        busy.request_started();
        connections.add(busy.clone());
        tokio::time::advance(Duration::from_millis(10)).await;
        let waiting = Arc::new(Tracker::new(Instant::now()));
        connections.add(waiting.clone());

        assert!(connections.close_longest_waiting());
        assert!(
            !connections.close_longest_waiting(),
            "only the busy one is left"
        );
        assert_eq!(waiting.phase(), Phase::Closing);
        assert!(matches!(busy.phase(), Phase::Busy { .. }));
        assert_eq!(waiting.watch(&limits()).await, Cutoff::Asked);
    }

    #[tokio::test(start_paused = true)]
    async fn the_longest_waiting_connection_makes_room_first() {
        let connections = Connections::default();
        let oldest = Arc::new(Tracker::new(Instant::now()));
        connections.add(oldest.clone());
        tokio::time::advance(Duration::from_millis(10)).await;
        let newer = Arc::new(Tracker::new(Instant::now()));
        connections.add(newer.clone());

        assert!(connections.close_longest_waiting());

        assert_eq!(oldest.phase(), Phase::Closing);
        assert!(matches!(newer.phase(), Phase::Head { .. }));
    }

    #[test]
    fn the_cap_leaves_descriptors_for_the_rest_of_the_process() {
        let limit = descriptor_limit();
        let cap = connection_cap(1_000_000);
        match limit {
            Some(limit) => assert!((cap as u64) < limit, "cap {cap}, limit {limit}"),
            None => assert_eq!(cap, 1_000_000),
        }
        assert_eq!(connection_cap(3), 3);
    }
}
