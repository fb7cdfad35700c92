//! Deezer-first identity and a request queue one user cannot flood.
//!
//! - `artists.spotify_link` / `spotify_checked_at`: for an artist that entered the
//!   catalog from Deezer (id `dz:<deezer id>`), whether and how its Spotify id was sought
//!   (`unmapped`, `ambiguous`, `held` by another artist) and when; once linked the artist
//!   is re-keyed to its Spotify id and the column says how the link was proven (`name`,
//!   `isrc`). NULL for artists that came from Spotify.
//! - `artist_requests.users_asked`, `candidate_artist_id`, `tapped_artist_id`: how many
//!   distinct users asked (the queue runs by demand), the artist a provider's best hit
//!   suggests for a spelling without proof, and the artist a user tapped after asking
//!   for it (evidence that turns the spelling into an alias).
//! - `artist_request_users`: who asked for what and when (hashed user ids), for the
//!   per-user limit and the count of distinct users.

use crate::table_options::{ID_LEN, NAME_LEN, create_table};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [
            string_len_null(Artists::SpotifyLink, 16),
            date_time_null(Artists::SpotifyCheckedAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Artists::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            integer(ArtistRequests::UsersAsked).default(1).to_owned(),
            string_len_null(ArtistRequests::CandidateArtistId, ID_LEN),
            string_len_null(ArtistRequests::TappedArtistId, ID_LEN),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ArtistRequests::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let table = Table::create()
            .table(ArtistRequestUsers::Table)
            .if_not_exists()
            .col(string_len(ArtistRequestUsers::QueryKey, NAME_LEN))
            .col(string_len(ArtistRequestUsers::UserKey, 32))
            .col(date_time(ArtistRequestUsers::AskedAt))
            .primary_key(
                Index::create()
                    .col(ArtistRequestUsers::QueryKey)
                    .col(ArtistRequestUsers::UserKey),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_artist_request_users_request")
                    .from(ArtistRequestUsers::Table, ArtistRequestUsers::QueryKey)
                    .to(ArtistRequests::Table, ArtistRequests::QueryKey)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        manager.create_table(create_table(manager, table)).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_artist_request_users_user")
                    .table(ArtistRequestUsers::Table)
                    .col(ArtistRequestUsers::UserKey)
                    .col(ArtistRequestUsers::AskedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ArtistRequestUsers::Table).to_owned())
            .await?;
        for column in [
            ArtistRequests::UsersAsked,
            ArtistRequests::CandidateArtistId,
            ArtistRequests::TappedArtistId,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ArtistRequests::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [Artists::SpotifyLink, Artists::SpotifyCheckedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Artists::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Artists {
    Table,
    SpotifyLink,
    SpotifyCheckedAt,
}

#[derive(DeriveIden)]
enum ArtistRequests {
    Table,
    QueryKey,
    UsersAsked,
    CandidateArtistId,
    TappedArtistId,
}

#[derive(DeriveIden)]
enum ArtistRequestUsers {
    Table,
    QueryKey,
    UserKey,
    AskedAt,
}
