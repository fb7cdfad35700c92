//! `artist_requests`: names users asked for that the catalog did not know. The skill
//! endpoint records them ([`Store::record_request`], its only write); the daemon's queue
//! reads the due ones and records what became of each (done, not found with a growing
//! delay, failed), and `status` and `/metrics` count them.

use chrono::NaiveDateTime;
use entity::artist_requests;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr,
};

use super::artists::{NAME_LEN, fit};
use super::{Store, StoreError};
use crate::names::name_key;

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestStatus {
    Pending,
    Done,
    NotFound,
    Failed,
}

impl RequestStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Done => "done",
            RequestStatus::NotFound => "not_found",
            RequestStatus::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [
            RequestStatus::Pending,
            RequestStatus::Done,
            RequestStatus::NotFound,
            RequestStatus::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

impl Store {
    /// Records that a user asked for `query`: a new pending request, or one more ask of
    /// the existing one (one row per folded name). Returns `false` for a blank query.
    /// This is the only write the skill endpoint makes.
    pub async fn record_request(
        &self,
        query: &str,
        now: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        let key = name_key(query);
        if key.is_empty() {
            return Ok(false);
        }
        let query_key = fit(&key, NAME_LEN);
        let row = artist_requests::ActiveModel {
            query_key: Set(query_key.clone()),
            query: Set(fit(query.trim(), NAME_LEN)),
            status: Set(RequestStatus::Pending.as_str().to_owned()),
            times_asked: Set(1),
            first_asked_at: Set(now),
            last_asked_at: Set(now),
            attempts: Set(0),
            next_attempt_at: Set(None),
            artist_id: Set(None),
            last_error: Set(None),
            resolved_at: Set(None),
            users_asked: Set(1),
            candidate_artist_id: Set(None),
            tapped_artist_id: Set(None),
        };
        // Counted on the existing row first, then inserted if there is none: the skill's
        // database account may UPDATE only these two columns (deploy/mysql/grants.sql),
        // and an upsert (INSERT ... ON DUPLICATE KEY UPDATE) needs UPDATE on every column
        // it inserts. The update always changes `times_asked`, so both backends report
        // the row as affected when it exists.
        use artist_requests::Column as C;
        let count_again = || {
            artist_requests::Entity::update_many()
                .col_expr(C::TimesAsked, Expr::col(C::TimesAsked).add(1))
                .col_expr(C::LastAskedAt, Expr::value(now))
                .filter(C::QueryKey.eq(query_key.as_str()))
                .exec(self.db())
        };
        let counted = count_again()
            .await
            .map_err(StoreError::query("recording an artist request"))?;
        if counted.rows_affected > 0 {
            return Ok(true);
        }
        match artist_requests::Entity::insert(row)
            .exec_without_returning(self.db())
            .await
        {
            Ok(_) => Ok(true),
            // Another miss of the same name inserted it meanwhile: count on that row.
            Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                count_again()
                    .await
                    .map_err(StoreError::query("recording an artist request"))?;
                Ok(true)
            }
            Err(error) => Err(StoreError::query("recording an artist request")(error)),
        }
    }
}

impl Store {
    /// (query, times asked) of every request, oldest first: for tests and `status`.
    pub async fn pending_requests_for_test(&self) -> Result<Vec<(String, i32)>, StoreError> {
        Ok(artist_requests::Entity::find()
            .order_by_asc(artist_requests::Column::FirstAskedAt)
            .all(self.db())
            .await
            .map_err(StoreError::query("reading artist requests"))?
            .into_iter()
            .map(|r| (r.query, r.times_asked))
            .collect())
    }
}

/// One row of the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtistRequest {
    /// The folded name: the request's identity.
    pub query_key: String,
    /// The spelling first asked for (becomes the alias).
    pub query: String,
    pub status: RequestStatus,
    pub times_asked: u32,
    pub attempts: u32,
    pub first_asked_at: NaiveDateTime,
    pub last_asked_at: NaiveDateTime,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub artist_id: Option<String>,
    pub last_error: Option<String>,
    pub resolved_at: Option<NaiveDateTime>,
    /// Distinct users who asked.
    pub users_asked: u32,
    /// The artist the providers' best hit suggests, without proof.
    pub candidate_artist_id: Option<String>,
    /// The artist a user tapped among the suggestions after asking.
    pub tapped_artist_id: Option<String>,
}

/// How the queue stands, for `status` and `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub pending: u64,
    /// Requests (pending or retrying) whose time has come.
    pub due_now: u64,
    pub not_found_retrying: u64,
    pub not_found_given_up: u64,
    pub failed_retrying: u64,
    pub failed_given_up: u64,
    pub done: u64,
}

fn request_from_row(m: artist_requests::Model) -> ArtistRequest {
    ArtistRequest {
        status: RequestStatus::parse(&m.status).unwrap_or(RequestStatus::Pending),
        query_key: m.query_key,
        query: m.query,
        times_asked: u32::try_from(m.times_asked).unwrap_or(0),
        attempts: u32::try_from(m.attempts).unwrap_or(0),
        first_asked_at: m.first_asked_at,
        last_asked_at: m.last_asked_at,
        next_attempt_at: m.next_attempt_at,
        artist_id: m.artist_id,
        last_error: m.last_error,
        resolved_at: m.resolved_at,
        users_asked: u32::try_from(m.users_asked).unwrap_or(0),
        candidate_artist_id: m.candidate_artist_id,
        tapped_artist_id: m.tapped_artist_id,
    }
}

/// Due: pending and not postponed, or a miss whose retry time has come. A miss with no
/// retry time has been given up.
fn due_condition(now: NaiveDateTime) -> Condition {
    use artist_requests::Column as C;
    Condition::any()
        .add(
            Condition::all()
                .add(C::Status.eq(RequestStatus::Pending.as_str()))
                .add(
                    Condition::any()
                        .add(C::NextAttemptAt.is_null())
                        .add(C::NextAttemptAt.lte(now)),
                ),
        )
        .add(
            Condition::all()
                .add(C::Status.is_in([
                    RequestStatus::NotFound.as_str(),
                    RequestStatus::Failed.as_str(),
                ]))
                .add(C::NextAttemptAt.is_not_null())
                .add(C::NextAttemptAt.lte(now)),
        )
}

impl Store {
    /// Requests due at `now`, the longest waiting first, at most `limit`.
    pub(crate) async fn due_requests(
        &self,
        now: NaiveDateTime,
        limit: u64,
    ) -> Result<Vec<ArtistRequest>, StoreError> {
        Ok(artist_requests::Entity::find()
            .filter(due_condition(now))
            .order_by_asc(artist_requests::Column::FirstAskedAt)
            .order_by_asc(artist_requests::Column::QueryKey)
            .limit(limit)
            .all(self.db())
            .await
            .map_err(StoreError::query("reading due artist requests"))?
            .into_iter()
            .map(request_from_row)
            .collect())
    }

    /// The request for `query` (by its folded name), if any.
    pub async fn request(&self, query: &str) -> Result<Option<ArtistRequest>, StoreError> {
        Ok(
            artist_requests::Entity::find_by_id(fit(&name_key(query), NAME_LEN))
                .one(self.db())
                .await
                .map_err(StoreError::query("reading an artist request"))?
                .map(request_from_row),
        )
    }

    /// The request resolved to `artist_id` (added, or found under another spelling).
    pub async fn resolve_request(
        &self,
        query_key: &str,
        artist_id: &str,
        attempts: u32,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        use artist_requests::Column as C;
        artist_requests::Entity::update_many()
            .col_expr(C::Status, Expr::value(RequestStatus::Done.as_str()))
            .col_expr(C::ArtistId, Expr::value(artist_id))
            .col_expr(C::Attempts, Expr::value(clamp(attempts)))
            .col_expr(C::NextAttemptAt, Expr::value(Option::<NaiveDateTime>::None))
            .col_expr(C::LastError, Expr::value(Option::<String>::None))
            .col_expr(C::ResolvedAt, Expr::value(now))
            .filter(C::QueryKey.eq(query_key))
            .exec(self.db())
            .await
            .map_err(StoreError::query("resolving an artist request"))?;
        Ok(())
    }

    /// A try that did not resolve the request: `NotFound` (nothing by that name) or
    /// `Failed` (an error). `retry_at` `None` gives the request up.
    pub(crate) async fn miss_request(
        &self,
        query_key: &str,
        status: RequestStatus,
        attempts: u32,
        retry_at: Option<NaiveDateTime>,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        use artist_requests::Column as C;
        artist_requests::Entity::update_many()
            .col_expr(C::Status, Expr::value(status.as_str()))
            .col_expr(C::Attempts, Expr::value(clamp(attempts)))
            .col_expr(C::NextAttemptAt, Expr::value(retry_at))
            .col_expr(
                C::LastError,
                Expr::value(detail.map(|d| fit(d, LAST_ERROR_LEN))),
            )
            .filter(C::QueryKey.eq(query_key))
            .exec(self.db())
            .await
            .map_err(StoreError::query("recording a missed artist request"))?;
        Ok(())
    }

    /// Keeps `artist_id` as the artist the providers' best hit suggests for a requested
    /// spelling that could not be proven its alias: the skill offers it as a suggestion.
    pub(crate) async fn suggest_for_request(
        &self,
        query_key: &str,
        artist_id: &str,
    ) -> Result<(), StoreError> {
        use artist_requests::Column as C;
        artist_requests::Entity::update_many()
            .col_expr(C::CandidateArtistId, Expr::value(artist_id))
            .filter(C::QueryKey.eq(query_key))
            .exec(self.db())
            .await
            .map_err(StoreError::query("recording a request's candidate"))?;
        Ok(())
    }

    /// Counts of the queue by state.
    pub async fn request_counts(&self, now: NaiveDateTime) -> Result<RequestCounts, StoreError> {
        use artist_requests::Column as C;
        // One small row per request; the queue holds names users asked for, so it stays
        // in the thousands at most, and the same rules as `due_condition` apply in Rust.
        let rows: Vec<(String, Option<NaiveDateTime>)> = artist_requests::Entity::find()
            .select_only()
            .column(C::Status)
            .column(C::NextAttemptAt)
            .into_tuple()
            .all(self.db())
            .await
            .map_err(StoreError::query("counting artist requests"))?;
        let due_now = artist_requests::Entity::find()
            .filter(due_condition(now))
            .count(self.db())
            .await
            .map_err(StoreError::query("counting due artist requests"))?;
        let mut counts = RequestCounts {
            due_now,
            ..Default::default()
        };
        for (status, retry_at) in rows {
            let retrying = retry_at.is_some();
            match (RequestStatus::parse(&status), retrying) {
                (Some(RequestStatus::Pending), _) => counts.pending += 1,
                (Some(RequestStatus::Done), _) => counts.done += 1,
                (Some(RequestStatus::NotFound), true) => counts.not_found_retrying += 1,
                (Some(RequestStatus::NotFound), false) => counts.not_found_given_up += 1,
                (Some(RequestStatus::Failed), true) => counts.failed_retrying += 1,
                (Some(RequestStatus::Failed), false) => counts.failed_given_up += 1,
                (None, _) => {}
            }
        }
        Ok(counts)
    }
}

/// Width of `artist_requests.last_error`.
const LAST_ERROR_LEN: usize = 512;

fn clamp(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
