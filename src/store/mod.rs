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

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{NaiveDateTime, SubsecRound, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};
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
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            connect_timeout: Duration::from_secs(5),
            lazy: false,
            ping_if_idle_for: None,
        }
    }
}

/// A handle to the catalog database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    statements: Arc<AtomicU64>,
}

impl Store {
    /// Connects (creating the SQLite file if needed). Errors never show the password.
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
        let mut options = ConnectOptions::new(url.expose().to_owned());
        options
            .max_connections(pool.max_connections)
            .min_connections(0)
            .connect_timeout(pool.connect_timeout)
            .acquire_timeout(pool.connect_timeout)
            .sqlx_logging(false)
            .connect_lazy(pool.lazy);
        if let Some(idle) = pool.ping_if_idle_for {
            options.test_before_acquire_if_idle_for(idle);
        }
        if url.is_sqlite() {
            // WAL lets readers (the skill endpoint) work while the sync writes; the busy
            // timeout makes concurrent writers wait instead of failing at once.
            options.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
            });
        }
        let mut db = Database::connect(options)
            .await
            .map_err(|error| StoreError::Connect {
                url: url.redacted(),
                message: url.scrub(&error.to_string()),
            })?;
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
