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
use entity::{artists, related_artists};
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IsolationLevel, QueryFilter, QuerySelect,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use super::artists::{NAME_LEN, fit, fit_url, genres_json, insert_new_artists};
use super::ranked::{Made, RelatedArtists, TopTracks, delete_lists_of, ranked_rows, upsert_rows};
use super::{IN_CHUNK, Store, StoreError};
use crate::catalog::{ArtistRefresh, ProfileUpdate, Source, WriteCounts, is_deezer_born};
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
                let made = Made {
                    source: *source,
                    fetched_at: now,
                };
                let (rows, _) =
                    ranked_rows::<TopTracks>(&refresh.artist_id, tracks, made, |_| None);
                if rows.is_empty() {
                    continue;
                }
                counts[index].top_tracks = rows.len() as u64;
                track_owners.push(refresh.artist_id.clone());
                track_rows.extend(rows);
            }
        }
        delete_lists_of::<TopTracks, _>(&txn, &track_owners).await?;
        upsert_rows::<TopTracks, _>(&txn, track_rows).await?;

        // Related artists: written when the list loses nothing (see the module docs).
        let mut related_rows = Vec::new();
        let mut related_owners = Vec::new();
        for (index, refresh) in refreshes.iter().enumerate() {
            let Some(related) = &refresh.related else {
                continue;
            };
            let made = Made {
                source: related.source,
                fetched_at: now,
            };
            let (rows, _) = ranked_rows::<RelatedArtists>(
                &refresh.artist_id,
                &related.related_ids,
                made,
                |_| None,
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
        delete_lists_of::<RelatedArtists, _>(&txn, &related_owners).await?;
        upsert_rows::<RelatedArtists, _>(&txn, related_rows).await?;

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

/// Attempts at one batch's transaction when it loses a lock conflict.
const WRITE_ATTEMPTS: u64 = 6;

/// MySQL: READ COMMITTED, so the delete-then-insert of child rows takes no gap locks that
/// block other writers. SQLite: `BEGIN IMMEDIATE`, so the write lock is taken (waiting up
/// to the busy timeout) before anything is read.
pub(super) fn refresh_transaction_options(backend: DbBackend) -> TransactionOptions {
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
pub(crate) fn is_lock_conflict(error: &StoreError) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_related_list_of_only_the_artist_itself_has_no_rows() {
        let made = Made {
            source: Source::Deezer,
            fetched_at: chrono::NaiveDate::from_ymd_opt(2026, 12, 5)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
        };
        let (rows, skipped) = ranked_rows::<RelatedArtists>("a", &["a".to_owned()], made, |_| None);
        assert!(rows.is_empty());
        assert_eq!(skipped, 1);
    }
}
