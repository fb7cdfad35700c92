//! From a parsed skill request to a reply: which name was asked for, what the catalog
//! holds for it, and what to say. Every database call here is bounded by
//! `SKILL_DB_TIMEOUT`, so a slow or absent database yields [`unavailable_reply`] in time
//! rather than no answer at all.
//!
//! A found artist's reply is kept in memory for `SKILL_CACHE_TTL` (a few seconds), so a
//! name asked many times a second costs one catalog read per expiry; a miss is never
//! cached, so an artist added meanwhile is found at once.
//!
//! This module reads through the store; its only write is recording a missed name. It
//! never calls a provider and knows nothing of HTTP (see [`super::http`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{Instant, timeout_at};

use super::compose::{
    ArtistPage, ArtistView, ReplyOptions, TrackView, empty_query_reply, known_artist_reply,
    unavailable_reply, unknown_artist_reply,
};
use super::metrics::{DatabaseCall, DatabaseFailure, SkillMetrics};
use super::reply::SkillResponse;
use super::request::SkillRequest;
use super::suggest::Suggester;
use crate::config::SkillSettings;
use crate::names::could_be_a_name;
use crate::names::name_key;
use crate::store::requests::{AskRecorded, RequesterKey};
use crate::store::skill::{ArtistLookup, ArtistWithTracks, LookupShape, NameMatch};
use crate::store::{self, Store, StoreError};

/// What the reply shows of a found artist: 3 tracks per card, 3 related artists (the
/// original bot's layout; a carousel of listCards holds 5 cards).
const LOOKUP_SHAPE: LookupShape = LookupShape {
    tracks_per_artist: 3,
    related_artists: 3,
};
/// "혹시 이 아티스트?" suggestions for a miss.
const MAX_SUGGESTIONS: usize = 3;
/// Genres named in the artist card; more make a long, unreadable line.
const MAX_GENRES_SHOWN: usize = 3;
/// Replies kept in the cache at most: a few thousand artists are asked for, and a full
/// cache is emptied of expired entries (or entirely) before it takes another.
const REPLY_CACHE_ENTRIES: usize = 4096;
/// An artist's page on Deezer, for artists without a known Spotify page.
const DEEZER_ARTIST_PAGE: &str = "https://www.deezer.com/artist/";

/// What happened to a request, for the log line and the tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The artist was found, by its name or an alias.
    Found(NameMatch),
    /// The catalog does not know the name.
    Unknown {
        suggestions: usize,
        /// Whether the name was recorded in `artist_requests`.
        recorded: bool,
    },
    /// Nothing to look up.
    EmptyQuery,
    /// The database failed or was too slow; the user was asked to try again.
    Unavailable,
}

impl Outcome {
    /// A short word for logs.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Found(NameMatch::Name) => "hit",
            Outcome::Found(NameMatch::Alias) => "alias_hit",
            Outcome::Unknown { .. } => "miss",
            Outcome::EmptyQuery => "empty",
            Outcome::Unavailable => "unavailable",
        }
    }
}

/// The skill's behaviour, shared by every request. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SkillService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    settings: SkillSettings,
    suggester: Arc<Suggester>,
    reply_options: ReplyOptions,
    misses: MissRecording,
    metrics: Arc<SkillMetrics>,
    cache: Option<ReplyCache>,
    /// Whether the last recorded miss found the request queue full, so that is logged
    /// once, not at every miss.
    queue_full: AtomicBool,
}

/// Replies to found artists by folded name, each used until `ttl` after the read that
/// built it began: never older than that.
#[derive(Debug)]
struct ReplyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, CachedReply>>,
}

#[derive(Debug)]
struct CachedReply {
    read_at: Instant,
    reply: SkillResponse,
    matched_by: NameMatch,
    artist_id: String,
}

impl ReplyCache {
    fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &str) -> Option<(SkillResponse, NameMatch, String)> {
        let entries = self.entries.lock().expect("reply cache poisoned");
        let cached = entries.get(key)?;
        (cached.read_at.elapsed() < self.ttl).then(|| {
            (
                cached.reply.clone(),
                cached.matched_by,
                cached.artist_id.clone(),
            )
        })
    }

    fn put(
        &self,
        key: &str,
        read_at: Instant,
        reply: &SkillResponse,
        matched_by: NameMatch,
        artist_id: &str,
    ) {
        let mut entries = self.entries.lock().expect("reply cache poisoned");
        if entries.len() >= REPLY_CACHE_ENTRIES && !entries.contains_key(key) {
            entries.retain(|_, cached| cached.read_at.elapsed() < self.ttl);
            if entries.len() >= REPLY_CACHE_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            key.to_owned(),
            CachedReply {
                read_at,
                reply: reply.clone(),
                matched_by,
                artist_id: artist_id.to_owned(),
            },
        );
    }
}

/// Whether a reply waits for its missed name to be recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissRecording {
    /// The write commits before the reply goes out. For AWS Lambda, which may freeze the
    /// process as soon as the reply is sent.
    BeforeReplying,
    /// The reply goes out at once and the write commits on its own task. For the
    /// long-lived `serve` process: a commit waits for the disk (an fsync on InnoDB),
    /// which would otherwise be the slowest part of a miss, and holds a pooled connection
    /// other replies are waiting for.
    AfterReplying,
    /// Never: `artistbot ask` shows a reply without changing anything.
    Never,
}

impl SkillService {
    /// The service over `store` (see [`super::connect_store`] for a suitable pool).
    pub fn new(store: Store, settings: SkillSettings) -> SkillService {
        Self::with_miss_recording(store, settings, MissRecording::BeforeReplying)
    }

    /// As [`SkillService::new`], choosing when missed names are written.
    pub fn with_miss_recording(
        store: Store,
        settings: SkillSettings,
        misses: MissRecording,
    ) -> SkillService {
        let reply_options = match &settings.fallback_image_url {
            Some(url) => ReplyOptions {
                fallback_image_url: url.clone(),
            },
            None => ReplyOptions::default(),
        };
        SkillService {
            inner: Arc::new(Inner {
                suggester: Arc::new(Suggester::new(store.clone(), settings.names_refresh)),
                cache: settings.reply_cache_ttl.map(ReplyCache::new),
                store,
                settings,
                reply_options,
                misses,
                metrics: Arc::new(SkillMetrics::default()),
                queue_full: AtomicBool::new(false),
            }),
        }
    }

    pub(crate) fn settings(&self) -> &SkillSettings {
        &self.inner.settings
    }

    /// What the skill did since it started (served as `/metrics` by `artistbot serve`).
    pub fn metrics(&self) -> Arc<SkillMetrics> {
        self.inner.metrics.clone()
    }

    /// Starts loading the names used for suggestions, in the background; this also opens
    /// the first pooled connection before the first request needs it.
    pub fn warm_up(&self) {
        self.inner.suggester.load_in_background();
    }

    /// Whether the database answers within the timeout (for `/healthz`).
    pub(crate) async fn database_answers(&self) -> Result<(), String> {
        match tokio::time::timeout(self.inner.settings.db_timeout, self.inner.store.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!(
                "no answer within {:?}",
                self.inner.settings.db_timeout
            )),
        }
    }

    /// The reply to `request`. Never fails: a database problem becomes
    /// [`unavailable_reply`] (and a warning in the log).
    pub(crate) async fn answer(&self, request: &SkillRequest) -> (SkillResponse, Outcome) {
        let settings = &self.inner.settings;
        let params: Vec<&str> = settings.artist_params.iter().map(String::as_str).collect();
        let Some(query) = request.artist_query(&params) else {
            return (empty_query_reply(), Outcome::EmptyQuery);
        };
        let key = name_key(&query);
        if key.is_empty() {
            return (empty_query_reply(), Outcome::EmptyQuery);
        }
        if let Some((reply, matched_by, artist_id)) =
            self.inner.cache.as_ref().and_then(|c| c.get(&key))
        {
            self.inner.metrics.count_cache_hit();
            let deadline = Instant::now() + settings.db_timeout;
            self.note_tap(request, &key, &artist_id, deadline).await;
            return (reply, Outcome::Found(matched_by));
        }
        let read_at = Instant::now();
        let deadline = read_at + settings.db_timeout;
        match self.lookup(&key, deadline).await {
            Ok(Some(lookup)) => {
                let artist_id = lookup.artist.id.clone();
                let page = artist_page(lookup.artist, lookup.related);
                let reply = known_artist_reply(&page, &self.inner.reply_options);
                if let Some(cache) = &self.inner.cache {
                    cache.put(&key, read_at, &reply, lookup.matched_by, &artist_id);
                }
                self.note_tap(request, &key, &artist_id, deadline).await;
                (reply, Outcome::Found(lookup.matched_by))
            }
            Ok(None) => {
                self.unknown(&query, &key, request.user_id.as_deref(), deadline)
                    .await
            }
            Err(cause) => {
                tracing::warn!(cause = %cause, "catalog lookup failed: answering 'try again later'");
                (unavailable_reply(), Outcome::Unavailable)
            }
        }
    }

    /// The lookup, retried once on an error while time remains: a pooled connection the
    /// server dropped (a restart, a failover) fails one query, and the next connection
    /// works.
    async fn lookup(&self, key: &str, deadline: Instant) -> Result<Option<ArtistLookup>, String> {
        let store = &self.inner.store;
        let mut last_error: Option<StoreError> = None;
        let mut timed_out = false;
        for _ in 0..2 {
            match timeout_at(deadline, store.artist_lookup(key, LOOKUP_SHAPE)).await {
                Ok(Ok(found)) => return Ok(found),
                Ok(Err(error)) => last_error = Some(error),
                Err(_) => {
                    timed_out = true;
                    break;
                }
            }
        }
        let failure = if timed_out {
            DatabaseFailure::Timeout
        } else {
            DatabaseFailure::Error
        };
        self.inner
            .metrics
            .count_database_failure(DatabaseCall::Lookup, failure);
        Err(match (timed_out, last_error) {
            (false, Some(error)) => error.to_string(),
            _ => format!("no answer within {:?}", self.inner.settings.db_timeout),
        })
    }

    /// When `request` is a tap on a suggestion made for a spelling the catalog did not
    /// know (`action.clientExtra.asked`), and it led to `artist_id` under another name
    /// than that spelling, records the tap on that spelling's request: the queue makes
    /// the spelling an alias of the artist. Written like a miss (before or after the
    /// reply, never for `ask`); a failure is logged and changes nothing for the user.
    async fn note_tap(
        &self,
        request: &SkillRequest,
        key: &str,
        artist_id: &str,
        deadline: Instant,
    ) {
        let Some(asked) = request.asked.as_deref() else {
            return;
        };
        if !self.inner.settings.record_misses || name_key(asked) == key {
            return;
        }
        let store = self.inner.store.clone();
        let (asked, artist_id) = (asked.to_owned(), artist_id.to_owned());
        let asker = RequesterKey::of_user(request.user_id.as_deref());
        let write = async move {
            match timeout_at(deadline, store.record_tap(&asked, &artist_id, &asker)).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::warn!(%error, "could not record a tapped suggestion"),
                Err(_) => tracing::warn!("recording a tapped suggestion took too long"),
            }
        };
        match self.inner.misses {
            MissRecording::BeforeReplying => write.await,
            MissRecording::AfterReplying => {
                tokio::spawn(write);
            }
            MissRecording::Never => {}
        }
    }

    /// A miss: suggestions from memory and the request recorded, side by side, both
    /// within what is left of the time budget.
    async fn unknown(
        &self,
        query: &str,
        key: &str,
        user_id: Option<&str>,
        deadline: Instant,
    ) -> (SkillResponse, Outcome) {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let suggest = self.inner.suggester.suggest(
            key,
            MAX_SUGGESTIONS,
            remaining.max(Duration::from_millis(1)),
        );
        let record = async {
            // Chat that reached the skill ("노래 추천해줘?") is not a name to look up.
            if !self.inner.settings.record_misses || !could_be_a_name(query, 50, 6) {
                return false;
            }
            let write = record_miss(
                self.inner.clone(),
                query.to_owned(),
                RequesterKey::of_user(user_id),
                deadline,
            );
            match self.inner.misses {
                MissRecording::BeforeReplying => write.await,
                MissRecording::AfterReplying => {
                    tokio::spawn(write);
                    true
                }
                MissRecording::Never => false,
            }
        };
        let (suggestions, recorded) = tokio::join!(suggest, record);
        (
            unknown_artist_reply(query, &suggestions),
            Outcome::Unknown {
                suggestions: suggestions.len(),
                recorded,
            },
        )
    }
}

/// Records a missed name within the reply's time budget, as asked by `asker` and within
/// the request queue's limits; `false` when it was not recorded (over a limit, or
/// logged when it could not be written).
async fn record_miss(
    inner: Arc<Inner>,
    query: String,
    asker: RequesterKey,
    deadline: Instant,
) -> bool {
    let store = &inner.store;
    let metrics = &inner.metrics;
    let limits = &inner.settings.request_limits;
    let write = store.record_request_from(&query, Some(&asker), limits, store::now());
    match timeout_at(deadline, write).await {
        Ok(Ok(recorded)) => {
            metrics.count_ask(recorded);
            // Said once when the queue fills up, and again after it had room.
            let full = recorded == AskRecorded::QueueFull;
            if inner.queue_full.swap(full, Ordering::Relaxed) != full && full {
                tracing::warn!(
                    max_pending = limits.max_pending,
                    "the request queue is full (REQUESTS_MAX_PENDING): new names are not recorded"
                );
            }
            recorded.recorded()
        }
        Ok(Err(error)) => {
            metrics.count_database_failure(DatabaseCall::RecordMiss, DatabaseFailure::Error);
            tracing::warn!(%error, "could not record a missed name");
            false
        }
        Err(_) => {
            metrics.count_database_failure(DatabaseCall::RecordMiss, DatabaseFailure::Timeout);
            tracing::warn!("recording a missed name took too long");
            false
        }
    }
}

fn artist_page(artist: ArtistWithTracks, related: Vec<ArtistWithTracks>) -> ArtistPage {
    ArtistPage {
        artist: artist_view(artist),
        related: related.into_iter().map(artist_view).collect(),
    }
}

fn artist_view(artist: ArtistWithTracks) -> ArtistView {
    ArtistView {
        name: artist.name,
        image_url: artist.image_url,
        // An artist known only from Deezer has no Spotify page; its Deezer page is linked
        // instead (whatever shape its catalog id has).
        deezer_url: artist
            .deezer_id
            .map(|id| format!("{DEEZER_ARTIST_PAGE}{id}")),
        spotify_url: artist.url,
        followers: artist.followers,
        fans: artist.deezer_fans,
        genres: artist.genres.into_iter().take(MAX_GENRES_SHOWN).collect(),
        tracks: artist
            .tracks
            .into_iter()
            .map(|track| TrackView {
                name: track.name,
                album_name: track.album_name,
                image_url: track.image_url,
            })
            .collect(),
    }
}
