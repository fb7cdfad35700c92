//! `artistbot status` and `artistbot status --json`: which world the sync is in, the
//! catalog, what Spotify allows and the budget, the last runs, the schedule and the
//! request queue.
//!
//! The facts are gathered once ([`gather`]) and printed for a person or as one JSON
//! object whose keys are stable (the README lists them); a key is added, never renamed
//! or dropped. It writes nothing to the catalog: `status` must be safe to run beside a
//! daemon at any time.

use anyhow::Result;
use chrono::{NaiveDateTime, Utc};
use serde_json::{Map, Value, json};

use crate::config::Settings;
use crate::providers::spotify::SpotifyFeature;
use crate::store::lock::RunnerLock;
use crate::store::provider_state::FeatureState;
use crate::store::runs::RunRecord;
use crate::store::status::CatalogCounts;
use crate::store::{self, PoolOptions, Store};

/// Which world the sync is in: where artists, top tracks and related artists come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// No Spotify app is configured.
    DeezerOnly,
    /// Spotify refused one of the endpoints ordinary apps may not call.
    SpotifyDevelopment,
    /// Spotify answered top tracks and related artists.
    SpotifyExtended,
    /// A Spotify app is configured but no run has asked what it may call yet.
    Unknown,
}

impl Mode {
    /// From the settings and what `provider_state` learned.
    pub(crate) fn of(spotify_configured: bool, states: &[FeatureState]) -> Mode {
        if !spotify_configured {
            return Mode::DeezerOnly;
        }
        let spotify = |feature: SpotifyFeature| {
            states
                .iter()
                .find(|s| s.provider == "spotify" && s.feature == feature.as_str())
                .and_then(|s| s.available)
        };
        if SpotifyFeature::ALL
            .into_iter()
            .any(|feature| spotify(feature) == Some(false))
        {
            Mode::SpotifyDevelopment
        } else if spotify(SpotifyFeature::TopTracks) == Some(true)
            && spotify(SpotifyFeature::RelatedArtists) == Some(true)
        {
            Mode::SpotifyExtended
        } else {
            Mode::Unknown
        }
    }

    /// The `mode` key's value in `status --json`.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Mode::DeezerOnly => "deezer_only",
            Mode::SpotifyDevelopment => "spotify_development",
            Mode::SpotifyExtended => "spotify_extended",
            Mode::Unknown => "unknown",
        }
    }

    /// What the mode means, for people.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Mode::DeezerOnly => {
                "Deezer only (no Spotify app: artists, tracks and related artists come from Deezer)"
            }
            Mode::SpotifyDevelopment => {
                "Spotify Development Mode (artist profiles from Spotify; top tracks and related artists from Deezer)"
            }
            Mode::SpotifyExtended => {
                "Spotify Extended Quota (artist profiles, top tracks and related artists from Spotify)"
            }
            Mode::Unknown => {
                "unknown until the first sync (a Spotify app is configured; the first run finds out what it may call)"
            }
        }
    }
}

/// Everything `status` shows.
struct Facts {
    mode: Mode,
    applied: Vec<String>,
    pending: Vec<String>,
    /// The rest needs the schema: `None` on a database no migration has touched.
    tables: Option<TableFacts>,
    now: NaiveDateTime,
}

struct TableFacts {
    counts: CatalogCounts,
    states: Vec<FeatureState>,
    spotify_calls_24h: u64,
    runs: Vec<RunRecord>,
}

async fn gather(settings: &Settings, store: &Store) -> Result<Facts> {
    let (applied, pending) = store.migration_status().await?;
    let now = store::now();
    let tables = if !pending.is_empty() && applied.is_empty() {
        None
    } else {
        Some(TableFacts {
            counts: store.catalog_counts().await?,
            states: store.provider_states().await?,
            spotify_calls_24h: store
                .spotify_calls_since(now - chrono::Duration::hours(24))
                .await?,
            runs: store.recent_runs(5).await?,
        })
    };
    let states = tables.as_ref().map_or(&[][..], |t| &t.states[..]);
    Ok(Facts {
        mode: Mode::of(settings.spotify.is_some(), states),
        applied,
        pending,
        tables,
        now,
    })
}

/// `artistbot status` (`json`: `status --json`).
pub async fn run(settings: &Settings, json: bool) -> Result<()> {
    let pool = PoolOptions::default().limit_statements(settings.db_statement_timeout);
    let store = Store::connect(&settings.database_url, pool).await?;
    let facts = gather(settings, &store).await?;
    if json {
        let report = as_json(settings, &store, &facts).await?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    print_for_people(settings, &facts);
    if facts.tables.is_some() {
        println!();
        for line in crate::daemon::status_lines(settings, &store).await? {
            println!("{line}");
        }
    }
    Ok(())
}

fn print_for_people(settings: &Settings, facts: &Facts) {
    println!("mode: {}", facts.mode.describe());
    println!("database      {}", settings.database_url);
    println!(
        "schema        {} migrations applied{}",
        facts.applied.len(),
        if facts.pending.is_empty() {
            String::new()
        } else {
            format!(", {} PENDING: run `artistbot migrate`", facts.pending.len())
        }
    );
    let Some(tables) = &facts.tables else {
        return;
    };
    let counts = &tables.counts;
    println!();
    println!("catalog");
    println!("  artists               {}", counts.artists);
    println!("  with top tracks       {}", counts.artists_with_tracks);
    println!("  with related artists  {}", counts.artists_with_related);
    println!("  matched on Deezer     {}", counts.artists_on_deezer);
    println!(
        "  no Deezer match       {}",
        counts.artists_unmatched_on_deezer
    );
    println!("  aliases               {}", counts.aliases);
    println!(
        "  top tracks            {}",
        by_source(&counts.top_tracks_by_source)
    );
    println!(
        "  related rows          {}",
        by_source(&counts.related_by_source)
    );
    println!("  Deezer artists cached {}", counts.deezer_artists_cached);

    println!();
    println!("providers");
    let now = facts.now;
    if settings.spotify.is_none() {
        println!("  spotify: not configured (SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET)");
    }
    println!(
        "  spotify calls in the last 24 h: {} of {} (per run at most {})",
        tables.spotify_calls_24h,
        settings.sync.spotify_daily_budget,
        settings.sync.spotify_run_budget
    );
    if tables.states.is_empty() {
        println!("  nothing learned yet (no run has talked to Spotify)");
    }
    for state in &tables.states {
        let what = match (state.feature.as_str(), state.available, state.blocked_until) {
            ("access", _, Some(until)) if until > now => {
                format!(
                    "BLOCKED until {} UTC ({})",
                    until,
                    state.detail.as_deref().unwrap_or("quota")
                )
            }
            ("access", _, _) => "not blocked".to_owned(),
            (_, Some(true), _) => "available".to_owned(),
            (_, Some(false), _) => format!(
                "refused (re-checked after {} UTC)",
                recheck_at(settings, state)
            ),
            _ => "unknown".to_owned(),
        };
        println!(
            "  {}.{:<16} {what} (checked {})",
            state.provider,
            state.feature,
            ago(state.checked_at, now)
        );
    }

    println!();
    println!("last runs");
    if tables.runs.is_empty() {
        println!("  none yet: `artistbot sync` runs one");
    }
    for run in &tables.runs {
        let c = &run.counts;
        println!(
            "  #{:<5} {:<11} {:<8} started {} {}: due {}, refreshed {}, failed {}, added {}, no Deezer match {}; tracks {}, related {}; calls spotify {}, deezer {}",
            run.id,
            run.status.as_str(),
            run.trigger,
            ago(run.started_at, now),
            run.finished_at
                .map(|f| format!("(took {}s)", (f - run.started_at).num_seconds()))
                .unwrap_or_else(|| "(not finished)".into()),
            c.artists_due,
            c.artists_refreshed,
            c.artists_failed,
            c.artists_added,
            c.artists_unmapped,
            c.top_tracks_written,
            c.related_written,
            c.spotify_calls,
            c.deezer_calls,
        );
        if let Some(reason) = &run.stop_reason {
            println!("         stopped: {reason}");
        }
    }
}

/// When a refused endpoint is asked again.
fn recheck_at(settings: &Settings, state: &FeatureState) -> NaiveDateTime {
    state.checked_at
        + chrono::Duration::from_std(settings.sync.spotify_recheck_after)
            .unwrap_or(chrono::Duration::days(7))
}

/// The JSON of `status --json`. Times are UTC, ISO 8601 with a `Z`; absent facts are
/// `null`, never a made-up zero.
async fn as_json(settings: &Settings, store: &Store, facts: &Facts) -> Result<Value> {
    let schedule = &settings.daemon.schedule;
    let next_run = schedule.next_after(Utc::now());
    let mut lock = RunnerLock::new(&settings.database_url);
    let lock_state = match lock.is_busy().await {
        Ok(true) => "held",
        Ok(false) => "free",
        Err(_) => "unknown",
    };
    lock.close().await;
    let mut report = json!({
        "mode": facts.mode.key(),
        "database": {
            "url": settings.database_url.to_string(),
            "backend": if settings.database_url.is_sqlite() { "sqlite" } else { "mysql" },
            "migrations_applied": facts.applied.len(),
            "migrations_pending": facts.pending.len(),
        },
        "catalog": null,
        "spotify": {
            "configured": settings.spotify.is_some(),
            "calls_last_24h": null,
            "daily_budget": settings.sync.spotify_daily_budget,
            "run_budget": settings.sync.spotify_run_budget,
            "blocked_until": null,
            "block_reason": null,
            "endpoints": null,
        },
        "last_runs": [],
        "daemon": {
            "schedule": schedule.expression(),
            "timezone": schedule.timezone().name(),
            "next_run": next_run.map(|at| utc(at.naive_utc())),
            "runner_lock": lock_state,
        },
        "request_queue": null,
    });
    let Some(tables) = &facts.tables else {
        return Ok(report);
    };
    let counts = &tables.counts;
    report["catalog"] = json!({
        "artists": counts.artists,
        "with_top_tracks": counts.artists_with_tracks,
        "with_related_artists": counts.artists_with_related,
        "matched_on_deezer": counts.artists_on_deezer,
        "no_deezer_match": counts.artists_unmatched_on_deezer,
        "aliases": counts.aliases,
        "top_tracks": rows_by_source(&counts.top_tracks_by_source),
        "related_rows": rows_by_source(&counts.related_by_source),
        "deezer_artists_cached": counts.deezer_artists_cached,
    });
    let spotify = &mut report["spotify"];
    spotify["calls_last_24h"] = json!(tables.spotify_calls_24h);
    let state_of = |feature: &str| {
        tables
            .states
            .iter()
            .find(|s| s.provider == "spotify" && s.feature == feature)
    };
    if let Some(access) = state_of("access")
        && let Some(until) = access.blocked_until.filter(|until| *until > facts.now)
    {
        spotify["blocked_until"] = json!(utc(until));
        spotify["block_reason"] = json!(access.detail);
    }
    let mut endpoints = Map::new();
    for feature in SpotifyFeature::ALL {
        let state = state_of(feature.as_str());
        let (word, asked_again) = match state.and_then(|s| s.available) {
            Some(true) => ("available", None),
            Some(false) => ("refused", state.map(|s| utc(recheck_at(settings, s)))),
            None => ("unknown", None),
        };
        endpoints.insert(
            feature.as_str().to_owned(),
            json!({
                "state": word,
                "checked_at": state.map(|s| utc(s.checked_at)),
                "asked_again_after": asked_again,
            }),
        );
    }
    spotify["endpoints"] = Value::Object(endpoints);
    report["last_runs"] = tables.runs.iter().map(run_json).collect();
    let queue = store.request_counts(facts.now).await?;
    report["request_queue"] = json!({
        "pending": queue.pending,
        "due_now": queue.due_now,
        "not_found_retrying": queue.not_found_retrying,
        "not_found_given_up": queue.not_found_given_up,
        "failed_retrying": queue.failed_retrying,
        "failed_given_up": queue.failed_given_up,
        "done": queue.done,
    });
    Ok(report)
}

fn run_json(run: &RunRecord) -> Value {
    let c = &run.counts;
    json!({
        "id": run.id,
        "status": run.status.as_str(),
        "trigger": run.trigger,
        "started_at": utc(run.started_at),
        "finished_at": run.finished_at.map(utc),
        "stop_reason": run.stop_reason,
        "error": run.error_summary,
        "counts": {
            "artists_due": c.artists_due,
            "artists_refreshed": c.artists_refreshed,
            "artists_failed": c.artists_failed,
            "artists_added": c.artists_added,
            "no_deezer_match": c.artists_unmapped,
            "profiles_written": c.profiles_written,
            "top_tracks_written": c.top_tracks_written,
            "related_written": c.related_written,
            "spotify_calls": c.spotify_calls,
            "deezer_calls": c.deezer_calls,
        },
    })
}

fn rows_by_source(rows: &[(String, u64)]) -> Value {
    let by_source: Map<String, Value> = rows
        .iter()
        .map(|(source, n)| (source.clone(), json!(n)))
        .collect();
    json!({
        "total": rows.iter().map(|(_, n)| n).sum::<u64>(),
        "by_source": by_source,
    })
}

/// `2026-12-05T03:00:00Z`.
fn utc(at: NaiveDateTime) -> String {
    format!("{}Z", at.format("%Y-%m-%dT%H:%M:%S"))
}

fn by_source(rows: &[(String, u64)]) -> String {
    if rows.is_empty() {
        return "0".into();
    }
    let total: u64 = rows.iter().map(|(_, n)| n).sum();
    let parts: Vec<String> = rows.iter().map(|(s, n)| format!("{s} {n}")).collect();
    format!("{total} ({})", parts.join(", "))
}

pub(crate) fn ago(at: NaiveDateTime, now: NaiveDateTime) -> String {
    let seconds = (now - at).num_seconds();
    let text = match seconds {
        s if s < 0 => return format!("{at} UTC"),
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    };
    format!("{text} ago")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(feature: &str, available: Option<bool>) -> FeatureState {
        FeatureState {
            provider: "spotify".into(),
            feature: feature.into(),
            available,
            blocked_until: None,
            checked_at: store::now(),
            detail: None,
        }
    }

    #[test]
    fn the_mode_follows_the_settings_and_what_spotify_said() {
        assert_eq!(Mode::of(false, &[]), Mode::DeezerOnly);
        assert_eq!(Mode::of(true, &[]), Mode::Unknown);
        assert_eq!(
            Mode::of(true, &[state("top_tracks", Some(false))]),
            Mode::SpotifyDevelopment
        );
        assert_eq!(
            Mode::of(
                true,
                &[
                    state("top_tracks", Some(true)),
                    state("related_artists", Some(true))
                ]
            ),
            Mode::SpotifyExtended
        );
        assert_eq!(
            Mode::of(true, &[state("top_tracks", Some(true))]),
            Mode::Unknown,
            "related artists not asked yet"
        );
    }
}
