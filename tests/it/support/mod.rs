//! Helpers shared by the integration tests: the `db_test!` macro, log setup, and a
//! migrated store per test database.

use artistbot::config::DatabaseUrl;
use artistbot::store::{PoolOptions, Store};
use testkit::db::TestDb;

/// Declares a database test once; it runs on SQLite and on MySQL.
///
/// ```ignore
/// db_test!(async fn quota_exhaustion_keeps_existing_tracks(db: TestDb) { ... });
/// ```
macro_rules! db_test {
    ($(#[$meta:meta])* async fn $name:ident($db:ident : TestDb) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($db: testkit::db::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::support::init_logs();
                body(testkit::db::TestDb::sqlite().await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                crate::support::init_logs();
                if let Some(db) = testkit::db::TestDb::mysql().await {
                    body(db).await
                }
            }
        }
    };
}

/// Installs a test log subscriber once, when `TEST_LOG=1`.
pub fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var("TEST_LOG").is_ok_and(|v| v == "1") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                        "debug,sqlx=warn,sea_orm=warn,hyper=warn,reqwest=warn".into()
                    }),
                )
                .with_test_writer()
                .try_init();
        }
    });
}

/// A store on the test database, schema migrated.
pub async fn migrated_store(db: &TestDb) -> Store {
    let store = Store::connect(&DatabaseUrl::new(db.url.clone()), PoolOptions::default())
        .await
        .expect("connecting to the test database");
    store.migrate().await.expect("migrating the test database");
    store
}
