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
//! items arrive in. Must not touch: files, the store.

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::record::{RelatedRecord, RelatedScore, TopTrackRecord};

/// A known artist, interned: rows hold 4 bytes instead of a 22-character id.
pub(crate) type ArtistKey = u32;

/// The artist ids an import may refer to: the catalog's and the ones the import brings.
#[derive(Debug, Default)]
pub(crate) struct ArtistIndex {
    keys: HashMap<Box<str>, ArtistKey>,
    ids: Vec<Box<str>>,
}

impl ArtistIndex {
    /// The key of `id`, added if new.
    pub(crate) fn insert(&mut self, id: &str) -> ArtistKey {
        if let Some(&key) = self.keys.get(id) {
            return key;
        }
        // Four billion artists cannot come out of any realistic run; saturating keeps this
        // total without a panic path.
        let key = ArtistKey::try_from(self.ids.len()).unwrap_or(ArtistKey::MAX);
        self.ids.push(id.into());
        self.keys.insert(id.into(), key);
        key
    }

    pub(crate) fn get(&self, id: &str) -> Option<ArtistKey> {
        self.keys.get(id).copied()
    }

    /// The id of `key`; empty for a key this index never gave out.
    pub(crate) fn id(&self, key: ArtistKey) -> &str {
        self.ids.get(key as usize).map_or("", |id| id)
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

/// A top track waiting for its rank: only what the catalog stores, its four texts (id,
/// name, album name, image url) back to back in one allocation, since the import holds up
/// to `kept` of these per artist and one allocation instead of four takes a third off the
/// memory of a large import. A blank album name or url is absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TrackCandidate {
    text: Box<str>,
    /// Where the id, the name and the album name end in `text`.
    ends: [usize; 3],
    pub(crate) popularity: Option<i32>,
    pub(crate) rank: Option<i32>,
}

impl TrackCandidate {
    fn part(&self, index: usize) -> &str {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        let end = self.ends.get(index).copied().unwrap_or(self.text.len());
        self.text.get(start..end).unwrap_or("")
    }

    pub(crate) fn track_id(&self) -> &str {
        self.part(0)
    }

    pub(crate) fn name(&self) -> &str {
        self.part(1)
    }

    pub(crate) fn album_name(&self) -> Option<&str> {
        Some(self.part(2)).filter(|a| !a.is_empty())
    }

    pub(crate) fn image_url(&self) -> Option<&str> {
        Some(self.part(3)).filter(|u| !u.is_empty())
    }
}

impl From<TopTrackRecord> for TrackCandidate {
    fn from(record: TopTrackRecord) -> Self {
        let parts = [
            record.track_id.as_str(),
            &record.name,
            record.album_name.as_deref().unwrap_or(""),
            record.image_url.as_deref().unwrap_or(""),
        ];
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0; 3];
        for (index, part) in parts.into_iter().enumerate() {
            text.push_str(part);
            if let Some(end) = ends.get_mut(index) {
                *end = text.len();
            }
        }
        Self {
            text: text.into_boxed_str(),
            ends,
            popularity: record.popularity,
            rank: record.rank,
        }
    }
}

/// A related artist waiting for its rank.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RelatedCandidate {
    pub(crate) related: ArtistKey,
    pub(crate) rank: Option<i32>,
    pub(crate) score: Option<RelatedScore>,
}

impl RelatedCandidate {
    pub(crate) fn new(related: ArtistKey, record: &RelatedRecord) -> Self {
        let (rank, score) = (record.rank, record.score);
        Self {
            related,
            rank,
            score,
        }
    }
}

/// `Some` before `None`; two `Some`s by `order`.
fn known_first<T>(a: Option<T>, b: Option<T>, order: impl Fn(T, T) -> Ordering) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => order(a, b),
        (a, b) => b.is_some().cmp(&a.is_some()),
    }
}

/// Closest first, in each score's own direction. A list mixing similarities and distances
/// has no common scale: similarities go first, so the order stays fixed.
fn by_score(a: RelatedScore, b: RelatedScore) -> Ordering {
    use RelatedScore::{Distance, Similarity};
    match (a, b) {
        (Similarity(a), Similarity(b)) => b.total_cmp(&a),
        (Distance(a), Distance(b)) => a.total_cmp(&b),
        (Similarity(_), Distance(_)) => Ordering::Less,
        (Distance(_), Similarity(_)) => Ordering::Greater,
    }
}

/// The order of one artist's top tracks, best first.
fn track_order(a: &TrackCandidate, b: &TrackCandidate) -> Ordering {
    known_first(a.rank, b.rank, |a, b| a.cmp(&b))
        .then_with(|| known_first(a.popularity, b.popularity, |a, b| b.cmp(&a)))
        .then_with(|| a.track_id().cmp(b.track_id()))
}

/// The order of one artist's related artists, most related first.
fn related_order(a: &RelatedCandidate, b: &RelatedCandidate, index: &ArtistIndex) -> Ordering {
    known_first(a.rank, b.rank, |a, b| a.cmp(&b))
        .then_with(|| known_first(a.score, b.score, by_score))
        .then_with(|| index.id(a.related).cmp(index.id(b.related)))
}

/// One artist's best rows so far, best first.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Group<T> {
    /// When the oldest file that contributed to the list was fetched.
    pub(crate) fetched_at: NaiveDateTime,
    pub(crate) rows: Vec<T>,
}

/// Every artist's best rows, at most `kept` each.
#[derive(Debug)]
pub(crate) struct Groups<T> {
    kept: usize,
    by_artist: HashMap<ArtistKey, Group<T>>,
    offered: u64,
}

impl<T> Groups<T> {
    pub(crate) fn new(kept: usize) -> Self {
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
        (artist, fetched_at): (ArtistKey, NaiveDateTime),
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
            rows.truncate(kept - 1);
            rows.insert(at, candidate);
        }
    }

    /// Rows offered and not held: beyond the `kept` per artist, or repeated.
    pub(crate) fn left_out(&self) -> u64 {
        let held: usize = self.by_artist.values().map(|g| g.rows.len()).sum();
        self.offered - held as u64
    }

    /// Artists with at least one row.
    pub(crate) fn artists(&self) -> usize {
        self.by_artist.len()
    }

    /// The groups in artist id order (so writes, and their batches, are deterministic).
    pub(crate) fn into_sorted(self, index: &ArtistIndex) -> Vec<(ArtistKey, Group<T>)> {
        let mut groups: Vec<_> = self.by_artist.into_iter().collect();
        groups.sort_by(|(a, _), (b, _)| index.id(*a).cmp(index.id(*b)));
        groups
    }
}

impl Groups<TrackCandidate> {
    pub(crate) fn offer_track(&mut self, from: (ArtistKey, NaiveDateTime), track: TrackCandidate) {
        let same = |a: &TrackCandidate, b: &TrackCandidate| a.track_id() == b.track_id();
        self.offer(from, track, same, track_order);
    }
}

impl Groups<RelatedCandidate> {
    pub(crate) fn offer_related(
        &mut self,
        from: (ArtistKey, NaiveDateTime),
        related: RelatedCandidate,
        index: &ArtistIndex,
    ) {
        let same = |a: &RelatedCandidate, b: &RelatedCandidate| a.related == b.related;
        self.offer(from, related, same, |a, b| related_order(a, b, index));
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
        TrackCandidate::from(TopTrackRecord {
            artist_id: "a".into(),
            track_id: id.into(),
            name: format!("{id} name"),
            popularity,
            album_name: None,
            image_url: Some(format!("https://i/{id}")),
            rank,
            ignored_attributes: Vec::new(),
        })
    }

    fn held(groups: Groups<TrackCandidate>) -> Vec<(String, Option<i32>)> {
        let sorted = groups.into_sorted(&ArtistIndex::default());
        let rows = sorted.into_iter().flat_map(|(_, g)| g.rows);
        rows.map(|t| (t.track_id().to_owned(), t.popularity))
            .collect()
    }

    #[test]
    fn ranked_tracks_come_first_then_popularity_then_id() {
        let mut groups = Groups::new(10);
        for (id, popularity, rank) in [
            ("c", Some(50), None),
            ("a", None, None),
            ("b", Some(50), None),
            ("r2", Some(1), Some(2)),
            ("r1", None, Some(1)),
            ("d", Some(90), None),
        ] {
            groups.offer_track((0, at(1)), track(id, popularity, rank));
        }
        let ids: Vec<_> = held(groups).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["r1", "r2", "d", "b", "c", "a"]);
    }

    #[test]
    fn only_the_best_kept_are_held_whatever_the_arrival_order_and_repeats_keep_the_best() {
        let tracks: Vec<_> = (0..30)
            .map(|n| track(&format!("t{n:02}"), Some(n * 7 % 31), None))
            .collect();
        let (mut forward, mut backward) = (Groups::new(3), Groups::new(3));
        tracks
            .iter()
            .for_each(|t| forward.offer_track((0, at(2)), t.clone()));
        tracks
            .iter()
            .rev()
            .for_each(|t| backward.offer_track((0, at(2)), t.clone()));
        // "t04" was evicted long ago; a better occurrence of it comes back in, from an
        // older file, and a worse one of "t22" changes nothing.
        forward.offer_track((0, at(1)), track("t04", Some(99), None));
        forward.offer_track((0, at(3)), track("t22", Some(0), None));
        assert_eq!(forward.left_out(), 29);
        assert_eq!(backward.artists(), 1);
        let best = held(backward);
        assert_eq!(
            best,
            [("t22", 30), ("t13", 29), ("t04", 28)].map(|(t, p)| (t.into(), Some(p)))
        );
        let group = &forward.into_sorted(&ArtistIndex::default())[0].1;
        assert_eq!(
            group.fetched_at,
            at(1),
            "a list is as old as its oldest file"
        );
        assert_eq!(group.rows[0].popularity, Some(99));
        assert_eq!(
            (
                group.rows[0].name(),
                group.rows[0].album_name(),
                group.rows[0].image_url()
            ),
            ("t04 name", None, Some("https://i/t04"))
        );
    }

    #[test]
    fn related_scores_keep_their_direction() {
        let mut index = ArtistIndex::default();
        let artist = index.insert("owner");
        let mut groups = Groups::new(10);
        let offers = [
            ("far", Some(RelatedScore::Distance(0.9))),
            ("near", Some(RelatedScore::Distance(0.1))),
            ("unknown", None),
            ("close", Some(RelatedScore::Similarity(0.8))),
            ("closer", Some(RelatedScore::Similarity(0.9))),
        ];
        for (id, score) in offers {
            let related = index.insert(id);
            let candidate = RelatedCandidate {
                related,
                rank: None,
                score,
            };
            groups.offer_related((artist, at(1)), candidate, &index);
        }
        let rows = &groups.into_sorted(&index)[0].1.rows;
        let order: Vec<&str> = rows.iter().map(|r| index.id(r.related)).collect();
        assert_eq!(order, ["closer", "close", "near", "far", "unknown"]);
        assert_eq!(index.get("owner"), Some(artist));
        assert_eq!(index.insert("owner"), artist);
        assert_ne!(index.insert("OWNER"), artist, "ids are case-sensitive");
    }
}
