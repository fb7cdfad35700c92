//! A stand-in for the AWS Lambda Runtime API on loopback, to run a function binary as the
//! Lambda service runs it: point `AWS_LAMBDA_RUNTIME_API` at it, queue events, and collect
//! what the function posts back.
//!
//! It speaks the parts of the API a function uses (version `2018-06-01`):
//! - `GET /runtime/invocation/next` waits for a queued event and hands it out with the
//!   `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn` and
//!   `-Trace-Id` headers;
//! - `POST /runtime/invocation/{request-id}/response` and `…/error` complete that
//!   invocation (an unknown or already completed id gets AWS's 400);
//! - `POST /runtime/init/error` records a failed start.
//!
//! Every arrival is timed, so a benchmark can read process start → first `next` → first
//! response. [`FunctionProcess`] runs the binary with the environment Lambda gives a
//! function, captures its output, and kills it when dropped. Never used by the product.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

/// The function's ARN in every invocation.
pub const FUNCTION_ARN: &str =
    "arn:aws:lambda:ap-northeast-2:123456789012:function:artistbot-skill";

/// How long an invocation may run, as the deadline header says (the SAM template's 5 s).
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(5);

/// The stand-in, serving until dropped.
pub struct RuntimeApi {
    address: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

struct Shared {
    queue: mpsc::UnboundedSender<Queued>,
    waiting: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    in_flight: Mutex<HashMap<String, InFlight>>,
    next_requests: Mutex<Vec<Instant>>,
    init_errors: Mutex<Vec<ReportedError>>,
    init_error_arrived: Notify,
    counter: AtomicU64,
}

struct Queued {
    request_id: String,
    event: Bytes,
    done: oneshot::Sender<Completion>,
}

struct InFlight {
    handed_out: Instant,
    done: oneshot::Sender<Completion>,
}

/// How an invocation ended.
#[derive(Debug)]
pub struct Completion {
    pub outcome: Outcome,
    /// When `next` handed the event to the function.
    pub handed_out: Instant,
    /// When the function posted its response or error.
    pub completed: Instant,
}

#[derive(Debug)]
pub enum Outcome {
    /// What the function returned (for an HTTP front door: the proxy response).
    Response(Value),
    /// The function reported an error for this invocation.
    Error(ReportedError),
}

/// An error the function posted, to `…/error` or `init/error`.
#[derive(Clone, Debug)]
pub struct ReportedError {
    /// The `Lambda-Runtime-Function-Error-Type` header.
    pub error_type_header: Option<String>,
    /// The body: `{"errorType": …, "errorMessage": …}`.
    pub body: Value,
}

impl Completion {
    /// The function's response; panics (with the error) when it reported an error.
    pub fn response(self) -> Value {
        match self.outcome {
            Outcome::Response(value) => value,
            Outcome::Error(error) => panic!("the invocation failed: {error:?}"),
        }
    }
}

/// A queued event, to wait on.
pub struct Invocation {
    pub request_id: String,
    /// When it was queued.
    pub queued: Instant,
    done: oneshot::Receiver<Completion>,
}

impl Invocation {
    /// Waits for the function to respond or report an error.
    pub async fn completion(self, timeout: Duration) -> Result<Completion, String> {
        match tokio::time::timeout(timeout, self.done).await {
            Ok(Ok(completion)) => Ok(completion),
            Ok(Err(_)) => Err(format!("invocation {} was dropped", self.request_id)),
            Err(_) => Err(format!(
                "no response to invocation {} within {timeout:?}",
                self.request_id
            )),
        }
    }
}

impl RuntimeApi {
    /// Starts serving on 127.0.0.1 on a free port.
    pub async fn start() -> RuntimeApi {
        let (queue, waiting) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue,
            waiting: tokio::sync::Mutex::new(waiting),
            in_flight: Mutex::new(HashMap::new()),
            next_requests: Mutex::new(Vec::new()),
            init_errors: Mutex::new(Vec::new()),
            init_error_arrived: Notify::new(),
            counter: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/response",
                post(response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the Runtime API stand-in");
        let address = listener.local_addr().expect("a local address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RuntimeApi {
            address,
            shared,
            server,
        }
    }

    /// `host:port`, as `AWS_LAMBDA_RUNTIME_API` holds it.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// The environment the Lambda service gives a function on `provided.al2023` (without
    /// credentials), pointing at this stand-in.
    pub fn function_environment(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_LAMBDA_RUNTIME_API", self.address()),
            ("AWS_LAMBDA_FUNCTION_NAME", "artistbot-skill".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "/aws/lambda/artistbot-skill".into(),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/27/[$LATEST]0123456789abcdef0123456789abcdef".into(),
            ),
            ("AWS_REGION", "ap-northeast-2".into()),
            ("AWS_DEFAULT_REGION", "ap-northeast-2".into()),
            ("_HANDLER", "bootstrap".into()),
            ("TZ", ":UTC".into()),
        ]
    }

    /// A command for `binary` with only the Lambda environment (and `PATH`), run from the
    /// temporary directory so no developer `.env` is read. Add the function's own
    /// settings to it.
    pub fn command(&self, binary: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null());
        for (name, value) in self.function_environment() {
            command.env(name, value);
        }
        command
    }

    /// Queues `event` for the next `next`.
    pub fn invoke(&self, event: &Value) -> Invocation {
        self.invoke_raw(Bytes::from(event.to_string()))
    }

    /// Queues a payload as it is (the Lambda service only ever sends JSON).
    pub fn invoke_raw(&self, payload: Bytes) -> Invocation {
        let number = self.shared.counter.fetch_add(1, Ordering::SeqCst);
        let request_id = format!("8f2c4a1e-0000-4000-8000-{number:012x}");
        let (done, waited) = oneshot::channel();
        // Before sending: the function may take the event before this thread runs again.
        let queued = Instant::now();
        self.shared
            .queue
            .send(Queued {
                request_id: request_id.clone(),
                event: payload,
                done,
            })
            .expect("the stand-in is serving");
        Invocation {
            request_id,
            queued,
            done: waited,
        }
    }

    /// Invokes with `event` and waits up to 10 s for the outcome.
    pub async fn call(&self, event: &Value) -> Completion {
        self.invoke(event)
            .completion(Duration::from_secs(10))
            .await
            .unwrap_or_else(|problem| panic!("{problem}"))
    }

    /// When each `next` arrived, first to last.
    pub fn next_requests(&self) -> Vec<Instant> {
        self.shared.next_requests.lock().unwrap().clone()
    }

    /// The first `init/error` report, waiting up to `timeout` for one.
    pub async fn init_error(&self, timeout: Duration) -> Option<ReportedError> {
        let deadline = Instant::now() + timeout;
        loop {
            let arrived = self.shared.init_error_arrived.notified();
            if let Some(first) = self.shared.init_errors.lock().unwrap().first() {
                return Some(first.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, arrived).await.is_err() {
                return self.shared.init_errors.lock().unwrap().first().cloned();
            }
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.next_requests.lock().unwrap().push(Instant::now());
    // One function process polls at a time; it waits here as long as nothing is queued.
    let queued = shared.waiting.lock().await.recv().await;
    let Some(queued) = queued else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let deadline = SystemTime::now() + INVOCATION_TIMEOUT;
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    let trace_id = format!(
        "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
        deadline_ms / 1000,
        fastrand::u128(..) >> 32,
        fastrand::u64(..)
    );
    shared.in_flight.lock().unwrap().insert(
        queued.request_id.clone(),
        InFlight {
            handed_out: Instant::now(),
            done: queued.done,
        },
    );
    (
        [
            ("content-type", "application/json".to_owned()),
            ("lambda-runtime-aws-request-id", queued.request_id),
            ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                FUNCTION_ARN.to_owned(),
            ),
            ("lambda-runtime-trace-id", trace_id),
        ],
        queued.event,
    )
        .into_response()
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Response {
    complete(&shared, &request_id, Outcome::Response(json_or_text(&body)))
}

async fn invocation_error(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error = reported_error(&headers, &body);
    complete(&shared, &request_id, Outcome::Error(error))
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared
        .init_errors
        .lock()
        .unwrap()
        .push(reported_error(&headers, &body));
    shared.init_error_arrived.notify_waiters();
    accepted()
}

fn complete(shared: &Shared, request_id: &str, outcome: Outcome) -> Response {
    let Some(in_flight) = shared.in_flight.lock().unwrap().remove(request_id) else {
        // What the real API answers for an id it did not hand out, or one already
        // completed.
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "errorMessage": format!("Invalid request ID: {request_id}"),
                "errorType": "InvalidRequestID"
            })),
        )
            .into_response();
    };
    let _ = in_flight.done.send(Completion {
        outcome,
        handed_out: in_flight.handed_out,
        completed: Instant::now(),
    });
    accepted()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn reported_error(headers: &HeaderMap, body: &[u8]) -> ReportedError {
    ReportedError {
        error_type_header: headers
            .get("lambda-runtime-function-error-type")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        body: json_or_text(body),
    }
}

fn json_or_text(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// A function binary running under the stand-in: its stdout and stderr are collected as
/// they come, and it is killed when this is dropped.
pub struct FunctionProcess {
    child: Child,
    /// When the process was spawned.
    pub spawned: Instant,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl FunctionProcess {
    /// Spawns `command` (see [`RuntimeApi::command`]).
    pub fn spawn(mut command: Command) -> FunctionProcess {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let spawned = Instant::now();
        let mut child = command.spawn().expect("spawning the function binary");
        let stdout = collect(child.stdout.take().expect("a piped stdout"));
        let stderr = collect(child.stderr.take().expect("a piped stderr"));
        FunctionProcess {
            child,
            spawned,
            stdout,
            stderr,
        }
    }

    /// What it wrote to stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for it to exit by itself.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `stream` line by line on a thread of its own into a shared buffer (a pipe left
/// unread would block the process once full).
fn collect(stream: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let buffer = Arc::new(Mutex::new(String::new()));
    let filled = buffer.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let mut text = filled.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    buffer
}
