//! Joining identities: a Deezer-born artist (`dz:<deezer id>`) whose Spotify id is
//! proven becomes that Spotify artist, whatever the catalog already holds.
//!
//! - The Spotify id is not in the catalog: the artist is re-keyed (a new row under the
//!   Spotify id takes over every column, its top tracks, related rows in both
//!   directions, aliases and requests, and the old row goes).
//! - The Spotify id is a catalog artist without a Deezer id (imported, or added by its
//!   Spotify id): the two rows are one artist met twice, and become one. The Deezer-born
//!   row's Deezer identity, rows pointing at it, aliases and requests move over; of the
//!   two artists' top tracks (and related lists) the fresher set is kept, live data over
//!   imported data.
//! - The Spotify id is a catalog artist with another Deezer id: two artists share a
//!   name; nothing changes ([`Joined::Held`]).
//!
//! Each join is one transaction, so a reader sees the artist before or after, never
//! half-moved. This module decides nothing about evidence: the sync proves the link
//! first.

use chrono::NaiveDateTime;
use entity::{artist_aliases, artist_requests, artists, related_artists, top_tracks};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect, TransactionTrait,
};

use super::artists::{NAME_LEN, fit, fit_url, genres_json};
use super::refresh::{is_lock_conflict, refresh_transaction_options};
use super::{Store, StoreError};
use crate::catalog::{AddedVia, ArtistProfile, DeezerMapping, Demand, SpotifyLink};
use crate::names::name_key;

/// What joining two identities did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Joined {
    /// The Deezer-born artist now lives under its Spotify id.
    ReKeyed,
    /// The Deezer-born artist was the same as a catalog artist already under the Spotify
    /// id; they are one artist now.
    Merged,
    /// Another catalog artist holds the Spotify id with another Deezer id: nothing
    /// changed.
    Held { by: String },
    /// The Deezer-born artist is no longer in the catalog (joined meanwhile).
    Gone,
}

impl Store {
    /// Links the Deezer-born artist `from` to the Spotify artist `profile` (proven by
    /// `how`): re-keyed to the Spotify id, or merged with the catalog artist under it.
    pub async fn link_spotify(
        &self,
        from: &str,
        profile: &ArtistProfile,
        how: SpotifyLink,
        now: NaiveDateTime,
    ) -> Result<Joined, StoreError> {
        retry_lock_conflicts(|| self.link_spotify_once(from, profile, how, now)).await
    }

    async fn link_spotify_once(
        &self,
        from: &str,
        profile: &ArtistProfile,
        how: SpotifyLink,
        now: NaiveDateTime,
    ) -> Result<Joined, StoreError> {
        let txn = self.begin_join().await?;
        let Some(source) = find(&txn, from).await? else {
            return Ok(Joined::Gone);
        };
        let joined = match find(&txn, &profile.id).await? {
            None => {
                re_key(&txn, source, profile, how, now).await?;
                Joined::ReKeyed
            }
            Some(target) if target.deezer_id.is_some() && target.deezer_id != source.deezer_id => {
                Joined::Held { by: target.id }
            }
            Some(target) => {
                merge(&txn, source, target, DeezerMapping::from_link(how), now).await?;
                Joined::Merged
            }
        };
        txn.commit()
            .await
            .map_err(StoreError::query("committing a Spotify link"))?;
        Ok(joined)
    }

    /// Merges the Deezer-born artist `from` into the catalog artist `into` (which has no
    /// Deezer id), proven the same artist by `evidence` while matching `into` on Deezer.
    pub(crate) async fn merge_deezer_born(
        &self,
        from: &str,
        into: &str,
        evidence: DeezerMapping,
        now: NaiveDateTime,
    ) -> Result<Joined, StoreError> {
        retry_lock_conflicts(|| self.merge_deezer_born_once(from, into, evidence, now)).await
    }

    async fn merge_deezer_born_once(
        &self,
        from: &str,
        into: &str,
        evidence: DeezerMapping,
        now: NaiveDateTime,
    ) -> Result<Joined, StoreError> {
        let txn = self.begin_join().await?;
        let (Some(source), Some(target)) = (find(&txn, from).await?, find(&txn, into).await?)
        else {
            return Ok(Joined::Gone);
        };
        if target.deezer_id.is_some() {
            return Ok(Joined::Held { by: target.id });
        }
        merge(&txn, source, target, evidence, now).await?;
        txn.commit()
            .await
            .map_err(StoreError::query("committing a merge"))?;
        Ok(Joined::Merged)
    }

    /// Records that a Deezer-born artist's Spotify id was sought and not linked, and why.
    pub(crate) async fn save_spotify_link(
        &self,
        id: &str,
        link: SpotifyLink,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        artists::Entity::update_many()
            .col_expr(artists::Column::SpotifyLink, Expr::val(link.as_str()))
            .col_expr(artists::Column::SpotifyCheckedAt, Expr::val(now))
            .filter(artists::Column::Id.eq(id))
            .exec(self.db())
            .await
            .map_err(StoreError::query("recording a Spotify link attempt"))?;
        Ok(())
    }

    /// A join's transaction: the same isolation as a refresh's (see
    /// [`refresh_transaction_options`]), since both rewrite an artist's rows.
    async fn begin_join(&self) -> Result<DatabaseTransaction, StoreError> {
        let options = refresh_transaction_options(self.backend());
        self.db()
            .begin_with_options(options)
            .await
            .map_err(StoreError::query("starting a join of identities"))
    }
}

/// Runs a join again after it lost a lock conflict (nothing of it was written).
async fn retry_lock_conflicts<F, Fut>(join: F) -> Result<Joined, StoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Joined, StoreError>>,
{
    let mut attempt = 1;
    loop {
        match join().await {
            Err(error) if attempt < JOIN_ATTEMPTS && is_lock_conflict(&error) => {
                let pause = 30 * attempt + fastrand::u64(0..30);
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Attempts at one join when it loses a lock conflict.
const JOIN_ATTEMPTS: u64 = 5;

async fn find<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<artists::Model>, StoreError> {
    artists::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await
        .map_err(StoreError::query("reading an artist to join"))
}

/// Moves `source` to a new row under the Spotify id of `profile`.
async fn re_key<C: ConnectionTrait>(
    conn: &C,
    source: artists::Model,
    profile: &ArtistProfile,
    how: SpotifyLink,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let (from, to) = (source.id.clone(), profile.id.clone());
    // The Deezer id is unique: the old row lets go of it before the new one takes it.
    free_deezer_id(conn, &from).await?;
    let image = fit_url(profile.image_url.as_deref()).or(source.image_url.clone());
    let row = artists::Model {
        id: to.clone(),
        name: fit(&profile.name, NAME_LEN),
        name_key: fit(&name_key(&profile.name), NAME_LEN),
        followers: profile.followers,
        popularity: profile.popularity,
        url: fit_url(profile.url.as_deref()),
        image_url: image,
        genres: genres_json(&profile.genres),
        source: crate::catalog::Source::Spotify.as_str().to_owned(),
        fetched_at: Some(now),
        profile_refreshed_at: Some(now),
        spotify_link: Some(how.as_str().to_owned()),
        spotify_checked_at: Some(now),
        ..source
    };
    artists::Entity::insert(row.into_active_model().reset_all())
        .exec_without_returning(conn)
        .await
        .map_err(StoreError::query("adding a re-keyed artist"))?;
    move_tracks(conn, &from, &to).await?;
    move_outgoing_related(conn, &from, &to).await?;
    move_incoming_related(conn, &from, &to).await?;
    move_aliases_and_requests(conn, &from, &to).await?;
    delete_artist(conn, &from).await
}

/// Makes `source` (Deezer-born) and `target` (under its Spotify id, no Deezer id) one
/// artist under the target's id.
async fn merge<C: ConnectionTrait>(
    conn: &C,
    source: artists::Model,
    target: artists::Model,
    evidence: DeezerMapping,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let (from, to) = (source.id.clone(), target.id.clone());
    free_deezer_id(conn, &from).await?;
    let keep_source_tracks = fresher(&source.tracks_refreshed_at, &target.tracks_refreshed_at);
    let keep_source_related = fresher(&source.related_refreshed_at, &target.related_refreshed_at);
    let via_rank = |via: &str| Demand::of(AddedVia::parse(via).unwrap_or(AddedVia::Related), false);
    let added_via = if via_rank(&source.added_via) < via_rank(&target.added_via) {
        source.added_via.clone()
    } else {
        target.added_via.clone()
    };
    let mut merged = target.clone().into_active_model();
    merged.deezer_id = Set(source.deezer_id);
    merged.deezer_fans = Set(source.deezer_fans.or(target.deezer_fans));
    merged.deezer_mapping = Set(Some(evidence.as_str().to_owned()));
    merged.deezer_checked_at = Set(Some(now));
    merged.image_url = Set(target.image_url.clone().or(source.image_url.clone()));
    merged.added_via = Set(added_via);
    merged.created_at = Set(source.created_at.min(target.created_at));
    if keep_source_tracks {
        merged.tracks_refreshed_at = Set(source.tracks_refreshed_at);
    }
    if keep_source_related {
        merged.related_refreshed_at = Set(source.related_refreshed_at);
    }
    merged
        .update(conn)
        .await
        .map_err(StoreError::query("merging two rows of one artist"))?;

    if keep_source_tracks {
        delete_tracks(conn, &to).await?;
        move_tracks(conn, &from, &to).await?;
    } else {
        delete_tracks(conn, &from).await?;
    }
    // An edge between the two is an edge of the artist to itself: it goes.
    related_artists::Entity::delete_many()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(related_artists::Column::ArtistId.eq(&from))
                        .add(related_artists::Column::RelatedId.eq(&to)),
                )
                .add(
                    Condition::all()
                        .add(related_artists::Column::ArtistId.eq(&to))
                        .add(related_artists::Column::RelatedId.eq(&from)),
                ),
        )
        .exec(conn)
        .await
        .map_err(StoreError::query("dropping an artist's edge to itself"))?;
    if keep_source_related {
        related_artists::Entity::delete_many()
            .filter(related_artists::Column::ArtistId.eq(&to))
            .exec(conn)
            .await
            .map_err(StoreError::query(
                "replacing a merged artist's related rows",
            ))?;
        move_outgoing_related(conn, &from, &to).await?;
    }
    move_incoming_related(conn, &from, &to).await?;
    move_aliases_and_requests(conn, &from, &to).await?;
    delete_artist(conn, &from).await
}

/// Whether `source`'s rows are fresher than `target`'s (never-refreshed counts oldest).
fn fresher(source: &Option<NaiveDateTime>, target: &Option<NaiveDateTime>) -> bool {
    match (source, target) {
        (Some(s), Some(t)) => s > t,
        (Some(_), None) => true,
        _ => false,
    }
}

async fn free_deezer_id<C: ConnectionTrait>(conn: &C, id: &str) -> Result<(), StoreError> {
    artists::Entity::update_many()
        .col_expr(artists::Column::DeezerId, Expr::val(Option::<i64>::None))
        .filter(artists::Column::Id.eq(id))
        .exec(conn)
        .await
        .map_err(StoreError::query("freeing a Deezer id"))?;
    Ok(())
}

async fn delete_tracks<C: ConnectionTrait>(conn: &C, artist: &str) -> Result<(), StoreError> {
    top_tracks::Entity::delete_many()
        .filter(top_tracks::Column::ArtistId.eq(artist))
        .exec(conn)
        .await
        .map_err(StoreError::query("dropping the older of two track lists"))?;
    Ok(())
}

/// Sets `column` of `E`'s rows from `from` to `to`: one artist reference moved.
async fn repoint<E: EntityTrait, C: ConnectionTrait>(
    conn: &C,
    column: E::Column,
    from: &str,
    to: &str,
    doing: &'static str,
) -> Result<(), StoreError> {
    E::update_many()
        .col_expr(column, Expr::val(to))
        .filter(column.eq(from))
        .exec(conn)
        .await
        .map_err(StoreError::query(doing))?;
    Ok(())
}

async fn move_tracks<C: ConnectionTrait>(conn: &C, from: &str, to: &str) -> Result<(), StoreError> {
    let doing = "moving top tracks to the joined artist";
    repoint::<top_tracks::Entity, _>(conn, top_tracks::Column::ArtistId, from, to, doing).await
}

async fn move_outgoing_related<C: ConnectionTrait>(
    conn: &C,
    from: &str,
    to: &str,
) -> Result<(), StoreError> {
    let doing = "moving related rows to the joined artist";
    repoint::<related_artists::Entity, _>(conn, related_artists::Column::ArtistId, from, to, doing)
        .await
}

/// Points every edge at `from` to `to`; an artist already related to `to` keeps that
/// edge (and its rank) and loses the one to `from`.
async fn move_incoming_related<C: ConnectionTrait>(
    conn: &C,
    from: &str,
    to: &str,
) -> Result<(), StoreError> {
    let already: Vec<String> = related_artists::Entity::find()
        .select_only()
        .column(related_artists::Column::ArtistId)
        .filter(related_artists::Column::RelatedId.eq(to))
        .into_tuple()
        .all(conn)
        .await
        .map_err(StoreError::query("reading edges to the joined artist"))?;
    if !already.is_empty() {
        related_artists::Entity::delete_many()
            .filter(related_artists::Column::RelatedId.eq(from))
            .filter(related_artists::Column::ArtistId.is_in(already))
            .exec(conn)
            .await
            .map_err(StoreError::query("dropping doubled edges"))?;
    }
    let doing = "moving edges to the joined artist";
    repoint::<related_artists::Entity, _>(conn, related_artists::Column::RelatedId, from, to, doing)
        .await
}

async fn move_aliases_and_requests<C: ConnectionTrait>(
    conn: &C,
    from: &str,
    to: &str,
) -> Result<(), StoreError> {
    let doing = "moving aliases to the joined artist";
    repoint::<artist_aliases::Entity, _>(conn, artist_aliases::Column::ArtistId, from, to, doing)
        .await?;
    use artist_requests::Column as R;
    for column in [R::ArtistId, R::CandidateArtistId, R::TappedArtistId] {
        let doing = "pointing requests at the joined artist";
        repoint::<artist_requests::Entity, _>(conn, column, from, to, doing).await?;
    }
    Ok(())
}

async fn delete_artist<C: ConnectionTrait>(conn: &C, id: &str) -> Result<(), StoreError> {
    artists::Entity::delete_by_id(id.to_owned())
        .exec(conn)
        .await
        .map_err(StoreError::query("removing the joined artist's old row"))?;
    Ok(())
}
