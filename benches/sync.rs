//! Sync benchmark: `cargo bench --bench sync [-- --quick]`.
//!
//! Runs the real `artistbot sync` binary (release build) against the fake Spotify and
//! Deezer of `testkit`, over N synthetic artists seeded as an import would leave them
//! (everything due), on SQLite and on MariaDB (`BENCH_MYSQL_URL`, default
//! mysql://root@127.0.0.1:3306; skipped if unreachable). For each scenario it prints
//! artists per second, API calls per artist per provider, SQL statements per artist and
//! the sync process's peak RSS. Numbers are printed, never asserted.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use artistbot::catalog::{AddedVia, ArtistProfile, NewArtist, Source};
use artistbot::config::DatabaseUrl;
use artistbot::store::{PoolOptions, Store};
use sea_orm::{ConnectionTrait, Database};
use testkit::fake::{FakeUpstream, SpotifyMode, World};

struct Scenario {
    name: &'static str,
    artists: u64,
    mode: SpotifyMode,
    latency: Duration,
    env: Vec<(&'static str, &'static str)>,
    /// The provider limit this scenario is about: (provider, requests in one window,
    /// requests per second allowed).
    binding_limit: Option<(&'static str, f64, f64)>,
}

const LIFTED: &[(&str, &str)] = &[
    ("SPOTIFY_MAX_REQUESTS", "0"),
    ("DEEZER_MAX_REQUESTS", "0"),
    ("SPOTIFY_RUN_BUDGET", "1000000"),
    ("SPOTIFY_DAILY_BUDGET", "1000000"),
    ("SYNC_MAX_NEW_ARTISTS", "0"),
    ("SYNC_CONCURRENCY", "16"),
];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    // `--only TEXT`: run the scenarios whose name (or database) contains TEXT.
    let only: Option<String> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let scale = |n: u64| if quick { n / 10 } else { n };
    let scenarios = vec![
        Scenario {
            name: "first sync, Development Mode, 0 ms upstream, limits lifted",
            artists: scale(2000),
            mode: SpotifyMode::Development,
            latency: Duration::ZERO,
            env: LIFTED.to_vec(),
            binding_limit: None,
        },
        Scenario {
            name: "first sync, Extended Quota, 0 ms upstream, limits lifted",
            artists: scale(2000),
            mode: SpotifyMode::Extended,
            latency: Duration::ZERO,
            env: LIFTED.to_vec(),
            binding_limit: None,
        },
        Scenario {
            name: "first sync, Development Mode, 50 ms upstream, limits lifted",
            artists: scale(500),
            mode: SpotifyMode::Development,
            latency: Duration::from_millis(50),
            env: LIFTED.to_vec(),
            binding_limit: None,
        },
        Scenario {
            name: "Deezer limit binds (default 45 per 5 s), 20 ms upstream",
            artists: scale(120),
            mode: SpotifyMode::Development,
            latency: Duration::from_millis(20),
            env: LIFTED
                .iter()
                .copied()
                .filter(|(k, _)| *k != "DEEZER_MAX_REQUESTS")
                .collect(),
            binding_limit: Some(("deezer", 45.0, 45.0 / 5.0)),
        },
        Scenario {
            name: "Spotify limit binds (20 per 2 s), Extended Quota, 20 ms upstream",
            artists: scale(120),
            mode: SpotifyMode::Extended,
            latency: Duration::from_millis(20),
            env: LIFTED
                .iter()
                .copied()
                .filter(|(k, _)| *k != "SPOTIFY_MAX_REQUESTS")
                .chain([("SPOTIFY_MAX_REQUESTS", "20"), ("SPOTIFY_WINDOW", "2s")])
                .collect(),
            binding_limit: Some(("spotify", 20.0, 20.0 / 2.0)),
        },
    ];
    let mysql =
        std::env::var("BENCH_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
    let mysql_up = Database::connect(mysql.as_str()).await.is_ok();
    if !mysql_up {
        println!("MariaDB at {mysql} unreachable: SQLite only");
    }
    println!(
        "| scenario | db | artists | seconds | artists/s | Spotify calls/artist | Deezer calls/artist | SQL statements/artist | peak RSS MB | limit use |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for scenario in &scenarios {
        for backend in ["sqlite", "mariadb"] {
            if backend == "mariadb" && !mysql_up {
                continue;
            }
            if let Some(only) = &only
                && !scenario.name.contains(only.as_str())
                && backend != only
            {
                continue;
            }
            run(scenario, backend, &mysql).await;
        }
    }
}

async fn run(scenario: &Scenario, backend: &str, mysql: &str) {
    let n = scenario.artists.max(2);
    let world = World::synthetic(n, 10, 10);
    let seeded: Vec<(String, String)> = world
        .spotify
        .values()
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect();
    let fake = FakeUpstream::start(world, scenario.mode).await;
    fake.set_latency(scenario.latency);

    let dir = tempfile::tempdir().expect("temp dir");
    let (url, drop_db) = match backend {
        "sqlite" => (
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            ),
            None,
        ),
        _ => {
            let name = format!("abbench_{}", std::process::id());
            let admin = Database::connect(mysql).await.expect("MariaDB");
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS `{name}`"))
                .await
                .unwrap();
            admin
                .execute_unprepared(&format!(
                    "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                ))
                .await
                .unwrap();
            (format!("{mysql}/{name}"), Some((admin, name)))
        }
    };
    let store = Store::connect(&DatabaseUrl::new(url.clone()), PoolOptions::default())
        .await
        .expect("store");
    store.migrate().await.expect("migrate");
    let seed: Vec<NewArtist> = seeded
        .iter()
        .map(|(id, name)| NewArtist {
            profile: ArtistProfile {
                id: id.clone(),
                name: name.clone(),
                followers: None,
                popularity: None,
                url: None,
                image_url: None,
                genres: Vec::new(),
            },
            source: Source::Import,
            deezer_id: None,
            deezer_fans: None,
            added_via: AddedVia::Import,
        })
        .collect();
    for chunk in seed.chunks(500) {
        store
            .add_artists(chunk, artistbot::store::now())
            .await
            .expect("seed");
    }
    store.close().await;

    let mut env: HashMap<String, String> = fake.env().into_iter().collect();
    env.insert("DATABASE_URL".into(), url);
    env.insert(
        "RUST_LOG".into(),
        std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into()),
    );
    for (k, v) in &scenario.env {
        env.insert(k.to_string(), v.to_string());
    }
    let started = Instant::now();
    let (output, peak_rss_kb) = tokio::task::spawn_blocking(move || run_sync(&env))
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output);
    let statements = number_before(&stdout, " SQL statements").unwrap_or(0.0);
    let spotify = fake.spotify_api_calls() as f64;
    let deezer = fake.deezer_calls() as f64;
    // A sliding-window limit lets the first window's worth through at once; after that
    // calls can go no faster than the limit. The fastest possible run therefore takes
    // (calls - burst) / rate; how close the run came to that is how well it used the limit.
    let limit_use = scenario.binding_limit.map(|(provider, burst, allowed)| {
        let calls = if provider == "deezer" { deezer } else { spotify };
        let fastest = (calls - burst).max(0.0) / allowed;
        format!(
            "{provider}: {calls:.0} calls, {:.1}/s after the first window's burst, {:.0}% of the {allowed:.0}/s limit",
            (calls - burst).max(0.0) / seconds,
            100.0 * fastest / seconds
        )
    });
    if !stdout.contains("completed") {
        eprintln!(
            "run did not complete:\n{}",
            stdout.lines().take(12).collect::<Vec<_>>().join("\n")
        );
    }
    println!(
        "| {} | {backend} | {n} | {seconds:.1} | {:.0} | {:.2} | {:.2} | {:.1} | {:.0} | {} |",
        scenario.name,
        n as f64 / seconds,
        spotify / n as f64,
        deezer / n as f64,
        statements / n as f64,
        peak_rss_kb as f64 / 1024.0,
        limit_use.unwrap_or_else(|| "-".into()),
    );
    if let Some((admin, name)) = drop_db {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS `{name}`"))
            .await;
    }
}

/// Runs `artistbot sync` and returns its stdout and peak RSS (KiB) from `wait4`.
// The child is reaped by `wait4` (which also reports its resource use), not `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_sync(env: &HashMap<String, String>) -> (Vec<u8>, i64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_artistbot"))
        .arg("sync")
        .current_dir(std::env::temp_dir())
        .env_clear()
        .envs(env)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting artistbot");
    let mut stdout = Vec::new();
    std::io::Read::read_to_end(child.stdout.as_mut().expect("piped"), &mut stdout).ok();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for a child this process spawned and has not waited for yet.
    unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    (stdout, usage.ru_maxrss)
}

fn number_before(text: &str, marker: &str) -> Option<f64> {
    let end = text.find(marker)?;
    let start = text[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    text[start..end].parse().ok()
}
