//! Catalog reads and writes outside the per-artist refresh: the planner's view of every
//! artist, lookups by id, by Deezer id and by folded name, new artists, profiles,
//! Deezer mappings and aliases.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use entity::{artist_aliases, artist_requests, artists, related_artists};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};

use super::{IN_CHUNK, Store, StoreError};
use crate::catalog::{
    AddedVia, ArtistState, DeezerMapping, Demand, NewArtist, Source, SpotifyLink, is_deezer_born,
};
use crate::names::name_key;

/// New artists per multi-row INSERT: 22 columns each, far below both backends' limits.
const NEW_ARTISTS_PER_INSERT: usize = 400;

/// Column widths (characters) of the schema; longer text is cut, longer URLs dropped.
pub(crate) const NAME_LEN: usize = 512;
pub(crate) const URL_LEN: usize = 1024;

/// Cuts `text` to `max` characters, on a character boundary.
pub(crate) fn fit(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text.to_owned(),
    }
}

/// A URL that fits its column, or nothing: a cut URL would point somewhere else.
pub(crate) fn fit_url(url: Option<&str>) -> Option<String> {
    url.filter(|u| !u.is_empty() && u.chars().count() <= URL_LEN)
        .map(str::to_owned)
}

/// A short description of a catalog artist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtistSummary {
    pub id: String,
    pub name: String,
    pub deezer_id: Option<i64>,
    pub deezer_fans: Option<i64>,
}

impl From<artists::Model> for ArtistSummary {
    fn from(m: artists::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            deezer_id: m.deezer_id,
            deezer_fans: m.deezer_fans,
        }
    }
}

impl Store {
    /// Every catalog artist with its freshness: the planner sorts these itself (a few
    /// thousand small rows; one query plus one for the related counts).
    pub async fn artist_states(&self) -> Result<Vec<ArtistState>, StoreError> {
        let related_counts: HashMap<String, i64> = related_artists::Entity::find()
            .select_only()
            .column(related_artists::Column::ArtistId)
            .column_as(related_artists::Column::RelatedId.count(), "n")
            .group_by(related_artists::Column::ArtistId)
            .into_tuple::<(String, i64)>()
            .all(self.db())
            .await
            .map_err(StoreError::query("counting related artists"))?
            .into_iter()
            .collect();
        // Artists users asked for (a request resolved to them) come first in a run.
        let asked: HashSet<String> = artist_requests::Entity::find()
            .select_only()
            .column(artist_requests::Column::ArtistId)
            .filter(artist_requests::Column::ArtistId.is_not_null())
            .distinct()
            .into_tuple::<Option<String>>()
            .all(self.db())
            .await
            .map_err(StoreError::query("reading which artists users asked for"))?
            .into_iter()
            .flatten()
            .collect();
        let rows = artists::Entity::find()
            .order_by_asc(artists::Column::Id)
            .all(self.db())
            .await
            .map_err(StoreError::query("reading the catalog"))?;
        Ok(rows
            .into_iter()
            .map(|m| ArtistState {
                related_count: related_counts.get(&m.id).copied().unwrap_or(0) as usize,
                demand: Demand::of(
                    AddedVia::parse(&m.added_via).unwrap_or(AddedVia::Related),
                    asked.contains(&m.id),
                ),
                spotify_link: m.spotify_link.as_deref().and_then(SpotifyLink::parse),
                spotify_checked_at: m.spotify_checked_at,
                deezer_mapping: m.deezer_mapping.as_deref().and_then(DeezerMapping::parse),
                id: m.id,
                name: m.name,
                name_key: m.name_key,
                deezer_id: m.deezer_id,
                deezer_checked_at: m.deezer_checked_at,
                deezer_fans: m.deezer_fans,
                image_url: m.image_url,
                profile_refreshed_at: m.profile_refreshed_at,
                tracks_refreshed_at: m.tracks_refreshed_at,
                related_refreshed_at: m.related_refreshed_at,
            })
            .collect())
    }

    pub async fn artist_count(&self) -> Result<u64, StoreError> {
        artists::Entity::find()
            .count(self.db())
            .await
            .map_err(StoreError::query("counting artists"))
    }

    pub(crate) async fn artist(&self, id: &str) -> Result<Option<ArtistSummary>, StoreError> {
        Ok(artists::Entity::find_by_id(id.to_owned())
            .one(self.db())
            .await
            .map_err(StoreError::query("reading an artist"))?
            .map(ArtistSummary::from))
    }

    /// The catalog artists among `ids`, by id.
    pub(crate) async fn artist_summaries(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, ArtistSummary>, StoreError> {
        let mut found = HashMap::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let rows = artists::Entity::find()
                .filter(artists::Column::Id.is_in(chunk.iter().cloned()))
                .all(self.db())
                .await
                .map_err(StoreError::query("reading artists"))?;
            found.extend(
                rows.into_iter()
                    .map(|m| (m.id.clone(), ArtistSummary::from(m))),
            );
        }
        Ok(found)
    }

    /// The catalog artists holding these Deezer ids, by Deezer id.
    pub(crate) async fn artists_holding_deezer_ids(
        &self,
        deezer_ids: &[i64],
    ) -> Result<HashMap<i64, ArtistSummary>, StoreError> {
        let mut found = HashMap::new();
        for chunk in deezer_ids.chunks(IN_CHUNK) {
            let rows = artists::Entity::find()
                .filter(artists::Column::DeezerId.is_in(chunk.iter().copied()))
                .all(self.db())
                .await
                .map_err(StoreError::query("reading artists by Deezer id"))?;
            for row in rows {
                if let Some(deezer_id) = row.deezer_id {
                    found.insert(deezer_id, ArtistSummary::from(row));
                }
            }
        }
        Ok(found)
    }

    /// The catalog artist holding one Deezer id.
    pub(crate) async fn artist_holding_deezer_id(
        &self,
        deezer_id: i64,
    ) -> Result<Option<ArtistSummary>, StoreError> {
        Ok(self
            .artists_holding_deezer_ids(&[deezer_id])
            .await?
            .remove(&deezer_id))
    }

    /// For each folded name in `keys`, the artist it names: by its own name (among
    /// namesakes the most followed, then most fans), else by an alias. Two statements
    /// for the whole list.
    pub(crate) async fn artists_named_by_keys(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, ArtistSummary>, StoreError> {
        let mut found: HashMap<String, ArtistSummary> = HashMap::new();
        for chunk in keys.chunks(IN_CHUNK) {
            let rows = artists::Entity::find()
                .filter(artists::Column::NameKey.is_in(chunk.iter().cloned()))
                .order_by_desc(artists::Column::Followers)
                .order_by_desc(artists::Column::DeezerFans)
                .order_by_asc(artists::Column::Id)
                .all(self.db())
                .await
                .map_err(StoreError::query("looking up artists by name"))?;
            for row in rows {
                found
                    .entry(row.name_key.clone())
                    .or_insert_with(|| ArtistSummary::from(row));
            }
        }
        let missing: Vec<String> = keys
            .iter()
            .filter(|key| !found.contains_key(*key))
            .cloned()
            .collect();
        for chunk in missing.chunks(IN_CHUNK) {
            let aliases = artist_aliases::Entity::find()
                .filter(artist_aliases::Column::AliasKey.is_in(chunk.iter().cloned()))
                .find_also_related(artists::Entity)
                .all(self.db())
                .await
                .map_err(StoreError::query("looking up aliases"))?;
            for (alias, artist) in aliases {
                if let Some(artist) = artist {
                    found.insert(alias.alias_key, ArtistSummary::from(artist));
                }
            }
        }
        Ok(found)
    }

    /// Artists whose folded name, or one of whose aliases, is `key`; the most followed
    /// (then most fans) first.
    pub async fn artists_named(&self, key: &str) -> Result<Vec<ArtistSummary>, StoreError> {
        let mut found: Vec<ArtistSummary> = artists::Entity::find()
            .filter(artists::Column::NameKey.eq(key))
            .order_by_desc(artists::Column::Followers)
            .order_by_desc(artists::Column::DeezerFans)
            .order_by_asc(artists::Column::Id)
            .all(self.db())
            .await
            .map_err(StoreError::query("looking up an artist by name"))?
            .into_iter()
            .map(ArtistSummary::from)
            .collect();
        if found.is_empty()
            && let Some(alias) = artist_aliases::Entity::find_by_id(key.to_owned())
                .one(self.db())
                .await
                .map_err(StoreError::query("looking up an alias"))?
            && let Some(artist) = self.artist(&alias.artist_id).await?
        {
            found.push(artist);
        }
        Ok(found)
    }

    /// Which of `ids` are in the catalog.
    pub(crate) async fn existing_artist_ids(
        &self,
        ids: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let mut existing = HashSet::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let rows: Vec<String> = artists::Entity::find()
                .select_only()
                .column(artists::Column::Id)
                .filter(artists::Column::Id.is_in(chunk.iter().cloned()))
                .into_tuple()
                .all(self.db())
                .await
                .map_err(StoreError::query("checking artist ids"))?;
            existing.extend(rows);
        }
        Ok(existing)
    }

    /// Catalog artists holding these Deezer ids: Deezer id → Spotify id.
    pub(crate) async fn artists_by_deezer_ids(
        &self,
        ids: &[i64],
    ) -> Result<HashMap<i64, String>, StoreError> {
        artists_by_deezer_ids(self.db(), ids).await
    }

    /// Adds artists not yet in the catalog (existing ids are left alone). A Deezer id
    /// another artist already holds is not given again. Returns how many were added.
    pub async fn add_artists(
        &self,
        new: &[NewArtist],
        now: NaiveDateTime,
    ) -> Result<u64, StoreError> {
        let (taken, fresh) = self.prepare_new_artists(new).await?;
        // Many artists take several statements: all or none of them are added.
        let txn = self
            .db()
            .begin()
            .await
            .map_err(StoreError::query("adding artists"))?;
        let added = insert_new_artists(&txn, new, &taken, &fresh, now).await?;
        txn.commit()
            .await
            .map_err(StoreError::query("adding artists"))?;
        Ok(added)
    }

    /// Reads what inserting `new` depends on: Deezer ids other artists hold, and which
    /// ids are not in the catalog yet (affected-row counts cannot tell on MySQL).
    pub(crate) async fn prepare_new_artists(
        &self,
        new: &[NewArtist],
    ) -> Result<(HashSet<i64>, HashSet<String>), StoreError> {
        if new.is_empty() {
            return Ok((HashSet::new(), HashSet::new()));
        }
        let taken = self.taken_deezer_ids(new).await?;
        let ids: Vec<String> = new.iter().map(|a| a.profile.id.clone()).collect();
        let existing = self.existing_artist_ids(&ids).await?;
        let fresh = ids
            .into_iter()
            .filter(|id| !existing.contains(id))
            .collect();
        Ok((taken, fresh))
    }

    pub(crate) async fn taken_deezer_ids(
        &self,
        new: &[NewArtist],
    ) -> Result<HashSet<i64>, StoreError> {
        let wanted: Vec<i64> = new.iter().filter_map(|a| a.deezer_id).collect();
        if wanted.is_empty() {
            return Ok(HashSet::new());
        }
        Ok(self
            .artists_by_deezer_ids(&wanted)
            .await?
            .into_keys()
            .collect())
    }

    /// Records `alias` as another spelling of the artist. An alias already pointing at
    /// an artist keeps pointing there; returns whether this one was new.
    pub async fn add_alias(
        &self,
        alias: &str,
        artist_id: &str,
        source: &str,
        now: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        let key = fit(&name_key(alias), NAME_LEN);
        if key.is_empty() {
            return Ok(false);
        }
        // Affected-row counts differ between backends (MySQL reports a found duplicate as
        // affected), so whether the alias is new is read, not inferred from the insert.
        let existing = artist_aliases::Entity::find_by_id(key.clone())
            .one(self.db())
            .await
            .map_err(StoreError::query("looking up an alias"))?;
        if existing.is_some() {
            return Ok(false);
        }
        let row = artist_aliases::ActiveModel {
            alias_key: Set(key),
            artist_id: Set(artist_id.to_owned()),
            alias: Set(fit(alias.trim(), NAME_LEN)),
            source: Set(source.to_owned()),
            created_at: Set(now),
        };
        artist_aliases::Entity::insert(row)
            .on_conflict(
                OnConflict::column(artist_aliases::Column::AliasKey)
                    .do_nothing_on([artist_aliases::Column::AliasKey])
                    .to_owned(),
            )
            .exec_without_returning(self.db())
            .await
            .map_err(StoreError::query("adding an alias"))?;
        Ok(true)
    }
}

pub(crate) async fn artists_by_deezer_ids<C: ConnectionTrait>(
    conn: &C,
    ids: &[i64],
) -> Result<HashMap<i64, String>, StoreError> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let rows: Vec<(String, Option<i64>)> = artists::Entity::find()
            .select_only()
            .column(artists::Column::Id)
            .column(artists::Column::DeezerId)
            .filter(artists::Column::DeezerId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await
            .map_err(StoreError::query("looking up Deezer ids"))?;
        found.extend(
            rows.into_iter()
                .filter_map(|(id, dz)| dz.map(|dz| (dz, id))),
        );
    }
    Ok(found)
}

/// Inserts the artists of `new` whose id is in `fresh` (read beforehand with
/// [`Store::prepare_new_artists`]); `taken` Deezer ids are left off. Returns how many
/// rows it sent (a concurrent insert of the same id is ignored, not counted twice).
pub(crate) async fn insert_new_artists<C: ConnectionTrait>(
    conn: &C,
    new: &[NewArtist],
    taken: &HashSet<i64>,
    fresh: &HashSet<String>,
    now: NaiveDateTime,
) -> Result<u64, StoreError> {
    let mut seen_ids = HashSet::new();
    let mut seen_deezer = taken.clone();
    let rows: Vec<artists::ActiveModel> = new
        .iter()
        .filter(|a| fresh.contains(&a.profile.id) && seen_ids.insert(a.profile.id.clone()))
        .map(|a| {
            let deezer_id = a.deezer_id.filter(|dz| seen_deezer.insert(*dz));
            let p = &a.profile;
            artists::ActiveModel {
                id: Set(p.id.clone()),
                name: Set(fit(&p.name, NAME_LEN)),
                name_key: Set(fit(&name_key(&p.name), NAME_LEN)),
                followers: Set(p.followers),
                popularity: Set(p.popularity),
                url: Set(fit_url(p.url.as_deref())),
                image_url: Set(fit_url(p.image_url.as_deref())),
                genres: Set(genres_json(&p.genres)),
                source: Set(a.source.as_str().to_owned()),
                fetched_at: Set(Some(now)),
                deezer_id: Set(deezer_id),
                deezer_fans: Set(a.deezer_fans),
                // A Deezer-born artist's Deezer id is its identity; any other new artist
                // arrives with a Deezer id only when a recording proved it.
                deezer_mapping: Set(deezer_id.map(|_| {
                    let how = if is_deezer_born(&p.id) {
                        DeezerMapping::Origin
                    } else {
                        DeezerMapping::Isrc
                    };
                    how.as_str().to_owned()
                })),
                deezer_checked_at: Set(deezer_id.map(|_| now)),
                // An imported profile is old news: due at once, like the tracks.
                profile_refreshed_at: Set((a.source != Source::Import).then_some(now)),
                tracks_refreshed_at: Set(None),
                related_refreshed_at: Set(None),
                added_via: Set(a.added_via.as_str().to_owned()),
                created_at: Set(now),
                spotify_link: Set(None),
                spotify_checked_at: Set(None),
            }
        })
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    let count = rows.len() as u64;
    // One statement for all would pass SQLite's 32,766 bound variables at about 1,500
    // artists (an `add --file` of 2,000 ids did).
    let mut rows = rows;
    while !rows.is_empty() {
        let chunk: Vec<artists::ActiveModel> = rows
            .drain(..rows.len().min(NEW_ARTISTS_PER_INSERT))
            .collect();
        artists::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::column(artists::Column::Id)
                    .do_nothing_on([artists::Column::Id])
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await
            .map_err(StoreError::query("adding artists"))?;
    }
    Ok(count)
}

pub(crate) fn genres_json(genres: &[String]) -> Option<String> {
    if genres.is_empty() {
        None
    } else {
        serde_json::to_string(genres).ok()
    }
}
