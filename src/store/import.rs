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
//! Must not touch: files, parsing, ranking (lists arrive best first), providers.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use entity::{artists, related_artists, top_tracks};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};

use super::artists::{NAME_LEN, fit, fit_url, genres_json};
use super::refresh::{upsert_related, upsert_top_tracks};
use super::{IN_CHUNK, Store, StoreError};
use crate::catalog::{AddedVia, ArtistProfile, Source, TopTrack};
use crate::names::name_key;

/// Rows per multi-row statement: a few hundred keeps each statement well inside both
/// backends' parameter limits (artists have 19 columns) and each transaction short.
pub const IMPORT_BATCH_ROWS: usize = 400;

/// An artist as an export describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedArtist {
    pub profile: ArtistProfile,
    /// When the export's data was fetched from Spotify.
    pub fetched_at: NaiveDateTime,
}

/// One artist's imported top tracks, best first: a track's rank is its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedTopTracks {
    pub artist_id: String,
    /// When the oldest of these tracks was fetched (the list is as old as its oldest part).
    pub fetched_at: NaiveDateTime,
    pub tracks: Vec<TopTrack>,
}

/// One artist's imported related artists, most related first; every id must be a
/// catalog artist by the time the list is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedRelated {
    pub artist_id: String,
    /// When the oldest of these rows was fetched.
    pub fetched_at: NaiveDateTime,
    pub related_ids: Vec<String>,
}

/// Whether an import writes, or only reads and reports what it would write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportMode {
    Write,
    /// Every read and decision of a real import, no write.
    DryRun,
}

/// What happened (or, in a dry run, would happen) to the rows of a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportWrites {
    /// Rows that were not in the catalog.
    pub inserted: u64,
    /// Rows whose content changed.
    pub updated: u64,
    /// Rows already stored exactly so (or repeated within the batch).
    pub unchanged: u64,
    /// Rows not written because the catalog holds data fetched later.
    pub kept_newer: u64,
    /// Stored rows no longer in an imported list, deleted (top tracks and related only).
    pub removed: u64,
}

impl ImportWrites {
    pub fn add(&mut self, other: ImportWrites) {
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

/// The top-track columns an import writes, as they would be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TrackColumns {
    rank: i32,
    name: String,
    popularity: Option<i32>,
    album_name: Option<String>,
    image_url: Option<String>,
    isrc: Option<String>,
    url: Option<String>,
    deezer_rank: Option<i64>,
    duration_ms: Option<i32>,
    source: String,
}

impl TrackColumns {
    fn stored(row: &top_tracks::Model) -> Self {
        Self {
            rank: row.rank,
            name: row.name.clone(),
            popularity: row.popularity,
            album_name: row.album_name.clone(),
            image_url: row.image_url.clone(),
            isrc: row.isrc.clone(),
            url: row.url.clone(),
            deezer_rank: row.deezer_rank,
            duration_ms: row.duration_ms,
            source: row.source.clone(),
        }
    }

    fn imported(rank: i32, track: &TopTrack, stored: Option<&top_tracks::Model>) -> Self {
        Self {
            rank,
            name: fit(&track.name, NAME_LEN),
            popularity: track.popularity.or(stored.and_then(|s| s.popularity)),
            album_name: track
                .album_name
                .as_deref()
                .map(|a| fit(a, NAME_LEN))
                .or_else(|| stored.and_then(|s| s.album_name.clone())),
            image_url: fit_url(track.image_url.as_deref())
                .or_else(|| stored.and_then(|s| s.image_url.clone())),
            isrc: track
                .isrc
                .clone()
                .filter(|i| i.len() <= 16)
                .or_else(|| stored.and_then(|s| s.isrc.clone())),
            url: fit_url(track.url.as_deref()).or_else(|| stored.and_then(|s| s.url.clone())),
            deezer_rank: track.deezer_rank.or(stored.and_then(|s| s.deezer_rank)),
            duration_ms: track.duration_ms.or(stored.and_then(|s| s.duration_ms)),
            source: Source::Import.as_str().to_owned(),
        }
    }

    fn into_row(
        self,
        artist_id: &str,
        track_id: &str,
        fetched_at: NaiveDateTime,
    ) -> top_tracks::ActiveModel {
        top_tracks::ActiveModel {
            artist_id: Set(artist_id.to_owned()),
            id: Set(track_id.to_owned()),
            rank: Set(self.rank),
            name: Set(self.name),
            popularity: Set(self.popularity),
            album_name: Set(self.album_name),
            image_url: Set(self.image_url),
            isrc: Set(self.isrc),
            url: Set(self.url),
            deezer_rank: Set(self.deezer_rank),
            duration_ms: Set(self.duration_ms),
            source: Set(self.source),
            fetched_at: Set(fetched_at),
        }
    }
}

impl Store {
    /// Every catalog artist id (the import checks references against them; a catalog is a
    /// few thousand artists).
    pub async fn artist_ids(&self) -> Result<Vec<String>, StoreError> {
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
    pub async fn import_artists(
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

    /// Imports top-track lists, each replacing its artist's list unless the catalog's is
    /// newer (see the module rules). Every artist must be in the catalog (in a dry run, it
    /// may also be one the same import would add). An artist appears once per call.
    pub async fn import_top_tracks(
        &self,
        lists: &[ImportedTopTracks],
        mode: ImportMode,
    ) -> Result<ImportWrites, StoreError> {
        let mut writes = ImportWrites::default();
        for chunk in lists.chunks(IN_CHUNK) {
            writes.add(self.import_track_chunk(chunk, mode).await?);
        }
        Ok(writes)
    }

    async fn import_track_chunk(
        &self,
        lists: &[ImportedTopTracks],
        mode: ImportMode,
    ) -> Result<ImportWrites, StoreError> {
        let ids: Vec<&str> = lists.iter().map(|l| l.artist_id.as_str()).collect();
        let refreshed = self
            .refreshed_at(&ids, artists::Column::TracksRefreshedAt)
            .await?;
        let mut stored: HashMap<String, HashMap<String, top_tracks::Model>> = HashMap::new();
        for row in top_tracks::Entity::find()
            .filter(top_tracks::Column::ArtistId.is_in(ids))
            .all(self.db())
            .await
            .map_err(StoreError::query(
                "reading the top tracks of an import batch",
            ))?
        {
            stored
                .entry(row.artist_id.clone())
                .or_default()
                .insert(row.id.clone(), row);
        }

        let mut writes = ImportWrites::default();
        let mut rows = Vec::new();
        let mut removals: Vec<(&str, Vec<String>)> = Vec::new();
        let empty = HashMap::new();
        for list in lists {
            let artist = list.artist_id.as_str();
            let stored = stored.get(artist).unwrap_or(&empty);
            let refreshed_at = refreshed.get(artist).copied().flatten();
            let newer = refreshed_at.is_some_and(|at| at >= list.fetched_at)
                || stored.values().any(|row| {
                    stored_is_newer(None, &row.source, Some(row.fetched_at), list.fetched_at)
                });
            if newer {
                writes.kept_newer += list.tracks.len() as u64;
                continue;
            }
            let mut listed = HashSet::new();
            for track in &list.tracks {
                if !listed.insert(track.id.as_str()) {
                    writes.unchanged += 1;
                    continue;
                }
                let rank = listed.len() as i32;
                let existing = stored.get(&track.id);
                let imported = TrackColumns::imported(rank, track, existing);
                match existing {
                    None => writes.inserted += 1,
                    Some(row) if TrackColumns::stored(row) == imported => {
                        writes.unchanged += 1;
                        continue;
                    }
                    Some(_) => writes.updated += 1,
                }
                rows.push(imported.into_row(artist, &track.id, list.fetched_at));
            }
            let gone: Vec<String> = stored
                .keys()
                .filter(|id| !listed.contains(id.as_str()))
                .cloned()
                .collect();
            if !gone.is_empty() {
                writes.removed += gone.len() as u64;
                removals.push((artist, gone));
            }
        }
        if mode == ImportMode::DryRun || (rows.is_empty() && removals.is_empty()) {
            return Ok(writes);
        }

        let txn = self
            .db()
            .begin()
            .await
            .map_err(StoreError::query("starting an import transaction"))?;
        for (artist, gone) in removals {
            top_tracks::Entity::delete_many()
                .filter(top_tracks::Column::ArtistId.eq(artist))
                .filter(top_tracks::Column::Id.is_in(gone))
                .exec(&txn)
                .await
                .map_err(StoreError::query("removing replaced top tracks"))?;
        }
        upsert_top_tracks(&txn, rows).await?;
        txn.commit()
            .await
            .map_err(StoreError::query("committing imported top tracks"))?;
        Ok(writes)
    }

    /// Imports related-artist lists, each replacing its artist's list unless the catalog's
    /// is newer (see the module rules). Both ends of every row must be catalog artists (in
    /// a dry run, they may also be ones the same import would add).
    pub async fn import_related(
        &self,
        lists: &[ImportedRelated],
        mode: ImportMode,
    ) -> Result<ImportWrites, StoreError> {
        let mut writes = ImportWrites::default();
        for chunk in lists.chunks(IN_CHUNK) {
            writes.add(self.import_related_chunk(chunk, mode).await?);
        }
        Ok(writes)
    }

    async fn import_related_chunk(
        &self,
        lists: &[ImportedRelated],
        mode: ImportMode,
    ) -> Result<ImportWrites, StoreError> {
        let ids: Vec<&str> = lists.iter().map(|l| l.artist_id.as_str()).collect();
        let refreshed = self
            .refreshed_at(&ids, artists::Column::RelatedRefreshedAt)
            .await?;
        let mut stored: HashMap<String, HashMap<String, related_artists::Model>> = HashMap::new();
        for row in related_artists::Entity::find()
            .filter(related_artists::Column::ArtistId.is_in(ids))
            .all(self.db())
            .await
            .map_err(StoreError::query(
                "reading the related artists of an import batch",
            ))?
        {
            stored
                .entry(row.artist_id.clone())
                .or_default()
                .insert(row.related_id.clone(), row);
        }

        let mut writes = ImportWrites::default();
        let mut rows = Vec::new();
        let mut removals: Vec<(&str, Vec<String>)> = Vec::new();
        let empty = HashMap::new();
        for list in lists {
            let artist = list.artist_id.as_str();
            let stored = stored.get(artist).unwrap_or(&empty);
            let refreshed_at = refreshed.get(artist).copied().flatten();
            let newer = refreshed_at.is_some_and(|at| at >= list.fetched_at)
                || stored.values().any(|row| {
                    stored_is_newer(None, &row.source, Some(row.fetched_at), list.fetched_at)
                });
            if newer {
                writes.kept_newer += list.related_ids.len() as u64;
                continue;
            }
            let mut listed = HashSet::new();
            for related_id in &list.related_ids {
                if related_id == artist || !listed.insert(related_id.as_str()) {
                    writes.unchanged += 1;
                    continue;
                }
                let rank = listed.len() as i32;
                match stored.get(related_id) {
                    None => writes.inserted += 1,
                    Some(row) if row.rank_rel == rank && row.source == Source::Import.as_str() => {
                        writes.unchanged += 1;
                        continue;
                    }
                    Some(_) => writes.updated += 1,
                }
                rows.push(related_artists::ActiveModel {
                    artist_id: Set(artist.to_owned()),
                    related_id: Set(related_id.clone()),
                    rank_rel: Set(rank),
                    source: Set(Source::Import.as_str().to_owned()),
                    fetched_at: Set(list.fetched_at),
                });
            }
            let gone: Vec<String> = stored
                .keys()
                .filter(|id| !listed.contains(id.as_str()))
                .cloned()
                .collect();
            if !gone.is_empty() {
                writes.removed += gone.len() as u64;
                removals.push((artist, gone));
            }
        }
        if mode == ImportMode::DryRun || (rows.is_empty() && removals.is_empty()) {
            return Ok(writes);
        }

        let txn = self
            .db()
            .begin()
            .await
            .map_err(StoreError::query("starting an import transaction"))?;
        for (artist, gone) in removals {
            related_artists::Entity::delete_many()
                .filter(related_artists::Column::ArtistId.eq(artist))
                .filter(related_artists::Column::RelatedId.is_in(gone))
                .exec(&txn)
                .await
                .map_err(StoreError::query("removing replaced related artists"))?;
        }
        upsert_related(&txn, rows).await?;
        txn.commit()
            .await
            .map_err(StoreError::query("committing imported related artists"))?;
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
