//! Mapping one DynamoDB item of the old bot to a catalog record, with validation.
//!
//! Owns what the old Python bot wrote and how it maps: numbers as `N` (or as `S` such as
//! `"123"`), genres as `L` of `S` or `SS`, raw Spotify shapes (`followers.total`,
//! `external_urls.spotify`, `images`, `album.name`, `album.images`) as fallbacks for the flat
//! columns, and the 2020 related-artists batch's `y_artist`/`distance`. Absent or `NULL`
//! values become `None`, never a made-up default. Ordering (ranks) is left to the importer.
//! Must not touch: files, databases.

use std::collections::BTreeMap;

use super::attr::{AttrValue, Item};
use super::number::{self, IntegerError};
use super::table::TableKind;

/// The image size the bot shows (Spotify's middle size); the fallback picks the closest.
const PREFERRED_IMAGE_PX: i64 = 300;

/// Attributes each mapping reads (directly or as a fallback); the rest are reported in
/// `ignored_attributes`.
const ARTIST_ATTRIBUTES: [&str; 9] = [
    "id",
    "name",
    "followers",
    "popularity",
    "url",
    "image_url",
    "genres",
    "external_urls",
    "images",
];
const TOP_TRACK_ATTRIBUTES: [&str; 10] = [
    "id",
    "track_id",
    "artist_id",
    "name",
    "popularity",
    "album_name",
    "image_url",
    "rank",
    "album",
    "images",
];
const RELATED_ATTRIBUTES: [&str; 8] = [
    "artist_id",
    "related_id",
    "y_artist",
    "rank_rel",
    "rank",
    "similarity",
    "score",
    "distance",
];

/// One catalog record made from one item.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportRecord {
    /// From the `artists` table.
    Artist(ArtistRecord),
    /// From the `top_tracks` table.
    TopTrack(TopTrackRecord),
    /// From the `related_artists` table.
    Related(RelatedRecord),
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
    /// Attributes present in the item that this mapping does not read, by name.
    pub ignored_attributes: Vec<String>,
}

/// One of an artist's top tracks.
#[derive(Debug, Clone, PartialEq)]
pub struct TopTrackRecord {
    /// Spotify id of the artist the track is a top track of.
    pub artist_id: String,
    /// Spotify track id, from `track_id` or `id`.
    pub track_id: String,
    /// Track name as stored.
    pub name: String,
    /// 0 to 100.
    pub popularity: Option<i32>,
    /// `album_name`, else `album.name` of a raw Spotify track.
    pub album_name: Option<String>,
    /// `image_url`, else the `album.images` (or `images`) entry closest to 300 px.
    pub image_url: Option<String>,
    /// `rank` (1 to 1000) when the item has one; the importer orders the rest.
    pub rank: Option<i32>,
    /// Attributes present in the item that this mapping does not read, by name.
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
    /// The artist the list belongs to.
    pub artist_id: String,
    /// The related artist, from `related_id` or `y_artist`; never equal to `artist_id`.
    pub related_id: String,
    /// `rank_rel` or `rank` (1 to 1000) when present.
    pub rank: Option<i32>,
    /// `similarity`, `score` or `distance` when present (in that order of preference).
    pub score: Option<RelatedScore>,
    /// Attributes present in the item that this mapping does not read, by name.
    pub ignored_attributes: Vec<String>,
}

/// Why an item could not become a record. The message names the attribute and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A required attribute is absent or `NULL`.
    #[error("attribute `{attribute}` is missing")]
    Missing {
        /// Attribute path.
        attribute: String,
    },
    /// A required string is empty or only whitespace.
    #[error("attribute `{attribute}` is empty")]
    Empty {
        /// Attribute path.
        attribute: String,
    },
    /// The attribute has another DynamoDB type than the mapping accepts.
    #[error("attribute `{attribute}` has type {found}, expected {expected}")]
    WrongType {
        /// Attribute path.
        attribute: String,
        /// Accepted type(s).
        expected: &'static str,
        /// The DynamoDB type tag found.
        found: &'static str,
    },
    /// A numeric attribute (possibly stored as `S`) whose text is not a number.
    #[error("attribute `{attribute}` is {value:?}, which is not a number")]
    NotANumber {
        /// Attribute path.
        attribute: String,
        /// The stored text (shortened if long).
        value: String,
    },
    /// An integer attribute with a fractional part.
    #[error("attribute `{attribute}` is {value}, which is not an integer")]
    NotAnInteger {
        /// Attribute path.
        attribute: String,
        /// The stored text.
        value: String,
    },
    /// A number outside what the column accepts.
    #[error("attribute `{attribute}` is {value}, outside the allowed {allowed}")]
    OutOfRange {
        /// Attribute path.
        attribute: String,
        /// The stored text.
        value: String,
        /// The accepted range, e.g. `0..=100`.
        allowed: String,
    },
    /// Not 1 to 64 ASCII letters and digits.
    #[error(
        "attribute `{attribute}` is {value:?}, which is not a Spotify id (1 to 64 ASCII letters and digits)"
    )]
    InvalidId {
        /// Attribute path.
        attribute: String,
        /// The stored text (shortened if long).
        value: String,
    },
    /// Two attributes that mean the same thing (e.g. `id` and `track_id`) disagree.
    #[error("attributes `{attribute}` ({value}) and `{other}` ({other_value}) disagree")]
    Conflict {
        /// The preferred attribute.
        attribute: String,
        /// Its value, as text.
        value: String,
        /// The alias.
        other: String,
        /// Its value, as text.
        other_value: String,
    },
    /// A related-artist edge from an artist to itself.
    #[error("attribute `related_id` is {artist_id}, the artist itself")]
    SelfRelated {
        /// The artist.
        artist_id: String,
    },
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

/// Maps `item` as a record of table `kind` (see [`super::detect_table`]).
pub fn to_record(kind: TableKind, item: &Item) -> Result<ImportRecord, RecordError> {
    match kind {
        TableKind::Artists => artist(item).map(ImportRecord::Artist),
        TableKind::TopTracks => top_track(item).map(ImportRecord::TopTrack),
        TableKind::RelatedArtists => related(item).map(ImportRecord::Related),
    }
}

fn artist(item: &Item) -> Result<ArtistRecord, RecordError> {
    let id = spotify_id(item, "id")?;
    let name = required_text(item, "name")?.to_owned();
    let followers = match present(item, "followers") {
        None => None,
        Some(AttrValue::M(raw)) => match present(raw, "total") {
            None => None,
            Some(total) => integer(total, "followers.total", 0, i64::MAX)?,
        },
        Some(value) => integer(value, "followers", 0, i64::MAX)?,
    };
    let popularity = popularity(item)?;
    let url = match optional_text(item, "url")? {
        Some(url) => Some(url),
        None => nested_text(item, "external_urls", "spotify")?,
    };
    let image_url = match optional_text(item, "image_url")? {
        Some(url) => Some(url),
        None => match present(item, "images") {
            Some(images) => closest_image(images, "images")?,
            None => None,
        },
    };
    Ok(ArtistRecord {
        id,
        name,
        followers,
        popularity,
        url,
        image_url,
        genres: genres(item)?,
        ignored_attributes: ignored(item, &ARTIST_ATTRIBUTES),
    })
}

fn top_track(item: &Item) -> Result<TopTrackRecord, RecordError> {
    let artist_id = spotify_id(item, "artist_id")?;
    let (track_attribute, _) = one_of(item, "track_id", "id")?.ok_or(RecordError::Missing {
        attribute: "track_id".into(),
    })?;
    let track_id = spotify_id(item, track_attribute)?;
    let name = required_text(item, "name")?.to_owned();
    let album_name = match optional_text(item, "album_name")? {
        Some(name) => Some(name),
        None => nested_text(item, "album", "name")?,
    };
    let image_url = match optional_text(item, "image_url")? {
        Some(url) => Some(url),
        None => track_image_fallback(item)?,
    };
    let rank = match present(item, "rank") {
        Some(value) => integer(value, "rank", 1, 1000)?.map(narrow),
        None => None,
    };
    Ok(TopTrackRecord {
        artist_id,
        track_id,
        name,
        popularity: popularity(item)?,
        album_name,
        image_url,
        rank,
        ignored_attributes: ignored(item, &TOP_TRACK_ATTRIBUTES),
    })
}

/// A raw Spotify track keeps its cover under `album.images`; a few shapes put `images` at
/// the top level.
fn track_image_fallback(item: &Item) -> Result<Option<String>, RecordError> {
    if let Some(album) = present(item, "album") {
        let AttrValue::M(album) = album else {
            return Err(wrong_type("album", "M", album));
        };
        if let Some(images) = present(album, "images") {
            return closest_image(images, "album.images");
        }
    }
    match present(item, "images") {
        Some(images) => closest_image(images, "images"),
        None => Ok(None),
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
        Some((attribute, value)) => integer(value, attribute, 1, 1000)?.map(narrow),
        None => None,
    };
    let score = if let Some(value) = present(item, "similarity") {
        float(value, "similarity")?.map(RelatedScore::Similarity)
    } else if let Some(value) = present(item, "score") {
        float(value, "score")?.map(RelatedScore::Similarity)
    } else if let Some(value) = present(item, "distance") {
        match float(value, "distance")? {
            Some(d) if d < 0.0 => {
                return Err(RecordError::OutOfRange {
                    attribute: "distance".into(),
                    value: number_text(value),
                    allowed: ">= 0".into(),
                });
            }
            d => d.map(RelatedScore::Distance),
        }
    } else {
        None
    };
    Ok(RelatedRecord {
        artist_id,
        related_id,
        rank,
        score,
        ignored_attributes: ignored(item, &RELATED_ATTRIBUTES),
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
            value: value_text(a),
            other: alias.into(),
            other_value: value_text(b),
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
fn required_text<'i>(item: &'i Item, name: &str) -> Result<&'i str, RecordError> {
    match present(item, name) {
        None => Err(RecordError::Missing {
            attribute: name.into(),
        }),
        Some(AttrValue::S(s)) if s.trim().is_empty() => Err(RecordError::Empty {
            attribute: name.into(),
        }),
        Some(AttrValue::S(s)) => Ok(s),
        Some(other) => Err(wrong_type(name, "S", other)),
    }
}

/// A required Spotify id: 1 to 64 ASCII letters and digits, case preserved.
fn spotify_id(item: &Item, name: &str) -> Result<String, RecordError> {
    let id = required_text(item, name)?;
    if id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(id.to_owned())
    } else {
        Err(RecordError::InvalidId {
            attribute: name.into(),
            value: excerpt(id),
        })
    }
}

/// An optional `S`; blank counts as absent, since the old bot wrote `""` for "none".
fn optional_text(
    map: &BTreeMap<String, AttrValue>,
    name: &str,
) -> Result<Option<String>, RecordError> {
    text_value(present(map, name), name)
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

fn popularity(item: &Item) -> Result<Option<i32>, RecordError> {
    Ok(match present(item, "popularity") {
        Some(value) => integer(value, "popularity", 0, 100)?.map(narrow),
        None => None,
    })
}

/// Narrows a value already checked to lie in a small range (at most 0..=1000).
fn narrow(value: i64) -> i32 {
    // Callers only pass values within 0..=1000, which always fit; saturating keeps this
    // total without a panic path.
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

/// An exact integer within `min..=max`.
fn integer(
    value: &AttrValue,
    attribute: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, RecordError> {
    let Some(text) = numeric_text(value, attribute)? else {
        return Ok(None);
    };
    let out_of_range = || RecordError::OutOfRange {
        attribute: attribute.into(),
        value: excerpt(text),
        allowed: format!("{min}..={max}"),
    };
    match number::parse_integer(text) {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        Ok(_) | Err(IntegerError::OutOfRange) => Err(out_of_range()),
        Err(IntegerError::NotAnInteger) => Err(RecordError::NotAnInteger {
            attribute: attribute.into(),
            value: excerpt(text),
        }),
        Err(IntegerError::NotANumber) => Err(RecordError::NotANumber {
            attribute: attribute.into(),
            value: excerpt(text),
        }),
    }
}

/// A finite float.
fn float(value: &AttrValue, attribute: &str) -> Result<Option<f64>, RecordError> {
    let Some(text) = numeric_text(value, attribute)? else {
        return Ok(None);
    };
    match number::parse_float(text) {
        Some(f) => Ok(Some(f)),
        None if number::is_number(text) => Err(RecordError::OutOfRange {
            attribute: attribute.into(),
            value: excerpt(text),
            allowed: "a finite float".into(),
        }),
        None => Err(RecordError::NotANumber {
            attribute: attribute.into(),
            value: excerpt(text),
        }),
    }
}

/// From a Spotify `images` list (`L` of `M` with `url`, `height`, `width`), the url of the
/// image closest to 300 px. Entries without a url are skipped; entries without a size are
/// chosen only when no entry has one; ties go to the earlier entry.
fn closest_image(images: &AttrValue, attribute: &str) -> Result<Option<String>, RecordError> {
    let AttrValue::L(entries) = images else {
        return Err(wrong_type(attribute, "L", images));
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
            if let Some(value) = present(image, side) {
                let px = integer(value, &format!("{path}.{side}"), 0, 100_000)?;
                size = size.max(px);
            }
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
    let mut out: Vec<String> = Vec::new();
    let mut add = |genre: &str| {
        let genre = genre.trim();
        if !genre.is_empty() && !out.iter().any(|g| g == genre) {
            out.push(genre.to_owned());
        }
    };
    match present(item, "genres") {
        None => {}
        Some(AttrValue::Ss(set)) => set.iter().for_each(|g| add(g)),
        Some(AttrValue::L(list)) => {
            for (index, genre) in list.iter().enumerate() {
                match genre {
                    AttrValue::S(g) => add(g),
                    other => return Err(wrong_type(&format!("genres[{index}]"), "S", other)),
                }
            }
        }
        Some(other) => return Err(wrong_type("genres", "L of S, or SS", other)),
    }
    Ok(out)
}

/// Names of the item's attributes the mapping does not read.
fn ignored(item: &Item, known: &[&str]) -> Vec<String> {
    item.keys()
        .filter(|name| !known.contains(&name.as_str()))
        .cloned()
        .collect()
}

/// A value as short text for messages.
fn value_text(value: &AttrValue) -> String {
    match value {
        AttrValue::S(s) | AttrValue::N(s) => format!("{:?}", excerpt(s)),
        other => other.type_tag().to_owned(),
    }
}

fn number_text(value: &AttrValue) -> String {
    match value {
        AttrValue::S(s) | AttrValue::N(s) => excerpt(s.trim()),
        other => other.type_tag().to_owned(),
    }
}

/// At most 64 characters of `s`, so one absurd value cannot flood a log line.
fn excerpt(s: &str) -> String {
    const MAX_CHARS: usize = 64;
    match s.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}
