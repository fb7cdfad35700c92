//! One artist's refresh, written in one transaction: new related artists, the Deezer
//! cache, the profile, the top tracks and the related artists, and the freshness times.
//! Either all of it lands or none of it does, so an interrupted run leaves every artist
//! fully old or fully new.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use entity::{artists, deezer_artists, related_artists, top_tracks};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IsolationLevel,
    PaginatorTrait, QueryFilter, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use super::artists::{NAME_LEN, fit, fit_url, insert_new_artists, upsert_profiles};
use super::{Store, StoreError};
use crate::catalog::{ArtistRefresh, DeezerArtistEntry, Source, TopTrack, WriteCounts};
use crate::names::name_key;

impl Store {
    /// Applies `refresh` atomically. Parts that are `None` are left as stored: a failed
    /// fetch never deletes data. An empty track list is treated the same way (an upstream
    /// that suddenly knows no tracks is more likely wrong than right), and so is an empty
    /// related list. A related list
    /// marked incomplete is written only if it is at least as long as the stored one,
    /// and the artist stays due.
    pub async fn apply_refresh(
        &self,
        refresh: &ArtistRefresh,
        now: NaiveDateTime,
    ) -> Result<WriteCounts, StoreError> {
        // Reads happen before the transaction: on SQLite a transaction that reads and
        // then writes can fail outright when another writer got in between.
        let (taken, fresh) = self.prepare_new_artists(&refresh.new_artists).await?;
        let write_related = match &refresh.related {
            Some(related) if related.complete => !related.related_ids.is_empty(),
            Some(related) => {
                let stored = related_artists::Entity::find()
                    .filter(related_artists::Column::ArtistId.eq(&refresh.artist_id))
                    .count(self.db())
                    .await
                    .map_err(StoreError::query("counting related artists"))?;
                related.related_ids.len() as u64 >= stored && !related.related_ids.is_empty()
            }
            None => false,
        };

        let mut attempt = 1;
        loop {
            match self
                .write_refresh(refresh, &taken, &fresh, write_related, now)
                .await
            {
                Err(error) if attempt < WRITE_ATTEMPTS && is_lock_conflict(&error) => {
                    // Another artist's transaction held a lock this one needed (InnoDB
                    // picked this one as the deadlock victim, or SQLite stayed busy).
                    // Nothing was written; try again after a short, jittered pause.
                    tracing::debug!(attempt, %error, "retrying an artist's write after a lock conflict");
                    let pause = 40 * attempt + fastrand::u64(0..40);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn write_refresh(
        &self,
        refresh: &ArtistRefresh,
        taken: &HashSet<i64>,
        fresh: &HashSet<String>,
        write_related: bool,
        now: NaiveDateTime,
    ) -> Result<WriteCounts, StoreError> {
        let txn = self
            .db()
            .begin_with_options(refresh_transaction_options(self.backend()))
            .await
            .map_err(StoreError::query("starting a transaction"))?;
        let mut counts = WriteCounts::default();
        // The artist's own row first: every concurrent writer then takes its locks in the
        // same order (own row, then child rows), which keeps InnoDB deadlocks rare.
        let tracks_refreshed = refresh.tracks.is_some();
        let related_refreshed = refresh.related.as_ref().is_some_and(|r| r.complete);
        if tracks_refreshed || related_refreshed {
            let mut update = artists::Entity::update_many();
            if tracks_refreshed {
                update = update.col_expr(artists::Column::TracksRefreshedAt, Expr::value(now));
            }
            if related_refreshed {
                update = update.col_expr(artists::Column::RelatedRefreshedAt, Expr::value(now));
            }
            update
                .filter(artists::Column::Id.eq(&refresh.artist_id))
                .exec(&txn)
                .await
                .map_err(StoreError::query("marking an artist refreshed"))?;
        }
        if let Some(profile) = &refresh.profile {
            counts.profiles = upsert_profiles(&txn, std::slice::from_ref(profile), now).await?;
        }
        if !refresh.new_artists.is_empty() {
            counts.artists_added =
                insert_new_artists(&txn, &refresh.new_artists, taken, fresh, now).await?;
        }
        upsert_deezer_entries(&txn, &refresh.deezer_entries).await?;
        if let Some((source, tracks)) = &refresh.tracks {
            counts.top_tracks =
                replace_top_tracks(&txn, &refresh.artist_id, *source, tracks, now).await?;
        }
        if let Some(related) = &refresh.related
            && write_related
        {
            counts.related = replace_related(
                &txn,
                &refresh.artist_id,
                related.source,
                &related.related_ids,
                now,
            )
            .await?;
        }
        txn.commit()
            .await
            .map_err(StoreError::query("committing an artist's refresh"))?;
        Ok(counts)
    }
}

/// Attempts at one artist's transaction when it loses a lock conflict.
const WRITE_ATTEMPTS: u64 = 6;

/// MySQL: READ COMMITTED, so the delete-then-upsert of an artist's rows takes no gap
/// locks that block other artists' inserts. SQLite: `BEGIN IMMEDIATE`, so the write lock
/// is taken (waiting up to the busy timeout) before anything is read.
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

/// Replaces an artist's top tracks with `tracks` (ranked by position): rows no longer in
/// the list go, the rest are upserted in one statement.
async fn replace_top_tracks<C: ConnectionTrait>(
    conn: &C,
    artist_id: &str,
    source: Source,
    tracks: &[TopTrack],
    now: NaiveDateTime,
) -> Result<u64, StoreError> {
    let mut seen = HashSet::new();
    let rows: Vec<top_tracks::ActiveModel> = tracks
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
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    let kept: Vec<String> = seen.into_iter().collect();
    top_tracks::Entity::delete_many()
        .filter(top_tracks::Column::ArtistId.eq(artist_id))
        .filter(top_tracks::Column::Id.is_not_in(kept))
        .exec(conn)
        .await
        .map_err(StoreError::query("removing old top tracks"))?;
    let count = rows.len() as u64;
    upsert_top_tracks(conn, rows).await?;
    Ok(count)
}

/// Replaces an artist's related artists with `related_ids` (ranked by position).
async fn replace_related<C: ConnectionTrait>(
    conn: &C,
    artist_id: &str,
    source: Source,
    related_ids: &[String],
    now: NaiveDateTime,
) -> Result<u64, StoreError> {
    let mut seen = HashSet::new();
    let rows: Vec<related_artists::ActiveModel> = related_ids
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
        .collect();
    let kept: Vec<String> = seen.into_iter().collect();
    related_artists::Entity::delete_many()
        .filter(related_artists::Column::ArtistId.eq(artist_id))
        .filter(related_artists::Column::RelatedId.is_not_in(kept))
        .exec(conn)
        .await
        .map_err(StoreError::query("removing old related artists"))?;
    if rows.is_empty() {
        return Ok(0);
    }
    let count = rows.len() as u64;
    upsert_related(conn, rows).await?;
    Ok(count)
}

/// Rows per multi-row upsert: large enough to make round trips rare, small enough to stay
/// far below both backends' statement and parameter limits.
pub(crate) const UPSERT_CHUNK_ROWS: usize = 400;

/// Upserts top-track rows keyed by (artist, track), a few hundred per statement. Shared by
/// the sync's per-artist replacement and the import.
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
/// statement. Shared by the sync's per-artist replacement and the import.
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

async fn upsert_deezer_entries<C: ConnectionTrait>(
    conn: &C,
    entries: &[DeezerArtistEntry],
) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    let rows: Vec<deezer_artists::ActiveModel> = entries
        .iter()
        .filter(|e| seen.insert(e.deezer_id))
        .map(|e| deezer_artists::ActiveModel {
            deezer_id: Set(e.deezer_id),
            name: Set(fit(&e.name, NAME_LEN)),
            name_key: Set(fit(&name_key(&e.name), NAME_LEN)),
            fans: Set(e.fans),
            albums: Set(e.albums),
            picture_url: Set(fit_url(e.picture_url.as_deref())),
            spotify_id: Set(e.spotify_id.clone()),
            mapping: Set(e.mapping.as_str().to_owned()),
            checked_at: Set(e.checked_at),
            attempts: Set(e.attempts),
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    use deezer_artists::Column as C;
    deezer_artists::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(C::DeezerId)
                .update_columns([
                    C::Name,
                    C::NameKey,
                    C::Fans,
                    C::Albums,
                    C::PictureUrl,
                    C::SpotifyId,
                    C::Mapping,
                    C::CheckedAt,
                    C::Attempts,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .map_err(StoreError::query("caching Deezer artists"))?;
    Ok(())
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
}
