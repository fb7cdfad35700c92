//! The Kakao skill endpoint through its router: real-shaped payloads in, replies checked
//! against every Kakao limit out, on SQLite and MySQL.

pub(crate) mod fixtures;
mod grants;
mod limits;
mod property;

use std::time::{Duration, Instant};

use artistbot::config::DatabaseUrl;
use artistbot::skill::{self, SkillService};
use artistbot::store::{PoolOptions, Store};
use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{Value, json};
use testkit::db::Backend;

use self::fixtures::*;
use crate::support::migrated_store;

/// Snapshots are named without the module path: each test runs as `::sqlite` and
/// `::mysql`, and both must match the one file.
macro_rules! assert_reply_snapshot {
    ($name:literal, $reply:expr) => {
        insta::with_settings!({prepend_module_to_snapshot => false}, {
            insta::assert_json_snapshot!($name, $reply);
        })
    };
}

async fn seeded(db: &testkit::db::TestDb) -> Store {
    let store = migrated_store(db).await;
    seed_catalog(&store).await;
    store
}

db_test!(
    async fn a_known_artist_gets_its_card_tracks_related_artists_and_quick_replies(db: TestDb) {
        let store = seeded(&db).await;

        let answer = ask(&router(&store), "IU").await;

        assert_eq!(answer.status, StatusCode::OK);
        let card = &answer.json["template"]["outputs"][0]["basicCard"];
        assert_eq!(card["title"], "IU");
        assert_eq!(
            card["description"],
            "팔로워 9,876,543명 · Deezer 팬 123,456명 · k-pop, k-ballad"
        );
        assert_eq!(
            card["buttons"][0]["webLinkUrl"],
            "https://open.spotify.example/artist/iu"
        );
        assert_reply_snapshot!("skill_known_artist", &answer.json);
    }
);

db_test!(
    async fn related_artists_without_tracks_are_skipped_and_three_are_shown(db: TestDb) {
        let store = seeded(&db).await;

        let answer = ask(&router(&store), "iu").await;

        // 신인 아티스트 (no tracks) is skipped; Heize is the fourth with tracks.
        assert_eq!(
            card_headers(&answer.json),
            ["IU", "태연", "볼빨간사춘기", "AKMU"]
        );
        assert_eq!(
            quick_replies(&answer.json),
            ["태연", "볼빨간사춘기", "AKMU"]
        );
        let iu_tracks = answer.json["template"]["outputs"][1]["carousel"]["items"][0]["items"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(iu_tracks, 3, "three of IU's four tracks");
    }
);

db_test!(
    async fn an_alias_leads_to_its_artist(db: TestDb) {
        let store = seeded(&db).await;

        let answer = ask(&router(&store), "오마이걸").await;

        let card = &answer.json["template"]["outputs"][0]["basicCard"];
        assert_eq!(card["title"], "OH MY GIRL");
        assert_reply_snapshot!("skill_alias_hit_without_related", &answer.json);
    }
);

db_test!(
    async fn a_hangul_name_is_found_whatever_the_spacing(db: TestDb) {
        let store = seeded(&db).await;

        let answer = ask(&router(&store), " 볼빨간 사춘기 ").await;

        assert_eq!(card_headers(&answer.json), ["볼빨간사춘기"]);
        let item = &answer.json["template"]["outputs"][1]["carousel"]["items"][0]["items"][0];
        assert_eq!(item["title"], "우주를 줄게");
        assert!(
            item.get("description").is_none(),
            "no album, no description"
        );
        assert!(item.get("imageUrl").is_none(), "no art, no image");
    }
);

db_test!(
    async fn an_artist_without_related_artists_gets_only_its_own_card(db: TestDb) {
        let store = seeded(&db).await;

        let answer = ask(&router(&store), "OH MY GIRL").await;

        assert_eq!(card_headers(&answer.json), ["OH MY GIRL"]);
        assert!(quick_replies(&answer.json).is_empty());
        // No photo: the fallback image keeps the basicCard valid.
        assert!(
            answer.json["template"]["outputs"][0]["basicCard"]["thumbnail"]["imageUrl"]
                .as_str()
                .unwrap()
                .starts_with("https://")
        );
    }
);

db_test!(
    async fn the_entity_parameter_wins_over_the_utterance(db: TestDb) {
        let store = seeded(&db).await;
        let mut request = kakao_request("아이유 노래 들려줘");
        request["action"]["params"]["artist"] = json!("오마이걸");
        request["action"]["detailParams"]["artist"] =
            json!({"origin": "오마이걸", "value": "오마이걸", "groupName": ""});

        let answer = post(&router(&store), &request).await;

        assert_eq!(
            answer.json["template"]["outputs"][0]["basicCard"]["title"],
            "OH MY GIRL"
        );
    }
);

db_test!(
    async fn namesakes_resolve_to_the_most_followed(db: TestDb) {
        let store = seeded(&db).await;

        let answer = ask(&router(&store), "nell").await;

        let card = &answer.json["template"]["outputs"][0]["basicCard"];
        assert_eq!(card["title"], "Nell");
        assert_eq!(card["description"], "팔로워 500,000명 · k-indie");
    }
);

db_test!(
    async fn an_unknown_name_gets_suggestions_and_is_recorded(db: TestDb) {
        let store = seeded(&db).await;
        let router = router(&store);

        let answer = ask(&router, "오마이갈").await;

        assert_eq!(answer.status, StatusCode::OK);
        assert!(first_text(&answer.json).contains("찾아보고 있어요"));
        assert!(first_text(&answer.json).contains("혹시 이 아티스트?"));
        assert_eq!(quick_replies(&answer.json), ["OH MY GIRL"]);
        assert_reply_snapshot!("skill_unknown_with_suggestions", &answer.json);
        assert_eq!(
            store.pending_requests_for_test().await.unwrap(),
            [("오마이갈".to_owned(), 1)]
        );
    }
);

db_test!(
    async fn repeated_misses_count_on_one_row(db: TestDb) {
        let store = seeded(&db).await;
        let router = router(&store);

        ask(&router, "Radiohead").await;
        ask(&router, "radio head").await;
        let answer = ask(&router, "RADIOHEAD").await;

        assert!(quick_replies(&answer.json).is_empty(), "nothing close");
        assert_eq!(
            store.pending_requests_for_test().await.unwrap(),
            [("Radiohead".to_owned(), 3)]
        );
    }
);

db_test!(
    async fn serve_records_a_miss_after_replying(db: TestDb) {
        let store = seeded(&db).await;
        let service = SkillService::with_miss_recording(
            store.clone(),
            skill_settings(&[]),
            skill::MissRecording::AfterReplying,
        );
        let router = skill::router(service);

        let answer = ask(&router, "Radiohead").await;

        assert!(first_text(&answer.json).contains("찾아보고 있어요"));
        // The write commits on its own task, just after the reply.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let requests = store.pending_requests_for_test().await.unwrap();
            if !requests.is_empty() {
                assert_eq!(requests, [("Radiohead".to_owned(), 1)]);
                break;
            }
            assert!(Instant::now() < deadline, "the miss was never recorded");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
);

db_test!(
    async fn chat_is_answered_but_not_queued_as_a_name(db: TestDb) {
        let store = seeded(&db).await;
        let router = router(&store);

        let answer = ask(&router, "요즘 들을 만한 노래 추천해 줄래?").await;

        assert_eq!(answer.status, StatusCode::OK);
        assert!(first_text(&answer.json).contains("찾아보고 있어요"));
        assert!(store.pending_requests_for_test().await.unwrap().is_empty());
    }
);

db_test!(
    async fn misses_are_not_recorded_when_switched_off(db: TestDb) {
        let store = seeded(&db).await;
        let router = router_with(&store, &[("SKILL_RECORD_MISSES", "false")]);

        let answer = ask(&router, "Radiohead").await;

        assert!(first_text(&answer.json).contains("찾아보고 있어요"));
        assert!(store.pending_requests_for_test().await.unwrap().is_empty());
    }
);

// Refused or answered before the database is asked: one backend is enough.
#[tokio::test]
async fn a_blank_utterance_asks_for_a_name_without_touching_the_database() {
    crate::support::init_logs();
    let db = testkit::db::TestDb::sqlite().await;
    let store = seeded(&db).await;
    let before = store.statements_sent();

    let answer = ask(&router(&store), " \t ").await;

    assert!(first_text(&answer.json).contains("어떤 아티스트가 궁금하세요?"));
    assert_eq!(store.statements_sent(), before);
    assert_reply_snapshot!("skill_empty_query", &answer.json);
}

db_test!(
    async fn a_found_artist_costs_one_statement_and_its_cached_reply_none(db: TestDb) {
        let store = seeded(&db).await;
        let router = router(&store);
        // The first miss loads the names for suggestions (one statement, then cached).
        ask(&router, "warm up").await;

        let before = store.statements_sent();
        let first = ask(&router, "IU").await;
        let hit = store.statements_sent() - before;
        let before = store.statements_sent();
        let again = ask(&router, "iu").await;
        let cached = store.statements_sent() - before;
        let before = store.statements_sent();
        ask(&router, "오마이갈").await;
        let miss = store.statements_sent() - before;

        assert_eq!(hit, 1, "a hit took {hit} statements");
        assert_eq!(
            cached, 0,
            "the same folded name again within SKILL_CACHE_TTL"
        );
        assert_eq!(again.json, first.json);
        assert!(
            miss <= 6,
            "a new name took {miss} statements (lookup; what this user asked; count \
             again, or count the open requests and insert; who asked)"
        );
    }
);

db_test!(
    async fn a_cached_reply_is_never_older_than_the_cache_ttl_and_a_miss_is_never_cached(
        db: TestDb,
    ) {
        let store = seeded(&db).await;
        let router = router_with(&store, &[("SKILL_CACHE_TTL", "300ms")]);
        let before = ask(&router, "아이유").await;
        assert_eq!(card_headers(&before.json)[0], "IU");
        let missed = ask(&router, "Radiohead").await;
        assert!(first_text(&missed.json).contains("찾아보고 있어요"));

        // The catalog changes: IU gets a new top track, Radiohead arrives.
        refresh(
            &store,
            "iu0000000000000000001",
            vec![track("iu-new", "Holssi", Some("The Winning"), None)],
            &[],
        )
        .await;
        store
            .add_artists(
                &[new_artist("radiohead000000000001", "Radiohead")],
                artistbot::store::now(),
            )
            .await
            .unwrap();
        let found_at_once = ask(&router, "Radiohead").await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        let after = ask(&router, "아이유").await;

        assert_eq!(
            card_headers(&found_at_once.json),
            ["Radiohead"],
            "a miss is not remembered"
        );
        let first_track =
            &after.json["template"]["outputs"][1]["carousel"]["items"][0]["items"][0]["title"];
        assert_eq!(first_track, "Holssi", "read again after the TTL");
    }
);

db_test!(
    async fn an_artist_known_only_from_deezer_links_its_deezer_page(db: TestDb) {
        let store = seeded(&db).await;
        // Ids of artists that entered from Deezer have a shape of their own; the skill
        // does not care.
        let mut artist = new_artist("dz:75798", "Deezer Only Band");
        artist.source = artistbot::catalog::Source::Deezer;
        artist.deezer_id = Some(75798);
        store
            .add_artists(&[artist], artistbot::store::now())
            .await
            .unwrap();

        let deezer_only = ask(&router(&store), "deezer only band").await;
        let both = ask(&router(&store), "IU").await;

        let card = &deezer_only.json["template"]["outputs"][0]["basicCard"];
        assert_eq!(card["title"], "Deezer Only Band");
        assert_eq!(card["buttons"][0]["label"], "Deezer에서 보기");
        assert_eq!(
            card["buttons"][0]["webLinkUrl"],
            "https://www.deezer.com/artist/75798"
        );
        let card = &both.json["template"]["outputs"][0]["basicCard"];
        assert_eq!(card["buttons"][0]["label"], "Spotify에서 보기");
    }
);

db_test!(
    async fn the_secret_header_is_required_when_configured(db: TestDb) {
        let store = seeded(&db).await;
        let router = router_with(&store, &[("SKILL_SECRET", "s3cret-value-for-tests")]);
        let body = kakao_request("IU").to_string().into_bytes();

        let missing = post_raw(&router, body.clone(), &[]).await;
        let wrong = post_raw(&router, body.clone(), &[("X-Skill-Secret", "s3cret-value")]).await;
        let right = post_raw(
            &router,
            body.clone(),
            &[("x-skill-secret", "s3cret-value-for-tests")],
        )
        .await;

        assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(missing.json, json!({"error": "unauthorized"}));
        assert!(!wrong.json.to_string().contains("s3cret"));
        assert_eq!(right.status, StatusCode::OK);

        let custom = router_with(
            &store,
            &[
                ("SKILL_SECRET", "abc123"),
                ("SKILL_SECRET_HEADER", "X-Kakao-Token"),
            ],
        );
        let answer = post_raw(&custom, body.clone(), &[("X-Kakao-Token", "abc123")]).await;
        assert_eq!(answer.status, StatusCode::OK);
        let answer = post_raw(&custom, body, &[("X-Skill-Secret", "abc123")]).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
);

db_test!(
    async fn other_bots_are_refused_when_bot_ids_are_configured(db: TestDb) {
        let store = seeded(&db).await;
        let ids = format!("someotherbot, {BOT_ID}");
        let router = router_with(&store, &[("SKILL_BOT_IDS", ids.as_str())]);

        let ours = ask(&router, "IU").await;
        let mut theirs = kakao_request("IU");
        theirs["bot"]["id"] = json!("5f00000000000000000000ff");
        let theirs = post(&router, &theirs).await;
        let mut anonymous = kakao_request("IU");
        anonymous["bot"] = Value::Null;
        let anonymous = post(&router, &anonymous).await;

        assert_eq!(ours.status, StatusCode::OK);
        assert_eq!(theirs.status, StatusCode::FORBIDDEN);
        assert_eq!(anonymous.status, StatusCode::FORBIDDEN);
        assert!(theirs.json["error"].is_string());
    }
);

// Refused or answered before the database is asked: one backend is enough.
#[tokio::test]
async fn bodies_over_64_kib_are_refused() {
    crate::support::init_logs();
    let db = testkit::db::TestDb::sqlite().await;
    let store = seeded(&db).await;
    let mut request = kakao_request("IU");
    request["padding"] = json!("x".repeat(64 * 1024));

    let answer = post(&router(&store), &request).await;

    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(answer.json["error"].as_str().unwrap().contains("65536"));
}

// Refused or answered before the database is asked: one backend is enough.
#[tokio::test]
async fn malformed_json_gets_a_400_with_a_json_error() {
    crate::support::init_logs();
    let db = testkit::db::TestDb::sqlite().await;
    let store = seeded(&db).await;
    let router = router(&store);

    let broken = post_raw(
        &router,
        br#"{"userRequest": {"utterance": "IU",,}}"#.to_vec(),
        &[],
    )
    .await;
    let no_utterance = post(&router, &json!({"userRequest": {"lang": "ko"}})).await;
    let not_utf8 = post_raw(&router, vec![0xff, 0xfe, 0x00], &[]).await;

    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        broken.json,
        json!({"error": "malformed request: invalid JSON at line 1, column 36"})
    );
    assert_eq!(no_utterance.status, StatusCode::BAD_REQUEST);
    assert!(
        no_utterance.json["error"]
            .as_str()
            .unwrap()
            .contains("utterance")
    );
    assert_eq!(not_utf8.status, StatusCode::BAD_REQUEST);
}

db_test!(
    async fn lenient_parsing_accepts_what_the_builder_console_sends(db: TestDb) {
        let store = seeded(&db).await;
        let mut request = kakao_request("IU");
        request["userRequest"]["lang"] = Value::Null;
        request["userRequest"]["params"] = json!({"ignoreMe": "true"});
        request["userRequest"]["user"] =
            json!({"id": "918273", "type": "accountId", "properties": {}});
        request["action"]["params"] = json!({"sys_number": "{\"amount\": 2}"});
        request["somethingNew"] = json!([1, {"x": null}]);

        let answer = post(&router(&store), &request).await;

        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(
            answer.json["template"]["outputs"][0]["basicCard"]["title"],
            "IU"
        );
    }
);

db_test!(
    async fn an_api_gateway_event_body_is_unwrapped_also_in_base64(db: TestDb) {
        let store = seeded(&db).await;
        let router = router(&store);
        let inner = kakao_request("아이유").to_string();
        let event = |body: String, base64: bool| {
            json!({
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": "/skill",
                "headers": {"content-type": "application/json"},
                "requestContext": {"http": {"method": "POST", "path": "/skill"}},
                "body": body,
                "isBase64Encoded": base64
            })
        };

        let plain = post(&router, &event(inner.clone(), false)).await;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&inner);
        let base64 = post(&router, &event(encoded, true)).await;

        for answer in [plain, base64] {
            assert_eq!(answer.status, StatusCode::OK);
            assert_eq!(
                answer.json["template"]["outputs"][0]["basicCard"]["title"],
                "IU"
            );
        }
    }
);

db_test!(
    async fn healthz_says_ok_while_the_database_answers(db: TestDb) {
        let store = seeded(&db).await;

        let (status, body) = get(&router(&store), "/healthz").await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"status": "ok"}));
        let (status, body) = get(&router(&store), "/nowhere").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, json!({"error": "not found"}));
    }
);

db_test!(
    async fn a_database_that_is_down_still_gets_a_valid_try_again_reply_in_time(db: TestDb) {
        // MySQL: a refused port. SQLite has no server to be down: its pool is closed.
        let store = match db.backend {
            Backend::Mysql => {
                let pool = PoolOptions {
                    max_connections: 2,
                    connect_timeout: Duration::from_millis(1500),
                    lazy: true,
                    ping_if_idle_for: None,
                    statement_timeout: None,
                };
                let url = DatabaseUrl::new("mysql://root@127.0.0.1:1/artistbot");
                Store::connect(&url, pool)
                    .await
                    .expect("a lazy pool connects later")
            }
            Backend::Sqlite => {
                let store = seeded(&db).await;
                store.clone().close().await;
                store
            }
        };
        let router = skill::router(SkillService::new(store, skill_settings(&[])));

        let started = Instant::now();
        let answer = ask(&router, "IU").await;
        let took = started.elapsed();

        assert_eq!(answer.status, StatusCode::OK);
        assert!(first_text(&answer.json).contains("잠시 후 다시 시도해 주세요"));
        assert!(took < Duration::from_secs(2), "took {took:?}");
        assert_reply_snapshot!("skill_unavailable", &answer.json);
        let (status, body) = get(&router, "/healthz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body, json!({"status": "unavailable"}));
    }
);

db_test!(
    async fn the_skill_answers_over_a_real_tcp_listener(db: TestDb) {
        let store = seeded(&db).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let service = SkillService::new(store, skill_settings(&[]));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let settings = artistbot::config::Settings::from_map(&Default::default()).unwrap();
        let server = tokio::spawn(skill::serve(
            listener,
            service,
            None,
            settings.server,
            Duration::from_secs(5),
            async {
                let _ = stopped.await;
            },
        ));

        let client = reqwest::Client::new();
        let reply: Value = client
            .post(format!("http://{address}/skill"))
            .json(&kakao_request("아이유"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let health = client
            .get(format!("http://{address}/healthz"))
            .send()
            .await
            .unwrap()
            .status();
        stop.send(()).unwrap();
        server.await.unwrap();

        assert_eq!(reply["template"]["outputs"][0]["basicCard"]["title"], "IU");
        limits::check_reply(&reply).unwrap();
        assert_eq!(health, 200);
    }
);

/// A server that accepts connections and never says a word: the database is "slow"
/// for ever. No database is needed, so this runs once, not per backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_never_answers_gets_a_try_again_reply_within_the_timeout() {
    crate::support::init_logs();
    let blackhole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = blackhole.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = blackhole.accept().await {
            held.push(socket);
        }
    });
    let settings = skill_settings(&[("SKILL_DB_TIMEOUT", "400ms")]);
    let pool = PoolOptions {
        max_connections: 2,
        connect_timeout: Duration::from_secs(10),
        lazy: true,
        ping_if_idle_for: None,
        statement_timeout: None,
    };
    let url = DatabaseUrl::new(format!("mysql://root@{address}/artistbot"));
    let store = Store::connect(&url, pool).await.unwrap();
    let router = skill::router(SkillService::new(store, settings));

    let started = Instant::now();
    let answer = ask(&router, "IU").await;
    let took = started.elapsed();

    assert_eq!(answer.status, StatusCode::OK);
    assert!(first_text(&answer.json).contains("잠시 후 다시 시도해 주세요"));
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(1500),
        "took {took:?}"
    );
    let started = Instant::now();
    let (status, _) = get(&router, "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < Duration::from_millis(1500));
    holder.abort();
}
