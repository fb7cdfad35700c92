//! The skill endpoint under load: the real `artistbot serve` process on a fresh
//! 2,000-artist MariaDB catalog, asked a mix of names at a fixed rate.
//!
//! ```text
//! cargo bench --bench skill_serve
//! ```
//! Environment: `BENCH_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`), `BENCH_RPS`
//! (200), `BENCH_SECONDS` (20), `BENCH_ARTISTS` (2000), `BENCH_COLD_STARTS` (5); the
//! server's own settings pass through (`SKILL_CACHE_TTL=0` measures without the reply
//! cache).
//!
//! It prints cold start (process spawn to the first answered request that read the
//! catalog, database connection included), then throughput and latency percentiles of
//! an open-loop run (requests are sent on schedule whether or not earlier ones are
//! done, and latency counts from the scheduled time, so a stall shows up in full), then
//! the most a closed loop of 8 clients gets through. The database is dropped at the end.

#[path = "support/skill_bench.rs"]
mod skill_bench;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use artistbot::config::DatabaseUrl;
use artistbot::store::{PoolOptions, Store};
use futures::StreamExt;
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;

use self::skill_bench::{Catalog, Kind, env_or, kakao_request, load_average, ms, seed};

const SERVE_BINARY: &str = env!("CARGO_BIN_EXE_artistbot");

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> Result<()> {
    let server = std::env::var("BENCH_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
        .trim_end_matches('/')
        .to_owned();
    let rps: u64 = env_or("BENCH_RPS", 200);
    let seconds: u64 = env_or("BENCH_SECONDS", 20);
    let artists: usize = env_or("BENCH_ARTISTS", 2000);
    let cold_starts: usize = env_or("BENCH_COLD_STARTS", 5);
    let database = format!("artistbot_bench_{}", std::process::id());
    let admin = Database::connect(server.as_str())
        .await
        .with_context(|| format!("connecting to {server}"))?;
    admin
        .execute_unprepared(&format!(
            "CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))
        .await?;
    let url = format!("{server}/{database}");
    let result = bench(&url, rps, seconds, artists, cold_starts).await;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS `{database}`"))
        .await?;
    result
}

async fn bench(
    url: &str,
    rps: u64,
    seconds: u64,
    artists: usize,
    cold_starts: usize,
) -> Result<()> {
    let store = Store::connect(&DatabaseUrl::new(url), PoolOptions::default()).await?;
    store.migrate().await?;
    let started = Instant::now();
    let catalog = seed(&store, artists).await?;
    println!(
        "catalog: {} artists, {} aliases, seeded in {:.1}s",
        catalog.names.len(),
        catalog.aliases.len(),
        started.elapsed().as_secs_f64()
    );
    store.close().await;

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(64)
        .build()?;
    let hit_body = kakao_request(&catalog.names[0]).to_string();

    // Cold start: spawn, then ask until a reply with the artist's card comes back.
    let mut colds = Vec::new();
    for _ in 0..cold_starts {
        let port = free_port()?;
        let spawned = Instant::now();
        let mut child = spawn_serve(url, port, None)?;
        let answered = first_answer(&client, port, &hit_body, spawned).await;
        stop(&mut child);
        colds.push(answered?);
    }
    colds.sort();
    if !colds.is_empty() {
        println!(
            "cold start (spawn -> first catalog reply, {} runs): min {} median {} max {}",
            colds.len(),
            ms(colds[0]),
            ms(colds[colds.len() / 2]),
            ms(colds[colds.len() - 1])
        );
    }

    let port = free_port()?;
    let log =
        std::env::temp_dir().join(format!("artistbot-bench-serve-{}.log", std::process::id()));
    let mut child = spawn_serve(url, port, Some(&log))?;
    let result = load(&client, port, &catalog, rps, seconds, &log).await;
    stop(&mut child);
    let _ = std::fs::remove_file(&log);
    result
}

/// The server's own `latency_ms` of the request lines logged so far, from line `skip` on.
fn server_latencies(log: &std::path::Path, skip: usize) -> (usize, Vec<Duration>) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("skill request"))
        .collect();
    let latencies = lines
        .iter()
        .skip(skip)
        .filter_map(|line| {
            let value = line
                .split("latency_ms=")
                .nth(1)?
                .split_whitespace()
                .next()?;
            value.parse::<f64>().ok()
        })
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .collect();
    (lines.len(), latencies)
}

fn print_percentiles(label: &str, mut latencies: Vec<Duration>) {
    if latencies.is_empty() {
        return;
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "  {label:<10} n={:<6} p50 {}  p90 {}  p99 {}  max {}",
        latencies.len(),
        ms(at(0.50)),
        ms(at(0.90)),
        ms(at(0.99)),
        ms(at(1.0))
    );
}

async fn load(
    client: &reqwest::Client,
    port: u16,
    catalog: &Catalog,
    rps: u64,
    seconds: u64,
    log: &std::path::Path,
) -> Result<()> {
    let endpoint = format!("http://127.0.0.1:{port}/skill");
    first_answer(
        client,
        port,
        &kakao_request(&catalog.names[0]).to_string(),
        Instant::now(),
    )
    .await?;
    let mut rng = fastrand::Rng::with_seed(7);
    let mut next_body = move || -> (Kind, String) {
        let roll = rng.u32(0..100);
        let (kind, query) = if roll < 60 {
            (
                Kind::Hit,
                catalog.names[rng.usize(..catalog.names.len())].clone(),
            )
        } else if roll < 80 {
            (
                Kind::AliasHit,
                catalog.aliases[rng.usize(..catalog.aliases.len())].clone(),
            )
        } else if roll < 90 {
            // A typo of a known name: a miss with suggestions.
            let name = &catalog.names[rng.usize(..catalog.names.len())];
            let kept = name.chars().count() - 1;
            (
                Kind::Miss,
                format!("{}x", name.chars().take(kept).collect::<String>()),
            )
        } else {
            (Kind::Miss, format!("never heard of {}", rng.u64(..)))
        };
        (kind, kakao_request(&query).to_string())
    };

    // Warm-up: a second at the target rate (pool, names for suggestions, caches).
    let _ = open_loop(client, &endpoint, rps, 1, &mut next_body).await;
    let (logged_before, _) = server_latencies(log, 0);
    let load_before = load_average();
    let started = Instant::now();
    let samples = open_loop(client, &endpoint, rps, seconds, &mut next_body).await;
    let elapsed = started.elapsed();
    report(
        &format!(
            "open loop at {rps} req/s for {seconds}s (load average {load_before} before, {} after)",
            load_average()
        ),
        &samples,
        elapsed,
    );
    // Give the server's log a moment to reach the file.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, server) = server_latencies(log, logged_before);
    println!("  as the server measured it (handler entry to reply, logged per request):");
    print_percentiles("server", server);
    print_served_from_cache(client, port).await;

    // Saturation: 8 clients back to back for 5 seconds.
    let deadline = Instant::now() + Duration::from_secs(5);
    let started = Instant::now();
    let bodies: Vec<String> = (0..4096).map(|_| next_body().1).collect();
    let workers = (0..8).map(|worker| {
        let client = client.clone();
        let endpoint = endpoint.clone();
        let bodies = &bodies;
        async move {
            let mut samples = Vec::new();
            let mut n = worker;
            while Instant::now() < deadline {
                let sent = Instant::now();
                let ok = send(&client, &endpoint, bodies[n % bodies.len()].clone()).await;
                samples.push((Kind::Hit, sent.elapsed(), ok));
                n += 8;
            }
            samples
        }
    });
    let samples: Vec<_> = futures::future::join_all(workers)
        .await
        .into_iter()
        .flatten()
        .collect();
    report("closed loop, 8 clients", &samples, started.elapsed());
    Ok(())
}

/// How many found artists the server answered from its reply cache (`SKILL_CACHE_TTL`),
/// from its `/metrics`: the run's numbers are only comparable with the same share.
async fn print_served_from_cache(client: &reqwest::Client, port: u16) {
    let Ok(response) = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
    else {
        return;
    };
    let text = response.text().await.unwrap_or_default();
    let value = |series: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0) as u64
    };
    let found = value("artistbot_skill_replies_total{outcome=\"hit\"}")
        + value("artistbot_skill_replies_total{outcome=\"alias_hit\"}");
    println!(
        "  found artists answered from the reply cache (warm-up included): {} of {found}",
        value("artistbot_skill_reply_cache_hits_total"),
    );
}

/// Sends `rps` requests a second for `seconds`, each on schedule; latency counts from
/// the scheduled time.
async fn open_loop(
    client: &reqwest::Client,
    endpoint: &str,
    rps: u64,
    seconds: u64,
    next_body: &mut impl FnMut() -> (Kind, String),
) -> Vec<(Kind, Duration, bool)> {
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rps.max(1)));
    let mut in_flight = futures::stream::FuturesUnordered::new();
    let mut samples = Vec::new();
    let total = rps * seconds;
    let mut sent = 0;
    while sent < total {
        tokio::select! {
            scheduled = ticker.tick() => {
                sent += 1;
                let (kind, body) = next_body();
                let client = client.clone();
                let endpoint = endpoint.to_owned();
                in_flight.push(async move {
                    let ok = send(&client, &endpoint, body).await;
                    (kind, scheduled.elapsed(), ok)
                });
            }
            Some(sample) = in_flight.next(), if !in_flight.is_empty() => samples.push(sample),
        }
    }
    while let Some(sample) = in_flight.next().await {
        samples.push(sample);
    }
    samples
}

async fn send(client: &reqwest::Client, endpoint: &str, body: String) -> bool {
    match client
        .post(endpoint)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(response) if response.status().is_success() => response
            .json::<Value>()
            .await
            .map(|reply| reply["version"] == "2.0")
            .unwrap_or(false),
        _ => false,
    }
}

fn report(title: &str, samples: &[(Kind, Duration, bool)], elapsed: Duration) {
    let failed = samples.iter().filter(|(_, _, ok)| !ok).count();
    println!(
        "{title}: {} requests in {:.2}s = {:.0} req/s, {failed} failed",
        samples.len(),
        elapsed.as_secs_f64(),
        samples.len() as f64 / elapsed.as_secs_f64()
    );
    let mut groups: Vec<(&str, Vec<Duration>)> = vec![(
        "all",
        samples.iter().map(|(_, latency, _)| *latency).collect(),
    )];
    for (label, kind) in [
        ("hits", Kind::Hit),
        ("alias hits", Kind::AliasHit),
        ("misses", Kind::Miss),
    ] {
        let latencies: Vec<Duration> = samples
            .iter()
            .filter(|(k, _, _)| *k == kind)
            .map(|(_, latency, _)| *latency)
            .collect();
        if !latencies.is_empty() && latencies.len() != samples.len() {
            groups.push((label, latencies));
        }
    }
    for (label, latencies) in groups {
        print_percentiles(label, latencies);
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn spawn_serve(url: &str, port: u16, log: Option<&std::path::Path>) -> Result<Child> {
    let stdout = match log {
        Some(path) => Stdio::from(std::fs::File::create(path)?),
        None => Stdio::null(),
    };
    Command::new(SERVE_BINARY)
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "RUST_LOG",
            std::env::var("BENCH_SERVE_LOG").unwrap_or("info".into()),
        )
        .env("NO_COLOR", "1")
        .env_remove("SKILL_SECRET")
        .env_remove("SKILL_BOT_IDS")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("spawning {SERVE_BINARY} serve"))
}

/// Asks `body` until a reply with an artist card comes back; the time since `since`.
async fn first_answer(
    client: &reqwest::Client,
    port: u16,
    body: &str,
    since: Instant,
) -> Result<Duration> {
    let endpoint = format!("http://127.0.0.1:{port}/skill");
    let give_up = since + Duration::from_secs(10);
    while Instant::now() < give_up {
        if let Ok(response) = client
            .post(&endpoint)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            && let Ok(reply) = response.json::<Value>().await
            && reply["template"]["outputs"][0].get("basicCard").is_some()
        {
            return Ok(since.elapsed());
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    bail!("artistbot serve did not answer within 10 s")
}

fn stop(child: &mut Child) {
    // SIGTERM: the graceful path; a kill only if it does not stop.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}
