//! `artists`: one row per catalog artist. The key is the Spotify artist id once it is
//! known; an artist that entered from Deezer alone is `dz:<deezer id>` until its Spotify
//! id is proven, and is then re-keyed (its rows follow it).
//!
//! The seed's columns (`id, name, followers, popularity, url, image_url`) keep their names
//! and meaning for Spotify-linked artists, so existing queries still work; `followers` and
//! `popularity` are NULL when the source did not give them (Spotify removed both for
//! ordinary apps in 2026), and `url` is the Spotify page (NULL when none is known).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "artists")]
pub struct Model {
    /// Spotify artist id (case-sensitive base62), or `dz:<deezer id>` before one is known.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    /// `name` folded for lookups (see the root crate's `names` module).
    pub name_key: String,
    pub followers: Option<i64>,
    pub popularity: Option<i32>,
    /// The artist's Spotify page.
    pub url: Option<String>,
    pub image_url: Option<String>,
    /// JSON array of genre names, when the source gave any.
    pub genres: Option<String>,
    /// Where the profile came from: `spotify`, `deezer` or `import`.
    pub source: String,
    /// When the profile was fetched from `source`.
    pub fetched_at: Option<DateTime>,
    #[sea_orm(unique)]
    pub deezer_id: Option<i64>,
    pub deezer_fans: Option<i64>,
    /// How the Deezer id was established (`name`, `isrc`; `origin` for an artist that
    /// entered from Deezer) or why there is none (`unmapped`, `ambiguous`).
    pub deezer_mapping: Option<String>,
    pub deezer_checked_at: Option<DateTime>,
    pub profile_refreshed_at: Option<DateTime>,
    pub tracks_refreshed_at: Option<DateTime>,
    pub related_refreshed_at: Option<DateTime>,
    /// How the artist entered the catalog: `cli`, `related`, `import`, `request`,
    /// `starter`.
    pub added_via: String,
    pub created_at: DateTime,
    /// How the Spotify id was proven (`name`, `isrc`) or, for an artist still keyed by
    /// its Deezer id, why none is linked yet (`unmapped`, `ambiguous`, `held`); NULL for
    /// an artist that came from Spotify.
    pub spotify_link: Option<String>,
    pub spotify_checked_at: Option<DateTime>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::top_tracks::Entity")]
    TopTracks,
    #[sea_orm(has_many = "super::artist_aliases::Entity")]
    Aliases,
}

impl Related<super::top_tracks::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TopTracks.def()
    }
}

impl Related<super::artist_aliases::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Aliases.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
