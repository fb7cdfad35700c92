//! The sync's errors: a failure to fetch one artist's data ([`FetchError`], which the
//! run counts and carries on from) and a run that could not happen at all
//! ([`SyncError`]).

use std::sync::Arc;

use thiserror::Error;

use crate::providers::deezer::DeezerError;
use crate::providers::spotify::SpotifyError;
use crate::store::StoreError;

/// A failure to fetch one artist's data.
#[derive(Debug, Error, Clone)]
pub(crate) enum FetchError {
    #[error(transparent)]
    Spotify(#[from] SpotifyError),
    #[error(transparent)]
    Deezer(#[from] DeezerError),
    /// Shared, so one database failure can be told to every artist it stopped.
    #[error(transparent)]
    Store(Arc<StoreError>),
}

impl From<StoreError> for FetchError {
    fn from(error: StoreError) -> Self {
        FetchError::Store(Arc::new(error))
    }
}

impl FetchError {
    /// A reason the next run gets past by itself (a block, the budget, a provider down)
    /// rather than something wrong with this artist.
    pub(crate) fn is_stop(&self) -> bool {
        match self {
            FetchError::Spotify(error) => error.stops_spotify(),
            FetchError::Deezer(DeezerError::Down) => true,
            _ => false,
        }
    }
}

/// A run that could not happen at all.
#[derive(Debug, Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
}
