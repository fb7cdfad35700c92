//! Deezer API JSON as it arrives. Deezer reports errors inside HTTP 200 bodies, so every
//! answer is first checked for an `error` object (see [`ErrorEnvelope`]).

use serde::Deserialize;

/// `{"error":{"type":"DataException","message":"no data","code":800}}`
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorEnvelope {
    pub(crate) error: ErrorBody,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) code: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct List<T> {
    #[serde(default = "Vec::new")]
    pub(crate) data: Vec<T>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Artist {
    pub(crate) id: i64,
    pub(crate) name: Option<String>,
    pub(crate) link: Option<String>,
    pub(crate) picture_medium: Option<String>,
    pub(crate) picture_big: Option<String>,
    pub(crate) nb_album: Option<i64>,
    pub(crate) nb_fan: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TrackArtist {
    pub(crate) id: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Album {
    pub(crate) title: Option<String>,
    pub(crate) cover_medium: Option<String>,
    pub(crate) cover_big: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Track {
    pub(crate) id: i64,
    pub(crate) title: Option<String>,
    pub(crate) title_short: Option<String>,
    pub(crate) link: Option<String>,
    /// Seconds.
    pub(crate) duration: Option<i64>,
    pub(crate) rank: Option<i64>,
    pub(crate) isrc: Option<String>,
    pub(crate) artist: Option<TrackArtist>,
    #[serde(default)]
    pub(crate) contributors: Option<Vec<TrackArtist>>,
    pub(crate) album: Option<Album>,
}

/// Deezer image URLs with an empty hash (`/images/artist//500x500-...`) are its grey
/// placeholder: not worth showing.
pub(crate) fn real_image(url: Option<String>) -> Option<String> {
    url.filter(|u| {
        u.starts_with("http")
            && !u.contains("//500x500")
            && !u.contains("//250x250")
            && !has_empty_hash(u)
    })
}

fn has_empty_hash(url: &str) -> bool {
    [
        "/artist//",
        "/cover//",
        "/images/artist/-",
        "/images/cover/-",
    ]
    .iter()
    .any(|marker| url.contains(marker))
}
