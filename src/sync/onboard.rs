//! Onboarding: the one flow that brings named artists into the catalog, for `artistbot
//! add` and for the names users asked for (the request queue) alike.
//!
//! [`onboard`] resolves each input ([`add_artists`]: Spotify ids and links are checked
//! with one lookup, names are resolved through Spotify search within the budget, and the
//! spelling typed becomes an alias when it differs from the artist's name, so the next
//! lookup costs no API call), saves what Spotify taught the client (a block holds for the
//! next caller), records the calls spent as a run of their own (they count against the
//! daily budget), and refreshes the artists it added right away through the runner.

use super::error::SyncError;
use super::options::{RunOptions, Trigger};
use super::progress::Progress;
use super::report::{ApiCalls, RunReport};
use super::runner::Runner;
use crate::catalog::{AddedVia, NewArtist, Source};
use crate::names::{ArtistRef, could_be_a_name, name_key};
use crate::providers::spotify::{SpotifyClient, SpotifyError};
use crate::store::runs::{RunCounts, RunStatus};
use crate::store::{self, Store, StoreError};

/// What one onboarding did.
#[derive(Debug)]
pub(crate) struct Onboarded {
    /// One per input, in the order given.
    pub(crate) outcomes: Vec<AddOutcome>,
    /// Spotify calls spent resolving the inputs.
    pub(crate) resolution_calls: ApiCalls,
    /// Why Spotify could not be called any more, if it stopped while resolving (a block,
    /// the budget): inputs it failed are not their own fault.
    pub(crate) spotify_stopped: Option<String>,
    /// The refresh of the artists added, when one was asked for and any were added.
    pub(crate) refresh: Option<Result<RunReport, SyncError>>,
}

impl Onboarded {
    /// The ids of the artists this onboarding added.
    pub(crate) fn added(&self) -> Vec<String> {
        self.outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                AddOutcome::Added { id, .. } => Some(id.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Onboards `inputs` as one flow (see the module docs) with `spotify`, a client the
/// caller built for this unit of work. With `refresh`, the artists added get their data
/// now, the run's progress going to it. Store errors stop the flow: nothing can be added
/// without the database.
pub(crate) async fn onboard(
    runner: &Runner,
    spotify: &SpotifyClient,
    inputs: &[ArtistRef],
    via: AddedVia,
    refresh: Option<&dyn Progress>,
) -> Result<Onboarded, StoreError> {
    let store = runner.store();
    let outcomes = add_artists(store, spotify, inputs, via).await?;
    runner.engine().save_spotify_state(spotify).await;
    let resolution_calls = ApiCalls::from(spotify.api_calls());
    let trigger = match via {
        AddedVia::Request => Trigger::Request,
        _ => Trigger::Add,
    };
    let mut onboarded = Onboarded {
        outcomes,
        resolution_calls,
        spotify_stopped: spotify.unusable().map(|reason| reason.to_string()),
        refresh: None,
    };
    record_resolution_calls(store, trigger, &onboarded).await;
    let added = onboarded.added();
    if let Some(progress) = refresh
        && !added.is_empty()
    {
        let options = RunOptions {
            trigger,
            only: Some(added),
            force: true,
        };
        onboarded.refresh = Some(runner.run_with_progress(options, progress).await);
    }
    Ok(onboarded)
}

/// Calls spent outside a run still count against the daily Spotify budget, so they are
/// recorded as a run of their own (with the trigger of the onboarding).
async fn record_resolution_calls(store: &Store, trigger: Trigger, onboarded: &Onboarded) {
    let calls = onboarded.resolution_calls.requests;
    if calls == 0 {
        return;
    }
    let now = store::now();
    let counts = RunCounts {
        artists_due: onboarded.outcomes.len() as u64,
        artists_added: onboarded.added().len() as u64,
        spotify_calls: calls,
        ..Default::default()
    };
    let recorded = async {
        let id = store.start_run(trigger.as_str(), None, now).await?;
        store
            .record_run(id, RunStatus::Completed, &counts, None, None, Some(now))
            .await
    };
    if let Err(error) = recorded.await {
        tracing::warn!(%error, "could not record the Spotify calls spent resolving names");
    }
}

/// What became of one thing the user asked to add.
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
    },
    Failed {
        input: String,
        error: String,
    },
}

/// Resolves and adds each input in turn; a failure of one does not stop the others.
/// Store errors do stop: nothing can be added without the database.
pub async fn add_artists(
    store: &Store,
    spotify: &SpotifyClient,
    inputs: &[ArtistRef],
    via: AddedVia,
) -> Result<Vec<AddOutcome>, StoreError> {
    let mut outcomes = Vec::with_capacity(inputs.len());
    for input in inputs {
        let outcome = match input {
            ArtistRef::SpotifyId(id) => add_by_id(store, spotify, id, via).await?,
            ArtistRef::Name(name) => add_by_name(store, spotify, name, via).await?,
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

async fn add_by_id(
    store: &Store,
    spotify: &SpotifyClient,
    id: &str,
    via: AddedVia,
) -> Result<AddOutcome, StoreError> {
    if let Some(artist) = store.artist(id).await? {
        return Ok(AddOutcome::AlreadyPresent {
            id: artist.id,
            name: artist.name,
            alias: None,
        });
    }
    match spotify.artist(id).await {
        Ok(profile) => {
            let name = profile.name.clone();
            insert(store, profile, via).await?;
            Ok(AddOutcome::Added {
                id: id.to_owned(),
                name,
                alias: None,
            })
        }
        Err(SpotifyError::NotFound) => Ok(AddOutcome::NotFound {
            input: id.to_owned(),
            suggestions: Vec::new(),
        }),
        Err(error) => Ok(AddOutcome::Failed {
            input: id.to_owned(),
            error: error.to_string(),
        }),
    }
}

async fn add_by_name(
    store: &Store,
    spotify: &SpotifyClient,
    name: &str,
    via: AddedVia,
) -> Result<AddOutcome, StoreError> {
    let key = name_key(name);
    if let Some(artist) = store.artists_named(&key).await?.into_iter().next() {
        return Ok(AddOutcome::AlreadyPresent {
            id: artist.id,
            name: artist.name,
            alias: None,
        });
    }
    let hits = match spotify.search_artists(name, 10).await {
        Ok(hits) => hits,
        Err(error) => {
            return Ok(AddOutcome::Failed {
                input: name.to_owned(),
                error: error.to_string(),
            });
        }
    };
    let exact = hits.iter().position(|hit| name_key(&hit.name) == key);
    // A name typed in another script ("오마이걸") never matches the catalog name
    // ("OH MY GIRL") letter for letter; Spotify's search (in the configured market)
    // knows such spellings, so its best hit is taken and the spelling kept as an alias.
    // Only for something short enough to be a name: Spotify always has a best hit, even
    // for "안녕하세요", and the spelling would become that artist's alias for good.
    let guessable = !key.is_ascii() && could_be_a_name(name, 20, 2);
    let chosen = exact.or_else(|| (guessable && !hits.is_empty()).then_some(0));
    let Some(index) = chosen else {
        return Ok(AddOutcome::NotFound {
            input: name.to_owned(),
            suggestions: hits.iter().take(3).map(|h| h.name.clone()).collect(),
        });
    };
    let profile = hits
        .into_iter()
        .nth(index)
        .expect("index from the same list");
    let alias = (name_key(&profile.name) != key).then(|| name.trim().to_owned());
    let (id, artist_name) = (profile.id.clone(), profile.name.clone());
    let existed = store.artist(&id).await?.is_some();
    if !existed {
        insert(store, profile, via).await?;
    }
    if let Some(alias) = &alias {
        store
            .add_alias(alias, &id, alias_source(via), store::now())
            .await?;
    }
    Ok(if existed {
        AddOutcome::AlreadyPresent {
            id,
            name: artist_name,
            alias,
        }
    } else {
        AddOutcome::Added {
            id,
            name: artist_name,
            alias,
        }
    })
}

fn alias_source(via: AddedVia) -> &'static str {
    match via {
        AddedVia::Request => "request",
        AddedVia::Import => "import",
        _ => "cli",
    }
}

async fn insert(
    store: &Store,
    profile: crate::catalog::ArtistProfile,
    via: AddedVia,
) -> Result<(), StoreError> {
    store
        .add_artists(
            &[NewArtist {
                profile,
                source: Source::Spotify,
                deezer_id: None,
                deezer_fans: None,
                added_via: via,
            }],
            store::now(),
        )
        .await?;
    Ok(())
}
