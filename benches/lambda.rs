//! The Lambda function as AWS runs it: the release `artistbot-skill` under `testkit`'s
//! stand-in for the Lambda Runtime API, on a fresh 2,000-artist catalog on MariaDB and on
//! SQLite.
//!
//! ```text
//! cargo bench --bench lambda
//! ```
//! Environment: `BENCH_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`),
//! `BENCH_BACKENDS` (`mysql,sqlite`), `BENCH_ARTISTS` (2000), `BENCH_COLD_STARTS` (10),
//! `BENCH_INVOCATIONS` (2000).
//!
//! For each backend it prints:
//! - cold start: process spawn → the first `next` (settings, logs, the pool; on SQLite the
//!   schema check too), and spawn → the first response (an event is queued before the
//!   spawn: a hit that reads the catalog, the first database connection included);
//! - warm invocations, one at a time as Lambda sends them to one container, the events
//!   rotating through every front door and mixing hits, alias hits and misses: per
//!   invocation, `next` handed out → response posted (the function's time: the runtime,
//!   the event adapter, the router, the database), queued → response (adds the runtime's
//!   round trip to `next`), and the router's own `latency_ms` from its log line.
//!
//! The MariaDB database and the SQLite file are removed at the end.

#[path = "support/skill_bench.rs"]
mod skill_bench;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use artistbot::config::DatabaseUrl;
use artistbot::store::{PoolOptions, Store};
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use testkit::lambda_events::{BodyEncoding, FrontDoorEvent};
use testkit::lambda_runtime::{FunctionProcess, Outcome, RuntimeApi};

use self::skill_bench::{Catalog, Kind, env_or, kakao_request, load_average, ms, seed};

const FUNCTION_BINARY: &str = env!("CARGO_BIN_EXE_artistbot-skill");
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

struct Plan {
    artists: usize,
    cold_starts: usize,
    invocations: usize,
}

async fn run() -> Result<()> {
    let plan = Plan {
        artists: env_or("BENCH_ARTISTS", 2000),
        cold_starts: env_or("BENCH_COLD_STARTS", 10),
        invocations: env_or("BENCH_INVOCATIONS", 2000),
    };
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "mysql,sqlite".into());
    println!(
        "artistbot-skill under a stand-in Runtime API; {} cores, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    for backend in backends.split(',').map(str::trim) {
        match backend {
            "mysql" => bench_mysql(&plan).await?,
            "sqlite" => bench_sqlite(&plan).await?,
            other => bail!("BENCH_BACKENDS: unknown backend {other:?}"),
        }
    }
    Ok(())
}

async fn bench_mysql(plan: &Plan) -> Result<()> {
    let server = std::env::var("BENCH_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
        .trim_end_matches('/')
        .to_owned();
    let database = format!("artistbot_bench_lambda_{}", std::process::id());
    let admin = Database::connect(server.as_str())
        .await
        .with_context(|| format!("connecting to {server}"))?;
    admin
        .execute_unprepared(&format!(
            "CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))
        .await?;
    let result = bench("MariaDB", &format!("{server}/{database}"), plan).await;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS `{database}`"))
        .await?;
    result
}

async fn bench_sqlite(plan: &Plan) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    bench("SQLite", &url, plan).await
}

async fn bench(label: &str, url: &str, plan: &Plan) -> Result<()> {
    let store = Store::connect(&DatabaseUrl::new(url), PoolOptions::default()).await?;
    store.migrate().await?;
    let started = Instant::now();
    let catalog = seed(&store, plan.artists).await?;
    store.close().await;
    println!(
        "\n== {label}: {} artists, {} aliases, seeded in {:.1}s",
        catalog.names.len(),
        catalog.aliases.len(),
        started.elapsed().as_secs_f64()
    );
    cold_starts(url, &catalog, plan.cold_starts).await?;
    warm_invocations(url, &catalog, plan.invocations).await
}

/// The function's process with the settings the SAM template gives it.
fn spawn_function(api: &RuntimeApi, url: &str) -> FunctionProcess {
    let mut command = api.command(FUNCTION_BINARY);
    command
        .env("DATABASE_URL", url)
        .env("SKILL_DB_MAX_CONNECTIONS", "2")
        .env("SKILL_DB_TIMEOUT", "1500ms")
        .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn");
    FunctionProcess::spawn(command)
}

async fn cold_starts(url: &str, catalog: &Catalog, runs: usize) -> Result<()> {
    let hit = FrontDoorEvent::RestApiWithStage.carrying(
        &kakao_request(&catalog.names[0]).to_string(),
        BodyEncoding::Plain,
        &[],
    );
    let mut to_next = Vec::new();
    let mut to_response = Vec::new();
    for _ in 0..runs {
        let api = RuntimeApi::start().await;
        let first = api.invoke(&hit);
        let function = spawn_function(&api, url);
        let completion = first
            .completion(ANSWER_WITHIN)
            .await
            .map_err(anyhow::Error::msg)?;
        let response = match completion.outcome {
            Outcome::Response(response) => response,
            Outcome::Error(error) => bail!("the first event failed: {error:?}"),
        };
        if !names_an_artist(&response) {
            bail!("the first reply has no artist card: {response}");
        }
        let first_next = *api
            .next_requests()
            .first()
            .context("the function never asked for an event")?;
        to_next.push(first_next - function.spawned);
        to_response.push(completion.completed - function.spawned);
        drop(function);
    }
    println!("cold start ({runs} runs, load average {}):", load_average());
    print_percentiles("spawn -> first next", to_next);
    print_percentiles("spawn -> first response", to_response);
    Ok(())
}

async fn warm_invocations(url: &str, catalog: &Catalog, invocations: usize) -> Result<()> {
    let api = RuntimeApi::start().await;
    let function = spawn_function(&api, url);
    let doors: Vec<FrontDoorEvent> = FrontDoorEvent::ALL.to_vec();
    let mut rng = fastrand::Rng::with_seed(7);
    let mut next_event = |n: usize| -> (Kind, Value) {
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
        } else {
            let name = &catalog.names[rng.usize(..catalog.names.len())];
            let kept = name.chars().count() - 1;
            (
                Kind::Miss,
                format!("{}x", name.chars().take(kept).collect::<String>()),
            )
        };
        let encoding = if n.is_multiple_of(2) {
            BodyEncoding::Plain
        } else {
            BodyEncoding::Base64
        };
        let door = doors[n % doors.len()];
        (
            kind,
            door.carrying(&kakao_request(&query).to_string(), encoding, &[]),
        )
    };

    // Warm-up: the pool, the names for suggestions, the allocator.
    for n in 0..100 {
        let (_, event) = next_event(n);
        api.invoke(&event)
            .completion(ANSWER_WITHIN)
            .await
            .map_err(anyhow::Error::msg)?;
    }
    let logged_before = router_latencies(&function.stdout()).len();
    let load_before = load_average();
    let started = Instant::now();
    let mut in_function = Vec::new();
    let mut end_to_end = Vec::new();
    let mut by_kind: Vec<(Kind, Duration)> = Vec::new();
    let mut failed = 0;
    for n in 0..invocations {
        let (kind, event) = next_event(n);
        let invocation = api.invoke(&event);
        let queued = invocation.queued;
        let completion = invocation
            .completion(ANSWER_WITHIN)
            .await
            .map_err(anyhow::Error::msg)?;
        let took = completion.completed - completion.handed_out;
        in_function.push(took);
        end_to_end.push(completion.completed - queued);
        by_kind.push((kind, took));
        let answered = matches!(&completion.outcome, Outcome::Response(response)
            if response["statusCode"] == 200 && reply_of(response)["version"] == "2.0");
        if !answered {
            failed += 1;
        }
    }
    let elapsed = started.elapsed();
    println!(
        "warm: {invocations} invocations one at a time in {:.2}s = {:.0}/s, {failed} failed \
         (load average {load_before} before, {} after)",
        elapsed.as_secs_f64(),
        invocations as f64 / elapsed.as_secs_f64(),
        load_average()
    );
    print_percentiles("next -> response (all)", in_function);
    for (label, wanted) in [
        ("  hits", Kind::Hit),
        ("  alias hits", Kind::AliasHit),
        ("  misses", Kind::Miss),
    ] {
        let latencies = by_kind
            .iter()
            .filter(|(kind, _)| *kind == wanted)
            .map(|(_, took)| *took)
            .collect();
        print_percentiles(label, latencies);
    }
    print_percentiles("queued -> response", end_to_end);
    // Give the last log lines a moment to be read from the pipe.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let router: Vec<Duration> = router_latencies(&function.stdout())
        .into_iter()
        .skip(logged_before)
        .collect();
    print_percentiles("router only (its log)", router);
    Ok(())
}

fn reply_of(response: &Value) -> Value {
    use base64::Engine as _;
    let body = response["body"].as_str().unwrap_or("");
    let bytes = if response["isBase64Encoded"] == true {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_default()
    } else {
        body.as_bytes().to_vec()
    };
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

fn names_an_artist(response: &Value) -> bool {
    response["statusCode"] == 200
        && reply_of(response)["template"]["outputs"][0]
            .get("basicCard")
            .is_some()
}

/// The router's own `latency_ms` of each "skill request" line.
fn router_latencies(log: &str) -> Vec<Duration> {
    log.lines()
        .filter(|line| line.contains("skill request"))
        .filter_map(|line| {
            let value = line
                .split("latency_ms=")
                .nth(1)?
                .split_whitespace()
                .next()?;
            value.parse::<f64>().ok()
        })
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .collect()
}

fn print_percentiles(label: &str, mut latencies: Vec<Duration>) {
    if latencies.is_empty() {
        return;
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "  {label:<26} n={:<5} min {}  p50 {}  p90 {}  p99 {}  max {}",
        latencies.len(),
        ms(latencies[0]),
        ms(at(0.50)),
        ms(at(0.90)),
        ms(at(0.99)),
        ms(at(1.0))
    );
}
