//! What the skill benchmarks (`skill_serve`, `lambda`) share: a synthetic catalog written
//! through the store's API (`count` artists, 9 in 10 with 10 tracks, each with 10 related
//! artists, and a Hangul alias for every fifth; names in three shapes: Latin, "The … Band",
//! Hangul), the request Kakao sends for a name, and small helpers for settings and output.

use std::time::Duration;

use anyhow::Result;
use artistbot::catalog::{
    AddedVia, ArtistProfile, ArtistRefresh, NewArtist, RelatedUpdate, Source, TopTrack,
};
use artistbot::store::{self, Store};
use serde_json::{Value, json};

/// The names to ask for.
pub struct Catalog {
    pub names: Vec<String>,
    pub aliases: Vec<String>,
}

/// Seeds `count` artists into `store` (see the module docs).
pub async fn seed(store: &Store, count: usize) -> Result<Catalog> {
    let now = store::now();
    let mut rng = fastrand::Rng::with_seed(42);
    let id = |n: usize| format!("bench{n:017}");
    let names: Vec<String> = (0..count)
        .map(|n| match n % 3 {
            0 => format!("Bench Artist {n}"),
            1 => format!("The {n} Bench Band"),
            _ => format!("벤치 가수 {n}"),
        })
        .collect();
    let new: Vec<NewArtist> = names
        .iter()
        .enumerate()
        .map(|(n, name)| NewArtist {
            profile: ArtistProfile {
                id: id(n),
                name: name.clone(),
                followers: Some(rng.i64(0..5_000_000)),
                popularity: None,
                url: Some(format!("https://open.spotify.com/artist/{}", id(n))),
                image_url: Some(format!("https://i.scdn.co/image/bench{n}")),
                genres: vec!["k-pop".into()],
            },
            source: Source::Spotify,
            deezer_id: None,
            deezer_fans: None,
            added_via: AddedVia::Cli,
        })
        .collect();
    for chunk in new.chunks(500) {
        store.add_artists(chunk, now).await?;
    }
    for (n, name) in names.iter().enumerate() {
        let tracks = (n % 10 != 9).then(|| {
            (
                Source::Spotify,
                (0..10)
                    .map(|t| TopTrack {
                        id: format!("{}t{t}", id(n)),
                        name: format!("Song {t} of {name}"),
                        album_name: Some(format!("Album {}", t / 3)),
                        image_url: Some(format!("https://i.scdn.co/image/album{n}-{t}")),
                        popularity: None,
                        deezer_rank: None,
                        isrc: None,
                        url: None,
                        duration_ms: Some(200_000),
                    })
                    .collect(),
            )
        });
        let related_ids = (0..10)
            .map(|_| id(rng.usize(..count)))
            .filter(|related| *related != id(n))
            .collect();
        let refresh = ArtistRefresh {
            artist_id: id(n),
            tracks,
            related: Some(RelatedUpdate {
                source: Source::Spotify,
                related_ids,
                complete: true,
            }),
            ..Default::default()
        };
        // One at a time: concurrent refreshes can deadlock on InnoDB's gap locks.
        store.apply_refresh(&refresh, now).await?;
    }
    let mut aliases = Vec::new();
    for n in (0..count).step_by(5) {
        let alias = format!("별칭아티스트{n}");
        store.add_alias(&alias, &id(n), "cli", now).await?;
        aliases.push(alias);
    }
    Ok(Catalog { names, aliases })
}

/// A skill request as Kakao sends it for `utterance`, from one of 1,000 users.
pub fn kakao_request(utterance: &str) -> Value {
    json!({
        "intent": {"id": "bench", "name": "아티스트 검색"},
        "userRequest": {
            "timezone": "Asia/Seoul",
            "params": {"surface": "Kakaotalk.plusfriend"},
            "block": {"id": "bench", "name": "아티스트 검색"},
            "utterance": utterance,
            "lang": "ko",
            "user": {"id": format!("bench-user-{}", fastrand::u32(..1000)), "type": "botUserKey", "properties": {}}
        },
        "bot": {"id": "bench-bot", "name": "아티스트봇"},
        "action": {"id": "bench", "name": "artist_lookup", "params": {}, "detailParams": {}, "clientExtra": null}
    })
}

/// The environment variable `name` parsed, else `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The machine's 1-minute load average: other work on a shared machine shows up in the
/// tail latencies, so the numbers are printed with it.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// A duration in milliseconds, two decimals.
pub fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Hit,
    AliasHit,
    Miss,
}
