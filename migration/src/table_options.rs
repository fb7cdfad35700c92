//! Table options that only MySQL understands (SQLite rejects them), applied in one place.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// Adds engine, charset and the binary collation when the target is MySQL/MariaDB.
pub fn create_table(
    manager: &SchemaManager,
    mut table: TableCreateStatement,
) -> TableCreateStatement {
    if manager.get_database_backend() == DbBackend::MySql {
        table
            .engine("InnoDB")
            .character_set("utf8mb4")
            .collate("utf8mb4_bin");
    }
    table
}

/// Length of every id column: Spotify ids are 22 characters, Deezer ids are numbers; 64
/// leaves room without inviting abuse.
pub const ID_LEN: u32 = 64;
/// Names can be long (classical credits, "X feat. Y, Z & W"); 512 characters fit what the
/// upstreams return, and keeps an index on them within InnoDB's 3072-byte key limit.
pub const NAME_LEN: u32 = 512;
/// URLs of images and pages.
pub const URL_LEN: u32 = 1024;
