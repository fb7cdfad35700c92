//! Creates `artists`: the seed's columns plus source, freshness and Deezer identity.

use crate::table_options::{ID_LEN, NAME_LEN, URL_LEN, create_table};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(Artists::Table)
            .if_not_exists()
            .col(string_len(Artists::Id, ID_LEN).primary_key())
            .col(string_len(Artists::Name, NAME_LEN))
            .col(string_len(Artists::NameKey, NAME_LEN))
            .col(big_integer_null(Artists::Followers))
            .col(integer_null(Artists::Popularity))
            .col(string_len_null(Artists::Url, URL_LEN))
            .col(string_len_null(Artists::ImageUrl, URL_LEN))
            .col(text_null(Artists::Genres))
            .col(string_len(Artists::Source, 16))
            .col(date_time_null(Artists::FetchedAt))
            .col(big_integer_null(Artists::DeezerId))
            .col(big_integer_null(Artists::DeezerFans))
            .col(string_len_null(Artists::DeezerMapping, 16))
            .col(date_time_null(Artists::DeezerCheckedAt))
            .col(date_time_null(Artists::ProfileRefreshedAt))
            .col(date_time_null(Artists::TracksRefreshedAt))
            .col(date_time_null(Artists::RelatedRefreshedAt))
            .col(string_len(Artists::AddedVia, 16))
            .col(date_time(Artists::CreatedAt))
            .to_owned();
        manager.create_table(create_table(manager, table)).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_artists_name_key")
                    .table(Artists::Table)
                    .col(Artists::NameKey)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_artists_deezer_id")
                    .table(Artists::Table)
                    .col(Artists::DeezerId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Artists::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Artists {
    Table,
    Id,
    Name,
    NameKey,
    Followers,
    Popularity,
    Url,
    ImageUrl,
    Genres,
    Source,
    FetchedAt,
    DeezerId,
    DeezerFans,
    DeezerMapping,
    DeezerCheckedAt,
    ProfileRefreshedAt,
    TracksRefreshedAt,
    RelatedRefreshedAt,
    AddedVia,
    CreatedAt,
}
