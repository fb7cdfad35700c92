//! 10,000 random chat payloads through the skill's router, on each backend: real-shaped
//! requests with any utterance (Hangul, emoji, control and bidi characters, very long,
//! empty), mangled structures (fields missing, of the wrong type, nested junk), API
//! Gateway envelopes, and bytes that are not JSON at all. Every answer is JSON, no
//! status is 5xx, and every 200 reply keeps Kakao's limits (`post_raw` checks).
//!
//! The generator is seeded (`FUZZ_SEED`, else a fixed seed): a failure names its seed and
//! case, and reruns exactly.

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::skill::fixtures::{kakao_request, post_raw, router, seed_catalog};
use crate::support::migrated_store;

const CASES: usize = 10_000;

/// Names the catalog knows, so some payloads are hits.
const KNOWN: &[&str] = &[
    "IU",
    "아이유",
    "오마이걸",
    "OH MY GIRL",
    "태연",
    "볼빨간 사춘기",
    "nell",
];

fn piece(rng: &mut fastrand::Rng) -> String {
    match rng.u8(..12) {
        0 => KNOWN[rng.usize(..KNOWN.len())].to_owned(),
        1 => (0..rng.usize(1..12))
            .map(|_| char::from_u32(rng.u32(0xAC00..0xD7A4)).unwrap())
            .collect(),
        2 => (0..rng.usize(1..12)).map(|_| rng.alphanumeric()).collect(),
        3 => "👨\u{200D}👩\u{200D}👧".to_owned(),
        4 => "\u{7}\u{1b}[31m\u{7f}\u{0}".to_owned(),
        5 => "\u{202e}\u{2066}\u{200b}\u{feff}".to_owned(),
        6 => "\n\r\t ".to_owned(),
        7 => "\\\"'%s{}[]<>&;--".to_owned(),
        8 => "2026-12-24T03:00:00Z INFO forged\n".to_owned(),
        9 => (0..rng.usize(1..8))
            .map(|_| char::from_u32(rng.u32(0x20..0x2FFFF)).unwrap_or('?'))
            .collect(),
        10 => "x".repeat(rng.usize(100..3000)),
        _ => String::new(),
    }
}

fn utterance(rng: &mut fastrand::Rng) -> String {
    (0..rng.usize(0..5)).map(|_| piece(rng)).collect()
}

fn junk(rng: &mut fastrand::Rng, depth: usize) -> Value {
    match rng.u8(..if depth > 3 { 5 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.bool()),
        2 => json!(rng.i64(..)),
        3 => json!(rng.f64() * 1e300),
        4 => json!(utterance(rng)),
        5 => Value::Array((0..rng.usize(0..4)).map(|_| junk(rng, depth + 1)).collect()),
        6 => {
            let mut object = serde_json::Map::new();
            for _ in 0..rng.usize(0..4) {
                object.insert(utterance(rng), junk(rng, depth + 1));
            }
            Value::Object(object)
        }
        _ => json!(json!({"amount": rng.u8(..)}).to_string()),
    }
}

/// Replaces or removes a value somewhere in `value`.
fn mangle(rng: &mut fastrand::Rng, value: &mut Value) {
    match value {
        Value::Object(object) if !object.is_empty() && rng.bool() => {
            let keys: Vec<String> = object.keys().cloned().collect();
            let key = &keys[rng.usize(..keys.len())];
            match rng.u8(..3) {
                0 => {
                    object.remove(key);
                }
                1 => {
                    object.insert(key.clone(), junk(rng, 0));
                }
                _ => mangle(rng, object.get_mut(key).unwrap()),
            }
        }
        _ => *value = junk(rng, 0),
    }
}

/// One payload: its bytes and what it is, for the failure message.
fn payload(rng: &mut fastrand::Rng) -> (Vec<u8>, &'static str) {
    let mut request = kakao_request(&utterance(rng));
    match rng.u8(..10) {
        0..=3 => (request.to_string().into_bytes(), "a request"),
        4 => {
            request["action"]["params"]["artist"] = junk(rng, 0);
            request["action"]["detailParams"]["artist"] = junk(rng, 0);
            (request.to_string().into_bytes(), "an entity of any type")
        }
        5 | 6 => {
            for _ in 0..rng.usize(1..4) {
                mangle(rng, &mut request);
            }
            (request.to_string().into_bytes(), "a mangled request")
        }
        7 => {
            let inner = request.to_string();
            let base64 = rng.bool();
            let body = if base64 {
                base64::engine::general_purpose::STANDARD.encode(&inner)
            } else {
                inner
            };
            let event = json!({
                "version": "2.0",
                "rawPath": "/skill",
                "headers": {"content-type": "application/json"},
                "body": body,
                "isBase64Encoded": base64
            });
            (event.to_string().into_bytes(), "an API Gateway event")
        }
        8 => {
            let text = request.to_string();
            let cut = rng.usize(..text.len().max(1));
            let mut bytes = text.into_bytes();
            bytes.truncate(cut);
            (bytes, "a cut request")
        }
        _ => {
            let bytes = (0..rng.usize(0..300)).map(|_| rng.u8(..)).collect();
            (bytes, "random bytes")
        }
    }
}

db_test!(
    async fn ten_thousand_random_chat_payloads_never_get_a_5xx(db: TestDb) {
        let store = migrated_store(&db).await;
        seed_catalog(&store).await;
        let router = router(&store);
        let seed = std::env::var("FUZZ_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or(0x5eed_cafe_u64);
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut statuses = std::collections::BTreeMap::<u16, usize>::new();

        for case in 0..CASES {
            let (body, what) = payload(&mut rng);
            // `post_raw` panics on an answer that is not JSON or a 200 that breaks a limit.
            let answer = post_raw(&router, body.clone(), &[]).await;

            assert!(
                !answer.status.is_server_error(),
                "seed {seed}, case {case} ({what}) got {}: {}\n{:?}",
                answer.status,
                answer.json,
                String::from_utf8_lossy(&body)
            );
            assert!(
                answer.status == StatusCode::OK || answer.json["error"].is_string(),
                "seed {seed}, case {case} ({what}): {}",
                answer.json
            );
            *statuses.entry(answer.status.as_u16()).or_default() += 1;
        }

        // The mix reached both the catalog and the refusals.
        assert!(
            statuses.get(&200).copied().unwrap_or(0) > CASES / 2,
            "{statuses:?}"
        );
        assert!(statuses.get(&400).copied().unwrap_or(0) > 0, "{statuses:?}");
    }
);
