//! Import benchmark: generates a synthetic `aws dynamodb scan` export of the old bot's
//! three tables (about 100 MB by default), imports it into a fresh database, MariaDB/MySQL
//! (when `TEST_MYSQL_URL` is set) and SQLite, and prints items per second and the peak
//! resident memory (VmHWM) of each import.
//!
//! ```text
//! TEST_MYSQL_URL=mysql://root@127.0.0.1:3306 cargo bench -j1 --bench import -- [MEGABYTES] [mysql] [sqlite]
//! ```
//!
//! Each import runs in a child process of this binary, so its VmHWM is that import's own
//! peak (runtime, connection pool, reader and groups included), not the generator's. Each
//! database gets two: the import, which writes everything, and a re-import of the same
//! files, which finds every row unchanged. `IMPORT_BENCH_CONNECTIONS` sets the pool size
//! (default: the command's). `IMPORT_BENCH_DIR=DIR` writes the export there and keeps it,
//! to time the real command on it (`/usr/bin/time -v artistbot import dynamodb DIR/*.json`).

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use artistbot::config::DatabaseUrl;
use artistbot::import::{EventSink, ImportEvent, ImportOptions, import_dynamodb};
use artistbot::store::{PoolOptions, Store};
use chrono::NaiveDate;
use testkit::db::TestDb;
use testkit::export::write_scan_export;

/// First argument of the child process.
const CHILD: &str = "--import-child";

fn main() -> ExitCode {
    // `cargo bench` adds `--bench`; harness-less benches parse their own arguments.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| arg != "--bench")
        .collect();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let result = if args.first().map(String::as_str) == Some(CHILD) {
        runtime.block_on(child(&args[1..]))
    } else {
        runtime.block_on(parent(&args))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("import bench: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn parent(args: &[String]) -> Result<(), String> {
    let megabytes: u64 = args.iter().find_map(|arg| arg.parse().ok()).unwrap_or(100);
    let mut backends: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|arg| matches!(*arg, "mysql" | "sqlite"))
        .collect();
    if backends.is_empty() {
        backends = vec!["mysql", "sqlite"];
    }

    let temporary = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = match std::env::var_os("IMPORT_BENCH_DIR") {
        Some(kept) => PathBuf::from(kept),
        None => temporary.path().to_owned(),
    };
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let export = write_scan_export(&dir, megabytes * 1024 * 1024)
        .map_err(|e| format!("generating the export: {e}"))?;
    println!(
        "generated {} items ({} artists, {} top tracks, {} related rows), {:.1} MB of scan output in 3 files, in {:.1} s",
        export.items,
        export.artist_count,
        export.artist_count * testkit::export::TRACKS_PER_ARTIST,
        export.artist_count * testkit::export::RELATED_PER_ARTIST,
        export.bytes as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64()
    );

    for backend in backends {
        let db = match backend {
            "mysql" => match TestDb::mysql().await {
                Some(db) => db,
                None => {
                    println!("mysql: skipped (set TEST_MYSQL_URL)");
                    continue;
                }
            },
            _ => TestDb::sqlite().await,
        };
        let store = Store::connect(&DatabaseUrl::new(db.url.clone()), PoolOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        store.migrate().await.map_err(|e| e.to_string())?;
        store.close().await;

        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        for pass in ["import", "re-import"] {
            let output = Command::new(&exe)
                .arg(CHILD)
                .arg(format!("{backend} {pass}"))
                .arg(&db.url)
                .args(export.files())
                .output()
                .map_err(|e| format!("starting the import process: {e}"))?;
            print!("{}", String::from_utf8_lossy(&output.stdout));
            if !output.status.success() {
                return Err(format!(
                    "the {backend} {pass} failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
    }
    Ok(())
}

/// `--import-child LABEL URL FILE...`: imports once and prints the figures.
async fn child(args: &[String]) -> Result<(), String> {
    let [label, url, files @ ..] = args else {
        return Err("usage: --import-child LABEL URL FILE...".into());
    };
    let mut pool = PoolOptions::default();
    if let Some(connections) = std::env::var("IMPORT_BENCH_CONNECTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        pool.max_connections = connections;
    }
    let store = Store::connect(&DatabaseUrl::new(url.clone()), pool)
        .await
        .map_err(|e| e.to_string())?;
    let baseline = status_kb("VmHWM");
    let rejected = Arc::new(AtomicU64::new(0));
    let counter = rejected.clone();
    let events: EventSink = Arc::new(move |event| {
        if let ImportEvent::Rejected(rejection) = event {
            counter.fetch_add(1, Ordering::Relaxed);
            eprintln!("rejected {rejection}");
        }
    });
    let options = ImportOptions {
        files: files.iter().map(PathBuf::from).collect(),
        table: None,
        fetched_at: NaiveDate::from_ymd_opt(2023, 1, 10).and_then(|d| d.and_hms_opt(0, 0, 0)),
        dry_run: false,
        tracks_kept: 10,
        related_kept: 10,
    };
    let report = import_dynamodb(&store, &options, events)
        .await
        .map_err(|e| e.to_string())?;
    let total = report.total();
    let seconds = report.elapsed.as_secs_f64();
    println!(
        "{label:<16}: {} items in {seconds:.2} s = {:.0} items/s; imported {}, unchanged {}, left out {}, rejected {}; {} statements; {} connections; peak RSS (VmHWM) {:.1} MB ({:.1} MB before importing)",
        total.read,
        total.read as f64 / seconds,
        total.imported,
        total.unchanged,
        total.left_out,
        total.rejected,
        store.statements_sent(),
        pool.max_connections,
        status_kb("VmHWM") as f64 / 1024.0,
        baseline as f64 / 1024.0,
    );
    if rejected.load(Ordering::Relaxed) > 0 {
        return Err("the synthetic export should import without rejections".into());
    }
    Ok(())
}

/// A `kB` field of /proc/self/status (Linux; 0 elsewhere).
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let rest = line.strip_prefix(field)?.strip_prefix(':')?;
                rest.trim().trim_end_matches("kB").trim().parse().ok()
            })
        })
        .unwrap_or(0)
}
