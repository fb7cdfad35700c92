//! Settings, read once at startup from the environment and a settings file (`.env`, or
//! the file `--env-file` / `ARTISTBOT_ENV_FILE` names; see [`env_file`]).
//!
//! This module owns every configuration name, its default and its parsing, and knows a
//! misspelt name when it sees one ([`resembled_setting`]); nothing else reads the
//! environment. Secrets (the Spotify client secret, a database password) are
//! wrapped so that `Debug`/`Display` never print them, and parse errors name the variable
//! but never echo a secret's value.

pub mod cron;
pub mod env_file;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

pub use env_file::{ENV_FILE_VARIABLE, EnvFile, EnvFileError};

/// A value that must never reach a log line or an error message.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value, for the one place that sends it (an HTTP header, a connection).
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A database URL: displayed with its password masked.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    pub(crate) fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }

    /// Where the user information ends: the last `@` of the URL. A password may hold
    /// `/`, `@`, `:` or `?` unencoded, so nothing before that `@` is taken for the host;
    /// should the query hold an `@`, more is hidden than needed, never less.
    fn user_info(&self) -> Option<(usize, &str)> {
        let start = self.0.find("://")? + 3;
        let at = self.0.rfind('@').filter(|at| *at >= start)?;
        Some((start, &self.0[start..at]))
    }

    /// The password as written in the URL, if there is one.
    fn password(&self) -> Option<&str> {
        let (_, user_info) = self.user_info()?;
        let (_, password) = user_info.split_once(':')?;
        (!password.is_empty()).then_some(password)
    }

    /// The URL with any password replaced by `***`, safe to log.
    pub(crate) fn redacted(&self) -> String {
        let url = &self.0;
        let Some((start, user_info)) = self.user_info() else {
            return url.clone();
        };
        let end = start + user_info.len();
        match user_info.split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..start], &url[end..]),
            None => url.clone(),
        }
    }

    /// `message` with this URL and its password (as written, percent-decoded, and
    /// percent-encoded: a driver may quote any of them) replaced, for error messages
    /// that quote the connection string.
    pub(crate) fn scrub(&self, message: &str) -> String {
        let mut scrubbed = message.replace(&self.0, &self.redacted());
        if let Some(password) = self.password() {
            let mut forms = [
                password.to_owned(),
                percent_decode(password),
                percent_encode(password),
            ];
            // Longest first, so a form containing another is replaced whole.
            forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
            for form in forms.iter().filter(|form| !form.is_empty()) {
                scrubbed = scrubbed.replace(form.as_str(), "***");
            }
        }
        scrubbed
    }
}

/// `%XX` escapes decoded (invalid ones kept as they are); the result as lossy UTF-8.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((high * 16 + low) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Everything but unreserved characters percent-encoded, as a URL's user information
/// would carry it.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// How log lines are written (`LOG_FORMAT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for CloudWatch Logs Insights, Loki, jq).
    Json,
}

impl LogFormat {
    /// `text` or `json`, in any case (AWS Lambda spells them `Text` and `JSON`).
    pub fn parse(raw: &str) -> Option<LogFormat> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }

    pub fn is_json(self) -> bool {
        self == LogFormat::Json
    }
}

/// Spotify client-credentials app.
#[derive(Clone, Debug)]
pub(crate) struct SpotifyCredentials {
    pub(crate) client_id: String,
    pub(crate) client_secret: Secret,
}

/// How many requests a provider may receive in a sliding window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RateLimit {
    pub(crate) max_requests: u32,
    pub(crate) window: Duration,
}

/// The one retry/timeout policy every outbound call follows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HttpSettings {
    /// Whole-request timeout (connect, send, read the body).
    pub(crate) timeout: Duration,
    /// Attempts per call, the first included.
    pub(crate) max_attempts: u32,
    /// First backoff delay; doubled per attempt, with jitter.
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_max: Duration,
    /// A `Retry-After` up to this long is waited out; a longer one is a block.
    pub(crate) max_retry_after: Duration,
    /// Calls that failed after all retries, in a row, before a provider counts as down
    /// for the rest of the run.
    pub(crate) failures_before_down: u32,
}

/// What a refresh run does and how much it may spend.
#[derive(Clone, Debug)]
pub(crate) struct SyncSettings {
    pub(crate) profile_max_age: Duration,
    pub(crate) tracks_max_age: Duration,
    pub(crate) related_max_age: Duration,
    /// Artists worked on at the same time.
    pub(crate) concurrency: usize,
    /// Spotify calls one run may make.
    pub(crate) spotify_run_budget: u32,
    /// Spotify calls all runs together may make in 24 hours (the quota is per day).
    pub(crate) spotify_daily_budget: u32,
    /// The catalog stops growing through related artists at this size.
    pub(crate) max_catalog_artists: u64,
    /// New artists one run may add through related artists.
    pub(crate) max_new_artists_per_run: u32,
    /// How long an artist that could not be matched on Deezer waits before another try.
    pub(crate) deezer_remap_after: Duration,
    /// How long an endpoint Spotify refused stays unused before it is tried again.
    pub(crate) spotify_recheck_after: Duration,
    pub(crate) tracks_kept: usize,
    pub(crate) related_kept: usize,
    /// A lone Deezer name match with fewer fans than this is confirmed by a recording
    /// before it is trusted.
    pub(crate) confirm_below_fans: i64,
    /// How long a Deezer-born artist whose Spotify id was not found (or not proven)
    /// waits before Spotify is searched again.
    pub(crate) spotify_relink_after: Duration,
    /// Where an empty catalog's first artists come from.
    pub(crate) starter: Starter,
}

/// `CATALOG_STARTER`: the artists an empty catalog starts from on its first run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Starter {
    /// The list bundled with artistbot (`data/starter-artists.txt`).
    Bundled,
    /// A list of one's own: names, `deezer:` ids or links, one per line.
    File(PathBuf),
    /// No starter list: the catalog grows from `add` and users' requests only.
    Off,
}

/// What `artistbot daemon` does and when.
#[derive(Clone, Debug)]
pub struct DaemonSettings {
    /// When the scheduled refresh fires: a 6-field cron (with seconds) in its time zone.
    pub schedule: cron::CronSchedule,
    /// How often the request queue is looked at.
    pub queue_poll: Duration,
    /// Requests onboarded per poll at most (each costs Spotify searches).
    pub queue_batch: usize,
    /// How long in-flight artists get to finish after SIGTERM / Ctrl-C.
    pub shutdown_grace: Duration,
    /// Where `/healthz` and `/metrics` are served, if anywhere.
    pub health_addr: Option<SocketAddr>,
    /// The wait before a name that found nothing is tried again; each further wait is
    /// four times the previous one.
    pub request_retry_delay: Duration,
    /// Tries per requested name before it is given up (the first try included).
    pub request_max_attempts: u32,
    /// `REQUESTS_RETENTION`: how long finished requests (done, given up) are kept, and
    /// how long an open request may go without anyone asking for it, before the daemon
    /// deletes it.
    pub requests_retention: Duration,
    /// How long a scheduled refresh or a CLI run waits for another runner's unit of
    /// work (the runner lock) before it gives up.
    pub lock_wait: Duration,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub(crate) spotify: Option<SpotifyCredentials>,
    pub(crate) spotify_api_url: String,
    pub(crate) spotify_auth_url: String,
    pub(crate) spotify_market: String,
    pub(crate) spotify_rate: RateLimit,
    pub(crate) deezer_api_url: String,
    pub(crate) deezer_rate: RateLimit,
    pub(crate) http: HttpSettings,
    pub(crate) sync: SyncSettings,
    pub log_dir: Option<PathBuf>,
    pub log_files_kept: usize,
    /// `LOG_FORMAT`: text lines or one JSON object per line (console and files alike).
    pub log_format: LogFormat,
    pub daemon: DaemonSettings,
    pub skill: SkillSettings,
    /// Limits of the HTTP servers (`artistbot serve`, the daemon's health server).
    pub server: ServerSettings,
    /// `DB_STATEMENT_TIMEOUT`: the most one database statement of the daemon or a command
    /// may take, enforced by the server (`None`: no limit).
    pub db_statement_timeout: Option<Duration>,
}

/// What an HTTP server of artistbot allows its clients (`artistbot serve` and the
/// daemon's health server). A slow or idle client is cut off, the number of open
/// connections is capped, and a stop waits for requests in flight at most
/// `SHUTDOWN_GRACE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerSettings {
    /// `SERVER_HEADER_TIMEOUT`: the most a client may take to send a request's headers,
    /// from its connection (or the first byte of a further request on a kept-alive one).
    pub header_timeout: Duration,
    /// `SERVER_REQUEST_TIMEOUT`: the most one request may take from its headers to its
    /// response, the body's upload included.
    pub request_timeout: Duration,
    /// `SERVER_IDLE_TIMEOUT`: how long a kept-alive connection may wait for its next
    /// request.
    pub idle_timeout: Duration,
    /// `SERVER_MAX_CONNECTIONS`: open connections at most (lowered at start to what the
    /// process's descriptor limit leaves room for).
    pub max_connections: usize,
}

/// The Kakao skill endpoint (`artistbot serve` and the Lambda binary).
#[derive(Clone, Debug)]
pub struct SkillSettings {
    /// `BIND_ADDR`: where `artistbot serve` listens.
    pub(crate) bind_addr: SocketAddr,
    /// `SKILL_SECRET`: when set, every `POST /skill` must carry it in [`Self::secret_header`].
    pub(crate) secret: Option<Secret>,
    /// `SKILL_SECRET_HEADER`: the header carrying the secret (Open Builder's "헤더값 입력").
    pub(crate) secret_header: String,
    /// `SKILL_BOT_IDS`: when not empty, requests from other `bot.id`s are refused.
    pub(crate) bot_ids: Vec<String>,
    /// `SKILL_DB_TIMEOUT`: the most the database may take for one reply, well inside
    /// Kakao's 5-second budget.
    pub(crate) db_timeout: Duration,
    /// `SKILL_RECORD_MISSES`: record unknown names in `artist_requests` (the endpoint's
    /// only write).
    pub(crate) record_misses: bool,
    /// `REQUESTS_PER_USER_PER_DAY` and `REQUESTS_MAX_PENDING`: how much the recorded
    /// misses may add to the request queue.
    pub(crate) request_limits: RequestLimits,
    /// `SKILL_DB_MAX_CONNECTIONS`: the endpoint's pool size.
    pub(crate) db_max_connections: u32,
    /// `SKILL_NAMES_REFRESH`: how old the in-memory list of names used for suggestions
    /// may grow before it is read again.
    pub(crate) names_refresh: Duration,
    /// `SKILL_ARTIST_PARAMS`: action parameters that may carry the artist name, in order
    /// (the block's entity); the utterance is used when none has text.
    pub(crate) artist_params: Vec<String>,
    /// `SKILL_FALLBACK_IMAGE_URL`: the artist card's image when the artist has none.
    pub(crate) fallback_image_url: Option<String>,
    /// `SKILL_PREVIEW`: when `artistbot serve` shows the chat preview page.
    pub(crate) preview: PreviewSetting,
    /// `SKILL_CACHE_TTL`: how long a found artist's reply is served from memory before
    /// the catalog is read again (`None`: never cached).
    pub(crate) reply_cache_ttl: Option<Duration>,
}

/// How much users' misses may add to the request queue (`artist_requests`), so that one
/// user, or many, cannot flood it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    /// `REQUESTS_PER_USER_PER_DAY`: names one user may add to the queue (as a new request
    /// or as one more user asking for a queued name) in [`Self::per_user_window`]; their
    /// further misses are answered but not recorded. 0 records no user's misses.
    pub per_user: u32,
    /// The window of `per_user`: the last 24 hours, rolling.
    pub per_user_window: Duration,
    /// `REQUESTS_MAX_PENDING`: open requests (pending, or waiting to be tried again) at
    /// most; past it, names not yet in the queue are not recorded, while asks of queued
    /// names are still counted.
    pub max_pending: u64,
}

impl RequestLimits {
    /// The defaults: 20 names per user a day, 1,000 open requests.
    pub const DEFAULT: RequestLimits = RequestLimits {
        per_user: 20,
        per_user_window: Duration::from_secs(24 * 3600),
        max_pending: 1000,
    };
}

/// `SKILL_PREVIEW`: when `artistbot serve` shows the chat preview page (`GET /`), whose
/// requests are answered without the skill's secret.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PreviewSetting {
    /// `auto`: only when `serve` listens on a loopback address, where only this machine
    /// can reach it.
    #[default]
    Auto,
    /// `true`: wherever `serve` listens; whoever reaches the port may ask without the
    /// secret (a trusted network only).
    Always,
    /// `false`: never.
    Never,
}

impl PreviewSetting {
    fn parse(raw: &str) -> Option<PreviewSetting> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(PreviewSetting::Auto),
            "1" | "true" | "yes" | "on" => Some(PreviewSetting::Always),
            "0" | "false" | "no" | "off" => Some(PreviewSetting::Never),
            _ => None,
        }
    }

    /// Whether `serve`, listening on `bind`, shows the preview.
    pub fn allows(self, bind: SocketAddr) -> bool {
        match self {
            PreviewSetting::Auto => bind.ip().is_loopback(),
            PreviewSetting::Always => true,
            PreviewSetting::Never => false,
        }
    }
}

pub(crate) const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";
pub(crate) const DEFAULT_SKILL_SECRET_HEADER: &str = "X-Skill-Secret";

/// Why the settings could not be loaded at a command's start.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error(transparent)]
    EnvFile(#[from] EnvFileError),
    #[error(transparent)]
    Settings(#[from] ConfigError),
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name}: {problem}")]
    Invalid { name: &'static str, problem: String },
    #[error("SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET must be set together")]
    HalfSpotifyCredentials,
}

pub(crate) const DEFAULT_SPOTIFY_API_URL: &str = "https://api.spotify.com/v1";
pub(crate) const DEFAULT_SPOTIFY_AUTH_URL: &str = "https://accounts.spotify.com/api/token";
pub(crate) const DEFAULT_DEEZER_API_URL: &str = "https://api.deezer.com";
/// Nightly at 03:00 (seconds, minutes, hours, day of month, month, day of week).
pub(crate) const DEFAULT_SYNC_SCHEDULE: &str = "0 0 3 * * *";
pub(crate) const DEFAULT_SYNC_TIMEZONE: &str = "Asia/Seoul";

/// One variable artistbot reads: its name, its default as an `.env` file would spell it
/// (`None`: unset unless given), and what it is for. [`SETTINGS`] lists every one; a
/// test holds the list against what [`Settings::from_lookup`] reads and against both
/// example files, so `doctor` and the examples can trust it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettingSpec {
    pub name: &'static str,
    pub default: Option<&'static str>,
    pub meaning: &'static str,
}

const fn spec(
    name: &'static str,
    default: Option<&'static str>,
    meaning: &'static str,
) -> SettingSpec {
    SettingSpec {
        name,
        default,
        meaning,
    }
}

/// Every setting, in the order the example files list them.
pub const SETTINGS: &[SettingSpec] = &[
    spec(
        "DATABASE_URL",
        Some(migration::DEFAULT_DATABASE_URL),
        "SQLite file, or mysql://user:pass@host:3306/db",
    ),
    spec(
        "DB_STATEMENT_TIMEOUT",
        Some("30s"),
        "most one database statement of the daemon or a command may take (0 = no limit)",
    ),
    spec(
        "SPOTIFY_CLIENT_ID",
        None,
        "Spotify app (client credentials)",
    ),
    spec("SPOTIFY_CLIENT_SECRET", None, "Spotify app secret"),
    spec(
        "SPOTIFY_MARKET",
        Some("KR"),
        "market for top tracks and search",
    ),
    spec(
        "SPOTIFY_API_URL",
        Some(DEFAULT_SPOTIFY_API_URL),
        "Spotify Web API base URL",
    ),
    spec(
        "SPOTIFY_AUTH_URL",
        Some(DEFAULT_SPOTIFY_AUTH_URL),
        "Spotify token URL",
    ),
    spec(
        "SPOTIFY_RUN_BUDGET",
        Some("500"),
        "Spotify calls one run may make",
    ),
    spec(
        "SPOTIFY_DAILY_BUDGET",
        Some("1500"),
        "Spotify calls in 24 hours, all runs together",
    ),
    spec(
        "SPOTIFY_MAX_REQUESTS",
        Some("60"),
        "Spotify pacing: requests per window (0 = off)",
    ),
    spec("SPOTIFY_WINDOW", Some("30s"), "Spotify pacing window"),
    spec(
        "SPOTIFY_RECHECK_AFTER",
        Some("7d"),
        "when a refused Spotify endpoint is asked again",
    ),
    spec(
        "DEEZER_API_URL",
        Some(DEFAULT_DEEZER_API_URL),
        "Deezer API base URL",
    ),
    spec(
        "DEEZER_MAX_REQUESTS",
        Some("45"),
        "Deezer pacing: requests per window (0 = off)",
    ),
    spec("DEEZER_WINDOW", Some("5s"), "Deezer pacing window"),
    spec(
        "DEEZER_REMAP_AFTER",
        Some("7d"),
        "wait before another Deezer match attempt",
    ),
    spec(
        "IDENTITY_CONFIRM_BELOW_FANS",
        Some("1000"),
        "a lone match with fewer fans needs a recording as proof",
    ),
    spec(
        "SYNC_PROFILE_MAX_AGE",
        Some("7d"),
        "when a profile is due again",
    ),
    spec(
        "SYNC_TRACKS_MAX_AGE",
        Some("1d"),
        "when top tracks are due again",
    ),
    spec(
        "SYNC_RELATED_MAX_AGE",
        Some("1d"),
        "when related artists are due again",
    ),
    spec("SYNC_CONCURRENCY", Some("8"), "artists worked on at once"),
    spec("SYNC_TRACKS_KEPT", Some("10"), "top tracks kept per artist"),
    spec(
        "SYNC_RELATED_KEPT",
        Some("10"),
        "related artists kept per artist",
    ),
    spec(
        "CATALOG_MAX_ARTISTS",
        Some("5000"),
        "the catalog stops growing at this size",
    ),
    spec(
        "SYNC_MAX_NEW_ARTISTS",
        Some("200"),
        "new artists one run may add",
    ),
    spec(
        "CATALOG_STARTER",
        Some("bundled"),
        "an empty catalog starts from: bundled, none, or a file of names",
    ),
    spec(
        "SPOTIFY_RELINK_AFTER",
        Some("30d"),
        "wait before a Deezer-born artist's Spotify id is sought again",
    ),
    spec(
        "HTTP_TIMEOUT",
        Some("10s"),
        "whole-request timeout of every provider call",
    ),
    spec("HTTP_MAX_ATTEMPTS", Some("4"), "attempts per provider call"),
    spec("HTTP_BACKOFF_BASE", Some("500ms"), "first retry delay"),
    spec("HTTP_BACKOFF_MAX", Some("8s"), "longest retry delay"),
    spec(
        "HTTP_MAX_RETRY_AFTER",
        Some("60s"),
        "a longer Retry-After is a block",
    ),
    spec(
        "HTTP_FAILURES_BEFORE_DOWN",
        Some("5"),
        "failed calls in a row before a provider is down for the run",
    ),
    spec("RUST_LOG", Some("info"), "log filter"),
    spec("LOG_FORMAT", Some("text"), "text or json log lines"),
    spec("LOG_DIR", None, "daily rolling log files in this directory"),
    spec("LOG_FILES_KEPT", Some("14"), "rolling log files kept"),
    spec(
        "SYNC_SCHEDULE",
        Some(DEFAULT_SYNC_SCHEDULE),
        "6-field cron of the nightly refresh",
    ),
    spec(
        "SYNC_TIMEZONE",
        Some(DEFAULT_SYNC_TIMEZONE),
        "time zone of the schedule",
    ),
    spec(
        "QUEUE_POLL",
        Some("30s"),
        "how often requested names are looked at",
    ),
    spec("QUEUE_BATCH", Some("10"), "requested names per poll"),
    spec(
        "REQUEST_RETRY_DELAY",
        Some("6h"),
        "wait after a requested name found nothing",
    ),
    spec(
        "REQUEST_MAX_ATTEMPTS",
        Some("5"),
        "tries per requested name",
    ),
    spec(
        "REQUESTS_PER_USER_PER_DAY",
        Some("20"),
        "names one user may add to the request queue in 24 hours",
    ),
    spec(
        "REQUESTS_MAX_PENDING",
        Some("1000"),
        "open requests at most; past it new names are not recorded",
    ),
    spec(
        "REQUESTS_RETENTION",
        Some("30d"),
        "finished or unasked requests are deleted after this",
    ),
    spec(
        "SHUTDOWN_GRACE",
        Some("30s"),
        "time in-flight work gets after SIGTERM",
    ),
    spec(
        "LOCK_WAIT",
        Some("30s"),
        "how long a unit of work waits for another runner",
    ),
    spec("HEALTH_ADDR", None, "serve /healthz and /metrics here"),
    spec(
        "SERVER_HEADER_TIMEOUT",
        Some("5s"),
        "most a client may take to send a request's headers",
    ),
    spec(
        "SERVER_REQUEST_TIMEOUT",
        Some("5s"),
        "most one request may take, its body's upload included",
    ),
    spec(
        "SERVER_IDLE_TIMEOUT",
        Some("60s"),
        "how long a kept-alive connection may wait for its next request",
    ),
    spec(
        "SERVER_MAX_CONNECTIONS",
        Some("512"),
        "open connections at most (lowered to fit the descriptor limit)",
    ),
    spec(
        "BIND_ADDR",
        Some(DEFAULT_BIND_ADDR),
        "where artistbot serve listens",
    ),
    spec("SKILL_SECRET", None, "required value of the secret header"),
    spec(
        "SKILL_SECRET_HEADER",
        Some(DEFAULT_SKILL_SECRET_HEADER),
        "the header carrying the secret",
    ),
    spec("SKILL_BOT_IDS", None, "comma list of allowed bot ids"),
    spec(
        "SKILL_DB_TIMEOUT",
        Some("1500ms"),
        "most the database may take per reply",
    ),
    spec(
        "SKILL_RECORD_MISSES",
        Some("true"),
        "record unknown names for onboarding",
    ),
    spec(
        "SKILL_DB_MAX_CONNECTIONS",
        Some("4"),
        "the endpoint's pool size",
    ),
    spec(
        "SKILL_NAMES_REFRESH",
        Some("5m"),
        "refresh of the names used for suggestions",
    ),
    spec(
        "SKILL_CACHE_TTL",
        Some("5s"),
        "how long a found artist's reply is reused (0 = off)",
    ),
    spec(
        "SKILL_ARTIST_PARAMS",
        Some("artist"),
        "action parameters that may carry the name",
    ),
    spec(
        "SKILL_FALLBACK_IMAGE_URL",
        None,
        "https image for artists without a photo",
    ),
    spec(
        "SKILL_PREVIEW",
        Some("auto"),
        "chat preview at GET /: auto (loopback only), true or false",
    ),
];

/// Variables artistbot reads that are not its own settings: set by AWS Lambda, or read
/// by convention (`NO_COLOR`). They are not listed in the example files.
pub const FOREIGN_VARIABLES: &[&str] = &["AWS_LAMBDA_LOG_FORMAT", "NO_COLOR"];

/// Variables that are neither settings nor [`FOREIGN_VARIABLES`] but are known not to be
/// misspellings of a setting: the settings file's own variable, and the proxy variables
/// the HTTP client honours.
const OTHER_KNOWN_VARIABLES: &[&str] = &[
    ENV_FILE_VARIABLE,
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    // Python's `requests` reads it; set on many machines, and it starts like a setting.
    "REQUESTS_CA_BUNDLE",
];

/// Name prefixes of artistbot's settings: an unknown name with one of them is taken for
/// a misspelt setting, however far from every real one.
const SETTING_PREFIXES: &[&str] = &[
    "ARTISTBOT_",
    "CATALOG_",
    "DATABASE_",
    "DEEZER_",
    "HTTP_",
    "LOG_",
    "QUEUE_",
    "REQUEST_",
    "REQUESTS_",
    "SKILL_",
    "SPOTIFY_",
    "SYNC_",
];

/// The setting a variable named `name` was probably meant to be, when `name` is not a
/// setting itself (nor a variable known to be something else): `SPOTIFY_CLIENTID`,
/// `DATABSE_URL`, `spotify_client_id`, `SPOTIFY_SECRET`. Such a variable is ignored, and
/// the setting it resembles silently keeps its default, so `doctor` and every command's
/// start point it out.
///
/// A name resembles a setting when, ignoring case and underscores, it is one or two
/// typing slips away (one for names under ten letters; none under six, where ordinary
/// variables like `SHELL` would match by chance), or when it starts like artistbot's
/// settings do (`SPOTIFY_`, `SKILL_`, ...). The setting offered shares the most words
/// with it, then the fewest slips.
pub fn resembled_setting(name: &str) -> Option<&'static SettingSpec> {
    let is_known = |known: &&str| known.eq_ignore_ascii_case(name);
    if SETTINGS.iter().any(|s| s.name == name)
        || FOREIGN_VARIABLES.contains(&name)
        || OTHER_KNOWN_VARIABLES.iter().any(is_known)
    {
        return None;
    }
    let compact = compact_name(name);
    let typo_allowance = match compact.chars().count() {
        0..=5 => 0,
        6..=9 => 1,
        _ => 2,
    };
    let nearest = SETTINGS
        .iter()
        .map(|setting| {
            (
                setting,
                edit_distance(&compact, &compact_name(setting.name)),
            )
        })
        .min_by_key(|(_, distance)| *distance)?;
    if nearest.1 <= typo_allowance {
        return Some(nearest.0);
    }
    let upper = name.to_ascii_uppercase();
    if !SETTING_PREFIXES
        .iter()
        .any(|prefix| upper.starts_with(prefix))
    {
        return None;
    }
    let words: Vec<&str> = upper.split('_').filter(|w| !w.is_empty()).collect();
    SETTINGS.iter().min_by_key(|setting| {
        let shared = setting
            .name
            .split('_')
            .filter(|word| words.contains(word))
            .count();
        (
            std::cmp::Reverse(shared),
            edit_distance(&compact, &compact_name(setting.name)),
        )
    })
}

/// Upper case, underscores dropped: `spotify_client_id` and `SPOTIFY_CLIENTID` both
/// become `SPOTIFYCLIENTID`.
fn compact_name(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Levenshtein distance (names are short: the full table is cheap).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

impl Settings {
    /// Reads the settings file (`.env`, or the one `ARTISTBOT_ENV_FILE` names) into the
    /// environment, then the settings from the environment. A malformed line of the file
    /// is an error naming the file and the line.
    pub fn load() -> Result<Self, LoadError> {
        let file = EnvFile::find_and_read(None)?;
        file.load_into_environment();
        Ok(Self::from_environment()?)
    }

    /// The settings from the process environment alone (a settings file already loaded
    /// into it with [`EnvFile::load_into_environment`]).
    pub fn from_environment() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Settings from an explicit map: tests and benchmarks use this to point at fakes.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| vars.get(name).cloned())
    }

    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let vars = Vars(&lookup);
        let spotify = match (
            vars.text("SPOTIFY_CLIENT_ID"),
            vars.text("SPOTIFY_CLIENT_SECRET"),
        ) {
            (Some(client_id), Some(secret)) => Some(SpotifyCredentials {
                client_id,
                client_secret: Secret::new(secret),
            }),
            (None, None) => None,
            _ => return Err(ConfigError::HalfSpotifyCredentials),
        };
        let market = vars.text("SPOTIFY_MARKET").unwrap_or_else(|| "KR".into());
        if market.len() != 2 || !market.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(ConfigError::Invalid {
                name: "SPOTIFY_MARKET",
                problem: format!("expected a two-letter country code, got {market:?}"),
            });
        }
        Ok(Settings {
            database_url: DatabaseUrl::new(
                vars.text("DATABASE_URL")
                    .unwrap_or_else(|| migration::DEFAULT_DATABASE_URL.into()),
            ),
            spotify,
            spotify_api_url: vars.url("SPOTIFY_API_URL", DEFAULT_SPOTIFY_API_URL)?,
            spotify_auth_url: vars.url("SPOTIFY_AUTH_URL", DEFAULT_SPOTIFY_AUTH_URL)?,
            spotify_market: market.to_ascii_uppercase(),
            spotify_rate: RateLimit {
                max_requests: vars.number("SPOTIFY_MAX_REQUESTS", 60)?,
                window: vars.duration("SPOTIFY_WINDOW", Duration::from_secs(30))?,
            },
            deezer_api_url: vars.url("DEEZER_API_URL", DEFAULT_DEEZER_API_URL)?,
            deezer_rate: RateLimit {
                max_requests: vars.number("DEEZER_MAX_REQUESTS", 45)?,
                window: vars.duration("DEEZER_WINDOW", Duration::from_secs(5))?,
            },
            http: HttpSettings {
                timeout: vars.duration("HTTP_TIMEOUT", Duration::from_secs(10))?,
                max_attempts: vars.number("HTTP_MAX_ATTEMPTS", 4)?.max(1),
                backoff_base: vars.duration("HTTP_BACKOFF_BASE", Duration::from_millis(500))?,
                backoff_max: vars.duration("HTTP_BACKOFF_MAX", Duration::from_secs(8))?,
                max_retry_after: vars.duration("HTTP_MAX_RETRY_AFTER", Duration::from_secs(60))?,
                failures_before_down: vars.number("HTTP_FAILURES_BEFORE_DOWN", 5)?.max(1),
            },
            sync: SyncSettings {
                profile_max_age: vars.duration("SYNC_PROFILE_MAX_AGE", days(7))?,
                tracks_max_age: vars.duration("SYNC_TRACKS_MAX_AGE", days(1))?,
                related_max_age: vars.duration("SYNC_RELATED_MAX_AGE", days(1))?,
                concurrency: vars.number("SYNC_CONCURRENCY", 8)?.max(1) as usize,
                spotify_run_budget: vars.number("SPOTIFY_RUN_BUDGET", 500)?,
                spotify_daily_budget: vars.number("SPOTIFY_DAILY_BUDGET", 1500)?,
                max_catalog_artists: vars.number::<u32>("CATALOG_MAX_ARTISTS", 5000)? as u64,
                max_new_artists_per_run: vars.number("SYNC_MAX_NEW_ARTISTS", 200)?,
                deezer_remap_after: vars.duration("DEEZER_REMAP_AFTER", days(7))?,
                spotify_recheck_after: vars.duration("SPOTIFY_RECHECK_AFTER", days(7))?,
                tracks_kept: vars.number::<u32>("SYNC_TRACKS_KEPT", 10)?.clamp(1, 50) as usize,
                related_kept: vars.number::<u32>("SYNC_RELATED_KEPT", 10)?.clamp(1, 20) as usize,
                confirm_below_fans: i64::from(
                    vars.number::<u32>("IDENTITY_CONFIRM_BELOW_FANS", 1000)?,
                ),
                spotify_relink_after: vars.duration("SPOTIFY_RELINK_AFTER", days(30))?,
                starter: match vars.text("CATALOG_STARTER") {
                    None => Starter::Bundled,
                    Some(value) => match value.to_ascii_lowercase().as_str() {
                        "bundled" | "default" => Starter::Bundled,
                        "none" | "off" | "false" | "0" => Starter::Off,
                        _ => Starter::File(PathBuf::from(value)),
                    },
                },
            },
            log_dir: vars.text("LOG_DIR").map(PathBuf::from),
            log_files_kept: vars.number::<u32>("LOG_FILES_KEPT", 14)?.max(1) as usize,
            log_format: log_format(&vars)?,
            daemon: daemon_settings(&vars)?,
            skill: skill_settings(&vars)?,
            server: server_settings(&vars)?,
            db_statement_timeout: vars
                .optional_duration("DB_STATEMENT_TIMEOUT", Duration::from_secs(30))?,
        })
    }
}

/// `LOG_FORMAT` (`text` or `json`). When it is not set, a function on AWS Lambda follows
/// the log format chosen for it there (`AWS_LAMBDA_LOG_FORMAT`, `Text` or `JSON`); a value
/// Lambda may add one day falls back to text rather than stopping the function.
fn log_format(vars: &Vars<'_>) -> Result<LogFormat, ConfigError> {
    match vars.text("LOG_FORMAT") {
        Some(raw) => LogFormat::parse(&raw).ok_or_else(|| ConfigError::Invalid {
            name: "LOG_FORMAT",
            problem: format!("expected text or json, got {raw:?}"),
        }),
        None => Ok(vars
            .text("AWS_LAMBDA_LOG_FORMAT")
            .and_then(|raw| LogFormat::parse(&raw))
            .unwrap_or_default()),
    }
}

fn daemon_settings(vars: &Vars<'_>) -> Result<DaemonSettings, ConfigError> {
    let timezone_name = vars
        .text("SYNC_TIMEZONE")
        .unwrap_or_else(|| DEFAULT_SYNC_TIMEZONE.into());
    let timezone: chrono_tz::Tz = timezone_name.parse().map_err(|_| ConfigError::Invalid {
        name: "SYNC_TIMEZONE",
        problem: format!("expected an IANA time zone like Asia/Seoul, got {timezone_name:?}"),
    })?;
    let expression = vars
        .text("SYNC_SCHEDULE")
        .unwrap_or_else(|| DEFAULT_SYNC_SCHEDULE.into());
    let schedule =
        cron::CronSchedule::new(&expression, timezone).map_err(|problem| ConfigError::Invalid {
            name: "SYNC_SCHEDULE",
            problem,
        })?;
    let health_addr = match vars.text("HEALTH_ADDR") {
        None => None,
        Some(raw) => Some(raw.parse().map_err(|_| ConfigError::Invalid {
            name: "HEALTH_ADDR",
            problem: format!("expected an address like 127.0.0.1:9464, got {raw:?}"),
        })?),
    };
    Ok(DaemonSettings {
        schedule,
        queue_poll: vars
            .duration("QUEUE_POLL", Duration::from_secs(30))?
            .max(Duration::from_millis(50)),
        queue_batch: vars.number::<u32>("QUEUE_BATCH", 10)?.max(1) as usize,
        shutdown_grace: vars.duration("SHUTDOWN_GRACE", Duration::from_secs(30))?,
        health_addr,
        request_retry_delay: vars.duration("REQUEST_RETRY_DELAY", Duration::from_secs(6 * 3600))?,
        request_max_attempts: vars.number("REQUEST_MAX_ATTEMPTS", 5)?.max(1),
        // At least a day: who asked for what must outlive the per-user window (24 h).
        // At most ten years, so the cutoff date can always be computed.
        requests_retention: vars
            .duration("REQUESTS_RETENTION", days(30))?
            .clamp(days(1), days(3650)),
        lock_wait: vars.duration("LOCK_WAIT", Duration::from_secs(30))?,
    })
}

fn skill_settings(vars: &Vars<'_>) -> Result<SkillSettings, ConfigError> {
    let bind = vars
        .text("BIND_ADDR")
        .unwrap_or_else(|| DEFAULT_BIND_ADDR.into());
    let bind_addr = bind.parse().map_err(|_| ConfigError::Invalid {
        name: "BIND_ADDR",
        problem: format!("expected an address like 127.0.0.1:8080, got {bind:?}"),
    })?;
    let secret_header = vars
        .text("SKILL_SECRET_HEADER")
        .unwrap_or_else(|| DEFAULT_SKILL_SECRET_HEADER.into());
    // An HTTP header name is a token; anything else could never match a request.
    if !secret_header
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    {
        return Err(ConfigError::Invalid {
            name: "SKILL_SECRET_HEADER",
            problem: format!("not a valid header name: {secret_header:?}"),
        });
    }
    let list = |name: &str| -> Vec<String> {
        vars.text(name)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let artist_params = match vars.text("SKILL_ARTIST_PARAMS") {
        Some(_) => list("SKILL_ARTIST_PARAMS"),
        None => vec!["artist".to_owned()],
    };
    let fallback_image_url = vars.text("SKILL_FALLBACK_IMAGE_URL");
    if let Some(url) = &fallback_image_url
        && !url.starts_with("https://")
    {
        return Err(ConfigError::Invalid {
            name: "SKILL_FALLBACK_IMAGE_URL",
            problem: format!("expected an https URL, got {url:?}"),
        });
    }
    let preview = match vars.text("SKILL_PREVIEW") {
        None => PreviewSetting::default(),
        Some(raw) => PreviewSetting::parse(&raw).ok_or_else(|| ConfigError::Invalid {
            name: "SKILL_PREVIEW",
            problem: format!("expected auto, true or false, got {raw:?}"),
        })?,
    };
    Ok(SkillSettings {
        preview,
        bind_addr,
        // The value is never echoed: only its presence matters to an error.
        secret: vars.text("SKILL_SECRET").map(Secret::new),
        secret_header,
        bot_ids: list("SKILL_BOT_IDS"),
        db_timeout: vars.duration("SKILL_DB_TIMEOUT", Duration::from_millis(1500))?,
        record_misses: vars.flag("SKILL_RECORD_MISSES", true)?,
        request_limits: RequestLimits {
            per_user: vars.number("REQUESTS_PER_USER_PER_DAY", RequestLimits::DEFAULT.per_user)?,
            per_user_window: RequestLimits::DEFAULT.per_user_window,
            max_pending: vars.number("REQUESTS_MAX_PENDING", RequestLimits::DEFAULT.max_pending)?,
        },
        db_max_connections: vars.number::<u32>("SKILL_DB_MAX_CONNECTIONS", 4)?.max(1),
        names_refresh: vars.duration("SKILL_NAMES_REFRESH", Duration::from_secs(300))?,
        artist_params,
        fallback_image_url,
        reply_cache_ttl: vars.optional_duration("SKILL_CACHE_TTL", Duration::from_secs(5))?,
    })
}

fn server_settings(vars: &Vars<'_>) -> Result<ServerSettings, ConfigError> {
    // A zero timeout would cut off every client at once: the least is a millisecond.
    let at_least = |d: Duration| d.max(Duration::from_millis(1));
    Ok(ServerSettings {
        header_timeout: at_least(vars.duration("SERVER_HEADER_TIMEOUT", Duration::from_secs(5))?),
        request_timeout: at_least(vars.duration("SERVER_REQUEST_TIMEOUT", Duration::from_secs(5))?),
        idle_timeout: at_least(vars.duration("SERVER_IDLE_TIMEOUT", Duration::from_secs(60))?),
        max_connections: vars.number::<u32>("SERVER_MAX_CONNECTIONS", 512)?.max(1) as usize,
    })
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 24 * 3600)
}

/// Typed access to the variables, each error naming the variable.
struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    /// The trimmed value; empty counts as unset (an `.env` line `X=` means "default").
    fn text(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn number<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.text(name) {
            None => Ok(default),
            Some(raw) => raw
                .replace('_', "")
                .parse()
                .map_err(|_| ConfigError::Invalid {
                    name,
                    problem: format!("expected a whole number, got {raw:?}"),
                }),
        }
    }

    fn duration(&self, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        match self.text(name) {
            None => Ok(default),
            Some(raw) => parse_duration(&raw).ok_or_else(|| ConfigError::Invalid {
                name,
                problem: format!(
                    "expected a duration like 500ms, 30s, 15m, 12h or 7d, got {raw:?}"
                ),
            }),
        }
    }

    /// A duration where `0` means "none" (a limit switched off, a cache not kept).
    fn optional_duration(
        &self,
        name: &'static str,
        default: Duration,
    ) -> Result<Option<Duration>, ConfigError> {
        let value = self.duration(name, default)?;
        Ok((!value.is_zero()).then_some(value))
    }

    fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.text(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
            Some(raw) => Err(ConfigError::Invalid {
                name,
                problem: format!("expected true or false, got {raw:?}"),
            }),
        }
    }

    fn url(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        let url = self.text(name).unwrap_or_else(|| default.to_owned());
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name,
                problem: format!("expected an http(s) URL, got {url:?}"),
            });
        }
        Ok(url.trim_end_matches('/').to_owned())
    }
}

/// Parses `500ms`, `30s`, `15m`, `12h`, `7d`, or a bare number of seconds.
pub(crate) fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let value: u64 = digits.parse().ok()?;
    let seconds = |n: u64| Some(Duration::from_secs(n));
    match unit.trim() {
        "" | "s" => seconds(value),
        "ms" => Some(Duration::from_millis(value)),
        "m" => seconds(value.checked_mul(60)?),
        "h" => seconds(value.checked_mul(3600)?),
        "d" => seconds(value.checked_mul(86_400)?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_map(&map)
    }

    #[test]
    fn defaults_point_at_the_real_services_and_a_local_sqlite_file() {
        let s = settings(&[]).unwrap();
        assert!(s.database_url.is_sqlite());
        assert!(s.spotify.is_none());
        assert_eq!(s.spotify_api_url, DEFAULT_SPOTIFY_API_URL);
        assert_eq!(s.spotify_market, "KR");
        assert_eq!(s.sync.tracks_kept, 10);
        assert_eq!(s.deezer_rate.max_requests, 45);
    }

    #[test]
    fn the_client_secret_never_prints() {
        let s = settings(&[
            ("SPOTIFY_CLIENT_ID", "id123"),
            ("SPOTIFY_CLIENT_SECRET", "hunter2-very-secret"),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        assert!(shown.contains("id123"));
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn a_database_password_is_masked_in_display() {
        let url = DatabaseUrl::new("mysql://sync:p4ss@db.local:3306/artistbot");
        assert_eq!(url.to_string(), "mysql://sync:***@db.local:3306/artistbot");
        assert!(!format!("{url:?}").contains("p4ss"));
        let no_password = DatabaseUrl::new("mysql://root@127.0.0.1:3306/test");
        assert_eq!(no_password.to_string(), "mysql://root@127.0.0.1:3306/test");
    }

    #[test]
    fn passwords_with_url_characters_are_masked_and_scrubbed_whole() {
        for password in ["pa/ss", "p@ss:w/rd", "a%2Fb", "50%off?x", "sl/ash@at"] {
            let url = DatabaseUrl::new(format!("mysql://sync:{password}@db.local:3306/artistbot"));
            let shown = url.to_string();
            assert_eq!(
                shown, "mysql://sync:***@db.local:3306/artistbot",
                "{password}"
            );
            let message = format!(
                "cannot parse {} (password {password}, decoded {}, encoded {})",
                url.expose(),
                percent_decode(password),
                percent_encode(password)
            );
            let scrubbed = url.scrub(&message);
            assert!(!scrubbed.contains(password), "{scrubbed}");
            assert!(!scrubbed.contains(&percent_decode(password)), "{scrubbed}");
            assert!(!scrubbed.contains(&percent_encode(password)), "{scrubbed}");
            assert!(scrubbed.contains("mysql://sync:***@db.local"), "{scrubbed}");
        }
    }

    /// Every variable name `from_lookup` asks for, whatever the values.
    fn names_read() -> std::collections::BTreeSet<String> {
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        let _ = Settings::from_lookup(|name| {
            asked.borrow_mut().insert(name.to_owned());
            None
        });
        asked.into_inner()
    }

    #[test]
    fn the_settings_list_names_exactly_what_the_code_reads() {
        let listed: std::collections::BTreeSet<String> = SETTINGS
            .iter()
            .map(|s| s.name.to_owned())
            // Read by the log filter, not by `from_lookup`.
            .filter(|name| name != "RUST_LOG")
            .collect();
        let read: std::collections::BTreeSet<String> = names_read()
            .into_iter()
            .filter(|name| !FOREIGN_VARIABLES.contains(&name.as_str()))
            .collect();
        assert_eq!(listed, read);
    }

    #[test]
    fn the_listed_defaults_are_the_defaults_the_code_uses() {
        let documented = Settings::from_lookup(|name| {
            SETTINGS
                .iter()
                .find(|s| s.name == name)
                .and_then(|s| s.default.map(str::to_owned))
        })
        .expect("the documented defaults parse");
        let unset = Settings::from_lookup(|_| None).unwrap();
        assert_eq!(format!("{documented:?}"), format!("{unset:?}"));
    }

    /// `NAME=value` and `# NAME=value` lines of an example file, quotes removed.
    fn example_file(path: &str) -> Vec<(String, String)> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let text = std::fs::read_to_string(&path).expect("reading an example file");
        let mut found = Vec::new();
        for line in text.lines() {
            let line = line.trim_start_matches('#').trim();
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                continue;
            }
            found.push((name.to_owned(), value.trim().trim_matches('"').to_owned()));
        }
        found
    }

    #[test]
    fn both_example_files_list_every_setting_with_its_default() {
        for path in [".env.example", "deploy/artistbot.env.example"] {
            let lines = example_file(path);
            for setting in SETTINGS {
                let values: Vec<&str> = lines
                    .iter()
                    .filter(|(name, _)| name == setting.name)
                    .map(|(_, value)| value.as_str())
                    .collect();
                assert!(!values.is_empty(), "{path} does not list {}", setting.name);
                // A setting without a default may show an example value instead.
                let Some(default) = setting.default else {
                    continue;
                };
                assert!(
                    values.contains(&default),
                    "{path}: {} should show its default {default:?}, shows {values:?}",
                    setting.name
                );
            }
            for (name, _) in &lines {
                assert!(
                    SETTINGS.iter().any(|s| s.name == name),
                    "{path} lists {name}, which artistbot does not read"
                );
            }
        }
    }

    #[test]
    fn half_the_spotify_credentials_is_an_error() {
        assert_eq!(
            settings(&[("SPOTIFY_CLIENT_ID", "x")]).unwrap_err(),
            ConfigError::HalfSpotifyCredentials
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        let err = settings(&[("SYNC_CONCURRENCY", "many")]).unwrap_err();
        assert!(err.to_string().starts_with("SYNC_CONCURRENCY:"), "{err}");
        let err = settings(&[("SYNC_TRACKS_MAX_AGE", "soon")]).unwrap_err();
        assert!(err.to_string().contains("SYNC_TRACKS_MAX_AGE"), "{err}");
        let err = settings(&[("DEEZER_API_URL", "ftp://x")]).unwrap_err();
        assert!(err.to_string().contains("DEEZER_API_URL"), "{err}");
    }

    #[test]
    fn the_daemon_defaults_to_03_00_seoul_time_and_a_30_second_poll() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.daemon.schedule.expression(), "0 0 3 * * *");
        assert_eq!(s.daemon.schedule.timezone(), chrono_tz::Asia::Seoul);
        assert_eq!(s.daemon.queue_poll, Duration::from_secs(30));
        assert_eq!(s.daemon.shutdown_grace, Duration::from_secs(30));
        assert_eq!(s.daemon.health_addr, None);
    }

    #[test]
    fn a_bad_schedule_or_time_zone_names_its_variable() {
        let err = settings(&[("SYNC_SCHEDULE", "0 3 * * *")]).unwrap_err();
        assert!(err.to_string().starts_with("SYNC_SCHEDULE:"), "{err}");
        let err = settings(&[("SYNC_TIMEZONE", "Mars/Olympus")]).unwrap_err();
        assert!(err.to_string().starts_with("SYNC_TIMEZONE:"), "{err}");
        let err = settings(&[("HEALTH_ADDR", "everywhere")]).unwrap_err();
        assert!(err.to_string().starts_with("HEALTH_ADDR:"), "{err}");
    }

    #[test]
    fn skill_settings_have_safe_defaults_and_parse_lists() {
        let s = settings(&[]).unwrap().skill;
        assert_eq!(s.bind_addr.to_string(), DEFAULT_BIND_ADDR);
        assert!(s.secret.is_none());
        assert_eq!(s.secret_header, "X-Skill-Secret");
        assert!(s.bot_ids.is_empty());
        assert_eq!(s.db_timeout, Duration::from_millis(1500));
        assert!(s.record_misses);
        assert_eq!(s.artist_params, ["artist"]);

        let s = settings(&[
            ("SKILL_BOT_IDS", " bot1, ,bot2 "),
            ("SKILL_RECORD_MISSES", "false"),
            ("SKILL_SECRET", "open-sesame-123"),
            ("SKILL_DB_TIMEOUT", "800ms"),
        ])
        .unwrap()
        .skill;
        assert_eq!(s.bot_ids, ["bot1", "bot2"]);
        assert!(!s.record_misses);
        assert_eq!(s.db_timeout, Duration::from_millis(800));
        assert!(!format!("{s:?}").contains("open-sesame"));
    }

    #[test]
    fn bad_skill_values_name_their_variable_without_echoing_the_secret() {
        let err = settings(&[("BIND_ADDR", "everywhere")]).unwrap_err();
        assert!(err.to_string().starts_with("BIND_ADDR:"), "{err}");
        let err = settings(&[("SKILL_SECRET_HEADER", "X Secret")]).unwrap_err();
        assert!(err.to_string().starts_with("SKILL_SECRET_HEADER:"), "{err}");
        let err = settings(&[("SKILL_RECORD_MISSES", "maybe")]).unwrap_err();
        assert!(err.to_string().starts_with("SKILL_RECORD_MISSES:"), "{err}");
    }

    #[test]
    fn log_formats_parse_in_any_case_as_aws_and_people_spell_them() {
        assert_eq!(LogFormat::parse("json"), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("JSON"), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse(" Text "), Some(LogFormat::Text));
        assert_eq!(LogFormat::parse("logfmt"), None);
    }

    #[test]
    fn the_log_format_is_text_unless_json_is_asked_for_here_or_on_lambda() {
        let format = |pairs: &[(&str, &str)]| settings(pairs).unwrap().log_format;
        assert_eq!(format(&[]), LogFormat::Text);
        assert_eq!(format(&[("LOG_FORMAT", "json")]), LogFormat::Json);
        assert_eq!(
            format(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]),
            LogFormat::Json
        );
        assert_eq!(
            format(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]),
            LogFormat::Text
        );
        assert_eq!(format(&[("AWS_LAMBDA_LOG_FORMAT", "XML")]), LogFormat::Text);
        assert_eq!(
            format(&[("LOG_FORMAT", "text"), ("AWS_LAMBDA_LOG_FORMAT", "JSON")]),
            LogFormat::Text,
            "an explicit LOG_FORMAT wins"
        );
        let err = settings(&[("LOG_FORMAT", "yaml")]).unwrap_err();
        assert!(err.to_string().starts_with("LOG_FORMAT:"), "{err}");
    }

    #[test]
    fn misspelt_setting_names_are_recognized_with_the_setting_meant() {
        let meant = |name: &str| resembled_setting(name).map(|setting| setting.name);
        assert_eq!(meant("SPOTIFY_CLIENTID"), Some("SPOTIFY_CLIENT_ID"));
        assert_eq!(meant("DATABSE_URL"), Some("DATABASE_URL"));
        assert_eq!(
            meant("spotify_client_secret"),
            Some("SPOTIFY_CLIENT_SECRET")
        );
        assert_eq!(meant("SPOTIFY_SECRET"), Some("SPOTIFY_CLIENT_SECRET"));
        assert_eq!(meant("SKILL_BOT_ID"), Some("SKILL_BOT_IDS"));
        assert_eq!(meant("SYNC_SCHEDULES"), Some("SYNC_SCHEDULE"));
        assert_eq!(meant("SKILL_SECERT"), Some("SKILL_SECRET"));
    }

    #[test]
    fn settings_and_ordinary_variables_are_not_taken_for_misspellings() {
        for setting in SETTINGS {
            assert_eq!(resembled_setting(setting.name), None, "{}", setting.name);
        }
        for ordinary in [
            "PATH",
            "HOME",
            "USER",
            "SHELL",
            "LANG",
            "LC_ALL",
            "TERM",
            "PWD",
            "OLDPWD",
            "HOSTNAME",
            "LOGNAME",
            "MAIL",
            "TZ",
            "TMPDIR",
            "EDITOR",
            "PAGER",
            "DISPLAY",
            "SSH_AUTH_SOCK",
            "XDG_RUNTIME_DIR",
            "CARGO_HOME",
            "RUSTUP_HOME",
            "RUST_BACKTRACE",
            "CARGO_TARGET_DIR",
            "TEST_MYSQL_URL",
            "TEST_LOG",
            "REQUESTS_CA_BUNDLE",
            "requests_ca_bundle",
            "INVOCATION_ID",
            "JOURNAL_STREAM",
            "SYSTEMD_EXEC_PID",
            "AWS_REGION",
            "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_EXECUTION_ENV",
            "AWS_LAMBDA_RUNTIME_API",
            "LAMBDA_TASK_ROOT",
            "_HANDLER",
            "HTTP_PROXY",
            "https_proxy",
            "NO_PROXY",
            "NO_COLOR",
            "AWS_LAMBDA_LOG_FORMAT",
            "ARTISTBOT_ENV_FILE",
            "SHLVL",
            "COLORTERM",
            "LS_COLORS",
            "MANPATH",
            "CI",
        ] {
            assert_eq!(resembled_setting(ordinary), None, "{ordinary}");
        }
    }

    #[test]
    fn the_preview_is_shown_on_loopback_unless_told_otherwise() {
        let loopback: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let everywhere: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let preview = |pairs: &[(&str, &str)]| settings(pairs).unwrap().skill.preview;
        assert_eq!(preview(&[]), PreviewSetting::Auto);
        assert!(PreviewSetting::Auto.allows(loopback));
        assert!(PreviewSetting::Auto.allows("[::1]:8080".parse().unwrap()));
        assert!(!PreviewSetting::Auto.allows(everywhere));
        assert!(preview(&[("SKILL_PREVIEW", "true")]).allows(everywhere));
        assert!(!preview(&[("SKILL_PREVIEW", "false")]).allows(loopback));
        let err = settings(&[("SKILL_PREVIEW", "sometimes")]).unwrap_err();
        assert!(err.to_string().starts_with("SKILL_PREVIEW:"), "{err}");
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("2 h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("fast"), None);
        assert_eq!(parse_duration("3w"), None);
    }
}
