//! Creates `deezer_artists`: the cache of Deezer artists and their Spotify mapping.

use crate::table_options::{ID_LEN, NAME_LEN, URL_LEN, create_table};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(DeezerArtists::Table)
            .if_not_exists()
            .col(big_integer(DeezerArtists::DeezerId).primary_key())
            .col(string_len(DeezerArtists::Name, NAME_LEN))
            .col(string_len(DeezerArtists::NameKey, NAME_LEN))
            .col(big_integer_null(DeezerArtists::Fans))
            .col(integer_null(DeezerArtists::Albums))
            .col(string_len_null(DeezerArtists::PictureUrl, URL_LEN))
            .col(string_len_null(DeezerArtists::SpotifyId, ID_LEN))
            .col(string_len(DeezerArtists::Mapping, 16))
            .col(date_time(DeezerArtists::CheckedAt))
            .col(integer(DeezerArtists::Attempts))
            .to_owned();
        manager.create_table(create_table(manager, table)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DeezerArtists::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DeezerArtists {
    Table,
    DeezerId,
    Name,
    NameKey,
    Fans,
    Albums,
    PictureUrl,
    SpotifyId,
    Mapping,
    CheckedAt,
    Attempts,
}
