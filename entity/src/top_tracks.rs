//! `top_tracks`: an artist's ranked top tracks. The key is (artist, track), so a
//! collaboration that is a top track of two artists is stored for both (the seed keyed
//! on the track alone and lost one of them).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "top_tracks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub artist_id: String,
    /// The track id in the namespace of `source` (a Spotify id, or a Deezer number).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// 1 = most popular.
    pub rank: i32,
    pub name: String,
    /// Spotify popularity 0..=100, NULL when not given.
    pub popularity: Option<i32>,
    pub album_name: Option<String>,
    pub image_url: Option<String>,
    pub isrc: Option<String>,
    /// The track's page at its source.
    pub url: Option<String>,
    /// Deezer's own rank score (0..1,000,000), NULL for other sources.
    pub deezer_rank: Option<i64>,
    pub duration_ms: Option<i32>,
    pub source: String,
    pub fetched_at: DateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::artists::Entity",
        from = "Column::ArtistId",
        to = "super::artists::Column::Id",
        on_delete = "Cascade"
    )]
    Artist,
}

impl Related<super::artists::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Artist.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
