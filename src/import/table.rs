//! Which of the old bot's DynamoDB tables an item came from, told from its attributes alone.
//!
//! Owns only the recognition rules; turning an item into a record is `record`'s job.
//! Must not touch: files, databases.

use std::fmt;

use super::attr::{AttrValue, Item};

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

/// Tells which table `item` belongs to, or `None` when it fits none or more than one.
///
/// - related artists: `artist_id` and `related_id` (or `y_artist`), and no track id;
/// - top tracks: `artist_id` and a track id (`id` or `track_id`), and no related id;
/// - artists: `id` and `name`, and none of `artist_id`, `track_id`, `related_id`, `y_artist`.
///
/// An attribute holding `NULL` counts as absent. Only presence is looked at: a present but
/// malformed attribute is reported by [`super::to_record`], naming it.
pub fn detect_table(item: &Item) -> Option<TableKind> {
    let has = |name: &str| item.get(name).is_some_and(|v| *v != AttrValue::Null);
    let related = has("related_id") || has("y_artist");
    let track = has("track_id") || has("id");
    if has("artist_id") {
        return match (related, track) {
            (true, false) => Some(TableKind::RelatedArtists),
            (false, true) => Some(TableKind::TopTracks),
            _ => None,
        };
    }
    if has("id") && has("name") && !related && !has("track_id") {
        return Some(TableKind::Artists);
    }
    None
}
