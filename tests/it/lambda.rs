//! `artistbot-skill` run as AWS runs it: the real binary, started with
//! `AWS_LAMBDA_RUNTIME_API` pointing at `testkit`'s Runtime API stand-in, on a seeded
//! catalog (SQLite and MySQL), fed the events of every AWS front door. Every answer must
//! be the proxy response that front door reads, its body a Kakao reply within Kakao's
//! limits.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use testkit::db::TestDb;
use testkit::kakao::check_reply;
use testkit::lambda_events::{BodyEncoding, FrontDoorEvent};
use testkit::lambda_runtime::{FunctionProcess, Outcome, RuntimeApi};

use crate::skill::fixtures::{BOT_ID, kakao_request, seed_catalog};
use crate::support::migrated_store;

const FUNCTION_BINARY: &str = env!("CARGO_BIN_EXE_artistbot-skill");

const SECRET: &str = "lambda-test-secret-4f9a2c";

/// The function under the stand-in, on `db` seeded with the skill's fixed catalog.
async fn start_function(db: &TestDb, settings: &[(&str, &str)]) -> (RuntimeApi, FunctionProcess) {
    let store = migrated_store(db).await;
    seed_catalog(&store).await;
    store.close().await;
    start_function_on(&db.url, settings).await
}

async fn start_function_on(
    database_url: &str,
    settings: &[(&str, &str)],
) -> (RuntimeApi, FunctionProcess) {
    let api = RuntimeApi::start().await;
    let mut command = api.command(FUNCTION_BINARY);
    command
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "info")
        // Loaded test machines: the reply must not turn into "try again" on a slow query.
        .env("SKILL_DB_TIMEOUT", "4s");
    for (name, value) in settings {
        command.env(name, value);
    }
    let process = FunctionProcess::spawn(command);
    (api, process)
}

/// A Kakao request body asking for `utterance`, as our bot sends it.
fn kakao_body(utterance: &str) -> String {
    kakao_request(utterance).to_string()
}

/// The Kakao reply inside a proxy response (decoded when base64), checked against every
/// Kakao limit.
fn skill_reply(response: &Value) -> Value {
    let body = response["body"]
        .as_str()
        .unwrap_or_else(|| panic!("a string body: {response}"));
    let bytes = if response["isBase64Encoded"] == true {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("a base64 body")
    } else {
        body.as_bytes().to_vec()
    };
    let reply: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|error| panic!("the body is JSON ({error}): {body}"));
    if response["statusCode"] == 200
        && let Err(problem) = check_reply(&reply)
    {
        panic!("the reply breaks a Kakao limit: {problem}\n{reply:#}");
    }
    reply
}

/// The JSON error body of a refused request.
fn error_body(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

fn assert_names_iu(door: FrontDoorEvent, response: &Value) {
    assert_eq!(response["statusCode"], 200, "{door:?}: {response}");
    let reply = skill_reply(response);
    assert_eq!(
        reply["template"]["outputs"][0]["basicCard"]["title"], "IU",
        "{door:?}: {reply}"
    );
}

/// The keys each front door reads back, and nothing it would misread.
fn assert_response_shape(door: FrontDoorEvent, response: &Value) {
    let has = |key: &str| response.get(key).is_some();
    assert!(response["statusCode"].is_u64(), "{door:?}: {response}");
    assert!(
        response["isBase64Encoded"].is_boolean(),
        "{door:?}: {response}"
    );
    match door {
        FrontDoorEvent::LoadBalancer => {
            assert_eq!(response["statusDescription"], "200 OK");
            assert_eq!(response["headers"]["content-type"], "application/json");
            assert!(!has("multiValueHeaders"), "{door:?}: {response}");
        }
        FrontDoorEvent::LoadBalancerMultiValue => {
            assert_eq!(response["statusDescription"], "200 OK");
            assert_eq!(
                response["multiValueHeaders"]["content-type"],
                json!(["application/json"])
            );
            assert!(!has("headers"), "{door:?}: {response}");
        }
        _ if door.answers_in_format_2() => {
            assert_eq!(response["headers"]["content-type"], "application/json");
            assert!(response["cookies"].is_array(), "{door:?}: {response}");
            assert!(!has("multiValueHeaders"), "{door:?}: {response}");
        }
        _ => {
            assert_eq!(response["headers"]["content-type"], "application/json");
            assert_eq!(
                response["multiValueHeaders"]["content-type"],
                json!(["application/json"])
            );
        }
    }
}

/// Asks for IU through each of `doors`, plain and base64, and checks every answer.
async fn ask_through(api: &RuntimeApi, doors: &[FrontDoorEvent]) {
    for &door in doors {
        for encoding in [BodyEncoding::Plain, BodyEncoding::Base64] {
            let event = door.carrying(&kakao_body("아이유"), encoding, &[]);

            let response = api.call(&event).await.response();

            assert_names_iu(door, &response);
            assert_response_shape(door, &response);
        }
    }
}

db_test!(
    async fn rest_events_with_and_without_a_stage_and_with_other_resource_paths_are_answered(
        db: TestDb,
    ) {
        let (api, _function) = start_function(&db, &[]).await;

        ask_through(
            &api,
            &[
                FrontDoorEvent::RestApiWithStage,
                FrontDoorEvent::RestApiCustomDomain,
                FrontDoorEvent::RestApiCustomResource,
                FrontDoorEvent::RestApiProxyResource,
            ],
        )
        .await;
    }
);

db_test!(
    async fn http_api_and_function_url_events_are_answered_plain_and_base64(db: TestDb) {
        let (api, _function) = start_function(&db, &[]).await;

        ask_through(
            &api,
            &[
                FrontDoorEvent::HttpApiPayload1,
                FrontDoorEvent::HttpApi,
                FrontDoorEvent::HttpApiNamedStage,
                FrontDoorEvent::FunctionUrl,
            ],
        )
        .await;
    }
);

db_test!(
    async fn load_balancer_events_are_answered_with_or_without_multi_value_headers(db: TestDb) {
        let (api, _function) = start_function(&db, &[]).await;

        ask_through(
            &api,
            &[
                FrontDoorEvent::LoadBalancer,
                FrontDoorEvent::LoadBalancerMultiValue,
            ],
        )
        .await;
    }
);

db_test!(
    async fn events_missing_optional_parts_are_still_answered(db: TestDb) {
        let (api, _function) = start_function(&db, &[]).await;
        let body = kakao_body("아이유");
        let encoded = base64::engine::general_purpose::STANDARD.encode(&body);
        // An API Gateway capture from 2020: no multiValueHeaders, no isBase64Encoded.
        let capture_2020 =
            FrontDoorEvent::RestApiMinimal2020.carrying(&body, BodyEncoding::Plain, &[]);
        let mut without_context =
            FrontDoorEvent::RestApiWithStage.carrying(&body, BodyEncoding::Plain, &[]);
        without_context
            .as_object_mut()
            .unwrap()
            .remove("requestContext");
        without_context
            .as_object_mut()
            .unwrap()
            .remove("multiValueHeaders");
        let mut v2_bare = FrontDoorEvent::FunctionUrl.carrying(&body, BodyEncoding::Plain, &[]);
        for part in ["isBase64Encoded", "rawQueryString", "routeKey", "headers"] {
            v2_bare.as_object_mut().unwrap().remove(part);
        }
        v2_bare["requestContext"] = json!({"http": {"method": "POST"}});
        let hand_written = [
            json!({"httpMethod": "POST", "body": body}),
            json!({"body": body, "headers": null, "multiValueHeaders": null}),
            json!({"body": encoded, "isBase64Encoded": "true"}),
            json!({"httpMethod": "post", "path": "/", "body": kakao_request("아이유")}),
            json!({"httpMethod": "POST", "body": body, "isBase64Encoded": true}),
        ];

        for event in [capture_2020, without_context, v2_bare]
            .into_iter()
            .chain(hand_written)
        {
            let response = api.call(&event).await.response();

            assert_eq!(response["statusCode"], 200, "{event}: {response}");
            let reply = skill_reply(&response);
            assert_eq!(
                reply["template"]["outputs"][0]["basicCard"]["title"], "IU",
                "{event}"
            );
        }
    }
);

db_test!(
    async fn an_event_that_is_not_http_fails_its_invocation_and_the_next_is_answered(db: TestDb) {
        let (api, mut function) = start_function(&db, &[]).await;
        let scheduled = json!({
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "time": "2026-11-27T07:00:00Z",
            "region": "ap-northeast-2",
            "resources": ["arn:aws:events:ap-northeast-2:123456789012:rule/every-hour"],
            "detail": {}
        });

        let failures = [
            api.call(&scheduled).await,
            api.call(&json!([1, 2, 3])).await,
            api.call(&json!("hello")).await,
        ];
        let then = api
            .call(&FrontDoorEvent::HttpApi.carrying(&kakao_body("IU"), BodyEncoding::Plain, &[]))
            .await
            .response();

        for failure in failures {
            let Outcome::Error(error) = failure.outcome else {
                panic!("a non-HTTP event must fail its invocation: {failure:?}");
            };
            assert_eq!(error.body["errorType"], "NotAnHttpEvent", "{error:?}");
            assert!(
                error.body["errorMessage"]
                    .as_str()
                    .unwrap()
                    .contains("not an HTTP request"),
                "{error:?}"
            );
        }
        assert_names_iu(FrontDoorEvent::HttpApi, &then);
        assert!(function.is_running());
        let logs = function.stdout() + &function.stderr();
        assert!(logs.contains("not an HTTP request"), "{logs}");
        assert!(!logs.contains("panicked"), "{logs}");
    }
);

db_test!(
    async fn the_skills_checks_hold_behind_every_front_door(db: TestDb) {
        // TRACE everywhere: the secret must still stay out of the logs.
        let bot_ids = format!("someotherbot,{BOT_ID}");
        let (api, function) = start_function(
            &db,
            &[
                ("SKILL_SECRET", SECRET),
                ("SKILL_BOT_IDS", &bot_ids),
                ("RUST_LOG", "trace"),
            ],
        )
        .await;
        let ours = kakao_body("IU");
        let mut theirs = kakao_request("IU");
        theirs["bot"]["id"] = json!("5f00000000000000000000ff");
        let theirs = theirs.to_string();
        let mut oversized = kakao_request("IU");
        oversized["padding"] = json!("x".repeat(64 * 1024));
        let oversized = oversized.to_string();
        let with_secret = [("X-Skill-Secret", SECRET)];

        for door in FrontDoorEvent::ALL {
            let ask = |body: &str, headers: &[(&str, &str)]| {
                api.invoke(&door.carrying(body, BodyEncoding::Base64, headers))
            };
            let no_secret = ask(&ours, &[]);
            let wrong_secret = ask(&ours, &[("X-Skill-Secret", "lambda-test-secret")]);
            let other_bot = ask(&theirs, &with_secret);
            let too_large = ask(&oversized, &with_secret);
            let not_json = ask(r#"{"userRequest": {"utterance": "IU",,}}"#, &with_secret);
            let right = ask(&ours, &with_secret);

            let mut answers = Vec::new();
            for invocation in [
                no_secret,
                wrong_secret,
                other_bot,
                too_large,
                not_json,
                right,
            ] {
                let completion = invocation
                    .completion(Duration::from_secs(10))
                    .await
                    .unwrap();
                answers.push(completion.response());
            }

            let statuses: Vec<&Value> = answers.iter().map(|a| &a["statusCode"]).collect();
            assert_eq!(statuses, [401, 401, 403, 413, 400, 200], "{door:?}");
            assert_eq!(error_body(&answers[0]), json!({"error": "unauthorized"}));
            assert!(error_body(&answers[2])["error"].is_string(), "{door:?}");
            assert!(
                error_body(&answers[3])["error"]
                    .as_str()
                    .unwrap()
                    .contains("65536"),
                "{door:?}"
            );
            assert_eq!(
                error_body(&answers[4]),
                json!({"error": "malformed request: invalid JSON at line 1, column 36"}),
                "{door:?}"
            );
            assert_names_iu(door, &answers[5]);
        }
        let logs = function.stdout() + &function.stderr();
        assert!(logs.contains("skill request"), "the requests were logged");
        assert!(!logs.contains(SECRET), "the secret reached the logs");
    }
);

db_test!(
    async fn the_health_check_answers_through_every_front_door(db: TestDb) {
        let (api, _function) = start_function(&db, &[("SKILL_SECRET", SECRET)]).await;

        for door in FrontDoorEvent::ALL {
            let response = api.call(&door.health_check()).await.response();

            assert_eq!(response["statusCode"], 200, "{door:?}: {response}");
            assert_eq!(error_body(&response), json!({"status": "ok"}), "{door:?}");
        }
    }
);

db_test!(
    async fn a_miss_is_recorded_before_the_function_replies(db: TestDb) {
        let (api, _function) = start_function(&db, &[]).await;
        let event = FrontDoorEvent::FunctionUrl.carrying(
            &kakao_body("Radiohead"),
            BodyEncoding::Plain,
            &[],
        );

        let response = api.call(&event).await.response();

        // Lambda may freeze the process as soon as the reply is out: the write is done.
        let reply = skill_reply(&response);
        assert!(
            reply["template"]["outputs"][0]["simpleText"]["text"]
                .as_str()
                .unwrap()
                .contains("찾아보고 있어요")
        );
        let store = migrated_store(&db).await;
        assert_eq!(
            store.pending_requests_for_test().await.unwrap(),
            [("Radiohead".to_owned(), 1)]
        );
    }
);

/// The binary's start on a fresh SQLite catalog, for the tests that are about the
/// process rather than the database.
async fn start_on_sqlite(settings: &[(&str, &str)]) -> (TestDb, RuntimeApi, FunctionProcess) {
    let db = TestDb::sqlite().await;
    let (api, function) = start_function(&db, settings).await;
    (db, api, function)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_start_is_reported_to_init_error_with_its_reason() {
    crate::support::init_logs();
    let (_db, api, mut function) = start_on_sqlite(&[("SKILL_DB_TIMEOUT", "soon")]).await;

    let reported = api.init_error(Duration::from_secs(10)).await;

    let reported = reported.expect("the failed start was reported");
    assert_eq!(
        reported.error_type_header.as_deref(),
        Some("Runtime.InitError")
    );
    let message = reported.body["errorMessage"].as_str().unwrap();
    assert!(message.contains("SKILL_DB_TIMEOUT"), "{message}");
    let status = function.wait_for_exit(Duration::from_secs(10));
    assert!(status.is_some_and(|status| !status.success()), "{status:?}");
    assert!(api.next_requests().is_empty(), "no event was asked for");
    assert!(
        !function.stderr().contains("panicked"),
        "{}",
        function.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_lambda_the_binary_says_what_it_needs_instead_of_panicking() {
    crate::support::init_logs();

    let output = std::process::Command::new(FUNCTION_BINARY)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir())
        .output()
        .expect("running artistbot-skill");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("AWS_LAMBDA_RUNTIME_API"), "{stderr}");
    assert!(stderr.contains("artistbot serve"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_one_json_object_per_line_without_a_timestamp_when_lambda_asks_for_json() {
    crate::support::init_logs();
    let (_db, api, function) = start_on_sqlite(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]).await;

    api.call(&FrontDoorEvent::RestApiWithStage.carrying(
        &kakao_body("IU"),
        BodyEncoding::Plain,
        &[],
    ))
    .await
    .response();
    api.call(&json!({"detail-type": "Scheduled Event"})).await;

    let stdout = function.stdout();
    let lines: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert!(lines.iter().all(Value::is_object), "{stdout}");
    assert!(
        lines.iter().all(|line| line.get("timestamp").is_none()),
        "CloudWatch times each line: {stdout}"
    );
    let request = lines
        .iter()
        .find(|line| line["message"] == "skill request")
        .unwrap_or_else(|| panic!("a skill request line: {stdout}"));
    assert_eq!(request["outcome"], "hit");
    assert_eq!(request["level"], "INFO");
    let spans = request["spans"].as_array().expect("the spans");
    assert!(
        spans.iter().any(|span| span["requestId"].is_string()),
        "{request}"
    );
    assert!(
        spans.iter().any(|span| span["front_door"] == "rest_api"),
        "{request}"
    );
    assert!(
        lines.iter().any(
            |line| line["level"] == "ERROR" && line.to_string().contains("not an HTTP request")
        ),
        "{stdout}"
    );
    assert!(function.stderr().trim().is_empty(), "{}", function.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_on_lambda_carry_no_timestamp_of_their_own() {
    crate::support::init_logs();
    let (_db, api, function) = start_on_sqlite(&[]).await;

    api.call(&FrontDoorEvent::FunctionUrl.carrying(&kakao_body("IU"), BodyEncoding::Plain, &[]))
        .await
        .response();

    let stdout = function.stdout();
    let request = stdout
        .lines()
        .find(|line| line.contains("skill request"))
        .unwrap_or_else(|| panic!("a skill request line: {stdout}"));
    assert!(
        request.starts_with(" INFO") || request.starts_with("INFO"),
        "{request}"
    );
    assert!(request.contains("front_door=\"function_url\""), "{request}");
    assert!(request.contains("outcome=\"hit\""), "{request}");
    assert!(!request.contains('\u{1b}'), "no colours: {request}");
    assert!(
        !stdout.lines().any(|line| line.starts_with("20")),
        "no line starts with a date: {stdout}"
    );
}
