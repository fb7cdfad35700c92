//! What every artist's work within one run shares: the provider clients, the run's
//! clock, the namesakes in the catalog, who in the catalog holds which Deezer id, the
//! allowance of new artists, and the running tally that becomes the [`RunReport`]. One
//! artist's result is an [`ArtistOutcome`].
//!
//! The catalog's ids and Deezer ids are kept here, read once when the run starts and
//! updated as the run matches, links and adds artists: only one runner works at a time
//! (the runner lock), so this copy is the truth for the run, and resolving an artist's
//! related artists costs no query.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDateTime;

use super::error::FetchError;
use super::report::RunReport;
use super::spotify_state::save_spotify_access;
use crate::catalog::{ArtistProfile, TopTrack, WriteCounts};
use crate::config::Settings;
use crate::providers::deezer::DeezerClient;
use crate::providers::spotify::{SpotifyAccess, SpotifyClient, SpotifyError};
use crate::store::Store;
use crate::store::runs::{RunCounts, RunStatus};

/// Shared by every artist's work within one run.
pub(crate) struct RunContext {
    pub(crate) store: Store,
    pub(crate) settings: Arc<Settings>,
    pub(crate) spotify: SpotifyClient,
    pub(crate) deezer: DeezerClient,
    pub(crate) now: NaiveDateTime,
    /// Catalog artists per folded name: more than one means namesakes.
    pub(crate) homonyms: HashMap<String, usize>,
    /// Deezer-born artists per folded name (they may be artists met twice).
    pub(crate) deezer_born_namesakes: HashMap<String, usize>,
    /// Who holds each Deezer id, and every catalog id (see the module docs).
    pub(crate) catalog: Mutex<CatalogIndex>,
    /// Some artist was re-keyed or merged this run (its tasks must be planned again).
    pub(crate) ids_changed: AtomicBool,
    /// Held while two identities are joined: joins touch each other's edges, so they
    /// run one at a time (the Spotify and Deezer calls before them do not).
    pub(crate) joining: tokio::sync::Mutex<()>,
    /// Answers of the probe of Spotify's endpoints, for the artist they were asked for:
    /// that artist's refresh uses them instead of asking again.
    pub(crate) probed: Mutex<Probed>,
    /// New artists this run may still add through related artists.
    pub(crate) new_artist_slots: AtomicI64,
    pub(crate) tally: Mutex<Tally>,
    /// What Spotify allowed as last saved, so only a change is written back.
    pub(crate) persisted_access: Arc<Mutex<Option<SpotifyAccess>>>,
    pub(crate) run_id: i64,
}

/// The catalog's ids as the run knows them.
#[derive(Debug, Default)]
pub(crate) struct CatalogIndex {
    pub(crate) deezer_holders: HashMap<i64, String>,
    pub(crate) ids: HashSet<String>,
}

impl CatalogIndex {
    /// A Deezer id changed hands (matched, linked, merged, added).
    pub(crate) fn hold(&mut self, deezer_id: i64, artist_id: &str) {
        self.deezer_holders.insert(deezer_id, artist_id.to_owned());
        self.ids.insert(artist_id.to_owned());
    }

    /// An artist now lives under another id (re-keyed or merged).
    pub(crate) fn renamed(&mut self, from: &str, to: &str) {
        self.ids.remove(from);
        self.ids.insert(to.to_owned());
        for holder in self.deezer_holders.values_mut() {
            if holder == from {
                *holder = to.to_owned();
            }
        }
    }
}

/// What probing Spotify's top tracks and related artists answered for one artist.
#[derive(Debug, Default)]
pub(crate) struct Probed {
    pub(crate) artist_id: String,
    pub(crate) top_tracks: Option<Result<Vec<TopTrack>, SpotifyError>>,
    pub(crate) related: Option<Result<Vec<ArtistProfile>, SpotifyError>>,
}

/// Running totals of a run.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) counts: RunCounts,
    errors: Vec<String>,
    errors_total: u64,
    stop_reasons: BTreeSet<String>,
    left_due: u64,
    configuration_error: Option<String>,
}

/// Errors kept verbatim in the run summary; the rest are only counted.
const ERRORS_KEPT: usize = 20;

impl RunContext {
    pub(crate) fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().expect("tally lock poisoned")
    }

    /// The probe's top-track answer for `artist_id`, once.
    pub(crate) fn probed_top_tracks(
        &self,
        artist_id: &str,
    ) -> Option<Result<Vec<TopTrack>, SpotifyError>> {
        let mut probed = self.probed.lock().expect("probe lock poisoned");
        (probed.artist_id == artist_id)
            .then(|| probed.top_tracks.take())
            .flatten()
    }

    /// The probe's related-artists answer for `artist_id`, once.
    pub(crate) fn probed_related(
        &self,
        artist_id: &str,
    ) -> Option<Result<Vec<ArtistProfile>, SpotifyError>> {
        let mut probed = self.probed.lock().expect("probe lock poisoned");
        (probed.artist_id == artist_id)
            .then(|| probed.related.take())
            .flatten()
    }

    pub(crate) fn catalog(&self) -> std::sync::MutexGuard<'_, CatalogIndex> {
        self.catalog.lock().expect("catalog index lock poisoned")
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Takes one slot for a new catalog artist; `false` when the run's allowance or the
    /// catalog's size limit is reached.
    pub(crate) fn take_new_artist_slot(&self) -> bool {
        if self.new_artist_slots.fetch_sub(1, Ordering::SeqCst) <= 0 {
            self.new_artist_slots.fetch_add(1, Ordering::SeqCst);
            return false;
        }
        true
    }

    pub(crate) fn return_new_artist_slot(&self) {
        self.new_artist_slots.fetch_add(1, Ordering::SeqCst);
    }

    /// Logs an error once and keeps it for the run summary.
    pub(crate) fn note_error(&self, error: &FetchError, artist: &str) {
        let mut tally = self.tally();
        if matches!(
            error,
            FetchError::Spotify(SpotifyError::BadCredentials(_) | SpotifyError::Forbidden(_))
        ) && tally.configuration_error.is_none()
        {
            tally.configuration_error = Some(error.to_string());
        }
        if error.is_stop() {
            tally.stop_reasons.insert(error.to_string());
            return;
        }
        tally.errors_total += 1;
        tracing::warn!(artist, %error, "fetch failed; stored data kept");
        if tally.errors.len() < ERRORS_KEPT {
            tally.errors.push(format!("{artist}: {error}"));
        }
    }

    pub(crate) fn absorb(&self, outcome: &ArtistOutcome) {
        let mut tally = self.tally();
        let counts = &mut tally.counts;
        counts.profiles_written += outcome.written.profiles;
        counts.top_tracks_written += outcome.written.top_tracks;
        counts.related_written += outcome.written.related;
        counts.artists_added += outcome.written.artists_added;
        if outcome.failed {
            counts.artists_failed += 1;
        } else if outcome.left_due {
            tally.left_due += 1;
        } else {
            counts.artists_refreshed += 1;
        }
        if outcome.unmapped {
            tally.counts.artists_unmapped += 1;
        }
    }

    pub(crate) fn counts(&self) -> RunCounts {
        let mut counts = self.tally().counts.clone();
        counts.spotify_calls = self.spotify.api_calls().requests;
        counts.deezer_calls = self.deezer.calls().requests;
        counts
    }

    /// Saves what Spotify allowed when it changed since the last save, so a quota block
    /// or a refused endpoint is honoured by the next run even if this one is killed.
    pub(crate) async fn persist_spotify_access(&self) {
        save_spotify_access(&self.store, self.spotify.access(), &self.persisted_access).await;
    }

    pub(crate) fn finish(self, interrupted: bool) -> RunReport {
        let counts = self.counts();
        let spotify_calls = self.spotify.api_calls().into();
        let deezer_calls = self.deezer.calls().into();
        let tally = self.tally.into_inner().expect("tally lock poisoned");
        let unfinished =
            counts.artists_due > counts.artists_refreshed + counts.artists_failed + tally.left_due;
        let status = if interrupted {
            RunStatus::Interrupted
        } else if tally.left_due > 0 || counts.artists_failed > 0 || unfinished {
            RunStatus::Partial
        } else {
            RunStatus::Completed
        };
        let stop_reason = if interrupted {
            Some("interrupted".to_owned())
        } else if tally.stop_reasons.is_empty() {
            (counts.artists_failed > 0)
                .then(|| format!("{} artists failed; they stay due", counts.artists_failed))
        } else {
            Some(
                tally
                    .stop_reasons
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        };
        RunReport {
            run_id: self.run_id,
            status,
            counts,
            left_due: tally.left_due,
            stop_reason,
            configuration_error: tally.configuration_error,
            errors: tally.errors,
            errors_total: tally.errors_total,
            spotify_calls,
            deezer_calls,
            statements: 0,
            linked: Vec::new(),
            empty_catalog: None,
            spotify_note: self.spotify.unusable().and_then(|reason| match reason {
                SpotifyError::NotConfigured => None,
                SpotifyError::Blocked { until, reason } => Some(format!(
                    "blocked until {} UTC ({reason})",
                    until.format("%Y-%m-%d %H:%M")
                )),
                SpotifyError::BudgetExhausted => Some("the call budget is spent".to_owned()),
                other => Some(other.to_string()),
            }),
            elapsed: Duration::ZERO,
        }
    }
}

/// How one artist's refresh went.
#[derive(Debug, Default)]
pub(crate) struct ArtistOutcome {
    pub(crate) name: String,
    pub(crate) written: WriteCounts,
    /// Some due part failed with an error.
    pub(crate) failed: bool,
    /// Some due part could not be done for a reason a later run gets past.
    pub(crate) left_due: bool,
    /// Its data must come from Deezer, where it has no match.
    pub(crate) unmapped: bool,
}

impl ArtistOutcome {
    pub(crate) fn summary(&self) -> &'static str {
        if self.failed {
            "failed"
        } else if self.left_due {
            "left due"
        } else if self.unmapped {
            "no Deezer match"
        } else {
            "refreshed"
        }
    }
}
