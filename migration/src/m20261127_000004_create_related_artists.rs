//! Creates `related_artists`: ranked edges between catalog artists.

use crate::m20261127_000001_create_artists::Artists;
use crate::table_options::{ID_LEN, create_table};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(RelatedArtists::Table)
            .if_not_exists()
            .col(string_len(RelatedArtists::ArtistId, ID_LEN))
            .col(string_len(RelatedArtists::RelatedId, ID_LEN))
            .col(integer(RelatedArtists::RankRel))
            .col(string_len(RelatedArtists::Source, 16))
            .col(date_time(RelatedArtists::FetchedAt))
            .primary_key(
                Index::create()
                    .col(RelatedArtists::ArtistId)
                    .col(RelatedArtists::RelatedId),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_related_artists_artist")
                    .from(RelatedArtists::Table, RelatedArtists::ArtistId)
                    .to(Artists::Table, Artists::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_related_artists_related")
                    .from(RelatedArtists::Table, RelatedArtists::RelatedId)
                    .to(Artists::Table, Artists::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        manager.create_table(create_table(manager, table)).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_related_artists_related")
                    .table(RelatedArtists::Table)
                    .col(RelatedArtists::RelatedId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RelatedArtists::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RelatedArtists {
    Table,
    ArtistId,
    RelatedId,
    RankRel,
    Source,
    FetchedAt,
}
