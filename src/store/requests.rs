//! `artist_requests`: names users asked for that the catalog did not know.

use chrono::NaiveDateTime;
use entity::artist_requests;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder};

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
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Done => "done",
            RequestStatus::NotFound => "not_found",
            RequestStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
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
        let row = artist_requests::ActiveModel {
            query_key: Set(fit(&key, NAME_LEN)),
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
        };
        use artist_requests::Column as C;
        artist_requests::Entity::insert(row)
            .on_conflict(
                OnConflict::column(C::QueryKey)
                    // Unqualified columns name the stored row on both backends.
                    .value(C::TimesAsked, Expr::col(C::TimesAsked).add(1))
                    .value(C::LastAskedAt, Expr::value(now))
                    .to_owned(),
            )
            .exec_without_returning(self.db())
            .await
            .map_err(StoreError::query("recording an artist request"))?;
        Ok(true)
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
