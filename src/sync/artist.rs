//! One artist's refresh: fetch what is due from whichever provider may give it and map
//! it into an [`ArtistRefresh`]; the engine writes it together with other artists' (one
//! transaction per batch). A part that fails to fetch is left out (stored rows stay)
//! and the artist stays due for it.
//!
//! Where each part comes from:
//! - top tracks and related artists: Spotify when the app may call those endpoints (and
//!   the artist has a Spotify id), else Deezer; a Spotify failure of any kind falls back
//!   to Deezer when the artist is matched there, so an outage of one provider never
//!   stops the other's work;
//! - the profile: Spotify's for a Spotify-linked artist when an app is configured (left
//!   due while Spotify cannot be asked), Deezer's facts otherwise (name, picture and fans
//!   for a Deezer-born artist; fans for another);
//! - related artists Deezer names that the catalog does not hold join it as Deezer-born
//!   artists, within the run's allowance: growth costs no Spotify call.

use tracing::Instrument;

use super::context::{ArtistOutcome, RunContext};
use super::error::FetchError;
use super::identity::{self, Resolution};
use super::plan::{ArtistTask, waits_for_deezer_match};
use crate::catalog::{
    AddedVia, ArtistProfile, ArtistRefresh, ArtistState, DeezerMapping, DeezerMatchUpdate,
    NewArtist, ProfileUpdate, RelatedUpdate, Source, deezer_born_id, is_deezer_born,
};
use crate::providers::deezer::{DeezerArtist, DeezerError};
use crate::providers::spotify::{SpotifyError, SpotifyFeature};
use crate::telemetry::escaped;

/// Fetches what is due for one artist. `prematched` is the outcome of the run's Deezer
/// matching phase, `profile` a Spotify profile fetched in the run's Spotify phase.
pub(crate) async fn refresh_artist(
    ctx: &RunContext,
    task: ArtistTask,
    prematched: Option<DeezerMatch>,
    profile: Option<ArtistProfile>,
) -> (ArtistOutcome, ArtistRefresh) {
    let span =
        tracing::info_span!("artist", id = %task.artist.id, name = %escaped(&task.artist.name));
    async move {
        let mut work = ArtistWork {
            ctx,
            outcome: ArtistOutcome {
                name: task.artist.name.clone(),
                ..Default::default()
            },
            refresh: ArtistRefresh {
                artist_id: task.artist.id.clone(),
                stored_related: Some(task.artist.related_count),
                ..Default::default()
            },
            deezer_id: task.artist.deezer_id,
            deezer_fans: task.artist.deezer_fans,
            deezer_picture: None,
            deezer_resolved: task.artist.deezer_id.is_some(),
            prefetched_profile: profile,
            task,
        };
        if let Some(matched) = prematched {
            work.apply_deezer_match(matched);
        }
        work.run().await;
        (work.outcome, work.refresh)
    }
    .instrument(span)
    .await
}

struct ArtistWork<'c> {
    ctx: &'c RunContext,
    task: ArtistTask,
    outcome: ArtistOutcome,
    refresh: ArtistRefresh,
    deezer_id: Option<i64>,
    deezer_fans: Option<i64>,
    deezer_picture: Option<String>,
    /// Matching on Deezer was attempted (or not needed) this run.
    deezer_resolved: bool,
    prefetched_profile: Option<ArtistProfile>,
}

impl ArtistWork<'_> {
    fn artist(&self) -> &ArtistState {
        &self.task.artist
    }

    async fn run(&mut self) {
        if self.task.tracks_due {
            self.refresh_tracks().await;
        }
        if self.task.related_due {
            self.refresh_related().await;
        }
        if self.task.profile_due {
            self.refresh_profile().await;
        }
    }

    fn fail(&mut self, error: &FetchError) {
        self.ctx.note_error(error, &self.task.artist.name);
        if error.is_stop() {
            self.outcome.left_due = true;
        } else {
            self.outcome.failed = true;
        }
    }

    /// Whether Spotify may be asked for this artist's `feature` now.
    fn spotify_serves(&self, feature: SpotifyFeature) -> bool {
        let spotify = &self.ctx.spotify;
        !self.artist().is_deezer_born()
            && spotify.is_configured()
            && spotify.may_use(feature)
            && spotify.unusable().is_none()
    }

    async fn refresh_profile(&mut self) {
        if self.artist().is_deezer_born() || !self.ctx.spotify.is_configured() {
            return self.refresh_profile_from_deezer().await;
        }
        let profile = match self.prefetched_profile.take() {
            Some(profile) => profile,
            None => match self.ctx.spotify.artist(&self.task.artist.id).await {
                Ok(profile) => profile,
                Err(error) => return self.fail(&error.into()),
            },
        };
        if let Some(deezer_id) = self.deezer_id
            && self.deezer_fans_unknown_this_run()
        {
            match self.ctx.deezer.artist(deezer_id).await {
                Ok(found) => {
                    self.deezer_fans = found.fans.or(self.deezer_fans);
                    self.deezer_picture = found.picture_url;
                }
                // Fans are a nicety: keep the old count rather than fail the profile.
                Err(error) => tracing::debug!(%error, "Deezer fan count not refreshed"),
            }
        }
        self.refresh.profile = Some(ProfileUpdate::Spotify {
            profile,
            deezer_fans: self.deezer_fans,
            fallback_image_url: self
                .deezer_picture
                .clone()
                .or_else(|| self.task.artist.image_url.clone()),
        });
    }

    /// Deezer's facts: the whole profile of a Deezer-born artist, the fans (and a picture
    /// when there is none) of another.
    async fn refresh_profile_from_deezer(&mut self) {
        let Some(deezer_id) = self.deezer_id else {
            return;
        };
        match self.ctx.deezer.artist(deezer_id).await {
            Ok(found) => {
                let born = self.artist().is_deezer_born();
                self.refresh.profile = Some(ProfileUpdate::Deezer {
                    name: born.then_some(found.name),
                    fans: found.fans,
                    picture: found.picture_url,
                });
            }
            Err(DeezerError::NotFound) if !self.artist().is_deezer_born() => {
                self.deezer_id_not_found().await
            }
            Err(error) => self.fail(&error.into()),
        }
    }

    fn deezer_fans_unknown_this_run(&self) -> bool {
        // Matching on Deezer this run already brought a fresh fan count.
        !(self.deezer_resolved && self.task.artist.deezer_id.is_none())
    }

    async fn refresh_tracks(&mut self) {
        let kept = self.ctx.settings().sync.tracks_kept;
        if self.spotify_serves(SpotifyFeature::TopTracks) {
            let probed = self.ctx.probed_top_tracks(&self.task.artist.id);
            let answer = match probed {
                Some(answer) => answer,
                None => self.ctx.spotify.top_tracks(&self.task.artist.id).await,
            };
            match answer {
                Ok(mut tracks) => {
                    tracks.truncate(kept);
                    self.refresh.tracks = Some((Source::Spotify, tracks));
                    return;
                }
                Err(error) => {
                    if !self.deezer_can_stand_in(&error) {
                        return self.fail(&error.into());
                    }
                    tracing::debug!(%error, "top tracks from Deezer instead");
                }
            }
        }
        let Some(deezer_id) = self.deezer_artist_id() else {
            return;
        };
        match self.ctx.deezer.top_tracks(deezer_id, kept as u32).await {
            Ok(tracks) => {
                let tracks = tracks.into_iter().map(|t| t.track).take(kept).collect();
                self.refresh.tracks = Some((Source::Deezer, tracks));
            }
            Err(DeezerError::NotFound) => self.deezer_id_not_found().await,
            Err(error) => self.fail(&error.into()),
        }
    }

    async fn refresh_related(&mut self) {
        if self.spotify_serves(SpotifyFeature::RelatedArtists) {
            let probed = self.ctx.probed_related(&self.task.artist.id);
            let answer = match probed {
                Some(answer) => answer,
                None => self.ctx.spotify.related_artists(&self.task.artist.id).await,
            };
            match answer {
                Ok(related) => return self.use_spotify_related(related),
                Err(error) => {
                    if !self.deezer_can_stand_in(&error) {
                        return self.fail(&error.into());
                    }
                    tracing::debug!(%error, "related artists from Deezer instead");
                }
            }
        }
        let Some(deezer_id) = self.deezer_artist_id() else {
            return;
        };
        match self.ctx.deezer.related_artists(deezer_id, 20).await {
            Ok(related) => self.use_deezer_related(related),
            Err(DeezerError::NotFound) => self.deezer_id_not_found().await,
            Err(error) => self.fail(&error.into()),
        }
    }

    /// After a Spotify failure: Deezer gives the part instead when the endpoint is
    /// refused, Spotify stopped (blocked, budget, down) or failed this once, as long as
    /// the artist is (or may be) on Deezer. A Spotify artist that Spotify no longer
    /// knows is Deezer's too.
    fn deezer_can_stand_in(&self, error: &SpotifyError) -> bool {
        let transient = matches!(
            error,
            SpotifyError::NotFound | SpotifyError::Unavailable(_) | SpotifyError::Rejected { .. }
        );
        matches!(error, SpotifyError::EndpointUnavailable { .. })
            || error.stops_spotify()
            || (transient && self.deezer_id.is_some())
    }

    /// Deezer said "no data" (code 800) for the artist's matched id. The match is
    /// dropped (stored rows stay; a new match is sought after `DEEZER_REMAP_AFTER`)
    /// instead of failing every run from now on, when the artist itself is gone from
    /// Deezer; otherwise the answer is this run's failure. A Deezer-born artist keeps its
    /// id (it is its identity) and its data.
    async fn deezer_id_not_found(&mut self) {
        let Some(deezer_id) = self.deezer_id else {
            return;
        };
        if self.artist().is_deezer_born() {
            return self.fail(&FetchError::Deezer(DeezerError::NotFound));
        }
        match self.ctx.deezer.artist(deezer_id).await {
            Err(DeezerError::NotFound) => {
                tracing::warn!(
                    deezer_id,
                    "the matched Deezer artist is gone; match dropped"
                );
                self.refresh.deezer_match = Some(DeezerMatchUpdate {
                    mapping: DeezerMapping::Unmapped,
                    deezer_id: None,
                    fans: None,
                });
                self.deezer_id = None;
                self.outcome.unmapped = true;
            }
            _ => self.fail(&FetchError::Deezer(DeezerError::NotFound)),
        }
    }

    /// Spotify's related artists come as full profiles: known ones are linked, new ones
    /// join the catalog while the run's allowance lasts.
    fn use_spotify_related(&mut self, related: Vec<ArtistProfile>) {
        let kept = self.ctx.settings().sync.related_kept;
        let mut related_ids = Vec::new();
        for profile in related {
            if related_ids.len() >= kept {
                break;
            }
            if profile.id == self.task.artist.id {
                continue;
            }
            let known = self.ctx.catalog().ids.contains(&profile.id);
            if known {
                related_ids.push(profile.id);
            } else if self.ctx.take_new_artist_slot() {
                self.ctx.catalog().ids.insert(profile.id.clone());
                related_ids.push(profile.id.clone());
                self.refresh.new_artists.push(NewArtist {
                    profile,
                    source: Source::Spotify,
                    deezer_id: None,
                    deezer_fans: None,
                    added_via: AddedVia::Related,
                });
            }
        }
        self.refresh.related = Some(RelatedUpdate {
            source: Source::Spotify,
            related_ids,
            complete: true,
        });
    }

    /// Deezer's related artists: a Deezer id the catalog holds names its artist; any
    /// other joins the catalog as a Deezer-born artist while the run's allowance lasts
    /// (its Deezer id is its identity, so no Spotify call is needed to add it).
    fn use_deezer_related(&mut self, related: Vec<DeezerArtist>) {
        let kept = self.ctx.settings().sync.related_kept;
        let mut related_ids: Vec<String> = Vec::new();
        for candidate in related {
            if related_ids.len() >= kept {
                break;
            }
            if Some(candidate.id) == self.deezer_id {
                continue;
            }
            let holder = self
                .ctx
                .catalog()
                .deezer_holders
                .get(&candidate.id)
                .cloned();
            if let Some(holder) = holder {
                if holder != self.task.artist.id {
                    related_ids.push(holder);
                }
                continue;
            }
            if !self.ctx.take_new_artist_slot() {
                continue;
            }
            let id = deezer_born_id(candidate.id);
            self.ctx.catalog().hold(candidate.id, &id);
            related_ids.push(id.clone());
            self.refresh.new_artists.push(NewArtist {
                profile: ArtistProfile {
                    id,
                    name: candidate.name,
                    followers: None,
                    popularity: None,
                    url: None,
                    image_url: candidate.picture_url,
                    genres: Vec::new(),
                },
                source: Source::Deezer,
                deezer_id: Some(candidate.id),
                deezer_fans: candidate.fans,
                added_via: AddedVia::Related,
            });
        }
        self.refresh.related = Some(RelatedUpdate {
            source: Source::Deezer,
            related_ids,
            complete: true,
        });
    }

    /// The artist's Deezer id, matching it now if the run's matching phase did not. Such
    /// a late match never merges artists (ids must stay put while artists are written);
    /// when the winner is a Deezer-born artist, the merge waits for the next run.
    fn deezer_artist_id(&mut self) -> Option<i64> {
        if let Some(id) = self.deezer_id {
            return Some(id);
        }
        if !self.deezer_resolved {
            // The matching phase covers every artist that needs Deezer; an artist it did
            // not reach (a stop) waits for the next run rather than matching here.
            self.deezer_resolved = true;
            let remap = self.ctx.settings().sync.deezer_remap_after;
            if !waits_for_deezer_match(self.artist(), self.ctx.now, remap) {
                self.outcome.left_due = true;
            } else {
                self.outcome.unmapped = true;
            }
        }
        None
    }

    /// Takes in the outcome of the run's matching phase.
    fn apply_deezer_match(&mut self, matched: DeezerMatch) {
        self.deezer_resolved = true;
        match matched {
            DeezerMatch::Mapped {
                id,
                fans,
                picture,
                evidence,
            } => {
                if fans.is_some() {
                    self.deezer_fans = fans;
                }
                self.deezer_picture = picture;
                self.deezer_id = Some(id);
                self.refresh.deezer_match = Some(DeezerMatchUpdate {
                    mapping: evidence,
                    deezer_id: Some(id),
                    fans,
                });
            }
            DeezerMatch::Unmapped(why) => {
                self.outcome.unmapped = true;
                self.refresh.deezer_match = Some(DeezerMatchUpdate {
                    mapping: why,
                    deezer_id: None,
                    fans: None,
                });
            }
            DeezerMatch::Deferred => {
                self.outcome.left_due = true;
            }
            DeezerMatch::Failed(error) => {
                self.fail(&error);
            }
        }
    }
}

/// The outcome of matching a catalog artist on Deezer, saved with its refresh.
#[derive(Debug)]
pub(crate) enum DeezerMatch {
    Mapped {
        id: i64,
        fans: Option<i64>,
        picture: Option<String>,
        evidence: DeezerMapping,
    },
    /// No trustworthy match; recorded so the artist waits before the next attempt.
    Unmapped(DeezerMapping),
    /// Needs Spotify (to confirm a recording) while Spotify cannot be called, or the
    /// winner is a Deezer-born artist whose merge could not be made now.
    Deferred,
    Failed(FetchError),
}

/// Matches a catalog artist (from Spotify) on Deezer. When the match is a Deezer-born
/// artist, the two are one artist met twice and are merged here, before any artist's
/// data is written.
pub(crate) async fn match_on_deezer(ctx: &RunContext, artist: &ArtistState) -> DeezerMatch {
    let rules = identity::DoubtRules {
        catalog_homonyms: homonyms_besides_deezer_born(ctx, artist),
        confirm_below_fans: ctx.settings().sync.confirm_below_fans,
    };
    let holder_of = |deezer_id: i64| ctx.catalog().deezer_holders.get(&deezer_id).cloned();
    let resolution = match identity::match_on_deezer(
        &ctx.spotify,
        &ctx.deezer,
        artist,
        rules,
        holder_of,
    )
    .await
    {
        Ok(resolution) => resolution,
        Err(error) => return DeezerMatch::Failed(error),
    };
    match resolution {
        Resolution::Mapped(found, how) => {
            let holder = ctx.catalog().deezer_holders.get(&found.id).cloned();
            if let Some(born) = holder.filter(|h| is_deezer_born(h)) {
                let merged = {
                    let _one_at_a_time = ctx.joining.lock().await;
                    ctx.store()
                        .merge_deezer_born(&born, &artist.id, how, ctx.now)
                        .await
                };
                match merged {
                    Ok(_) => {
                        tracing::info!(artist = %escaped(&artist.name), merged = %born, "met first through Deezer: now one artist");
                        ctx.catalog().renamed(&born, &artist.id);
                        ctx.ids_changed
                            .store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    Err(error) => return DeezerMatch::Failed(error.into()),
                }
            }
            ctx.catalog().hold(found.id, &artist.id);
            tracing::info!(artist = %escaped(&artist.name), deezer_id = found.id, evidence = how.as_str(), "matched on Deezer");
            DeezerMatch::Mapped {
                id: found.id,
                fans: found.fans,
                picture: found.picture_url,
                evidence: how,
            }
        }
        Resolution::NotMapped(why) => {
            tracing::info!(artist = %escaped(&artist.name), reason = why.as_str(), "no trustworthy Deezer match; left unmapped");
            DeezerMatch::Unmapped(why)
        }
        Resolution::Deferred(reason) => {
            tracing::debug!(artist = %escaped(&artist.name), %reason, "Deezer match needs Spotify; left for a later run");
            DeezerMatch::Deferred
        }
    }
}

/// Catalog artists sharing the artist's folded name, itself included but not counting
/// Deezer-born artists (one of them may be this very artist, met first through Deezer).
fn homonyms_besides_deezer_born(ctx: &RunContext, artist: &ArtistState) -> usize {
    ctx.homonyms
        .get(&artist.name_key)
        .copied()
        .unwrap_or(1)
        .saturating_sub(
            ctx.deezer_born_namesakes
                .get(&artist.name_key)
                .copied()
                .unwrap_or(0),
        )
        .max(1)
}
