//! Creates `artist_aliases`: folded spellings that lead to an artist.

use crate::m20261127_000001_create_artists::Artists;
use crate::table_options::{ID_LEN, NAME_LEN, create_table};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(ArtistAliases::Table)
            .if_not_exists()
            .col(string_len(ArtistAliases::AliasKey, NAME_LEN).primary_key())
            .col(string_len(ArtistAliases::ArtistId, ID_LEN))
            .col(string_len(ArtistAliases::Alias, NAME_LEN))
            .col(string_len(ArtistAliases::Source, 16))
            .col(date_time(ArtistAliases::CreatedAt))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_artist_aliases_artist")
                    .from(ArtistAliases::Table, ArtistAliases::ArtistId)
                    .to(Artists::Table, Artists::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        manager.create_table(create_table(manager, table)).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_artist_aliases_artist")
                    .table(ArtistAliases::Table)
                    .col(ArtistAliases::ArtistId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ArtistAliases::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ArtistAliases {
    Table,
    AliasKey,
    ArtistId,
    Alias,
    Source,
    CreatedAt,
}
