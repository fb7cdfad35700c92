//! `artists`: one row per catalog artist, keyed by the Spotify artist id.
//!
//! The seed's columns (`id, name, followers, popularity, url, image_url`) keep their names
//! so existing queries still work; `followers` and `popularity` are NULL when the source
//! did not give them (Spotify removed both for ordinary apps in 2026).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "artists")]
pub struct Model {
    /// Spotify artist id (case-sensitive base62).
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
    /// How the Deezer id was established (`name`, `isrc`) or why there is none
    /// (`unmapped`, `ambiguous`).
    pub deezer_mapping: Option<String>,
    pub deezer_checked_at: Option<DateTime>,
    pub profile_refreshed_at: Option<DateTime>,
    pub tracks_refreshed_at: Option<DateTime>,
    pub related_refreshed_at: Option<DateTime>,
    /// How the artist entered the catalog: `cli`, `related`, `import`, `request`.
    pub added_via: String,
    pub created_at: DateTime,
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
