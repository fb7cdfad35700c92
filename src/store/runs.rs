//! `sync_runs`: a row when a run starts (status `running`), progress updates while it
//! goes, and its final counts and status when it ends.

use chrono::NaiveDateTime;
use entity::sync_runs;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{Store, StoreError};

/// How a run ended (or that it is still going).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    /// Everything due was refreshed.
    Completed,
    /// Stopped early for a reason the next run gets past (quota, budget, a provider down).
    Partial,
    /// Could not run (database, configuration).
    Failed,
    /// Stopped by a signal.
    Interrupted,
}

impl RunStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [
            RunStatus::Running,
            RunStatus::Completed,
            RunStatus::Partial,
            RunStatus::Failed,
            RunStatus::Interrupted,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

/// The counts a run reports, in `sync_runs`' terms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub artists_due: u64,
    pub artists_refreshed: u64,
    pub artists_failed: u64,
    pub artists_unmapped: u64,
    pub artists_added: u64,
    pub profiles_written: u64,
    pub top_tracks_written: u64,
    pub related_written: u64,
    pub spotify_calls: u64,
    pub deezer_calls: u64,
}

/// A `sync_runs` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRecord {
    pub id: i64,
    pub trigger: String,
    pub status: RunStatus,
    pub(crate) started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub counts: RunCounts,
    pub stop_reason: Option<String>,
    pub error_summary: Option<String>,
    pub(crate) host: Option<String>,
}

fn clamp(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl Store {
    /// Records a run as started; returns its id.
    pub(crate) async fn start_run(
        &self,
        trigger: &str,
        host: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<i64, StoreError> {
        let row = sync_runs::ActiveModel {
            trigger: Set(trigger.to_owned()),
            status: Set(RunStatus::Running.as_str().to_owned()),
            started_at: Set(now),
            finished_at: Set(None),
            host: Set(host.map(|h| h.chars().take(255).collect())),
            ..Default::default()
        };
        let inserted = sync_runs::Entity::insert(row)
            .exec(self.db())
            .await
            .map_err(StoreError::query("recording a run start"))?;
        Ok(inserted.last_insert_id)
    }

    /// Writes a run's counts (and, when it ended, its status, end time and summary).
    pub(crate) async fn record_run(
        &self,
        id: i64,
        status: RunStatus,
        counts: &RunCounts,
        stop_reason: Option<&str>,
        error_summary: Option<&str>,
        finished_at: Option<NaiveDateTime>,
    ) -> Result<(), StoreError> {
        use sync_runs::Column as C;
        sync_runs::Entity::update_many()
            .col_expr(C::Status, Expr::value(status.as_str()))
            .col_expr(C::FinishedAt, Expr::value(finished_at))
            .col_expr(C::ArtistsDue, Expr::value(clamp(counts.artists_due)))
            .col_expr(
                C::ArtistsRefreshed,
                Expr::value(clamp(counts.artists_refreshed)),
            )
            .col_expr(C::ArtistsFailed, Expr::value(clamp(counts.artists_failed)))
            .col_expr(
                C::ArtistsUnmapped,
                Expr::value(clamp(counts.artists_unmapped)),
            )
            .col_expr(C::ArtistsAdded, Expr::value(clamp(counts.artists_added)))
            .col_expr(
                C::ProfilesWritten,
                Expr::value(clamp(counts.profiles_written)),
            )
            .col_expr(
                C::TopTracksWritten,
                Expr::value(clamp(counts.top_tracks_written)),
            )
            .col_expr(
                C::RelatedWritten,
                Expr::value(clamp(counts.related_written)),
            )
            .col_expr(C::SpotifyCalls, Expr::value(clamp(counts.spotify_calls)))
            .col_expr(C::DeezerCalls, Expr::value(clamp(counts.deezer_calls)))
            .col_expr(
                C::StopReason,
                Expr::value(stop_reason.map(|s| s.chars().take(255).collect::<String>())),
            )
            .col_expr(
                C::ErrorSummary,
                Expr::value(error_summary.map(str::to_owned)),
            )
            .filter(C::Id.eq(id))
            .exec(self.db())
            .await
            .map_err(StoreError::query("recording a run"))?;
        Ok(())
    }

    /// The latest runs, newest first.
    pub async fn recent_runs(&self, limit: u64) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sync_runs::Entity::find()
            .order_by_desc(sync_runs::Column::Id)
            .limit(limit)
            .all(self.db())
            .await
            .map_err(StoreError::query("reading runs"))?;
        Ok(rows.into_iter().map(run_from_row).collect())
    }

    pub async fn run(&self, id: i64) -> Result<Option<RunRecord>, StoreError> {
        Ok(sync_runs::Entity::find_by_id(id)
            .one(self.db())
            .await
            .map_err(StoreError::query("reading a run"))?
            .map(run_from_row))
    }

    /// Marks every run still `running` as interrupted. Only the holder of the runner lock
    /// may call this: every run happens under that lock, so while one holds it any other
    /// `running` row belongs to a process that died (SIGKILL, power loss) before it could
    /// record its end. Returns how many rows were closed.
    pub async fn interrupt_abandoned_runs(&self, now: NaiveDateTime) -> Result<u64, StoreError> {
        use sync_runs::Column as C;
        let result = sync_runs::Entity::update_many()
            .col_expr(C::Status, Expr::value(RunStatus::Interrupted.as_str()))
            .col_expr(C::FinishedAt, Expr::value(Some(now)))
            .col_expr(
                C::StopReason,
                Expr::value("abandoned: its process stopped without recording an end"),
            )
            .filter(C::Status.eq(RunStatus::Running.as_str()))
            .exec(self.db())
            .await
            .map_err(StoreError::query("closing abandoned runs"))?;
        Ok(result.rows_affected)
    }

    /// When the latest run with this trigger started, if there is one.
    pub(crate) async fn latest_run_start(
        &self,
        trigger: &str,
    ) -> Result<Option<NaiveDateTime>, StoreError> {
        sync_runs::Entity::find()
            .select_only()
            .column(sync_runs::Column::StartedAt)
            .filter(sync_runs::Column::Trigger.eq(trigger))
            .order_by_desc(sync_runs::Column::StartedAt)
            .limit(1)
            .into_tuple()
            .one(self.db())
            .await
            .map_err(StoreError::query("reading the latest run"))
    }

    /// Spotify calls made by runs that started at or after `since` (the daily quota).
    pub(crate) async fn spotify_calls_since(
        &self,
        since: NaiveDateTime,
    ) -> Result<u64, StoreError> {
        let calls: Vec<i32> = sync_runs::Entity::find()
            .select_only()
            .column(sync_runs::Column::SpotifyCalls)
            .filter(sync_runs::Column::StartedAt.gte(since))
            .into_tuple()
            .all(self.db())
            .await
            .map_err(StoreError::query("summing Spotify calls"))?;
        Ok(calls.into_iter().map(|c| c.max(0) as u64).sum())
    }
}

fn run_from_row(m: sync_runs::Model) -> RunRecord {
    let n = |v: i32| v.max(0) as u64;
    RunRecord {
        id: m.id,
        status: RunStatus::parse(&m.status).unwrap_or(RunStatus::Failed),
        trigger: m.trigger,
        started_at: m.started_at,
        finished_at: m.finished_at,
        counts: RunCounts {
            artists_due: n(m.artists_due),
            artists_refreshed: n(m.artists_refreshed),
            artists_failed: n(m.artists_failed),
            artists_unmapped: n(m.artists_unmapped),
            artists_added: n(m.artists_added),
            profiles_written: n(m.profiles_written),
            top_tracks_written: n(m.top_tracks_written),
            related_written: n(m.related_written),
            spotify_calls: n(m.spotify_calls),
            deezer_calls: n(m.deezer_calls),
        },
        stop_reason: m.stop_reason,
        error_summary: m.error_summary,
        host: m.host,
    }
}
