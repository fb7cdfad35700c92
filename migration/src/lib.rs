//! The artistbot schema, one migration per schema change, runnable from
//! `artistbot migrate` and as `cargo run -p migration -- up`.
//!
//! Every migration runs unchanged on MySQL/MariaDB and SQLite. On MySQL each table is
//! InnoDB, `utf8mb4` with the binary collation `utf8mb4_bin`: Spotify ids are
//! case-sensitive, and the general collations treat different emoji (and some Hangul)
//! as equal, which would merge different artists' names. Lookups never rely on the
//! collation for folding: they use the `name_key` columns the application computes.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_artists;
mod m20261127_000002_create_artist_aliases;
mod m20261127_000003_create_top_tracks;
mod m20261127_000004_create_related_artists;
mod m20261127_000005_create_deezer_artists;
mod m20261127_000006_create_sync_runs;
mod m20261127_000007_create_provider_state;
mod m20261127_000008_create_artist_requests;
mod m20261205_000009_deezer_first_identity;
mod table_options;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_artists::Migration),
            Box::new(m20261127_000002_create_artist_aliases::Migration),
            Box::new(m20261127_000003_create_top_tracks::Migration),
            Box::new(m20261127_000004_create_related_artists::Migration),
            Box::new(m20261127_000005_create_deezer_artists::Migration),
            Box::new(m20261127_000006_create_sync_runs::Migration),
            Box::new(m20261127_000007_create_provider_state::Migration),
            Box::new(m20261127_000008_create_artist_requests::Migration),
            Box::new(m20261205_000009_deezer_first_identity::Migration),
        ]
    }
}

/// Where the catalog lives when `DATABASE_URL` is not set: an SQLite file in the working
/// directory, created on first use (`mode=rwc`).
pub const DEFAULT_DATABASE_URL: &str = "sqlite://artistbot.db?mode=rwc";
