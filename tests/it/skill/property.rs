//! Whatever the catalog holds (400-character names, emoji, control characters, empty
//! albums, missing or bogus image URLs, many tracks and related artists), the served
//! reply respects every Kakao limit.

use std::sync::atomic::{AtomicUsize, Ordering};

use artistbot::store::{self, Store};
use axum::Router;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::fixtures::{ask, new_artist, refresh, router, track};
use super::limits::check_reply;
use crate::support::migrated_store;

/// Pieces that stress counting and cleaning: ASCII, Hangul, emoji with ZWJ and skin
/// tones, a flag, control characters, whitespace.
fn text_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 &/.-]{1,12}",
        "[가-힣]{1,12}",
        Just("👨\u{200D}👩\u{200D}👧\u{200D}👦".to_owned()),
        Just("👍🏽".to_owned()),
        Just("🇰🇷".to_owned()),
        Just("\u{7}\u{1b}\u{7f}".to_owned()),
        Just("\n\r\t".to_owned()),
        Just(" ".to_owned()),
    ]
}

/// 0 to 400 characters: a few pieces, each repeated, reach 400 cheaply.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        6 => proptest::collection::vec((text_piece(), 1..60usize), 1..4).prop_map(|pieces| {
            pieces
                .iter()
                .map(|(piece, times)| piece.repeat(*times))
                .collect::<String>()
                .chars()
                .take(400)
                .collect()
        }),
    ]
}

fn any_url() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some(
            "https://i.scdn.example/image/ab67616d0000b273".to_owned()
        )),
        Just(Some(format!(
            "https://i.scdn.example/{}.jpg",
            "long-path-".repeat(100)
        ))),
        Just(Some("javascript:alert(1)".to_owned())),
        Just(Some("ftp://img.example.com/a.jpg".to_owned())),
        Just(Some(" https://img.example.com/spaced.jpg ".to_owned())),
    ]
}

#[derive(Clone, Debug)]
struct TrackCase {
    name: String,
    album: Option<String>,
    image: Option<String>,
}

#[derive(Clone, Debug)]
struct ArtistCase {
    name: String,
    url: Option<String>,
    image: Option<String>,
    followers: Option<i64>,
    genres: Vec<String>,
    tracks: Vec<TrackCase>,
}

fn any_artist() -> impl Strategy<Value = ArtistCase> {
    let track = (any_text(), proptest::option::of(any_text()), any_url())
        .prop_map(|(name, album, image)| TrackCase { name, album, image });
    (
        any_text(),
        any_url(),
        any_url(),
        proptest::option::of(0i64..10_000_000_000),
        proptest::collection::vec(any_text(), 0..4),
        proptest::collection::vec(track, 0..8),
    )
        .prop_map(|(name, url, image, followers, genres, tracks)| ArtistCase {
            name,
            url,
            image,
            followers,
            genres,
            tracks,
        })
}

static CASE: AtomicUsize = AtomicUsize::new(0);

/// Seeds `artist` and its `related` under fresh ids and asks for the artist by name.
async fn serve_case(
    store: &Store,
    router: &Router,
    artist: &ArtistCase,
    related: &[ArtistCase],
) -> serde_json::Value {
    let case = CASE.fetch_add(1, Ordering::SeqCst);
    let id = |n: usize| format!("p{case}-{n}");
    let all: Vec<&ArtistCase> = std::iter::once(artist).chain(related).collect();
    let new: Vec<_> = all
        .iter()
        .enumerate()
        .map(|(n, a)| {
            let mut new = new_artist(&id(n), &a.name);
            new.profile.url = a.url.clone();
            new.profile.image_url = a.image.clone();
            new.profile.followers = a.followers;
            new.profile.genres = a.genres.clone();
            new
        })
        .collect();
    store.add_artists(&new, store::now()).await.unwrap();
    let related_ids: Vec<String> = (1..all.len()).map(id).collect();
    let related_refs: Vec<&str> = related_ids.iter().map(String::as_str).collect();
    for (n, a) in all.iter().enumerate() {
        let tracks = a
            .tracks
            .iter()
            .enumerate()
            .map(|(t, tr)| {
                track(
                    &format!("{}-t{t}", id(n)),
                    &tr.name,
                    tr.album.as_deref(),
                    tr.image.as_deref(),
                )
            })
            .collect();
        let related = if n == 0 { &related_refs[..] } else { &[] };
        refresh(store, &id(n), tracks, related).await;
    }
    ask(router, &artist.name).await.json
}

db_test!(
    async fn any_catalog_data_is_served_within_every_kakao_limit(db: TestDb) {
        let store = migrated_store(&db).await;
        let router = router(&store);
        let handle = tokio::runtime::Handle::current();
        let config = Config {
            cases: 16,
            failure_persistence: None,
            ..Config::default()
        };
        let strategy = (any_artist(), proptest::collection::vec(any_artist(), 0..6));

        // The runner is synchronous; each case runs its database work on this runtime.
        let failure = tokio::task::block_in_place(|| {
            TestRunner::new(config)
                .run(&strategy, |(artist, related)| {
                    let reply = handle.block_on(serve_case(&store, &router, &artist, &related));
                    check_reply(&reply).map_err(TestCaseError::fail)
                })
                .err()
                .map(|failure| failure.to_string())
        });

        if let Some(failure) = failure {
            panic!("{failure}");
        }
    }
);
