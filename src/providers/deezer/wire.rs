//! Deezer API JSON as it arrives. Deezer reports errors inside HTTP 200 bodies, so every
//! answer is first checked for an `error` object (see [`ErrorEnvelope`]).

use serde::Deserialize;

/// `{"error":{"type":"DataException","message":"no data","code":800}}`
#[derive(Debug, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub message: Option<String>,
    pub code: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct List<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
}

#[derive(Debug, Deserialize)]
pub struct Artist {
    pub id: i64,
    pub name: Option<String>,
    pub link: Option<String>,
    pub picture_medium: Option<String>,
    pub picture_big: Option<String>,
    pub nb_album: Option<i64>,
    pub nb_fan: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct TrackArtist {
    pub id: Option<i64>,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Album {
    pub title: Option<String>,
    pub cover_medium: Option<String>,
    pub cover_big: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Track {
    pub id: i64,
    pub title: Option<String>,
    pub title_short: Option<String>,
    pub link: Option<String>,
    /// Seconds.
    pub duration: Option<i64>,
    pub rank: Option<i64>,
    pub isrc: Option<String>,
    pub artist: Option<TrackArtist>,
    #[serde(default)]
    pub contributors: Option<Vec<TrackArtist>>,
    pub album: Option<Album>,
}

/// Deezer image URLs with an empty hash (`/images/artist//500x500-...`) are its grey
/// placeholder: not worth showing.
pub fn real_image(url: Option<String>) -> Option<String> {
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
