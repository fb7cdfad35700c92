//! `artistbot doctor`: checks a setup before the first nightly run, one line per check
//! saying what is wrong and how to fix it.
//!
//! In order: the settings file parses, no variable is a misspelt setting, the values
//! parse, the database answers, its schema is up to date, its account has the grants its
//! role needs, the Spotify app's credentials work (a token only: no Web API call, no
//! quota spent), what Spotify allows as far as the sync learned and the budget, Deezer
//! answers, when the schedule fires next, and whether `serve` would be reachable from
//! other machines without its secret. A failed check fails the command (exit 1); a
//! warning does not (a quota block, say, is a state, not a mistake).
//!
//! Doctor reads; it never writes to the database, never creates an SQLite file and never
//! runs a migration. Secrets appear in no line.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use chrono::Utc;

use super::grants::{self, Role};
use super::status::{Mode, ago};
use crate::config::{self, EnvFile, EnvFileError, HttpSettings, Settings};
use crate::providers::deezer::DeezerClient;
use crate::providers::http::CallBudget;
use crate::providers::spotify::{
    SpotifyAccess, SpotifyClient, SpotifyConfig, SpotifyError, SpotifyFeature,
};
use crate::store::grants::AccountGrants;
use crate::store::lock::sqlite_file;
use crate::store::{self, PoolOptions, Store, StoreError};

/// How long any one check may wait for a server.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// A secret shorter than this is easy to guess.
const SHORT_SECRET_CHARS: usize = 16;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Ok,
    /// Worth knowing, not a mistake: does not fail the command.
    Warn,
    Fail,
    /// Could not be checked (the reason says why).
    Skip,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
        })
    }
}

/// The checks so far, each printed as soon as it is known.
#[derive(Default)]
struct Report {
    failed: usize,
    warned: usize,
    checked: usize,
}

impl Report {
    fn line(&mut self, verdict: Verdict, check: &str, detail: impl fmt::Display) {
        self.print(verdict, check, &detail.to_string(), None);
    }

    fn fail(&mut self, check: &str, detail: impl fmt::Display, fix: impl fmt::Display) {
        self.print(
            Verdict::Fail,
            check,
            &detail.to_string(),
            Some(&fix.to_string()),
        );
    }

    fn warn(&mut self, check: &str, detail: impl fmt::Display, fix: impl fmt::Display) {
        self.print(
            Verdict::Warn,
            check,
            &detail.to_string(),
            Some(&fix.to_string()),
        );
    }

    fn print(&mut self, verdict: Verdict, check: &str, detail: &str, fix: Option<&str>) {
        self.checked += 1;
        match verdict {
            Verdict::Fail => self.failed += 1,
            Verdict::Warn => self.warned += 1,
            Verdict::Ok | Verdict::Skip => {}
        }
        match fix {
            Some(fix) => println!("{verdict:<4}  {check:<15} {detail} → fix: {fix}"),
            None => println!("{verdict:<4}  {check:<15} {detail}"),
        }
    }

    fn exit_code(&self) -> i32 {
        println!();
        match (self.failed, self.warned) {
            (0, 0) => println!("doctor: all {} checks passed", self.checked),
            (0, w) => println!("doctor: no check failed ({w} warning{})", plural(w)),
            (f, w) => println!(
                "doctor: {f} check{} failed, {w} warning{}",
                plural(f),
                plural(w)
            ),
        }
        i32::from(self.failed > 0)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `artistbot doctor`, given the settings file as `main` found it (already loaded into
/// the environment when it parsed). Returns the exit code.
pub async fn run(env_file: Result<EnvFile, EnvFileError>) -> i32 {
    let mut report = Report::default();
    let file_read = env_file.is_ok();
    let file = match env_file {
        Ok(file) => {
            check_settings_file(&mut report, &file);
            file
        }
        Err(error) => {
            report.fail(
                "settings file",
                &error,
                "write it as NAME=value lines (quote a value holding spaces or #); \
                 .env.example shows every setting",
            );
            EnvFile::default()
        }
    };
    let misspelt = misspelt_variables(&file);
    if misspelt.is_empty() {
        report.line(
            Verdict::Ok,
            "variable names",
            "every artistbot-like name is a setting",
        );
    } else {
        report.fail(
            "variable names",
            misspelt.join("; "),
            "rename each to the setting it means (an unknown name is ignored and the setting \
             keeps its default; .env.example lists them all)",
        );
    }
    let settings = match Settings::from_environment() {
        Ok(settings) => {
            let detail = if file_read {
                "every value parses"
            } else {
                "every value of the environment parses (the settings file's are not read)"
            };
            report.line(Verdict::Ok, "settings", detail);
            settings
        }
        Err(error) => {
            report.fail(
                "settings",
                &error,
                "correct that value (.env.example shows every setting with its default)",
            );
            report.line(
                Verdict::Skip,
                "the rest",
                "database, providers, schedule and skill need settings that parse",
            );
            return report.exit_code();
        }
    };
    let catalog = check_database(&mut report, &settings).await;
    check_spotify_app(&mut report, &settings).await;
    check_what_spotify_allows(&mut report, &settings, &catalog).await;
    check_deezer(&mut report, &settings).await;
    check_schedule(&mut report, &settings);
    check_skill_endpoint(&mut report, &settings);
    if let Catalog::Open(store) = catalog {
        store.close().await;
    }
    report.exit_code()
}

fn check_settings_file(report: &mut Report, file: &EnvFile) {
    let Some(path) = file.path() else {
        report.line(
            Verdict::Ok,
            "settings file",
            "no .env here: the settings come from the environment and the defaults",
        );
        return;
    };
    // The file was loaded without overriding the environment: a different value there
    // is the one in force.
    let overridden: Vec<&str> = file
        .entries()
        .iter()
        .filter(|entry| {
            std::env::var(&entry.name)
                .is_ok_and(|in_force| Some(in_force.as_str()) != file.value(&entry.name))
        })
        .map(|entry| entry.name.as_str())
        .collect();
    let summary = format!(
        "{}: {} variable{}",
        path.display(),
        file.entries().len(),
        plural(file.entries().len())
    );
    if overridden.is_empty() {
        report.line(Verdict::Ok, "settings file", summary);
    } else {
        report.warn(
            "settings file",
            format!(
                "{summary}; the environment overrides {} (its value is the one used)",
                overridden.join(", ")
            ),
            "unset them in the environment to use the file's values",
        );
    }
}

/// Each variable of the settings file or the environment that looks like a setting but
/// is not one, with where it is set and the setting it resembles.
pub(crate) fn misspelt_variables(file: &EnvFile) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_file = HashSet::new();
    for entry in file.entries() {
        in_file.insert(entry.name.as_str());
        if let Some(meant) = config::resembled_setting(&entry.name) {
            let path = file
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            found.push(format!(
                "{} ({path}, line {}) is not a setting: did you mean {}?",
                entry.name, entry.line, meant.name
            ));
        }
    }
    let mut names: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| !in_file.contains(name.as_str()))
        .collect();
    names.sort();
    for name in names {
        if let Some(meant) = config::resembled_setting(&name) {
            found.push(format!(
                "{name} (in the environment) is not a setting: did you mean {}?",
                meant.name
            ));
        }
    }
    found
}

/// The database as the checks found it.
enum Catalog {
    /// An SQLite file not created yet: nothing to read, nothing wrong.
    NotYet,
    /// It did not answer (already reported).
    Unreachable,
    Open(Store),
}

/// Reachable, schema, grants. The store is returned for the checks that read it.
async fn check_database(report: &mut Report, settings: &Settings) -> Catalog {
    let url = &settings.database_url;
    if let Some(file) = sqlite_file(url.expose())
        && !file.exists()
    {
        report.line(
            Verdict::Ok,
            "database",
            format!(
                "{} does not exist yet: `artistbot sync` creates it",
                file.display()
            ),
        );
        report.line(Verdict::Skip, "schema", "no database file yet");
        report.line(Verdict::Skip, "grants", "SQLite has no accounts");
        return Catalog::NotYet;
    }
    let pool = PoolOptions {
        max_connections: 2,
        connect_timeout: CHECK_TIMEOUT,
        ..PoolOptions::default()
    };
    let store = match Store::connect(url, pool).await {
        Ok(store) => store,
        Err(error) => {
            let fix = if url.is_sqlite() {
                "check the file's path and permissions in DATABASE_URL"
            } else {
                "check DATABASE_URL (host, port, account, password), that the server runs and \
                 that it accepts this account from here (deploy/mysql/README.md)"
            };
            report.fail("database", &error, fix);
            report.line(Verdict::Skip, "schema", "the database does not answer");
            report.line(Verdict::Skip, "grants", "the database does not answer");
            return Catalog::Unreachable;
        }
    };
    report.line(Verdict::Ok, "database", format!("{url} answers"));
    let account = store.account_grants().await;
    // An account that may not read the migrations table sees every migration as
    // pending: its answer says nothing about the schema.
    let blind_to_migrations = match &account {
        Ok(Some(grants)) => grants.database.as_deref().is_some_and(|database| {
            !grants::may_read(&grants.grants, database, "seaql_migrations")
        }),
        _ => false,
    };
    if blind_to_migrations {
        report.line(
            Verdict::Skip,
            "schema",
            "this account may not read seaql_migrations (the skill account's grants leave it \
             out); run doctor with the sync account's settings to check the schema",
        );
        check_grants(report, account);
        return Catalog::Open(store);
    }
    match store.migration_status().await {
        Ok((applied, pending)) if pending.is_empty() => report.line(
            Verdict::Ok,
            "schema",
            format!("up to date ({} migrations)", applied.len()),
        ),
        Ok((_, pending)) if url.is_sqlite() => report.line(
            Verdict::Ok,
            "schema",
            format!(
                "{} migration{} to apply: the next command applies them to the SQLite file",
                pending.len(),
                plural(pending.len())
            ),
        ),
        Ok((applied, pending)) => report.fail(
            "schema",
            format!(
                "{} of {} migrations pending",
                pending.len(),
                applied.len() + pending.len()
            ),
            "run `artistbot migrate` as the admin account (deploy/mysql/README.md)",
        ),
        Err(error) => report.fail(
            "schema",
            &error,
            "run `artistbot migrate` as the admin account",
        ),
    }
    check_grants(report, account);
    Catalog::Open(store)
}

fn check_grants(report: &mut Report, account: Result<Option<AccountGrants>, StoreError>) {
    let account = match account {
        Ok(Some(account)) => account,
        Ok(None) => {
            report.line(Verdict::Skip, "grants", "SQLite has no accounts");
            return;
        }
        Err(error) => {
            report.fail(
                "grants",
                &error,
                "check that the account may run SHOW GRANTS",
            );
            return;
        }
    };
    let Some(database) = account.database.as_deref() else {
        report.fail(
            "grants",
            "DATABASE_URL names no database",
            "end DATABASE_URL with /artistbot (the database's name)",
        );
        return;
    };
    let who = &account.account;
    if grants::holds_everything(&account.grants, database) {
        report.line(
            Verdict::Ok,
            "grants",
            format!(
                "{who} may do anything on {database} (an administrator: the daemon and serve \
                 are better off with the accounts of deploy/mysql/)"
            ),
        );
        return;
    }
    let for_sync = grants::missing_for(Role::Sync, &account.grants, database);
    let for_skill = grants::missing_for(Role::Skill, &account.grants, database);
    if for_sync.is_empty() {
        report.line(
            Verdict::Ok,
            "grants",
            format!(
                "{who} has what the sync account needs ({})",
                Role::Sync.file()
            ),
        );
    } else if for_skill.is_empty() {
        report.line(
            Verdict::Ok,
            "grants",
            format!(
                "{who} has what the skill account needs ({}): enough for `serve` and the \
                 Lambda, not for sync, add, import or the daemon ({})",
                Role::Skill.file(),
                Role::Sync.file()
            ),
        );
    } else {
        report.fail(
            "grants",
            format!(
                "{who} lacks, as the sync account: {}; as the skill account: {}",
                for_sync.join("; "),
                for_skill.join("; ")
            ),
            format!(
                "as the admin, apply {} for the daemon's account or {} for serve's (after \
                 `artistbot migrate`: a table grant needs the table)",
                Role::Sync.file(),
                Role::Skill.file()
            ),
        );
    }
}

/// The crate's own clients, as [`crate::sync::SyncEngine::clients`] builds them, but with
/// a Web API budget of zero (doctor asks for a token at most, which the quota does not
/// count) and a short, single retry so an unreachable provider fails in seconds.
fn provider_clients(settings: &Settings) -> (SpotifyClient, DeezerClient) {
    let http = HttpSettings {
        timeout: settings.http.timeout.min(CHECK_TIMEOUT),
        max_attempts: settings.http.max_attempts.min(2),
        backoff_base: settings.http.backoff_base.min(Duration::from_millis(200)),
        backoff_max: settings.http.backoff_max.min(Duration::from_millis(500)),
        ..settings.http
    };
    let client = reqwest::Client::builder()
        .user_agent(concat!("artistbot/", env!("CARGO_PKG_VERSION"), " doctor"))
        .timeout(http.timeout)
        .build()
        .expect("the HTTP client builds with static settings");
    let spotify = SpotifyClient::new(
        client.clone(),
        SpotifyConfig {
            api_url: settings.spotify_api_url.clone(),
            auth_url: settings.spotify_auth_url.clone(),
            credentials: settings.spotify.clone(),
            market: settings.spotify_market.clone(),
            http,
            rate: settings.spotify_rate,
            budget: std::sync::Arc::new(CallBudget::new(0)),
        },
        SpotifyAccess::default(),
    );
    let deezer = DeezerClient::new(
        client,
        settings.deezer_api_url.clone(),
        http,
        settings.deezer_rate,
    );
    (spotify, deezer)
}

async fn check_spotify_app(report: &mut Report, settings: &Settings) {
    if settings.spotify.is_none() {
        report.line(
            Verdict::Ok,
            "spotify app",
            "not configured: the sync works from Deezer alone, and `add` needs an app \
             (SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET)",
        );
        return;
    }
    let (spotify, _) = provider_clients(settings);
    match spotify.check_credentials().await {
        Ok(()) => report.line(
            Verdict::Ok,
            "spotify app",
            "the app's credentials work (a token, no quota spent)",
        ),
        Err(error @ SpotifyError::BadCredentials(_)) => report.fail(
            "spotify app",
            &error,
            "copy the Client ID and Client secret again from the app's page on \
             developer.spotify.com into SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET",
        ),
        Err(error) => report.fail(
            "spotify app",
            format!("no token from {}: {error}", settings.spotify_auth_url),
            "check the network (and SPOTIFY_AUTH_URL, if set)",
        ),
    }
}

/// The mode, the endpoints and the quota, as the sync learned them (`provider_state`).
async fn check_what_spotify_allows(report: &mut Report, settings: &Settings, catalog: &Catalog) {
    let configured = settings.spotify.is_some();
    let known = match catalog {
        Catalog::Open(store) => {
            let now = store::now();
            match (
                store.provider_states().await,
                store
                    .spotify_calls_since(now - chrono::Duration::hours(24))
                    .await,
            ) {
                (Ok(states), Ok(spent)) => Some((states, spent, now)),
                _ => None,
            }
        }
        Catalog::NotYet | Catalog::Unreachable => None,
    };
    let Some((states, spent, now)) = known else {
        match (configured, catalog) {
            (false, _) => report.line(Verdict::Ok, "mode", Mode::DeezerOnly.describe()),
            // No database yet, so no run has asked Spotify anything.
            (true, Catalog::NotYet) => report.line(Verdict::Ok, "mode", Mode::Unknown.describe()),
            (true, _) => report.line(
                Verdict::Skip,
                "mode",
                "what Spotify allows is kept in the database, which could not be read",
            ),
        }
        return;
    };
    let mode = Mode::of(configured, &states);
    let spotify_state = |feature: &str| {
        states
            .iter()
            .find(|s| s.provider == "spotify" && s.feature == feature)
    };
    let endpoints: Vec<String> = SpotifyFeature::ALL
        .into_iter()
        .filter_map(|feature| {
            let state = spotify_state(feature.as_str())?;
            let word = match state.available? {
                true => "allowed",
                false => "refused",
            };
            Some(format!(
                "{} {word} (asked {})",
                feature.as_str(),
                ago(state.checked_at, now)
            ))
        })
        .collect();
    let detail = if endpoints.is_empty() || !configured {
        mode.describe().to_owned()
    } else {
        format!("{}: {}", mode.describe(), endpoints.join(", "))
    };
    report.line(Verdict::Ok, "mode", detail);
    if !configured {
        return;
    }
    let daily = u64::from(settings.sync.spotify_daily_budget);
    let blocked = spotify_state("access").and_then(|access| {
        access
            .blocked_until
            .filter(|until| *until > now)
            .map(|until| (until, access))
    });
    if let Some((until, access)) = blocked {
        report.warn(
            "quota",
            format!(
                "Spotify blocked this app until {until} UTC ({}); the sync carries on from \
                 Deezer meanwhile",
                access.detail.as_deref().unwrap_or("quota")
            ),
            "nothing to do: the next run after the block asks Spotify again",
        );
    } else if spent >= daily {
        report.warn(
            "quota",
            format!("the daily budget is spent: {spent} of {daily} Spotify calls in 24 h"),
            "wait, or raise SPOTIFY_DAILY_BUDGET if Spotify allows this app more",
        );
    } else {
        report.line(
            Verdict::Ok,
            "quota",
            format!(
                "not blocked; {spent} of {daily} Spotify calls spent in 24 h (at most {} per run)",
                settings.sync.spotify_run_budget
            ),
        );
    }
}

async fn check_deezer(report: &mut Report, settings: &Settings) {
    let (_, deezer) = provider_clients(settings);
    match deezer.search_artists("IU", 1).await {
        Ok(_) => report.line(
            Verdict::Ok,
            "deezer",
            format!("answers ({})", settings.deezer_api_url),
        ),
        Err(error) => report.fail(
            "deezer",
            format!("{} does not answer: {error}", settings.deezer_api_url),
            "check the network (and DEEZER_API_URL, if set); Deezer needs no key",
        ),
    }
}

fn check_schedule(report: &mut Report, settings: &Settings) {
    let schedule = &settings.daemon.schedule;
    let tz = schedule.timezone();
    let now = Utc::now();
    match schedule.next_after(now) {
        Some(next) => {
            let minutes = (next - now).num_minutes();
            report.line(
                Verdict::Ok,
                "schedule",
                format!(
                    "next run {} (in {}h {:02}m): SYNC_SCHEDULE \"{}\" in {tz}",
                    next.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z"),
                    minutes / 60,
                    minutes % 60,
                    schedule.expression()
                ),
            );
        }
        None => report.fail(
            "schedule",
            format!(
                "SYNC_SCHEDULE \"{}\" never fires again",
                schedule.expression()
            ),
            "give SYNC_SCHEDULE a time that comes round (6 fields, seconds first: \"0 0 3 * * *\")",
        ),
    }
}

fn check_skill_endpoint(report: &mut Report, settings: &Settings) {
    let skill = &settings.skill;
    let bind = skill.bind_addr;
    let preview = crate::skill::preview::access(skill.preview, bind);
    let preview_note = match preview {
        Some(_) => format!("chat preview at http://{bind}/"),
        None => "no chat preview".to_owned(),
    };
    if bind.ip().is_loopback() {
        report.line(
            Verdict::Ok,
            "skill endpoint",
            format!("`serve` would listen on {bind}, this machine only; {preview_note}"),
        );
    } else {
        let mut unset = Vec::new();
        if skill.secret.is_none() {
            unset.push("SKILL_SECRET");
        }
        if skill.bot_ids.is_empty() {
            unset.push("SKILL_BOT_IDS");
        }
        if unset.is_empty() {
            report.line(
                Verdict::Ok,
                "skill endpoint",
                format!(
                    "`serve` would listen on {bind}, beyond this machine, with the secret and \
                     bot ids checked; {preview_note}"
                ),
            );
        } else {
            report.fail(
                "skill endpoint",
                format!(
                    "`serve` would listen on {bind}, reachable from other machines, without {}",
                    unset.join(" and ")
                ),
                "set SKILL_SECRET to a long random value (also in Open Builder's skill header, \
                 헤더값 입력) and SKILL_BOT_IDS to your bot's id, or BIND_ADDR=127.0.0.1:8080",
            );
        }
        if preview.is_some() {
            report.warn(
                "chat preview",
                format!(
                    "SKILL_PREVIEW=true: http://{bind}/ answers whoever reaches it, without the \
                     secret"
                ),
                "SKILL_PREVIEW=auto (the preview on loopback only), unless this network is trusted",
            );
        }
    }
    if let Some(secret) = &skill.secret {
        let length = secret.expose().chars().count();
        if length < SHORT_SECRET_CHARS {
            report.warn(
                "skill secret",
                format!("SKILL_SECRET has only {length} characters"),
                "use 32 or more random characters (openssl rand -hex 24)",
            );
        }
    }
}
