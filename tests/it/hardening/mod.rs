//! Issue 11's adversarial audit, held as tests: the HTTP servers' limits against slow,
//! idle and numerous clients and against SIGTERM (through the real `artistbot serve`
//! and the daemon's health server), logs that cannot be forged, passwords that never
//! reach a log at any level, statement time limits, and random chat payloads; plus the
//! metrics `serve` and the daemon expose.
//!
//! Timings are asserted only as generous bounds ("cut off within the configured time,
//! give or take seconds"): the machine is shared.

mod fuzz;
mod logs;
mod metrics;
mod secrets;
mod server;
mod statements;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A real `artistbot serve` process on a free loopback port, its log in a file.
pub struct ServeProcess {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ServeProcess {
    /// `artistbot serve` on an SQLite catalog of its own (created and migrated by serve
    /// itself), with `extra` settings.
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        Self::start_with_limit(extra, None).await
    }

    /// As [`ServeProcess::start`], the child's open-file limit set to `descriptors`
    /// (as `ulimit -n` would).
    pub async fn start_with_limit(extra: &[(&str, &str)], descriptors: Option<u64>) -> Self {
        let dir = tempfile::tempdir().expect("a directory for serve");
        let addr = free_address();
        let log = dir.path().join("serve.log");
        let database = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("skill.db").display()
        );
        let mut command = Command::new(env!("CARGO_BIN_EXE_artistbot"));
        command
            .arg("serve")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env("DATABASE_URL", database)
            .env("BIND_ADDR", addr.to_string());
        for (name, value) in extra {
            command.env(name, value);
        }
        command
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("the log file"))
            .stderr(Stdio::inherit());
        if let Some(limit) = descriptors {
            limit_descriptors(&mut command, limit);
        }
        let child = command.spawn().expect("spawning artistbot serve");
        let serve = ServeProcess {
            child,
            addr,
            log,
            _dir: dir,
        };
        serve.wait_until_listening().await;
        serve
    }

    async fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(self.addr).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "artistbot serve did not listen within 15 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        terminate(&self.child);
    }

    /// The exit status once the process exits, or `None` after `within`.
    pub async fn exit_within(&mut self, within: Duration) -> Option<ExitStatus> {
        wait_for_exit(&mut self.child, within).await
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends SIGTERM to `child`.
pub fn terminate(child: &Child) {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    // SAFETY: a plain kill(2) on our own child's pid.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

pub async fn wait_for_exit(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sets the child's open-file limit (soft and hard) before it runs.
fn limit_descriptors(command: &mut Command, limit: u64) {
    use std::os::unix::process::CommandExt;
    let limit = libc::rlimit {
        rlim_cur: limit as libc::rlim_t,
        rlim_max: limit as libc::rlim_t,
    };
    // SAFETY: setrlimit is async-signal-safe and touches only the child's limits.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

pub fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

/// A skill request body asking for `utterance`.
pub fn skill_body(utterance: &str) -> String {
    serde_json::json!({
        "userRequest": {"utterance": utterance, "user": {"id": "hardening-test"}},
        "bot": {"id": "hardening-bot"}
    })
    .to_string()
}

/// A whole HTTP/1.1 request as bytes.
pub fn http_request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        text.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text.into_bytes()
}

/// One response read off a kept-alive connection: its status, headers and body (by
/// `Content-Length`); `None` when the connection closed first or nothing came within
/// `within`.
pub async fn read_response(
    stream: &mut (impl AsyncRead + Unpin),
    within: Duration,
) -> Option<RawResponse> {
    let deadline = tokio::time::Instant::now() + within;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(head_end) = find(&buffer, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            let body_start = head_end + 4;
            if buffer.len() >= body_start + length {
                let status = head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|code| code.parse().ok())
                    .unwrap_or(0);
                return Some(RawResponse {
                    status,
                    head,
                    body: String::from_utf8_lossy(&buffer[body_start..body_start + length])
                        .into_owned(),
                });
            }
        }
        let read = tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
            Ok(Ok(n)) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl RawResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("a JSON body ({e}): {:?} {:?}", self.head, self.body))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Waits until the server closes `stream` (EOF or reset), reading and dropping whatever
/// it sends; how long that took, or `None` if it stayed open for `within`.
pub async fn closed_within(
    stream: &mut (impl AsyncRead + Unpin),
    within: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + within;
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

/// Writes `bytes` one at a time, `every` apart, until the server stops taking them;
/// returns when it did (or when all were written).
pub async fn trickle(stream: &mut tokio::net::tcp::OwnedWriteHalf, bytes: &[u8], every: Duration) {
    for byte in bytes {
        if stream.write_all(&[*byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(every).await;
    }
}
