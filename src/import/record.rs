//! One DynamoDB item of the old bot: which table it came from, and the catalog record it
//! maps to, with validation.
//!
//! Owns what the old Python bot wrote and how it maps: numbers as `N` (or as `S` such as
//! `"123"`), read exactly; genres as `L` of `S` or `SS`; raw Spotify shapes
//! (`followers.total`, `external_urls.spotify`, `images`, `album.name`, `album.images`) as
//! fallbacks for the flat columns; the 2020 related-artists batch's `y_artist`/`distance`.
//! Absent or `NULL` values become `None`, never a made-up default. Ordering (ranks) is left
//! to `groups`. Must not touch: files, databases.

use std::collections::BTreeMap;
use std::fmt;

use super::attr::{AttrValue, IntegerError, Item, is_number, parse_float, parse_integer};
use crate::catalog::ArtistProfile;

/// The three tables of the old bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableKind {
    /// `artists`: `id`, `name`, `followers`, `popularity`, `url`, `image_url`, ...
    Artists,
    /// `top_tracks`: a track id (`id` or `track_id`) and `artist_id`, ...
    TopTracks,
    /// `related_artists`: `artist_id` and `related_id` (`y_artist` in the 2020 batch), ...
    RelatedArtists,
}

impl fmt::Display for TableKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TableKind::Artists => "artists",
            TableKind::TopTracks => "top_tracks",
            TableKind::RelatedArtists => "related_artists",
        })
    }
}

/// Tells which table `item` belongs to, or `None` when it fits none or more than one:
/// related artists have `artist_id` and `related_id` (or `y_artist`) and no track id; top
/// tracks `artist_id` and a track id (`id` or `track_id`) and no related id; artists `id`
/// and `name` and none of `artist_id`, `track_id`, `related_id`, `y_artist`. A `NULL`
/// attribute counts as absent. Only presence is looked at: a present but malformed
/// attribute is reported by [`to_record`], naming it.
pub fn detect_table(item: &Item) -> Option<TableKind> {
    let has = |name: &str| present(item, name).is_some();
    let related = has("related_id") || has("y_artist");
    let track = has("track_id") || has("id");
    match (has("artist_id"), related, track) {
        (true, true, false) => Some(TableKind::RelatedArtists),
        (true, false, true) => Some(TableKind::TopTracks),
        (false, false, _) if has("id") && has("name") && !has("track_id") => {
            Some(TableKind::Artists)
        }
        _ => None,
    }
}

/// The image size the bot shows (Spotify's middle size); the fallback picks the closest.
const PREFERRED_IMAGE_PX: i64 = 300;

/// Attributes each mapping reads (directly or as a fallback), space-separated; the rest
/// are reported in `ignored_attributes`.
const ARTIST_ATTRIBUTES: &str = "id name followers popularity url image_url genres \
                                 external_urls images";
const TOP_TRACK_ATTRIBUTES: &str = "id track_id artist_id name popularity album_name \
                                    image_url rank album images";
const RELATED_ATTRIBUTES: &str = "artist_id related_id y_artist rank_rel rank similarity \
                                  score distance";

/// One catalog record made from one item.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportRecord {
    Artist(ArtistRecord),
    TopTrack(TopTrackRecord),
    Related(RelatedRecord),
}

impl ImportRecord {
    /// Attributes present in the item that its mapping does not read, by name.
    pub(crate) fn ignored_attributes(&self) -> &[String] {
        match self {
            ImportRecord::Artist(a) => &a.ignored_attributes,
            ImportRecord::TopTrack(t) => &t.ignored_attributes,
            ImportRecord::Related(r) => &r.ignored_attributes,
        }
    }
}

/// An artist.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtistRecord {
    /// Spotify artist id, case preserved.
    pub id: String,
    /// Display name as stored (not trimmed or re-cased).
    pub name: String,
    /// `followers`, or `followers.total` of a raw Spotify artist.
    pub followers: Option<i64>,
    /// 0 to 100.
    pub popularity: Option<i32>,
    /// `url`, else `external_urls.spotify`.
    pub url: Option<String>,
    /// `image_url`, else the `images` entry closest to 300 px.
    pub image_url: Option<String>,
    /// Genres in stored order, blanks and repeats dropped.
    pub genres: Vec<String>,
    pub ignored_attributes: Vec<String>,
}

impl From<ArtistRecord> for ArtistProfile {
    fn from(artist: ArtistRecord) -> Self {
        ArtistProfile {
            id: artist.id,
            name: artist.name,
            followers: artist.followers,
            popularity: artist.popularity,
            url: artist.url,
            image_url: artist.image_url,
            genres: artist.genres,
        }
    }
}

/// One of an artist's top tracks.
#[derive(Debug, Clone, PartialEq)]
pub struct TopTrackRecord {
    pub artist_id: String,
    /// From `track_id` or `id`.
    pub track_id: String,
    pub name: String,
    /// 0 to 100.
    pub popularity: Option<i32>,
    /// `album_name`, else `album.name` of a raw Spotify track.
    pub album_name: Option<String>,
    /// `image_url`, else the `album.images` (or `images`) entry closest to 300 px.
    pub image_url: Option<String>,
    /// `rank` (1 to 1000) when the item has one; `groups` orders the rest.
    pub rank: Option<i32>,
    pub ignored_attributes: Vec<String>,
}

/// How close a related artist is, in the direction its source meant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RelatedScore {
    /// `similarity` or `score`: higher is closer.
    Similarity(f64),
    /// `distance` (the 2020 batch's Euclidean distance): lower is closer, never negative.
    Distance(f64),
}

/// One related-artist edge.
#[derive(Debug, Clone, PartialEq)]
pub struct RelatedRecord {
    pub artist_id: String,
    /// From `related_id` or `y_artist`; never equal to `artist_id`.
    pub related_id: String,
    /// `rank_rel` or `rank` (1 to 1000) when present.
    pub rank: Option<i32>,
    /// `similarity`, `score` or `distance` when present (in that order of preference).
    pub score: Option<RelatedScore>,
    pub ignored_attributes: Vec<String>,
}

/// Why an item could not become a record. The message names the attribute and the reason;
/// stored texts in it are cut to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A required attribute is absent or `NULL`.
    #[error("attribute `{attribute}` is missing")]
    Missing { attribute: String },
    /// A required string is empty or only whitespace.
    #[error("attribute `{attribute}` is empty")]
    Empty { attribute: String },
    /// Another DynamoDB type than the mapping accepts.
    #[error("attribute `{attribute}` has type {found}, expected {expected}")]
    WrongType {
        attribute: String,
        expected: &'static str,
        found: &'static str,
    },
    /// A numeric attribute (possibly stored as `S`) whose text is not a number.
    #[error("attribute `{attribute}` is {value:?}, which is not a number")]
    NotANumber { attribute: String, value: String },
    /// An integer attribute with a fractional part.
    #[error("attribute `{attribute}` is {value}, which is not an integer")]
    NotAnInteger { attribute: String, value: String },
    /// A number outside what the column accepts (`allowed`, e.g. `0..=100`).
    #[error("attribute `{attribute}` is {value}, outside the allowed {allowed}")]
    OutOfRange {
        attribute: String,
        value: String,
        allowed: String,
    },
    /// Not 1 to 64 ASCII letters and digits.
    #[error(
        "attribute `{attribute}` is {value:?}, which is not a Spotify id (1 to 64 ASCII letters and digits)"
    )]
    InvalidId { attribute: String, value: String },
    /// Two attributes that mean the same thing (e.g. `id` and `track_id`) disagree.
    #[error("attributes `{attribute}` ({value}) and `{other}` ({other_value}) disagree")]
    Conflict {
        attribute: String,
        value: String,
        other: String,
        other_value: String,
    },
    /// A related-artist edge from an artist to itself.
    #[error("attribute `related_id` is {artist_id}, the artist itself")]
    SelfRelated { artist_id: String },
}

impl RecordError {
    /// The attribute the error is about.
    pub fn attribute(&self) -> &str {
        match self {
            RecordError::Missing { attribute }
            | RecordError::Empty { attribute }
            | RecordError::WrongType { attribute, .. }
            | RecordError::NotANumber { attribute, .. }
            | RecordError::NotAnInteger { attribute, .. }
            | RecordError::OutOfRange { attribute, .. }
            | RecordError::InvalidId { attribute, .. }
            | RecordError::Conflict { attribute, .. } => attribute,
            RecordError::SelfRelated { .. } => "related_id",
        }
    }
}

/// Maps `item` as a record of table `kind` (see [`detect_table`]).
pub fn to_record(kind: TableKind, item: &Item) -> Result<ImportRecord, RecordError> {
    match kind {
        TableKind::Artists => artist(item).map(ImportRecord::Artist),
        TableKind::TopTracks => top_track(item).map(ImportRecord::TopTrack),
        TableKind::RelatedArtists => related(item).map(ImportRecord::Related),
    }
}

fn artist(item: &Item) -> Result<ArtistRecord, RecordError> {
    let id = spotify_id(item, "id")?;
    let name = required_text(item, "name")?;
    let followers = match present(item, "followers") {
        Some(AttrValue::M(raw)) => integer(present(raw, "total"), "followers.total", 0, i64::MAX)?,
        value => integer(value, "followers", 0, i64::MAX)?,
    };
    let popularity = small_integer(item, "popularity", 0, 100)?;
    let url = match optional_text(item, "url")? {
        None => nested_text(item, "external_urls", "spotify")?,
        url => url,
    };
    let image_url = match optional_text(item, "image_url")? {
        None => closest_image(present(item, "images"), "images")?,
        url => url,
    };
    Ok(ArtistRecord {
        id,
        name,
        followers,
        popularity,
        url,
        image_url,
        genres: genres(item)?,
        ignored_attributes: ignored(item, ARTIST_ATTRIBUTES),
    })
}

fn top_track(item: &Item) -> Result<TopTrackRecord, RecordError> {
    let artist_id = spotify_id(item, "artist_id")?;
    let (track_attribute, _) = one_of(item, "track_id", "id")?.ok_or(RecordError::Missing {
        attribute: "track_id".into(),
    })?;
    let track_id = spotify_id(item, track_attribute)?;
    let name = required_text(item, "name")?;
    let album_name = match optional_text(item, "album_name")? {
        None => nested_text(item, "album", "name")?,
        name => name,
    };
    let image_url = match optional_text(item, "image_url")? {
        None => track_image_fallback(item)?,
        url => url,
    };
    Ok(TopTrackRecord {
        artist_id,
        track_id,
        name,
        album_name,
        image_url,
        rank: small_integer(item, "rank", 1, 1000)?,
        popularity: small_integer(item, "popularity", 0, 100)?,
        ignored_attributes: ignored(item, TOP_TRACK_ATTRIBUTES),
    })
}

/// A raw Spotify track keeps its cover under `album.images`; a few shapes put `images` at
/// the top level.
fn track_image_fallback(item: &Item) -> Result<Option<String>, RecordError> {
    match present(item, "album") {
        Some(AttrValue::M(album)) if present(album, "images").is_some() => {
            closest_image(present(album, "images"), "album.images")
        }
        Some(AttrValue::M(_)) | None => closest_image(present(item, "images"), "images"),
        Some(album) => Err(wrong_type("album", "M", album)),
    }
}

fn related(item: &Item) -> Result<RelatedRecord, RecordError> {
    let artist_id = spotify_id(item, "artist_id")?;
    let (related_attribute, _) =
        one_of(item, "related_id", "y_artist")?.ok_or(RecordError::Missing {
            attribute: "related_id".into(),
        })?;
    let related_id = spotify_id(item, related_attribute)?;
    if related_id == artist_id {
        return Err(RecordError::SelfRelated { artist_id });
    }
    let rank = match one_of(item, "rank_rel", "rank")? {
        Some((attribute, value)) => integer(Some(value), attribute, 1, 1000)?.map(narrow),
        None => None,
    };
    let similarity = ["similarity", "score"]
        .into_iter()
        .find_map(|name| present(item, name).map(|value| (name, value)));
    let score = match (similarity, present(item, "distance")) {
        (Some((name, value)), _) => float(value, name)?.map(RelatedScore::Similarity),
        (None, Some(value)) => match float(value, "distance")? {
            Some(d) if d < 0.0 => {
                return Err(RecordError::OutOfRange {
                    attribute: "distance".into(),
                    value: value_text(value, false),
                    allowed: ">= 0".into(),
                });
            }
            d => d.map(RelatedScore::Distance),
        },
        (None, None) => None,
    };
    Ok(RelatedRecord {
        artist_id,
        related_id,
        rank,
        score,
        ignored_attributes: ignored(item, RELATED_ATTRIBUTES),
    })
}

/// The attribute `name` unless it is absent or `NULL` (DynamoDB's explicit "no value").
fn present<'i>(map: &'i BTreeMap<String, AttrValue>, name: &str) -> Option<&'i AttrValue> {
    map.get(name).filter(|v| **v != AttrValue::Null)
}

/// `preferred` or its `alias`, whichever is present; an error when both are, with
/// different values, because then the item contradicts itself.
fn one_of<'i>(
    item: &'i Item,
    preferred: &'static str,
    alias: &'static str,
) -> Result<Option<(&'static str, &'i AttrValue)>, RecordError> {
    match (present(item, preferred), present(item, alias)) {
        (Some(a), Some(b)) if a != b => Err(RecordError::Conflict {
            attribute: preferred.into(),
            value: value_text(a, true),
            other: alias.into(),
            other_value: value_text(b, true),
        }),
        (Some(a), _) => Ok(Some((preferred, a))),
        (None, Some(b)) => Ok(Some((alias, b))),
        (None, None) => Ok(None),
    }
}

fn wrong_type(attribute: &str, expected: &'static str, found: &AttrValue) -> RecordError {
    RecordError::WrongType {
        attribute: attribute.into(),
        expected,
        found: found.type_tag(),
    }
}

/// A required, non-blank `S`.
fn required_text(item: &Item, name: &str) -> Result<String, RecordError> {
    match present(item, name) {
        None => Err(RecordError::Missing {
            attribute: name.into(),
        }),
        Some(AttrValue::S(s)) if s.trim().is_empty() => Err(RecordError::Empty {
            attribute: name.into(),
        }),
        Some(AttrValue::S(s)) => Ok(s.clone()),
        Some(other) => Err(wrong_type(name, "S", other)),
    }
}

/// A required Spotify id: 1 to 64 ASCII letters and digits, case preserved.
fn spotify_id(item: &Item, name: &str) -> Result<String, RecordError> {
    let id = required_text(item, name)?;
    if id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(id)
    } else {
        Err(RecordError::InvalidId {
            attribute: name.into(),
            value: excerpt(&id),
        })
    }
}

/// An optional `S`; blank counts as absent, since the old bot wrote `""` for "none".
fn optional_text(item: &Item, name: &str) -> Result<Option<String>, RecordError> {
    text_value(present(item, name), name)
}

fn text_value(value: Option<&AttrValue>, attribute: &str) -> Result<Option<String>, RecordError> {
    match value {
        None => Ok(None),
        Some(AttrValue::S(s)) if s.trim().is_empty() => Ok(None),
        Some(AttrValue::S(s)) => Ok(Some(s.clone())),
        Some(other) => Err(wrong_type(attribute, "S", other)),
    }
}

/// An optional `S` inside an optional `M`, e.g. `external_urls.spotify`.
fn nested_text(item: &Item, outer: &str, inner: &str) -> Result<Option<String>, RecordError> {
    match present(item, outer) {
        None => Ok(None),
        Some(AttrValue::M(map)) => text_value(present(map, inner), &format!("{outer}.{inner}")),
        Some(other) => Err(wrong_type(outer, "M", other)),
    }
}

/// An integer attribute of a small range (at most 0..=1000), narrowed to `i32`.
fn small_integer(item: &Item, name: &str, min: i64, max: i64) -> Result<Option<i32>, RecordError> {
    Ok(integer(present(item, name), name, min, max)?.map(narrow))
}

/// Narrows a value already checked to lie in a small range.
fn narrow(value: i64) -> i32 {
    // Callers only pass values within 0..=1000; saturating keeps this without a panic path.
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// The number text of an `N`, or of an `S` holding a number (the old bot did both).
/// `Ok(None)` for a blank `S`, which the old bot wrote for "unknown".
fn numeric_text<'v>(value: &'v AttrValue, attribute: &str) -> Result<Option<&'v str>, RecordError> {
    match value {
        AttrValue::N(s) => Ok(Some(s)),
        AttrValue::S(s) if s.trim().is_empty() => Ok(None),
        AttrValue::S(s) => Ok(Some(s.trim())),
        other => Err(wrong_type(attribute, "N (or S holding a number)", other)),
    }
}

/// An exact integer within `min..=max`, when present.
fn integer(
    value: Option<&AttrValue>,
    attribute: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, RecordError> {
    let Some(text) = value
        .map(|v| numeric_text(v, attribute))
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    let (attribute, value) = (attribute.to_owned(), excerpt(text));
    match parse_integer(text) {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        Ok(_) | Err(IntegerError::OutOfRange) => Err(RecordError::OutOfRange {
            attribute,
            value,
            allowed: format!("{min}..={max}"),
        }),
        Err(IntegerError::NotAnInteger) => Err(RecordError::NotAnInteger { attribute, value }),
        Err(IntegerError::NotANumber) => Err(RecordError::NotANumber { attribute, value }),
    }
}

/// A finite float.
fn float(value: &AttrValue, attribute: &str) -> Result<Option<f64>, RecordError> {
    let Some(text) = numeric_text(value, attribute)? else {
        return Ok(None);
    };
    let (attribute, value) = (attribute.to_owned(), excerpt(text));
    match parse_float(text) {
        Some(f) => Ok(Some(f)),
        None if is_number(text) => Err(RecordError::OutOfRange {
            attribute,
            value,
            allowed: "a finite float".into(),
        }),
        None => Err(RecordError::NotANumber { attribute, value }),
    }
}

/// From a Spotify `images` list (`L` of `M` with `url`, `height`, `width`), the url of the
/// image closest to 300 px. Entries without a url are skipped; entries without a size are
/// chosen only when no entry has one; ties go to the earlier entry.
fn closest_image(
    images: Option<&AttrValue>,
    attribute: &str,
) -> Result<Option<String>, RecordError> {
    let entries = match images {
        None => return Ok(None),
        Some(AttrValue::L(entries)) => entries,
        Some(other) => return Err(wrong_type(attribute, "L", other)),
    };
    let mut best: Option<(u64, String)> = None;
    for (index, entry) in entries.iter().enumerate() {
        let path = format!("{attribute}[{index}]");
        let AttrValue::M(image) = entry else {
            return Err(wrong_type(&path, "M", entry));
        };
        let Some(url) = text_value(present(image, "url"), &format!("{path}.url"))? else {
            continue;
        };
        let mut size = None;
        for side in ["height", "width"] {
            let px = integer(present(image, side), &format!("{path}.{side}"), 0, 100_000)?;
            size = size.max(px);
        }
        let distance = size.map_or(u64::MAX, |px| px.abs_diff(PREFERRED_IMAGE_PX));
        if best.as_ref().is_none_or(|(d, _)| distance < *d) {
            best = Some((distance, url));
        }
    }
    Ok(best.map(|(_, url)| url))
}

/// Genres from `L` of `S` or from `SS`, blanks and repeats dropped, order kept.
fn genres(item: &Item) -> Result<Vec<String>, RecordError> {
    let listed: Vec<&String> = match present(item, "genres") {
        None => Vec::new(),
        Some(AttrValue::Ss(set)) => set.iter().collect(),
        Some(AttrValue::L(list)) => list
            .iter()
            .enumerate()
            .map(|(index, genre)| match genre {
                AttrValue::S(g) => Ok(g),
                other => Err(wrong_type(&format!("genres[{index}]"), "S", other)),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(wrong_type("genres", "L of S, or SS", other)),
    };
    let mut out: Vec<String> = Vec::new();
    for genre in listed.iter().map(|g| g.trim()) {
        if !genre.is_empty() && !out.iter().any(|g| g == genre) {
            out.push(genre.to_owned());
        }
    }
    Ok(out)
}

/// Names of the item's attributes the mapping does not read (`known`, space-separated).
fn ignored(item: &Item, known: &str) -> Vec<String> {
    let unknown = |name: &&String| !known.split_ascii_whitespace().any(|k| k == *name);
    item.keys().filter(unknown).cloned().collect()
}

/// A value as short text for messages: quoted for a conflict, trimmed for a number.
fn value_text(value: &AttrValue, quoted: bool) -> String {
    match value {
        AttrValue::S(s) | AttrValue::N(s) if quoted => format!("{:?}", excerpt(s)),
        AttrValue::S(s) | AttrValue::N(s) => excerpt(s.trim()),
        other => other.type_tag().to_owned(),
    }
}

/// At most 64 characters of `s`, so one absurd value cannot flood a log line.
fn excerpt(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}
