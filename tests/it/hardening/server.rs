//! The HTTP servers' limits, through the real `artistbot serve` process (and once through
//! the daemon's health server, which runs on the same server code): slow headers, slow
//! bodies and idle connections are cut off, a refused client's body is never read,
//! every error status has a JSON body, hundreds of idle sockets under a low descriptor
//! limit do not lock out real clients, and SIGTERM ends the process within
//! `SHUTDOWN_GRACE` whatever clients do.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{
    ServeProcess, closed_within, free_address, http_request, read_response, skill_body, trickle,
};

/// Generous slack on every "cut off within" bound: the machine is shared.
const SLACK: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_its_headers_slowly_is_cut_off_after_the_header_timeout() {
    crate::support::init_logs();
    let serve = ServeProcess::start(&[
        ("SERVER_HEADER_TIMEOUT", "1s"),
        ("SERVER_REQUEST_TIMEOUT", "60s"),
        ("SERVER_IDLE_TIMEOUT", "60s"),
    ])
    .await;
    let stream = TcpStream::connect(serve.addr).await.unwrap();
    let (mut reading, mut writing) = stream.into_split();
    let started = Instant::now();

    // One byte every 100 ms: a request line and headers that never end in time.
    let slow = tokio::spawn(async move {
        let head =
            "POST /skill HTTP/1.1\r\nHost: localhost\r\nX-Padding: ".to_owned() + &"a".repeat(200);
        trickle(&mut writing, head.as_bytes(), Duration::from_millis(100)).await;
    });
    let closed = closed_within(&mut reading, Duration::from_secs(1) + SLACK).await;
    let took = started.elapsed();
    slow.abort();

    assert!(closed.is_some(), "still open after {took:?}");
    assert!(
        took >= Duration::from_millis(900),
        "cut off early: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_its_body_slowly_gets_a_json_408_after_the_request_timeout() {
    crate::support::init_logs();
    let serve = ServeProcess::start(&[
        ("SERVER_HEADER_TIMEOUT", "60s"),
        ("SERVER_REQUEST_TIMEOUT", "1s"),
        ("SERVER_IDLE_TIMEOUT", "60s"),
    ])
    .await;
    let body = skill_body(&"아이유".repeat(100));
    let request = String::from_utf8(http_request("POST", "/skill", &[], &body)).unwrap();
    let (head, body) = request.split_at(request.find("\r\n\r\n").unwrap() + 4);
    let mut stream = TcpStream::connect(serve.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (mut reading, mut writing) = stream.into_split();
    let body = body.to_owned();
    let slow = tokio::spawn(async move {
        trickle(&mut writing, body.as_bytes(), Duration::from_millis(100)).await;
        writing
    });

    let response = read_response(&mut reading, Duration::from_secs(1) + SLACK).await;
    let took = started.elapsed();
    slow.abort();

    let response = response.unwrap_or_else(|| panic!("no answer after {took:?}"));
    assert_eq!(response.status, 408, "{response:?}");
    assert!(response.json()["error"].is_string(), "{response:?}");
    assert!(
        took >= Duration::from_millis(900),
        "cut off early: {took:?}"
    );
    assert!(
        closed_within(&mut reading, SLACK).await.is_some(),
        "the connection is closed after the 408"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_is_closed_after_the_idle_timeout_not_the_header_timeout() {
    crate::support::init_logs();
    let serve = ServeProcess::start(&[
        ("SERVER_HEADER_TIMEOUT", "1s"),
        ("SERVER_REQUEST_TIMEOUT", "5s"),
        ("SERVER_IDLE_TIMEOUT", "3s"),
    ])
    .await;
    let mut stream = TcpStream::connect(serve.addr).await.unwrap();
    let request = http_request("POST", "/skill", &[], &skill_body("아이유"));

    stream.write_all(&request).await.unwrap();
    let first = read_response(&mut stream, Duration::from_secs(5)).await;
    // Still open after the header timeout: a second request on the same connection works.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stream.write_all(&request).await.unwrap();
    let second = read_response(&mut stream, Duration::from_secs(5)).await;
    let idle = closed_within(&mut stream, Duration::from_secs(3) + SLACK).await;

    assert_eq!(first.map(|r| r.status), Some(200));
    assert_eq!(second.map(|r| r.status), Some(200));
    let idle = idle.expect("the idle connection is closed");
    assert!(
        idle >= Duration::from_millis(2800),
        "closed early: {idle:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_the_secret_is_refused_before_its_body_is_read() {
    crate::support::init_logs();
    let secret = "hardening-secret-value";
    let serve = ServeProcess::start(&[
        ("SKILL_SECRET", secret),
        ("SERVER_REQUEST_TIMEOUT", "60s"),
        ("SERVER_HEADER_TIMEOUT", "60s"),
    ])
    .await;

    // 50 MB announced, not a byte of it sent: the answer must not wait for it.
    let mut stranger = TcpStream::connect(serve.addr).await.unwrap();
    let started = Instant::now();
    stranger
        .write_all(
            b"POST /skill HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n",
        )
        .await
        .unwrap();
    let refused = read_response(&mut stranger, Duration::from_secs(10)).await;
    let refused_after = started.elapsed();

    // With the secret, a declared length over the limit is refused just as early.
    let mut oversized = TcpStream::connect(serve.addr).await.unwrap();
    let started = Instant::now();
    let head = format!(
        "POST /skill HTTP/1.1\r\nHost: localhost\r\nX-Skill-Secret: {secret}\r\nContent-Length: 50000000\r\n\r\n"
    );
    oversized.write_all(head.as_bytes()).await.unwrap();
    let too_large = read_response(&mut oversized, Duration::from_secs(10)).await;
    let too_large_after = started.elapsed();

    let refused = refused.expect("an answer without the body");
    assert_eq!(refused.status, 401, "{refused:?}");
    assert_eq!(refused.json(), serde_json::json!({"error": "unauthorized"}));
    assert!(refused_after < Duration::from_secs(3), "{refused_after:?}");
    let too_large = too_large.expect("an answer without the body");
    assert_eq!(too_large.status, 413, "{too_large:?}");
    assert!(too_large.json()["error"].is_string());
    assert!(
        too_large_after < Duration::from_secs(3),
        "{too_large_after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_status_of_serve_has_a_json_body() {
    crate::support::init_logs();
    let serve = ServeProcess::start(&[("SKILL_BOT_IDS", "our-bot")]).await;
    let cases = [
        ("GET", "/skill", String::new(), 405),
        ("DELETE", "/healthz", String::new(), 405),
        ("GET", "/nowhere", String::new(), 404),
        ("POST", "/skill", "{not json".to_owned(), 400),
        ("POST", "/skill", skill_body("IU"), 403),
    ];

    for (method, path, body, expected) in cases {
        let mut stream = TcpStream::connect(serve.addr).await.unwrap();
        stream
            .write_all(&http_request(method, path, &[], &body))
            .await
            .unwrap();
        let response = read_response(&mut stream, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("{method} {path}: no answer"));

        assert_eq!(response.status, expected, "{method} {path}: {response:?}");
        assert!(
            response.json()["error"].is_string(),
            "{method} {path}: {response:?}"
        );
        assert!(
            response
                .head
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{method} {path}: {response:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_idle_sockets_under_a_low_descriptor_limit_do_not_lock_out_real_clients() {
    crate::support::init_logs();
    // Long timeouts: what keeps real clients served must be the cap, not a timeout.
    let mut serve = ServeProcess::start_with_limit(
        &[
            ("SERVER_HEADER_TIMEOUT", "120s"),
            ("SERVER_IDLE_TIMEOUT", "120s"),
        ],
        Some(256),
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(serve.addr).await.expect("connecting"));
    }
    // Half of them half-sent: a request line and no more.
    for stream in idle.iter_mut().step_by(2) {
        let _ = stream
            .write_all(b"POST /skill HTTP/1.1\r\nHost: x\r\n")
            .await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut slowest = Duration::ZERO;
    for n in 0..20 {
        let started = Instant::now();
        let mut client = TcpStream::connect(serve.addr).await.expect("connecting");
        client
            .write_all(&http_request(
                "POST",
                "/skill",
                &[],
                &skill_body(&format!("아티스트 {n}")),
            ))
            .await
            .unwrap();
        let answer = read_response(&mut client, Duration::from_secs(10)).await;
        assert_eq!(
            answer.map(|a| a.status),
            Some(200),
            "request {n} was not served:\n{}",
            serve.log()
        );
        slowest = slowest.max(started.elapsed());
    }

    assert!(slowest < Duration::from_secs(3), "slowest {slowest:?}");
    assert!(serve.is_running());
    drop(idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_serve_at_once_while_a_half_sent_request_is_open() {
    crate::support::init_logs();
    let mut serve =
        ServeProcess::start(&[("SHUTDOWN_GRACE", "20s"), ("SERVER_HEADER_TIMEOUT", "120s")]).await;
    let mut half_sent = TcpStream::connect(serve.addr).await.unwrap();
    half_sent
        .write_all(b"POST /skill HTTP/1.1\r\nHost: localhost\r\nContent-Le")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    serve.terminate();
    let status = serve.exit_within(Duration::from_secs(20)).await;
    let took = started.elapsed();

    let status = status.unwrap_or_else(|| panic!("still running:\n{}", serve.log()));
    assert!(status.success(), "{status:?}");
    // Nothing was in progress, so nothing needed the grace period.
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_serve_within_the_grace_while_a_body_is_still_arriving() {
    crate::support::init_logs();
    let mut serve =
        ServeProcess::start(&[("SHUTDOWN_GRACE", "2s"), ("SERVER_REQUEST_TIMEOUT", "120s")]).await;
    let stream = TcpStream::connect(serve.addr).await.unwrap();
    let (_reading, mut writing) = stream.into_split();
    writing
        .write_all(
            b"POST /skill HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
        )
        .await
        .unwrap();
    let body = "x".repeat(999);
    let slow = tokio::spawn(async move {
        trickle(&mut writing, body.as_bytes(), Duration::from_millis(200)).await;
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    serve.terminate();
    let status = serve.exit_within(Duration::from_secs(2) + SLACK).await;
    let took = started.elapsed();
    slow.abort();

    let status = status.unwrap_or_else(|| panic!("still running after {took:?}:\n{}", serve.log()));
    assert!(status.success(), "{status:?}");
    assert!(
        took >= Duration::from_millis(1800),
        "the request got its grace: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemons_health_server_cuts_off_slow_headers_too() {
    crate::support::init_logs();
    let db = testkit::db::TestDb::sqlite().await;
    let health = free_address();
    let settings = std::sync::Arc::new(
        artistbot::config::Settings::from_map(
            &[
                ("DATABASE_URL", db.url.as_str()),
                ("HEALTH_ADDR", &health.to_string()),
                ("SERVER_HEADER_TIMEOUT", "1s"),
                ("SPOTIFY_API_URL", "http://127.0.0.1:9/spotify"),
                ("DEEZER_API_URL", "http://127.0.0.1:9/deezer"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        )
        .unwrap(),
    );
    let shutdown = tokio_util::sync::CancellationToken::new();
    let daemon = artistbot::daemon::Daemon::new(settings);
    let bound = daemon.health_addr();
    let running = tokio::spawn(daemon.run(shutdown.clone()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while bound.get().is_none() {
        assert!(Instant::now() < deadline, "the health server did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut stream = TcpStream::connect(health).await.unwrap();
    stream.write_all(b"GET /metr").await.unwrap();
    let closed = closed_within(&mut stream, Duration::from_secs(1) + SLACK).await;
    let mut asked = TcpStream::connect(health).await.unwrap();
    asked
        .write_all(&http_request("POST", "/healthz", &[], ""))
        .await
        .unwrap();
    let not_allowed = read_response(&mut asked, Duration::from_secs(10)).await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(15), running)
        .await
        .expect("the daemon stops")
        .unwrap()
        .unwrap();

    let closed = closed.expect("the slow client is cut off");
    assert!(closed >= Duration::from_millis(900), "{closed:?}");
    let not_allowed = not_allowed.expect("an answer");
    assert_eq!(not_allowed.status, 405);
    assert!(not_allowed.json()["error"].is_string());
}
