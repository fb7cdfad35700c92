//! Creates `top_tracks`, keyed by (artist, track) so a shared track belongs to both artists.

use crate::m20261127_000001_create_artists::Artists;
use crate::table_options::{ID_LEN, NAME_LEN, URL_LEN, create_table};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(TopTracks::Table)
            .if_not_exists()
            .col(string_len(TopTracks::ArtistId, ID_LEN))
            .col(string_len(TopTracks::Id, ID_LEN))
            .col(integer(TopTracks::Rank))
            .col(string_len(TopTracks::Name, NAME_LEN))
            .col(integer_null(TopTracks::Popularity))
            .col(string_len_null(TopTracks::AlbumName, NAME_LEN))
            .col(string_len_null(TopTracks::ImageUrl, URL_LEN))
            .col(string_len_null(TopTracks::Isrc, 16))
            .col(string_len_null(TopTracks::Url, URL_LEN))
            .col(big_integer_null(TopTracks::DeezerRank))
            .col(integer_null(TopTracks::DurationMs))
            .col(string_len(TopTracks::Source, 16))
            .col(date_time(TopTracks::FetchedAt))
            .primary_key(Index::create().col(TopTracks::ArtistId).col(TopTracks::Id))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_top_tracks_artist")
                    .from(TopTracks::Table, TopTracks::ArtistId)
                    .to(Artists::Table, Artists::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        manager.create_table(create_table(manager, table)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TopTracks::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum TopTracks {
    Table,
    ArtistId,
    Id,
    Rank,
    Name,
    Popularity,
    AlbumName,
    ImageUrl,
    Isrc,
    Url,
    DeezerRank,
    DurationMs,
    Source,
    FetchedAt,
}
