//! Each artist's best top tracks and related artists, kept while the export streams by.
//!
//! Owns the ranking rules and the memory bound of the import. Ranks come from the data
//! when present (ranked rows first, lowest rank first); the rest follow deterministically:
//! top tracks by popularity (highest first, unknown last) then track id; related artists
//! by score in its own direction (similarity: highest first; distance: lowest first;
//! unknown last) then artist id. The final ranks are the positions, 1..n.
//!
//! Only the best `kept` rows of each artist are ever held (a bounded top-k per artist), so
//! memory grows with the number of artists (every one of them a known artist) times
//! `kept`, not with the number of items: a 100 MB export of 13 tracks per artist holds 10.
//! A track or related artist repeated for the same artist keeps its best-ranked
//! occurrence; on a tie, the one read first. The result does not depend on the order
//! items arrive in.
//!
//! Must not touch: files, the store.

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::record::{RelatedRecord, RelatedScore, TopTrackRecord};

/// A known artist, interned: rows hold 4 bytes instead of a 22-character id.
pub type ArtistKey = u32;

/// The artist ids an import may refer to: the catalog's and the ones the import brings.
#[derive(Debug, Default)]
pub struct ArtistIndex {
    keys: HashMap<Box<str>, ArtistKey>,
    ids: Vec<Box<str>>,
}

impl ArtistIndex {
    /// The key of `id`, added if new.
    pub fn insert(&mut self, id: &str) -> ArtistKey {
        if let Some(&key) = self.keys.get(id) {
            return key;
        }
        // More than 4 billion artists cannot come out of a few thousand items a second
        // in any realistic run; saturating keeps this total without a panic path.
        let key = ArtistKey::try_from(self.ids.len()).unwrap_or(ArtistKey::MAX);
        self.ids.push(id.into());
        self.keys.insert(id.into(), key);
        key
    }

    pub fn get(&self, id: &str) -> Option<ArtistKey> {
        self.keys.get(id).copied()
    }

    /// The id of `key`; empty for a key this index never gave out.
    pub fn id(&self, key: ArtistKey) -> &str {
        self.ids.get(key as usize).map_or("", |id| id)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// A top track waiting for its rank: only what the catalog stores, its four texts in one
/// allocation (the import holds up to `kept` of these per artist; one allocation instead of
/// four takes a third off the memory of a large import).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackCandidate {
    /// Track id, name, album name and image url, back to back.
    text: Box<str>,
    /// Where the id, the name and the album name end in `text`.
    ends: [u32; 3],
    pub popularity: Option<i32>,
    pub rank: Option<i32>,
}

impl TrackCandidate {
    /// A candidate from its parts. Blank album names and urls are absent, as the record
    /// mapping makes them.
    pub fn new(
        track_id: &str,
        name: &str,
        album_name: Option<&str>,
        image_url: Option<&str>,
        popularity: Option<i32>,
        rank: Option<i32>,
    ) -> Self {
        let (album, image) = (album_name.unwrap_or(""), image_url.unwrap_or(""));
        let mut text =
            String::with_capacity(track_id.len() + name.len() + album.len() + image.len());
        let mut ends = [0u32; 3];
        for (end, part) in ends.iter_mut().zip([track_id, name, album]) {
            text.push_str(part);
            // An item is at most 400 KB: its texts' offsets fit in u32; saturating keeps this
            // total.
            *end = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        text.push_str(image);
        Self {
            text: text.into_boxed_str(),
            ends,
            popularity,
            rank,
        }
    }

    fn part(&self, from: u32, to: Option<u32>) -> &str {
        let from = (from as usize).min(self.text.len());
        let to = to.map_or(self.text.len(), |to| (to as usize).min(self.text.len()));
        self.text.get(from..to).unwrap_or("")
    }

    pub fn track_id(&self) -> &str {
        self.part(0, Some(self.ends[0]))
    }

    pub fn name(&self) -> &str {
        self.part(self.ends[0], Some(self.ends[1]))
    }

    pub fn album_name(&self) -> Option<&str> {
        Some(self.part(self.ends[1], Some(self.ends[2]))).filter(|a| !a.is_empty())
    }

    pub fn image_url(&self) -> Option<&str> {
        Some(self.part(self.ends[2], None)).filter(|u| !u.is_empty())
    }
}

impl From<TopTrackRecord> for TrackCandidate {
    fn from(record: TopTrackRecord) -> Self {
        Self::new(
            &record.track_id,
            &record.name,
            record.album_name.as_deref(),
            record.image_url.as_deref(),
            record.popularity,
            record.rank,
        )
    }
}

/// A related artist waiting for its rank.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RelatedCandidate {
    pub related: ArtistKey,
    pub rank: Option<i32>,
    pub score: Option<RelatedScore>,
}

impl RelatedCandidate {
    pub fn new(related: ArtistKey, record: &RelatedRecord) -> Self {
        Self {
            related,
            rank: record.rank,
            score: record.score,
        }
    }
}

/// Ranked rows first, lowest rank first.
fn by_rank(a: Option<i32>, b: Option<i32>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Highest popularity first, unknown last.
fn by_popularity(a: Option<i32>, b: Option<i32>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => b.cmp(&a),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Closest first, in each score's own direction; unknown last. A list mixing similarities
/// and distances has no common scale: similarities go first, so the order stays fixed.
fn by_score(a: Option<RelatedScore>, b: Option<RelatedScore>) -> Ordering {
    use RelatedScore::{Distance, Similarity};
    match (a, b) {
        (Some(Similarity(a)), Some(Similarity(b))) => b.total_cmp(&a),
        (Some(Distance(a)), Some(Distance(b))) => a.total_cmp(&b),
        (Some(Similarity(_)), Some(Distance(_))) => Ordering::Less,
        (Some(Distance(_)), Some(Similarity(_))) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The order of one artist's top tracks, best first.
pub fn track_order(a: &TrackCandidate, b: &TrackCandidate) -> Ordering {
    by_rank(a.rank, b.rank)
        .then_with(|| by_popularity(a.popularity, b.popularity))
        .then_with(|| a.track_id().cmp(b.track_id()))
}

/// The order of one artist's related artists, most related first.
pub fn related_order(a: &RelatedCandidate, b: &RelatedCandidate, index: &ArtistIndex) -> Ordering {
    by_rank(a.rank, b.rank)
        .then_with(|| by_score(a.score, b.score))
        .then_with(|| index.id(a.related).cmp(index.id(b.related)))
}

/// One artist's best rows so far, best first.
#[derive(Clone, Debug, PartialEq)]
pub struct Group<T> {
    /// When the oldest file that contributed to the list was fetched.
    pub fetched_at: NaiveDateTime,
    pub rows: Vec<T>,
}

/// Every artist's best rows, at most `kept` each.
#[derive(Debug)]
pub struct Groups<T> {
    kept: usize,
    by_artist: HashMap<ArtistKey, Group<T>>,
    offered: u64,
}

impl<T> Groups<T> {
    pub fn new(kept: usize) -> Self {
        Self {
            kept: kept.max(1),
            by_artist: HashMap::new(),
            offered: 0,
        }
    }

    /// Offers `candidate` to `artist`'s list: it is held if it is among the best `kept`
    /// (`same` tells two rows of the same track or related artist; `order` ranks them).
    fn offer(
        &mut self,
        artist: ArtistKey,
        fetched_at: NaiveDateTime,
        candidate: T,
        same: impl Fn(&T, &T) -> bool,
        order: impl Fn(&T, &T) -> Ordering,
    ) {
        self.offered += 1;
        let kept = self.kept;
        let group = self.by_artist.entry(artist).or_insert_with(|| Group {
            fetched_at,
            // Exactly `kept`: lists never grow past it, so no capacity is wasted.
            rows: Vec::with_capacity(kept),
        });
        group.fetched_at = group.fetched_at.min(fetched_at);
        let rows = &mut group.rows;
        if let Some(at) = rows.iter().position(|row| same(row, &candidate)) {
            if order(&candidate, &rows[at]) != Ordering::Less {
                return;
            }
            rows.remove(at);
        }
        // After rows that rank the same, so the first one read wins a tie.
        let at = rows.partition_point(|row| order(row, &candidate) != Ordering::Greater);
        if at < kept {
            if rows.len() == kept {
                rows.pop();
            }
            rows.insert(at, candidate);
        }
    }

    /// Rows offered so far.
    pub fn offered(&self) -> u64 {
        self.offered
    }

    /// Rows held (at most `kept` per artist).
    pub fn held(&self) -> u64 {
        self.by_artist.values().map(|g| g.rows.len() as u64).sum()
    }

    /// Artists with at least one row.
    pub fn artists(&self) -> usize {
        self.by_artist.len()
    }

    /// The groups in artist id order (so writes, and their batches, are deterministic).
    pub fn into_sorted(self, index: &ArtistIndex) -> Vec<(ArtistKey, Group<T>)> {
        let mut groups: Vec<_> = self.by_artist.into_iter().collect();
        groups.sort_by(|(a, _), (b, _)| index.id(*a).cmp(index.id(*b)));
        groups
    }
}

impl Groups<TrackCandidate> {
    pub fn offer_track(
        &mut self,
        artist: ArtistKey,
        fetched_at: NaiveDateTime,
        track: TrackCandidate,
    ) {
        self.offer(
            artist,
            fetched_at,
            track,
            |a, b| a.track_id() == b.track_id(),
            track_order,
        );
    }
}

impl Groups<RelatedCandidate> {
    pub fn offer_related(
        &mut self,
        artist: ArtistKey,
        fetched_at: NaiveDateTime,
        related: RelatedCandidate,
        index: &ArtistIndex,
    ) {
        self.offer(
            artist,
            fetched_at,
            related,
            |a, b| a.related == b.related,
            |a, b| related_order(a, b, index),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(day: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2023, 1, day)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("valid date")
    }

    fn track(id: &str, popularity: Option<i32>, rank: Option<i32>) -> TrackCandidate {
        TrackCandidate::new(id, id, None, None, popularity, rank)
    }

    fn ids(groups: Groups<TrackCandidate>) -> Vec<String> {
        let index = ArtistIndex::default();
        groups
            .into_sorted(&index)
            .into_iter()
            .flat_map(|(_, g)| g.rows.into_iter().map(|t| t.track_id().to_owned()))
            .collect()
    }

    #[test]
    fn ranked_tracks_come_first_then_popularity_then_id() {
        let mut groups = Groups::new(10);
        for t in [
            track("c", Some(50), None),
            track("a", None, None),
            track("b", Some(50), None),
            track("r2", Some(1), Some(2)),
            track("r1", None, Some(1)),
            track("d", Some(90), None),
        ] {
            groups.offer_track(0, at(1), t);
        }
        assert_eq!(ids(groups), ["r1", "r2", "d", "b", "c", "a"]);
    }

    #[test]
    fn only_the_best_kept_are_held_whatever_the_arrival_order() {
        let tracks: Vec<_> = (0..30)
            .map(|n| track(&format!("t{n:02}"), Some(n * 7 % 31), None))
            .collect();
        let mut forward = Groups::new(3);
        let mut backward = Groups::new(3);
        for t in &tracks {
            forward.offer_track(0, at(1), t.clone());
        }
        for t in tracks.iter().rev() {
            backward.offer_track(0, at(1), t.clone());
        }
        assert_eq!(forward.offered(), 30);
        assert_eq!(forward.held(), 3);
        let best = ids(forward);
        assert_eq!(best, ids(backward));
        assert_eq!(best, ["t22", "t13", "t04"]);
    }

    #[test]
    fn a_repeated_track_keeps_its_best_occurrence_even_after_eviction() {
        let mut groups = Groups::new(2);
        groups.offer_track(0, at(2), track("x", Some(10), None));
        groups.offer_track(0, at(2), track("y", Some(80), None));
        groups.offer_track(0, at(2), track("z", Some(70), None));
        // "x" was evicted; a better occurrence of it comes back in.
        groups.offer_track(0, at(1), track("x", Some(90), None));
        groups.offer_track(0, at(3), track("y", Some(5), None));
        let group = &groups.into_sorted(&ArtistIndex::default())[0].1;
        let held: Vec<_> = group
            .rows
            .iter()
            .map(|t| (t.track_id(), t.popularity))
            .collect();
        assert_eq!(held, [("x", Some(90)), ("y", Some(80))]);
        assert_eq!(
            group.fetched_at,
            at(1),
            "the list is as old as its oldest file"
        );
    }

    #[test]
    fn related_scores_keep_their_direction() {
        let mut index = ArtistIndex::default();
        let artist = index.insert("owner");
        let [near, far, close, unknown] =
            ["near", "far", "close", "unknown"].map(|id| index.insert(id));
        let mut groups = Groups::new(10);
        let offers = [
            (far, Some(RelatedScore::Distance(0.9))),
            (near, Some(RelatedScore::Distance(0.1))),
            (unknown, None),
            (close, Some(RelatedScore::Similarity(0.8))),
        ];
        for (related, score) in offers {
            let candidate = RelatedCandidate {
                related,
                rank: None,
                score,
            };
            groups.offer_related(artist, at(1), candidate, &index);
        }
        let rows = &groups.into_sorted(&index)[0].1.rows;
        let order: Vec<&str> = rows.iter().map(|r| index.id(r.related)).collect();
        assert_eq!(order, ["close", "near", "far", "unknown"]);
    }

    #[test]
    fn similarity_ranks_highest_first() {
        let mut index = ArtistIndex::default();
        let artist = index.insert("owner");
        let mut groups = Groups::new(2);
        for (id, similarity) in [("a", 0.2), ("b", 0.9), ("c", 0.5)] {
            let candidate = RelatedCandidate {
                related: index.insert(id),
                rank: None,
                score: Some(RelatedScore::Similarity(similarity)),
            };
            groups.offer_related(artist, at(1), candidate, &index);
        }
        let rows = &groups.into_sorted(&index)[0].1.rows;
        let order: Vec<&str> = rows.iter().map(|r| index.id(r.related)).collect();
        assert_eq!(order, ["b", "c"]);
    }

    #[test]
    fn a_candidate_gives_back_its_texts() {
        let full = TrackCandidate::new(
            "id1",
            "밤편지",
            Some("Palette"),
            Some("https://i/x"),
            None,
            None,
        );
        assert_eq!(
            (
                full.track_id(),
                full.name(),
                full.album_name(),
                full.image_url()
            ),
            ("id1", "밤편지", Some("Palette"), Some("https://i/x"))
        );
        let bare = TrackCandidate::new("id2", "Blueming", None, None, Some(1), Some(2));
        assert_eq!(
            (
                bare.track_id(),
                bare.name(),
                bare.album_name(),
                bare.image_url()
            ),
            ("id2", "Blueming", None, None)
        );
        let no_album = TrackCandidate::new("id3", "x", None, Some("https://i/y"), None, None);
        assert_eq!(
            (no_album.album_name(), no_album.image_url()),
            (None, Some("https://i/y"))
        );
    }

    #[test]
    fn the_index_interns_each_id_once() {
        let mut index = ArtistIndex::default();
        let a = index.insert("A");
        assert_eq!(index.insert("A"), a);
        assert_ne!(index.insert("a"), a, "ids are case-sensitive");
        assert_eq!(index.get("A"), Some(a));
        assert_eq!(index.id(a), "A");
        assert_eq!(index.len(), 2);
    }
}
