//! Counts for `artistbot status`.

use entity::{artist_aliases, artists, deezer_artists, related_artists, top_tracks};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};

use super::{Store, StoreError};

/// What the catalog holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CatalogCounts {
    pub(crate) artists: u64,
    pub(crate) artists_with_tracks: u64,
    pub(crate) artists_with_related: u64,
    pub(crate) artists_on_deezer: u64,
    pub(crate) artists_unmatched_on_deezer: u64,
    pub(crate) aliases: u64,
    /// (source, rows)
    pub(crate) top_tracks_by_source: Vec<(String, u64)>,
    pub(crate) related_by_source: Vec<(String, u64)>,
    pub(crate) deezer_artists_cached: u64,
}

impl Store {
    pub(crate) async fn catalog_counts(&self) -> Result<CatalogCounts, StoreError> {
        let db = self.db();
        let err = StoreError::query;
        Ok(CatalogCounts {
            artists: artists::Entity::find()
                .count(db)
                .await
                .map_err(err("counting artists"))?,
            artists_with_tracks: count_distinct(
                top_tracks::Entity::find()
                    .select_only()
                    .column_as(
                        Expr::col(top_tracks::Column::ArtistId).count_distinct(),
                        "n",
                    )
                    .into_tuple::<i64>()
                    .one(db)
                    .await
                    .map_err(err("counting artists with tracks"))?,
            ),
            artists_with_related: count_distinct(
                related_artists::Entity::find()
                    .select_only()
                    .column_as(
                        Expr::col(related_artists::Column::ArtistId).count_distinct(),
                        "n",
                    )
                    .into_tuple::<i64>()
                    .one(db)
                    .await
                    .map_err(err("counting artists with related artists"))?,
            ),
            artists_on_deezer: artists::Entity::find()
                .filter(artists::Column::DeezerId.is_not_null())
                .count(db)
                .await
                .map_err(err("counting Deezer mappings"))?,
            artists_unmatched_on_deezer: artists::Entity::find()
                .filter(artists::Column::DeezerId.is_null())
                .filter(artists::Column::DeezerMapping.is_in(["unmapped", "ambiguous"]))
                .count(db)
                .await
                .map_err(err("counting unmatched artists"))?,
            aliases: artist_aliases::Entity::find()
                .count(db)
                .await
                .map_err(err("counting aliases"))?,
            top_tracks_by_source: by_source(
                top_tracks::Entity::find()
                    .select_only()
                    .column(top_tracks::Column::Source)
                    .column_as(top_tracks::Column::Id.count(), "n")
                    .group_by(top_tracks::Column::Source)
                    .into_tuple()
                    .all(db)
                    .await
                    .map_err(err("counting top tracks"))?,
            ),
            related_by_source: by_source(
                related_artists::Entity::find()
                    .select_only()
                    .column(related_artists::Column::Source)
                    .column_as(related_artists::Column::RelatedId.count(), "n")
                    .group_by(related_artists::Column::Source)
                    .into_tuple()
                    .all(db)
                    .await
                    .map_err(err("counting related artists"))?,
            ),
            deezer_artists_cached: deezer_artists::Entity::find()
                .count(db)
                .await
                .map_err(err("counting cached Deezer artists"))?,
        })
    }
}

fn count_distinct(n: Option<i64>) -> u64 {
    Ord::max(n.unwrap_or(0), 0) as u64
}

fn by_source(mut rows: Vec<(String, i64)>) -> Vec<(String, u64)> {
    rows.sort();
    rows.into_iter()
        .map(|(s, n)| (s, Ord::max(n, 0) as u64))
        .collect()
}
