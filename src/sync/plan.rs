//! Deciding what is due: pure functions over the catalog's freshness, no I/O.
//!
//! Demand first, then stale-first: artists users asked for, then those named with
//! `add`, then the starter list, then the rest; within each, the artist whose oldest due
//! part is oldest goes first (never refreshed counts as oldest of all). Profiles age
//! slower than tracks and related artists, so an unchanged catalog spends few Spotify
//! calls a night. A Deezer-born artist is due for a Spotify link when an app is
//! configured and it was never sought, or not for `SPOTIFY_RELINK_AFTER`.

use std::time::Duration;

use chrono::NaiveDateTime;

use crate::catalog::ArtistState;

/// What may be fetched this run, known before it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Spotify is configured (budgets are found out while running).
    pub spotify_configured: bool,
    /// Top tracks must come from Deezer (Spotify refuses the endpoint or is not configured).
    pub tracks_need_deezer: bool,
    /// Related artists must come from Deezer.
    pub related_need_deezer: bool,
}

/// Ages after which each part of an artist is due again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ages {
    pub profile: Duration,
    pub tracks: Duration,
    pub related: Duration,
    /// How long an artist without a Deezer match waits before another matching attempt.
    pub deezer_remap: Duration,
    /// How long a Deezer-born artist whose Spotify id was not found waits before another
    /// search.
    pub spotify_relink: Duration,
}

/// One artist's due work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtistTask {
    pub artist: ArtistState,
    pub profile_due: bool,
    pub tracks_due: bool,
    pub related_due: bool,
    /// A Deezer-born artist whose Spotify id is to be sought this run.
    pub link_due: bool,
}

impl ArtistTask {
    pub(crate) fn is_due(&self) -> bool {
        self.profile_due || self.tracks_due || self.related_due || self.link_due
    }
}

/// The run's work list, stale first, and what was left out on purpose.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub tasks: Vec<ArtistTask>,
    /// Artists whose tracks or related artists are due but can only come from Deezer,
    /// where they have no match yet and are waiting before the next attempt.
    pub waiting_for_deezer_match: u64,
}

/// Which artists are due and in what order. With `force`, every artist is due in full.
pub fn plan_refresh(
    artists: Vec<ArtistState>,
    now: NaiveDateTime,
    ages: Ages,
    capabilities: Capabilities,
    force: bool,
) -> Plan {
    let mut plan = Plan::default();
    for artist in artists {
        let mut task = ArtistTask {
            profile_due: profile_source_exists(&artist, capabilities)
                && (force || is_stale(artist.profile_refreshed_at, ages.profile, now)),
            tracks_due: force || is_stale(artist.tracks_refreshed_at, ages.tracks, now),
            related_due: force || is_stale(artist.related_refreshed_at, ages.related, now),
            link_due: capabilities.spotify_configured
                && artist.is_deezer_born()
                && (force || is_stale(artist.spotify_checked_at, ages.spotify_relink, now)),
            artist,
        };
        if waits_for_deezer_match(&task.artist, now, ages.deezer_remap) {
            let mut waiting = false;
            if task.tracks_due && capabilities.tracks_need_deezer {
                task.tracks_due = false;
                waiting = true;
            }
            if task.related_due && capabilities.related_need_deezer {
                task.related_due = false;
                waiting = true;
            }
            plan.waiting_for_deezer_match += u64::from(waiting);
        }
        if task.is_due() {
            plan.tasks.push(task);
        }
    }
    plan.tasks.sort_by(|a, b| {
        (a.artist.demand, oldest_due(a))
            .cmp(&(b.artist.demand, oldest_due(b)))
            .then_with(|| a.artist.id.cmp(&b.artist.id))
    });
    plan
}

/// Whether anyone can give the artist's profile: Spotify for a Spotify-linked artist
/// (when an app is configured), Deezer for an artist matched there.
fn profile_source_exists(artist: &ArtistState, capabilities: Capabilities) -> bool {
    artist.deezer_id.is_some() || (capabilities.spotify_configured && !artist.is_deezer_born())
}

/// Only these artists, every part due (for `add` and onboarding), those users asked for
/// first.
pub(crate) fn plan_targeted(artists: Vec<ArtistState>, capabilities: Capabilities) -> Plan {
    let mut tasks: Vec<ArtistTask> = artists
        .into_iter()
        .map(|artist| ArtistTask {
            profile_due: profile_source_exists(&artist, capabilities)
                && artist.profile_refreshed_at.is_none(),
            tracks_due: true,
            related_due: true,
            link_due: capabilities.spotify_configured
                && artist.is_deezer_born()
                && artist.spotify_checked_at.is_none(),
            artist,
        })
        .collect();
    tasks.sort_by(|a, b| (a.artist.demand, &a.artist.id).cmp(&(b.artist.demand, &b.artist.id)));
    Plan {
        tasks,
        waiting_for_deezer_match: 0,
    }
}

fn is_stale(refreshed_at: Option<NaiveDateTime>, max_age: Duration, now: NaiveDateTime) -> bool {
    match refreshed_at {
        None => true,
        Some(at) => age(at, now) >= max_age,
    }
}

fn age(at: NaiveDateTime, now: NaiveDateTime) -> Duration {
    (now - at).to_std().unwrap_or(Duration::ZERO)
}

/// A Spotify-linked artist without a trustworthy Deezer match, checked too recently to
/// be searched again.
pub(crate) fn waits_for_deezer_match(
    artist: &ArtistState,
    now: NaiveDateTime,
    remap_after: Duration,
) -> bool {
    artist.deezer_id.is_none()
        && artist.deezer_mapping.is_some_and(|m| !m.is_mapped())
        && artist
            .deezer_checked_at
            .is_some_and(|checked| age(checked, now) < remap_after)
}

/// The oldest timestamp among the parts that are due; `None` (never) sorts first.
fn oldest_due(task: &ArtistTask) -> Option<NaiveDateTime> {
    let a = &task.artist;
    [
        (task.profile_due, a.profile_refreshed_at),
        (task.tracks_due, a.tracks_refreshed_at),
        (task.related_due, a.related_refreshed_at),
        (task.link_due, a.spotify_checked_at),
    ]
    .into_iter()
    .filter(|(due, _)| *due)
    .map(|(_, at)| at)
    .min()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{DeezerMapping, Demand};
    use chrono::NaiveDate;

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    fn artist(
        id: &str,
        profile: Option<NaiveDateTime>,
        tracks: Option<NaiveDateTime>,
        related: Option<NaiveDateTime>,
    ) -> ArtistState {
        ArtistState {
            id: id.into(),
            name: id.into(),
            name_key: id.to_lowercase(),
            deezer_id: None,
            deezer_mapping: None,
            deezer_checked_at: None,
            deezer_fans: None,
            image_url: None,
            profile_refreshed_at: profile,
            tracks_refreshed_at: tracks,
            related_refreshed_at: related,
            related_count: 0,
            spotify_link: None,
            spotify_checked_at: None,
            demand: Demand::Other,
        }
    }

    const AGES: Ages = Ages {
        profile: Duration::from_secs(7 * 86_400),
        tracks: Duration::from_secs(86_400),
        related: Duration::from_secs(86_400),
        deezer_remap: Duration::from_secs(7 * 86_400),
        spotify_relink: Duration::from_secs(30 * 86_400),
    };

    const DEV_MODE: Capabilities = Capabilities {
        spotify_configured: true,
        tracks_need_deezer: true,
        related_need_deezer: true,
    };

    #[test]
    fn oldest_data_goes_first_and_never_refreshed_before_all() {
        let now = at(27, 3);
        let plan = plan_refresh(
            vec![
                artist("recent", Some(at(26, 1)), Some(at(26, 1)), Some(at(26, 1))),
                artist("old", Some(at(20, 1)), Some(at(20, 1)), Some(at(20, 1))),
                artist("new", None, None, None),
                artist("fresh", Some(at(27, 2)), Some(at(27, 2)), Some(at(27, 2))),
            ],
            now,
            AGES,
            DEV_MODE,
            false,
        );
        let order: Vec<&str> = plan.tasks.iter().map(|t| t.artist.id.as_str()).collect();
        assert_eq!(order, ["new", "old", "recent"]);
    }

    #[test]
    fn profiles_age_slower_than_tracks() {
        let now = at(27, 3);
        let plan = plan_refresh(
            vec![artist(
                "a",
                Some(at(25, 3)),
                Some(at(25, 3)),
                Some(at(27, 1)),
            )],
            now,
            AGES,
            DEV_MODE,
            false,
        );
        let task = &plan.tasks[0];
        assert!(!task.profile_due);
        assert!(task.tracks_due);
        assert!(!task.related_due);
    }

    #[test]
    fn without_spotify_credentials_profiles_are_not_due() {
        let caps = Capabilities {
            spotify_configured: false,
            ..DEV_MODE
        };
        let plan = plan_refresh(
            vec![artist("a", None, None, None)],
            at(27, 3),
            AGES,
            caps,
            false,
        );
        assert!(!plan.tasks[0].profile_due);
        assert!(plan.tasks[0].tracks_due);
    }

    #[test]
    fn an_unmatched_artist_waits_before_deezer_is_asked_again() {
        let now = at(27, 3);
        let mut waiting = artist("unmatched", Some(at(26, 3)), None, None);
        waiting.deezer_mapping = Some(DeezerMapping::Ambiguous);
        waiting.deezer_checked_at = Some(at(25, 3));
        let mut retry = waiting.clone();
        retry.id = "retry".into();
        retry.deezer_checked_at = Some(at(1, 3));
        let plan = plan_refresh(vec![waiting, retry], now, AGES, DEV_MODE, false);
        assert_eq!(plan.waiting_for_deezer_match, 1);
        let ids: Vec<&str> = plan.tasks.iter().map(|t| t.artist.id.as_str()).collect();
        assert_eq!(ids, ["retry"]);
    }

    #[test]
    fn force_makes_everything_due() {
        let now = at(27, 3);
        let plan = plan_refresh(
            vec![artist("fresh", Some(now), Some(now), Some(now))],
            now,
            AGES,
            DEV_MODE,
            true,
        );
        assert!(plan.tasks[0].profile_due && plan.tasks[0].tracks_due && plan.tasks[0].related_due);
    }
}
