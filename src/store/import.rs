//! Writing imported DynamoDB data (the old bot's artists, top tracks and related artists)
//! in batches.
//!
//! Owns the import's rules at the row level. Each batch's existing rows are read first
//! (one `SELECT ... IN` per table), and that reading decides what is inserted, updated,
//! unchanged, or kept because the catalog holds newer data: never the affected-row counts,
//! which MySQL reports differently (a found duplicate counts as affected). Each batch is then
//! written in one transaction with multi-row upserts.
//!
//! The rules:
//! - Data fetched later wins. An artist whose profile the sync refreshed at or after the
//!   export was fetched (or that an import of a newer export wrote) keeps its profile; an
//!   artist's top tracks and related artists are kept the same way, as whole lists, when
//!   the sync refreshed them at or after that time or stored rows were fetched later.
//! - An absent value never erases a known one: an export without followers, popularity,
//!   urls or genres keeps what the catalog has; so do a track's ISRC, url, Deezer rank and
//!   duration, which exports never carry.
//! - New artists join with `source = import`, `added_via = import` and NULL
//!   `*_refreshed_at`, so the next sync refreshes them first. Existing artists' freshness
//!   columns, Deezer identity and creation time are never touched.
//! - Identical content is not written at all, whatever the files' times: importing the
//!   same files again changes nothing.
//!
//! Reads happen before each batch's transaction, as in `refresh`: on SQLite a transaction
//! that reads and then writes fails outright when another writer got in between. So a sync
//! running at the same moment could refresh an artist between a batch's read and its
//! write; run the import while no sync runs.
//!
//! Top tracks and related artists share one read-decide-write ([`Store::import_lists`]),
//! generic over the table through [`RankedTable`].
//!
//! Must not touch: files, parsing, ranking (lists arrive best first), providers.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use entity::artists;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};

use super::artists::{NAME_LEN, fit, fit_url, genres_json};
use super::ranked::{Made, RankedTable, Row, delete_unlisted, ranked_rows, upsert_rows};
use super::{IN_CHUNK, Store, StoreError};
use crate::catalog::{AddedVia, ArtistProfile, Source};
use crate::names::name_key;

/// Rows per multi-row statement: a few hundred keeps each statement well inside both
/// backends' parameter limits (artists have 19 columns) and each transaction short.
pub(crate) const IMPORT_BATCH_ROWS: usize = 400;

/// An artist as an export describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ImportedArtist {
    pub(crate) profile: ArtistProfile,
    /// When the export's data was fetched from Spotify.
    pub(crate) fetched_at: NaiveDateTime,
}

/// One artist's imported list of a ranked table (top tracks, related artists' ids), best
/// first: an item's rank is its position. Related artists must be catalog artists by the
/// time the list is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ImportedList<T> {
    pub(crate) artist_id: String,
    /// When the oldest of these rows was fetched (the list is as old as its oldest part).
    pub(crate) fetched_at: NaiveDateTime,
    pub(crate) items: Vec<T>,
}

/// Whether an import writes, or only reads and reports what it would write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ImportMode {
    Write,
    /// Every read and decision of a real import, no write.
    DryRun,
}

/// What happened (or, in a dry run, would happen) to the rows of a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ImportWrites {
    /// Rows that were not in the catalog.
    pub(crate) inserted: u64,
    /// Rows whose content changed.
    pub(crate) updated: u64,
    /// Rows already stored exactly so (or repeated within the batch).
    pub(crate) unchanged: u64,
    /// Rows not written because the catalog holds data fetched later.
    pub(crate) kept_newer: u64,
    /// Stored rows no longer in an imported list, deleted (top tracks and related only).
    pub(crate) removed: u64,
}

impl ImportWrites {
    pub(crate) fn add(&mut self, other: ImportWrites) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.kept_newer += other.kept_newer;
        self.removed += other.removed;
    }
}

/// Whether stored data must be kept rather than replaced by data imported as fetched at
/// `imported_at`. Anything the sync engine stored (a row from a provider, or an artist
/// part it refreshed) is live data and always wins: an export's items carry no fetch
/// time, and the file date that stands in for it says when the export was taken, not how
/// old its data is (a scan taken today of years-old rows would otherwise look newer).
/// Between imports, the later one wins; an import of the same time is not newer: it is
/// what a re-import compares with.
fn stored_is_newer(
    refreshed_at: Option<NaiveDateTime>,
    source: &str,
    fetched_at: Option<NaiveDateTime>,
    imported_at: NaiveDateTime,
) -> bool {
    let stored_by_the_sync = refreshed_at.is_some() || source != Source::Import.as_str();
    stored_by_the_sync || fetched_at.is_some_and(|at| at > imported_at)
}

/// The profile columns an import writes, as they would be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ProfileColumns {
    name: String,
    name_key: String,
    followers: Option<i64>,
    popularity: Option<i32>,
    url: Option<String>,
    image_url: Option<String>,
    genres: Option<String>,
}

impl ProfileColumns {
    fn stored(row: &artists::Model) -> Self {
        Self {
            name: row.name.clone(),
            name_key: row.name_key.clone(),
            followers: row.followers,
            popularity: row.popularity,
            url: row.url.clone(),
            image_url: row.image_url.clone(),
            genres: row.genres.clone(),
        }
    }

    /// The imported profile, with stored values where the export has none.
    fn imported(profile: &ArtistProfile, stored: Option<&artists::Model>) -> Self {
        Self {
            name: fit(&profile.name, NAME_LEN),
            name_key: fit(&name_key(&profile.name), NAME_LEN),
            followers: profile.followers.or(stored.and_then(|s| s.followers)),
            popularity: profile.popularity.or(stored.and_then(|s| s.popularity)),
            url: fit_url(profile.url.as_deref()).or_else(|| stored.and_then(|s| s.url.clone())),
            image_url: fit_url(profile.image_url.as_deref())
                .or_else(|| stored.and_then(|s| s.image_url.clone())),
            genres: genres_json(&profile.genres).or_else(|| stored.and_then(|s| s.genres.clone())),
        }
    }

    /// A full row. `existing` supplies the columns an import never changes, for rows that
    /// are upserted as updates (their insert half is never used).
    fn into_row(
        self,
        id: &str,
        fetched_at: NaiveDateTime,
        existing: Option<&artists::Model>,
        now: NaiveDateTime,
    ) -> artists::ActiveModel {
        artists::ActiveModel {
            id: Set(id.to_owned()),
            name: Set(self.name),
            name_key: Set(self.name_key),
            followers: Set(self.followers),
            popularity: Set(self.popularity),
            url: Set(self.url),
            image_url: Set(self.image_url),
            genres: Set(self.genres),
            source: Set(Source::Import.as_str().to_owned()),
            fetched_at: Set(Some(fetched_at)),
            // NULL freshness: the next sync refreshes imported artists first.
            profile_refreshed_at: Set(None),
            tracks_refreshed_at: Set(None),
            related_refreshed_at: Set(None),
            added_via: Set(existing.map_or_else(
                || AddedVia::Import.as_str().to_owned(),
                |e| e.added_via.clone(),
            )),
            created_at: Set(existing.map_or(now, |e| e.created_at)),
            ..Default::default()
        }
    }
}

impl Store {
    /// Every catalog artist id (the import checks references against them; a catalog is a
    /// few thousand artists).
    pub(crate) async fn artist_ids(&self) -> Result<Vec<String>, StoreError> {
        artists::Entity::find()
            .select_only()
            .column(artists::Column::Id)
            .into_tuple()
            .all(self.db())
            .await
            .map_err(StoreError::query("reading artist ids"))
    }

    /// Imports artists (see the module rules). Ids should be unique; a repeated id is
    /// counted unchanged and not written again.
    pub(crate) async fn import_artists(
        &self,
        batch: &[ImportedArtist],
        now: NaiveDateTime,
        mode: ImportMode,
    ) -> Result<ImportWrites, StoreError> {
        let mut writes = ImportWrites::default();
        for chunk in batch.chunks(IMPORT_BATCH_ROWS) {
            writes.add(self.import_artist_chunk(chunk, now, mode).await?);
        }
        Ok(writes)
    }

    async fn import_artist_chunk(
        &self,
        chunk: &[ImportedArtist],
        now: NaiveDateTime,
        mode: ImportMode,
    ) -> Result<ImportWrites, StoreError> {
        let ids: Vec<&str> = chunk.iter().map(|a| a.profile.id.as_str()).collect();
        let stored: HashMap<String, artists::Model> = artists::Entity::find()
            .filter(artists::Column::Id.is_in(ids))
            .all(self.db())
            .await
            .map_err(StoreError::query("reading the artists of an import batch"))?
            .into_iter()
            .map(|row| (row.id.clone(), row))
            .collect();

        let mut writes = ImportWrites::default();
        let mut inserts = Vec::new();
        let mut updates = Vec::new();
        let mut seen = HashSet::new();
        for artist in chunk {
            let id = artist.profile.id.as_str();
            if !seen.insert(id) {
                writes.unchanged += 1;
                continue;
            }
            let existing = stored.get(id);
            match existing {
                None => {
                    writes.inserted += 1;
                    inserts.push(ProfileColumns::imported(&artist.profile, None).into_row(
                        id,
                        artist.fetched_at,
                        None,
                        now,
                    ));
                }
                Some(row)
                    if stored_is_newer(
                        row.profile_refreshed_at,
                        &row.source,
                        row.fetched_at,
                        artist.fetched_at,
                    ) =>
                {
                    writes.kept_newer += 1;
                }
                Some(row) => {
                    let imported = ProfileColumns::imported(&artist.profile, Some(row));
                    if imported == ProfileColumns::stored(row) {
                        writes.unchanged += 1;
                    } else {
                        writes.updated += 1;
                        updates.push(imported.into_row(id, artist.fetched_at, Some(row), now));
                    }
                }
            }
        }
        if mode == ImportMode::DryRun || (inserts.is_empty() && updates.is_empty()) {
            return Ok(writes);
        }

        let txn = self
            .db()
            .begin()
            .await
            .map_err(StoreError::query("starting an import transaction"))?;
        if !inserts.is_empty() {
            // A sync that added one of these artists meanwhile wins: do nothing on conflict.
            artists::Entity::insert_many(inserts)
                .on_conflict(
                    OnConflict::column(artists::Column::Id)
                        .do_nothing_on([artists::Column::Id])
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .map_err(StoreError::query("inserting imported artists"))?;
        }
        if !updates.is_empty() {
            use artists::Column as C;
            artists::Entity::insert_many(updates)
                .on_conflict(
                    OnConflict::column(C::Id)
                        .update_columns([
                            C::Name,
                            C::NameKey,
                            C::Followers,
                            C::Popularity,
                            C::Url,
                            C::ImageUrl,
                            C::Genres,
                            C::Source,
                            C::FetchedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .map_err(StoreError::query("updating imported artists"))?;
        }
        txn.commit()
            .await
            .map_err(StoreError::query("committing imported artists"))?;
        Ok(writes)
    }

    /// Imports lists of one ranked table, each replacing its artist's list unless the
    /// catalog's is newer (see the module rules). Every artist must be in the catalog (in
    /// a dry run, it may also be one the same import would add). An artist appears once
    /// per call.
    pub(crate) async fn import_lists<T: RankedTable>(
        &self,
        lists: &[ImportedList<T::Item>],
        mode: ImportMode,
    ) -> Result<ImportWrites, StoreError> {
        let mut writes = ImportWrites::default();
        for chunk in lists.chunks(IN_CHUNK) {
            writes.add(self.import_list_chunk::<T>(chunk, mode).await?);
        }
        Ok(writes)
    }

    async fn import_list_chunk<T: RankedTable>(
        &self,
        lists: &[ImportedList<T::Item>],
        mode: ImportMode,
    ) -> Result<ImportWrites, StoreError> {
        let ids: Vec<&str> = lists.iter().map(|l| l.artist_id.as_str()).collect();
        let refreshed = self.refreshed_at(&ids, T::REFRESHED_AT).await?;
        let mut stored: HashMap<String, Vec<Row<T>>> = HashMap::new();
        for row in T::Entity::find()
            .filter(T::ARTIST.is_in(ids))
            .all(self.db())
            .await
            .map_err(StoreError::query(T::DOING[0]))?
        {
            stored
                .entry(T::key(&row).0.to_owned())
                .or_default()
                .push(row);
        }

        let mut writes = ImportWrites::default();
        let mut upserts = Vec::new();
        let mut replaced: Vec<(&str, Vec<String>)> = Vec::new();
        for list in lists {
            let artist = list.artist_id.as_str();
            let stored = stored.get(artist).map_or(&[][..], Vec::as_slice);
            let newer = refreshed
                .get(artist)
                .is_some_and(|at| at.is_some_and(|at| at >= list.fetched_at))
                || stored.iter().any(|row| {
                    let (source, fetched_at) = T::provenance(row);
                    stored_is_newer(None, source, Some(fetched_at), list.fetched_at)
                });
            if newer {
                writes.kept_newer += list.items.len() as u64;
                continue;
            }
            let made = Made {
                source: Source::Import,
                fetched_at: list.fetched_at,
            };
            let stored_row = |id: &str| stored.iter().find(|row| T::key(row).1 == id);
            let (rows, repeated) = ranked_rows::<T>(artist, &list.items, made, stored_row);
            writes.unchanged += repeated;
            let listed = |row: &Row<T>| rows.iter().any(|new| T::key(new).1 == T::key(row).1);
            let gone = stored.iter().filter(|row| !listed(row)).count() as u64;
            if gone > 0 {
                writes.removed += gone;
                let kept = rows.iter().map(|row| T::key(row).1.to_owned()).collect();
                replaced.push((artist, kept));
            }
            for row in rows {
                match stored_row(T::key(&row).1) {
                    None => writes.inserted += 1,
                    Some(existing) if T::same_content(&row, existing) => {
                        writes.unchanged += 1;
                        continue;
                    }
                    Some(_) => writes.updated += 1,
                }
                upserts.push(row);
            }
        }
        if mode == ImportMode::DryRun || (upserts.is_empty() && replaced.is_empty()) {
            return Ok(writes);
        }

        let txn = self
            .db()
            .begin()
            .await
            .map_err(StoreError::query("starting an import transaction"))?;
        for (artist, kept) in replaced {
            delete_unlisted::<T, _>(&txn, artist, kept).await?;
        }
        upsert_rows::<T, _>(&txn, upserts).await?;
        txn.commit()
            .await
            .map_err(StoreError::query("committing an import batch"))?;
        Ok(writes)
    }

    /// One freshness column of these artists; artists not in the catalog are absent.
    async fn refreshed_at(
        &self,
        ids: &[&str],
        column: artists::Column,
    ) -> Result<HashMap<String, Option<NaiveDateTime>>, StoreError> {
        Ok(artists::Entity::find()
            .select_only()
            .column(artists::Column::Id)
            .column(column)
            .filter(artists::Column::Id.is_in(ids.iter().copied()))
            .into_tuple::<(String, Option<NaiveDateTime>)>()
            .all(self.db())
            .await
            .map_err(StoreError::query("reading artists' freshness"))?
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(day: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .expect("valid date")
    }

    #[test]
    fn whatever_the_sync_stored_is_newer_than_any_import() {
        assert!(stored_is_newer(
            Some(at(10)),
            "spotify",
            Some(at(10)),
            at(10)
        ));
        assert!(stored_is_newer(Some(at(11)), "import", Some(at(1)), at(10)));
        // Even when the export's file is dated after the sync's fetch.
        assert!(stored_is_newer(Some(at(9)), "spotify", Some(at(9)), at(10)));
        assert!(stored_is_newer(None, "deezer", Some(at(1)), at(10)));
    }

    #[test]
    fn an_import_of_the_same_time_is_not_newer_but_a_later_one_is() {
        assert!(!stored_is_newer(None, "import", Some(at(10)), at(10)));
        assert!(stored_is_newer(None, "import", Some(at(11)), at(10)));
        assert!(!stored_is_newer(None, "import", None, at(10)));
    }
}
