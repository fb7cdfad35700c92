//! Issue 11's adversarial audit, held as tests: the HTTP servers' limits against slow,
//! idle and numerous clients and against SIGTERM (through the real `artistbot serve`
//! and the daemon's health server), logs that cannot be forged, passwords that never
//! reach a log at any level, statement time limits, and random chat payloads; plus the
//! metrics `serve` and the daemon expose.
//!
//! Timings are asserted only as generous bounds ("cut off within the configured time,
//! give or take seconds"): the machine is shared.

mod logs;
mod secrets;
mod statements;

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

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
