//! `/metrics` where the work is: `artistbot serve` counts replies by outcome, refusals,
//! reply latency and database errors; the daemon shows its last successful run and the
//! last run's duration, Spotify's block and budget, and both show their build.

use std::sync::Arc;
use std::time::{Duration, Instant};

use artistbot::config::{DatabaseUrl, Settings};
use artistbot::skill::{self, SkillService};
use artistbot::store::{PoolOptions, Store};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use testkit::fake::{SpotifyMode, World};
use tower::ServiceExt;

use super::{ServeProcess, http_request, read_response};
use crate::skill::fixtures::{ask, post_raw, skill_settings};
use crate::support::{SyncHarness, migrated_store};

async fn scrape(router: &axum::Router) -> String {
    let response = router
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The value of the sample line `name{labels}` (or `name` alone).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

db_test!(
    async fn serve_counts_every_outcome_its_latency_and_database_errors(db: TestDb) {
        let store = migrated_store(&db).await;
        crate::skill::fixtures::seed_catalog(&store).await;
        let router = skill::router(SkillService::new(
            store.clone(),
            skill_settings(&[("SKILL_SECRET", "metrics-secret")]),
        ));
        let secret = [("X-Skill-Secret", "metrics-secret")];
        let body = |utterance: &str| {
            crate::skill::fixtures::kakao_request(utterance)
                .to_string()
                .into_bytes()
        };

        for utterance in ["IU", "IU", "오마이걸", "오마이갈", "Radiohead", " "] {
            post_raw(&router, body(utterance), &secret).await;
        }
        post_raw(&router, body("IU"), &[]).await;
        post_raw(&router, b"{broken".to_vec(), &secret).await;
        let text = scrape(&router).await;

        let replies = |outcome: &str| {
            sample(
                &text,
                &format!("artistbot_skill_replies_total{{outcome=\"{outcome}\"}}"),
            )
        };
        assert_eq!(replies("hit"), Some(2.0), "{text}");
        assert_eq!(replies("alias_hit"), Some(1.0));
        assert_eq!(
            replies("suggestion"),
            Some(1.0),
            "오마이갈 is close to 오마이걸"
        );
        assert_eq!(replies("miss"), Some(1.0));
        assert_eq!(replies("empty"), Some(1.0));
        assert_eq!(replies("unavailable"), Some(0.0));
        assert_eq!(replies("rejected"), Some(2.0));
        assert_eq!(
            sample(
                &text,
                "artistbot_skill_rejected_total{reason=\"unauthorized\"}"
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "artistbot_skill_rejected_total{reason=\"malformed\"}"
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "artistbot_skill_reply_duration_seconds_count"),
            Some(8.0)
        );
        assert_eq!(
            sample(&text, "artistbot_skill_reply_cache_hits_total"),
            Some(1.0),
            "the second IU came from the cache"
        );
        assert!(text.contains("# TYPE artistbot_skill_reply_duration_seconds histogram"));
        assert!(text.contains("artistbot_build_info{version=\""));
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_counts_database_errors_and_unavailable_replies() {
    crate::support::init_logs();
    let pool = PoolOptions {
        max_connections: 1,
        connect_timeout: Duration::from_millis(300),
        lazy: true,
        ..PoolOptions::default()
    };
    let store = Store::connect(&DatabaseUrl::new("mysql://root@127.0.0.1:1/none"), pool)
        .await
        .unwrap();
    let router = skill::router(SkillService::new(
        store,
        skill_settings(&[("SKILL_DB_TIMEOUT", "300ms")]),
    ));

    ask(&router, "IU").await;
    let text = scrape(&router).await;

    assert_eq!(
        sample(
            &text,
            "artistbot_skill_replies_total{outcome=\"unavailable\"}"
        ),
        Some(1.0),
        "{text}"
    );
    let errors = sample(
        &text,
        "artistbot_skill_database_errors_total{call=\"lookup\",failure=\"error\"}",
    )
    .unwrap_or(0.0)
        + sample(
            &text,
            "artistbot_skill_database_errors_total{call=\"lookup\",failure=\"timeout\"}",
        )
        .unwrap_or(0.0);
    assert_eq!(errors, 1.0, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_serve_process_exposes_metrics_with_its_connections() {
    crate::support::init_logs();
    let serve = ServeProcess::start(&[]).await;
    let mut stream = tokio::net::TcpStream::connect(serve.addr).await.unwrap();
    use tokio::io::AsyncWriteExt;

    stream
        .write_all(&http_request(
            "POST",
            "/skill",
            &[],
            &super::skill_body("IU"),
        ))
        .await
        .unwrap();
    let reply = read_response(&mut stream, Duration::from_secs(10)).await;
    stream
        .write_all(&http_request("GET", "/metrics", &[], ""))
        .await
        .unwrap();
    let metrics = read_response(&mut stream, Duration::from_secs(10)).await;

    assert_eq!(reply.map(|r| r.status), Some(200));
    let metrics = metrics.expect("a /metrics answer");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.head.contains("text/plain; version=0.0.4"),
        "{}",
        metrics.head
    );
    assert_eq!(
        sample(
            &metrics.body,
            "artistbot_skill_replies_total{outcome=\"miss\"}"
        ),
        Some(1.0),
        "{}",
        metrics.body
    );
    assert_eq!(
        sample(&metrics.body, "artistbot_http_connections_open"),
        Some(1.0),
        "{}",
        metrics.body
    );
}

db_test!(
    async fn the_daemon_shows_its_last_success_duration_spotify_budget_and_build(db: TestDb) {
        let mut world = World::new();
        let ive = world.add_artist(1, "IVE", Some(101), 3);
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&[&ive]).await;
        let report = h.sync().await;
        assert_eq!(report.exit_code(), 0);
        let health = crate::hardening::free_address();
        let mut map: std::collections::HashMap<String, String> = h.env.iter().cloned().collect();
        map.insert("HEALTH_ADDR".into(), health.to_string());
        map.insert("SPOTIFY_DAILY_BUDGET".into(), "1000".into());
        let settings = Arc::new(Settings::from_map(&map).unwrap());
        let daemon = artistbot::daemon::Daemon::new(settings);
        let bound = daemon.health_addr();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let running = tokio::spawn(daemon.run(shutdown.clone()));
        let deadline = Instant::now() + Duration::from_secs(10);
        let text = loop {
            if bound.get().is_some()
                && let Ok(response) = reqwest::get(format!("http://{health}/metrics")).await
                && let Ok(text) = response.text().await
                // The series, not only its HELP line: the daemon serves /metrics before
                // it has read the recorded runs.
                && text.contains("artistbot_sync_last_success_timestamp_seconds{")
            {
                break text;
            }
            assert!(Instant::now() < deadline, "no metrics from the daemon");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(15), running)
            .await
            .expect("the daemon stops")
            .unwrap()
            .unwrap();

        let now = chrono::Utc::now().timestamp() as f64;
        let last_success = sample(
            &text,
            "artistbot_sync_last_success_timestamp_seconds{trigger=\"cli\"}",
        )
        .unwrap_or_else(|| panic!("{text}"));
        assert!(
            (now - last_success).abs() < 120.0,
            "{last_success} vs {now}"
        );
        assert!(
            sample(
                &text,
                "artistbot_sync_last_run_duration_seconds{trigger=\"cli\"}"
            )
            .is_some(),
            "{text}"
        );
        let spent = report.counts.spotify_calls as f64;
        assert_eq!(
            sample(&text, "artistbot_spotify_daily_budget_remaining_calls"),
            Some(1000.0 - spent),
            "{text}"
        );
        assert_eq!(
            sample(&text, "artistbot_spotify_blocked_until_timestamp_seconds"),
            Some(0.0)
        );
        assert!(text.contains("artistbot_build_info{version=\""), "{text}");
        assert!(text.contains("artistbot_http_connections_open"), "{text}");
    }
);
