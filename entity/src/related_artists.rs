//! `related_artists`: an artist's ranked related artists; both ends are catalog artists.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "related_artists")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub artist_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub related_id: String,
    /// 1 = most related.
    pub rank_rel: i32,
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
    #[sea_orm(
        belongs_to = "super::artists::Entity",
        from = "Column::RelatedId",
        to = "super::artists::Column::Id",
        on_delete = "Cascade"
    )]
    RelatedArtist,
}

impl ActiveModelBehavior for ActiveModel {}
