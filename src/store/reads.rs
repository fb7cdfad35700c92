//! Plain reads of one artist's stored rows, for `status`-style inspection and tests.

use chrono::NaiveDateTime;
use entity::{artists, related_artists, top_tracks};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{Store, StoreError};
use crate::catalog::{DeezerMapping, Source, SpotifyLink};

/// Everything stored about an artist's profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredArtist {
    pub id: String,
    pub name: String,
    pub name_key: String,
    pub followers: Option<i64>,
    pub popularity: Option<i32>,
    pub url: Option<String>,
    pub image_url: Option<String>,
    pub genres: Vec<String>,
    pub source: Option<Source>,
    pub(crate) fetched_at: Option<NaiveDateTime>,
    pub deezer_id: Option<i64>,
    pub deezer_fans: Option<i64>,
    pub deezer_mapping: Option<DeezerMapping>,
    pub(crate) profile_refreshed_at: Option<NaiveDateTime>,
    pub tracks_refreshed_at: Option<NaiveDateTime>,
    pub(crate) related_refreshed_at: Option<NaiveDateTime>,
    pub added_via: String,
    pub spotify_link: Option<SpotifyLink>,
}

/// A stored top track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTrack {
    pub id: String,
    pub rank: i32,
    pub name: String,
    pub album_name: Option<String>,
    pub image_url: Option<String>,
    pub popularity: Option<i32>,
    pub(crate) isrc: Option<String>,
    pub source: Option<Source>,
    pub(crate) fetched_at: NaiveDateTime,
}

/// A stored related-artist edge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRelated {
    pub related_id: String,
    pub rank: i32,
    pub source: Option<Source>,
}

impl Store {
    pub async fn stored_artist(&self, id: &str) -> Result<Option<StoredArtist>, StoreError> {
        let row = artists::Entity::find_by_id(id.to_owned())
            .one(self.db())
            .await
            .map_err(StoreError::query("reading an artist"))?;
        Ok(row.map(|m| StoredArtist {
            genres: m
                .genres
                .as_deref()
                .and_then(|g| serde_json::from_str(g).ok())
                .unwrap_or_default(),
            source: Source::parse(&m.source),
            deezer_mapping: m.deezer_mapping.as_deref().and_then(DeezerMapping::parse),
            id: m.id,
            name: m.name,
            name_key: m.name_key,
            followers: m.followers,
            popularity: m.popularity,
            url: m.url,
            image_url: m.image_url,
            fetched_at: m.fetched_at,
            deezer_id: m.deezer_id,
            deezer_fans: m.deezer_fans,
            profile_refreshed_at: m.profile_refreshed_at,
            tracks_refreshed_at: m.tracks_refreshed_at,
            related_refreshed_at: m.related_refreshed_at,
            added_via: m.added_via,
            spotify_link: m.spotify_link.as_deref().and_then(SpotifyLink::parse),
        }))
    }

    /// An artist's top tracks in rank order.
    pub async fn stored_tracks(&self, artist_id: &str) -> Result<Vec<StoredTrack>, StoreError> {
        let rows = top_tracks::Entity::find()
            .filter(top_tracks::Column::ArtistId.eq(artist_id))
            .order_by_asc(top_tracks::Column::Rank)
            .all(self.db())
            .await
            .map_err(StoreError::query("reading top tracks"))?;
        Ok(rows
            .into_iter()
            .map(|m| StoredTrack {
                source: Source::parse(&m.source),
                id: m.id,
                rank: m.rank,
                name: m.name,
                album_name: m.album_name,
                image_url: m.image_url,
                popularity: m.popularity,
                isrc: m.isrc,
                fetched_at: m.fetched_at,
            })
            .collect())
    }

    /// An artist's related artists in rank order.
    pub async fn stored_related(&self, artist_id: &str) -> Result<Vec<StoredRelated>, StoreError> {
        let rows = related_artists::Entity::find()
            .filter(related_artists::Column::ArtistId.eq(artist_id))
            .order_by_asc(related_artists::Column::RankRel)
            .all(self.db())
            .await
            .map_err(StoreError::query("reading related artists"))?;
        Ok(rows
            .into_iter()
            .map(|m| StoredRelated {
                source: Source::parse(&m.source),
                related_id: m.related_id,
                rank: m.rank_rel,
            })
            .collect())
    }
}
