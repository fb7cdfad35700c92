//! `artist_requests`: names users asked for that the catalog did not know, and
//! `artist_request_users`: which (hashed) user asked for which name, when. The skill
//! endpoint records them ([`Store::record_request_from`], its only write) within the
//! limits of [`RequestLimits`]: each user counted once per name, a few names per user a
//! day, a cap on open requests. The daemon's queue reads the due ones by demand (most
//! distinct users, then the oldest), records what became of each (done, not found with a
//! growing delay, failed) and deletes them past their retention; `status` and `/metrics`
//! count them with one `GROUP BY`.

use chrono::NaiveDateTime;
use entity::{artist_request_users, artist_requests};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr,
};

use super::artists::{NAME_LEN, fit};
use super::{Store, StoreError};
use crate::config::RequestLimits;
use crate::names::{clean_text, name_key};

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

/// Who asked, as stored: the first 128 bits of a SHA-256 of Kakao's user id, in hex.
/// Enough to count distinct users and to hold one to a limit; Kakao's id itself is never
/// stored. Requests without a user id share one key, so leaving the id out does not
/// escape the limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequesterKey(String);

impl RequesterKey {
    /// The key of the user Kakao identifies as `user_id` (`userRequest.user.id`), or of
    /// "no user id" when it is absent.
    pub fn of_user(user_id: Option<&str>) -> RequesterKey {
        use sha2::{Digest, Sha256};
        // A fixed prefix, so the stored value is not the plain hash of an id that might
        // be looked up elsewhere.
        let digest = Sha256::new()
            .chain_update(b"artistbot request user\0")
            .chain_update(user_id.unwrap_or("").as_bytes())
            .finalize();
        let hex: String = digest[..USER_KEY_LEN / 2]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        RequesterKey(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Width of `artist_request_users.user_key`.
const USER_KEY_LEN: usize = 32;

/// What became of an ask the skill endpoint passed on ([`Store::record_request_from`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AskRecorded {
    /// A new request: the name was not in the queue.
    NewRequest,
    /// One more user asked for a queued name.
    NewAsker,
    /// A user asked again for a name they had asked for.
    AskedAgain,
    /// Not recorded: nothing left of the name once cleaned.
    Blank,
    /// Not recorded: the user has added `REQUESTS_PER_USER_PER_DAY` names already.
    UserLimit,
    /// Not recorded: the queue holds `REQUESTS_MAX_PENDING` open requests already.
    QueueFull,
}

impl AskRecorded {
    /// Every outcome, for counters that show them all.
    pub const ALL: [AskRecorded; 6] = [
        AskRecorded::NewRequest,
        AskRecorded::NewAsker,
        AskRecorded::AskedAgain,
        AskRecorded::Blank,
        AskRecorded::UserLimit,
        AskRecorded::QueueFull,
    ];

    /// Whether the ask reached the database.
    pub fn recorded(self) -> bool {
        matches!(
            self,
            AskRecorded::NewRequest | AskRecorded::NewAsker | AskRecorded::AskedAgain
        )
    }

    /// A short word for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            AskRecorded::NewRequest => "new_request",
            AskRecorded::NewAsker => "new_asker",
            AskRecorded::AskedAgain => "asked_again",
            AskRecorded::Blank => "blank",
            AskRecorded::UserLimit => "user_limit",
            AskRecorded::QueueFull => "queue_full",
        }
    }
}

impl Store {
    /// Records that someone asked for `query`, without a user and without limits: for
    /// the CLI's and tests' own requests. The skill uses [`Store::record_request_from`].
    /// Returns `false` for a blank query.
    pub async fn record_request(
        &self,
        query: &str,
        now: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        let unlimited = RequestLimits {
            per_user: u32::MAX,
            per_user_window: std::time::Duration::ZERO,
            max_pending: u64::MAX,
        };
        Ok(self
            .record_request_from(query, None, &unlimited, now)
            .await?
            .recorded())
    }

    /// Records that the user `asker` asked for `query`: a new pending request, or one
    /// more ask of the existing one (one row per folded name). The query is cleaned
    /// first ([`clean_text`]); a name blank once cleaned is not recorded. This is the
    /// only write the skill endpoint makes.
    ///
    /// Each user counts once per name (`users_asked`, kept in `artist_request_users`),
    /// and adds at most `limits.per_user` names in `limits.per_user_window`; a name not
    /// yet queued is not recorded while `limits.max_pending` requests are open. A user
    /// asking again for a name of theirs only counts the ask (`times_asked`), whatever
    /// the limits. `asker` `None` (the CLI, tests) counts no user.
    pub async fn record_request_from(
        &self,
        query: &str,
        asker: Option<&RequesterKey>,
        limits: &RequestLimits,
        now: NaiveDateTime,
    ) -> Result<AskRecorded, StoreError> {
        let query = clean_text(query);
        let key = name_key(&query);
        if key.is_empty() {
            return Ok(AskRecorded::Blank);
        }
        let query_key = fit(&key, NAME_LEN);
        let failed = StoreError::query("recording an artist request");
        if let Some(asker) = asker {
            let since = now
                - chrono::Duration::from_std(limits.per_user_window)
                    .unwrap_or(chrono::Duration::MAX);
            let (asked_before, asked_lately) = self.asker_history(asker, &query_key, since).await?;
            if asked_before {
                self.count_ask(&query_key, false, now).await?;
                return Ok(AskRecorded::AskedAgain);
            }
            if asked_lately >= u64::from(limits.per_user) {
                return Ok(AskRecorded::UserLimit);
            }
        }
        let new_asker = asker.is_some();
        // Counted on the existing row first, then inserted if there is none: the skill's
        // database account may UPDATE only the counting columns (deploy/mysql/grants.sql),
        // and an upsert (INSERT ... ON DUPLICATE KEY UPDATE) needs UPDATE on every column
        // it inserts. The update always changes `times_asked`, so both backends report
        // the row as affected when it exists.
        let outcome = if self.count_ask(&query_key, new_asker, now).await? {
            AskRecorded::NewAsker
        } else {
            if self.open_requests().await? >= limits.max_pending {
                return Ok(AskRecorded::QueueFull);
            }
            let row = artist_requests::ActiveModel {
                query_key: Set(query_key.clone()),
                query: Set(fit(&query, NAME_LEN)),
                status: Set(RequestStatus::Pending.as_str().to_owned()),
                times_asked: Set(1),
                first_asked_at: Set(now),
                last_asked_at: Set(now),
                attempts: Set(0),
                next_attempt_at: Set(None),
                artist_id: Set(None),
                last_error: Set(None),
                resolved_at: Set(None),
                users_asked: Set(i32::from(new_asker)),
                candidate_artist_id: Set(None),
                tapped_artist_id: Set(None),
            };
            match artist_requests::Entity::insert(row)
                .exec_without_returning(self.db())
                .await
            {
                Ok(_) => AskRecorded::NewRequest,
                // Another miss of the same name inserted it meanwhile: count on that row.
                Err(error) if is_duplicate(&error) => {
                    self.count_ask(&query_key, new_asker, now).await?;
                    AskRecorded::NewAsker
                }
                Err(error) => return Err(failed(error)),
            }
        };
        let Some(asker) = asker else {
            return Ok(outcome);
        };
        let asked = artist_request_users::ActiveModel {
            query_key: Set(query_key.clone()),
            user_key: Set(asker.as_str().to_owned()),
            asked_at: Set(now),
        };
        match artist_request_users::Entity::insert(asked)
            .exec_without_returning(self.db())
            .await
        {
            Ok(_) => Ok(outcome),
            // The same user's other miss of this name, at the same moment, counted them
            // already: take this one back, so each user counts once.
            Err(error) if is_duplicate(&error) => {
                use artist_requests::Column as C;
                artist_requests::Entity::update_many()
                    .col_expr(C::UsersAsked, Expr::col(C::UsersAsked).sub(1))
                    .filter(C::QueryKey.eq(query_key.as_str()))
                    .filter(C::UsersAsked.gt(1))
                    .exec(self.db())
                    .await
                    .map_err(StoreError::query("counting a request's users"))?;
                Ok(AskRecorded::AskedAgain)
            }
            Err(error) => Err(failed(error)),
        }
    }

    /// One more ask of the request `query_key` (by a user not counted yet for it when
    /// `new_asker`), if it exists; whether it did.
    async fn count_ask(
        &self,
        query_key: &str,
        new_asker: bool,
        now: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        use artist_requests::Column as C;
        let mut update = artist_requests::Entity::update_many()
            .col_expr(C::TimesAsked, Expr::col(C::TimesAsked).add(1))
            .col_expr(C::LastAskedAt, Expr::value(now));
        if new_asker {
            update = update.col_expr(C::UsersAsked, Expr::col(C::UsersAsked).add(1));
        }
        let counted = update
            .filter(C::QueryKey.eq(query_key))
            .exec(self.db())
            .await
            .map_err(StoreError::query("recording an artist request"))?;
        Ok(counted.rows_affected > 0)
    }

    /// Whether `asker` has asked for `query_key` before, and how many names they added
    /// since `since`: one statement over the user's own rows (the index on
    /// `(user_key, asked_at)`; a user has at most `REQUESTS_PER_USER_PER_DAY` a day of
    /// them within the retention).
    async fn asker_history(
        &self,
        asker: &RequesterKey,
        query_key: &str,
        since: NaiveDateTime,
    ) -> Result<(bool, u64), StoreError> {
        use artist_request_users::Column as C;
        let this_name = Expr::case(Expr::col(C::QueryKey).eq(query_key), 1).finally(0);
        // COUNT of a CASE without ELSE counts the rows it matches (a SUM would be a
        // DECIMAL on MySQL).
        let lately = Expr::case(Expr::col(C::AskedAt).gte(since), 1)
            .finally(Expr::value(Option::<i32>::None));
        let row: Option<(Option<i64>, Option<i64>)> = artist_request_users::Entity::find()
            .select_only()
            .column_as(Expr::expr(this_name).max(), "asked_before")
            .column_as(Expr::expr(lately).count(), "asked_lately")
            .filter(C::UserKey.eq(asker.as_str()))
            .into_tuple()
            .one(self.db())
            .await
            .map_err(StoreError::query("reading what a user asked for"))?;
        let (before, lately) = row.unwrap_or((None, None));
        Ok((
            before.unwrap_or(0) > 0,
            u64::try_from(lately.unwrap_or(0)).unwrap_or(0),
        ))
    }

    /// Requests still open: pending, or missed and waiting to be tried again.
    async fn open_requests(&self) -> Result<u64, StoreError> {
        artist_requests::Entity::find()
            .select_only()
            .column(artist_requests::Column::QueryKey)
            .filter(open_condition())
            .count(self.db())
            .await
            .map_err(StoreError::query("counting open artist requests"))
    }
}

impl Store {
    /// Records that `asker`, who had asked for `asked` (a spelling the catalog did not
    /// know), tapped the suggestion that led to the catalog artist `artist_id`: evidence
    /// that the spelling means that artist, which the queue turns into an alias. Only a
    /// user who asked for the spelling can give it, and only while the request is not
    /// done. Returns whether it was recorded.
    pub async fn record_tap(
        &self,
        asked: &str,
        artist_id: &str,
        asker: &RequesterKey,
    ) -> Result<bool, StoreError> {
        let query_key = fit(&name_key(&clean_text(asked)), NAME_LEN);
        if query_key.is_empty() {
            return Ok(false);
        }
        let asked_it: Option<String> = artist_request_users::Entity::find()
            .select_only()
            .column(artist_request_users::Column::UserKey)
            .filter(artist_request_users::Column::QueryKey.eq(query_key.as_str()))
            .filter(artist_request_users::Column::UserKey.eq(asker.as_str()))
            .into_tuple()
            .one(self.db())
            .await
            .map_err(StoreError::query("reading who asked for a request"))?;
        if asked_it.is_none() {
            return Ok(false);
        }
        use artist_requests::Column as C;
        let tapped = artist_requests::Entity::update_many()
            .col_expr(C::TappedArtistId, Expr::value(artist_id))
            .filter(C::QueryKey.eq(query_key.as_str()))
            .filter(C::Status.ne(RequestStatus::Done.as_str()))
            .exec(self.db())
            .await
            .map_err(StoreError::query("recording a tapped suggestion"))?;
        Ok(tapped.rows_affected > 0)
    }

    /// Requests not done whose asker tapped a suggestion of an artist in the catalog:
    /// (query key, spelling, artist id, attempts), at most `limit`.
    pub(crate) async fn tapped_requests(
        &self,
        limit: u64,
    ) -> Result<Vec<(String, String, String, i32)>, StoreError> {
        use artist_requests::Column as C;
        artist_requests::Entity::find()
            .select_only()
            .column(C::QueryKey)
            .column(C::Query)
            .column(C::TappedArtistId)
            .column(C::Attempts)
            .filter(C::Status.ne(RequestStatus::Done.as_str()))
            .filter(
                C::TappedArtistId.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(entity::artists::Column::Id)
                        .from(entity::artists::Entity)
                        .to_owned(),
                ),
            )
            .order_by_asc(C::FirstAskedAt)
            .limit(limit)
            .into_tuple()
            .all(self.db())
            .await
            .map_err(StoreError::query("reading tapped requests"))
    }
}

fn is_duplicate(error: &sea_orm::DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Open: pending, or a miss with a retry time (a miss without one has been given up).
/// Written as two ranges of the `(status, next_attempt_at)` index.
fn open_condition() -> Condition {
    use artist_requests::Column as C;
    Condition::any()
        .add(C::Status.eq(RequestStatus::Pending.as_str()))
        .add(
            Condition::all()
                .add(C::Status.is_in([
                    RequestStatus::NotFound.as_str(),
                    RequestStatus::Failed.as_str(),
                ]))
                .add(C::NextAttemptAt.is_not_null()),
        )
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
    /// Requests due at `now`, at most `limit`, by demand: the most distinct users first,
    /// then the longest waiting. One user's many names cannot push ahead of a name
    /// several people want (and one user adds few: `REQUESTS_PER_USER_PER_DAY`).
    pub async fn due_requests(
        &self,
        now: NaiveDateTime,
        limit: u64,
    ) -> Result<Vec<ArtistRequest>, StoreError> {
        Ok(artist_requests::Entity::find()
            .filter(due_condition(now))
            .order_by_desc(artist_requests::Column::UsersAsked)
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
            artist_requests::Entity::find_by_id(fit(&name_key(&clean_text(query)), NAME_LEN))
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
    pub async fn miss_request(
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

    /// Counts of the queue by state, counted by the database (one row per state), so
    /// `status` and every `/metrics` scrape cost the same however long the queue is.
    pub async fn request_counts(&self, now: NaiveDateTime) -> Result<RequestCounts, StoreError> {
        use artist_requests::Column as C;
        let retrying = Expr::col(C::NextAttemptAt).is_not_null();
        let groups: Vec<(String, i64, i64)> = artist_requests::Entity::find()
            .select_only()
            .column(C::Status)
            .column_as(retrying.clone(), "retrying")
            .column_as(Expr::col(C::QueryKey).count(), "requests")
            .group_by(C::Status)
            .group_by(retrying)
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
        for (status, retrying, requests) in groups {
            let requests = u64::try_from(requests).unwrap_or(0);
            let slot = match (RequestStatus::parse(&status), retrying != 0) {
                (Some(RequestStatus::Pending), _) => &mut counts.pending,
                (Some(RequestStatus::Done), _) => &mut counts.done,
                (Some(RequestStatus::NotFound), true) => &mut counts.not_found_retrying,
                (Some(RequestStatus::NotFound), false) => &mut counts.not_found_given_up,
                (Some(RequestStatus::Failed), true) => &mut counts.failed_retrying,
                (Some(RequestStatus::Failed), false) => &mut counts.failed_given_up,
                (None, _) => continue,
            };
            *slot += requests;
        }
        Ok(counts)
    }

    /// Deletes the requests past `retention` at `now`, and who asked for them: finished
    /// ones (done, or given up) once nobody has asked for them and they were resolved
    /// that long ago, and open ones nobody has asked for in that long. Two statements
    /// however many rows; returns the requests deleted.
    pub async fn delete_expired_requests(
        &self,
        retention: std::time::Duration,
        now: NaiveDateTime,
    ) -> Result<u64, StoreError> {
        use artist_requests::Column as C;
        let Some(cutoff) = chrono::Duration::from_std(retention)
            .ok()
            .and_then(|retention| now.checked_sub_signed(retention))
        else {
            return Ok(0);
        };
        // `resolved_at` is set for done requests only; `last_asked_at` for every one.
        let expired = Condition::all().add(C::LastAskedAt.lt(cutoff)).add(
            Condition::any()
                .add(C::ResolvedAt.is_null())
                .add(C::ResolvedAt.lt(cutoff)),
        );
        // Who asked first: the foreign key cascades on both backends only where SQLite's
        // foreign keys are on, so it is not relied upon.
        artist_request_users::Entity::delete_many()
            .filter(
                artist_request_users::Column::QueryKey.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(C::QueryKey)
                        .from(artist_requests::Entity)
                        .cond_where(expired.clone())
                        .to_owned(),
                ),
            )
            .exec(self.db())
            .await
            .map_err(StoreError::query("deleting who asked for expired requests"))?;
        let deleted = artist_requests::Entity::delete_many()
            .filter(expired)
            .exec(self.db())
            .await
            .map_err(StoreError::query("deleting expired artist requests"))?;
        Ok(deleted.rows_affected)
    }
}

/// Width of `artist_requests.last_error`.
const LAST_ERROR_LEN: usize = 512;

fn clamp(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
