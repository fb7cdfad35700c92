//! Spotify Web API JSON as it arrives. Every field that Spotify has removed or may omit
//! is optional: `followers`, `popularity` and `genres` are gone for ordinary apps since
//! 2026, and a batch lookup answers `null` for unknown ids.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default = "default_expires_in")]
    pub(crate) expires_in: u64,
}

fn default_expires_in() -> u64 {
    3600
}

/// `{"error":"invalid_client","error_description":"Invalid client"}`
#[derive(Debug, Deserialize)]
pub(crate) struct TokenError {
    pub(crate) error: Option<String>,
    pub(crate) error_description: Option<String>,
}

/// `{"error":{"status":429,"message":"...","reason":"QUOTA_EXCEEDED"}}`
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorEnvelope {
    pub(crate) error: ErrorBody,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) message: Option<String>,
    pub(crate) reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Image {
    pub(crate) url: Option<String>,
    pub(crate) width: Option<u32>,
    pub(crate) height: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ExternalUrls {
    pub(crate) spotify: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Followers {
    pub(crate) total: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Artist {
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) images: Option<Vec<Image>>,
    #[serde(default)]
    pub(crate) external_urls: Option<ExternalUrls>,
    pub(crate) followers: Option<Followers>,
    pub(crate) popularity: Option<i32>,
    pub(crate) genres: Option<Vec<String>>,
}

/// The artist inside a track: no images, no counts.
#[derive(Debug, Deserialize)]
pub(crate) struct SimpleArtist {
    pub(crate) id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Album {
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) images: Option<Vec<Image>>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ExternalIds {
    pub(crate) isrc: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Track {
    pub(crate) id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) popularity: Option<i32>,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) album: Option<Album>,
    #[serde(default)]
    pub(crate) artists: Vec<SimpleArtist>,
    #[serde(default)]
    pub(crate) external_ids: Option<ExternalIds>,
    #[serde(default)]
    pub(crate) external_urls: Option<ExternalUrls>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SeveralArtists {
    pub(crate) artists: Vec<Option<Artist>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TopTracks {
    pub(crate) tracks: Vec<Track>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RelatedArtists {
    pub(crate) artists: Vec<Artist>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    #[serde(default = "Vec::new")]
    pub(crate) items: Vec<T>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ArtistSearch {
    pub(crate) artists: Page<Artist>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TrackSearch {
    pub(crate) tracks: Page<Track>,
}

/// The image closest to 300 px wide (the size the bot shows; the seed took the 300×300
/// one), preferring larger over smaller when equally close.
pub(crate) fn pick_image(images: &[Image]) -> Option<String> {
    images
        .iter()
        .filter_map(|image| {
            let url = image.url.as_deref().filter(|u| u.starts_with("http"))?;
            let width = image.width.or(image.height).unwrap_or(300) as i64;
            Some(((width - 300).abs(), -width, url))
        })
        .min()
        .map(|(_, _, url)| url.to_owned())
}
