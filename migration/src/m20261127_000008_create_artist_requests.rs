//! Creates `artist_requests`: names users asked for that the catalog did not know, one
//! row per folded name, for the daemon to onboard.

use crate::table_options::{ID_LEN, NAME_LEN, create_table};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(ArtistRequests::Table)
            .if_not_exists()
            .col(string_len(ArtistRequests::QueryKey, NAME_LEN).primary_key())
            .col(string_len(ArtistRequests::Query, NAME_LEN))
            .col(string_len(ArtistRequests::Status, 16))
            .col(integer(ArtistRequests::TimesAsked).default(1))
            .col(date_time(ArtistRequests::FirstAskedAt))
            .col(date_time(ArtistRequests::LastAskedAt))
            .col(integer(ArtistRequests::Attempts).default(0))
            .col(date_time_null(ArtistRequests::NextAttemptAt))
            .col(string_len_null(ArtistRequests::ArtistId, ID_LEN))
            .col(string_len_null(ArtistRequests::LastError, 512))
            .col(date_time_null(ArtistRequests::ResolvedAt))
            .to_owned();
        manager.create_table(create_table(manager, table)).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_artist_requests_status_next")
                    .table(ArtistRequests::Table)
                    .col(ArtistRequests::Status)
                    .col(ArtistRequests::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ArtistRequests::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ArtistRequests {
    Table,
    QueryKey,
    Query,
    Status,
    TimesAsked,
    FirstAskedAt,
    LastAskedAt,
    Attempts,
    NextAttemptAt,
    ArtistId,
    LastError,
    ResolvedAt,
}
