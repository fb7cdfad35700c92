//! Artists' ranked child rows (top tracks, related artists), written by one generic code
//! path whatever the table: a list becomes rows (distinct ids in list order, the rank being
//! the position), and replacing an artist's list deletes the stored rows no longer in it
//! and upserts the rest, a few hundred rows per statement.
//!
//! Owns that shape and [`RankedTable`], which tells it each table's columns. The import's
//! read-decide-write of whole batches (`import`) and the sync's batch writer
//! (`refresh`, which replaces many artists' lists at once with [`delete_lists_of`]) go
//! through it. Must not touch: whether a list should be written at all (the caller's
//! rules).

use chrono::NaiveDateTime;
use entity::{artists, related_artists, top_tracks};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::artists::{NAME_LEN, fit, fit_url};
use super::{IN_CHUNK, StoreError};
use crate::catalog::{Source, TopTrack};

/// A stored or new row of table `T`.
pub(crate) type Row<T> = <<T as RankedTable>::Entity as EntityTrait>::Model;
type Column<T> = <<T as RankedTable>::Entity as EntityTrait>::Column;

/// A table of rows ranked per artist, as the generic writer needs to know it.
pub(crate) trait RankedTable {
    type Entity: EntityTrait<ActiveModel: From<Row<Self>> + Send>;
    /// What a list holds: a track, a related artist's id.
    type Item;
    /// The owning artist, the row's own id, and what an upsert of an existing row updates.
    const ARTIST: Column<Self>;
    const ID: Column<Self>;
    const UPDATED: &'static [Column<Self>];
    /// When the sync last refreshed an artist's list of this table.
    const REFRESHED_AT: artists::Column;
    /// What the rows are, for error messages: reading them, writing them.
    const DOING: [&'static str; 2];

    fn item_id(item: &Self::Item) -> &str;
    /// Whether `id` can be in `artist_id`'s list at all.
    fn accepts(artist_id: &str, id: &str) -> bool;
    /// A row's artist and own id.
    fn key(row: &Row<Self>) -> (&str, &str);
    /// Where a row came from (`Source`) and when it was fetched.
    fn provenance(row: &Row<Self>) -> (&str, NaiveDateTime);
    /// The row `item` becomes at `rank`; `stored` (the row as stored, when read) fills in
    /// what the item does not know, so an absent value never erases a known one.
    fn row(
        artist_id: &str,
        rank: i32,
        item: &Self::Item,
        made: Made,
        stored: Option<&Row<Self>>,
    ) -> Row<Self>;
    /// Whether `row` would store what `stored` holds (the fetch time aside).
    fn same_content(row: &Row<Self>, stored: &Row<Self>) -> bool;
}

/// Where new rows come from and when they were fetched.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Made {
    pub(crate) source: Source,
    pub(crate) fetched_at: NaiveDateTime,
}

/// `artist_id`'s list as rows, best first, and how many items it skipped (repeated ids,
/// ids [`RankedTable::accepts`] refuses).
pub(crate) fn ranked_rows<'s, T: RankedTable>(
    artist_id: &str,
    items: &[T::Item],
    made: Made,
    stored: impl Fn(&str) -> Option<&'s Row<T>>,
) -> (Vec<Row<T>>, u64)
where
    Row<T>: 's,
{
    let mut ids = Vec::with_capacity(items.len());
    let mut rows = Vec::with_capacity(items.len());
    for item in items {
        let id = T::item_id(item);
        if T::accepts(artist_id, id) && !ids.contains(&id) {
            ids.push(id);
            // A list holds at most a few hundred rows.
            let rank = i32::try_from(ids.len()).unwrap_or(i32::MAX);
            rows.push(T::row(artist_id, rank, item, made, stored(id)));
        }
    }
    let skipped = (items.len() - rows.len()) as u64;
    (rows, skipped)
}

/// Deletes `artist_id`'s rows whose id is not in `kept`.
pub(crate) async fn delete_unlisted<T: RankedTable, C: ConnectionTrait>(
    conn: &C,
    artist_id: &str,
    kept: Vec<String>,
) -> Result<(), StoreError> {
    T::Entity::delete_many()
        .filter(T::ARTIST.eq(artist_id))
        .filter(T::ID.is_not_in(kept))
        .exec(conn)
        .await
        .map_err(StoreError::query(T::DOING[1]))?;
    Ok(())
}

/// Deletes every row of the artists in `owners` (their lists are written anew).
pub(crate) async fn delete_lists_of<T: RankedTable, C: ConnectionTrait>(
    conn: &C,
    owners: &[String],
) -> Result<(), StoreError> {
    for chunk in owners.chunks(IN_CHUNK) {
        T::Entity::delete_many()
            .filter(T::ARTIST.is_in(chunk.iter().cloned()))
            .exec(conn)
            .await
            .map_err(StoreError::query(T::DOING[1]))?;
    }
    Ok(())
}

/// Rows per multi-row upsert: large enough to make round trips rare, small enough to stay
/// far below both backends' statement and parameter limits.
pub(crate) const UPSERT_CHUNK_ROWS: usize = 400;

/// Splits `rows` into owned chunks of at most `size` (multi-row statements take owned rows).
pub(crate) fn chunks_of<T>(rows: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut chunks = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        chunks.push(rows.by_ref().take(size).collect());
    }
    chunks
}

/// Upserts rows keyed by (artist, id), a few hundred per statement.
pub(crate) async fn upsert_rows<T: RankedTable, C: ConnectionTrait>(
    conn: &C,
    rows: Vec<Row<T>>,
) -> Result<(), StoreError> {
    for chunk in chunks_of(rows, UPSERT_CHUNK_ROWS) {
        let rows = chunk
            .into_iter()
            .map(|row| <T::Entity as EntityTrait>::ActiveModel::from(row).reset_all());
        T::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([T::ARTIST, T::ID])
                    .update_columns(T::UPDATED.iter().copied())
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await
            .map_err(StoreError::query(T::DOING[1]))?;
    }
    Ok(())
}

/// `top_tracks`, listed as [`TopTrack`]s.
pub(crate) struct TopTracks;

impl RankedTable for TopTracks {
    type Entity = top_tracks::Entity;
    type Item = TopTrack;
    const ARTIST: top_tracks::Column = top_tracks::Column::ArtistId;
    const ID: top_tracks::Column = top_tracks::Column::Id;
    const UPDATED: &'static [top_tracks::Column] = {
        use top_tracks::Column as C;
        &[
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
        ]
    };
    const REFRESHED_AT: artists::Column = artists::Column::TracksRefreshedAt;
    const DOING: [&'static str; 2] = ["reading top tracks", "writing top tracks"];

    fn item_id(track: &TopTrack) -> &str {
        &track.id
    }

    fn accepts(_: &str, id: &str) -> bool {
        !id.is_empty() && id.len() <= 64
    }

    fn key(row: &top_tracks::Model) -> (&str, &str) {
        (&row.artist_id, &row.id)
    }

    fn provenance(row: &top_tracks::Model) -> (&str, NaiveDateTime) {
        (&row.source, row.fetched_at)
    }

    fn row(
        artist_id: &str,
        rank: i32,
        track: &TopTrack,
        made: Made,
        stored: Option<&top_tracks::Model>,
    ) -> top_tracks::Model {
        let stored_text =
            |text: fn(&top_tracks::Model) -> &Option<String>| stored.and_then(|s| text(s).clone());
        top_tracks::Model {
            artist_id: artist_id.to_owned(),
            id: track.id.clone(),
            rank,
            name: fit(&track.name, NAME_LEN),
            popularity: track.popularity.or(stored.and_then(|s| s.popularity)),
            album_name: (track.album_name.as_deref().map(|a| fit(a, NAME_LEN)))
                .or_else(|| stored_text(|s| &s.album_name)),
            image_url: fit_url(track.image_url.as_deref())
                .or_else(|| stored_text(|s| &s.image_url)),
            isrc: (track.isrc.clone().filter(|i| i.len() <= 16))
                .or_else(|| stored_text(|s| &s.isrc)),
            url: fit_url(track.url.as_deref()).or_else(|| stored_text(|s| &s.url)),
            deezer_rank: track.deezer_rank.or(stored.and_then(|s| s.deezer_rank)),
            duration_ms: track.duration_ms.or(stored.and_then(|s| s.duration_ms)),
            source: made.source.as_str().to_owned(),
            fetched_at: made.fetched_at,
        }
    }

    fn same_content(row: &top_tracks::Model, stored: &top_tracks::Model) -> bool {
        let fetched_at = stored.fetched_at;
        *stored
            == top_tracks::Model {
                fetched_at,
                ..row.clone()
            }
    }
}

/// `related_artists`, listed as the related artists' ids.
pub(crate) struct RelatedArtists;

impl RankedTable for RelatedArtists {
    type Entity = related_artists::Entity;
    type Item = String;
    const ARTIST: related_artists::Column = related_artists::Column::ArtistId;
    const ID: related_artists::Column = related_artists::Column::RelatedId;
    const UPDATED: &'static [related_artists::Column] = {
        use related_artists::Column as C;
        &[C::RankRel, C::Source, C::FetchedAt]
    };
    const REFRESHED_AT: artists::Column = artists::Column::RelatedRefreshedAt;
    const DOING: [&'static str; 2] = ["reading related artists", "writing related artists"];

    fn item_id(related_id: &String) -> &str {
        related_id
    }

    fn accepts(artist_id: &str, id: &str) -> bool {
        id != artist_id
    }

    fn key(row: &related_artists::Model) -> (&str, &str) {
        (&row.artist_id, &row.related_id)
    }

    fn provenance(row: &related_artists::Model) -> (&str, NaiveDateTime) {
        (&row.source, row.fetched_at)
    }

    fn row(
        artist_id: &str,
        rank: i32,
        related_id: &String,
        made: Made,
        _: Option<&related_artists::Model>,
    ) -> related_artists::Model {
        related_artists::Model {
            artist_id: artist_id.to_owned(),
            related_id: related_id.clone(),
            rank_rel: rank,
            source: made.source.as_str().to_owned(),
            fetched_at: made.fetched_at,
        }
    }

    fn same_content(row: &related_artists::Model, stored: &related_artists::Model) -> bool {
        (row.rank_rel, &row.source) == (stored.rank_rel, &stored.source)
    }
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
