//! The run's Spotify phase: where the Spotify budget goes, in the plan's order (artists
//! users asked for first, then those named with `add`, then the starter list, then the
//! rest), so a budget is never spent on growth while a wanted artist waits.
//!
//! For each due artist in turn:
//! - a Deezer-born artist due for a link: its Spotify id is sought with the identity
//!   rules ([`super::identity::match_on_spotify`]: an exact folded name nothing casts
//!   doubt on, or a recording Spotify credits to it) and, when proven, the artist is
//!   re-keyed to it or merged with the catalog artist already under it;
//! - a Spotify-linked artist whose profile is due (and not refreshed in a batch): its
//!   profile is fetched now, for its refresh to write.
//!
//! It stops at the first reason no further Spotify call can be made (a block, the budget
//! spent): the artists not reached stay due, and Deezer work carries on without them.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::context::RunContext;
use super::error::FetchError;
use super::identity::{self, Resolution};
use super::plan::ArtistTask;
use crate::catalog::{ArtistProfile, ArtistState, DeezerMapping, SpotifyLink};
use crate::providers::deezer::DeezerArtist;
use crate::store::identity::Joined;
use crate::telemetry::escaped;

/// What the Spotify phase did, for the rest of the run.
#[derive(Debug, Default)]
pub(crate) struct SpotifyPhase {
    /// Old id → new id of every artist linked (re-keyed or merged).
    pub(crate) renamed: HashMap<String, String>,
    /// Spotify profiles fetched for the artists' refreshes, by artist id.
    pub(crate) profiles: HashMap<String, ArtistProfile>,
    /// Deezer-born artists whose Spotify id was sought to the end (linked, or found
    /// wanting), by their id when the phase began; the others wait for a later run.
    pub(crate) sought: HashSet<String>,
}

/// What one artist's turn in the phase did.
enum Turn {
    Linked {
        from: String,
        to: String,
    },
    /// Sought, and not linked (no proof, or held by another artist).
    NotLinked(String),
    Profile(ArtistProfile),
    Nothing,
}

/// Runs the phase over `tasks` (already in the plan's order), `concurrency` at a time.
pub(crate) async fn spotify_phase(
    ctx: &RunContext,
    tasks: &[ArtistTask],
    batched_profiles: &HashSet<String>,
    concurrency: usize,
    shutdown: &CancellationToken,
) -> SpotifyPhase {
    let mut phase = SpotifyPhase::default();
    if !ctx.spotify.is_configured() {
        return phase;
    }
    let wanted: Vec<ArtistTask> = tasks
        .iter()
        .filter(|task| {
            task.link_due
                || (task.profile_due
                    && !task.artist.is_deezer_born()
                    && !batched_profiles.contains(&task.artist.id))
        })
        .cloned()
        .collect();
    // `buffered` keeps the plan's order: turns start in demand order, and no more turns
    // run at once than the budget has calls, so a small budget goes to the first.
    let width = concurrency
        .max(1)
        .min(ctx.spotify.budget_remaining().max(1) as usize);
    let mut turns = futures::stream::iter(wanted)
        .take_while(|_| {
            std::future::ready(!shutdown.is_cancelled() && ctx.spotify.unusable().is_none())
        })
        .map(|task| take_turn(ctx, task))
        .buffered(width);
    while let Some(turn) = turns.next().await {
        match turn {
            Turn::Linked { from, to } => {
                phase.sought.insert(from.clone());
                phase.renamed.insert(from, to);
            }
            Turn::NotLinked(id) => {
                phase.sought.insert(id);
            }
            Turn::Profile(profile) => {
                phase.profiles.insert(profile.id.clone(), profile);
            }
            Turn::Nothing => {}
        }
    }
    phase
}

async fn take_turn(ctx: &RunContext, task: ArtistTask) -> Turn {
    if task.link_due {
        return link(ctx, &task.artist).await;
    }
    match ctx.spotify.artist(&task.artist.id).await {
        Ok(profile) => Turn::Profile(profile),
        Err(error) => {
            // The artist's refresh tries again, or finds Spotify stopped.
            tracing::debug!(artist = %escaped(&task.artist.name), %error, "Spotify profile not fetched in the Spotify phase");
            Turn::Nothing
        }
    }
}

/// Seeks the Spotify id of a Deezer-born artist and links it when proven.
async fn link(ctx: &RunContext, artist: &ArtistState) -> Turn {
    let Some(deezer_id) = artist.deezer_id else {
        return Turn::Nothing;
    };
    // Deezer's own view of the artist (albums, fans) feeds the doubt rules; it is free.
    let deezer_artist = match ctx.deezer.artist(deezer_id).await {
        Ok(found) => found,
        Err(_) => DeezerArtist {
            id: deezer_id,
            name: artist.name.clone(),
            fans: artist.deezer_fans,
            albums: None,
            picture_url: artist.image_url.clone(),
            link: None,
        },
    };
    let resolution = match identity::match_on_spotify(
        &ctx.spotify,
        &ctx.deezer,
        ctx.store(),
        &deezer_artist,
        ctx.settings().sync.confirm_below_fans,
    )
    .await
    {
        Ok(resolution) => resolution,
        Err(error) => {
            note(ctx, artist, &error);
            return Turn::Nothing;
        }
    };
    let (profile, how) = match resolution {
        Resolution::Mapped(profile, how) => (profile, SpotifyLink::from_evidence(how)),
        Resolution::NotMapped(why) => {
            let link = match why {
                DeezerMapping::Ambiguous => SpotifyLink::Ambiguous,
                _ => SpotifyLink::Unmapped,
            };
            save_link(ctx, artist, link).await;
            return Turn::NotLinked(artist.id.clone());
        }
        Resolution::Deferred(reason) => {
            tracing::debug!(artist = %escaped(&artist.name), %reason, "Spotify link left for a later run");
            return Turn::Nothing;
        }
    };
    let joined = {
        let _one_at_a_time = ctx.joining.lock().await;
        ctx.store()
            .link_spotify(&artist.id, &profile, how, ctx.now)
            .await
    };
    match joined {
        Ok(Joined::ReKeyed | Joined::Merged) => {
            tracing::info!(artist = %escaped(&artist.name), from = %artist.id, to = %profile.id, evidence = how.as_str(), "linked to Spotify");
            ctx.catalog().renamed(&artist.id, &profile.id);
            ctx.catalog().hold(deezer_id, &profile.id);
            ctx.ids_changed.store(true, Ordering::SeqCst);
            Turn::Linked {
                from: artist.id.clone(),
                to: profile.id,
            }
        }
        Ok(Joined::Held { by }) => {
            tracing::info!(artist = %escaped(&artist.name), spotify_id = %profile.id, held_by = %by, "the Spotify artist is another catalog artist; not linked");
            save_link(ctx, artist, SpotifyLink::Held).await;
            Turn::NotLinked(artist.id.clone())
        }
        Ok(Joined::Gone) => Turn::Nothing,
        Err(error) => {
            note(ctx, artist, &error.into());
            Turn::Nothing
        }
    }
}

async fn save_link(ctx: &RunContext, artist: &ArtistState, link: SpotifyLink) {
    if let Err(error) = ctx
        .store()
        .save_spotify_link(&artist.id, link, ctx.now)
        .await
    {
        note(ctx, artist, &error.into());
    }
}

fn note(ctx: &RunContext, artist: &ArtistState, error: &FetchError) {
    ctx.note_error(error, &artist.name);
}
