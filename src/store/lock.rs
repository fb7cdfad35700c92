//! The runner lock: at most one artistbot process (daemon replica or CLI run) does sync
//! work against one database at a time.
//!
//! On MySQL/MariaDB it is `GET_LOCK` on a connection of its own, opened straight from the
//! URL and never part of the store's pool: a named lock belongs to the session that took
//! it, and a pool may close, recycle or share that session behind our back. When the
//! process dies (SIGKILL, power loss) the server sees the connection close and frees the
//! lock at once, so a crashed runner never leaves a stale "already running" behind. Lock
//! names are server-wide, so the name includes the database's name.
//!
//! On SQLite it is an exclusive `flock` on a file next to the database
//! (`artistbot.db` → `artistbot.db.lock`), which the kernel releases when the process
//! dies. An in-memory SQLite database cannot be shared with another process, so there
//! the lock always succeeds.
//!
//! This module only takes, checks and releases the lock; deciding what a holder may do
//! (and cleaning up after a dead one) belongs to the daemon's runner.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sea_orm::sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sea_orm::sqlx::{self, ConnectOptions as _, Connection};
use thiserror::Error;

use crate::config::DatabaseUrl;

/// Why the lock could not be asked for (as opposed to: another runner holds it).
#[derive(Debug, Error)]
pub enum LockError {
    /// Scrubbed text only: the driver's error may quote the password.
    #[error("cannot reach the database for the runner lock: {0}")]
    Connect(String),
    #[error("the runner lock query failed: {0}")]
    Query(#[source] sqlx::Error),
    #[error("the runner lock query got no answer within {LOCK_IO_TIMEOUT:?}")]
    TimedOut,
    #[error("GET_LOCK answered NULL (an error on the server)")]
    Refused,
    #[error("the runner lock file {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Every round trip on the lock connection is bounded: a database that stopped
/// answering must not hang a tick or a shutdown.
const LOCK_IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A cross-process lock on one database; see the module docs. Not shared between tasks:
/// the daemon keeps it behind its own mutex.
#[derive(Debug)]
pub struct RunnerLock {
    kind: LockKind,
    held: bool,
}

#[derive(Debug)]
enum LockKind {
    MySql {
        url: DatabaseUrl,
        session: Option<MySqlSession>,
    },
    File {
        path: PathBuf,
        file: Option<File>,
    },
    InProcess,
}

#[derive(Debug)]
struct MySqlSession {
    connection: MySqlConnection,
    name: String,
}

impl RunnerLock {
    /// A lock for the database at `url`. Nothing is opened until the first attempt.
    pub fn new(url: &DatabaseUrl) -> Self {
        let kind = if url.is_sqlite() {
            match sqlite_file(url.expose()) {
                Some(db) => LockKind::File {
                    path: lock_file_for(&db),
                    file: None,
                },
                None => LockKind::InProcess,
            }
        } else {
            LockKind::MySql {
                url: url.clone(),
                session: None,
            }
        };
        Self { kind, held: false }
    }

    /// What kind of lock this is, for logs and `status`.
    pub(crate) fn describe(&self) -> String {
        match &self.kind {
            LockKind::MySql {
                session: Some(s), ..
            } => format!("MySQL GET_LOCK('{}')", s.name),
            LockKind::MySql { .. } => "MySQL GET_LOCK".to_owned(),
            LockKind::File { path, .. } => format!("file lock {}", path.display()),
            LockKind::InProcess => "in-process lock (in-memory SQLite)".to_owned(),
        }
    }

    /// Whether this process believes it holds the lock.
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// Takes the lock if nobody holds it; `Ok(false)` when another runner does.
    pub async fn try_acquire(&mut self) -> Result<bool, LockError> {
        if self.held {
            return Ok(true);
        }
        let acquired = match &mut self.kind {
            LockKind::MySql { url, session } => mysql_get_lock(url, session).await?,
            LockKind::File { path, file } => file_try_lock(path, file)?,
            LockKind::InProcess => true,
        };
        self.held = acquired;
        Ok(acquired)
    }

    /// Releases the lock. Returns whether it was still ours: `false` means it was lost on
    /// the way (the lock connection died), so another runner may have worked meanwhile.
    pub async fn release(&mut self) -> Result<bool, LockError> {
        if !self.held {
            return Ok(false);
        }
        self.held = false;
        match &mut self.kind {
            LockKind::MySql { session, .. } => {
                let Some(open) = session.as_mut() else {
                    return Ok(false);
                };
                let query = sqlx::query_scalar::<_, Option<i64>>("SELECT RELEASE_LOCK(?)")
                    .bind(open.name.clone())
                    .fetch_one(&mut open.connection);
                match tokio::time::timeout(LOCK_IO_TIMEOUT, query).await {
                    Ok(Ok(released)) => Ok(released == Some(1)),
                    Ok(Err(error)) => {
                        // Closing the session releases whatever it held.
                        *session = None;
                        Err(LockError::Query(error))
                    }
                    Err(_) => {
                        *session = None;
                        Err(LockError::TimedOut)
                    }
                }
            }
            LockKind::File { path, file } => match file.as_ref() {
                Some(open) => open
                    .unlock()
                    .map(|_| true)
                    .map_err(|error| file_error(path, error)),
                None => Ok(false),
            },
            LockKind::InProcess => Ok(true),
        }
    }

    /// Whether the lock is still this process's: on MySQL, asks the server whether the
    /// lock's session still owns it (which also keeps that idle session alive); a file
    /// lock stays held while the file is open. `Ok(false)` or an error means it was lost.
    pub async fn still_held(&mut self) -> Result<bool, LockError> {
        if !self.held {
            return Ok(false);
        }
        match &mut self.kind {
            LockKind::MySql { session, .. } => {
                let Some(open) = session.as_mut() else {
                    self.held = false;
                    return Ok(false);
                };
                let query = sqlx::query_scalar::<_, Option<i64>>(
                    "SELECT IS_USED_LOCK(?) = CONNECTION_ID()",
                )
                .bind(open.name.clone())
                .fetch_one(&mut open.connection);
                let answer = match tokio::time::timeout(LOCK_IO_TIMEOUT, query).await {
                    Ok(Ok(owned)) => Ok(owned == Some(1)),
                    Ok(Err(error)) => Err(LockError::Query(error)),
                    Err(_) => Err(LockError::TimedOut),
                };
                if !matches!(answer, Ok(true)) {
                    // Whatever happened, this session no longer proves anything.
                    *session = None;
                    self.held = false;
                }
                answer
            }
            LockKind::File { .. } | LockKind::InProcess => Ok(true),
        }
    }

    /// Whether some runner (this one included) holds the lock right now, without taking
    /// it for longer than the check: for `status`.
    pub(crate) async fn is_busy(&mut self) -> Result<bool, LockError> {
        if self.held {
            return Ok(true);
        }
        match &mut self.kind {
            LockKind::MySql { url, session } => {
                let open = mysql_session(url, session).await?;
                let query = sqlx::query_scalar::<_, Option<i64>>("SELECT IS_USED_LOCK(?)")
                    .bind(open.name.clone())
                    .fetch_one(&mut open.connection);
                match tokio::time::timeout(LOCK_IO_TIMEOUT, query).await {
                    Ok(Ok(owner)) => Ok(owner.is_some()),
                    Ok(Err(error)) => {
                        *session = None;
                        Err(LockError::Query(error))
                    }
                    Err(_) => {
                        *session = None;
                        Err(LockError::TimedOut)
                    }
                }
            }
            LockKind::File { path, file } => {
                if file_try_lock(path, file)? {
                    if let Some(open) = file.as_ref() {
                        open.unlock().map_err(|error| file_error(path, error))?;
                    }
                    Ok(false)
                } else {
                    Ok(true)
                }
            }
            LockKind::InProcess => Ok(false),
        }
    }

    /// Closes the lock's connection or file (releasing the lock if it was held).
    pub(crate) async fn close(mut self) {
        if let LockKind::MySql { session, .. } = &mut self.kind
            && let Some(open) = session.take()
        {
            let _ = tokio::time::timeout(LOCK_IO_TIMEOUT, open.connection.close()).await;
        }
    }
}

/// `GET_LOCK(name, 0)` on the lock's own session, reconnecting once if the session died
/// since the last unit of work (a database restart, an idle timeout).
async fn mysql_get_lock(
    url: &DatabaseUrl,
    session: &mut Option<MySqlSession>,
) -> Result<bool, LockError> {
    let had_session = session.is_some();
    match get_lock_once(url, session).await {
        Err(LockError::Query(_) | LockError::TimedOut) if had_session => {
            get_lock_once(url, session).await
        }
        result => result,
    }
}

async fn get_lock_once(
    url: &DatabaseUrl,
    session: &mut Option<MySqlSession>,
) -> Result<bool, LockError> {
    let open = mysql_session(url, session).await?;
    // Timeout 0: never wait on the server, so the caller decides how long to keep asking
    // and can stop at once on shutdown.
    let query = sqlx::query_scalar::<_, Option<i64>>("SELECT GET_LOCK(?, 0)")
        .bind(open.name.clone())
        .fetch_one(&mut open.connection);
    match tokio::time::timeout(LOCK_IO_TIMEOUT, query).await {
        Ok(Ok(Some(1))) => Ok(true),
        Ok(Ok(Some(_))) => Ok(false),
        Ok(Ok(None)) => {
            *session = None;
            Err(LockError::Refused)
        }
        Ok(Err(error)) => {
            *session = None;
            Err(LockError::Query(error))
        }
        Err(_) => {
            *session = None;
            Err(LockError::TimedOut)
        }
    }
}

async fn mysql_session<'a>(
    url: &DatabaseUrl,
    session: &'a mut Option<MySqlSession>,
) -> Result<&'a mut MySqlSession, LockError> {
    if session.is_none() {
        // Options parsed here, not by the driver's `connect(url)`: a parse error is
        // scrubbed like any other, and the lock's statements stay out of the logs.
        let options = MySqlConnectOptions::from_str(url.expose())
            .map_err(|error| LockError::Connect(url.scrub(&error.to_string())))?
            .disable_statement_logging();
        let connect = MySqlConnection::connect_with(&options);
        let mut connection = match tokio::time::timeout(LOCK_IO_TIMEOUT, connect).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return Err(LockError::Connect(url.scrub(&error.to_string()))),
            Err(_) => return Err(LockError::Connect("no answer in time".into())),
        };
        let database =
            sqlx::query_scalar::<_, Option<String>>("SELECT DATABASE()").fetch_one(&mut connection);
        let database = match tokio::time::timeout(LOCK_IO_TIMEOUT, database).await {
            Ok(Ok(name)) => name.unwrap_or_default(),
            Ok(Err(error)) => return Err(LockError::Query(error)),
            Err(_) => return Err(LockError::TimedOut),
        };
        *session = Some(MySqlSession {
            connection,
            name: lock_name(&database),
        });
    }
    Ok(session.as_mut().expect("set just above"))
}

/// `artistbot-runner:<database>`, within MySQL's 64-character limit on lock names (a
/// long database name is shortened and made unique again with a hash).
pub fn lock_name(database: &str) -> String {
    let name = format!("artistbot-runner:{database}");
    if name.chars().count() <= 64 {
        return name;
    }
    // FNV-1a: stable across builds and platforms, unlike the std hasher.
    let hash = database.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let kept: String = name.chars().take(64 - 17).collect();
    format!("{kept}-{hash:016x}")
}

fn file_try_lock(path: &Path, file: &mut Option<File>) -> Result<bool, LockError> {
    if file.is_none() {
        let opened = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|error| file_error(path, error))?;
        *file = Some(opened);
    }
    let open = file.as_ref().expect("opened just above");
    match open.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(error)) => Err(file_error(path, error)),
    }
}

fn file_error(path: &Path, error: std::io::Error) -> LockError {
    LockError::File {
        path: path.display().to_string(),
        source: error,
    }
}

/// The database file of an SQLite URL (`sqlite://path?mode=rwc`, `sqlite:path`), or
/// `None` for an in-memory database.
pub(crate) fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// The lock file next to a database file: `artistbot.db` → `artistbot.db.lock`.
pub(crate) fn lock_file_for(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file_and_memory_has_none() {
        assert_eq!(
            sqlite_file("sqlite://artistbot.db?mode=rwc"),
            Some(PathBuf::from("artistbot.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///var/lib/artistbot/a.db"),
            Some(PathBuf::from("/var/lib/artistbot/a.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite://x.db?mode=memory"), None);
        assert_eq!(
            lock_file_for(Path::new("/data/artistbot.db")),
            PathBuf::from("/data/artistbot.db.lock")
        );
    }

    #[test]
    fn lock_names_fit_mysqls_limit_and_stay_distinct() {
        assert_eq!(lock_name("artistbot"), "artistbot-runner:artistbot");
        let a = lock_name(&"a".repeat(64));
        let b = lock_name(&format!("{}b", "a".repeat(63)));
        assert!(a.chars().count() <= 64 && b.chars().count() <= 64);
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn a_file_lock_admits_one_holder_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::new(format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("a.db").display()
        ));
        let mut first = RunnerLock::new(&url);
        let mut second = RunnerLock::new(&url);
        assert!(first.try_acquire().await.unwrap());
        assert!(!second.try_acquire().await.unwrap());
        assert!(second.is_busy().await.unwrap());
        assert!(first.release().await.unwrap());
        assert!(!second.is_busy().await.unwrap());
        assert!(second.try_acquire().await.unwrap());
        drop(second);
        assert!(
            first.try_acquire().await.unwrap(),
            "closing the file frees it"
        );
    }
}
