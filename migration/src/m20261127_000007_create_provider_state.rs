//! Creates `provider_state`: persisted endpoint availability and provider blocks.

use crate::table_options::create_table;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(ProviderState::Table)
            .if_not_exists()
            .col(string_len(ProviderState::Provider, 16))
            .col(string_len(ProviderState::Feature, 32))
            .col(boolean_null(ProviderState::Available))
            .col(date_time_null(ProviderState::BlockedUntil))
            .col(date_time(ProviderState::CheckedAt))
            .col(string_len_null(ProviderState::Detail, 512))
            .primary_key(
                Index::create()
                    .col(ProviderState::Provider)
                    .col(ProviderState::Feature),
            )
            .to_owned();
        manager.create_table(create_table(manager, table)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProviderState::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ProviderState {
    Table,
    Provider,
    Feature,
    Available,
    BlockedUntil,
    CheckedAt,
    Detail,
}
