//! "혹시 이 아티스트?": close catalog names for a name the catalog does not know.
//!
//! Owns the matching rule ([`NameIndex::suggest`]: prefix, then small edit distance, then
//! containment, all on folded names) and the in-memory copy of the catalog's names it
//! runs on ([`Suggester`]).
//!
//! Why in memory: a miss must stay fast, and neither `LIKE '%x%'` nor an edit distance
//! can use an index, so asking the database would scan every name on every miss. The
//! catalog holds a few thousand artists (5,000 at most by default): their names and
//! aliases fit in well under a megabyte, a full scan of them in memory takes about a
//! millisecond, and one statement reads them all. The copy is refreshed at most every
//! `SKILL_NAMES_REFRESH` (5 minutes by default), in the background, so a request never
//! waits for a refresh except the very first miss of a process that could not load the
//! names at start. A new artist shows up in suggestions within that interval; exact hits
//! never depend on this copy.
//!
//! This module reads through the store only; it never writes and never calls a provider.

use std::cmp::Reverse;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::store::Store;
use crate::store::skill::CatalogName;

/// Characters of a query beyond which edit distance is not tried: a typo of a name is
/// short, and the cost grows with the length.
const MAX_EDIT_DISTANCE_QUERY_CHARS: usize = 40;
/// Shortest query that may match as a prefix or inside a name: one Latin letter matches
/// half the catalog.
const MIN_PARTIAL_QUERY_CHARS: usize = 2;

/// Folded catalog names, ready to be matched.
#[derive(Debug, Default)]
pub(crate) struct NameIndex {
    entries: Vec<IndexedName>,
}

#[derive(Debug)]
struct IndexedName {
    key: String,
    key_chars: Vec<char>,
    artist_id: String,
    artist_name: String,
    /// Followers, else Deezer fans: breaks ties toward the artist people mean.
    popularity: i64,
}

/// How well a name matches; smaller is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Closeness {
    /// The query is the beginning of the name ("newjean" → "newjeans").
    Prefix { extra_chars: usize },
    /// A few letters differ ("오마이갈" → "오마이걸").
    Typo { edits: usize },
    /// One contains the other ("아이유노래" ⊃ "아이유").
    Contains,
}

impl NameIndex {
    /// Indexes the catalog's names (keys already folded by the store).
    pub(crate) fn new(names: Vec<CatalogName>) -> NameIndex {
        let entries = names
            .into_iter()
            .filter(|name| !name.key.is_empty())
            .map(|name| IndexedName {
                key_chars: name.key.chars().collect(),
                key: name.key,
                artist_id: name.artist_id,
                artist_name: name.artist_name,
                popularity: name.followers.or(name.deezer_fans).unwrap_or(0),
            })
            .collect();
        NameIndex { entries }
    }

    /// Names indexed (artist names and aliases).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Up to `max` artist names close to the folded query `key`, best first, one per
    /// artist: prefix matches, then names a few edits away (1 for short names, up to 3
    /// for long ones), then names containing or contained in the query; ties go to the
    /// more followed artist.
    pub(crate) fn suggest(&self, key: &str, max: usize) -> Vec<String> {
        let query: Vec<char> = key.chars().collect();
        if query.is_empty() || max == 0 {
            return Vec::new();
        }
        let max_edits = match query.len() {
            0..=3 => 1,
            4..=7 => 2,
            _ => 3,
        };
        let mut scratch = Vec::new();
        let mut found: Vec<(Closeness, Reverse<i64>, usize, &IndexedName)> = Vec::new();
        for entry in &self.entries {
            let Some(closeness) = closeness(&query, key, entry, max_edits, &mut scratch) else {
                continue;
            };
            found.push((
                closeness,
                Reverse(entry.popularity),
                entry.key_chars.len(),
                entry,
            ));
        }
        found.sort_by(|a, b| (a.0, a.1, a.2, &a.3.key).cmp(&(b.0, b.1, b.2, &b.3.key)));
        let mut artists: Vec<&str> = Vec::new();
        let mut names = Vec::new();
        for (_, _, _, entry) in found {
            if names.len() == max {
                break;
            }
            if artists.contains(&entry.artist_id.as_str()) {
                continue;
            }
            artists.push(&entry.artist_id);
            names.push(entry.artist_name.clone());
        }
        names
    }
}

fn closeness(
    query: &[char],
    key: &str,
    entry: &IndexedName,
    max_edits: usize,
    scratch: &mut Vec<usize>,
) -> Option<Closeness> {
    let partial_ok = query.len() >= MIN_PARTIAL_QUERY_CHARS;
    if partial_ok && entry.key.starts_with(key) {
        return Some(Closeness::Prefix {
            extra_chars: entry.key_chars.len() - query.len(),
        });
    }
    if query.len() <= MAX_EDIT_DISTANCE_QUERY_CHARS
        && entry.key_chars.len().abs_diff(query.len()) <= max_edits
        && let Some(edits) = bounded_edit_distance(query, &entry.key_chars, max_edits, scratch)
    {
        return Some(Closeness::Typo { edits });
    }
    let contained = entry.key_chars.len() >= MIN_PARTIAL_QUERY_CHARS && key.contains(&entry.key);
    if partial_ok && (entry.key.contains(key) || contained) {
        return Some(Closeness::Contains);
    }
    None
}

/// Levenshtein distance between `a` and `b` when it is at most `bound`, else `None`;
/// stops as soon as a row proves the bound exceeded.
fn bounded_edit_distance(
    a: &[char],
    b: &[char],
    bound: usize,
    row: &mut Vec<usize>,
) -> Option<usize> {
    row.clear();
    row.extend(0..=b.len());
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        let mut row_min = row[0];
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
            row_min = row_min.min(row[j + 1]);
        }
        if row_min > bound {
            return None;
        }
    }
    let distance = row[b.len()];
    (distance <= bound).then_some(distance)
}

/// The in-memory [`NameIndex`] of the catalog and its refresh policy. Cheap to share
/// behind an `Arc`.
#[derive(Debug)]
pub(crate) struct Suggester {
    store: Store,
    refresh_every: Duration,
    loaded: RwLock<Option<Arc<LoadedIndex>>>,
    /// Set while one load is running, so concurrent misses never start a second.
    loading: AtomicBool,
}

#[derive(Debug)]
struct LoadedIndex {
    index: NameIndex,
    loaded_at: Instant,
}

impl Suggester {
    pub(crate) fn new(store: Store, refresh_every: Duration) -> Suggester {
        Suggester {
            store,
            refresh_every,
            loaded: RwLock::new(None),
            loading: AtomicBool::new(false),
        }
    }

    /// Loads the names in the background (at start, so the first miss finds them).
    pub(crate) fn load_in_background(self: &Arc<Self>) {
        self.start_load();
    }

    /// Up to `max` names close to `key`, from the copy in memory. A stale copy is used
    /// while a fresh one loads in the background; without any copy this waits for the
    /// first load, at most `budget` (no suggestions when it does not finish in time).
    pub(crate) async fn suggest(
        self: &Arc<Self>,
        key: &str,
        max: usize,
        budget: Duration,
    ) -> Vec<String> {
        if let Some(loaded) = self.current() {
            if loaded.loaded_at.elapsed() >= self.refresh_every {
                self.start_load();
            }
            return loaded.index.suggest(key, max);
        }
        // Another request may be loading them already; then this one goes without.
        let Some(load) = self.start_load() else {
            return Vec::new();
        };
        if tokio::time::timeout(budget, load).await.is_err() {
            tracing::warn!("the catalog's names did not load within {budget:?}: no suggestions");
        }
        self.current()
            .map(|loaded| loaded.index.suggest(key, max))
            .unwrap_or_default()
    }

    /// Starts a load on its own task unless one is running. The task finishes even when
    /// the request that started it stops waiting, so the work serves the next one.
    fn start_load(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        self.loading
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        let this = self.clone();
        Some(tokio::spawn(async move {
            let _clear = ClearOnDrop(&this.loading);
            this.load().await;
        }))
    }

    fn current(&self) -> Option<Arc<LoadedIndex>> {
        match self.loaded.read() {
            Ok(loaded) => loaded.clone(),
            // A panic elsewhere while holding the lock cannot leave a half-written Arc.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    async fn load(&self) {
        let started = Instant::now();
        match self.store.catalog_names().await {
            Ok(names) => {
                let index = NameIndex::new(names);
                tracing::debug!(
                    names = index.len(),
                    took_ms = started.elapsed().as_millis() as u64,
                    "loaded the catalog's names for suggestions"
                );
                let fresh = Arc::new(LoadedIndex {
                    index,
                    loaded_at: Instant::now(),
                });
                match self.loaded.write() {
                    Ok(mut slot) => *slot = Some(fresh),
                    Err(poisoned) => *poisoned.into_inner() = Some(fresh),
                }
            }
            // The old copy (if any) stays in use; the next miss tries again.
            Err(error) => tracing::warn!(%error, "could not load the catalog's names"),
        }
    }
}

/// Clears the `loading` flag when the load ends, also if it panics.
struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::name_key;

    fn name(display: &str, id: &str, followers: Option<i64>) -> CatalogName {
        CatalogName {
            key: name_key(display),
            artist_id: id.to_owned(),
            artist_name: display.to_owned(),
            followers,
            deezer_fans: None,
        }
    }

    fn alias(alias: &str, id: &str, display: &str) -> CatalogName {
        CatalogName {
            key: name_key(alias),
            artist_id: id.to_owned(),
            artist_name: display.to_owned(),
            followers: None,
            deezer_fans: None,
        }
    }

    fn index() -> NameIndex {
        NameIndex::new(vec![
            name("OH MY GIRL", "omg", Some(900_000)),
            alias("오마이걸", "omg", "OH MY GIRL"),
            name("NewJeans", "nj", Some(5_000_000)),
            name("New Hope Club", "nhc", Some(300_000)),
            name("IU", "iu", Some(9_000_000)),
            alias("아이유", "iu", "IU"),
            name("IVE", "ive", Some(4_000_000)),
            name("BLACKPINK", "bp", Some(50_000_000)),
            name("Black Eyed Peas", "bep", Some(10_000_000)),
        ])
    }

    #[test]
    fn a_typo_in_a_hangul_alias_suggests_the_artist_by_its_name() {
        assert_eq!(index().suggest(&name_key("오마이갈"), 3), ["OH MY GIRL"]);
    }

    #[test]
    fn a_prefix_suggests_every_name_it_begins_ranked_by_followers() {
        assert_eq!(
            index().suggest(&name_key("new"), 3),
            ["NewJeans", "New Hope Club"]
        );
        assert_eq!(
            index().suggest(&name_key("black"), 3),
            ["BLACKPINK", "Black Eyed Peas"]
        );
    }

    #[test]
    fn prefixes_come_before_typos_and_typos_before_containment() {
        let index = NameIndex::new(vec![
            name("abcd", "exact", Some(100)),
            name("zzabcdzz", "contains", Some(999)),
            name("abce", "typo", Some(1)),
            name("abcdef", "prefix", Some(0)),
        ]);
        assert_eq!(index.suggest("abcd", 3), ["abcd", "abcdef", "abce"]);
        assert_eq!(index.suggest("abcd", 4)[3], "zzabcdzz");
    }

    #[test]
    fn a_query_containing_a_name_suggests_it() {
        assert_eq!(index().suggest(&name_key("아이유 노래"), 3), ["IU"]);
    }

    #[test]
    fn one_artist_is_suggested_once_whichever_names_match() {
        let found = index().suggest(&name_key("ohmygir"), 3);
        assert_eq!(found, ["OH MY GIRL"]);
    }

    #[test]
    fn nothing_close_suggests_nothing() {
        assert!(index().suggest(&name_key("Radiohead"), 3).is_empty());
        assert!(index().suggest("", 3).is_empty());
    }

    #[test]
    fn a_single_letter_only_matches_by_a_single_edit() {
        let found = index().suggest("i", 3);
        assert_eq!(found, ["IU"], "one edit from 'iu'; 'ive' is two away");
    }

    #[test]
    fn bounded_edit_distance_stops_past_the_bound() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        let mut row = Vec::new();
        assert_eq!(
            bounded_edit_distance(&chars("kitten"), &chars("sitting"), 3, &mut row),
            Some(3)
        );
        assert_eq!(
            bounded_edit_distance(&chars("kitten"), &chars("sitting"), 2, &mut row),
            None
        );
        assert_eq!(
            bounded_edit_distance(&chars("오마이갈"), &chars("오마이걸"), 1, &mut row),
            Some(1)
        );
    }

    #[test]
    fn five_thousand_names_are_searched_in_a_few_milliseconds() {
        let names = (0..5000)
            .map(|n| {
                name(
                    &format!("artist number {n} the band"),
                    &n.to_string(),
                    Some(n),
                )
            })
            .collect();
        let index = NameIndex::new(names);
        let started = Instant::now();
        for query in ["artistnumber12", "zzzzzzzzzz", "오마이걸", "thebandx"] {
            index.suggest(query, 3);
        }
        // Generous for a debug build on a busy machine; release is far below.
        assert!(started.elapsed() < Duration::from_millis(400));
    }
}
