//! What Spotify allowed this app, kept across runs in `provider_state`: endpoints it
//! refused (asked again after `SPOTIFY_RECHECK_AFTER`) and a quota block (honoured until
//! it ends, by every later run and every other caller). Loaded into a client before it
//! is used; saved whenever it changed.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{NaiveDateTime, TimeZone, Utc};

use crate::providers::spotify::{SpotifyAccess, SpotifyFeature};
use crate::store::provider_state::FeatureState;
use crate::store::{self, Store, StoreError};

const SPOTIFY: &str = "spotify";
const ACCESS: &str = "access";

/// What `provider_state` says Spotify allows at `now`: a refusal older than
/// `recheck_after` is forgotten, so the endpoint is asked again.
pub(crate) async fn load_spotify_access(
    store: &Store,
    recheck_after: Duration,
    now: NaiveDateTime,
) -> Result<SpotifyAccess, StoreError> {
    let recheck = chrono::Duration::from_std(recheck_after).unwrap_or(chrono::Duration::days(7));
    let mut access = SpotifyAccess::default();
    for state in store.provider_states().await? {
        if state.provider != SPOTIFY {
            continue;
        }
        if state.feature == ACCESS {
            if let Some(until) = state.blocked_until.filter(|until| *until > now) {
                access.blocked_until = Some(Utc.from_utc_datetime(&until));
                access.block_reason = state.detail.clone();
            }
        } else if let Some(feature) = SpotifyFeature::parse(&state.feature) {
            match state.available {
                // Refused, and not yet time to ask again.
                Some(false) if now - state.checked_at < recheck => {
                    access.unavailable.insert(feature);
                }
                Some(true) => {
                    access.available.insert(feature);
                }
                _ => {}
            }
        }
    }
    Ok(access)
}

/// Saves what Spotify allowed when it changed since the last save (`persisted`), so a
/// quota block or a refused endpoint is honoured by the next run even if this one is
/// killed.
pub(crate) async fn save_spotify_access(
    store: &Store,
    access: SpotifyAccess,
    persisted: &Mutex<Option<SpotifyAccess>>,
) {
    if persisted.lock().expect("access lock poisoned").as_ref() == Some(&access) {
        return;
    }
    let now = store::now();
    let mut states = Vec::new();
    for feature in SpotifyFeature::ALL {
        let available = if access.unavailable.contains(&feature) {
            Some(false)
        } else if access.available.contains(&feature) {
            Some(true)
        } else {
            continue;
        };
        states.push(FeatureState {
            provider: SPOTIFY.into(),
            feature: feature.as_str().into(),
            available,
            blocked_until: None,
            checked_at: now,
            detail: None,
        });
    }
    if let Some(until) = access.blocked_until {
        states.push(FeatureState {
            provider: SPOTIFY.into(),
            feature: ACCESS.into(),
            available: Some(false),
            blocked_until: Some(until.naive_utc()),
            checked_at: now,
            detail: access.block_reason.clone(),
        });
    }
    for state in &states {
        if let Err(error) = store.save_provider_state(state).await {
            tracing::warn!(%error, "could not save Spotify's state");
            return;
        }
    }
    *persisted.lock().expect("access lock poisoned") = Some(access);
}
