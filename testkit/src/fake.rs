//! A fake Spotify Web API and Deezer API on one loopback port, behaving like the real
//! ones as of late 2026 (see the project's UPSTREAMS notes): client-credentials tokens
//! that expire, Development Mode (batch lookups and top tracks 403, related artists 404,
//! no followers/popularity/genres) or Extended Quota, search limits, short 429s with
//! Retry-After, the daily quota's `QUOTA_EXCEEDED`, Deezer's errors inside HTTP 200
//! bodies and its code-4 throttle. Faults (status codes, malformed JSON, delays,
//! connection resets) can be scripted per path, and every request is logged so tests can
//! assert what was (not) called.
//!
//! Routes: `/spotify/api/token`, `/spotify/v1/...`, `/deezer/...`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "fake-client-id";
pub const CLIENT_SECRET: &str = "fake-client-secret-do-not-log";

/// Which kind of Spotify app the fake pretends the caller is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpotifyMode {
    /// Ordinary 2026 app: batch, top tracks 403; related 404; no followers/popularity.
    Development,
    /// Extended Quota: every endpoint and field.
    Extended,
}

/// A recording, credited to artists on each side.
#[derive(Clone, Debug)]
pub struct Track {
    pub spotify_id: Option<String>,
    pub deezer_id: Option<i64>,
    pub title: String,
    pub album: Option<String>,
    pub isrc: String,
    pub spotify_artists: Vec<String>,
    pub deezer_artists: Vec<i64>,
    pub popularity: i32,
    pub deezer_rank: i64,
    pub cover: Option<String>,
}

#[derive(Clone, Debug)]
pub struct SpotifyArtist {
    pub id: String,
    pub name: String,
    pub followers: i64,
    pub popularity: i32,
    pub genres: Vec<String>,
    pub image: Option<String>,
    /// Indices into `World::tracks`, in rank order.
    pub top: Vec<usize>,
    /// Spotify ids, in rank order.
    pub related: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct DeezerArtist {
    pub id: i64,
    pub name: String,
    pub fans: i64,
    pub albums: i64,
    /// `None` gives Deezer's placeholder picture (an empty image hash).
    pub picture: Option<String>,
    pub top: Vec<usize>,
    pub related: Vec<i64>,
}

/// Everything both fakes know.
#[derive(Clone, Debug, Default)]
pub struct World {
    pub spotify: BTreeMap<String, SpotifyArtist>,
    pub deezer: BTreeMap<i64, DeezerArtist>,
    pub tracks: Vec<Track>,
    /// Extra spellings Spotify search understands (e.g. "오마이걸" → OH MY GIRL's id).
    pub spotify_search_aliases: Vec<(String, String)>,
    /// Extra spellings Deezer search understands (→ a Deezer artist id).
    pub deezer_search_aliases: Vec<(String, i64)>,
    /// A popular artist (Spotify id) both searches answer with when nothing else
    /// matches, as real searches do for chat ("안녕하세요" → a star): its Deezer twin
    /// on Deezer's side.
    pub search_fallback: Option<String>,
}

/// A deterministic 22-character base62 Spotify-style id for `n`.
pub fn spotify_id(n: u64) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    // Spread the bits so neighbouring numbers do not share long prefixes.
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5DEE_CE66_D1CE_4E5B;
    let mut id = String::with_capacity(22);
    id.push(ALPHABET[(n % 10) as usize] as char);
    for _ in 1..22 {
        id.push(ALPHABET[(x % 62) as usize] as char);
        x = x.rotate_left(7).wrapping_mul(31).wrapping_add(n);
    }
    id
}

impl World {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an artist present on both services under the same name, with `tracks`
    /// recordings of its own (also on both, sharing ISRCs). Returns its Spotify id.
    pub fn add_artist(
        &mut self,
        n: u64,
        name: &str,
        deezer_id: Option<i64>,
        tracks: usize,
    ) -> String {
        let id = spotify_id(n);
        let mut top = Vec::new();
        for t in 0..tracks {
            let index = self.tracks.len();
            self.tracks.push(Track {
                spotify_id: Some(format!("{}T{t:02}", &id[..19])),
                deezer_id: deezer_id.map(|d| d * 100 + t as i64),
                title: format!("{name} song {}", t + 1),
                album: Some(format!("{name} album {}", t / 3 + 1)),
                isrc: format!("KR{:03}{:02}{:05}", n % 1000, t, n % 100_000),
                spotify_artists: vec![id.clone()],
                deezer_artists: deezer_id.into_iter().collect(),
                popularity: 90 - t as i32,
                deezer_rank: 900_000 - t as i64 * 1000,
                cover: Some(format!("https://img.example/cover/{n}/{t}.jpg")),
            });
            top.push(index);
        }
        self.spotify.insert(
            id.clone(),
            SpotifyArtist {
                id: id.clone(),
                name: name.to_owned(),
                followers: 1_000_000 - n as i64,
                popularity: 70,
                genres: vec!["k-pop".into()],
                image: Some(format!("https://img.example/artist/{n}.jpg")),
                top: top.clone(),
                related: Vec::new(),
            },
        );
        if let Some(deezer_id) = deezer_id {
            self.deezer.insert(
                deezer_id,
                DeezerArtist {
                    id: deezer_id,
                    name: name.to_owned(),
                    fans: 500_000 - n as i64,
                    albums: 5,
                    picture: Some(format!("https://cdn.example/dz/{deezer_id}")),
                    top,
                    related: Vec::new(),
                },
            );
        }
        id
    }

    /// Adds `count` artists named "`prefix` 0", "`prefix` 1", …, numbered from `first` with
    /// Deezer ids from `first_deezer_id`, `tracks` recordings each. Returns their Spotify ids.
    pub fn add_artists(
        &mut self,
        first: u64,
        prefix: &str,
        first_deezer_id: i64,
        count: u64,
        tracks: usize,
    ) -> Vec<String> {
        (0..count)
            .map(|i| {
                self.add_artist(
                    first + i,
                    &format!("{prefix} {i}"),
                    Some(first_deezer_id + i as i64),
                    tracks,
                )
            })
            .collect()
    }

    /// Adds a Deezer-only artist (a namesake, a ghost) with its own recordings, which
    /// Spotify credits to nobody in the catalog.
    pub fn add_deezer_only(
        &mut self,
        deezer_id: i64,
        name: &str,
        fans: i64,
        albums: i64,
        tracks: usize,
    ) {
        let mut top = Vec::new();
        for t in 0..tracks {
            let index = self.tracks.len();
            self.tracks.push(Track {
                spotify_id: None,
                deezer_id: Some(deezer_id * 100 + t as i64),
                title: format!("{name} (other) {t}"),
                album: None,
                isrc: format!("XX{deezer_id:05}{t:05}"),
                spotify_artists: Vec::new(),
                deezer_artists: vec![deezer_id],
                popularity: 1,
                deezer_rank: 1000,
                cover: None,
            });
            top.push(index);
        }
        self.deezer.insert(
            deezer_id,
            DeezerArtist {
                id: deezer_id,
                name: name.to_owned(),
                fans,
                albums,
                picture: None,
                top,
                related: Vec::new(),
            },
        );
    }

    /// Makes `related` (in order) the related artists of `artist` on both services.
    pub fn relate(&mut self, artist: &str, related: &[&str]) {
        let deezer_of = |world: &World, spotify: &str| world.deezer_id_of(spotify);
        let deezer_related: Vec<i64> = related.iter().filter_map(|r| deezer_of(self, r)).collect();
        if let Some(a) = self.spotify.get_mut(artist) {
            a.related = related.iter().map(|r| r.to_string()).collect();
        }
        if let Some(dz) = deezer_of(self, artist)
            && let Some(a) = self.deezer.get_mut(&dz)
        {
            a.related = deezer_related;
        }
    }

    /// A spelling both services' searches understand as this artist (e.g. a Hangul name
    /// of a group known by its Latin name).
    pub fn alias_on_both(&mut self, spelling: &str, spotify_id: &str) {
        self.spotify_search_aliases
            .push((spelling.to_owned(), spotify_id.to_owned()));
        if let Some(deezer_id) = self.deezer_id_of(spotify_id) {
            self.deezer_search_aliases
                .push((spelling.to_owned(), deezer_id));
        }
    }

    /// The Deezer artist sharing a recording with (and named like) a Spotify artist.
    pub fn deezer_id_of(&self, spotify_id: &str) -> Option<i64> {
        let artist = self.spotify.get(spotify_id)?;
        artist
            .top
            .iter()
            .filter_map(|&t| self.tracks.get(t))
            .flat_map(|t| t.deezer_artists.iter().copied())
            .find(|dz| self.deezer.get(dz).is_some_and(|d| d.name == artist.name))
    }

    /// Credits an existing recording to one more artist on both sides, and puts it at the
    /// top of that artist's list (a collaboration).
    pub fn share_track(&mut self, track: usize, with_spotify_artist: &str) {
        let deezer = self.deezer_id_of(with_spotify_artist);
        let t = &mut self.tracks[track];
        t.spotify_artists.push(with_spotify_artist.to_owned());
        if let Some(dz) = deezer {
            t.deezer_artists.push(dz);
            if let Some(a) = self.deezer.get_mut(&dz) {
                a.top.insert(0, track);
            }
        }
        if let Some(a) = self.spotify.get_mut(with_spotify_artist) {
            a.top.insert(0, track);
        }
    }

    /// `n` artists on both services with unique names, `tracks` recordings each and
    /// `related` related artists each (the next ones, wrapping around): a catalog for
    /// benchmarks.
    pub fn synthetic(n: u64, tracks: usize, related: usize) -> World {
        let mut world = World::new();
        let ids: Vec<String> = (0..n)
            .map(|i| {
                world.add_artist(
                    i,
                    &format!("Synthetic Artist {i:05}"),
                    Some(10_000 + i as i64),
                    tracks,
                )
            })
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let rel: Vec<&str> = (1..=related.min(ids.len().saturating_sub(1)))
                .map(|k| ids[(i + k) % ids.len()].as_str())
                .collect();
            world.relate(id, &rel);
        }
        world
    }
}

/// Which fake a rule or record concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    SpotifyToken,
    SpotifyApi,
    Deezer,
}

/// A scripted misbehaviour.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status and a provider-shaped error body.
    Status(u16),
    /// 200 with a body that is not valid JSON.
    Malformed,
    /// Answer normally, but only after this long.
    Delay(Duration),
    /// Start a 200 answer and break the connection mid-body.
    Reset,
    /// Spotify's rolling-window 429 with a short Retry-After (seconds).
    RateLimited { retry_after: u64 },
    /// Spotify's daily quota: 429, long Retry-After, `reason: QUOTA_EXCEEDED`.
    Quota { retry_after: u64 },
    /// Spotify 401 "The access token expired".
    TokenExpired,
    /// Deezer's error object inside an HTTP 200 (code 4 quota, 800 no data, ...).
    DeezerError { code: i64, message: String },
}

#[derive(Clone, Debug)]
struct FaultRule {
    provider: Provider,
    path_contains: String,
    fault: Fault,
    remaining: usize,
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct CallRecord {
    pub provider: Provider,
    pub path: String,
    pub query: String,
    pub status: u16,
}

struct TokenInfo {
    issued: Instant,
    calls: u64,
}

struct FakeState {
    world: World,
    mode: SpotifyMode,
    rules: Vec<FaultRule>,
    log: Vec<CallRecord>,
    tokens: HashMap<String, TokenInfo>,
    token_lifetime: Duration,
    token_max_calls: Option<u64>,
    tokens_issued: u64,
    /// After this many Spotify API answers, every call is QUOTA_EXCEEDED.
    quota_after: Option<(u64, u64)>,
    spotify_answered: u64,
    deezer_limit: Option<(usize, Duration)>,
    deezer_recent: VecDeque<Instant>,
    latency: Duration,
}

/// A running fake; stops when dropped.
pub struct FakeUpstream {
    addr: SocketAddr,
    state: Arc<Mutex<FakeState>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeUpstream {
    pub async fn start(world: World, mode: SpotifyMode) -> FakeUpstream {
        let state = Arc::new(Mutex::new(FakeState {
            world,
            mode,
            rules: Vec::new(),
            log: Vec::new(),
            tokens: HashMap::new(),
            token_lifetime: Duration::from_secs(3600),
            token_max_calls: None,
            tokens_issued: 0,
            quota_after: None,
            spotify_answered: 0,
            deezer_limit: None,
            deezer_recent: VecDeque::new(),
            latency: Duration::ZERO,
        }));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the fake upstream");
        let addr = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeUpstream {
            addr,
            state,
            server,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Environment variables pointing artistbot at this fake (credentials included).
    pub fn env(&self) -> Vec<(String, String)> {
        let base = self.base_url();
        vec![
            ("SPOTIFY_API_URL".into(), format!("{base}/spotify/v1")),
            (
                "SPOTIFY_AUTH_URL".into(),
                format!("{base}/spotify/api/token"),
            ),
            ("DEEZER_API_URL".into(), format!("{base}/deezer")),
            ("SPOTIFY_CLIENT_ID".into(), CLIENT_ID.into()),
            ("SPOTIFY_CLIENT_SECRET".into(), CLIENT_SECRET.into()),
        ]
    }

    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.state.lock().expect("fake state lock"))
    }

    pub fn set_mode(&self, mode: SpotifyMode) {
        self.with(|s| s.mode = mode);
    }

    /// Changes the world (new tracks, renamed artists) between runs.
    pub fn update_world(&self, f: impl FnOnce(&mut World)) {
        self.with(|s| f(&mut s.world));
    }

    /// The next `times` requests to `provider` whose path contains `path_contains` get
    /// `fault` (rules are consulted in the order they were added).
    pub fn inject(&self, provider: Provider, path_contains: &str, fault: Fault, times: usize) {
        self.with(|s| {
            s.rules.push(FaultRule {
                provider,
                path_contains: path_contains.to_owned(),
                fault,
                remaining: times,
            })
        });
    }

    /// After `answered` more Spotify API answers, every Spotify call is the daily-quota
    /// 429 with `Retry-After: retry_after`.
    pub fn quota_after(&self, answered: u64, retry_after: u64) {
        self.with(|s| s.quota_after = Some((s.spotify_answered + answered, retry_after)));
    }

    pub fn lift_quota(&self) {
        self.with(|s| s.quota_after = None);
    }

    /// Tokens stop working after this many API calls each (401 "token expired").
    pub fn expire_tokens_after_calls(&self, calls: u64) {
        self.with(|s| s.token_max_calls = Some(calls));
    }

    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.with(|s| s.token_lifetime = lifetime);
    }

    /// Deezer's own throttle: beyond `max` requests in `window`, code 4 in a 200.
    pub fn deezer_limit(&self, max: usize, window: Duration) {
        self.with(|s| s.deezer_limit = Some((max, window)));
    }

    /// Every answer waits this long first.
    pub fn set_latency(&self, latency: Duration) {
        self.with(|s| s.latency = latency);
    }

    pub fn calls(&self) -> Vec<CallRecord> {
        self.with(|s| s.log.clone())
    }

    pub fn clear_calls(&self) {
        self.with(|s| s.log.clear());
    }

    /// Requests to `provider` whose path contains `path_contains`.
    pub fn count(&self, provider: Provider, path_contains: &str) -> usize {
        self.with(|s| {
            s.log
                .iter()
                .filter(|c| c.provider == provider && c.path.contains(path_contains))
                .count()
        })
    }

    pub fn spotify_api_calls(&self) -> usize {
        self.count(Provider::SpotifyApi, "")
    }

    pub fn deezer_calls(&self) -> usize {
        self.count(Provider::Deezer, "")
    }

    pub fn tokens_issued(&self) -> u64 {
        self.with(|s| s.tokens_issued)
    }
}

async fn handle(
    State(state): State<Arc<Mutex<FakeState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query: HashMap<String, String> = uri.query().map(url_decode_pairs).unwrap_or_default();
    let provider = if path.starts_with("/spotify/api/token") {
        Provider::SpotifyToken
    } else if path.starts_with("/spotify/v1") {
        Provider::SpotifyApi
    } else {
        Provider::Deezer
    };
    let (latency, fault) = {
        let mut s = state.lock().expect("fake state lock");
        let fault = s
            .rules
            .iter_mut()
            .find(|r| r.provider == provider && r.remaining > 0 && path.contains(&r.path_contains))
            .map(|r| {
                r.remaining -= 1;
                r.fault.clone()
            });
        (s.latency, fault)
    };
    let mut delay = latency;
    if let Some(Fault::Delay(extra)) = &fault {
        delay += *extra;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut s = state.lock().expect("fake state lock");
    let response = match (&fault, provider) {
        (Some(Fault::Delay(_)) | None, Provider::SpotifyToken) => {
            token(&mut s, &method, &headers, &body)
        }
        (Some(Fault::Delay(_)) | None, Provider::SpotifyApi) => {
            spotify(&mut s, &path, &query, &headers)
        }
        (Some(Fault::Delay(_)) | None, Provider::Deezer) => deezer(&mut s, &path, &query),
        (Some(fault), provider) => scripted(fault, provider),
    };
    s.log.push(CallRecord {
        provider,
        path: path.clone(),
        query: uri.query().unwrap_or("").to_owned(),
        status: response.status().as_u16(),
    });
    response
}

fn url_decode_pairs(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn spotify_error(status: u16, message: &str) -> Response {
    json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        json!({"error": {"status": status, "message": message}}),
    )
}

fn deezer_error(code: i64, kind: &str, message: &str) -> Response {
    // Deezer sends its errors with HTTP 200.
    json_response(
        StatusCode::OK,
        json!({"error": {"type": kind, "message": message, "code": code}}),
    )
}

fn scripted(fault: &Fault, provider: Provider) -> Response {
    match fault {
        Fault::Status(status) => match provider {
            Provider::Deezer => (
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY),
                "<html><body>Bad gateway</body></html>",
            )
                .into_response(),
            _ => spotify_error(*status, "Service unavailable"),
        },
        Fault::Malformed => (
            StatusCode::OK,
            [("content-type", "application/json")],
            "{\"data\": [{\"id\": 1, \"na",
        )
            .into_response(),
        Fault::Reset => {
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(Bytes::from_static(b"{\"artists\": [")),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "reset by fake",
                )),
            ];
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .header("content-length", "4096")
                .body(Body::from_stream(futures::stream::iter(chunks)))
                .expect("static response")
        }
        Fault::RateLimited { retry_after } => {
            let mut response = spotify_error(429, "API rate limit exceeded");
            response.headers_mut().insert(
                "retry-after",
                retry_after.to_string().parse().expect("digits"),
            );
            response
        }
        Fault::Quota { retry_after } => quota_response(*retry_after),
        Fault::TokenExpired => spotify_error(401, "The access token expired"),
        Fault::DeezerError { code, message } => deezer_error(*code, "Exception", message),
        Fault::Delay(_) => unreachable!("delays answer normally"),
    }
}

fn quota_response(retry_after: u64) -> Response {
    let mut response = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"error": {"status": 429, "message": "Too many requests", "reason": "QUOTA_EXCEEDED"}}),
    );
    response.headers_mut().insert(
        "retry-after",
        retry_after.to_string().parse().expect("digits"),
    );
    response
}

fn token(s: &mut FakeState, method: &Method, headers: &HeaderMap, body: &Bytes) -> Response {
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let authorized =
        headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str());
    if method != Method::POST || !authorized {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_client", "error_description": "Invalid client"}),
        );
    }
    if !String::from_utf8_lossy(body).contains("grant_type=client_credentials") {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported_grant_type", "error_description": "grant_type parameter is missing"}),
        );
    }
    s.tokens_issued += 1;
    let value = format!("fake-token-{}", s.tokens_issued);
    s.tokens.insert(
        value.clone(),
        TokenInfo {
            issued: Instant::now(),
            calls: 0,
        },
    );
    json_response(
        StatusCode::OK,
        json!({"access_token": value, "token_type": "Bearer", "expires_in": s.token_lifetime.as_secs()}),
    )
}

fn spotify(
    s: &mut FakeState,
    path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    let lifetime = s.token_lifetime;
    let max_calls = s.token_max_calls;
    match s.tokens.get_mut(&bearer) {
        None => return spotify_error(401, "Invalid access token"),
        Some(info) => {
            info.calls += 1;
            if info.issued.elapsed() > lifetime || max_calls.is_some_and(|max| info.calls > max) {
                return spotify_error(401, "The access token expired");
            }
        }
    }
    if let Some((after, retry_after)) = s.quota_after
        && s.spotify_answered >= after
    {
        return quota_response(retry_after);
    }
    s.spotify_answered += 1;
    let rest = path.trim_start_matches("/spotify/v1");
    let segments: Vec<&str> = rest.split('/').filter(|x| !x.is_empty()).collect();
    let extended = s.mode == SpotifyMode::Extended;
    let w = &s.world;
    match segments.as_slice() {
        ["artists"] => {
            if !extended {
                return spotify_error(403, "Forbidden");
            }
            let ids: Vec<&str> = query
                .get("ids")
                .map(|v| v.split(',').collect())
                .unwrap_or_default();
            if ids.is_empty() || ids.len() > 50 {
                return spotify_error(400, "Invalid number of ids");
            }
            let artists: Vec<Value> = ids
                .iter()
                .map(|id| {
                    w.spotify
                        .get(*id)
                        .map_or(Value::Null, |a| spotify_artist_json(a, extended))
                })
                .collect();
            json_response(StatusCode::OK, json!({ "artists": artists }))
        }
        ["artists", id] => match w.spotify.get(*id) {
            Some(a) => json_response(StatusCode::OK, spotify_artist_json(a, extended)),
            None => spotify_error(404, "Resource not found"),
        },
        ["artists", id, "top-tracks"] => {
            if !extended {
                return spotify_error(403, "Forbidden");
            }
            if !query.contains_key("market") {
                return spotify_error(400, "Missing market");
            }
            match w.spotify.get(*id) {
                Some(a) => {
                    let tracks: Vec<Value> = a
                        .top
                        .iter()
                        .take(10)
                        .filter_map(|&t| spotify_track_json(w, t, extended))
                        .collect();
                    json_response(StatusCode::OK, json!({ "tracks": tracks }))
                }
                None => spotify_error(404, "Resource not found"),
            }
        }
        ["artists", id, "related-artists"] => {
            if !extended {
                return spotify_error(404, "Resource not found");
            }
            match w.spotify.get(*id) {
                Some(a) => {
                    let related: Vec<Value> = a
                        .related
                        .iter()
                        .filter_map(|r| w.spotify.get(r))
                        .take(20)
                        .map(|r| spotify_artist_json(r, extended))
                        .collect();
                    json_response(StatusCode::OK, json!({ "artists": related }))
                }
                None => spotify_error(404, "Resource not found"),
            }
        }
        ["search"] => {
            let limit: usize = match query.get("limit").map(|l| l.parse::<usize>()) {
                None => 5,
                Some(Ok(l)) if (1..=10).contains(&l) => l,
                _ => return spotify_error(400, "Invalid limit"),
            };
            let q = query.get("q").cloned().unwrap_or_default();
            match query.get("type").map(String::as_str) {
                Some("artist") => {
                    let needle = q.trim().to_lowercase();
                    let mut hits: Vec<&SpotifyArtist> = w
                        .spotify
                        .values()
                        .filter(|a| !needle.is_empty() && a.name.to_lowercase().contains(&needle))
                        .collect();
                    for (alias, id) in &w.spotify_search_aliases {
                        if alias.to_lowercase() == needle
                            && let Some(a) = w.spotify.get(id)
                            && !hits.iter().any(|h| h.id == a.id)
                        {
                            hits.insert(0, a);
                        }
                    }
                    // Exact names first, then the most followed: roughly Spotify's relevance.
                    hits.sort_by_key(|a| (a.name.to_lowercase() != needle, -a.followers));
                    if hits.is_empty()
                        && let Some(popular) =
                            w.search_fallback.as_ref().and_then(|id| w.spotify.get(id))
                    {
                        hits.push(popular);
                    }
                    let items: Vec<Value> = hits
                        .iter()
                        .take(limit)
                        .map(|a| spotify_artist_json(a, extended))
                        .collect();
                    json_response(
                        StatusCode::OK,
                        json!({"artists": {"href": "https://api.spotify.com/v1/search", "items": items, "limit": limit, "next": null, "offset": 0, "previous": null, "total": hits.len()}}),
                    )
                }
                Some("track") => {
                    let isrc = q.strip_prefix("isrc:").unwrap_or("");
                    let items: Vec<Value> = w
                        .tracks
                        .iter()
                        .enumerate()
                        .filter(|(_, t)| {
                            !isrc.is_empty() && t.isrc == isrc && t.spotify_id.is_some()
                        })
                        .take(limit)
                        .filter_map(|(i, _)| spotify_track_json(w, i, extended))
                        .collect();
                    json_response(
                        StatusCode::OK,
                        json!({"tracks": {"href": "https://api.spotify.com/v1/search", "items": items, "limit": limit, "next": null, "offset": 0, "previous": null, "total": items.len()}}),
                    )
                }
                _ => spotify_error(400, "Missing parameter type"),
            }
        }
        _ => spotify_error(404, "Service not found"),
    }
}

fn spotify_artist_json(a: &SpotifyArtist, extended: bool) -> Value {
    let mut artist = json!({
        "external_urls": {"spotify": format!("https://open.spotify.com/artist/{}", a.id)},
        "href": format!("https://api.spotify.com/v1/artists/{}", a.id),
        "id": a.id,
        "images": a.image.as_ref().map(|url| vec![
            json!({"url": format!("{url}?size=640"), "height": 640, "width": 640}),
            json!({"url": format!("{url}?size=320"), "height": 320, "width": 320}),
            json!({"url": format!("{url}?size=160"), "height": 160, "width": 160}),
        ]).unwrap_or_default(),
        "name": a.name,
        "type": "artist",
        "uri": format!("spotify:artist:{}", a.id),
    });
    if extended {
        artist["followers"] = json!({"href": null, "total": a.followers});
        artist["popularity"] = json!(a.popularity);
        artist["genres"] = json!(a.genres);
    }
    artist
}

fn spotify_track_json(w: &World, index: usize, extended: bool) -> Option<Value> {
    let t = w.tracks.get(index)?;
    let id = t.spotify_id.as_ref()?;
    let artists: Vec<Value> = t
        .spotify_artists
        .iter()
        .filter_map(|a| w.spotify.get(a))
        .map(|a| json!({"id": a.id, "name": a.name, "type": "artist", "uri": format!("spotify:artist:{}", a.id), "external_urls": {"spotify": format!("https://open.spotify.com/artist/{}", a.id)}}))
        .collect();
    let mut track = json!({
        "album": {
            "album_type": "album",
            "id": format!("album{index}"),
            "name": t.album,
            "images": t.cover.as_ref().map(|c| vec![json!({"url": c, "height": 300, "width": 300})]).unwrap_or_default(),
        },
        "artists": artists,
        "duration_ms": 201_000,
        "explicit": false,
        "external_ids": {"isrc": t.isrc},
        "external_urls": {"spotify": format!("https://open.spotify.com/track/{id}")},
        "id": id,
        "name": t.title,
        "type": "track",
        "uri": format!("spotify:track:{id}"),
    });
    if extended {
        track["popularity"] = json!(t.popularity);
    }
    Some(track)
}

fn deezer(s: &mut FakeState, path: &str, query: &HashMap<String, String>) -> Response {
    if let Some((max, window)) = s.deezer_limit {
        let now = Instant::now();
        while s
            .deezer_recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            s.deezer_recent.pop_front();
        }
        if s.deezer_recent.len() >= max {
            return deezer_error(4, "Exception", "Quota limit exceeded");
        }
        s.deezer_recent.push_back(now);
    }
    let w = &s.world;
    let rest = path.trim_start_matches("/deezer");
    let segments: Vec<&str> = rest.split('/').filter(|x| !x.is_empty()).collect();
    let limit = |default: usize, max: usize| -> usize {
        query
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(default)
            .min(max)
    };
    match segments.as_slice() {
        ["search", "artist"] => {
            let Some(q) = query.get("q").filter(|q| !q.trim().is_empty()) else {
                return deezer_error(501, "MissingParameterException", "Missing parameters: q");
            };
            let needle = q.trim().to_lowercase();
            let mut hits: Vec<&DeezerArtist> = w
                .deezer
                .values()
                .filter(|a| a.name.to_lowercase().contains(&needle))
                .collect();
            hits.sort_by_key(|a| -a.fans);
            for (alias, id) in &w.deezer_search_aliases {
                if alias.to_lowercase() == needle
                    && let Some(a) = w.deezer.get(id)
                    && !hits.iter().any(|h| h.id == a.id)
                {
                    hits.insert(0, a);
                }
            }
            if hits.is_empty()
                && let Some(popular) = w
                    .search_fallback
                    .as_ref()
                    .and_then(|id| w.deezer_id_of(id))
                    .and_then(|dz| w.deezer.get(&dz))
            {
                hits.push(popular);
            }
            let total = hits.len();
            let data: Vec<Value> = hits
                .into_iter()
                .take(limit(25, 100))
                .map(deezer_artist_json)
                .collect();
            json_response(StatusCode::OK, json!({"data": data, "total": total}))
        }
        ["artist", id] => match id.parse::<i64>().ok().and_then(|id| w.deezer.get(&id)) {
            Some(a) => json_response(StatusCode::OK, deezer_artist_json(a)),
            None => deezer_error(800, "DataException", "no data"),
        },
        ["artist", id, "top"] => match id.parse::<i64>().ok().and_then(|id| w.deezer.get(&id)) {
            Some(a) => {
                let n = limit(5, 100);
                let data: Vec<Value> = a
                    .top
                    .iter()
                    .filter_map(|&t| deezer_track_json(w, t, false))
                    .take(n)
                    .collect();
                let mut body = json!({"data": data, "total": a.top.len()});
                if a.top.len() > n {
                    body["next"] = json!(format!(
                        "https://api.deezer.com/artist/{}/top?index={n}",
                        a.id
                    ));
                }
                json_response(StatusCode::OK, body)
            }
            None => deezer_error(800, "DataException", "no data"),
        },
        ["artist", id, "related"] => {
            match id.parse::<i64>().ok().and_then(|id| w.deezer.get(&id)) {
                Some(a) => {
                    let data: Vec<Value> = a
                        .related
                        .iter()
                        .filter_map(|r| w.deezer.get(r))
                        .take(limit(20, 20))
                        .map(deezer_artist_json)
                        .collect();
                    json_response(StatusCode::OK, json!({"data": data, "total": data.len()}))
                }
                None => deezer_error(800, "DataException", "no data"),
            }
        }
        ["track", id] => {
            let found = match id.strip_prefix("isrc:") {
                Some(isrc) => w
                    .tracks
                    .iter()
                    .position(|t| t.isrc == isrc && t.deezer_id.is_some()),
                None => id
                    .parse::<i64>()
                    .ok()
                    .and_then(|id| w.tracks.iter().position(|t| t.deezer_id == Some(id))),
            };
            match found.and_then(|t| deezer_track_json(w, t, true)) {
                Some(track) => json_response(StatusCode::OK, track),
                None => deezer_error(800, "DataException", "no data"),
            }
        }
        _ => deezer_error(600, "InvalidQueryException", "Unknown path"),
    }
}

fn deezer_picture(a: &DeezerArtist, size: &str) -> String {
    match &a.picture {
        Some(base) => format!("{base}/{size}.jpg"),
        // Deezer's placeholder: an empty image hash.
        None => format!("https://cdn-images.dzcdn.net/images/artist//{size}-000000-80-0-0.jpg"),
    }
}

fn deezer_artist_json(a: &DeezerArtist) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "link": format!("https://www.deezer.com/artist/{}", a.id),
        "share": format!("https://www.deezer.com/artist/{}?utm_source=deezer", a.id),
        "picture": format!("https://api.deezer.com/artist/{}/image", a.id),
        "picture_small": deezer_picture(a, "56x56"),
        "picture_medium": deezer_picture(a, "250x250"),
        "picture_big": deezer_picture(a, "500x500"),
        "picture_xl": deezer_picture(a, "1000x1000"),
        "nb_album": a.albums,
        "nb_fan": a.fans,
        "radio": true,
        "tracklist": format!("https://api.deezer.com/artist/{}/top?limit=50", a.id),
        "type": "artist",
    })
}

fn deezer_track_json(w: &World, index: usize, full: bool) -> Option<Value> {
    let t = w.tracks.get(index)?;
    let id = t.deezer_id?;
    let main = t.deezer_artists.first().and_then(|a| w.deezer.get(a))?;
    let contributors: Vec<Value> = t
        .deezer_artists
        .iter()
        .filter_map(|a| w.deezer.get(a))
        .map(|a| json!({"id": a.id, "name": a.name, "type": "artist", "role": "Main"}))
        .collect();
    let mut track = json!({
        "id": id,
        "readable": true,
        "title": t.title,
        "title_short": t.title,
        "title_version": "",
        "link": format!("https://www.deezer.com/track/{id}"),
        "duration": 201,
        "rank": t.deezer_rank,
        "explicit_lyrics": false,
        // Signed, expiring preview URLs: never to be stored.
        "preview": format!("https://cdnt-preview.dzcdn.net/api/1/1/{id}.mp3?hdnea=exp=1"),
        "contributors": contributors,
        "artist": {"id": main.id, "name": main.name, "type": "artist"},
        "type": "track",
    });
    track["album"] = match &t.album {
        Some(title) => json!({
            "id": id / 100,
            "title": title,
            "cover_medium": t.cover.clone().unwrap_or_else(|| "https://cdn-images.dzcdn.net/images/cover//250x250-000000-80-0-0.jpg".into()),
            "cover_big": t.cover.clone().unwrap_or_else(|| "https://cdn-images.dzcdn.net/images/cover//500x500-000000-80-0-0.jpg".into()),
            "type": "album",
        }),
        None => Value::Null,
    };
    if full {
        track["isrc"] = json!(t.isrc);
        track["release_date"] = json!("2025-01-01");
        track["bpm"] = json!(0);
    }
    Some(track)
}
