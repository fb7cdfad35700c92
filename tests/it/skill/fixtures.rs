//! A small fixed catalog seeded through the store's public API, Kakao-shaped request
//! bodies (our own, modeled on what Open Builder sends), and a router to send them to.

use std::collections::HashMap;

use artistbot::catalog::{
    AddedVia, ArtistProfile, ArtistRefresh, NewArtist, RelatedUpdate, Source, TopTrack,
};
use artistbot::config::{Settings, SkillSettings};
use artistbot::skill::{self, SkillService};
use artistbot::store::{self, Store};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::limits::check_reply;

pub const BOT_ID: &str = "64a0f1e2d3c4b5a6978877aa";

/// Skill settings from `SKILL_*` pairs, as the environment would give them.
pub fn skill_settings(pairs: &[(&str, &str)]) -> SkillSettings {
    let vars: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_map(&vars)
        .expect("valid test settings")
        .skill
}

pub fn router_with(store: &Store, pairs: &[(&str, &str)]) -> Router {
    skill::router(SkillService::new(store.clone(), skill_settings(pairs)))
}

pub fn router(store: &Store) -> Router {
    router_with(store, &[])
}

/// A request as the production channel sends it, asking about `utterance`.
pub fn kakao_request(utterance: &str) -> Value {
    json!({
        "intent": {"id": "aa11bb22cc33dd44ee55ff66", "name": "아티스트 검색"},
        "userRequest": {
            "timezone": "Asia/Seoul",
            "params": {"surface": "Kakaotalk.plusfriend"},
            "block": {"id": "aa11bb22cc33dd44ee55ff66", "name": "아티스트 검색"},
            "utterance": format!("{utterance}\n"),
            "lang": "ko",
            "user": {
                "id": "7d1e0c3b9a8f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c",
                "type": "botUserKey",
                "properties": {
                    "botUserKey": "7d1e0c3b9a8f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c",
                    "bot_user_key": "7d1e0c3b9a8f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c",
                    "isFriend": true
                }
            }
        },
        "bot": {"id": BOT_ID, "name": "아티스트봇"},
        "action": {
            "id": "0a1b2c3d4e5f60718293a4b5",
            "name": "artist_lookup",
            "params": {},
            "detailParams": {},
            "clientExtra": null
        },
        "contexts": []
    })
}

/// A reply and its status.
pub struct Answer {
    pub status: StatusCode,
    pub json: Value,
}

/// Posts `body` to `/skill` with `headers`; every 200 answer is checked against every
/// Kakao limit before it is returned.
pub async fn post_raw(router: &Router, body: Vec<u8>, headers: &[(&str, &str)]) -> Answer {
    let mut request = Request::post("/skill").header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body)).expect("a request"))
        .await
        .expect("the router always answers");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let json: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "the answer is JSON ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    if status == StatusCode::OK
        && let Err(problem) = check_reply(&json)
    {
        panic!("the reply breaks a Kakao limit: {problem}\n{json:#}");
    }
    Answer { status, json }
}

pub async fn post(router: &Router, body: &Value) -> Answer {
    post_raw(router, body.to_string().into_bytes(), &[]).await
}

pub async fn ask(router: &Router, utterance: &str) -> Answer {
    post(router, &kakao_request(utterance)).await
}

/// As [`ask`], by the user Kakao knows as `user_id`.
pub async fn ask_as(router: &Router, utterance: &str, user_id: &str) -> Answer {
    let mut request = kakao_request(utterance);
    request["userRequest"]["user"]["id"] = json!(user_id);
    post(router, &request).await
}

pub async fn get(router: &Router, path: &str) -> (StatusCode, Value) {
    let response = router
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).expect("a request"))
        .await
        .expect("the router always answers");
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The text of the first simpleText of a reply.
pub fn first_text(reply: &Value) -> &str {
    reply["template"]["outputs"][0]["simpleText"]["text"]
        .as_str()
        .unwrap_or("")
}

/// The carousel's card headers.
pub fn card_headers(reply: &Value) -> Vec<String> {
    reply["template"]["outputs"][1]["carousel"]["items"]
        .as_array()
        .map(|cards| {
            cards
                .iter()
                .map(|card| card["header"]["title"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The quick replies' message texts.
pub fn quick_replies(reply: &Value) -> Vec<String> {
    reply["template"]["quickReplies"]
        .as_array()
        .map(|chips| {
            chips
                .iter()
                .map(|chip| chip["messageText"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

// --- the fixed catalog ---------------------------------------------------------------

pub fn new_artist(id: &str, name: &str) -> NewArtist {
    NewArtist {
        profile: ArtistProfile {
            id: id.into(),
            name: name.into(),
            followers: None,
            popularity: None,
            url: None,
            image_url: None,
            genres: Vec::new(),
        },
        source: Source::Spotify,
        deezer_id: None,
        deezer_fans: None,
        added_via: AddedVia::Cli,
    }
}

pub fn track(id: &str, name: &str, album: Option<&str>, image: Option<&str>) -> TopTrack {
    TopTrack {
        id: id.into(),
        name: name.into(),
        album_name: album.map(str::to_owned),
        image_url: image.map(str::to_owned),
        popularity: None,
        deezer_rank: None,
        isrc: None,
        url: None,
        duration_ms: None,
    }
}

/// Writes `tracks` and `related` for `artist_id` as a sync refresh would.
pub async fn refresh(store: &Store, artist_id: &str, tracks: Vec<TopTrack>, related: &[&str]) {
    let refresh = ArtistRefresh {
        artist_id: artist_id.into(),
        tracks: (!tracks.is_empty()).then_some((Source::Spotify, tracks)),
        related: (!related.is_empty()).then(|| RelatedUpdate {
            source: Source::Spotify,
            related_ids: related.iter().map(|id| id.to_string()).collect(),
            complete: true,
        }),
        ..Default::default()
    };
    store
        .apply_refresh(&refresh, store::now())
        .await
        .expect("seeding a refresh");
}

fn simple_tracks(prefix: &str, names: &[(&str, &str)]) -> Vec<TopTrack> {
    names
        .iter()
        .enumerate()
        .map(|(n, (name, album))| {
            track(
                &format!("{prefix}-t{n}"),
                name,
                Some(album),
                Some(&format!("https://i.scdn.example/album/{prefix}-{n}.jpg")),
            )
        })
        .collect()
}

/// IU (with a Hangul alias, four tracks and five related artists, one of them without
/// tracks), OH MY GIRL (found by its Hangul alias, no related artists), 볼빨간사춘기 (a
/// Hangul name), and two namesakes called "Nell".
pub async fn seed_catalog(store: &Store) {
    let now = store::now();
    let mut iu = new_artist("iu0000000000000000001", "IU");
    iu.profile.followers = Some(9_876_543);
    iu.profile.url = Some("https://open.spotify.example/artist/iu".into());
    iu.profile.image_url = Some("https://i.scdn.example/artist/iu.jpg".into());
    iu.profile.genres = vec!["k-pop".into(), "k-ballad".into()];
    iu.deezer_fans = Some(123_456);
    let mut omg = new_artist("omg000000000000000001", "OH MY GIRL");
    omg.profile.url = Some("https://open.spotify.example/artist/omg".into());
    let mut nell_big = new_artist("nell00000000000000001", "Nell");
    nell_big.profile.followers = Some(500_000);
    nell_big.profile.genres = vec!["k-indie".into()];
    let mut nell_small = new_artist("nell00000000000000000", "NELL");
    nell_small.profile.followers = Some(1_000);
    store
        .add_artists(
            &[
                iu,
                omg,
                new_artist("taeyeon00000000000001", "태연"),
                new_artist("newcomer0000000000001", "신인 아티스트"),
                new_artist("bol4000000000000000001", "볼빨간사춘기"),
                new_artist("akmu00000000000000001", "AKMU"),
                new_artist("heize0000000000000001", "Heize"),
                nell_small,
                nell_big,
            ],
            now,
        )
        .await
        .expect("seeding artists");
    refresh(
        store,
        "iu0000000000000000001",
        simple_tracks(
            "iu",
            &[
                ("Love wins all", "Love wins all"),
                ("밤편지", "Palette"),
                ("좋은 날", "REAL"),
                ("Blueming", "Love poem"),
            ],
        ),
        &[
            "taeyeon00000000000001",
            "newcomer0000000000001",
            "bol4000000000000000001",
            "akmu00000000000000001",
            "heize0000000000000001",
        ],
    )
    .await;
    refresh(
        store,
        "taeyeon00000000000001",
        simple_tracks(
            "ty",
            &[("INVU", "INVU"), ("그대라는 시", "호텔 델루나 OST")],
        ),
        &["iu0000000000000000001"],
    )
    .await;
    // A track without album or art, as some sources give them.
    refresh(
        store,
        "bol4000000000000000001",
        vec![track("b4-t0", "우주를 줄게", None, None)],
        &[],
    )
    .await;
    refresh(
        store,
        "akmu00000000000000001",
        simple_tracks(
            "ak",
            &[
                ("Love Lee", "Love Lee"),
                ("어떻게 이별까지 사랑하겠어", "항해"),
            ],
        ),
        &[],
    )
    .await;
    refresh(
        store,
        "heize0000000000000001",
        simple_tracks("hz", &[("비도 오고 그래서", "/// (Slash)")]),
        &[],
    )
    .await;
    refresh(
        store,
        "omg000000000000000001",
        simple_tracks(
            "omg",
            &[
                ("Dun Dun Dance", "Dear OHMYGIRL"),
                ("살짝 설렜어", "Nonstop"),
            ],
        ),
        &[],
    )
    .await;
    refresh(
        store,
        "nell00000000000000001",
        simple_tracks("nl", &[("기억을 걷는 시간", "Healing Process")]),
        &[],
    )
    .await;
    store
        .add_alias("아이유", "iu0000000000000000001", "cli", now)
        .await
        .expect("seeding an alias");
    store
        .add_alias("오마이걸", "omg000000000000000001", "cli", now)
        .await
        .expect("seeding an alias");
}
