//! The Spotify Web API client (client credentials), thin and typed.
//!
//! It owns the access token (renewed a minute before expiry and once after a 401), one
//! method per endpoint, the mapping of Spotify's answers to [`SpotifyError`], and what
//! it has learned this run: endpoints this app may not call (Development Mode answers
//! 403/404 on batch lookups, top tracks and related artists) and a quota block. It never
//! touches the database; the sync pipeline loads and persists that knowledge.

pub(crate) mod wire;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use thiserror::Error;
use tokio::time::Instant;

use crate::catalog::{ArtistProfile, TopTrack};
use crate::config::{HttpSettings, RateLimit, SpotifyCredentials};
use crate::providers::http::{CallBudget, CallCounts, CallError, Reply, Upstream, Verdict};

/// Endpoint families Spotify grants or refuses per app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SpotifyFeature {
    /// `GET /artists?ids=` (50 per call).
    ArtistsBatch,
    /// `GET /artists/{id}/top-tracks`.
    TopTracks,
    /// `GET /artists/{id}/related-artists`.
    RelatedArtists,
}

impl SpotifyFeature {
    pub(crate) const ALL: [SpotifyFeature; 3] = [
        SpotifyFeature::ArtistsBatch,
        SpotifyFeature::TopTracks,
        SpotifyFeature::RelatedArtists,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SpotifyFeature::ArtistsBatch => "artists_batch",
            SpotifyFeature::TopTracks => "top_tracks",
            SpotifyFeature::RelatedArtists => "related_artists",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub(crate) enum SpotifyError {
    #[error("Spotify credentials are not configured")]
    NotConfigured,
    #[error("Spotify refused the app's credentials: {0}")]
    BadCredentials(String),
    #[error("Spotify is blocked until {until} ({reason})")]
    Blocked {
        until: DateTime<Utc>,
        reason: String,
    },
    #[error("the Spotify call budget is spent")]
    BudgetExhausted,
    #[error("this app may not call Spotify's {} endpoint (HTTP {status})", feature.as_str())]
    EndpointUnavailable {
        feature: SpotifyFeature,
        status: u16,
    },
    #[error("Spotify has no such artist")]
    NotFound,
    #[error("Spotify refused the request (HTTP 403): {0}")]
    Forbidden(String),
    #[error("Spotify rejected the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("Spotify failed: {0}")]
    Unavailable(String),
}

impl SpotifyError {
    /// True when no Spotify call can succeed for the rest of the run.
    pub(crate) fn stops_spotify(&self) -> bool {
        matches!(
            self,
            SpotifyError::NotConfigured
                | SpotifyError::BadCredentials(_)
                | SpotifyError::Blocked { .. }
                | SpotifyError::BudgetExhausted
                | SpotifyError::Forbidden(_)
        ) || matches!(self, SpotifyError::Unavailable(m) if m == PROVIDER_DOWN)
    }
}

const PROVIDER_DOWN: &str = "provider is down for this run";

/// A final answer the classifier saw, before it is put in terms of the endpoint called.
#[derive(Debug)]
enum ApiFailure {
    Unauthorized,
    Quota(Duration),
    Forbidden(String),
    NotFound,
    Rejected(u16, String),
}

/// A search hit or lookup result for a track, with the artists Spotify credits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SpotifyTrack {
    pub(crate) track: TopTrack,
    pub(crate) artist_ids: Vec<String>,
}

/// What the client knows of this app's rights, to persist between runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SpotifyAccess {
    pub(crate) unavailable: HashSet<SpotifyFeature>,
    /// Features that answered this app (so far as anyone knows).
    pub(crate) available: HashSet<SpotifyFeature>,
    pub(crate) blocked_until: Option<DateTime<Utc>>,
    pub(crate) block_reason: Option<String>,
}

struct Token {
    value: String,
    renew_at: Instant,
}

/// How long before expiry a token is renewed (spotipy uses the same margin).
const TOKEN_RENEW_MARGIN: Duration = Duration::from_secs(60);

pub struct SpotifyClient {
    api: Upstream,
    auth: Upstream,
    api_url: String,
    auth_url: String,
    credentials: Option<SpotifyCredentials>,
    market: String,
    token: tokio::sync::Mutex<Option<Token>>,
    access: Mutex<SpotifyAccess>,
    /// A refusal that ends every Spotify call for this client's life (bad credentials,
    /// "premium required"): asking again per artist would only spend the budget.
    stopped: Mutex<Option<SpotifyError>>,
}

/// Where and how to reach Spotify.
pub(crate) struct SpotifyConfig {
    pub(crate) api_url: String,
    pub(crate) auth_url: String,
    pub(crate) credentials: Option<SpotifyCredentials>,
    pub(crate) market: String,
    pub(crate) http: HttpSettings,
    pub(crate) rate: RateLimit,
    pub(crate) budget: Arc<CallBudget>,
}

impl SpotifyClient {
    pub(crate) fn new(
        client: reqwest::Client,
        config: SpotifyConfig,
        access: SpotifyAccess,
    ) -> Self {
        Self {
            api: Upstream::new(
                "spotify",
                client.clone(),
                config.http,
                Some(config.rate),
                Some(config.budget),
            ),
            // The token endpoint is not part of the Web API quota: no budget, no limiter.
            // A token answer is a few hundred bytes.
            auth: Upstream::new("spotify-auth", client, config.http, None, None)
                .with_max_body_bytes(64 * 1024),
            api_url: config.api_url,
            auth_url: config.auth_url,
            credentials: config.credentials,
            market: config.market,
            token: tokio::sync::Mutex::new(None),
            access: Mutex::new(access),
            stopped: Mutex::new(None),
        }
    }

    pub(crate) fn is_configured(&self) -> bool {
        self.credentials.is_some()
    }

    /// Calls made to the Web API (token requests excluded).
    pub(crate) fn api_calls(&self) -> CallCounts {
        self.api.stats()
    }

    pub(crate) fn budget_remaining(&self) -> u64 {
        self.api.budget().map_or(0, CallBudget::remaining)
    }

    pub(crate) fn access(&self) -> SpotifyAccess {
        self.access.lock().expect("access lock poisoned").clone()
    }

    /// Whether the feature may be called: not known to be refused.
    pub(crate) fn may_use(&self, feature: SpotifyFeature) -> bool {
        !self
            .access
            .lock()
            .expect("access lock poisoned")
            .unavailable
            .contains(&feature)
    }

    /// Why no call can be made right now, if so (not configured, blocked, budget spent).
    pub(crate) fn unusable(&self) -> Option<SpotifyError> {
        if !self.is_configured() {
            return Some(SpotifyError::NotConfigured);
        }
        if let Some(blocked) = self.current_block() {
            return Some(blocked);
        }
        if let Some(stopped) = self.stopped.lock().expect("stop lock poisoned").clone() {
            return Some(stopped);
        }
        if self.api.is_down() {
            return Some(SpotifyError::Unavailable(PROVIDER_DOWN.into()));
        }
        if self.budget_remaining() == 0 {
            return Some(SpotifyError::BudgetExhausted);
        }
        None
    }

    fn current_block(&self) -> Option<SpotifyError> {
        let access = self.access.lock().expect("access lock poisoned");
        match access.blocked_until {
            Some(until) if until > Utc::now() => Some(SpotifyError::Blocked {
                until,
                reason: access.block_reason.clone().unwrap_or_default(),
            }),
            _ => None,
        }
    }

    fn block_for(&self, wait: Duration, reason: &str) -> SpotifyError {
        let until =
            Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::days(1));
        // Calls already waiting (for the limiter, a pause, a retry) stop too.
        self.api.halt();
        let mut access = self.access.lock().expect("access lock poisoned");
        // Concurrent calls may each learn of the block; keep the latest end.
        if access.blocked_until.is_none_or(|current| current < until) {
            access.blocked_until = Some(until);
            access.block_reason = Some(reason.to_owned());
            tracing::warn!(%until, reason, "Spotify blocked this app; no Spotify calls until then");
        }
        SpotifyError::Blocked {
            until: access.blocked_until.unwrap_or(until),
            reason: reason.to_owned(),
        }
    }

    /// Ends every Spotify call of this client with `error` (see `stopped`).
    fn stop(&self, error: SpotifyError) -> SpotifyError {
        self.api.halt();
        let mut stopped = self.stopped.lock().expect("stop lock poisoned");
        if stopped.is_none() {
            tracing::warn!(%error, "no more Spotify calls this run");
            *stopped = Some(error.clone());
        }
        error
    }

    fn mark_available(&self, feature: SpotifyFeature) {
        let mut access = self.access.lock().expect("access lock poisoned");
        access.unavailable.remove(&feature);
        access.available.insert(feature);
    }

    fn mark_unavailable(&self, feature: SpotifyFeature, status: u16) -> SpotifyError {
        let mut access = self.access.lock().expect("access lock poisoned");
        access.available.remove(&feature);
        if access.unavailable.insert(feature) {
            tracing::info!(
                endpoint = feature.as_str(),
                status,
                "Spotify refuses this endpoint to this app; using Deezer instead"
            );
        }
        SpotifyError::EndpointUnavailable { feature, status }
    }

    /// Fetches an access token and nothing else: whether the app's credentials work,
    /// without spending a Web API call of the quota (`artistbot doctor`).
    pub(crate) async fn check_credentials(&self) -> Result<(), SpotifyError> {
        self.token().await.map(|_| ())
    }

    /// `GET /artists/{id}`.
    pub(crate) async fn artist(&self, id: &str) -> Result<ArtistProfile, SpotifyError> {
        let path = format!("/artists/{id}");
        match self.get::<wire::Artist>("artist", &path, &[]).await {
            Ok(artist) => Ok(profile_from_wire(artist)),
            Err(Failure::Api(ApiFailure::NotFound)) => Err(SpotifyError::NotFound),
            Err(Failure::Api(ApiFailure::Rejected(400, _))) => Err(SpotifyError::NotFound),
            Err(other) => Err(self.general_error(other)),
        }
    }

    /// `GET /artists?ids=` for up to 50 ids; `None` for ids Spotify does not know.
    pub(crate) async fn artists(
        &self,
        ids: &[String],
    ) -> Result<Vec<Option<ArtistProfile>>, SpotifyError> {
        let feature = SpotifyFeature::ArtistsBatch;
        self.ensure_usable(feature)?;
        let joined = ids.join(",");
        match self
            .get::<wire::SeveralArtists>("several artists", "/artists", &[("ids", &joined)])
            .await
        {
            Ok(several) => {
                self.mark_available(feature);
                Ok(several
                    .artists
                    .into_iter()
                    .map(|a| a.map(profile_from_wire))
                    .collect())
            }
            Err(other) => Err(self.feature_error(feature, other)),
        }
    }

    /// `GET /artists/{id}/top-tracks?market=`.
    pub(crate) async fn top_tracks(&self, id: &str) -> Result<Vec<TopTrack>, SpotifyError> {
        let feature = SpotifyFeature::TopTracks;
        self.ensure_usable(feature)?;
        let path = format!("/artists/{id}/top-tracks");
        match self
            .get::<wire::TopTracks>("top tracks", &path, &[("market", &self.market)])
            .await
        {
            Ok(top) => {
                self.mark_available(feature);
                Ok(top
                    .tracks
                    .into_iter()
                    .filter_map(|t| track_from_wire(t).map(|t| t.track))
                    .collect())
            }
            // Ordinary apps get 403 here; a 404 is about this artist, not the endpoint.
            Err(Failure::Api(ApiFailure::NotFound)) => Err(SpotifyError::NotFound),
            Err(other) => Err(self.feature_error(feature, other)),
        }
    }

    /// `GET /artists/{id}/related-artists`.
    pub(crate) async fn related_artists(
        &self,
        id: &str,
    ) -> Result<Vec<ArtistProfile>, SpotifyError> {
        let feature = SpotifyFeature::RelatedArtists;
        self.ensure_usable(feature)?;
        let path = format!("/artists/{id}/related-artists");
        match self
            .get::<wire::RelatedArtists>("related artists", &path, &[])
            .await
        {
            Ok(related) => {
                self.mark_available(feature);
                Ok(related.artists.into_iter().map(profile_from_wire).collect())
            }
            // The endpoint was retired with 404s (403 in later reports); a 404 also means
            // an unknown artist. One profile lookup tells the two apart, once: after the
            // endpoint is marked refused, it is not called again.
            Err(Failure::Api(ApiFailure::NotFound)) => match self.artist(id).await {
                Ok(_) => Err(self.mark_unavailable(feature, 404)),
                Err(error) => Err(error),
            },
            Err(other) => Err(self.feature_error(feature, other)),
        }
    }

    /// `GET /search?type=artist` (Spotify allows at most 10 results since 2026).
    pub(crate) async fn search_artists(
        &self,
        name: &str,
        limit: u8,
    ) -> Result<Vec<ArtistProfile>, SpotifyError> {
        let limit = limit.clamp(1, 10).to_string();
        let query = [
            ("q", name),
            ("type", "artist"),
            ("limit", limit.as_str()),
            ("market", self.market.as_str()),
        ];
        match self
            .get::<wire::ArtistSearch>("artist search", "/search", &query)
            .await
        {
            Ok(found) => Ok(found
                .artists
                .items
                .into_iter()
                .map(profile_from_wire)
                .collect()),
            Err(other) => Err(self.general_error(other)),
        }
    }

    /// `GET /search?type=track&q=isrc:...`: the recordings Spotify has under an ISRC,
    /// with the artists it credits.
    pub(crate) async fn tracks_by_isrc(
        &self,
        isrc: &str,
    ) -> Result<Vec<SpotifyTrack>, SpotifyError> {
        let q = format!("isrc:{isrc}");
        let query = [("q", q.as_str()), ("type", "track"), ("limit", "5")];
        match self
            .get::<wire::TrackSearch>("track search", "/search", &query)
            .await
        {
            Ok(found) => Ok(found
                .tracks
                .items
                .into_iter()
                .filter_map(track_from_wire)
                .collect()),
            Err(other) => Err(self.general_error(other)),
        }
    }

    fn ensure_usable(&self, feature: SpotifyFeature) -> Result<(), SpotifyError> {
        if !self.may_use(feature) {
            return Err(SpotifyError::EndpointUnavailable { feature, status: 0 });
        }
        Ok(())
    }

    /// A refusal on an endpoint family means this app may not use it.
    fn feature_error(&self, feature: SpotifyFeature, failure: Failure) -> SpotifyError {
        match failure {
            Failure::Api(ApiFailure::Forbidden(_)) => self.mark_unavailable(feature, 403),
            other => self.general_error(other),
        }
    }

    fn general_error(&self, failure: Failure) -> SpotifyError {
        match failure {
            Failure::Ready(error) => error,
            Failure::Api(ApiFailure::Quota(wait)) => self.block_for(wait, "daily quota exceeded"),
            // A 403 on an endpoint every app may call: the app itself is refused
            // (e.g. "Active premium subscription required for the owner of the app").
            Failure::Api(ApiFailure::Forbidden(message)) => {
                self.stop(SpotifyError::Forbidden(message))
            }
            Failure::Api(ApiFailure::NotFound) => SpotifyError::NotFound,
            Failure::Api(ApiFailure::Rejected(status, message)) => {
                SpotifyError::Rejected { status, message }
            }
            // A fresh token refused too: this call fails, but the credentials were
            // accepted a moment ago, so Spotify is not written off for the run.
            Failure::Api(ApiFailure::Unauthorized) => {
                SpotifyError::Unavailable("the access token was refused twice".into())
            }
        }
    }

    /// A Web API GET with the bearer token; a 401 renews the token and tries once more.
    async fn get<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, Failure> {
        if let Some(unusable) = self.unusable() {
            return Err(Failure::Ready(unusable));
        }
        let url = format!("{}{}", self.api_url, path);
        let mut renewed = false;
        loop {
            let token = self.token().await.map_err(|error| match error {
                SpotifyError::BadCredentials(_) => Failure::Ready(self.stop(error)),
                other => Failure::Ready(other),
            })?;
            let result = self
                .api
                .call(
                    what,
                    |client| client.get(&url).bearer_auth(&token).query(query),
                    classify_api::<T>,
                )
                .await;
            return match result {
                Ok(value) => Ok(value),
                Err(CallError::Provider(ApiFailure::Unauthorized)) if !renewed => {
                    renewed = true;
                    self.forget_token(&token).await;
                    continue;
                }
                Err(CallError::Provider(failure)) => Err(Failure::Api(failure)),
                Err(CallError::RetryAfterTooLong(wait)) => Err(Failure::Ready(
                    self.block_for(wait, "rate limited for a long time"),
                )),
                Err(CallError::BudgetExhausted) => {
                    Err(Failure::Ready(SpotifyError::BudgetExhausted))
                }
                Err(CallError::ProviderDown) => Err(Failure::Ready(SpotifyError::Unavailable(
                    PROVIDER_DOWN.into(),
                ))),
                Err(CallError::GaveUp { cause, .. }) => {
                    Err(Failure::Ready(SpotifyError::Unavailable(cause)))
                }
                Err(CallError::Halted) => {
                    Err(Failure::Ready(self.unusable().unwrap_or_else(|| {
                        SpotifyError::Unavailable("Spotify calls were stopped".into())
                    })))
                }
            };
        }
    }

    /// A valid access token, fetched or renewed when missing or about to expire.
    async fn token(&self) -> Result<String, SpotifyError> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(token.value.clone());
        }
        let credentials = self
            .credentials
            .as_ref()
            .ok_or(SpotifyError::NotConfigured)?;
        let result = self
            .auth
            .call(
                "token",
                |client| {
                    client
                        .post(&self.auth_url)
                        .basic_auth(
                            &credentials.client_id,
                            Some(credentials.client_secret.expose()),
                        )
                        .form(&[("grant_type", "client_credentials")])
                },
                classify_token,
            )
            .await;
        let response = match result {
            Ok(response) => response,
            Err(CallError::Provider(error)) => return Err(error),
            Err(other) => return Err(SpotifyError::Unavailable(format!("token: {other}"))),
        };
        let lifetime = Duration::from_secs(response.expires_in);
        let value = response.access_token;
        *slot = Some(Token {
            value: value.clone(),
            renew_at: Instant::now() + lifetime.saturating_sub(TOKEN_RENEW_MARGIN),
        });
        Ok(value)
    }

    /// Drops the token a 401 refused, unless another task already replaced it.
    async fn forget_token(&self, refused: &str) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|t| t.value == refused) {
            *slot = None;
        }
    }
}

enum Failure {
    /// Already an answer for the caller (blocked, budget, gave up).
    Ready(SpotifyError),
    /// A definite API answer the endpoint wrapper interprets.
    Api(ApiFailure),
}

fn classify_api<T: DeserializeOwned>(reply: &Reply) -> Verdict<T, ApiFailure> {
    let status = reply.status;
    if status.is_success() {
        return match serde_json::from_slice(&reply.body) {
            Ok(value) => Verdict::Done(value),
            Err(error) => Verdict::Retry {
                after: None,
                cause: format!("malformed JSON ({error})"),
            },
        };
    }
    let error: Option<wire::ErrorBody> = serde_json::from_slice::<wire::ErrorEnvelope>(&reply.body)
        .ok()
        .map(|e| e.error);
    let message = error
        .as_ref()
        .and_then(|e| e.message.clone())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    match status {
        StatusCode::UNAUTHORIZED => Verdict::Fail(ApiFailure::Unauthorized),
        StatusCode::TOO_MANY_REQUESTS => {
            let quota = error
                .as_ref()
                .and_then(|e| e.reason.as_deref())
                .is_some_and(|r| r.eq_ignore_ascii_case("QUOTA_EXCEEDED"));
            let retry_after = reply.retry_after();
            if quota {
                // Without a Retry-After, assume the quota resets within a day.
                Verdict::Fail(ApiFailure::Quota(
                    retry_after.unwrap_or(Duration::from_secs(86_400)),
                ))
            } else {
                Verdict::Retry {
                    after: Some(retry_after.unwrap_or(Duration::from_secs(1))),
                    cause: format!("rate limited ({message})"),
                }
            }
        }
        StatusCode::FORBIDDEN => Verdict::Fail(ApiFailure::Forbidden(message)),
        StatusCode::NOT_FOUND => Verdict::Fail(ApiFailure::NotFound),
        s if s.is_server_error() => Verdict::Retry {
            after: reply.retry_after(),
            cause: format!("HTTP {} ({message})", s.as_u16()),
        },
        s => Verdict::Fail(ApiFailure::Rejected(s.as_u16(), message)),
    }
}

fn classify_token(reply: &Reply) -> Verdict<wire::TokenResponse, SpotifyError> {
    let status = reply.status;
    if status.is_success() {
        return match serde_json::from_slice(&reply.body) {
            Ok(token) => Verdict::Done(token),
            Err(error) => Verdict::Retry {
                after: None,
                cause: format!("malformed token JSON ({error})"),
            },
        };
    }
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return Verdict::Retry {
            after: reply.retry_after(),
            cause: format!("token endpoint HTTP {}", status.as_u16()),
        };
    }
    // OAuth errors describe the problem without echoing the credentials.
    let detail = serde_json::from_slice::<wire::TokenError>(&reply.body)
        .ok()
        .map(|e| {
            format!(
                "{} {}",
                e.error.unwrap_or_default(),
                e.error_description.unwrap_or_default()
            )
        })
        .unwrap_or_default();
    Verdict::Fail(SpotifyError::BadCredentials(format!(
        "HTTP {} {}",
        status.as_u16(),
        detail.trim()
    )))
}

fn profile_from_wire(artist: wire::Artist) -> ArtistProfile {
    ArtistProfile {
        image_url: artist.images.as_deref().and_then(wire::pick_image),
        url: artist.external_urls.and_then(|u| u.spotify),
        followers: artist.followers.and_then(|f| f.total),
        popularity: artist.popularity,
        genres: artist.genres.unwrap_or_default(),
        id: artist.id,
        name: artist.name,
    }
}

fn track_from_wire(track: wire::Track) -> Option<SpotifyTrack> {
    let id = track.id.filter(|id| !id.is_empty())?;
    let name = track.name.filter(|n| !n.trim().is_empty())?;
    let (album_name, image_url) = match track.album {
        Some(album) => (
            album.name.filter(|n| !n.is_empty()),
            album.images.as_deref().and_then(wire::pick_image),
        ),
        None => (None, None),
    };
    Some(SpotifyTrack {
        artist_ids: track.artists.into_iter().filter_map(|a| a.id).collect(),
        track: TopTrack {
            id,
            name,
            album_name,
            image_url,
            popularity: track.popularity,
            deezer_rank: None,
            isrc: track
                .external_ids
                .and_then(|e| e.isrc)
                .filter(|i| !i.is_empty()),
            url: track.external_urls.and_then(|u| u.spotify),
            duration_ms: track.duration_ms.and_then(|d| i32::try_from(d).ok()),
        },
    })
}
