//! Resolving what people name (with `artistbot add`, in the request queue, in the
//! starter list) into catalog artists, Deezer first.
//!
//! - A Deezer id or link: one Deezer lookup; the artist joins as a Deezer-born artist.
//! - A name: Deezer's search, where an exact folded-name match that stands out (the only
//!   one, or one with ten times the fans of the next, and not an album-less ghost) is
//!   the artist. Spotify is asked only when Deezer has no such name and an app is
//!   configured: an exact match there joins as a Spotify artist.
//! - A spelling no provider has letter for letter ("오마이걸") becomes an alias of an
//!   artist only on independent evidence: Spotify's and Deezer's best hits for it are one
//!   artist by the identity rules, and neither provider puts that artist first for a
//!   nonsense query too (a search that answers every text with the same popular artist
//!   says nothing about this spelling). Otherwise the best hit is only a *candidate*
//!   the skill may suggest; a user tapping it is the other evidence (see the request
//!   queue).
//! - A Spotify id or link: checked on Spotify (in batches of 50 when the app may).
//!
//! Catalog lookups are done in bulk, provider lookups concurrently (within each
//! provider's pacing and the Spotify budget), and the artists found are added with
//! multi-row statements. Nothing here refreshes data: the caller runs the pipeline.

use std::collections::{HashMap, HashSet};

use futures::StreamExt;
use tokio::sync::OnceCell;

use super::error::FetchError;
use super::identity::{self, Resolution};
use crate::catalog::{AddedVia, ArtistProfile, NewArtist, Source, deezer_born_id};
use crate::names::{ArtistRef, could_be_a_name, name_key};
use crate::providers::deezer::{DeezerArtist, DeezerClient, DeezerError};
use crate::providers::spotify::{SpotifyClient, SpotifyError, SpotifyFeature};
use crate::store::{self, Store, StoreError};

/// What became of one thing someone named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    Added {
        id: String,
        name: String,
        alias: Option<String>,
    },
    AlreadyPresent {
        id: String,
        name: String,
        alias: Option<String>,
    },
    NotFound {
        input: String,
        suggestions: Vec<String>,
        /// A catalog artist a provider's best hit names, without the evidence to make the
        /// input its alias: a suggestion, not an answer.
        candidate: Option<String>,
    },
    Failed {
        input: String,
        error: String,
    },
}

/// A query no artist is named like: the hit a provider puts first for it is what that
/// provider answers to anything.
const NONSENSE_QUERY: &str = "qzxjvkwqzx";
/// A Deezer name match stands out when it has this many times the fans of the next.
const STANDS_OUT: i64 = 10;

/// Resolves names, ids and links against one catalog with one set of clients.
pub struct Resolver<'a> {
    store: &'a Store,
    /// `None`: Deezer alone (the starter list).
    spotify: Option<&'a SpotifyClient>,
    deezer: &'a DeezerClient,
    confirm_below_fans: i64,
    concurrency: usize,
    /// Artists the catalog may still take, when additions are bounded (requests, the
    /// starter list); `None` for `artistbot add`, whose operator chose.
    room: Option<u64>,
    deezer_control: OnceCell<Option<i64>>,
    spotify_control: OnceCell<Option<String>>,
}

/// The part of a resolution that may add an artist or an alias.
struct Found {
    new: Option<NewArtist>,
    outcome: AddOutcome,
}

impl<'a> Resolver<'a> {
    pub fn new(
        store: &'a Store,
        spotify: Option<&'a SpotifyClient>,
        deezer: &'a DeezerClient,
        confirm_below_fans: i64,
        concurrency: usize,
    ) -> Self {
        Self {
            store,
            spotify,
            deezer,
            confirm_below_fans,
            concurrency: concurrency.max(1),
            room: None,
            deezer_control: OnceCell::new(),
            spotify_control: OnceCell::new(),
        }
    }

    /// Adds at most `room` artists.
    pub fn with_room(mut self, room: u64) -> Self {
        self.room = Some(room);
        self
    }

    /// Resolves every input (one outcome each, in order) and adds the artists found, with
    /// `via` as how they entered. A failure of one input does not stop the others; a
    /// store error stops all (nothing can be added without the database).
    pub async fn resolve(
        &self,
        inputs: &[ArtistRef],
        via: AddedVia,
    ) -> Result<Vec<AddOutcome>, StoreError> {
        let present = self.already_present(inputs).await?;
        let batch_profiles = self.spotify_profiles_in_batches(inputs, &present).await;
        let resolved: Vec<Result<Found, StoreError>> =
            futures::stream::iter(inputs.iter().cloned())
                .map(|input| self.resolve_one(input, via, &present, &batch_profiles))
                .buffered(self.concurrency)
                .collect()
                .await;
        let mut found = Vec::with_capacity(resolved.len());
        for result in resolved {
            found.push(result?);
        }
        self.add_found(found).await
    }

    /// What the catalog already holds of the inputs, in two or three queries: by id, by
    /// Deezer id, by folded name or alias.
    async fn already_present(&self, inputs: &[ArtistRef]) -> Result<Present, StoreError> {
        let mut spotify_ids = Vec::new();
        let mut deezer_ids = Vec::new();
        let mut keys = Vec::new();
        for input in inputs {
            match input {
                ArtistRef::SpotifyId(id) => spotify_ids.push(id.clone()),
                ArtistRef::DeezerId(id) => deezer_ids.push(*id),
                ArtistRef::Name(name) => keys.push(name_key(name)),
            }
        }
        Ok(Present {
            by_id: self.store.artist_summaries(&spotify_ids).await?,
            by_deezer_id: self.store.artists_holding_deezer_ids(&deezer_ids).await?,
            by_key: self.store.artists_named_by_keys(&keys).await?,
        })
    }

    /// Spotify profiles of the Spotify ids not in the catalog, 50 per call, when the app
    /// may use `GET /artists?ids=` (otherwise looked up one by one).
    async fn spotify_profiles_in_batches(
        &self,
        inputs: &[ArtistRef],
        present: &Present,
    ) -> HashMap<String, Option<ArtistProfile>> {
        let wanted: Vec<String> = inputs
            .iter()
            .filter_map(|input| match input {
                ArtistRef::SpotifyId(id) if !present.by_id.contains_key(id) => Some(id.clone()),
                _ => None,
            })
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut profiles = HashMap::new();
        let Some(spotify) = self.usable_spotify() else {
            return profiles;
        };
        if wanted.len() < 2 || !spotify.may_use(SpotifyFeature::ArtistsBatch) {
            return profiles;
        }
        for chunk in wanted.chunks(50) {
            match spotify.artists(chunk).await {
                Ok(found) => {
                    for (id, profile) in chunk.iter().zip(found) {
                        profiles.insert(id.clone(), profile);
                    }
                }
                // Refused or failed: the ids are looked up one by one instead.
                Err(_) => break,
            }
        }
        profiles
    }

    async fn resolve_one(
        &self,
        input: ArtistRef,
        via: AddedVia,
        present: &Present,
        batch_profiles: &HashMap<String, Option<ArtistProfile>>,
    ) -> Result<Found, StoreError> {
        let outcome_only = |outcome| Found { new: None, outcome };
        match &input {
            ArtistRef::SpotifyId(id) => {
                if let Some(artist) = present.by_id.get(id) {
                    return Ok(outcome_only(present_as(artist, None)));
                }
                let looked_up = match (batch_profiles.get(id), self.spotify) {
                    (Some(Some(profile)), _) => Ok(profile.clone()),
                    (Some(None), _) => Err(SpotifyError::NotFound),
                    (None, Some(spotify)) => spotify.artist(id).await,
                    (None, None) => Err(SpotifyError::NotConfigured),
                };
                Ok(match looked_up {
                    Ok(profile) => added(profile, Source::Spotify, None, None, via, None),
                    Err(SpotifyError::NotFound) => outcome_only(not_found(id, Vec::new(), None)),
                    Err(SpotifyError::NotConfigured) => outcome_only(AddOutcome::Failed {
                        input: id.clone(),
                        error: "a Spotify id needs a Spotify app: set SPOTIFY_CLIENT_ID and \
                                SPOTIFY_CLIENT_SECRET, or name the artist"
                            .into(),
                    }),
                    Err(error) => outcome_only(failed(id, &error.into())),
                })
            }
            ArtistRef::DeezerId(deezer_id) => {
                let input = format!("deezer:{deezer_id}");
                if let Some(artist) = present.by_deezer_id.get(deezer_id) {
                    return Ok(outcome_only(present_as(artist, None)));
                }
                Ok(match self.deezer.artist(*deezer_id).await {
                    Ok(found) => deezer_born(found, via, None),
                    Err(DeezerError::NotFound) => outcome_only(not_found(&input, Vec::new(), None)),
                    Err(error) => outcome_only(failed(&input, &error.into())),
                })
            }
            ArtistRef::Name(name) => {
                let key = name_key(name);
                if let Some(artist) = present.by_key.get(&key) {
                    return Ok(outcome_only(present_as(artist, None)));
                }
                self.resolve_name(name, &key, via).await
            }
        }
    }

    async fn resolve_name(
        &self,
        name: &str,
        key: &str,
        via: AddedVia,
    ) -> Result<Found, StoreError> {
        let outcome_only = |outcome| Found { new: None, outcome };
        let hits = match self.deezer.search_artists(name, 25).await {
            Ok(hits) => hits,
            Err(error) => return Ok(outcome_only(failed(name, &error.into()))),
        };
        let mut exact: Vec<&DeezerArtist> = hits
            .iter()
            .filter(|hit| name_key(&hit.name) == key)
            .collect();
        exact.sort_by_key(|hit| std::cmp::Reverse(hit.fans.unwrap_or(0)));
        if let Some(chosen) = standing_out(&exact) {
            if let Some(holder) = self.store.artist_holding_deezer_id(chosen.id).await? {
                return Ok(outcome_only(present_as(&holder, None)));
            }
            return Ok(deezer_born(chosen.clone(), via, None));
        }
        if exact.len() > 1 {
            // Namesakes on Deezer and none stands out: the operator says which.
            let suggestions = exact
                .iter()
                .map(|hit| match hit.fans {
                    Some(fans) => format!("deezer:{} ({fans} fans)", hit.id),
                    None => format!("deezer:{}", hit.id),
                })
                .collect();
            return Ok(outcome_only(not_found(name, suggestions, None)));
        }
        let best_deezer = hits.first();
        if let Some(spotify) = self.usable_spotify() {
            let spotify_hits = match spotify.search_artists(name, 10).await {
                Ok(found) => found,
                Err(error) => return Ok(outcome_only(failed(name, &error.into()))),
            };
            if let Some(profile) = spotify_hits.iter().find(|hit| name_key(&hit.name) == key) {
                // Spotify knows the name letter for letter, Deezer does not.
                if let Some(holder) = self
                    .store
                    .artist_summaries(std::slice::from_ref(&profile.id))
                    .await?
                    .remove(&profile.id)
                {
                    return Ok(outcome_only(present_as(&holder, None)));
                }
                return Ok(added(
                    profile.clone(),
                    Source::Spotify,
                    None,
                    None,
                    via,
                    None,
                ));
            }
            if could_be_a_name(name, 30, 4)
                && let (Some(deezer_hit), Some(spotify_hit)) = (best_deezer, spotify_hits.first())
            {
                match self.alias_evidence(spotify_hit, deezer_hit).await {
                    Ok(Some(_)) => {
                        return self.aliased(name, spotify_hit, deezer_hit, via).await;
                    }
                    Ok(None) => {}
                    Err(error) => return Ok(outcome_only(failed(name, &error))),
                }
            }
        }
        let suggestions: Vec<String> = hits.iter().take(3).map(|h| h.name.clone()).collect();
        let candidate = match best_deezer {
            Some(hit) if could_be_a_name(name, 30, 4) && !self.is_deezer_default(hit).await => self
                .store
                .artist_holding_deezer_id(hit.id)
                .await?
                .map(|artist| artist.id),
            _ => None,
        };
        Ok(outcome_only(not_found(name, suggestions, candidate)))
    }

    /// Whether the two best hits for one spelling are one artist that the spelling
    /// really names (see the module docs); the evidence when they are.
    async fn alias_evidence(
        &self,
        spotify_hit: &ArtistProfile,
        deezer_hit: &DeezerArtist,
    ) -> Result<Option<crate::catalog::DeezerMapping>, FetchError> {
        let Some(spotify) = self.spotify else {
            return Ok(None);
        };
        if self.is_deezer_default(deezer_hit).await || self.is_spotify_default(spotify_hit).await {
            return Ok(None);
        }
        match identity::same_artist(
            spotify,
            self.deezer,
            spotify_hit,
            deezer_hit,
            self.confirm_below_fans,
        )
        .await?
        {
            Resolution::Mapped(evidence, _) => Ok(Some(evidence)),
            _ => Ok(None),
        }
    }

    /// The artist both providers agree on for `spelling`: already in the catalog (under
    /// either id), or added with both ids; the spelling becomes its alias.
    async fn aliased(
        &self,
        spelling: &str,
        spotify_hit: &ArtistProfile,
        deezer_hit: &DeezerArtist,
        via: AddedVia,
    ) -> Result<Found, StoreError> {
        let alias = Some(spelling.trim().to_owned());
        if let Some(holder) = self.store.artist_holding_deezer_id(deezer_hit.id).await? {
            return Ok(Found {
                new: None,
                outcome: present_as(&holder, alias),
            });
        }
        if let Some(holder) = self
            .store
            .artist_summaries(std::slice::from_ref(&spotify_hit.id))
            .await?
            .remove(&spotify_hit.id)
        {
            return Ok(Found {
                new: None,
                outcome: present_as(&holder, alias),
            });
        }
        Ok(added(
            spotify_hit.clone(),
            Source::Spotify,
            Some(deezer_hit.id),
            deezer_hit.fans,
            via,
            alias,
        ))
    }

    /// Whether Deezer puts `hit` first for a nonsense query too.
    async fn is_deezer_default(&self, hit: &DeezerArtist) -> bool {
        let control = self
            .deezer_control
            .get_or_init(|| async {
                match self.deezer.search_artists(NONSENSE_QUERY, 1).await {
                    Ok(hits) => hits.first().map(|h| h.id),
                    Err(_) => None,
                }
            })
            .await;
        *control == Some(hit.id)
    }

    /// Spotify, when configured and callable now.
    fn usable_spotify(&self) -> Option<&'a SpotifyClient> {
        self.spotify.filter(|spotify| spotify.unusable().is_none())
    }

    /// Whether Spotify puts `hit` first for a nonsense query too.
    async fn is_spotify_default(&self, hit: &ArtistProfile) -> bool {
        let Some(spotify) = self.spotify else {
            return false;
        };
        let control = self
            .spotify_control
            .get_or_init(|| async {
                match spotify.search_artists(NONSENSE_QUERY, 1).await {
                    Ok(hits) => hits.first().map(|h| h.id.clone()),
                    Err(_) => None,
                }
            })
            .await;
        control.as_deref() == Some(hit.id.as_str())
    }

    /// Adds the artists found (each once, within the room left), records the aliases,
    /// and turns a second find of one artist into "already present".
    async fn add_found(&self, found: Vec<Found>) -> Result<Vec<AddOutcome>, StoreError> {
        let now = store::now();
        let mut adding: Vec<NewArtist> = Vec::new();
        let mut added_ids: HashSet<String> = HashSet::new();
        let mut added_deezer: HashSet<i64> = HashSet::new();
        let mut outcomes = Vec::with_capacity(found.len());
        let room = self.room.map(|room| room as usize);
        for Found { new, outcome } in found {
            let Some(new) = new else {
                outcomes.push(outcome);
                continue;
            };
            let twice = added_ids.contains(&new.profile.id)
                || new.deezer_id.is_some_and(|dz| added_deezer.contains(&dz));
            if twice {
                outcomes.push(match outcome {
                    AddOutcome::Added { id, name, alias } => {
                        AddOutcome::AlreadyPresent { id, name, alias }
                    }
                    other => other,
                });
                continue;
            }
            if room.is_some_and(|room| adding.len() >= room) {
                let input = new.profile.name.clone();
                outcomes.push(AddOutcome::Failed {
                    input,
                    error: "the catalog is full (CATALOG_MAX_ARTISTS)".into(),
                });
                continue;
            }
            added_ids.insert(new.profile.id.clone());
            added_deezer.extend(new.deezer_id);
            adding.push(new);
            outcomes.push(outcome);
        }
        self.store.add_artists(&adding, now).await?;
        for outcome in &outcomes {
            if let AddOutcome::Added {
                id,
                alias: Some(alias),
                ..
            }
            | AddOutcome::AlreadyPresent {
                id,
                alias: Some(alias),
                ..
            } = outcome
            {
                self.store.add_alias(alias, id, "providers", now).await?;
            }
        }
        Ok(outcomes)
    }
}

/// What the catalog already holds of a resolution's inputs.
struct Present {
    by_id: HashMap<String, store::artists::ArtistSummary>,
    by_deezer_id: HashMap<i64, store::artists::ArtistSummary>,
    by_key: HashMap<String, store::artists::ArtistSummary>,
}

/// The exact name match that stands out among `exact` (most fans first): the only one,
/// or one with [`STANDS_OUT`] times the fans of the next; never an album-less ghost.
fn standing_out<'h>(exact: &[&'h DeezerArtist]) -> Option<&'h DeezerArtist> {
    let first = *exact.first()?;
    if first.albums == Some(0) {
        return None;
    }
    match exact.get(1) {
        None => Some(first),
        Some(second) => {
            let (a, b) = (first.fans.unwrap_or(0), second.fans.unwrap_or(0));
            (a >= b.saturating_mul(STANDS_OUT) && a > 0).then_some(first)
        }
    }
}

fn present_as(artist: &store::artists::ArtistSummary, alias: Option<String>) -> AddOutcome {
    AddOutcome::AlreadyPresent {
        id: artist.id.clone(),
        name: artist.name.clone(),
        alias,
    }
}

fn not_found(input: &str, suggestions: Vec<String>, candidate: Option<String>) -> AddOutcome {
    AddOutcome::NotFound {
        input: input.to_owned(),
        suggestions,
        candidate,
    }
}

fn failed(input: &str, error: &FetchError) -> AddOutcome {
    AddOutcome::Failed {
        input: input.to_owned(),
        error: error.to_string(),
    }
}

fn added(
    profile: ArtistProfile,
    source: Source,
    deezer_id: Option<i64>,
    deezer_fans: Option<i64>,
    via: AddedVia,
    alias: Option<String>,
) -> Found {
    let outcome = AddOutcome::Added {
        id: profile.id.clone(),
        name: profile.name.clone(),
        alias,
    };
    Found {
        new: Some(NewArtist {
            profile,
            source,
            deezer_id,
            deezer_fans,
            added_via: via,
        }),
        outcome,
    }
}

/// A Deezer artist joining as a Deezer-born catalog artist.
fn deezer_born(found: DeezerArtist, via: AddedVia, alias: Option<String>) -> Found {
    let profile = ArtistProfile {
        id: deezer_born_id(found.id),
        name: found.name,
        followers: None,
        popularity: None,
        url: None,
        image_url: found.picture_url,
        genres: Vec::new(),
    };
    added(
        profile,
        Source::Deezer,
        Some(found.id),
        found.fans,
        via,
        alias,
    )
}
