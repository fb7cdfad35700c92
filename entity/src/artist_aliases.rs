//! `artist_aliases`: other spellings of an artist (a Hangul name, a user's typing) that
//! lead to it without any API call. The key is the folded spelling, so one spelling
//! names exactly one artist.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "artist_aliases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub alias_key: String,
    pub artist_id: String,
    /// The spelling as it was first seen.
    pub alias: String,
    /// Who recorded it: `cli`, `request`, `import`, `deezer`.
    pub source: String,
    pub created_at: DateTime,
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
