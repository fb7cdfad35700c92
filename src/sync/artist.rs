//! One artist's refresh: fetch what is due from whichever provider may give it, map it
//! into an [`ArtistRefresh`], and write it in one transaction. A part that fails to
//! fetch is left out (stored rows stay) and the artist stays due for it.

use std::collections::HashMap;

use tracing::Instrument;

use crate::catalog::{
    AddedVia, ArtistRefresh, ArtistState, DeezerArtistEntry, DeezerMapping, NewArtist,
    ProfileUpdate, RelatedUpdate, Source,
};
use crate::providers::deezer::{DeezerArtist, DeezerError};
use crate::providers::spotify::{SpotifyError, SpotifyFeature};
use crate::telemetry::escaped;

use super::context::{ArtistOutcome, RunContext};
use super::error::FetchError;
use super::identity::{self, Resolution};
use super::plan::ArtistTask;

/// Refreshes one artist. `prematched` is the outcome of the run's Deezer matching phase,
/// when the artist went through it.
pub(crate) async fn refresh_artist(
    ctx: &RunContext,
    task: ArtistTask,
    prematched: Option<DeezerMatch>,
) -> ArtistOutcome {
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
                ..Default::default()
            },
            deezer_id: task.artist.deezer_id,
            deezer_fans: task.artist.deezer_fans,
            deezer_picture: None,
            deezer_resolved: task.artist.deezer_id.is_some(),
            task,
        };
        if let Some(matched) = prematched {
            work.apply_deezer_match(matched);
        }
        work.run().await;
        work.outcome
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
}

impl ArtistWork<'_> {
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
        let refresh = std::mem::take(&mut self.refresh);
        let nothing_to_write = refresh.profile.is_none()
            && refresh.tracks.is_none()
            && refresh.related.is_none()
            && refresh.new_artists.is_empty()
            && refresh.deezer_entries.is_empty();
        if nothing_to_write {
            return;
        }
        match self.ctx.store().apply_refresh(&refresh, self.ctx.now).await {
            Ok(written) => self.outcome.written = written,
            Err(error) => {
                // Nothing of this artist was written; the new-artist slots go back.
                for _ in &refresh.new_artists {
                    self.ctx.return_new_artist_slot();
                }
                self.fail(&FetchError::from(error));
            }
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

    async fn refresh_profile(&mut self) {
        let spotify = &self.ctx.spotify;
        let profile = match spotify.artist(&self.task.artist.id).await {
            Ok(profile) => profile,
            Err(SpotifyError::NotFound) => {
                self.fail(&FetchError::Spotify(SpotifyError::NotFound));
                return;
            }
            Err(error) => return self.fail(&error.into()),
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
        self.refresh.profile = Some(ProfileUpdate {
            profile,
            source: Source::Spotify,
            deezer_fans: self.deezer_fans,
            fallback_image_url: self
                .deezer_picture
                .clone()
                .or_else(|| self.task.artist.image_url.clone()),
        });
    }

    fn deezer_fans_unknown_this_run(&self) -> bool {
        // Matching on Deezer this run already brought a fresh fan count.
        !(self.deezer_resolved && self.task.artist.deezer_id.is_none())
    }

    async fn refresh_tracks(&mut self) {
        let kept = self.ctx.settings().sync.tracks_kept;
        let spotify = &self.ctx.spotify;
        if spotify.is_configured()
            && spotify.may_use(SpotifyFeature::TopTracks)
            && spotify.unusable().is_none()
        {
            match spotify.top_tracks(&self.task.artist.id).await {
                Ok(mut tracks) => {
                    tracks.truncate(kept);
                    self.refresh.tracks = Some((Source::Spotify, tracks));
                    return;
                }
                // Refused, or Spotify stopped: Deezer may still have them.
                Err(error)
                    if matches!(error, SpotifyError::EndpointUnavailable { .. })
                        || error.stops_spotify() => {}
                Err(error) => return self.fail(&error.into()),
            }
        }
        let Some(deezer_id) = self.deezer_artist_id().await else {
            return;
        };
        match self.ctx.deezer.top_tracks(deezer_id, kept as u32).await {
            Ok(tracks) => {
                let tracks = tracks.into_iter().map(|t| t.track).take(kept).collect();
                self.refresh.tracks = Some((Source::Deezer, tracks));
            }
            Err(DeezerError::NotFound) => self.deezer_id_not_found(deezer_id).await,
            Err(error) => self.fail(&error.into()),
        }
    }

    async fn refresh_related(&mut self) {
        let spotify = &self.ctx.spotify;
        if spotify.is_configured()
            && spotify.may_use(SpotifyFeature::RelatedArtists)
            && spotify.unusable().is_none()
        {
            match spotify.related_artists(&self.task.artist.id).await {
                Ok(related) => return self.use_spotify_related(related).await,
                Err(error)
                    if matches!(error, SpotifyError::EndpointUnavailable { .. })
                        || error.stops_spotify() => {}
                Err(error) => return self.fail(&error.into()),
            }
        }
        let Some(deezer_id) = self.deezer_artist_id().await else {
            return;
        };
        match self.ctx.deezer.related_artists(deezer_id, 20).await {
            Ok(related) => {
                if let Err(error) = self.use_deezer_related(related).await {
                    self.fail(&error);
                }
            }
            Err(DeezerError::NotFound) => self.deezer_id_not_found(deezer_id).await,
            Err(error) => self.fail(&error.into()),
        }
    }

    /// Deezer said "no data" (code 800) for the artist's matched id. If the artist itself
    /// is gone from Deezer, the match is dropped (stored rows stay; a new match is sought
    /// after `DEEZER_REMAP_AFTER`) instead of failing every run from now on; otherwise the
    /// answer is treated as this run's failure.
    async fn deezer_id_not_found(&mut self, deezer_id: i64) {
        match self.ctx.deezer.artist(deezer_id).await {
            Err(DeezerError::NotFound) => {
                tracing::warn!(
                    deezer_id,
                    "the matched Deezer artist is gone; match dropped"
                );
                let unmatched = self
                    .ctx
                    .store()
                    .save_deezer_mapping(
                        &self.task.artist.id,
                        DeezerMapping::Unmapped,
                        None,
                        None,
                        self.ctx.now,
                    )
                    .await;
                match unmatched {
                    Ok(()) => {
                        self.deezer_id = None;
                        self.outcome.unmapped = true;
                    }
                    Err(error) => self.fail(&error.into()),
                }
            }
            _ => self.fail(&FetchError::Deezer(DeezerError::NotFound)),
        }
    }

    /// Spotify's related artists come as full profiles: known ones are linked, new ones
    /// join the catalog while the run's allowance lasts.
    async fn use_spotify_related(&mut self, related: Vec<crate::catalog::ArtistProfile>) {
        let kept = self.ctx.settings().sync.related_kept;
        let ids: Vec<String> = related.iter().map(|a| a.id.clone()).collect();
        let existing = match self.ctx.store().existing_artist_ids(&ids).await {
            Ok(existing) => existing,
            Err(error) => return self.fail(&error.into()),
        };
        let mut related_ids = Vec::new();
        for profile in related {
            if related_ids.len() >= kept {
                break;
            }
            if profile.id == self.task.artist.id {
                continue;
            }
            if existing.contains(&profile.id) {
                related_ids.push(profile.id);
            } else if self.ctx.take_new_artist_slot() {
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

    /// Deezer's related artists must first be found on Spotify: a known mapping (catalog
    /// or cache) costs nothing; an unknown one costs a search, within the budget. Those
    /// that cannot be matched now are left for a later run.
    async fn use_deezer_related(&mut self, related: Vec<DeezerArtist>) -> Result<(), FetchError> {
        let ctx = self.ctx;
        let kept = ctx.settings().sync.related_kept;
        let deezer_ids: Vec<i64> = related.iter().map(|a| a.id).collect();
        let in_catalog = ctx.store().artists_by_deezer_ids(&deezer_ids).await?;
        let cached = ctx.store().deezer_entries(&deezer_ids).await?;
        let remap_after = chrono::Duration::from_std(ctx.settings().sync.deezer_remap_after)
            .unwrap_or(chrono::Duration::days(7));
        let mut related_ids: Vec<String> = Vec::new();
        let mut complete = true;
        let mut in_catalog_by_spotify_id: HashMap<String, bool> = HashMap::new();
        for candidate in related {
            if related_ids.len() >= kept {
                break;
            }
            if Some(candidate.id) == self.deezer_id {
                continue;
            }
            if let Some(spotify_id) = in_catalog.get(&candidate.id) {
                related_ids.push(spotify_id.clone());
                continue;
            }
            let previous = cached.get(&candidate.id);
            if let Some(entry) = previous {
                if entry.mapping.is_mapped() {
                    if let Some(spotify_id) = &entry.spotify_id
                        && self
                            .in_catalog(spotify_id, &mut in_catalog_by_spotify_id)
                            .await?
                    {
                        related_ids.push(spotify_id.clone());
                        continue;
                    }
                    // Matched before but not in the catalog (it was full then). Only
                    // worth a search for its profile if it can join now.
                    if !ctx.has_new_artist_slot() {
                        continue;
                    }
                } else if ctx.now - entry.checked_at < remap_after {
                    continue;
                }
            }
            let attempts = previous.map_or(0, |p| p.attempts) + 1;
            let confirm_below_fans = ctx.settings().sync.confirm_below_fans;
            match identity::match_on_spotify(
                &ctx.spotify,
                &ctx.deezer,
                ctx.store(),
                &candidate,
                confirm_below_fans,
            )
            .await?
            {
                Resolution::Mapped(profile, how) => {
                    let spotify_id = profile.id.clone();
                    self.cache_deezer_artist(&candidate, Some(spotify_id.clone()), how, attempts);
                    if self
                        .link_new_related(profile, &candidate, how, &mut in_catalog_by_spotify_id)
                        .await?
                    {
                        related_ids.push(spotify_id);
                    }
                }
                Resolution::NotMapped(why) => {
                    self.cache_deezer_artist(&candidate, None, why, attempts)
                }
                Resolution::Deferred(reason) => {
                    tracing::debug!(deezer_artist = %escaped(&candidate.name), %reason, "related artist left for a later run");
                    complete = false;
                }
            }
        }
        self.refresh.related = Some(RelatedUpdate {
            source: Source::Deezer,
            related_ids,
            complete,
        });
        if !complete {
            self.outcome.left_due = true;
        }
        Ok(())
    }

    /// Whether a Spotify id is in the catalog, asking the store once per id.
    async fn in_catalog(
        &self,
        spotify_id: &str,
        known: &mut HashMap<String, bool>,
    ) -> Result<bool, FetchError> {
        if let Some(present) = known.get(spotify_id) {
            return Ok(*present);
        }
        let present = self.ctx.store().artist(spotify_id).await?.is_some();
        known.insert(spotify_id.to_owned(), present);
        Ok(present)
    }

    /// Adds a freshly matched related artist to the catalog if it is not there and the
    /// run may still grow it. Returns whether it can be linked.
    async fn link_new_related(
        &mut self,
        profile: crate::catalog::ArtistProfile,
        deezer_artist: &DeezerArtist,
        evidence: DeezerMapping,
        checked: &mut HashMap<String, bool>,
    ) -> Result<bool, FetchError> {
        if profile.id == self.task.artist.id {
            return Ok(false);
        }
        if self.in_catalog(&profile.id, checked).await? {
            return Ok(true);
        }
        if !self.ctx.take_new_artist_slot() {
            return Ok(false);
        }
        // Linked from now on, even by later candidates of this artist.
        checked.insert(profile.id.clone(), true);
        // Finding the Spotify artist by name is enough to link it as related, but its
        // Deezer data comes only with a recording as proof; otherwise its own Deezer match
        // (with every doubt rule) runs at its first refresh.
        let confirmed = evidence == DeezerMapping::Isrc;
        self.refresh.new_artists.push(NewArtist {
            profile,
            source: Source::Spotify,
            deezer_id: confirmed.then_some(deezer_artist.id),
            deezer_fans: if confirmed { deezer_artist.fans } else { None },
            added_via: AddedVia::Related,
        });
        Ok(true)
    }

    fn cache_deezer_artist(
        &mut self,
        artist: &DeezerArtist,
        spotify_id: Option<String>,
        mapping: DeezerMapping,
        attempts: i32,
    ) {
        self.refresh.deezer_entries.push(DeezerArtistEntry {
            deezer_id: artist.id,
            name: artist.name.clone(),
            fans: artist.fans,
            albums: artist.albums.and_then(|n| i32::try_from(n).ok()),
            picture_url: artist.picture_url.clone(),
            spotify_id,
            mapping,
            checked_at: self.ctx.now,
            attempts,
        });
    }

    /// The artist's Deezer id, matching it now if that was not done this run.
    /// `None` when it has no trustworthy match (counted) or matching failed (recorded).
    async fn deezer_artist_id(&mut self) -> Option<i64> {
        if let Some(id) = self.deezer_id {
            return Some(id);
        }
        if self.deezer_resolved {
            return None;
        }
        let matched = match_on_deezer_and_save(self.ctx, &self.task.artist).await;
        self.apply_deezer_match(matched)
    }

    /// Takes in the outcome of matching on Deezer (now or in the run's matching phase).
    fn apply_deezer_match(&mut self, matched: DeezerMatch) -> Option<i64> {
        self.deezer_resolved = true;
        match matched {
            DeezerMatch::Mapped { id, fans, picture } => {
                if fans.is_some() {
                    self.deezer_fans = fans;
                }
                self.deezer_picture = picture;
                self.deezer_id = Some(id);
                Some(id)
            }
            DeezerMatch::Unmapped => {
                self.outcome.unmapped = true;
                None
            }
            DeezerMatch::Deferred => {
                self.outcome.left_due = true;
                None
            }
            DeezerMatch::Failed(error) => {
                self.fail(&error);
                None
            }
        }
    }
}

/// The outcome of matching a catalog artist on Deezer, already saved.
#[derive(Debug)]
pub(crate) enum DeezerMatch {
    Mapped {
        id: i64,
        fans: Option<i64>,
        picture: Option<String>,
    },
    /// No trustworthy match; recorded so the artist waits before the next attempt.
    Unmapped,
    /// Needs Spotify (to confirm a recording) while Spotify cannot be called.
    Deferred,
    Failed(FetchError),
}

/// Matches a catalog artist on Deezer and records the outcome (mapping or why not).
pub(crate) async fn match_on_deezer_and_save(
    ctx: &RunContext,
    artist: &ArtistState,
) -> DeezerMatch {
    let rules = identity::DoubtRules {
        catalog_homonyms: ctx.homonyms.get(&artist.name_key).copied().unwrap_or(1),
        confirm_below_fans: ctx.settings().sync.confirm_below_fans,
    };
    let resolution = match identity::match_on_deezer(
        &ctx.spotify,
        &ctx.deezer,
        ctx.store(),
        artist,
        rules,
    )
    .await
    {
        Ok(resolution) => resolution,
        Err(error) => return DeezerMatch::Failed(error),
    };
    let (matched, mapping, deezer_id, fans) = match resolution {
        Resolution::Mapped(found, how) => {
            tracing::info!(artist = %escaped(&artist.name), deezer_id = found.id, evidence = how.as_str(), "matched on Deezer");
            (
                DeezerMatch::Mapped {
                    id: found.id,
                    fans: found.fans,
                    picture: found.picture_url,
                },
                how,
                Some(found.id),
                found.fans,
            )
        }
        Resolution::NotMapped(why) => {
            tracing::info!(artist = %escaped(&artist.name), reason = why.as_str(), "no trustworthy Deezer match; left unmapped");
            (DeezerMatch::Unmapped, why, None, None)
        }
        Resolution::Deferred(reason) => {
            tracing::debug!(artist = %escaped(&artist.name), %reason, "Deezer match needs Spotify; left for a later run");
            return DeezerMatch::Deferred;
        }
    };
    match ctx
        .store()
        .save_deezer_mapping(&artist.id, mapping, deezer_id, fans, ctx.now)
        .await
    {
        Ok(()) => matched,
        Err(error) => DeezerMatch::Failed(error.into()),
    }
}
