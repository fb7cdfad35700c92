//! `deezer_artists`: Deezer artists met as related artists, and the Spotify artist each
//! was mapped to (or why not). It saves a Spotify search the next time the same Deezer
//! artist comes up, and keeps unmappable ones from costing a search every night.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deezer_artists")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub deezer_id: i64,
    pub name: String,
    pub name_key: String,
    pub fans: Option<i64>,
    pub albums: Option<i32>,
    pub picture_url: Option<String>,
    pub spotify_id: Option<String>,
    /// `name`, `isrc` (mapped, and how) or `unmapped`, `ambiguous`.
    pub mapping: String,
    pub checked_at: DateTime,
    pub attempts: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
