//! The chat preview: who may use it (loopback only by default, never the Lambda's
//! router, never another site's page), that the secret never reaches the page, and the
//! page itself in a real browser: Debian's headless Chromium driven through chromedriver
//! against the real `artistbot serve` on a seeded catalog.
//!
//! The browser test runs on SQLite only: what it checks is the page and the serving of
//! it, which do not depend on the database; the replies themselves are checked on both
//! backends by `tests/it/skill.rs`. Without Chromium it is skipped with a message,
//! unless `TEST_REQUIRE_BROWSER=1` (CI sets it).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use artistbot::skill::{self, PreviewAccess, SkillService};
use artistbot::store::Store;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::binary;
use crate::skill::fixtures::{kakao_request, seed_catalog, skill_settings};
use crate::support::migrated_store;

const SECRET: &str = "preview-test-secret-8c1f2e77a9";

fn preview_router(store: &Store, pairs: &[(&str, &str)], access: Option<PreviewAccess>) -> Router {
    let service = SkillService::new(store.clone(), skill_settings(pairs));
    skill::router_with_preview(service, access)
}

/// A request to `router`; the answer's status, content type, CSP and body.
async fn send(
    router: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, String, String, String) {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (content_type, csp) = (header("content-type"), header("content-security-policy"));
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        csp,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

const FROM_THE_PAGE: &[(&str, &str)] = &[
    ("host", "127.0.0.1:8080"),
    ("origin", "http://127.0.0.1:8080"),
    ("sec-fetch-site", "same-origin"),
    ("content-type", "application/json"),
];

db_test!(
    async fn the_preview_answers_through_the_skill_without_the_page_ever_holding_the_secret(
        db: TestDb,
    ) {
        let store = migrated_store(&db).await;
        seed_catalog(&store).await;
        let router = preview_router(
            &store,
            &[
                ("SKILL_SECRET", SECRET),
                ("SKILL_BOT_IDS", "64a0f1e2d3c4b5a6978877aa"),
            ],
            Some(PreviewAccess::LoopbackHosts),
        );
        let mut from_the_page = kakao_request("IU");
        from_the_page["bot"] = json!({"id": "preview"});
        let body = from_the_page.to_string().into_bytes();

        let (status, content_type, csp, page) =
            send(&router, "GET", "/", &[("host", "localhost:8080")], vec![]).await;
        let (direct, ..) = send(&router, "POST", "/skill", FROM_THE_PAGE, body.clone()).await;
        let (previewed, _, _, reply) =
            send(&router, "POST", "/preview/skill", FROM_THE_PAGE, body).await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "text/html; charset=utf-8");
        assert!(csp.contains("connect-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!page.contains(SECRET), "the page holds the secret");
        assert!(
            !page.contains("64a0f1e2d3c4b5a6978877aa"),
            "the page holds settings"
        );
        assert_eq!(
            direct,
            StatusCode::UNAUTHORIZED,
            "/skill still wants the secret"
        );
        assert_eq!(previewed, StatusCode::OK, "{reply}");
        let reply: Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(reply["template"]["outputs"][0]["basicCard"]["title"], "IU");
    }
);

db_test!(
    async fn the_preview_refuses_other_hosts_other_sites_and_the_lambdas_router(db: TestDb) {
        let store = migrated_store(&db).await;
        seed_catalog(&store).await;
        let router = preview_router(&store, &[], Some(PreviewAccess::LoopbackHosts));
        let body = kakao_request("IU").to_string().into_bytes();
        let with = |changes: &[(&'static str, &'static str)]| {
            let mut headers: Vec<(&str, &str)> = FROM_THE_PAGE
                .iter()
                .filter(|(name, _)| !changes.iter().any(|(changed, _)| changed == name))
                .copied()
                .collect();
            headers.extend(changes.iter().filter(|(_, value)| !value.is_empty()));
            headers
        };

        // A DNS name of the attacker's pointed at 127.0.0.1 ("DNS rebinding").
        let (page_by_name, ..) = send(
            &router,
            "GET",
            "/",
            &[("host", "evil.example:8080")],
            vec![],
        )
        .await;
        let rebinding = with(&[
            ("host", "evil.example:8080"),
            ("origin", "http://evil.example:8080"),
        ]);
        let (by_name, ..) = send(&router, "POST", "/preview/skill", &rebinding, body.clone()).await;
        let (cross_site, ..) = send(
            &router,
            "POST",
            "/preview/skill",
            &with(&[
                ("origin", "http://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ]),
            body.clone(),
        )
        .await;
        let (form_post, ..) = send(
            &router,
            "POST",
            "/preview/skill",
            &with(&[
                ("content-type", "text/plain"),
                ("origin", ""),
                ("sec-fetch-site", ""),
            ]),
            body.clone(),
        )
        .await;
        let (anywhere, ..) = send(
            &preview_router(&store, &[], Some(PreviewAccess::AnyHost)),
            "POST",
            "/preview/skill",
            &rebinding,
            body.clone(),
        )
        .await;
        let (no_preview, ..) = send(
            &skill::router(SkillService::new(store.clone(), skill_settings(&[]))),
            "GET",
            "/",
            &[("host", "localhost")],
            vec![],
        )
        .await;

        assert_eq!(page_by_name, StatusCode::FORBIDDEN);
        assert_eq!(by_name, StatusCode::FORBIDDEN);
        assert_eq!(cross_site, StatusCode::FORBIDDEN);
        assert_eq!(form_post, StatusCode::FORBIDDEN);
        assert_eq!(
            anywhere,
            StatusCode::OK,
            "SKILL_PREVIEW=true serves any host"
        );
        assert_eq!(
            no_preview,
            StatusCode::NOT_FOUND,
            "the Lambda's router has no page"
        );
    }
);

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A child process killed when the test ends, also when it fails.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `url` answers 200, at most `within`.
async fn wait_until_up(url: &str, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    let client = reqwest::Client::new();
    loop {
        match client.get(url).send().await {
            Ok(response) if response.status().is_success() => return Ok(()),
            outcome if Instant::now() > deadline => {
                return Err(format!("{url} did not come up: {outcome:?}"));
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// `artistbot serve` on `port`, over `database_url`, with `extra` settings.
async fn start_serve(database_url: &str, port: u16, extra: &[(&str, &str)]) -> Running {
    let dir = std::env::temp_dir();
    let bind = format!("127.0.0.1:{port}");
    let mut env = vec![("DATABASE_URL", database_url), ("BIND_ADDR", bind.as_str())];
    env.extend_from_slice(extra);
    let child = binary::command(&dir, &["serve"], env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting artistbot serve");
    let running = Running(child);
    wait_until_up(&format!("http://{bind}/healthz"), Duration::from_secs(15))
        .await
        .expect("artistbot serve answers");
    running
}

db_test!(
    async fn serve_shows_the_preview_on_loopback_unless_switched_off(db: TestDb) {
        let store = migrated_store(&db).await;
        seed_catalog(&store).await;
        let (on, off) = (free_port(), free_port());
        let _shown = start_serve(&db.url, on, &[]).await;
        let _hidden = start_serve(&db.url, off, &[("SKILL_PREVIEW", "false")]).await;
        let client = reqwest::Client::new();

        let page = client
            .get(format!("http://127.0.0.1:{on}/"))
            .send()
            .await
            .unwrap();
        let none = client
            .get(format!("http://127.0.0.1:{off}/"))
            .send()
            .await
            .unwrap();

        assert_eq!(page.status(), reqwest::StatusCode::OK);
        assert!(page.text().await.unwrap().contains("chat preview"));
        assert_eq!(none.status(), reqwest::StatusCode::NOT_FOUND);
    }
);

// --- the page in a real browser ----------------------------------------------------------

/// Chromium and its driver, as Debian installs them.
struct Browser {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

impl Browser {
    /// Both programs on `PATH`, or `None`.
    fn find() -> Option<Browser> {
        let on_path = |names: &[&str]| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
                .find(|candidate| candidate.is_file())
        };
        Some(Browser {
            chromium: on_path(&["chromium", "chromium-browser", "google-chrome"])?,
            chromedriver: on_path(&["chromedriver"])?,
        })
    }
}

/// chromedriver on a free port, and a fresh Chromium profile.
async fn start_driver(browser: &Browser) -> (Running, String) {
    let port = free_port();
    let child = std::process::Command::new(&browser.chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromedriver");
    let running = Running(child);
    let url = format!("http://127.0.0.1:{port}");
    wait_until_up(&format!("{url}/status"), Duration::from_secs(15))
        .await
        .expect("chromedriver answers");
    (running, url)
}

/// Headless Chromium as the machine allows it: no sandbox (CI runs as root), no GPU, and
/// none of the background connections that fail without a network.
fn capabilities(browser: &Browser, profile: &Path) -> fantoccini::wd::Capabilities {
    let args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--window-size=480,2200".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": browser.chromium, "args": args}
    });
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object"),
    }
}

/// What the page showed, read back from the DOM.
#[derive(Debug, Default)]
struct Seen {
    card_title: Vec<String>,
    card_description: Vec<String>,
    list_headers: Vec<String>,
    track_titles: Vec<String>,
    albums: Vec<String>,
    quick_replies: Vec<String>,
    after_tap: Vec<String>,
    after_tap_lists: Vec<String>,
    unknown_text: Vec<String>,
    suggestions: Vec<String>,
    limit_warnings: Vec<String>,
    page_source: String,
}

type Failed = Box<dyn std::error::Error + Send + Sync>;

async fn texts(client: &fantoccini::Client, css: &str) -> Result<Vec<String>, Failed> {
    let mut found = Vec::new();
    for element in client.find_all(fantoccini::Locator::Css(css)).await? {
        found.push(element.text().await?);
    }
    Ok(found)
}

/// Types `text` and sends it, then waits for reply number `reply`.
async fn say(client: &fantoccini::Client, text: &str, reply: usize) -> Result<(), Failed> {
    let input = client.find(fantoccini::Locator::Css("#message")).await?;
    input.send_keys(text).await?;
    client
        .find(fantoccini::Locator::Css("#send"))
        .await?
        .click()
        .await?;
    wait_for_reply(client, reply).await
}

async fn wait_for_reply(client: &fantoccini::Client, reply: usize) -> Result<(), Failed> {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(fantoccini::Locator::Css(&format!("[data-reply='{reply}']")))
        .await?;
    Ok(())
}

/// The conversation: a known name, a tap on a quick reply, an unknown name, and a reply
/// over Kakao's limits drawn by the page's own hook.
async fn converse(client: &fantoccini::Client, page: &str) -> Result<Seen, Failed> {
    let mut seen = Seen::default();
    client.goto(page).await?;
    seen.page_source = client.source().await?;

    say(client, "IU", 1).await?;
    let first = "[data-reply='1']";
    seen.card_title = texts(client, &format!("{first} .basic-card .card-title")).await?;
    seen.card_description =
        texts(client, &format!("{first} .basic-card .card-description")).await?;
    seen.list_headers = texts(client, &format!("{first} .list-card .list-header")).await?;
    seen.track_titles = texts(client, &format!("{first} .list-card .item-title")).await?;
    seen.albums = texts(client, &format!("{first} .list-card .item-description")).await?;
    seen.quick_replies = texts(client, ".quick-replies .quick-reply").await?;

    let chips = client
        .find_all(fantoccini::Locator::Css(".quick-replies .quick-reply"))
        .await?;
    let mut tapped = false;
    for chip in chips {
        if chip.text().await? == "태연" {
            chip.click().await?;
            tapped = true;
            break;
        }
    }
    if !tapped {
        return Err("no quick reply 태연 to tap".into());
    }
    wait_for_reply(client, 2).await?;
    seen.after_tap = texts(client, "[data-reply='2'] .basic-card .card-title").await?;
    seen.after_tap_lists = texts(client, "[data-reply='2'] .list-card .list-header").await?;

    say(client, "오마이갈", 3).await?;
    seen.unknown_text = texts(client, "[data-reply='3'] .simple-text").await?;
    seen.suggestions = texts(client, ".quick-replies .quick-reply").await?;

    let too_long = json!({
        "version": "2.0",
        "template": {
            "outputs": [{"basicCard": {"title": "가".repeat(51), "thumbnail": {"imageUrl": "ftp://x"}}}],
            "quickReplies": [{"label": "열네 글자를 넘는 아주 긴 라벨입니다", "action": "message", "messageText": "x"}]
        }
    });
    client
        .execute(
            "window.artistbotPreview.render(arguments[0]);",
            vec![too_long],
        )
        .await?;
    wait_for_reply(client, 4).await?;
    seen.limit_warnings = texts(client, "[data-reply='4'] .limit-warning li").await?;
    Ok(seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_preview_draws_cards_lists_and_quick_replies_in_a_real_browser() {
    crate::support::init_logs();
    let Some(browser) = Browser::find() else {
        if std::env::var("TEST_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!(
                "TEST_REQUIRE_BROWSER=1 but chromium and chromedriver are not on PATH \
                 (Debian: apt-get install chromium chromium-driver)"
            );
        }
        eprintln!(
            "skipping the browser test: chromium and chromedriver are not on PATH \
             (Debian: apt-get install chromium chromium-driver)"
        );
        return;
    };
    let started = Instant::now();
    let db = testkit::db::TestDb::sqlite().await;
    let store = migrated_store(&db).await;
    seed_catalog(&store).await;
    let port = free_port();
    let _serve = start_serve(&db.url, port, &[("SKILL_SECRET", SECRET)]).await;
    let (_driver, driver_url) = start_driver(&browser).await;
    let profile = tempfile::tempdir().unwrap();
    let client =
        fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities(&browser, profile.path()))
            .connect(&driver_url)
            .await
            .expect("a Chromium session");

    let seen = converse(&client, &format!("http://127.0.0.1:{port}/")).await;
    let screenshot = client.screenshot().await;
    let _ = client.close().await;

    let seen = seen.unwrap_or_else(|error| panic!("the page did not behave: {error}"));
    let png = screenshot.expect("a screenshot");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("preview.png");
    std::fs::write(&target, &png).expect("saving the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    assert!(
        !seen.page_source.contains(SECRET),
        "the page holds the secret"
    );
    assert_eq!(seen.card_title, ["IU"]);
    assert_eq!(
        seen.card_description,
        ["팔로워 9,876,543명 · Deezer 팬 123,456명 · k-pop, k-ballad"]
    );
    assert_eq!(seen.list_headers, ["IU", "태연", "볼빨간사춘기", "AKMU"]);
    for title in [
        "Love wins all",
        "밤편지",
        "좋은 날",
        "INVU",
        "우주를 줄게",
        "Love Lee",
    ] {
        assert!(
            seen.track_titles.iter().any(|t| t == title),
            "{title}: {seen:?}"
        );
    }
    for album in ["Palette", "REAL", "호텔 델루나 OST", "항해"] {
        assert!(seen.albums.iter().any(|a| a == album), "{album}: {seen:?}");
    }
    assert_eq!(seen.quick_replies, ["태연", "볼빨간사춘기", "AKMU"]);
    assert_eq!(seen.after_tap, ["태연"], "{seen:?}");
    assert_eq!(seen.after_tap_lists, ["태연", "IU"], "{seen:?}");
    assert!(
        seen.unknown_text
            .iter()
            .any(|t| t.contains("혹시 이 아티스트?")),
        "{seen:?}"
    );
    assert_eq!(seen.suggestions, ["OH MY GIRL"]);
    let warnings = seen.limit_warnings.join("\n");
    assert!(
        warnings.contains("title has 51 characters (at most 50)"),
        "{warnings}"
    );
    assert!(
        warnings.contains("thumbnail is not an http(s) URL"),
        "{warnings}"
    );
    assert!(warnings.contains("quick reply 1 label has"), "{warnings}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the browser test took {:?}",
        started.elapsed()
    );
}
