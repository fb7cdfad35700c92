//! The Deezer public API client (no key).
//!
//! Deezer answers errors with HTTP 200 and an error object: code 4 is its throttle ("Quota
//! limit exceeded", retried after a pause), code 800 means no such object. A client-side
//! limiter keeps the request rate under Deezer's per-IP limit (50 per 5 s by common report;
//! the default here is 45). Never touches the database.

pub(crate) mod wire;

use std::time::Duration;

use thiserror::Error;

use crate::catalog::TopTrack;
use crate::config::{HttpSettings, RateLimit};
use crate::providers::http::{CallCounts, CallError, Reply, Upstream, Verdict};
use serde::de::DeserializeOwned;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub(crate) enum DeezerError {
    #[error("Deezer has no such object")]
    NotFound,
    #[error("Deezer error {code}: {message}")]
    Api { code: i64, message: String },
    #[error("Deezer failed: {0}")]
    Unavailable(String),
    #[error("Deezer is down for this run")]
    Down,
}

/// A Deezer artist as search, lookup and related-artist answers describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeezerArtist {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) fans: Option<i64>,
    pub(crate) albums: Option<i64>,
    pub(crate) picture_url: Option<String>,
    pub(crate) link: Option<String>,
}

/// A Deezer track with the ISRC when the endpoint gives it (`/track/{id}` does, `/top` not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeezerTrack {
    pub(crate) track: TopTrack,
    pub(crate) artist_ids: Vec<i64>,
}

pub struct DeezerClient {
    api: Upstream,
    base_url: String,
    /// How long to hold back after Deezer's throttle answer (code 4): its window.
    throttle_pause: Duration,
}

/// Deezer's throttle code: "Quota limit exceeded".
const QUOTA_CODE: i64 = 4;
/// Deezer's "no data" code for unknown ids.
const NOT_FOUND_CODE: i64 = 800;

impl DeezerClient {
    pub(crate) fn new(
        client: reqwest::Client,
        base_url: String,
        http: HttpSettings,
        rate: RateLimit,
    ) -> Self {
        Self {
            api: Upstream::new("deezer", client, http, Some(rate), None),
            base_url,
            // Never longer than the policy waits out: a throttle is not a block.
            throttle_pause: rate.window.min(http.max_retry_after),
        }
    }

    pub(crate) fn calls(&self) -> CallCounts {
        self.api.stats()
    }

    /// Whether Deezer failed so many calls in a row that it is written off for the run.
    pub(crate) fn is_down(&self) -> bool {
        self.api.is_down()
    }

    /// `GET /search/artist?q=NAME` (plain `q`: the `artist:"..."` form returns fuzzy hits).
    pub(crate) async fn search_artists(
        &self,
        name: &str,
        limit: u32,
    ) -> Result<Vec<DeezerArtist>, DeezerError> {
        let limit = limit.clamp(1, 100).to_string();
        let list: wire::List<wire::Artist> = self
            .get(
                "artist search",
                "/search/artist",
                &[("q", name), ("limit", &limit)],
            )
            .await?;
        Ok(list.data.into_iter().filter_map(artist_from_wire).collect())
    }

    /// `GET /artist/{id}`.
    pub(crate) async fn artist(&self, id: i64) -> Result<DeezerArtist, DeezerError> {
        let artist: wire::Artist = self.get("artist", &format!("/artist/{id}"), &[]).await?;
        artist_from_wire(artist).ok_or_else(|| DeezerError::Api {
            code: 0,
            message: format!("artist {id} has no name"),
        })
    }

    /// `GET /artist/{id}/top?limit=N`, in Deezer's order.
    pub(crate) async fn top_tracks(
        &self,
        id: i64,
        limit: u32,
    ) -> Result<Vec<DeezerTrack>, DeezerError> {
        let limit = limit.clamp(1, 100).to_string();
        let list: wire::List<wire::Track> = self
            .get(
                "top tracks",
                &format!("/artist/{id}/top"),
                &[("limit", &limit)],
            )
            .await?;
        Ok(list.data.into_iter().filter_map(track_from_wire).collect())
    }

    /// `GET /artist/{id}/related?limit=N` (Deezer gives at most 20), in Deezer's order.
    pub(crate) async fn related_artists(
        &self,
        id: i64,
        limit: u32,
    ) -> Result<Vec<DeezerArtist>, DeezerError> {
        let limit = limit.clamp(1, 20).to_string();
        let list: wire::List<wire::Artist> = self
            .get(
                "related artists",
                &format!("/artist/{id}/related"),
                &[("limit", &limit)],
            )
            .await?;
        Ok(list.data.into_iter().filter_map(artist_from_wire).collect())
    }

    /// `GET /track/{id}`: the full track, with its ISRC.
    pub(crate) async fn track(&self, id: i64) -> Result<DeezerTrack, DeezerError> {
        let track: wire::Track = self.get("track", &format!("/track/{id}"), &[]).await?;
        track_from_wire(track).ok_or_else(|| DeezerError::Api {
            code: 0,
            message: format!("track {id} has no title"),
        })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, DeezerError> {
        let url = format!("{}{}", self.base_url, path);
        self.api
            .call(
                what,
                |client| client.get(&url).query(query),
                |reply| classify::<T>(reply, self.throttle_pause),
            )
            .await
            .map_err(|error| match error {
                CallError::Provider(error) => error,
                CallError::ProviderDown => DeezerError::Down,
                CallError::GaveUp { cause, .. } => DeezerError::Unavailable(cause),
                other => DeezerError::Unavailable(other.to_string()),
            })
    }
}

/// Reads the body before the status: Deezer's errors arrive as HTTP 200. Its throttle
/// (code 4) holds every caller back for `throttle_pause`, Deezer's window.
fn classify<T: DeserializeOwned>(
    reply: &Reply,
    throttle_pause: Duration,
) -> Verdict<T, DeezerError> {
    if let Ok(envelope) = serde_json::from_slice::<wire::ErrorEnvelope>(&reply.body) {
        let code = envelope.error.code.unwrap_or(-1);
        let message = envelope
            .error
            .message
            .or(envelope.error.kind)
            .unwrap_or_else(|| "unknown error".into());
        return match code {
            QUOTA_CODE => Verdict::Retry {
                after: Some(throttle_pause),
                cause: format!("throttled ({message})"),
            },
            NOT_FOUND_CODE => Verdict::Fail(DeezerError::NotFound),
            _ => Verdict::Fail(DeezerError::Api { code, message }),
        };
    }
    let status = reply.status;
    if status.is_server_error() || status.as_u16() == 429 {
        return Verdict::Retry {
            after: reply.retry_after(),
            cause: format!("HTTP {}", status.as_u16()),
        };
    }
    if status.as_u16() == 404 {
        return Verdict::Fail(DeezerError::NotFound);
    }
    if !status.is_success() {
        return Verdict::Fail(DeezerError::Api {
            code: i64::from(status.as_u16()),
            message: format!("HTTP {}", status.as_u16()),
        });
    }
    match serde_json::from_slice(&reply.body) {
        Ok(value) => Verdict::Done(value),
        Err(error) => Verdict::Retry {
            after: None,
            cause: format!("malformed JSON ({error})"),
        },
    }
}

fn artist_from_wire(artist: wire::Artist) -> Option<DeezerArtist> {
    let name = artist.name.filter(|n| !n.trim().is_empty())?;
    Some(DeezerArtist {
        id: artist.id,
        name,
        fans: artist.nb_fan.filter(|n| *n >= 0),
        albums: artist.nb_album.filter(|n| *n >= 0),
        picture_url: wire::real_image(artist.picture_big.or(artist.picture_medium)),
        link: artist.link,
    })
}

fn track_from_wire(track: wire::Track) -> Option<DeezerTrack> {
    let name = track
        .title
        .or(track.title_short)
        .filter(|t| !t.trim().is_empty())?;
    let mut artist_ids: Vec<i64> = track.artist.iter().filter_map(|a| a.id).collect();
    for contributor in track.contributors.iter().flatten() {
        if let Some(id) = contributor.id
            && !artist_ids.contains(&id)
        {
            artist_ids.push(id);
        }
    }
    let (album_name, image_url) = match track.album {
        Some(album) => (
            album.title.filter(|t| !t.is_empty()),
            wire::real_image(album.cover_medium.or(album.cover_big)),
        ),
        None => (None, None),
    };
    Some(DeezerTrack {
        artist_ids,
        track: TopTrack {
            id: track.id.to_string(),
            name,
            album_name,
            image_url,
            popularity: None,
            deezer_rank: track.rank.filter(|r| *r >= 0),
            isrc: track.isrc.filter(|i| !i.is_empty()),
            url: track.link,
            duration_ms: track
                .duration
                .and_then(|s| s.checked_mul(1000))
                .and_then(|ms| i32::try_from(ms).ok()),
        },
    })
}
