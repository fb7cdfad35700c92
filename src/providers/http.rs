//! The one outbound HTTP policy: every call to every provider goes through [`Upstream::call`].
//!
//! It owns, in this order per attempt: the provider-down breaker, the call budget, the
//! client-side rate limiter, the request timeout, reading the body, and then asks the
//! provider's classifier what the answer means. Transport errors, timeouts and answers
//! the classifier calls retryable are retried with bounded exponential backoff and equal
//! jitter (half of each delay fixed, half random: callers that failed together spread
//! out, and none retries at once); a `Retry-After` is honoured up to [`HttpSettings::max_retry_after`] and a
//! longer one is handed back to the caller (for Spotify that is a quota block, not a
//! reason to sleep for hours). The number of attempts is bounded, always.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use thiserror::Error;
use tokio::time::Instant;

use crate::config::{HttpSettings, RateLimit};

/// An upstream's answer, body already read.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: bytes::Bytes,
}

impl Reply {
    /// `Retry-After` in seconds (the only form Spotify sends), if present and sane.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        self.headers
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
            .map(Duration::from_secs)
    }
}

/// What a provider's classifier makes of a reply.
pub(crate) enum Verdict<T, E> {
    Done(T),
    /// Worth another attempt: after the given wait, or after the policy's backoff.
    Retry {
        after: Option<Duration>,
        cause: String,
    },
    /// Final; no retry will change it.
    Fail(E),
}

/// Why a call produced no value.
#[derive(Debug, Error)]
pub(crate) enum CallError<E> {
    #[error(transparent)]
    Provider(E),
    #[error("gave up after {attempts} attempts: {cause}")]
    GaveUp { attempts: u32, cause: String },
    #[error("asked to wait {0:?} before calling again")]
    RetryAfterTooLong(Duration),
    #[error("call budget exhausted")]
    BudgetExhausted,
    #[error("provider is down for this run")]
    ProviderDown,
    /// The provider's client stopped all calls (a quota block, refused credentials).
    #[error("calls to this provider were stopped")]
    Halted,
}

/// A number of calls that may still be made. Shared by every clone of a client.
#[derive(Debug)]
pub(crate) struct CallBudget {
    remaining: AtomicI64,
}

impl CallBudget {
    pub(crate) fn new(calls: u32) -> Self {
        Self {
            remaining: AtomicI64::new(i64::from(calls)),
        }
    }

    /// Takes one call from the budget; `false` when none is left.
    pub(crate) fn try_spend(&self) -> bool {
        let before = self.remaining.fetch_sub(1, Ordering::SeqCst);
        if before <= 0 {
            self.remaining.fetch_add(1, Ordering::SeqCst);
            return false;
        }
        true
    }

    pub(crate) fn remaining(&self) -> u64 {
        self.remaining.load(Ordering::SeqCst).max(0) as u64
    }
}

/// Counts of requests by how they ended, for reports and metrics.
#[derive(Debug, Default)]
pub(crate) struct CallStats {
    requests: AtomicU64,
    ok: AtomicU64,
    client_errors: AtomicU64,
    server_errors: AtomicU64,
    rate_limited: AtomicU64,
    transport_errors: AtomicU64,
    retries: AtomicU64,
}

/// A snapshot of [`CallStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CallCounts {
    pub(crate) requests: u64,
    pub(crate) ok: u64,
    pub(crate) client_errors: u64,
    pub(crate) server_errors: u64,
    pub(crate) rate_limited: u64,
    pub(crate) transport_errors: u64,
    pub(crate) retries: u64,
}

impl CallStats {
    pub(crate) fn snapshot(&self) -> CallCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CallCounts {
            requests: get(&self.requests),
            ok: get(&self.ok),
            client_errors: get(&self.client_errors),
            server_errors: get(&self.server_errors),
            rate_limited: get(&self.rate_limited),
            transport_errors: get(&self.transport_errors),
            retries: get(&self.retries),
        }
    }

    fn record_status(&self, status: StatusCode) {
        let counter = if status == StatusCode::TOO_MANY_REQUESTS {
            &self.rate_limited
        } else if status.is_server_error() {
            &self.server_errors
        } else if status.is_client_error() {
            &self.client_errors
        } else {
            &self.ok
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// At most `max_requests` in any `window`, across every task using the limiter.
#[derive(Debug)]
pub(crate) struct SlidingWindowLimiter {
    limit: RateLimit,
    sent: Mutex<VecDeque<Instant>>,
}

impl SlidingWindowLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// Waits until one more request fits in the window, and books it.
    pub(crate) async fn acquire(&self) {
        if self.limit.max_requests == 0 {
            return;
        }
        loop {
            let wait = {
                let mut sent = self.sent.lock().expect("limiter lock poisoned");
                let now = Instant::now();
                while sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.limit.window)
                {
                    sent.pop_front();
                }
                if sent.len() < self.limit.max_requests as usize {
                    sent.push_back(now);
                    return;
                }
                // The oldest booking leaves the window first.
                self.limit.window - now.duration_since(sent[0])
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// One upstream host reached under the shared policy.
#[derive(Debug)]
pub(crate) struct Upstream {
    name: &'static str,
    client: reqwest::Client,
    policy: HttpSettings,
    limiter: Option<SlidingWindowLimiter>,
    budget: Option<std::sync::Arc<CallBudget>>,
    stats: CallStats,
    failures_in_a_row: AtomicU32,
    down: AtomicBool,
    halted: AtomicBool,
    /// A `Retry-After` one caller received holds back every caller until it has passed.
    paused_until: Mutex<Option<Instant>>,
    /// The largest answer read; a longer one fails the call unread (not retried: the
    /// same question gets the same answer).
    max_body_bytes: usize,
}

/// The largest answer an upstream may give unless told otherwise
/// ([`Upstream::with_max_body_bytes`]): far above any answer artistbot asks for, far
/// below what would hurt the process.
pub(crate) const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Why sending a request produced no [`Reply`].
enum SendError {
    /// Timed out, refused, reset, unreadable: worth another attempt.
    Transport(String),
    /// The answer was longer than the upstream's limit.
    TooLarge,
}

impl Upstream {
    pub(crate) fn new(
        name: &'static str,
        client: reqwest::Client,
        policy: HttpSettings,
        limit: Option<RateLimit>,
        budget: Option<std::sync::Arc<CallBudget>>,
    ) -> Self {
        Self {
            name,
            client,
            policy,
            limiter: limit.map(SlidingWindowLimiter::new),
            budget,
            stats: CallStats::default(),
            failures_in_a_row: AtomicU32::new(0),
            down: AtomicBool::new(false),
            halted: AtomicBool::new(false),
            paused_until: Mutex::new(None),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// Answers longer than `bytes` fail their call without being read to the end.
    pub(crate) fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Stops every call from now on, including ones already waiting for the limiter, a
    /// pause or a retry: they end with [`CallError::Halted`] instead of being sent.
    pub(crate) fn halt(&self) {
        self.halted.store(true, Ordering::SeqCst);
    }

    fn is_halted(&self) -> bool {
        self.halted.load(Ordering::SeqCst)
    }

    /// Holds every caller back for `wait` (the longest pause asked for wins).
    fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut paused = self.paused_until.lock().expect("pause lock poisoned");
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    async fn wait_out_pause(&self) {
        let until = *self.paused_until.lock().expect("pause lock poisoned");
        if let Some(until) = until
            && until > Instant::now()
        {
            tokio::time::sleep_until(until).await;
        }
    }

    pub(crate) fn stats(&self) -> CallCounts {
        self.stats.snapshot()
    }

    pub(crate) fn budget(&self) -> Option<&CallBudget> {
        self.budget.as_deref()
    }

    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    /// Sends the request `build` makes, under the policy, until `classify` accepts or
    /// rejects an answer or the attempts run out. `what` names the call in errors.
    pub(crate) async fn call<T, E, B, C>(
        &self,
        what: &str,
        build: B,
        classify: C,
    ) -> Result<T, CallError<E>>
    where
        B: Fn(&reqwest::Client) -> RequestBuilder,
        C: Fn(&Reply) -> Verdict<T, E>,
    {
        let mut cause = String::new();
        for attempt in 1..=self.policy.max_attempts {
            if self.is_down() {
                return Err(CallError::ProviderDown);
            }
            self.wait_out_pause().await;
            if let Some(limiter) = &self.limiter {
                limiter.acquire().await;
            }
            // Checked after every wait, right before sending: a block another caller
            // learned of meanwhile stops this call too.
            if self.is_halted() {
                return Err(CallError::Halted);
            }
            if let Some(budget) = &self.budget
                && !budget.try_spend()
            {
                return Err(CallError::BudgetExhausted);
            }
            if attempt > 1 {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
            }
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let mut throttled = false;
            let wait = match self.send(build(&self.client)).await {
                Ok(reply) => {
                    self.stats.record_status(reply.status);
                    match classify(&reply) {
                        Verdict::Done(value) => {
                            self.failures_in_a_row.store(0, Ordering::SeqCst);
                            return Ok(value);
                        }
                        Verdict::Fail(error) => {
                            // A definite answer (404, 403) means the host is up.
                            self.failures_in_a_row.store(0, Ordering::SeqCst);
                            return Err(CallError::Provider(error));
                        }
                        Verdict::Retry { after, cause: why } => {
                            cause = format!("{what}: {why}");
                            match after {
                                Some(after) if after > self.policy.max_retry_after => {
                                    return Err(CallError::RetryAfterTooLong(after));
                                }
                                Some(after) => {
                                    self.pause_for(after);
                                    throttled = true;
                                    after
                                }
                                None => self.backoff(attempt),
                            }
                        }
                    }
                }
                Err(SendError::TooLarge) => {
                    self.stats.transport_errors.fetch_add(1, Ordering::Relaxed);
                    return Err(CallError::GaveUp {
                        attempts: attempt,
                        cause: format!(
                            "{what}: the answer is longer than {} bytes",
                            self.max_body_bytes
                        ),
                    });
                }
                Err(SendError::Transport(transport)) => {
                    self.stats.transport_errors.fetch_add(1, Ordering::Relaxed);
                    cause = format!("{what}: {transport}");
                    self.backoff(attempt)
                }
            };
            if throttled {
                // The provider asked us to slow down: worth seeing at the default level.
                tracing::info!(provider = self.name, attempt, %cause, ?wait, "throttled; retrying after the wait");
            } else {
                tracing::debug!(provider = self.name, attempt, %cause, ?wait, "retrying");
            }
            if attempt < self.policy.max_attempts {
                tokio::time::sleep(wait).await;
            }
        }
        let failures = self.failures_in_a_row.fetch_add(1, Ordering::SeqCst) + 1;
        if failures >= self.policy.failures_before_down && !self.down.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                provider = self.name,
                failures,
                "provider failed {failures} calls in a row; no more calls to it this run"
            );
        }
        Err(CallError::GaveUp {
            attempts: self.policy.max_attempts,
            cause,
        })
    }

    /// Sends and reads the whole body within the timeout. Errors carry no URL: query
    /// strings hold user input, and error text ends up in logs and run summaries.
    /// An answer longer than the upstream's limit is refused from its declared length,
    /// or as soon as it passes the limit.
    async fn send(&self, request: RequestBuilder) -> Result<Reply, SendError> {
        let transport = |error| SendError::Transport(describe_transport_error(error));
        let exchange = async {
            let mut response = request.send().await.map_err(transport)?;
            let status = response.status();
            let headers = response.headers().clone();
            // An error status says enough without its page: the classifier still decides
            // (a 429 is waited out, a 503 retried); only a long answer that claims
            // success fails the call.
            let oversized = |status: StatusCode, headers: HeaderMap| {
                if status.is_success() {
                    Err(SendError::TooLarge)
                } else {
                    Ok(Reply {
                        status,
                        headers,
                        body: bytes::Bytes::new(),
                    })
                }
            };
            if response
                .content_length()
                .is_some_and(|length| length > self.max_body_bytes as u64)
            {
                return oversized(status, headers);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(transport)? {
                if body.len() + chunk.len() > self.max_body_bytes {
                    return oversized(status, headers);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Reply {
                status,
                headers,
                body: body.into(),
            })
        };
        match tokio::time::timeout(self.policy.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(SendError::Transport(format!(
                "timed out after {:?}",
                self.policy.timeout
            ))),
        }
    }

    /// Exponential backoff with equal jitter, capped: attempt 1 waits between half of
    /// `base` and `base`, attempt 2 between `base` and `2 * base`, and so on, never more
    /// than `backoff_max`.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .policy
            .backoff_base
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(self.policy.backoff_max);
        ceiling.mul_f64(0.5 + fastrand::f64() / 2.0)
    }
}

fn describe_transport_error(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "connection broke while reading the answer"
    } else {
        "request failed"
    };
    // The innermost cause says most ("connection reset by peer"); reqwest's own text
    // would repeat the URL.
    let error = error.without_url();
    let mut innermost: &dyn std::error::Error = &error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    let mut detail = innermost.to_string();
    if detail.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|i| detail.is_char_boundary(*i))
            .unwrap_or(0);
        detail.truncate(cut);
    }
    format!("{kind} ({detail})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_budget_never_goes_below_zero() {
        let budget = CallBudget::new(2);
        assert!(budget.try_spend());
        assert!(budget.try_spend());
        assert!(!budget.try_spend());
        assert!(!budget.try_spend());
        assert_eq!(budget.remaining(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_limiter_holds_requests_to_the_window() {
        let limiter = SlidingWindowLimiter::new(RateLimit {
            max_requests: 3,
            window: Duration::from_secs(5),
        });
        let start = Instant::now();
        for _ in 0..7 {
            limiter.acquire().await;
        }
        // 3 at t=0, 3 at t=5, the 7th at t=10.
        assert_eq!(start.elapsed(), Duration::from_secs(10));
    }

    /// A loopback server that answers every connection with `head` and then `body_bytes`
    /// bytes of `x` (chunked when `head` says so), counting the requests it got.
    async fn answering(head: &'static str, body_bytes: usize) -> (String, Arc<AtomicU32>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicU32::new(0));
        let counted = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let _ = socket.write_all(head.as_bytes()).await;
                    let chunked = head.contains("chunked");
                    let piece = vec![b'x'; 64 * 1024];
                    let mut left = body_bytes;
                    while left > 0 {
                        let n = left.min(piece.len());
                        let written = if chunked {
                            let mut chunk = format!("{n:x}\r\n").into_bytes();
                            chunk.extend_from_slice(&piece[..n]);
                            chunk.extend_from_slice(b"\r\n");
                            socket.write_all(&chunk).await
                        } else {
                            socket.write_all(&piece[..n]).await
                        };
                        if written.is_err() {
                            return;
                        }
                        left -= n;
                    }
                    if chunked {
                        let _ = socket.write_all(b"0\r\n\r\n").await;
                    }
                });
            }
        });
        (url, requests)
    }

    fn upstream(max_body_bytes: usize) -> Upstream {
        let policy = HttpSettings {
            timeout: Duration::from_secs(10),
            max_attempts: 3,
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(5),
            max_retry_after: Duration::from_secs(1),
            failures_before_down: 10,
        };
        Upstream::new("test", reqwest::Client::new(), policy, None, None)
            .with_max_body_bytes(max_body_bytes)
    }

    async fn status_of(upstream: &Upstream, url: &str) -> Result<usize, CallError<()>> {
        upstream
            .call(
                "GET /",
                |client| client.get(url),
                |reply| Verdict::<usize, ()>::Done(reply.body.len()),
            )
            .await
    }

    #[tokio::test]
    async fn an_answer_over_the_limit_fails_the_call_once_declared_or_not() {
        let declared = "HTTP/1.1 200 OK\r\ncontent-length: 3145728\r\nconnection: close\r\n\r\n";
        let chunked = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
        for head in [declared, chunked] {
            let (url, requests) = answering(head, 3 * 1024 * 1024).await;
            let failed = status_of(&upstream(1024 * 1024), &url).await;
            match failed {
                Err(CallError::GaveUp { attempts: 1, cause }) => {
                    assert!(cause.contains("longer than 1048576 bytes"), "{cause}")
                }
                other => panic!("{head:?}: {other:?}"),
            }
            assert_eq!(requests.load(Ordering::SeqCst), 1, "not retried");
        }
        let (url, _) = answering(chunked, 512 * 1024).await;
        assert_eq!(
            status_of(&upstream(1024 * 1024), &url).await.unwrap(),
            512 * 1024
        );
        // An error status with a long page: its status still counts, the page does not.
        let unavailable = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 3145728\r\nconnection: close\r\n\r\n";
        let (url, _) = answering(unavailable, 3 * 1024 * 1024).await;
        assert_eq!(status_of(&upstream(1024 * 1024), &url).await.unwrap(), 0);
    }
}
