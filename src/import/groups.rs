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
use crate::catalog::TopTrack;

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
}

/// A top track waiting for its rank: only what the catalog stores, its four texts (id,
/// name, album name, image url) back to back in one allocation, since the import holds up
/// to `kept` of these per artist and one allocation instead of four takes a third off the
/// memory of a large import. A blank album name or url is absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TrackCandidate {
    text: Box<str>,
    /// Where the id, the name and the album name end in `text`.
    ends: [u32; 3],
    popularity: Option<i32>,
    rank: Option<i32>,
}

impl TrackCandidate {
    /// The id, the name, the album name and the image url.
    fn parts(&self) -> [&str; 4] {
        let [id, name, album] = self.ends.map(|end| end as usize);
        let part = |from: usize, to: usize| self.text.get(from..to).unwrap_or("");
        let image = part(album, self.text.len());
        [part(0, id), part(id, name), part(name, album), image]
    }

    pub(crate) fn track_id(&self) -> &str {
        self.text.get(..self.ends[0] as usize).unwrap_or("")
    }

    /// The track as the store takes it.
    pub(crate) fn to_top_track(&self) -> TopTrack {
        let [id, name, album, image] = self.parts().map(str::to_owned);
        let present = |text: String| Some(text).filter(|t| !t.is_empty());
        TopTrack {
            id,
            name,
            album_name: present(album),
            image_url: present(image),
            popularity: self.popularity,
            // The old bot kept none of these; the sync fills them in.
            deezer_rank: None,
            isrc: None,
            url: None,
            duration_ms: None,
        }
    }
}

impl From<TopTrackRecord> for TrackCandidate {
    fn from(record: TopTrackRecord) -> Self {
        let (album, image) = (record.album_name.unwrap_or_default(), record.image_url);
        let parts = [
            record.track_id,
            record.name,
            album,
            image.unwrap_or_default(),
        ];
        let mut ends = [0; 3];
        let mut text = String::with_capacity(parts.iter().map(String::len).sum());
        for (index, part) in parts.iter().enumerate() {
            text.push_str(part);
            if let Some(end) = ends.get_mut(index) {
                // An item is at most 400 KB: its offsets fit; saturating keeps this total.
                *end = u32::try_from(text.len()).unwrap_or(u32::MAX);
            }
        }
        let (popularity, rank) = (record.popularity, record.rank);
        let text = text.into_boxed_str();
        Self {
            text,
            ends,
            popularity,
            rank,
        }
    }
}

/// A related artist waiting for its rank.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RelatedCandidate {
    pub(crate) related: ArtistKey,
    rank: Option<i32>,
    score: Option<RelatedScore>,
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
        let (kept, by_artist) = (kept.max(1), HashMap::new());
        Self {
            kept,
            by_artist,
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
        // Exactly `kept`: lists never grow past it, so no capacity is wasted.
        let rows = Vec::with_capacity(kept);
        let group = self
            .by_artist
            .entry(artist)
            .or_insert(Group { fetched_at, rows });
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
        self.offer(from, track, same, |a, b| {
            known_first(a.rank, b.rank, |a, b| a.cmp(&b))
                .then_with(|| known_first(a.popularity, b.popularity, |a, b| b.cmp(&a)))
                .then_with(|| a.track_id().cmp(b.track_id()))
        });
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
        self.offer(from, related, same, |a, b| {
            known_first(a.rank, b.rank, |a, b| a.cmp(&b))
                .then_with(|| known_first(a.score, b.score, by_score))
                .then_with(|| index.id(a.related).cmp(index.id(b.related)))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_keep_their_direction_and_ties_go_by_id() {
        let mut index = ArtistIndex::default();
        let at = chrono::DateTime::UNIX_EPOCH.naive_utc();
        let mut groups = Groups::new(10);
        let (near, far) = (RelatedScore::Distance(0.1), RelatedScore::Distance(0.9));
        let (close, closer) = (RelatedScore::Similarity(0.8), RelatedScore::Similarity(0.9));
        let scores = [Some(far), Some(near), None, Some(close), Some(closer), None];
        let ids = ["far", "near", "unknown-b", "close", "closer", "unknown-a"];
        for (id, score) in ids.into_iter().zip(scores) {
            let (related, rank) = (index.insert(id), None);
            let candidate = RelatedCandidate {
                related,
                rank,
                score,
            };
            groups.offer_related((0, at), candidate, &index);
        }
        let rows = &groups.into_sorted(&index)[0].1.rows;
        let order: Vec<&str> = rows.iter().map(|r| index.id(r.related)).collect();
        assert_eq!(
            order,
            ["closer", "close", "near", "far", "unknown-a", "unknown-b"]
        );
    }
}
