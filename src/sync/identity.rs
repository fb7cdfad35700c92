//! Identity: never attach the wrong artist.
//!
//! An artist may enter the catalog from either side: from Spotify (an import, `add` with
//! a Spotify id, Spotify's related artists) it then needs its Deezer match; from Deezer
//! (a name, a Deezer id, Deezer's related artists) it may later get its Spotify id.
//! Names are not identities (Deezer has homonyms, ghosts with no albums, "X feat. Y"
//! composites), so a Spotify artist and a Deezer artist are treated as the same only on
//! strong evidence: an exact folded-name match that nothing casts doubt on, or, when
//! several share the name or the match is doubtful, a recording (ISRC) that Spotify
//! credits to that very Spotify artist. Without it the two stay apart: no data is better
//! than another artist's data.

use std::collections::HashSet;

use crate::catalog::{ArtistProfile, ArtistState, DeezerMapping, is_deezer_born};
use crate::names::name_key;
use crate::providers::deezer::{DeezerArtist, DeezerClient, DeezerError};
use crate::providers::spotify::SpotifyClient;
use crate::store::Store;

use super::error::FetchError;

/// How many doubtful candidates are checked through recordings (each may cost up to
/// [`TRACKS_CHECKED`] Spotify searches).
const CANDIDATES_CHECKED: usize = 2;
/// How many of a Deezer artist's top tracks are looked up by ISRC on Spotify.
const TRACKS_CHECKED: usize = 2;

/// The outcome of matching one artist across providers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Resolution<T> {
    Mapped(T, DeezerMapping),
    /// Settled for now: no candidate (`Unmapped`) or none confirmed (`Ambiguous`).
    NotMapped(DeezerMapping),
    /// Could not decide for a reason a later run gets past (Spotify blocked, budget).
    Deferred(String),
}

/// What the names alone say about a set of candidates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NameVerdict<T> {
    /// One candidate and nothing doubtful about it.
    Accept(T),
    /// Candidates that need a confirming recording.
    Confirm(Vec<T>),
    NoCandidate,
}

/// What makes a lone name match doubtful enough to need a confirming recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DoubtRules {
    /// Catalog artists sharing the folded name, this one included.
    pub(crate) catalog_homonyms: usize,
    /// A candidate with fewer Deezer fans than this may be a namesake of an artist Deezer
    /// does not have; it is confirmed first (a small artist costs one Spotify search once).
    pub(crate) confirm_below_fans: i64,
}

/// Judges Deezer search hits for a catalog artist. `held_elsewhere` are Deezer ids other
/// catalog artists already hold.
pub(crate) fn judge_deezer_candidates(
    key: &str,
    hits: Vec<DeezerArtist>,
    held_elsewhere: &HashSet<i64>,
    rules: DoubtRules,
) -> NameVerdict<DeezerArtist> {
    let exact: Vec<DeezerArtist> = hits
        .into_iter()
        .filter(|hit| name_key(&hit.name) == key)
        .collect();
    let had_exact = !exact.is_empty();
    let some_held = exact.iter().any(|hit| held_elsewhere.contains(&hit.id));
    let mut free: Vec<DeezerArtist> = exact
        .into_iter()
        .filter(|hit| !held_elsewhere.contains(&hit.id))
        .collect();
    if free.is_empty() {
        return if had_exact {
            // The name is taken by another catalog artist on Deezer: a homonym.
            NameVerdict::Confirm(Vec::new())
        } else {
            NameVerdict::NoCandidate
        };
    }
    let doubtful = free.len() > 1
        || some_held
        || rules.catalog_homonyms > 1
        || free
            .iter()
            .any(|hit| hit.albums == Some(0) || hit.fans.unwrap_or(0) < rules.confirm_below_fans);
    if doubtful {
        // Most fans first: the likeliest real artist is checked first.
        free.sort_by_key(|hit| std::cmp::Reverse(hit.fans.unwrap_or(0)));
        NameVerdict::Confirm(free)
    } else {
        NameVerdict::Accept(free.remove(0))
    }
}

/// Finds the Deezer artist for a catalog artist that came from Spotify. `holder_of`
/// names the catalog artist holding a Deezer id, if any: an id a Spotify-linked artist
/// holds is a namesake's; one a Deezer-born artist holds may be this very artist met
/// first through Deezer (the caller merges the two when it wins).
pub(crate) async fn match_on_deezer(
    spotify: &SpotifyClient,
    deezer: &DeezerClient,
    artist: &ArtistState,
    rules: DoubtRules,
    holder_of: impl Fn(i64) -> Option<String>,
) -> Result<Resolution<DeezerArtist>, FetchError> {
    let hits = deezer.search_artists(&artist.name, 25).await?;
    let held_elsewhere: HashSet<i64> = hits
        .iter()
        .filter(|h| name_key(&h.name) == artist.name_key)
        .filter_map(|h| holder_of(h.id).map(|holder| (h.id, holder)))
        .filter(|(_, holder)| *holder != artist.id && !is_deezer_born(holder))
        .map(|(deezer_id, _)| deezer_id)
        .collect();
    match judge_deezer_candidates(&artist.name_key, hits, &held_elsewhere, rules) {
        NameVerdict::NoCandidate => Ok(Resolution::NotMapped(DeezerMapping::Unmapped)),
        NameVerdict::Accept(hit) => Ok(Resolution::Mapped(hit, DeezerMapping::Name)),
        NameVerdict::Confirm(candidates) => {
            for candidate in candidates.into_iter().take(CANDIDATES_CHECKED) {
                match credits_same_recording(
                    spotify,
                    deezer,
                    candidate.id,
                    std::slice::from_ref(&artist.id),
                )
                .await?
                {
                    Confirmation::Confirmed(_) => {
                        return Ok(Resolution::Mapped(candidate, DeezerMapping::Isrc));
                    }
                    Confirmation::Deferred(reason) => return Ok(Resolution::Deferred(reason)),
                    Confirmation::NotConfirmed => {}
                }
            }
            Ok(Resolution::NotMapped(DeezerMapping::Ambiguous))
        }
    }
}

/// Finds the Spotify artist for a Deezer artist (met as a related artist).
pub(crate) async fn match_on_spotify(
    spotify: &SpotifyClient,
    deezer: &DeezerClient,
    store: &Store,
    deezer_artist: &DeezerArtist,
    confirm_below_fans: i64,
) -> Result<Resolution<ArtistProfile>, FetchError> {
    if let Some(reason) = spotify.unusable() {
        return Ok(Resolution::Deferred(reason.to_string()));
    }
    let key = name_key(&deezer_artist.name);
    let hits = match spotify.search_artists(&deezer_artist.name, 10).await {
        Ok(hits) => hits,
        Err(error) if error.stops_spotify() => return Ok(Resolution::Deferred(error.to_string())),
        Err(error) => return Err(error.into()),
    };
    let exact: Vec<ArtistProfile> = {
        let mut seen = HashSet::new();
        hits.into_iter()
            .filter(|hit| name_key(&hit.name) == key && seen.insert(hit.id.clone()))
            .collect()
    };
    if exact.is_empty() {
        return Ok(Resolution::NotMapped(DeezerMapping::Unmapped));
    }
    // A small or album-less Deezer artist may be a namesake of the one Spotify found.
    let weak =
        deezer_artist.albums == Some(0) || deezer_artist.fans.unwrap_or(0) < confirm_below_fans;
    if exact.len() == 1 && !weak {
        // Doubtful when the catalog already matched that Spotify artist to another
        // Deezer artist: then this one is a namesake.
        let held_by = store.artist(&exact[0].id).await?.and_then(|a| a.deezer_id);
        if held_by.is_none_or(|held| held == deezer_artist.id) {
            let only = exact.into_iter().next().expect("one element");
            return Ok(Resolution::Mapped(only, DeezerMapping::Name));
        }
    }
    let candidate_ids: Vec<String> = exact.iter().map(|a| a.id.clone()).collect();
    match credits_same_recording(spotify, deezer, deezer_artist.id, &candidate_ids).await? {
        Confirmation::Confirmed(spotify_id) => {
            let profile = exact
                .into_iter()
                .find(|a| a.id == spotify_id)
                .expect("confirmed id is one of the candidates");
            Ok(Resolution::Mapped(profile, DeezerMapping::Isrc))
        }
        Confirmation::NotConfirmed => Ok(Resolution::NotMapped(DeezerMapping::Ambiguous)),
        Confirmation::Deferred(reason) => Ok(Resolution::Deferred(reason)),
    }
}

/// Whether a Spotify artist and a Deezer artist (each a provider's best hit for the
/// same spelling) are one artist by the identity rules: the same folded name, and a
/// confirming recording when the Deezer side is weak (few fans, no albums).
pub(crate) async fn same_artist(
    spotify: &SpotifyClient,
    deezer: &DeezerClient,
    spotify_artist: &ArtistProfile,
    deezer_artist: &DeezerArtist,
    confirm_below_fans: i64,
) -> Result<Resolution<DeezerMapping>, FetchError> {
    if name_key(&spotify_artist.name) != name_key(&deezer_artist.name) {
        return Ok(Resolution::NotMapped(DeezerMapping::Unmapped));
    }
    let weak =
        deezer_artist.albums == Some(0) || deezer_artist.fans.unwrap_or(0) < confirm_below_fans;
    if !weak {
        return Ok(Resolution::Mapped(DeezerMapping::Name, DeezerMapping::Name));
    }
    match credits_same_recording(
        spotify,
        deezer,
        deezer_artist.id,
        std::slice::from_ref(&spotify_artist.id),
    )
    .await?
    {
        Confirmation::Confirmed(_) => {
            Ok(Resolution::Mapped(DeezerMapping::Isrc, DeezerMapping::Isrc))
        }
        Confirmation::NotConfirmed => Ok(Resolution::NotMapped(DeezerMapping::Ambiguous)),
        Confirmation::Deferred(reason) => Ok(Resolution::Deferred(reason)),
    }
}

enum Confirmation {
    /// The Spotify artist (one of the candidates) credited on the Deezer artist's recording.
    Confirmed(String),
    NotConfirmed,
    Deferred(String),
}

/// Looks up the Deezer artist's top recordings by ISRC on Spotify and reports which
/// candidate, if exactly one, Spotify credits on them.
async fn credits_same_recording(
    spotify: &SpotifyClient,
    deezer: &DeezerClient,
    deezer_id: i64,
    spotify_candidates: &[String],
) -> Result<Confirmation, FetchError> {
    if let Some(reason) = spotify.unusable() {
        return Ok(Confirmation::Deferred(reason.to_string()));
    }
    let top = deezer.top_tracks(deezer_id, TRACKS_CHECKED as u32).await?;
    for entry in top.into_iter().take(TRACKS_CHECKED) {
        let isrc = match entry.track.isrc {
            Some(isrc) => Some(isrc),
            None => match entry.track.id.parse::<i64>() {
                Ok(track_id) => match deezer.track(track_id).await {
                    Ok(full) => full.track.isrc,
                    // One recording Deezer no longer has says nothing: try the next.
                    Err(DeezerError::NotFound) => None,
                    Err(error) => return Err(error.into()),
                },
                Err(_) => None,
            },
        };
        let Some(isrc) = isrc else { continue };
        let recordings = match spotify.tracks_by_isrc(&isrc).await {
            Ok(recordings) => recordings,
            Err(error) if error.stops_spotify() => {
                return Ok(Confirmation::Deferred(error.to_string()));
            }
            Err(error) => return Err(error.into()),
        };
        let credited: HashSet<&String> = recordings
            .iter()
            .flat_map(|r| r.artist_ids.iter())
            .collect();
        let matching: Vec<&String> = spotify_candidates
            .iter()
            .filter(|id| credited.contains(id))
            .collect();
        if let [only] = matching.as_slice() {
            return Ok(Confirmation::Confirmed((*only).clone()));
        }
    }
    Ok(Confirmation::NotConfirmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: i64, name: &str, fans: i64, albums: i64) -> DeezerArtist {
        DeezerArtist {
            id,
            name: name.into(),
            fans: Some(fans),
            albums: Some(albums),
            picture_url: None,
            link: None,
        }
    }

    fn rules(catalog_homonyms: usize) -> DoubtRules {
        DoubtRules {
            catalog_homonyms,
            confirm_below_fans: 1000,
        }
    }

    #[test]
    fn a_single_exact_match_is_accepted() {
        let verdict = judge_deezer_candidates(
            "ive",
            vec![hit(1, "IVE", 100_000, 12), hit(2, "Ive Mendes", 50, 3)],
            &HashSet::new(),
            rules(1),
        );
        assert_eq!(verdict, NameVerdict::Accept(hit(1, "IVE", 100_000, 12)));
    }

    #[test]
    fn namesakes_need_confirmation_most_fans_first() {
        let verdict = judge_deezer_candidates(
            "queen",
            vec![hit(7, "Queen", 75, 1), hit(8, "Queen", 9_000_000, 80)],
            &HashSet::new(),
            rules(1),
        );
        assert_eq!(
            verdict,
            NameVerdict::Confirm(vec![hit(8, "Queen", 9_000_000, 80), hit(7, "Queen", 75, 1)])
        );
    }

    #[test]
    fn a_ghost_without_albums_is_doubtful() {
        let verdict = judge_deezer_candidates(
            "radiohead",
            vec![hit(3, "Radiohead", 10, 0)],
            &HashSet::new(),
            rules(1),
        );
        assert!(matches!(verdict, NameVerdict::Confirm(_)));
    }

    #[test]
    fn a_match_with_few_fans_is_doubtful() {
        let verdict = judge_deezer_candidates(
            "soloact",
            vec![hit(9, "Solo Act", 40, 2)],
            &HashSet::new(),
            rules(1),
        );
        assert!(matches!(verdict, NameVerdict::Confirm(_)));
    }

    #[test]
    fn a_catalog_homonym_makes_even_a_single_match_doubtful() {
        let verdict = judge_deezer_candidates(
            "luna",
            vec![hit(4, "LUNA", 5000, 4)],
            &HashSet::new(),
            rules(2),
        );
        assert!(matches!(verdict, NameVerdict::Confirm(_)));
    }

    #[test]
    fn a_candidate_another_artist_holds_is_not_offered() {
        let held = HashSet::from([4]);
        let verdict =
            judge_deezer_candidates("luna", vec![hit(4, "Luna", 5000, 4)], &held, rules(1));
        assert_eq!(verdict, NameVerdict::Confirm(Vec::new()));
    }

    #[test]
    fn composites_and_near_names_are_not_matches() {
        let verdict = judge_deezer_candidates(
            "ive",
            vec![hit(5, "IVE feat. Someone", 10, 1), hit(6, "IVES", 10, 1)],
            &HashSet::new(),
            rules(1),
        );
        assert_eq!(verdict, NameVerdict::NoCandidate);
    }
}
