//! What the sync benchmark's scenarios share: a fresh database per run (SQLite file or
//! MariaDB database), the real `artistbot` binary run as a child with exactly the
//! environment given (peak RSS from `wait4`), and the floor a run is compared with:
//! the same rows bulk-inserted with the best statements we can write, and the same
//! upstream calls replayed at the same concurrency.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use artistbot::config::DatabaseUrl;
use artistbot::store::{PoolOptions, Store};
use futures::StreamExt;
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, EntityTrait, IdenStatic, Iterable, ModelTrait,
    Statement, TransactionTrait, Value,
};
use testkit::fake::{CLIENT_ID, CLIENT_SECRET, CallRecord, FakeUpstream, Provider};

/// A migrated, empty database for one run; dropped (MariaDB) or deleted (SQLite) with it.
pub struct BenchDb {
    pub url: String,
    pub backend: &'static str,
    admin: Option<(DatabaseConnection, String)>,
    _dir: Option<tempfile::TempDir>,
}

static DATABASES: AtomicU32 = AtomicU32::new(0);

impl BenchDb {
    pub async fn fresh(backend: &'static str, mysql: &str) -> BenchDb {
        let db = match backend {
            "sqlite" => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("bench.db").display()
                );
                BenchDb {
                    url,
                    backend,
                    admin: None,
                    _dir: Some(dir),
                }
            }
            _ => {
                let name = format!(
                    "abbench_{}_{}",
                    std::process::id(),
                    DATABASES.fetch_add(1, Ordering::Relaxed)
                );
                let admin = Database::connect(mysql).await.expect("MariaDB");
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS `{name}`"))
                    .await
                    .expect("drop");
                admin
                    .execute_unprepared(&format!(
                        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                    ))
                    .await
                    .expect("create database");
                BenchDb {
                    url: format!("{mysql}/{name}"),
                    backend,
                    admin: Some((admin, name)),
                    _dir: None,
                }
            }
        };
        let store = db.store().await;
        store.migrate().await.expect("migrate");
        store.close().await;
        db
    }

    pub async fn store(&self) -> Store {
        Store::connect(&DatabaseUrl::new(self.url.clone()), PoolOptions::default())
            .await
            .expect("store")
    }

    pub async fn connect(&self) -> DatabaseConnection {
        Database::connect(self.url.as_str()).await.expect("connect")
    }

    pub async fn drop_database(self) {
        if let Some((admin, name)) = &self.admin {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS `{name}`"))
                .await;
        }
    }

    /// Moves every stored time back by `by`, as if that much time had passed.
    pub async fn move_time_back(&self, by: Duration) {
        let db = self.connect().await;
        let columns: &[(&str, &[&str])] = &[
            (
                "artists",
                &[
                    "fetched_at",
                    "deezer_checked_at",
                    "profile_refreshed_at",
                    "tracks_refreshed_at",
                    "related_refreshed_at",
                    "created_at",
                    "spotify_checked_at",
                ],
            ),
            ("deezer_artists", &["checked_at"]),
            ("top_tracks", &["fetched_at"]),
            ("related_artists", &["fetched_at"]),
            ("sync_runs", &["started_at", "finished_at"]),
            ("provider_state", &["blocked_until", "checked_at"]),
        ];
        for (table, cols) in columns {
            let sets: Vec<String> = cols
                .iter()
                .map(|c| format!("{c} = {}", self.earlier(c, by)))
                .collect();
            db.execute_unprepared(&format!("UPDATE {table} SET {}", sets.join(", ")))
                .await
                .expect("moving time back");
        }
        db.close().await.ok();
    }

    /// Moves the profile times of `ids` back by `by` more.
    pub async fn age_profiles(&self, ids: &[String], by: Duration) {
        if ids.is_empty() {
            return;
        }
        let db = self.connect().await;
        let list: Vec<String> = ids.iter().map(|id| format!("'{id}'")).collect();
        db.execute_unprepared(&format!(
            "UPDATE artists SET profile_refreshed_at = {} WHERE id IN ({})",
            self.earlier("profile_refreshed_at", by),
            list.join(",")
        ))
        .await
        .expect("ageing profiles");
        db.close().await.ok();
    }

    fn earlier(&self, column: &str, by: Duration) -> String {
        let seconds = by.as_secs();
        match self.backend {
            "sqlite" => format!("datetime({column}, '-{seconds} seconds')"),
            _ => format!("{column} - INTERVAL {seconds} SECOND"),
        }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let db = self.connect().await;
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .expect("count")
            .expect("a row");
        let n = row.try_get_by_index::<i64>(0).expect("a number");
        db.close().await.ok();
        n
    }
}

/// What one `artistbot` process did.
pub struct ChildRun {
    pub stdout: String,
    pub seconds: f64,
    pub peak_rss_mb: f64,
    /// CPU time the child used (user + system).
    pub cpu_seconds: f64,
}

impl ChildRun {
    /// The number just before `marker` in the output (e.g. " SQL statements").
    pub fn number_before(&self, marker: &str) -> Option<f64> {
        let end = self.stdout.find(marker)?;
        let start = self.stdout[..end]
            .rfind(|c: char| !c.is_ascii_digit())
            .map_or(0, |i| i + 1);
        self.stdout[start..end].parse().ok()
    }

    pub fn completed(&self) -> bool {
        self.stdout.contains(" completed:")
    }

    pub fn head(&self) -> String {
        let lines: Vec<&str> = self.stdout.lines().collect();
        lines[lines.len().saturating_sub(12)..].join("\n")
    }
}

/// Runs `artistbot ARGS` with exactly `env`, in `dir`; returns its output, wall time,
/// peak RSS and CPU time. The peak is the child's `VmHWM`, read every 5 ms while it runs:
/// `wait4`'s `ru_maxrss` would count this process's own size at the spawn (the child
/// starts as a copy of it), and this process holds the fake's worlds and call logs. With `BENCH_PERF_DIR` set, the child runs under
/// `perf record` (DWARF call graphs), one `perf-N.data` per child in that directory: the
/// times are then the profiler's, not artistbot's.
pub async fn run_artistbot(args: &[&str], env: &HashMap<String, String>, dir: &Path) -> ChildRun {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env = env.clone();
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let (stdout, usage, peak_kb) = run_child(&args, &env, &dir);
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        ChildRun {
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            seconds: started.elapsed().as_secs_f64(),
            peak_rss_mb: peak_kb as f64 / 1024.0,
            cpu_seconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        }
    })
    .await
    .expect("the child's thread")
}

// The child is reaped by `wait4` (which also reports its resource use), not `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_child(
    args: &[String],
    env: &HashMap<String, String>,
    dir: &Path,
) -> (Vec<u8>, libc::rusage, u64) {
    static PROFILED: AtomicU32 = AtomicU32::new(0);
    let binary = env!("CARGO_BIN_EXE_artistbot");
    let mut command = match std::env::var_os("BENCH_PERF_DIR") {
        Some(perf_dir) => {
            let n = PROFILED.fetch_add(1, Ordering::Relaxed);
            let mut perf = Command::new("perf");
            perf.arg("record")
                .args(["-F", "1999", "--call-graph", "dwarf,16384", "-o"])
                .arg(Path::new(&perf_dir).join(format!("perf-{n}.data")))
                .arg("--")
                .arg(binary);
            perf
        }
        None => Command::new(binary),
    };
    let mut child = command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting artistbot");
    let status_file = format!("/proc/{}/status", child.id());
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        // Until the process is gone or a zombie (whose status has no VmHWM).
        while let Some(kb) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|status| vm_hwm_kb(&status))
        {
            peak = kb;
            std::thread::sleep(Duration::from_millis(5));
        }
        peak
    });
    let mut stdout = Vec::new();
    std::io::Read::read_to_end(child.stdout.as_mut().expect("piped"), &mut stdout).ok();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for a child this process spawned and has not waited for yet.
    unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let peak_kb = sampler.join().unwrap_or(0);
    (stdout, usage, peak_kb)
}

fn vm_hwm_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) this process has used so far: the fake upstream's, while a
/// child runs.
pub fn own_cpu_seconds() -> f64 {
    // SAFETY: an all-zero rusage is a valid value; getrusage fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid out pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The floor of one run: how long the database and the upstream alone take for its work.
pub struct Floor {
    pub database: f64,
    pub upstream: f64,
    pub rows: usize,
}

impl Floor {
    pub fn ratio(&self, seconds: f64) -> f64 {
        seconds / self.database.max(self.upstream)
    }
}

/// Times the floor of a finished run: the artists, top tracks and related rows it stored
/// (read back from `synced`) bulk-inserted into a fresh database, and the upstream calls
/// it made (`calls`) replayed against `fake` at `concurrency`.
pub async fn measure_floor(
    synced: &BenchDb,
    mysql: &str,
    fake: &FakeUpstream,
    calls: &[CallRecord],
    concurrency: usize,
) -> Floor {
    let (database, rows) = bulk_insert_floor(synced, mysql).await;
    let upstream = replay(fake, calls, concurrency).await;
    Floor {
        database,
        upstream,
        rows,
    }
}

/// Rows per multi-row INSERT: within SQLite's 32,766 bound variables for the widest table.
const ROWS_PER_INSERT: usize = 1000;

async fn bulk_insert_floor(synced: &BenchDb, mysql: &str) -> (f64, usize) {
    let source = synced.connect().await;
    let artists = rows_of::<entity::artists::Entity>(&source).await;
    let tracks = rows_of::<entity::top_tracks::Entity>(&source).await;
    let related = rows_of::<entity::related_artists::Entity>(&source).await;
    source.close().await.ok();
    let rows = artists.1.len() + tracks.1.len() + related.1.len();
    let target = BenchDb::fresh(synced.backend, mysql).await;
    let db = target.connect().await;
    let started = Instant::now();
    for (table, (columns, values)) in [
        ("artists", artists),
        ("top_tracks", tracks),
        ("related_artists", related),
    ] {
        // One transaction per table, one statement per thousand rows.
        let txn = db.begin().await.expect("begin");
        for chunk in values.chunks(ROWS_PER_INSERT) {
            let row = format!("({})", vec!["?"; columns.len()].join(","));
            let sql = format!(
                "INSERT INTO {table} ({}) VALUES {}",
                columns.join(","),
                vec![row.as_str(); chunk.len()].join(",")
            );
            let values: Vec<Value> = chunk.iter().flatten().cloned().collect();
            txn.execute_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                sql,
                values,
            ))
            .await
            .expect("bulk insert");
        }
        txn.commit().await.expect("commit");
    }
    let seconds = started.elapsed().as_secs_f64();
    db.close().await.ok();
    target.drop_database().await;
    (seconds, rows)
}

/// Every row of one table as values, with the column names.
async fn rows_of<E: EntityTrait>(db: &DatabaseConnection) -> (Vec<String>, Vec<Vec<Value>>)
where
    E::Column: Iterable,
{
    let columns: Vec<String> = E::Column::iter().map(|c| c.as_str().to_owned()).collect();
    let models = E::find().all(db).await.expect("reading rows");
    let rows = models
        .iter()
        .map(|m| E::Column::iter().map(|c| m.get(c)).collect())
        .collect();
    (columns, rows)
}

/// Replays `calls` (Spotify API and Deezer requests) against `fake`, `concurrency` at a
/// time, with one Spotify token fetched beforehand; returns the seconds taken.
async fn replay(fake: &FakeUpstream, calls: &[CallRecord], concurrency: usize) -> f64 {
    let http = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let base = fake.base_url();
    let token: serde_json::Value = http
        .post(format!("{base}/spotify/api/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap_or(""));
    let requests: Vec<(bool, String)> = calls
        .iter()
        .filter(|c| c.provider != Provider::SpotifyToken)
        .map(|c| {
            let url = if c.query.is_empty() {
                format!("{base}{}", c.path)
            } else {
                format!("{base}{}?{}", c.path, c.query)
            };
            (c.provider == Provider::SpotifyApi, url)
        })
        .collect();
    let started = Instant::now();
    futures::stream::iter(requests)
        .map(|(spotify, url)| {
            let mut request = http.get(url);
            if spotify {
                request = request.header("authorization", bearer.as_str());
            }
            async move {
                let response = request.send().await.expect("replayed call");
                response.bytes().await.expect("replayed body");
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>()
        .await;
    started.elapsed().as_secs_f64()
}
