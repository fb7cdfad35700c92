//! `sync_runs`: one row per refresh run, written when it starts and again when it ends,
//! so failed, interrupted and partial runs are on record with honest counts.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `cli`, `schedule`, `add`, `request`.
    pub trigger: String,
    /// `running`, `completed`, `partial`, `failed`, `interrupted`.
    pub status: String,
    pub started_at: DateTime,
    pub finished_at: Option<DateTime>,
    pub artists_due: i32,
    pub artists_refreshed: i32,
    pub artists_failed: i32,
    pub artists_unmapped: i32,
    pub artists_added: i32,
    pub profiles_written: i32,
    pub top_tracks_written: i32,
    pub related_written: i32,
    pub spotify_calls: i32,
    pub deezer_calls: i32,
    /// Why the run ended before all due work was done (quota, budget, provider down).
    pub stop_reason: Option<String>,
    /// The first errors of the run, one per line.
    #[sea_orm(column_type = "Text", nullable)]
    pub error_summary: Option<String>,
    pub host: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
