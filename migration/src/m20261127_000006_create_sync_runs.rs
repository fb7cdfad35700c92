//! Creates `sync_runs`: the history of refresh runs.

use crate::table_options::create_table;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(SyncRuns::Table)
            .if_not_exists()
            .col(big_pk_auto(SyncRuns::Id))
            .col(string_len(SyncRuns::Trigger, 16))
            .col(string_len(SyncRuns::Status, 16))
            .col(date_time(SyncRuns::StartedAt))
            .col(date_time_null(SyncRuns::FinishedAt))
            .col(integer(SyncRuns::ArtistsDue).default(0))
            .col(integer(SyncRuns::ArtistsRefreshed).default(0))
            .col(integer(SyncRuns::ArtistsFailed).default(0))
            .col(integer(SyncRuns::ArtistsUnmapped).default(0))
            .col(integer(SyncRuns::ArtistsAdded).default(0))
            .col(integer(SyncRuns::ProfilesWritten).default(0))
            .col(integer(SyncRuns::TopTracksWritten).default(0))
            .col(integer(SyncRuns::RelatedWritten).default(0))
            .col(integer(SyncRuns::SpotifyCalls).default(0))
            .col(integer(SyncRuns::DeezerCalls).default(0))
            .col(string_len_null(SyncRuns::StopReason, 255))
            .col(text_null(SyncRuns::ErrorSummary))
            .col(string_len_null(SyncRuns::Host, 255))
            .to_owned();
        manager.create_table(create_table(manager, table)).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sync_runs_started_at")
                    .table(SyncRuns::Table)
                    .col(SyncRuns::StartedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SyncRuns::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    Id,
    Trigger,
    Status,
    StartedAt,
    FinishedAt,
    ArtistsDue,
    ArtistsRefreshed,
    ArtistsFailed,
    ArtistsUnmapped,
    ArtistsAdded,
    ProfilesWritten,
    TopTracksWritten,
    RelatedWritten,
    SpotifyCalls,
    DeezerCalls,
    StopReason,
    ErrorSummary,
    Host,
}
