//! A fresh database per test: an SQLite file in a temporary directory, or a new
//! database on the MySQL/MariaDB server named by `TEST_MYSQL_URL` (for example
//! `mysql://root@127.0.0.1:3306`), dropped when the test ends (also when it panics).
//!
//! Without `TEST_MYSQL_URL` the MySQL variant of a test is skipped, unless
//! `TEST_REQUIRE_MYSQL=1` (CI sets it) turns the missing server into a failure.

use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::{ConnectionTrait, Database};

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Mysql,
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    /// For MySQL: the server URL and database name to drop at the end.
    drop_on_exit: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl TestDb {
    /// A new SQLite file in its own temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let path = dir.path().join("artistbot-test.db");
        TestDb {
            url: format!("sqlite://{}?mode=rwc", path.display()),
            backend: Backend::Sqlite,
            drop_on_exit: None,
            _dir: Some(dir),
        }
    }

    /// A new, empty database on the test MySQL server, or `None` when none is
    /// configured (panics instead when `TEST_REQUIRE_MYSQL=1`).
    pub async fn mysql() -> Option<TestDb> {
        let server = match std::env::var("TEST_MYSQL_URL") {
            Ok(url) if !url.trim().is_empty() => url.trim().trim_end_matches('/').to_owned(),
            _ => {
                if std::env::var("TEST_REQUIRE_MYSQL").is_ok_and(|v| v == "1") {
                    panic!("TEST_REQUIRE_MYSQL=1 but TEST_MYSQL_URL is not set");
                }
                eprintln!("TEST_MYSQL_URL not set: skipping the MySQL variant");
                return None;
            }
        };
        let name = format!(
            "abtest_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            fastrand::u32(..)
        );
        let admin = Database::connect(server.as_str())
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test MySQL server at {server}: {e}"));
        admin
            .execute_unprepared(&format!(
                "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ))
            .await
            .expect("creating a test database");
        let _ = admin.close().await;
        Some(TestDb {
            url: format!("{server}/{name}"),
            backend: Backend::Mysql,
            drop_on_exit: Some((server, name)),
            _dir: None,
        })
    }

    /// The server URL and database name (MySQL only), for tests that need a second
    /// connection with other credentials.
    pub fn mysql_parts(&self) -> Option<(&str, &str)> {
        self.drop_on_exit
            .as_ref()
            .map(|(s, n)| (s.as_str(), n.as_str()))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.drop_on_exit.take() else {
            return;
        };
        run_as_admin(server, vec![format!("DROP DATABASE IF EXISTS `{name}`")]);
    }
}

/// Drops MySQL users a test created (`'name'@'%'`) when it ends, also when it fails.
pub struct DropUsers {
    /// The server's URL, as an administrator.
    pub server: String,
    pub users: Vec<String>,
}

impl Drop for DropUsers {
    fn drop(&mut self) {
        let statements = self
            .users
            .iter()
            .map(|user| format!("DROP USER IF EXISTS '{user}'@'%'"))
            .collect();
        run_as_admin(self.server.clone(), statements);
    }
}

/// Runs clean-up `statements` on `server` as its administrator, ignoring failures. Drop
/// may run inside a runtime that is shutting down: this uses a thread of its own.
fn run_as_admin(server: String, statements: Vec<String>) {
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for cleanup");
        runtime.block_on(async {
            if let Ok(admin) = Database::connect(server.as_str()).await {
                for statement in statements {
                    let _ = admin.execute_unprepared(&statement).await;
                }
                let _ = admin.close().await;
            }
        });
    })
    .join();
}
