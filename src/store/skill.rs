//! The reads behind the Kakao skill endpoint: an artist by folded name (or alias) with
//! its top tracks and its related artists' top tracks, and the list of every name the
//! catalog answers to (for "did you mean" suggestions).
//!
//! Each reply costs one statement: [`Store::artist_lookup`] resolves the name (by name and
//! by alias) and reads the candidates' tracks, their related artists and those artists'
//! tracks in one `UNION ALL`; the candidate is picked in Rust. The types here are the
//! store's own: the skill maps them into its reply types, and this module knows nothing
//! of Kakao, nor of the shape of artist ids.
//!
//! Nothing here writes; the endpoint's one write is [`Store::record_request_from`].

use std::cmp::Reverse;

use entity::{artist_aliases, artist_requests, artists, related_artists, top_tracks};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Query, SelectStatement, UnionType};
use sea_orm::{DbBackend, FromQueryResult, StatementBuilder};

use super::artists::{NAME_LEN, fit};
use super::{Store, StoreError};

/// Top-track ranks read per artist. Ranks are list positions (1, 2, 3, ...), so this
/// leaves room for tracks without a usable name while bounding the rows read for an
/// artist with many stored tracks.
const TRACK_RANKS_SCANNED: i32 = 10;

/// A track as a reply shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TrackSummary {
    pub(crate) name: String,
    pub(crate) album_name: Option<String>,
    pub(crate) image_url: Option<String>,
}

/// An artist as a reply shows it, with its first top tracks in rank order. Facts that
/// are not known are `None` (or empty), never zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ArtistWithTracks {
    pub(crate) id: String,
    pub(crate) name: String,
    /// The artist's Spotify page.
    pub(crate) url: Option<String>,
    /// The artist's Deezer id, when matched (its page is linked when `url` is unknown).
    pub(crate) deezer_id: Option<i64>,
    pub(crate) image_url: Option<String>,
    pub(crate) followers: Option<i64>,
    pub(crate) deezer_fans: Option<i64>,
    pub(crate) genres: Vec<String>,
    pub(crate) tracks: Vec<TrackSummary>,
}

/// How a looked-up name led to the artist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameMatch {
    /// The artist's own name folds to the key.
    Name,
    /// A recorded alias (a Hangul spelling, an earlier request) folds to the key.
    Alias,
}

/// What the skill shows for a found artist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ArtistLookup {
    pub(crate) artist: ArtistWithTracks,
    pub(crate) matched_by: NameMatch,
    /// Related artists that have stored tracks, in related rank order.
    pub(crate) related: Vec<ArtistWithTracks>,
}

/// One name the catalog answers to: an artist's name or one of its aliases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CatalogName {
    /// The folded name or alias key.
    pub(crate) key: String,
    pub(crate) artist_id: String,
    /// The artist's display name (also for an alias: that is what a suggestion shows).
    pub(crate) artist_name: String,
    pub(crate) followers: Option<i64>,
    pub(crate) deezer_fans: Option<i64>,
}

/// How much of a found artist to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LookupShape {
    /// Top tracks per artist (the artist's and each related artist's).
    pub(crate) tracks_per_artist: usize,
    /// Related artists with tracks.
    pub(crate) related_artists: usize,
}

/// What a row of the lookup is: a candidate found by name or by alias, or a related
/// artist of a candidate found one way or the other.
const CANDIDATE_BY_NAME: i64 = 0;
const CANDIDATE_BY_ALIAS: i64 = 1;
const RELATED_OF_NAME: i64 = 2;
const RELATED_OF_ALIAS: i64 = 3;

/// The owning candidate's table in the related-artist branches (the related artist is
/// `artists` itself).
const OWNER: &str = "owner";

/// One artist row joined with one of its tracks (or none).
#[derive(Debug, FromQueryResult)]
struct ArtistTrackRow {
    /// One of `CANDIDATE_BY_NAME`, `CANDIDATE_BY_ALIAS`, `RELATED_OF_NAME`,
    /// `RELATED_OF_ALIAS`.
    kind: i64,
    /// Related artists: the related rank; candidates: 0.
    ordinal: i64,
    /// The candidate the row belongs to (a candidate's own id, or the id of the
    /// candidate a related artist is related to).
    owner_id: String,
    id: String,
    name: String,
    url: Option<String>,
    deezer_id: Option<i64>,
    image_url: Option<String>,
    followers: Option<i64>,
    deezer_fans: Option<i64>,
    genres: Option<String>,
    track_name: Option<String>,
    track_album: Option<String>,
    track_image: Option<String>,
    track_rank: Option<i32>,
}

#[derive(Debug, FromQueryResult)]
struct CatalogNameRow {
    key: String,
    id: String,
    name: String,
    followers: Option<i64>,
    deezer_fans: Option<i64>,
}

impl Store {
    /// The artist whose folded name is `key` (among namesakes the most followed, then
    /// the one with most Deezer fans), else the artist an alias `key` points at; with its
    /// top tracks and up to `shape.related_artists` related artists that have tracks.
    /// One statement; `None` when nothing answers to `key`.
    pub(crate) async fn artist_lookup(
        &self,
        key: &str,
        shape: LookupShape,
    ) -> Result<Option<ArtistLookup>, StoreError> {
        // Stored keys were cut to the column width; a long query is cut the same way.
        let key = fit(key, NAME_LEN);
        if key.is_empty() {
            return Ok(None);
        }
        let by_name_key =
            || Expr::col((artists::Entity, artists::Column::NameKey)).eq(key.as_str());
        let by_alias_key = || {
            Expr::col((artist_aliases::Entity, artist_aliases::Column::AliasKey)).eq(key.as_str())
        };
        let by_name = artist_with_tracks_query(CANDIDATE_BY_NAME)
            .and_where(by_name_key())
            .to_owned();
        let by_alias = artist_with_tracks_query(CANDIDATE_BY_ALIAS)
            .join(
                JoinType::InnerJoin,
                artist_aliases::Entity,
                Expr::col((artist_aliases::Entity, artist_aliases::Column::ArtistId))
                    .equals((artists::Entity, artists::Column::Id)),
            )
            .and_where(by_alias_key())
            .to_owned();
        // MySQL and MariaDB are told the join order: right after a bulk load (an import,
        // a first sync) their table statistics are off, and the optimizer then scanned
        // every artist or every track for a related-artist branch (3 ms instead of 0.5).
        // From the candidate, each step is an index lookup whatever the statistics say.
        let ordered_join = match self.backend() {
            DbBackend::MySql => JoinType::StraightJoin,
            _ => JoinType::InnerJoin,
        };
        let related_of_name = related_with_tracks_query(RELATED_OF_NAME, ordered_join, |query| {
            query
                .from_as(artists::Entity, Alias::new(OWNER))
                .join(
                    ordered_join,
                    related_artists::Entity,
                    Expr::col((related_artists::Entity, related_artists::Column::ArtistId))
                        .equals((Alias::new(OWNER), artists::Column::Id)),
                )
                .expr_as(
                    Expr::col((Alias::new(OWNER), artists::Column::Id)),
                    Alias::new("owner_id"),
                )
                .and_where(
                    Expr::col((Alias::new(OWNER), artists::Column::NameKey)).eq(key.as_str()),
                );
        });
        let related_of_alias = related_with_tracks_query(RELATED_OF_ALIAS, ordered_join, |query| {
            query
                .from(artist_aliases::Entity)
                .join(
                    ordered_join,
                    related_artists::Entity,
                    Expr::col((related_artists::Entity, related_artists::Column::ArtistId))
                        .equals((artist_aliases::Entity, artist_aliases::Column::ArtistId)),
                )
                .expr_as(
                    Expr::col((artist_aliases::Entity, artist_aliases::Column::ArtistId)),
                    Alias::new("owner_id"),
                )
                .and_where(by_alias_key());
        });
        let query = by_name
            .to_owned()
            .union(UnionType::All, by_alias)
            .union(UnionType::All, related_of_name)
            .union(UnionType::All, related_of_alias)
            .to_owned();
        let rows = self
            .rows::<ArtistTrackRow>(&query, "looking up an artist by name")
            .await?;
        let (candidates, mut related_rows): (Vec<ArtistTrackRow>, Vec<ArtistTrackRow>) = rows
            .into_iter()
            .partition(|row| row.kind == CANDIDATE_BY_NAME || row.kind == CANDIDATE_BY_ALIAS);
        let Some((matched_by, artist)) = pick_namesake(candidates, shape.tracks_per_artist) else {
            return Ok(None);
        };
        // The picked candidate's related artists, reached the way it was found (an artist
        // found by name and by alias would otherwise have each related artist twice).
        let related_kind = match matched_by {
            NameMatch::Name => RELATED_OF_NAME,
            NameMatch::Alias => RELATED_OF_ALIAS,
        };
        related_rows.retain(|row| row.kind == related_kind && row.owner_id == artist.id);
        // The union has no order: related rank, then id (a stable order for equal ranks).
        related_rows.sort_by(|a, b| (a.ordinal, &a.id).cmp(&(b.ordinal, &b.id)));
        let related = group_by_artist(related_rows, shape.tracks_per_artist)
            .into_iter()
            .map(|(_, artist)| artist)
            .filter(|artist| !artist.tracks.is_empty())
            .take(shape.related_artists)
            .collect();
        Ok(Some(ArtistLookup {
            artist,
            matched_by,
            related,
        }))
    }

    /// Every name and alias in the catalog with its artist, and every requested spelling
    /// the daemon found a likely (unproven) catalog artist for: one statement, a few
    /// thousand short rows, read now and then to suggest close names for a miss. A
    /// spelling's candidate is thus offered first when that spelling is asked again, and a
    /// tap on it by someone who asked is the evidence that makes it an alias.
    pub(crate) async fn catalog_names(&self) -> Result<Vec<CatalogName>, StoreError> {
        // Each branch: a folded key, and the artist it leads to.
        let keyed = |key: Expr| {
            Query::select()
                .expr_as(key, Alias::new("key"))
                .columns([
                    (artists::Entity, artists::Column::Id),
                    (artists::Entity, artists::Column::Name),
                    (artists::Entity, artists::Column::Followers),
                    (artists::Entity, artists::Column::DeezerFans),
                ])
                .to_owned()
        };
        let names = keyed(Expr::col((artists::Entity, artists::Column::NameKey)))
            .from(artists::Entity)
            .to_owned();
        let aliases = keyed(Expr::col((
            artist_aliases::Entity,
            artist_aliases::Column::AliasKey,
        )))
        .from(artist_aliases::Entity)
        .join(
            JoinType::InnerJoin,
            artists::Entity,
            Expr::col((artist_aliases::Entity, artist_aliases::Column::ArtistId))
                .equals((artists::Entity, artists::Column::Id)),
        )
        .to_owned();
        let candidates = keyed(Expr::col((
            artist_requests::Entity,
            artist_requests::Column::QueryKey,
        )))
        .from(artist_requests::Entity)
        .join(
            JoinType::InnerJoin,
            artists::Entity,
            Expr::col((
                artist_requests::Entity,
                artist_requests::Column::CandidateArtistId,
            ))
            .equals((artists::Entity, artists::Column::Id)),
        )
        // A request done is answered by its artist or alias; its candidate is history.
        .and_where(
            Expr::col((artist_requests::Entity, artist_requests::Column::Status))
                .ne(super::requests::RequestStatus::Done.as_str()),
        )
        .to_owned();
        let query = names
            .to_owned()
            .union(UnionType::All, aliases)
            .union(UnionType::All, candidates)
            .to_owned();
        Ok(self
            .rows::<CatalogNameRow>(&query, "reading the catalog's names")
            .await?
            .into_iter()
            .map(|row| CatalogName {
                key: row.key,
                artist_id: row.id,
                artist_name: row.name,
                followers: row.followers,
                deezer_fans: row.deezer_fans,
            })
            .collect())
    }

    async fn rows<T: FromQueryResult>(
        &self,
        query: &SelectStatement,
        doing: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        let statement = StatementBuilder::build(query, &self.backend());
        T::find_by_statement(statement)
            .all(self.db())
            .await
            .map_err(StoreError::query(doing))
    }
}

/// `SELECT kind, 0, artists.id AS owner_id, artist columns, track columns FROM artists
/// LEFT JOIN top_tracks`: the caller adds how the artist is found.
fn artist_with_tracks_query(kind: i64) -> SelectStatement {
    let mut query = Query::select();
    query
        .expr_as(Expr::val(kind), Alias::new("kind"))
        .expr_as(Expr::val(0_i64), Alias::new("ordinal"))
        .expr_as(
            Expr::col((artists::Entity, artists::Column::Id)),
            Alias::new("owner_id"),
        )
        .from(artists::Entity)
        .join(
            JoinType::LeftJoin,
            top_tracks::Entity,
            Expr::col((top_tracks::Entity, top_tracks::Column::ArtistId))
                .equals((artists::Entity, artists::Column::Id))
                .and(
                    Expr::col((top_tracks::Entity, top_tracks::Column::Rank))
                        .lte(TRACK_RANKS_SCANNED),
                ),
        );
    select_artist_and_track_columns(&mut query);
    query.to_owned()
}

/// `SELECT kind, rank_rel, owner_id, artist columns, track columns FROM <owners> JOIN
/// related_artists JOIN artists JOIN top_tracks`: related artists that have tracks, each
/// with its first tracks. `owners` adds the table the candidates come from (selecting
/// `owner_id` and filtering by the key) before the related artists are joined; `join` is
/// how each further table is joined (in the order written, on MySQL).
fn related_with_tracks_query(
    kind: i64,
    join: JoinType,
    owners: impl FnOnce(&mut SelectStatement),
) -> SelectStatement {
    let mut query = Query::select();
    query.expr_as(Expr::val(kind), Alias::new("kind")).expr_as(
        Expr::col((related_artists::Entity, related_artists::Column::RankRel)),
        Alias::new("ordinal"),
    );
    owners(&mut query);
    query
        .join(
            join,
            artists::Entity,
            Expr::col((artists::Entity, artists::Column::Id))
                .equals((related_artists::Entity, related_artists::Column::RelatedId)),
        )
        .join(
            join,
            top_tracks::Entity,
            Expr::col((top_tracks::Entity, top_tracks::Column::ArtistId))
                .equals((related_artists::Entity, related_artists::Column::RelatedId))
                .and(
                    Expr::col((top_tracks::Entity, top_tracks::Column::Rank))
                        .lte(TRACK_RANKS_SCANNED),
                ),
        );
    select_artist_and_track_columns(&mut query);
    query.to_owned()
}

fn select_artist_and_track_columns(query: &mut SelectStatement) {
    query
        .columns([
            (artists::Entity, artists::Column::Id),
            (artists::Entity, artists::Column::Name),
            (artists::Entity, artists::Column::Url),
            (artists::Entity, artists::Column::DeezerId),
            (artists::Entity, artists::Column::ImageUrl),
            (artists::Entity, artists::Column::Followers),
            (artists::Entity, artists::Column::DeezerFans),
            (artists::Entity, artists::Column::Genres),
        ])
        .expr_as(
            Expr::col((top_tracks::Entity, top_tracks::Column::Name)),
            Alias::new("track_name"),
        )
        .expr_as(
            Expr::col((top_tracks::Entity, top_tracks::Column::AlbumName)),
            Alias::new("track_album"),
        )
        .expr_as(
            Expr::col((top_tracks::Entity, top_tracks::Column::ImageUrl)),
            Alias::new("track_image"),
        )
        // The union cannot be ordered portably by the joined table's column, so the track
        // rank is selected too and the rows are put in order in Rust.
        .expr_as(
            Expr::col((top_tracks::Entity, top_tracks::Column::Rank)),
            Alias::new("track_rank"),
        );
}

/// Picks the artist among the candidates' rows: a name match before an alias match, then
/// the most followed, then the most Deezer fans, then the smallest id (a stable choice).
fn pick_namesake(
    rows: Vec<ArtistTrackRow>,
    tracks_per_artist: usize,
) -> Option<(NameMatch, ArtistWithTracks)> {
    // Grouped by how each was found, so an artist found both ways is two candidates and
    // the name match sorts first.
    let by_kind = rows
        .into_iter()
        .map(|row| ArtistTrackRow {
            ordinal: row.kind,
            ..row
        })
        .collect();
    let mut candidates = group_by_artist(by_kind, tracks_per_artist);
    candidates.sort_by(|(a_match, a), (b_match, b)| {
        (a_match, Reverse(a.followers), Reverse(a.deezer_fans), &a.id).cmp(&(
            b_match,
            Reverse(b.followers),
            Reverse(b.deezer_fans),
            &b.id,
        ))
    });
    candidates.into_iter().next().map(|(kind, artist)| {
        let matched_by = if kind == CANDIDATE_BY_NAME {
            NameMatch::Name
        } else {
            NameMatch::Alias
        };
        (matched_by, artist)
    })
}

/// Folds artist × track rows into artists (in first-seen order), each with its first
/// `tracks_per_artist` named tracks. Rows of one artist need not be adjacent.
fn group_by_artist(
    rows: Vec<ArtistTrackRow>,
    tracks_per_artist: usize,
) -> Vec<(i64, ArtistWithTracks)> {
    /// An artist being assembled: its ordinal, itself, and its (rank, track) pairs.
    type Assembling = (i64, ArtistWithTracks, Vec<(i32, TrackSummary)>);
    let mut artists: Vec<Assembling> = Vec::new();
    for row in rows {
        let index = match artists
            .iter()
            .position(|(ordinal, artist, _)| *ordinal == row.ordinal && artist.id == row.id)
        {
            Some(index) => index,
            None => {
                artists.push((
                    row.ordinal,
                    ArtistWithTracks {
                        id: row.id.clone(),
                        name: row.name.clone(),
                        url: row.url.clone(),
                        deezer_id: row.deezer_id,
                        image_url: row.image_url.clone(),
                        followers: row.followers,
                        deezer_fans: row.deezer_fans,
                        genres: parse_genres(row.genres.as_deref()),
                        tracks: Vec::new(),
                    },
                    Vec::new(),
                ));
                artists.len() - 1
            }
        };
        // A track without a name can be neither shown nor searched for.
        if let Some(track_name) = row.track_name.filter(|n| !n.trim().is_empty()) {
            artists[index].2.push((
                row.track_rank.unwrap_or(i32::MAX),
                TrackSummary {
                    name: track_name,
                    album_name: row.track_album,
                    image_url: row.track_image,
                },
            ));
        }
    }
    artists
        .into_iter()
        .map(|(ordinal, mut artist, mut tracks)| {
            tracks.sort_by_key(|(rank, _)| *rank);
            artist.tracks = tracks
                .into_iter()
                .take(tracks_per_artist)
                .map(|(_, track)| track)
                .collect();
            (ordinal, artist)
        })
        .collect()
}

/// Genres are stored as a JSON array; anything else reads as "no genres known".
fn parse_genres(raw: Option<&str>) -> Vec<String> {
    raw.and_then(|json| serde_json::from_str::<Vec<String>>(json).ok())
        .unwrap_or_default()
}
