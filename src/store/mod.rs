//! The store: THE ONLY MODULE THAT BUILDS QUERIES. It speaks sea-orm to MySQL/MariaDB or
//! SQLite and returns the domain types of [`crate::catalog`]; entity `ActiveModel`s never
//! leave it. It knows nothing of providers or of the sync's rules; it writes what it is
//! given, each artist's refresh in one transaction.
//!
//! Submodules by table family: [`artists`] (catalog reads and writes, aliases, Deezer
//! mapping), [`refresh`] (the per-artist transaction), [`runs`] (`sync_runs`),
//! [`provider_state`] (what the upstreams allow), [`requests`] (names users asked for),
//! [`status`] (counts for `status`), [`lock`] (the cross-process runner lock, on a
//! connection of its own), [`import`] (batched writes of imported DynamoDB data),
//! [`ranked`] (an artist's ranked rows, top tracks or related artists, whatever the table),
//! [`identity`] (re-keying and merging an artist met on both providers),
//! [`reads`] (one artist's stored rows), [`skill`] (the reads of the Kakao skill endpoint),
//! [`grants`] (the connected account's own grants, for `doctor`).

pub(crate) mod artists;
pub(crate) mod grants;
pub mod identity;
pub(crate) mod import;
pub mod lock;
pub(crate) mod provider_state;
pub(crate) mod ranked;
pub mod reads;
pub(crate) mod refresh;
pub mod requests;
pub mod runs;
pub(crate) mod skill;
pub(crate) mod status;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{NaiveDateTime, SubsecRound, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::mysql::MySqlConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::sqlx::{self, ConnectOptions as _, Executor as _};
use sea_orm::{DatabaseConnection, DbBackend, DbErr, SqlxMySqlConnector, SqlxSqliteConnector};
use thiserror::Error;

use crate::config::DatabaseUrl;

/// A database failure. Each message names what the store was doing and says why.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The driver's own error may quote the connection string, password included, so
    /// only its scrubbed text is kept, not the error itself.
    #[error("cannot connect to the database {url}: {message}")]
    Connect { url: String, message: String },
    #[error("database error while {doing}: {source}")]
    Query {
        doing: &'static str,
        #[source]
        source: DbErr,
    },
    #[error("the database schema is not up to date: run `artistbot migrate`")]
    SchemaOutdated,
}

impl StoreError {
    pub(crate) fn query(doing: &'static str) -> impl FnOnce(DbErr) -> StoreError {
        move |source| StoreError::Query { doing, source }
    }
}

/// Connection pool sizing and timeouts.
#[derive(Clone, Copy, Debug)]
pub struct PoolOptions {
    pub max_connections: u32,
    pub connect_timeout: Duration,
    /// Open connections on first use instead of in `connect`: a server that is down at
    /// start does not stop a process that must still answer (the skill endpoint).
    pub lazy: bool,
    /// Ping a pooled connection before reuse only when it sat idle this long (instead of
    /// on every acquire, which costs a round trip per query).
    pub ping_if_idle_for: Option<Duration>,
    /// The most one statement may run, or wait for a lock, before the server stops it
    /// (MySQL/MariaDB; set on each new connection). `None`: the server's own limits
    /// (none for a query; a day for a table lock). SQLite's lock waits are bounded by its
    /// busy timeout instead.
    pub statement_timeout: Option<Duration>,
}

impl PoolOptions {
    /// A pool for `workers` artists refreshed at once: every artist in flight may hold a
    /// connection mid-transaction, and run bookkeeping, the request queue and health
    /// checks need a few more. Too small a pool stalls workers on the acquire timeout.
    pub(crate) fn for_workers(workers: usize) -> Self {
        let default = Self::default();
        Self {
            max_connections: (workers as u32 + 2).max(default.max_connections),
            ..default
        }
    }

    /// The same pool with every statement bounded by `timeout` (`DB_STATEMENT_TIMEOUT`).
    pub fn limit_statements(self, timeout: Option<Duration>) -> Self {
        Self {
            statement_timeout: timeout,
            ..self
        }
    }
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            connect_timeout: Duration::from_secs(5),
            lazy: false,
            ping_if_idle_for: None,
            statement_timeout: None,
        }
    }
}

/// SQLite writers wait this long for another writer's lock before failing (WAL lets
/// readers go on meanwhile).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle to the catalog database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    statements: Arc<AtomicU64>,
}

impl Store {
    /// Connects (creating the SQLite file if needed). Errors never show the password.
    ///
    /// The driver's pool is built here rather than by `sea_orm::Database::connect`: that
    /// path's tracing span (`SqlxMySqlConnector::connect`, TRACE level) records its
    /// options, the whole URL and its password with them, so `RUST_LOG=trace` would
    /// print the password. The options are parsed here, statement logging is off, and
    /// the finished pool is handed to sea-orm.
    pub async fn connect(url: &DatabaseUrl, pool: PoolOptions) -> Result<Self, StoreError> {
        // The driver reads `ssl-ca` at each connection and reports a missing file as a bare
        // "No such file or directory" (later still, for a lazy pool): say which file.
        if let Some(ca) = ssl_ca_file(url.expose())
            && let Err(error) = std::fs::File::open(&ca)
        {
            return Err(StoreError::Connect {
                url: url.redacted(),
                message: format!("cannot read the CA file {} (ssl-ca): {error}", ca.display()),
            });
        }
        let failed = |error: sqlx::Error| StoreError::Connect {
            url: url.redacted(),
            message: url.scrub(&error.to_string()),
        };
        let mut db = if url.is_sqlite() {
            // WAL lets readers (the skill endpoint) work while the sync writes; the busy
            // timeout makes concurrent writers wait instead of failing at once.
            let options = SqliteConnectOptions::from_str(url.expose())
                .map_err(failed)?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .disable_statement_logging();
            let options_for_pool = pool_options::<sqlx::Sqlite>(&pool);
            let sqlite = if pool.lazy {
                options_for_pool.connect_lazy_with(options)
            } else {
                options_for_pool
                    .connect_with(options)
                    .await
                    .map_err(failed)?
            };
            SqlxSqliteConnector::from_sqlx_sqlite_pool(sqlite)
        } else {
            let options = MySqlConnectOptions::from_str(url.expose())
                .map_err(failed)?
                .disable_statement_logging();
            let mut options_for_pool = pool_options::<sqlx::MySql>(&pool);
            if let Some(limit) = pool.statement_timeout {
                let set_limits = session_limits(limit);
                options_for_pool = options_for_pool.after_connect(move |connection, _| {
                    let set_limits = set_limits.clone();
                    Box::pin(async move {
                        connection.execute(sqlx::AssertSqlSafe(set_limits)).await?;
                        Ok(())
                    })
                });
            }
            let mysql = if pool.lazy {
                options_for_pool.connect_lazy_with(options)
            } else {
                options_for_pool
                    .connect_with(options)
                    .await
                    .map_err(failed)?
            };
            SqlxMySqlConnector::from_sqlx_mysql_pool(mysql)
        };
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        Ok(Self { db, statements })
    }

    /// Opens the catalog for work (a sync, the daemon, an import). On SQLite, pending
    /// migrations are applied (the file is the app's own); on a server they must already
    /// be applied with `artistbot migrate`, typically by a user with more rights than the
    /// sync user, and [`StoreError::SchemaOutdated`] says so.
    pub(crate) async fn open(url: &DatabaseUrl, pool: PoolOptions) -> Result<Self, StoreError> {
        let store = Self::connect(url, pool).await?;
        let ready = if url.is_sqlite() {
            store.migrate().await
        } else {
            store.ensure_schema().await
        };
        match ready {
            Ok(()) => Ok(store),
            Err(error) => {
                store.close().await;
                Err(error)
            }
        }
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None)
            .await
            .map_err(StoreError::query("migrating the schema"))
    }

    /// Fails with [`StoreError::SchemaOutdated`] when migrations are pending. Read-only
    /// (no `CREATE TABLE seaql_migrations`), so the sync user, which has no DDL rights,
    /// may call it.
    pub async fn ensure_schema(&self) -> Result<(), StoreError> {
        let pending = Migrator::get_pending_migrations_read_only(&self.db)
            .await
            .map_err(StoreError::query("reading the migration status"))?;
        if pending.is_empty() {
            Ok(())
        } else {
            Err(StoreError::SchemaOutdated)
        }
    }

    /// Names of applied and pending migrations (read-only, like [`Store::ensure_schema`]).
    pub async fn migration_status(&self) -> Result<(Vec<String>, Vec<String>), StoreError> {
        let applied = Migrator::get_applied_migrations_read_only(&self.db)
            .await
            .map_err(StoreError::query("reading the migration status"))?;
        let pending = Migrator::get_pending_migrations_read_only(&self.db)
            .await
            .map_err(StoreError::query("reading the migration status"))?;
        Ok((
            applied.iter().map(|m| m.name().to_owned()).collect(),
            pending.iter().map(|m| m.name().to_owned()).collect(),
        ))
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(StoreError::query("pinging"))
    }

    pub(crate) fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Statements sent since the store was opened (for benchmarks and reports).
    pub fn statements_sent(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub async fn close(self) {
        let _ = self.db.close().await;
    }
}

/// The driver's pool options for `pool`, as sea-orm's `ConnectOptions` would have built
/// them: no idle connections kept open, the acquire bounded by the connect timeout, and
/// a ping before reuse either always (the driver's default) or only after an idle spell.
fn pool_options<DB: sqlx::Database>(pool: &PoolOptions) -> sqlx::pool::PoolOptions<DB> {
    let options = sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(pool.max_connections)
        .min_connections(0)
        .acquire_timeout(pool.connect_timeout);
    match pool.ping_if_idle_for {
        None => options.test_before_acquire(true),
        Some(threshold) => {
            options
                .test_before_acquire(false)
                .before_acquire(move |connection, meta| {
                    Box::pin(async move {
                        if meta.idle_for >= threshold {
                            sqlx::Connection::ping(connection).await?;
                        }
                        Ok(true)
                    })
                })
        }
    }
}

/// The statement that bounds every statement of a MySQL or MariaDB session by `limit`:
/// table and metadata lock waits (`lock_wait_timeout`) and row lock waits
/// (`innodb_lock_wait_timeout`) on both, whole statements on MariaDB
/// (`max_statement_time`) and SELECTs on MySQL 8 (`max_execution_time`). Each server runs
/// only its own part: MariaDB executes `/*M! */` comments and skips MySQL 8's `/*!80000
/// */`, MySQL does the opposite. Lock waits count in whole seconds, at least one.
pub(crate) fn session_limits(limit: Duration) -> String {
    let whole_seconds = limit.as_secs_f64().ceil().max(1.0) as u64;
    let milliseconds = limit.as_millis().max(1);
    format!(
        "SET SESSION lock_wait_timeout = {whole_seconds}, innodb_lock_wait_timeout = {whole_seconds} \
         /*M!100108 , max_statement_time = {:.3} */ /*!80000 , max_execution_time = {milliseconds} */",
        limit.as_secs_f64()
    )
}

/// Now, in UTC, to the second: both backends store whole seconds the same way, so a
/// value read back compares equal to the value written.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(0)
}

/// The file named by `ssl-ca` in a MySQL URL's query; `None` for a value the driver
/// would decode first (`%XX`, `+`), which this check leaves to the driver.
fn ssl_ca_file(url: &str) -> Option<std::path::PathBuf> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| match pair.split_once('=') {
            Some(("ssl-ca" | "sslca", value)) if !value.contains(['%', '+']) => Some(value.into()),
            _ => None,
        })
}

/// Placeholder list for `IN (...)` chunks: both backends accept thousands of parameters,
/// but keeping chunks small keeps statements cacheable and within SQLite's default limit.
pub(crate) const IN_CHUNK: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_limits_bound_lock_waits_in_whole_seconds_and_statements_per_server() {
        let sql = session_limits(Duration::from_millis(1500));

        assert!(sql.starts_with("SET SESSION lock_wait_timeout = 2, innodb_lock_wait_timeout = 2"));
        assert!(
            sql.contains("/*M!100108 , max_statement_time = 1.500 */"),
            "{sql}"
        );
        assert!(
            sql.contains("/*!80000 , max_execution_time = 1500 */"),
            "{sql}"
        );
        assert!(session_limits(Duration::from_millis(10)).contains("lock_wait_timeout = 1,"));
    }
}
