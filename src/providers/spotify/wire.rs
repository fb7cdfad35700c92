//! Spotify Web API JSON as it arrives. Every field that Spotify has removed or may omit
//! is optional: `followers`, `popularity` and `genres` are gone for ordinary apps since
//! 2026, and a batch lookup answers `null` for unknown ids.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default = "default_expires_in")]
    pub expires_in: u64,
}

fn default_expires_in() -> u64 {
    3600
}

/// `{"error":"invalid_client","error_description":"Invalid client"}`
#[derive(Debug, Deserialize)]
pub struct TokenError {
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// `{"error":{"status":429,"message":"...","reason":"QUOTA_EXCEEDED"}}`
#[derive(Debug, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub message: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Image {
    pub url: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ExternalUrls {
    pub spotify: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Followers {
    pub total: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct Artist {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub images: Option<Vec<Image>>,
    #[serde(default)]
    pub external_urls: Option<ExternalUrls>,
    pub followers: Option<Followers>,
    pub popularity: Option<i32>,
    pub genres: Option<Vec<String>>,
}

/// The artist inside a track: no images, no counts.
#[derive(Debug, Deserialize)]
pub struct SimpleArtist {
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Album {
    pub name: Option<String>,
    #[serde(default)]
    pub images: Option<Vec<Image>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ExternalIds {
    pub isrc: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Track {
    pub id: Option<String>,
    pub name: Option<String>,
    pub popularity: Option<i32>,
    pub duration_ms: Option<i64>,
    pub album: Option<Album>,
    #[serde(default)]
    pub artists: Vec<SimpleArtist>,
    #[serde(default)]
    pub external_ids: Option<ExternalIds>,
    #[serde(default)]
    pub external_urls: Option<ExternalUrls>,
}

#[derive(Debug, Deserialize)]
pub struct SeveralArtists {
    pub artists: Vec<Option<Artist>>,
}

#[derive(Debug, Deserialize)]
pub struct TopTracks {
    pub tracks: Vec<Track>,
}

#[derive(Debug, Deserialize)]
pub struct RelatedArtists {
    pub artists: Vec<Artist>,
}

#[derive(Debug, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
}

#[derive(Debug, Deserialize)]
pub struct ArtistSearch {
    pub artists: Page<Artist>,
}

#[derive(Debug, Deserialize)]
pub struct TrackSearch {
    pub tracks: Page<Track>,
}

/// The image closest to 300 px wide (the size the bot shows; the seed took the 300×300
/// one), preferring larger over smaller when equally close.
pub fn pick_image(images: &[Image]) -> Option<String> {
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
