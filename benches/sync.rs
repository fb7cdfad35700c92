//! Sync benchmark: `cargo bench --bench sync [-- --quick] [-- --only TEXT]`.
//!
//! Runs the real `artistbot` binary (release build) against the fake Spotify and Deezer
//! of `testkit` on loopback, on SQLite and on MariaDB (`BENCH_MYSQL_URL`, default
//! mysql://root@127.0.0.1:3306; skipped if unreachable), a fresh database per run.
//! Numbers are printed, never asserted. The scenarios:
//!
//! - **first sync without Spotify**: no Spotify credentials, an empty catalog whose
//!   starter list (`CATALOG_STARTER`) names N Deezer ids; one `artistbot sync` adds and
//!   refreshes them all from Deezer.
//! - **add --file, Extended Quota**: `artistbot add --file ids.txt` of N Spotify ids
//!   (resolved 50 per call, then refreshed in the same process), best of three.
//! - For both, **the floor**: the rows the run stored (artists, top tracks, related
//!   artists) bulk-inserted into a fresh database with multi-row INSERTs, one transaction
//!   per table; and the upstream calls the run made replayed with reqwest at the run's
//!   concurrency. artistbot's time is printed as a multiple of the larger.
//! - **nightly, Development Mode**: a catalog of N Spotify artists (seeded as an import
//!   leaves them, then a first sync), time moved forward a day with profile ages spread
//!   over the week as a settled catalog has them, and Deezer's related artists now naming
//!   N/10 artists outside the catalog; one `artistbot sync` with the default budgets.
//! - **add 40 names, Development Mode, default budgets**: how many of the 40 are left
//!   without tracks, and the Spotify calls spent.
//! - import-seeded first syncs (Development Mode, Extended Quota, 50 ms upstream) and the
//!   provider-limit scenarios (Deezer's limit binds, Spotify's limit binds).
//!
//! Peak RSS is the child's own high-water mark (`VmHWM`, sampled while it runs); CPU
//! time is the child's from `wait4`.

#[path = "support/sync_run.rs"]
mod sync_run;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use artistbot::catalog::{AddedVia, ArtistProfile, NewArtist, Source};
use sea_orm::Database;
use sync_run::{BenchDb, ChildRun, Floor, measure_floor, run_artistbot};
use testkit::fake::{FakeUpstream, Provider, SpotifyMode, World};

/// Provider pacing and budgets out of the way: the run goes as fast as it can.
const LIFTED: &[(&str, &str)] = &[
    ("SPOTIFY_MAX_REQUESTS", "0"),
    ("DEEZER_MAX_REQUESTS", "0"),
    ("SPOTIFY_RUN_BUDGET", "1000000"),
    ("SPOTIFY_DAILY_BUDGET", "1000000"),
    ("SYNC_MAX_NEW_ARTISTS", "0"),
    ("SYNC_CONCURRENCY", "16"),
];
/// Only the pacing lifted (the fake has no real limits): budgets stay at their defaults.
const PACING_LIFTED: &[(&str, &str)] = &[
    ("SPOTIFY_MAX_REQUESTS", "0"),
    ("DEEZER_MAX_REQUESTS", "0"),
    ("SYNC_CONCURRENCY", "16"),
];
const CONCURRENCY: usize = 16;

struct Bench {
    quick: bool,
    only: Option<String>,
    mysql: String,
    backends: Vec<&'static str>,
}

impl Bench {
    fn scale(&self, n: u64) -> u64 {
        if self.quick { (n / 10).max(2) } else { n }
    }

    fn wants(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|only| name.contains(only))
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    // `--only TEXT`: run the scenarios whose name contains TEXT ("sqlite" or "mariadb"
    // picks one database).
    let only: Option<String> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let mysql =
        std::env::var("BENCH_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
    let mut backends = vec!["sqlite"];
    if Database::connect(mysql.as_str()).await.is_ok() {
        backends.push("mariadb");
    } else {
        println!("MariaDB at {mysql} unreachable: SQLite only");
    }
    if let Some(only) = &only
        && (only == "sqlite" || only == "mariadb")
    {
        backends.retain(|b| b == only);
    }
    let only = only.filter(|o| o != "sqlite" && o != "mariadb");
    let bench = Bench {
        quick,
        only,
        mysql,
        backends,
    };
    println!(
        "load average before: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );

    let mut table = SyncTable::default();
    if bench.wants("first sync without Spotify") {
        for backend in bench.backends.clone() {
            first_sync_without_spotify(&bench, backend, &mut table).await;
        }
    }
    if bench.wants("add --file") {
        for backend in bench.backends.clone() {
            add_file_extended(&bench, backend, &mut table).await;
        }
    }
    for scenario in seeded_scenarios(&bench) {
        if bench.wants(scenario.name) {
            for backend in bench.backends.clone() {
                seeded_sync(&bench, &scenario, backend, &mut table).await;
            }
        }
    }
    table.print();
    if bench.wants("nightly") {
        println!();
        println!(
            "| nightly, Development Mode, default budgets | db | artists | first sync s | night s | Spotify calls | Spotify calls/artist | Deezer calls/artist | SQL statements/artist | artists grown via Deezer | Spotify calls on growth | peak RSS MB |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
        for backend in bench.backends.clone() {
            nightly(&bench, backend).await;
        }
    }
    if bench.wants("add 40 names") {
        println!();
        println!(
            "| add 40 names, Development Mode, default budgets | db | seconds | added | without tracks afterwards | Spotify calls | Deezer calls | artists grown | report |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for backend in bench.backends.clone() {
            add_names(&bench, backend).await;
        }
    }
    println!(
        "load average after: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
}

/// The main table: one row per process run.
#[derive(Default)]
struct SyncTable {
    rows: Vec<String>,
}

struct Row<'a> {
    scenario: &'a str,
    backend: &'a str,
    artists: u64,
    run: &'a ChildRun,
    spotify_calls: usize,
    deezer_calls: usize,
    floor: Option<&'a Floor>,
    limit_use: Option<String>,
}

impl SyncTable {
    fn push(&mut self, row: Row) {
        let n = row.artists as f64;
        let statements = row.run.number_before(" SQL statements").unwrap_or(0.0);
        let floor = match row.floor {
            Some(f) => format!(
                "{:.2} ({} rows) | {:.2} | {:.1}×",
                f.database,
                f.rows,
                f.upstream,
                f.ratio(row.run.seconds)
            ),
            None => "- | - | -".into(),
        };
        let line = format!(
            "| {} | {} | {} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} | {:.0} | {floor} | {} |",
            row.scenario,
            row.backend,
            row.artists,
            row.run.seconds,
            row.run.cpu_seconds,
            n / row.run.seconds,
            row.spotify_calls as f64 / n,
            row.deezer_calls as f64 / n,
            statements / n,
            row.run.peak_rss_mb,
            row.limit_use.unwrap_or_else(|| "-".into()),
        );
        // Progress on stderr; the table comes at the end.
        eprintln!("{line}");
        if !row.run.completed() {
            eprintln!("run did not complete:\n{}", row.run.head());
        }
        self.rows.push(line);
    }

    fn print(&self) {
        if self.rows.is_empty() {
            return;
        }
        println!();
        println!(
            "| scenario | db | artists | seconds | artistbot CPU s | artists/s | Spotify calls/artist | Deezer calls/artist | SQL statements/artist | peak RSS MB | floor: DB bulk insert s | floor: upstream replay s | × floor | limit use, notes |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for row in &self.rows {
            println!("{row}");
        }
    }
}

/// The environment for one child: the fake's, the database, quiet logs, then `extra`.
fn child_env(fake: &FakeUpstream, db: &BenchDb, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = fake.env().into_iter().collect();
    env.insert("DATABASE_URL".into(), db.url.clone());
    env.insert(
        "RUST_LOG".into(),
        std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into()),
    );
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    env
}

/// Deezer ids of `World::synthetic`'s artists.
fn synthetic_deezer_id(n: u64) -> i64 {
    10_000 + n as i64
}

/// 1. A fresh machine with no Spotify app: the first sync starts from a starter list of
///    N Deezer ids and fills the catalog from Deezer alone.
async fn first_sync_without_spotify(bench: &Bench, backend: &'static str, table: &mut SyncTable) {
    let n = bench.scale(2000);
    let fake = FakeUpstream::start(World::synthetic(n, 10, 10), SpotifyMode::Development).await;
    let db = BenchDb::fresh(backend, &bench.mysql).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let starter = dir.path().join("starter.txt");
    let lines: Vec<String> = (0..n)
        .map(|i| format!("deezer:{}", synthetic_deezer_id(i)))
        .collect();
    std::fs::write(&starter, lines.join("\n")).expect("starter list");
    let starter = starter.display().to_string();
    let mut extra = LIFTED.to_vec();
    extra.extend([
        ("SPOTIFY_CLIENT_ID", ""),
        ("SPOTIFY_CLIENT_SECRET", ""),
        ("CATALOG_STARTER", starter.as_str()),
    ]);
    let env = child_env(&fake, &db, &extra);
    let fake_cpu = sync_run::own_cpu_seconds();
    let run = run_artistbot(&["sync"], &env, dir.path()).await;
    let fake_cpu = sync_run::own_cpu_seconds() - fake_cpu;
    let calls = fake.calls();
    let floor = measure_floor(&db, &bench.mysql, &fake, &calls, CONCURRENCY).await;
    table.push(Row {
        scenario: "first sync without Spotify (starter list of Deezer ids), 0 ms upstream, limits lifted",
        backend,
        artists: n,
        run: &run,
        spotify_calls: fake.spotify_api_calls(),
        deezer_calls: count(&calls, Provider::Deezer),
        floor: Some(&floor),
        limit_use: Some(format!("(fake upstream CPU meanwhile: {fake_cpu:.2} s)")),
    });
    db.drop_database().await;
}

fn count(calls: &[testkit::fake::CallRecord], provider: Provider) -> usize {
    calls.iter().filter(|c| c.provider == provider).count()
}

/// 2. `artistbot add --file` of N Spotify ids in Extended Quota (it refreshes what it
///    added), three times, each on a fresh database; the floor of the last.
async fn add_file_extended(bench: &Bench, backend: &'static str, table: &mut SyncTable) {
    let n = bench.scale(2000);
    let world = World::synthetic(n, 10, 10);
    let ids: Vec<String> = world.spotify.keys().cloned().collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("ids.txt");
    std::fs::write(&file, ids.join("\n")).expect("ids file");
    let file = file.display().to_string();
    let mut best = f64::MAX;
    for attempt in 1..=3 {
        let fake = FakeUpstream::start(world.clone(), SpotifyMode::Extended).await;
        let db = BenchDb::fresh(backend, &bench.mysql).await;
        let env = child_env(&fake, &db, LIFTED);
        let fake_cpu = sync_run::own_cpu_seconds();
        let run = run_artistbot(&["add", "--file", &file], &env, dir.path()).await;
        let fake_cpu = sync_run::own_cpu_seconds() - fake_cpu;
        best = best.min(run.seconds);
        let calls = fake.calls();
        let floor = if attempt == 3 {
            Some(measure_floor(&db, &bench.mysql, &fake, &calls, CONCURRENCY).await)
        } else {
            None
        };
        let scenario = format!(
            "add --file of Spotify ids + refresh, Extended Quota, 0 ms upstream, limits lifted (run {attempt}{})",
            if attempt == 3 {
                format!("; best of three {best:.2} s")
            } else {
                String::new()
            }
        );
        table.push(Row {
            scenario: &scenario,
            backend,
            artists: n,
            run: &run,
            spotify_calls: count(&calls, Provider::SpotifyApi),
            deezer_calls: count(&calls, Provider::Deezer),
            floor: floor.as_ref(),
            limit_use: Some(match &floor {
                Some(f) => format!(
                    "best of three: {:.1}× floor (fake upstream CPU meanwhile: {fake_cpu:.2} s)",
                    f.ratio(best)
                ),
                None => format!("(fake upstream CPU meanwhile: {fake_cpu:.2} s)"),
            }),
        });
        db.drop_database().await;
    }
}

/// A first sync over N artists seeded as an import leaves them (Spotify ids, everything
/// due, no Deezer ids yet).
struct SeededScenario {
    name: &'static str,
    artists: u64,
    mode: SpotifyMode,
    latency: Duration,
    env: Vec<(&'static str, &'static str)>,
    /// The provider limit this scenario is about: (provider, requests in one window,
    /// requests per second allowed).
    binding_limit: Option<(&'static str, f64, f64)>,
}

fn seeded_scenarios(bench: &Bench) -> Vec<SeededScenario> {
    vec![
        SeededScenario {
            name: "first sync of imported artists, Development Mode, 0 ms upstream, limits lifted",
            artists: bench.scale(2000),
            mode: SpotifyMode::Development,
            latency: Duration::ZERO,
            env: LIFTED.to_vec(),
            binding_limit: None,
        },
        SeededScenario {
            name: "first sync of imported artists, Extended Quota, 0 ms upstream, limits lifted",
            artists: bench.scale(2000),
            mode: SpotifyMode::Extended,
            latency: Duration::ZERO,
            env: LIFTED.to_vec(),
            binding_limit: None,
        },
        SeededScenario {
            name: "first sync of imported artists, Development Mode, 50 ms upstream, limits lifted",
            artists: bench.scale(500),
            mode: SpotifyMode::Development,
            latency: Duration::from_millis(50),
            env: LIFTED.to_vec(),
            binding_limit: None,
        },
        SeededScenario {
            name: "Deezer limit binds (default 45 per 5 s), 20 ms upstream",
            artists: bench.scale(120),
            mode: SpotifyMode::Development,
            latency: Duration::from_millis(20),
            env: LIFTED
                .iter()
                .copied()
                .filter(|(k, _)| *k != "DEEZER_MAX_REQUESTS")
                .collect(),
            binding_limit: Some(("deezer", 45.0, 45.0 / 5.0)),
        },
        SeededScenario {
            name: "Spotify limit binds (20 per 2 s), Extended Quota, 20 ms upstream",
            artists: bench.scale(120),
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
    ]
}

/// Seeds `world`'s Spotify artists but `leave_out` as an import leaves them.
async fn seed_imported(db: &BenchDb, world: &World, leave_out: &HashSet<String>) -> Vec<String> {
    let seed: Vec<NewArtist> = world
        .spotify
        .values()
        .filter(|a| !leave_out.contains(&a.id))
        .map(|a| NewArtist {
            profile: ArtistProfile {
                id: a.id.clone(),
                name: a.name.clone(),
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
    let store = db.store().await;
    for chunk in seed.chunks(500) {
        store
            .add_artists(chunk, artistbot::store::now())
            .await
            .expect("seed");
    }
    store.close().await;
    seed.into_iter().map(|a| a.profile.id).collect()
}

async fn seeded_sync(
    bench: &Bench,
    scenario: &SeededScenario,
    backend: &'static str,
    table: &mut SyncTable,
) {
    let n = scenario.artists.max(2);
    let world = World::synthetic(n, 10, 10);
    let db = BenchDb::fresh(backend, &bench.mysql).await;
    seed_imported(&db, &world, &HashSet::new()).await;
    let fake = FakeUpstream::start(world, scenario.mode).await;
    fake.set_latency(scenario.latency);
    let dir = tempfile::tempdir().expect("temp dir");
    let env = child_env(&fake, &db, &scenario.env);
    let run = run_artistbot(&["sync"], &env, dir.path()).await;
    let spotify = fake.spotify_api_calls();
    let deezer = fake.deezer_calls();
    // A sliding-window limit lets the first window's worth through at once; after that
    // calls can go no faster than the limit. The fastest possible run therefore takes
    // (calls - burst) / rate; how close the run came to that is how well it used the limit.
    let limit_use = scenario.binding_limit.map(|(provider, burst, allowed)| {
        let calls = if provider == "deezer" { deezer } else { spotify } as f64;
        let fastest = (calls - burst).max(0.0) / allowed;
        format!(
            "{provider}: {calls:.0} calls, {:.1}/s after the first window's burst, {:.0}% of the {allowed:.0}/s limit",
            (calls - burst).max(0.0) / run.seconds,
            100.0 * fastest / run.seconds
        )
    });
    table.push(Row {
        scenario: scenario.name,
        backend,
        artists: n,
        run: &run,
        spotify_calls: spotify,
        deezer_calls: deezer,
        floor: None,
        limit_use,
    });
    db.drop_database().await;
}

/// 4. A nightly run over an unchanged catalog in Development Mode, with growth.
async fn nightly(bench: &Bench, backend: &'static str) {
    let n = bench.scale(2000);
    let growth = bench.scale(200);
    let mut world = World::synthetic(n, 10, 10);
    // Artists outside the catalog, not yet anyone's related artist.
    let outsiders = world.add_artists(n, "Grown Artist", 900_000, growth, 10);
    let outsider_ids: HashSet<String> = outsiders.iter().cloned().collect();
    let db = BenchDb::fresh(backend, &bench.mysql).await;
    let catalog = seed_imported(&db, &world, &outsider_ids).await;
    let fake = FakeUpstream::start(world, SpotifyMode::Development).await;
    let dir = tempfile::tempdir().expect("temp dir");
    // The catalog's own first sync, as fast as it can go.
    let first = run_artistbot(&["sync"], &child_env(&fake, &db, LIFTED), dir.path()).await;
    if !first.completed() {
        eprintln!("first sync did not complete:\n{}", first.head());
    }
    // A day later: tracks and related artists are a day old; profiles (7 days) are spread
    // over the week as in a settled catalog, so a seventh of them are due tonight.
    db.move_time_back(Duration::from_secs(25 * 3600)).await;
    let mut sorted = catalog.clone();
    sorted.sort();
    for day in 1..7u64 {
        let ids: Vec<String> = sorted
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as u64 % 7 == day)
            .map(|(_, id)| id.clone())
            .collect();
        db.age_profiles(&ids, Duration::from_secs(day * 86_400))
            .await;
    }
    // Deezer now lists one outsider among the related artists of `growth` catalog artists.
    fake.update_world(|w| {
        for (i, outsider) in outsiders.iter().enumerate() {
            let Some(outsider_dz) = w.deezer_id_of(outsider) else {
                continue;
            };
            let artist = (i as u64 * n / growth) as i64;
            if let Some(a) = w.deezer.get_mut(&synthetic_deezer_id(artist as u64)) {
                a.related.pop();
                a.related.insert(0, outsider_dz);
            }
        }
    });
    fake.clear_calls();
    let night = run_artistbot(&["sync"], &child_env(&fake, &db, PACING_LIFTED), dir.path()).await;
    if !night.completed() {
        eprintln!("nightly run did not complete:\n{}", night.head());
    }
    let calls = fake.calls();
    let spotify = count(&calls, Provider::SpotifyApi);
    let deezer = count(&calls, Provider::Deezer);
    let outsider_names: Vec<String> = (0..growth).map(|i| format!("Grown Artist {i}")).collect();
    let on_growth = calls
        .iter()
        .filter(|c| c.provider == Provider::SpotifyApi)
        .filter(|c| {
            let query = c.query.replace('+', " ").replace("%20", " ");
            c.path.split('/').any(|part| outsider_ids.contains(part))
                || query
                    .split(['&', '=', ','])
                    .any(|part| outsider_ids.contains(part))
                || outsider_names
                    .iter()
                    .any(|name| query.contains(name.as_str()))
        })
        .count();
    let grown = night.number_before(" artists added").unwrap_or(0.0);
    let statements = night.number_before(" SQL statements").unwrap_or(0.0);
    let nf = n as f64;
    println!(
        "| nightly, Development Mode, default budgets | {backend} | {n} | {:.2} | {:.2} | {spotify} | {:.3} | {:.2} | {:.2} | {grown:.0} of {growth} | {on_growth} | {:.0} |",
        first.seconds,
        night.seconds,
        spotify as f64 / nf,
        deezer as f64 / nf,
        statements / nf,
        night.peak_rss_mb,
    );
    db.drop_database().await;
}

/// 5. `artistbot add` of 40 names in Development Mode with the default budgets: each
///    named artist has 10 related artists on Deezer outside the catalog.
async fn add_names(bench: &Bench, backend: &'static str) {
    let world = World::synthetic(2000, 10, 10);
    let names: Vec<String> = (0..40u64)
        .map(|i| {
            world.spotify[&testkit::fake::spotify_id(i * 50)]
                .name
                .clone()
        })
        .collect();
    let fake = FakeUpstream::start(world, SpotifyMode::Development).await;
    let db = BenchDb::fresh(backend, &bench.mysql).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("names.txt");
    std::fs::write(&file, names.join("\n")).expect("names file");
    let file = file.display().to_string();
    let run = run_artistbot(
        &["add", "--file", &file],
        &child_env(&fake, &db, PACING_LIFTED),
        dir.path(),
    )
    .await;
    let added = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("added "))
        .count() as i64;
    let added_without_tracks = db
        .count(
            "SELECT COUNT(*) FROM artists a WHERE a.added_via = 'cli' AND NOT EXISTS \
             (SELECT 1 FROM top_tracks t WHERE t.artist_id = a.id)",
        )
        .await;
    let without_tracks = (names.len() as i64 - added) + added_without_tracks;
    let grown = run.number_before(" artists added").unwrap_or(0.0);
    let report = run
        .stdout
        .lines()
        .find(|l| l.starts_with("run #"))
        .unwrap_or("")
        .to_owned();
    println!(
        "| add 40 names, Development Mode, default budgets | {backend} | {:.2} | {added} | {without_tracks} | {} | {} | {grown:.0} | {report} |",
        run.seconds,
        fake.spotify_api_calls(),
        fake.deezer_calls(),
    );
    db.drop_database().await;
}
