//! Writing refreshed artists: many artists' refreshes in one transaction, with
//! multi-row statements per table (the artists' own rows in one `UPDATE ... CASE`,
//! new artists in one insert, each child table's rows replaced with one delete and
//! multi-row inserts). Either all of a batch lands or none of it does, so every artist
//! is fully old or fully new, whatever stops the process.
//!
//! Parts of a refresh that are `None` are left as stored: a failed fetch never deletes
//! data. An empty track list is treated the same way (an upstream that suddenly knows no
//! tracks is more likely wrong than right), and so is an empty related list, or one that
//! held only the artist itself. A related list marked incomplete is written only if it
//! is at least as long as the stored one, and the artist stays due.
//!
//! Must not touch: what is due or where data comes from (the sync's rules).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use entity::{artists, related_artists, top_tracks};
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IsolationLevel,
    QueryFilter, QuerySelect, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use super::artists::{NAME_LEN, fit, fit_url, genres_json, insert_new_artists};
use super::{IN_CHUNK, Store, StoreError};
use crate::catalog::{ArtistRefresh, ProfileUpdate, Source, TopTrack, WriteCounts, is_deezer_born};
use crate::names::name_key;

impl Store {
    /// Applies one artist's refresh atomically (see the module docs).
    pub async fn apply_refresh(
        &self,
        refresh: &ArtistRefresh,
        now: NaiveDateTime,
    ) -> Result<WriteCounts, StoreError> {
        let mut written = self
            .apply_refreshes(std::slice::from_ref(refresh), now)
            .await?;
        Ok(written.pop().unwrap_or_default())
    }

    /// Applies many artists' refreshes in one transaction, retried after a lost lock
    /// conflict. Returns what each wrote, in order.
    pub(crate) async fn apply_refreshes(
        &self,
        refreshes: &[ArtistRefresh],
        now: NaiveDateTime,
    ) -> Result<Vec<WriteCounts>, StoreError> {
        if refreshes.is_empty() {
            return Ok(Vec::new());
        }
        // Reads happen before the transaction: on SQLite a transaction that reads and
        // then writes can fail outright when another writer got in between.
        let plan = self.plan_batch(refreshes).await?;
        let mut attempt = 1;
        loop {
            match self.write_batch(refreshes, &plan, now).await {
                Err(error) if attempt < WRITE_ATTEMPTS && is_lock_conflict(&error) => {
                    // Another transaction held a lock this one needed (InnoDB picked this
                    // one as the deadlock victim, or SQLite stayed busy). Nothing was
                    // written; try again after a short, jittered pause.
                    tracing::debug!(attempt, %error, "retrying a batch write after a lock conflict");
                    let pause = 40 * attempt + fastrand::u64(0..40);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// What the batch's writes depend on: which new artists are not in the catalog yet,
    /// which of their Deezer ids others hold, and the stored related counts an
    /// incomplete list is held against.
    async fn plan_batch(&self, refreshes: &[ArtistRefresh]) -> Result<BatchPlan, StoreError> {
        let new: Vec<_> = refreshes
            .iter()
            .flat_map(|r| r.new_artists.iter().cloned())
            .collect();
        let (taken, fresh) = self.prepare_new_artists(&new).await?;
        let uncounted: Vec<String> = refreshes
            .iter()
            .filter(|r| r.related.as_ref().is_some_and(|rel| !rel.complete))
            .filter(|r| r.stored_related.is_none())
            .map(|r| r.artist_id.clone())
            .collect();
        let mut stored_related = self.related_counts(&uncounted).await?;
        for refresh in refreshes {
            if let Some(count) = refresh.stored_related {
                stored_related.insert(refresh.artist_id.clone(), count);
            }
        }
        Ok(BatchPlan {
            taken,
            fresh,
            stored_related,
        })
    }

    /// Related rows stored per artist, for these artists.
    async fn related_counts(&self, ids: &[String]) -> Result<HashMap<String, usize>, StoreError> {
        let mut counts = HashMap::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let rows: Vec<(String, i64)> = related_artists::Entity::find()
                .select_only()
                .column(related_artists::Column::ArtistId)
                .column_as(Expr::col(related_artists::Column::RelatedId).count(), "n")
                .filter(related_artists::Column::ArtistId.is_in(chunk.iter().cloned()))
                .group_by(related_artists::Column::ArtistId)
                .into_tuple()
                .all(self.db())
                .await
                .map_err(StoreError::query("counting related artists"))?;
            counts.extend(
                rows.into_iter()
                    .map(|(id, n)| (id, Ord::max(n, 0) as usize)),
            );
        }
        Ok(counts)
    }

    async fn write_batch(
        &self,
        refreshes: &[ArtistRefresh],
        plan: &BatchPlan,
        now: NaiveDateTime,
    ) -> Result<Vec<WriteCounts>, StoreError> {
        let txn = self
            .db()
            .begin_with_options(refresh_transaction_options(self.backend()))
            .await
            .map_err(StoreError::query("starting a transaction"))?;
        let mut counts = vec![WriteCounts::default(); refreshes.len()];

        // New artists first: related rows may point at them. Two artists of the batch
        // may bring the same one; it counts for the first.
        let mut seen_new = HashSet::new();
        for (index, refresh) in refreshes.iter().enumerate() {
            counts[index].artists_added = refresh
                .new_artists
                .iter()
                .filter(|a| plan.fresh.contains(&a.profile.id))
                .filter(|a| seen_new.insert(a.profile.id.as_str()))
                .count() as u64;
        }
        let all_new: Vec<_> = refreshes
            .iter()
            .flat_map(|r| r.new_artists.iter().cloned())
            .collect();
        if !all_new.is_empty() {
            insert_new_artists(&txn, &all_new, &plan.taken, &plan.fresh, now).await?;
        }

        update_artist_rows(&txn, refreshes, now).await?;
        for (index, refresh) in refreshes.iter().enumerate() {
            if refresh.profile.is_some() {
                counts[index].profiles = 1;
            }
        }

        // Top tracks: every listed artist's rows replaced by the new list.
        let mut track_rows = Vec::new();
        let mut track_owners = Vec::new();
        for (index, refresh) in refreshes.iter().enumerate() {
            if let Some((source, tracks)) = &refresh.tracks {
                let rows = top_track_rows(&refresh.artist_id, *source, tracks, now);
                if rows.is_empty() {
                    continue;
                }
                counts[index].top_tracks = rows.len() as u64;
                track_owners.push(refresh.artist_id.clone());
                track_rows.extend(rows);
            }
        }
        delete_children_of::<top_tracks::Entity, _>(
            &txn,
            top_tracks::Column::ArtistId,
            &track_owners,
            "removing old top tracks",
        )
        .await?;
        upsert_top_tracks(&txn, track_rows).await?;

        // Related artists: written when the list loses nothing (see the module docs).
        let mut related_rows = Vec::new();
        let mut related_owners = Vec::new();
        for (index, refresh) in refreshes.iter().enumerate() {
            let Some(related) = &refresh.related else {
                continue;
            };
            let rows = related_rows_of(
                &refresh.artist_id,
                related.source,
                &related.related_ids,
                now,
            );
            let stored = plan
                .stored_related
                .get(&refresh.artist_id)
                .copied()
                .unwrap_or(0);
            let worth_writing = !rows.is_empty() && (related.complete || rows.len() >= stored);
            if !worth_writing {
                continue;
            }
            counts[index].related = rows.len() as u64;
            related_owners.push(refresh.artist_id.clone());
            related_rows.extend(rows);
        }
        delete_children_of::<related_artists::Entity, _>(
            &txn,
            related_artists::Column::ArtistId,
            &related_owners,
            "removing old related artists",
        )
        .await?;
        upsert_related(&txn, related_rows).await?;

        txn.commit()
            .await
            .map_err(StoreError::query("committing a batch of refreshes"))?;
        Ok(counts)
    }
}

/// What [`Store::plan_batch`] read.
struct BatchPlan {
    /// Deezer ids other artists hold: not given to new artists.
    taken: HashSet<i64>,
    /// New artists' ids not in the catalog yet.
    fresh: HashSet<String>,
    /// Stored related rows per artist with an incomplete list.
    stored_related: HashMap<String, usize>,
}

/// One `UPDATE artists SET col = CASE id WHEN ... END, ... WHERE id IN (...)` for every
/// artist of the batch whose own row changes: freshness times, profiles, Deezer matches.
async fn update_artist_rows<C: ConnectionTrait>(
    conn: &C,
    refreshes: &[ArtistRefresh],
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    use artists::Column as C;
    let mut columns: Vec<(C, Vec<(String, Expr)>)> = Vec::new();
    let mut set = |column: C, id: &str, value: Expr| match columns
        .iter_mut()
        .find(|(c, _)| std::mem::discriminant(c) == std::mem::discriminant(&column))
    {
        Some((_, values)) => values.push((id.to_owned(), value)),
        None => columns.push((column, vec![(id.to_owned(), value)])),
    };
    for refresh in refreshes {
        let id = refresh.artist_id.as_str();
        if refresh.tracks.as_ref().is_some_and(|(_, t)| !t.is_empty()) {
            set(C::TracksRefreshedAt, id, Expr::val(now));
        }
        if refresh.related.as_ref().is_some_and(|r| r.complete) {
            set(C::RelatedRefreshedAt, id, Expr::val(now));
        }
        if let Some(matched) = &refresh.deezer_match {
            set(C::DeezerMapping, id, Expr::val(matched.mapping.as_str()));
            set(C::DeezerCheckedAt, id, Expr::val(now));
            set(C::DeezerId, id, Expr::val(matched.deezer_id));
            if matched.deezer_id.is_none() {
                // A fan count belongs to the Deezer artist it was read from.
                set(C::DeezerFans, id, Expr::val(Option::<i64>::None));
            } else if matched.fans.is_some() {
                set(C::DeezerFans, id, Expr::val(matched.fans));
            }
        }
        match &refresh.profile {
            Some(ProfileUpdate::Spotify {
                profile,
                deezer_fans,
                fallback_image_url,
            }) => {
                let image = fit_url(profile.image_url.as_deref())
                    .or_else(|| fit_url(fallback_image_url.as_deref()));
                set(C::Name, id, Expr::val(fit(&profile.name, NAME_LEN)));
                set(
                    C::NameKey,
                    id,
                    Expr::val(fit(&name_key(&profile.name), NAME_LEN)),
                );
                set(C::Followers, id, Expr::val(profile.followers));
                set(C::Popularity, id, Expr::val(profile.popularity));
                set(C::Url, id, Expr::val(fit_url(profile.url.as_deref())));
                set(C::ImageUrl, id, Expr::val(image));
                set(C::Genres, id, Expr::val(genres_json(&profile.genres)));
                set(C::Source, id, Expr::val(Source::Spotify.as_str()));
                set(C::FetchedAt, id, Expr::val(now));
                set(C::ProfileRefreshedAt, id, Expr::val(now));
                if deezer_fans.is_some() {
                    set(C::DeezerFans, id, Expr::val(*deezer_fans));
                }
            }
            Some(ProfileUpdate::Deezer {
                name,
                fans,
                picture,
            }) => {
                if is_deezer_born(id) {
                    if let Some(name) = name {
                        set(C::Name, id, Expr::val(fit(name, NAME_LEN)));
                        set(C::NameKey, id, Expr::val(fit(&name_key(name), NAME_LEN)));
                    }
                    set(C::ImageUrl, id, Expr::val(fit_url(picture.as_deref())));
                    set(C::Source, id, Expr::val(Source::Deezer.as_str()));
                    set(C::FetchedAt, id, Expr::val(now));
                } else if let Some(picture) = fit_url(picture.as_deref()) {
                    // Spotify's image stays; Deezer's only fills a gap.
                    set(
                        C::ImageUrl,
                        id,
                        Expr::col(C::ImageUrl).if_null(Expr::val(picture)),
                    );
                }
                if fans.is_some() {
                    set(C::DeezerFans, id, Expr::val(*fans));
                }
                set(C::ProfileRefreshedAt, id, Expr::val(now));
            }
            None => {}
        }
    }
    if columns.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = columns
        .iter()
        .flat_map(|(_, values)| values.iter().map(|(id, _)| id.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut update = artists::Entity::update_many();
    for (column, values) in columns {
        let mut case = CaseStatement::new();
        for (id, value) in values {
            case = case.case(C::Id.eq(id), value);
        }
        update = update.col_expr(column, case.finally(Expr::col(column)).into());
    }
    update
        .filter(C::Id.is_in(ids))
        .exec(conn)
        .await
        .map_err(StoreError::query("updating refreshed artists"))?;
    Ok(())
}

/// Deletes every child row (`column` = artist id) of `owners`.
async fn delete_children_of<E, C>(
    conn: &C,
    column: E::Column,
    owners: &[String],
    doing: &'static str,
) -> Result<(), StoreError>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    for chunk in owners.chunks(IN_CHUNK) {
        E::delete_many()
            .filter(column.is_in(chunk.iter().cloned()))
            .exec(conn)
            .await
            .map_err(StoreError::query(doing))?;
    }
    Ok(())
}

/// Attempts at one batch's transaction when it loses a lock conflict.
const WRITE_ATTEMPTS: u64 = 6;

/// MySQL: READ COMMITTED, so the delete-then-insert of child rows takes no gap locks that
/// block other writers. SQLite: `BEGIN IMMEDIATE`, so the write lock is taken (waiting up
/// to the busy timeout) before anything is read.
fn refresh_transaction_options(backend: DbBackend) -> TransactionOptions {
    match backend {
        DbBackend::Sqlite => TransactionOptions {
            isolation_level: None,
            access_mode: None,
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        },
        _ => TransactionOptions {
            isolation_level: Some(IsolationLevel::ReadCommitted),
            access_mode: None,
            sqlite_transaction_mode: None,
        },
    }
}

/// Deadlock (1213), lock wait timeout (1205), or SQLite's "database is locked".
fn is_lock_conflict(error: &StoreError) -> bool {
    let StoreError::Query { source, .. } = error else {
        return false;
    };
    let message = source.to_string();
    [
        "1213",
        "1205",
        "Deadlock",
        "database is locked",
        "database table is locked",
    ]
    .iter()
    .any(|marker| message.contains(marker))
}

/// An artist's top-track rows (ranked by position; repeated, empty and overlong ids
/// left out).
fn top_track_rows(
    artist_id: &str,
    source: Source,
    tracks: &[TopTrack],
    now: NaiveDateTime,
) -> Vec<top_tracks::ActiveModel> {
    let mut seen = HashSet::new();
    tracks
        .iter()
        .filter(|t| !t.id.is_empty() && t.id.len() <= 64 && seen.insert(t.id.clone()))
        .enumerate()
        .map(|(index, t)| top_tracks::ActiveModel {
            artist_id: Set(artist_id.to_owned()),
            id: Set(t.id.clone()),
            rank: Set(index as i32 + 1),
            name: Set(fit(&t.name, NAME_LEN)),
            popularity: Set(t.popularity),
            album_name: Set(t.album_name.as_deref().map(|a| fit(a, NAME_LEN))),
            image_url: Set(fit_url(t.image_url.as_deref())),
            isrc: Set(t.isrc.clone().filter(|i| i.len() <= 16)),
            url: Set(fit_url(t.url.as_deref())),
            deezer_rank: Set(t.deezer_rank),
            duration_ms: Set(t.duration_ms),
            source: Set(source.as_str().to_owned()),
            fetched_at: Set(now),
        })
        .collect()
}

/// An artist's related rows (ranked by position; the artist itself and repeats left out).
fn related_rows_of(
    artist_id: &str,
    source: Source,
    related_ids: &[String],
    now: NaiveDateTime,
) -> Vec<related_artists::ActiveModel> {
    let mut seen = HashSet::new();
    related_ids
        .iter()
        .filter(|id| id.as_str() != artist_id && seen.insert((*id).clone()))
        .enumerate()
        .map(|(index, id)| related_artists::ActiveModel {
            artist_id: Set(artist_id.to_owned()),
            related_id: Set(id.clone()),
            rank_rel: Set(index as i32 + 1),
            source: Set(source.as_str().to_owned()),
            fetched_at: Set(now),
        })
        .collect()
}

/// Rows per multi-row upsert: large enough to make round trips rare, small enough to stay
/// far below both backends' statement and parameter limits.
pub(crate) const UPSERT_CHUNK_ROWS: usize = 400;

/// Upserts top-track rows keyed by (artist, track), a few hundred per statement. Shared by
/// the sync's batch writer and the import.
pub(crate) async fn upsert_top_tracks<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<top_tracks::ActiveModel>,
) -> Result<(), StoreError> {
    use top_tracks::Column as C;
    for chunk in chunks_of(rows, UPSERT_CHUNK_ROWS) {
        top_tracks::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::columns([C::ArtistId, C::Id])
                    .update_columns([
                        C::Rank,
                        C::Name,
                        C::Popularity,
                        C::AlbumName,
                        C::ImageUrl,
                        C::Isrc,
                        C::Url,
                        C::DeezerRank,
                        C::DurationMs,
                        C::Source,
                        C::FetchedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await
            .map_err(StoreError::query("writing top tracks"))?;
    }
    Ok(())
}

/// Upserts related-artist rows keyed by (artist, related artist), a few hundred per
/// statement. Shared by the sync's batch writer and the import.
pub(crate) async fn upsert_related<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<related_artists::ActiveModel>,
) -> Result<(), StoreError> {
    use related_artists::Column as C;
    for chunk in chunks_of(rows, UPSERT_CHUNK_ROWS) {
        related_artists::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::columns([C::ArtistId, C::RelatedId])
                    .update_columns([C::RankRel, C::Source, C::FetchedAt])
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await
            .map_err(StoreError::query("writing related artists"))?;
    }
    Ok(())
}

/// Splits `rows` into owned chunks of at most `size` (multi-row statements take owned rows).
pub(crate) fn chunks_of<T>(rows: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut chunks = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        chunks.push(rows.by_ref().take(size).collect());
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_every_row_in_order() {
        let chunks = chunks_of((0..7).collect(), 3);
        assert_eq!(chunks, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
        assert!(chunks_of(Vec::<u8>::new(), 3).is_empty());
    }

    #[test]
    fn a_related_list_of_only_the_artist_itself_has_no_rows() {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 12, 5)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let rows = related_rows_of("a", Source::Deezer, &["a".to_owned()], now);
        assert!(rows.is_empty());
    }
}
