//! What users type reaches the daemon's log only cleaned and escaped: a requested name
//! holding a newline and a timestamp cannot forge a line, and terminal escapes (BEL,
//! ESC) and bidi overrides never arrive as the bytes themselves (the store drops them
//! before the name is kept; the log escapes whatever else it is given).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testkit::fake::{SpotifyMode, World};

use super::{terminate, wait_for_exit};
use crate::support::SyncHarness;

const FORGED_STAMP: &str = "2026-12-24T03:00:00.000000Z";

db_test!(
    async fn a_requested_name_with_a_forged_line_stays_on_one_escaped_line(db: TestDb) {
        let h = SyncHarness::new(db, World::new(), SpotifyMode::Development).await;
        let forged = format!(
            "오마이걸\n{FORGED_STAMP}  INFO forged: admin logged in\u{7}\u{1b}[31mred\u{202e}txt"
        );
        h.store
            .record_request(&forged, artistbot::store::now())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("daemon.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_artistbot"));
        command
            .arg("daemon")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .env("QUEUE_POLL", "200ms")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out));
        for (name, value) in &h.env {
            command.env(name, value);
        }
        let mut daemon = command.spawn().expect("starting artistbot daemon");

        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let request = h.store.request(&forged).await.unwrap().unwrap();
            if request.attempts > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "the request was never handled");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        terminate(&daemon);
        let exited = wait_for_exit(&mut daemon, Duration::from_secs(20)).await;
        let written = std::fs::read(&log).unwrap();
        let text = String::from_utf8_lossy(&written);

        assert!(exited.is_some_and(|s| s.success()), "{text}");
        let line = text
            .lines()
            .find(|line| line.contains("requested name"))
            .unwrap_or_else(|| panic!("no line about the request:\n{text}"));
        assert!(
            line.contains(&format!("오마이걸 {FORGED_STAMP} INFO forged")),
            "{line}"
        );
        assert!(line.contains("logged in[31mredtxt"), "{line}");
        assert!(
            !text.lines().any(|line| line.starts_with(FORGED_STAMP)),
            "a forged line:\n{text}"
        );
        for raw in [b'\x07', b'\x1b'] {
            assert!(
                !written.contains(&raw),
                "byte {raw:#x} reached the log:\n{text}"
            );
        }
        assert!(
            !text.contains('\u{202e}'),
            "a bidi override reached the log"
        );
    }
);
