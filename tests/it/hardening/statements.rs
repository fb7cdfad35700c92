//! Every statement of the daemon and the CLI is bounded by `DB_STATEMENT_TIMEOUT`: with
//! the catalog's table locked by another session, `artistbot sync` fails its unit of work
//! (recorded as a failed run) and `artistbot status` fails, each within the limit, and
//! the runner lock is free again at once. MySQL/MariaDB only: SQLite's lock waits are
//! bounded by its busy timeout, and a table lock like this one has no SQLite equivalent.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use artistbot::config::DatabaseUrl;
use artistbot::store::lock::RunnerLock;
use artistbot::store::runs::RunStatus;
use sea_orm::sqlx::mysql::MySqlConnection;
use sea_orm::sqlx::{self, Connection};
use testkit::fake::{SpotifyMode, World};

use crate::support::SyncHarness;

fn run(h: &SyncHarness, args: &[&str], extra: &[(&str, &str)]) -> (Output, Duration) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_artistbot"));
    command
        .args(args)
        .current_dir(std::env::temp_dir())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn");
    for (name, value) in h.env.iter() {
        command.env(name, value);
    }
    for (name, value) in extra {
        command.env(name, value);
    }
    let started = Instant::now();
    let output = command.output().expect("running artistbot");
    (output, started.elapsed())
}

fn shown(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_table_fails_a_unit_of_work_within_the_statement_limit_and_frees_the_lock() {
    crate::support::init_logs();
    let Some(db) = testkit::db::TestDb::mysql().await else {
        return;
    };
    let url = db.url.clone();
    let mut world = World::new();
    let ive = world.add_artist(1, "IVE", Some(101), 3);
    let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
    h.seed(&[&ive]).await;
    let mut holder = MySqlConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("LOCK TABLES artists WRITE")
        .execute(&mut holder)
        .await
        .unwrap();
    let limit = [("DB_STATEMENT_TIMEOUT", "2s"), ("LOCK_WAIT", "1s")];

    let (sync, sync_took) = run(&h, &["sync"], &limit);
    let (status, status_took) = run(&h, &["status"], &limit);
    let mut lock = RunnerLock::new(&DatabaseUrl::new(url.clone()));
    let free = lock.try_acquire().await.unwrap();
    let _ = lock.release().await;
    sqlx::raw_sql("UNLOCK TABLES")
        .execute(&mut holder)
        .await
        .unwrap();
    holder.close().await.unwrap();

    let text = shown(&sync);
    assert_eq!(sync.status.code(), Some(1), "{text}");
    assert!(
        text.contains("max_statement_time") || text.contains("Lock wait timeout"),
        "{text}"
    );
    assert!(
        sync_took >= Duration::from_millis(1500) && sync_took < Duration::from_secs(20),
        "sync took {sync_took:?}"
    );
    let text = shown(&status);
    assert_eq!(status.status.code(), Some(1), "{text}");
    assert!(
        status_took < Duration::from_secs(20),
        "status took {status_took:?}"
    );
    assert!(free, "the runner lock is free once the unit failed");
    let last = h.store.recent_runs(1).await.unwrap();
    assert_eq!(last[0].status, RunStatus::Failed, "{last:?}");
}
