//! Helpers shared by the integration tests: the `db_test!` macro, log setup, and a
//! migrated store per test database.

use artistbot::config::DatabaseUrl;
use artistbot::store::{PoolOptions, Store};
use testkit::db::TestDb;

/// Declares a database test once; it runs on SQLite and on MySQL.
///
/// ```ignore
/// db_test!(async fn quota_exhaustion_keeps_existing_tracks(db: TestDb) { ... });
/// ```
macro_rules! db_test {
    ($(#[$meta:meta])* async fn $name:ident($db:ident : TestDb $(,)?) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($db: testkit::db::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::support::init_logs();
                body(testkit::db::TestDb::sqlite().await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                crate::support::init_logs();
                if let Some(db) = testkit::db::TestDb::mysql().await {
                    body(db).await
                }
            }
        }
    };
}

/// Installs a test log subscriber once, when `TEST_LOG=1`.
pub fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var("TEST_LOG").is_ok_and(|v| v == "1") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                        "debug,sqlx=warn,sea_orm=warn,hyper=warn,reqwest=warn".into()
                    }),
                )
                .with_test_writer()
                .try_init();
        }
    });
}

/// A store on the test database, schema migrated.
pub async fn migrated_store(db: &TestDb) -> Store {
    let store = Store::connect(&DatabaseUrl::new(db.url.clone()), PoolOptions::default())
        .await
        .expect("connecting to the test database");
    store.migrate().await.expect("migrating the test database");
    store
}

/// A catalog database, the fake upstreams, and settings pointing at both.
pub struct SyncHarness {
    pub fake: testkit::fake::FakeUpstream,
    pub store: Store,
    pub settings: std::sync::Arc<artistbot::config::Settings>,
    pub env: Vec<(String, String)>,
    /// Keeps the test database alive (and drops it) with the harness.
    _db: TestDb,
}

/// Settings that keep tests fast: short timeouts and backoffs, no client-side rate
/// limits (tests that need one set it), a short pause after Deezer's throttle answer
/// (its window), and no starter list (tests of it ask for one).
pub const FAST_ENV: &[(&str, &str)] = &[
    ("HTTP_TIMEOUT", "1s"),
    ("HTTP_MAX_ATTEMPTS", "3"),
    ("HTTP_BACKOFF_BASE", "10ms"),
    ("HTTP_BACKOFF_MAX", "40ms"),
    ("HTTP_MAX_RETRY_AFTER", "2s"),
    ("SPOTIFY_MAX_REQUESTS", "0"),
    ("DEEZER_MAX_REQUESTS", "0"),
    ("DEEZER_WINDOW", "200ms"),
    ("CATALOG_STARTER", "none"),
    ("SYNC_CONCURRENCY", "4"),
];

impl SyncHarness {
    pub async fn new(
        db: TestDb,
        world: testkit::fake::World,
        mode: testkit::fake::SpotifyMode,
    ) -> Self {
        Self::with_env(db, world, mode, &[]).await
    }

    /// As [`SyncHarness::new`], with more (or overriding) settings.
    pub async fn with_env(
        db: TestDb,
        world: testkit::fake::World,
        mode: testkit::fake::SpotifyMode,
        extra: &[(&str, &str)],
    ) -> Self {
        let fake = testkit::fake::FakeUpstream::start(world, mode).await;
        let mut env: Vec<(String, String)> = fake.env();
        env.push(("DATABASE_URL".into(), db.url.clone()));
        for (k, v) in FAST_ENV.iter().chain(extra) {
            env.retain(|(key, _)| key != k);
            env.push((k.to_string(), v.to_string()));
        }
        let map = env.iter().cloned().collect();
        let settings = std::sync::Arc::new(
            artistbot::config::Settings::from_map(&map).expect("test settings parse"),
        );
        let store = migrated_store(&db).await;
        SyncHarness {
            fake,
            store,
            settings,
            env,
            _db: db,
        }
    }

    /// As [`SyncHarness::with_env`], with no Spotify app configured at all.
    pub async fn without_spotify(
        db: TestDb,
        world: testkit::fake::World,
        extra: &[(&str, &str)],
    ) -> Self {
        let mut env = vec![("SPOTIFY_CLIENT_ID", ""), ("SPOTIFY_CLIENT_SECRET", "")];
        env.extend_from_slice(extra);
        Self::with_env(db, world, testkit::fake::SpotifyMode::Development, &env).await
    }

    /// A runner over the harness's engine, as one CLI command has.
    pub fn runner(&self) -> artistbot::sync::runner::Runner {
        artistbot::sync::runner::Runner::new(
            self.engine(),
            std::sync::Arc::new(artistbot::sync::runner::Unwatched),
            tokio_util::sync::CancellationToken::new(),
        )
    }

    /// What `artistbot add` does with `inputs` (names, ids, links), refresh included.
    pub async fn add(&self, inputs: &[&str]) -> artistbot::sync::onboard::Onboarded {
        self.onboard(inputs, artistbot::catalog::AddedVia::Cli)
            .await
    }

    /// Onboards `inputs` as if they came `via` (the CLI, requests).
    pub async fn onboard(
        &self,
        inputs: &[&str],
        via: artistbot::catalog::AddedVia,
    ) -> artistbot::sync::onboard::Onboarded {
        let runner = self.runner();
        let refs: Vec<_> = inputs
            .iter()
            .filter_map(|i| artistbot::names::parse_artist_ref(i))
            .collect();
        let (spotify, deezer) = self
            .engine()
            .clients(artistbot::store::now())
            .await
            .expect("clients");
        artistbot::sync::onboard::onboard(
            &runner,
            (&spotify, &deezer),
            &refs,
            via,
            Some(&artistbot::sync::NoProgress),
        )
        .await
        .expect("onboarding")
    }

    /// One batch of the request queue, as the daemon's poll runs it.
    pub async fn onboard_requests(&self) -> artistbot::sync::requests::QueueBatch {
        let runner = self.runner();
        artistbot::sync::requests::onboard_due_requests(&runner, &std::sync::Mutex::new(None)).await
    }

    pub fn engine(&self) -> artistbot::sync::SyncEngine {
        artistbot::sync::SyncEngine::new(self.store.clone(), self.settings.clone())
    }

    /// One stale-first run, as `artistbot sync` does it.
    pub async fn sync(&self) -> artistbot::sync::RunReport {
        self.run(artistbot::sync::RunOptions::stale(
            artistbot::sync::Trigger::Cli,
        ))
        .await
    }

    /// As [`SyncHarness::sync_all`], with some settings replaced (a provider's address
    /// pointed at [`nowhere`], say).
    pub async fn sync_all_with(&self, replaced: &[(&str, String)]) -> artistbot::sync::RunReport {
        let mut env: std::collections::HashMap<String, String> = self.env.iter().cloned().collect();
        for (name, value) in replaced {
            env.insert((*name).to_owned(), value.clone());
        }
        let settings = std::sync::Arc::new(artistbot::config::Settings::from_map(&env).unwrap());
        artistbot::sync::SyncEngine::new(self.store.clone(), settings)
            .run(
                artistbot::sync::RunOptions {
                    force: true,
                    ..artistbot::sync::RunOptions::stale(artistbot::sync::Trigger::Cli)
                },
                tokio_util::sync::CancellationToken::new(),
                &artistbot::sync::NoProgress,
            )
            .await
            .expect("the run itself does not fail")
    }

    /// One run refreshing everything, whatever its age.
    pub async fn sync_all(&self) -> artistbot::sync::RunReport {
        self.run(artistbot::sync::RunOptions {
            force: true,
            ..artistbot::sync::RunOptions::stale(artistbot::sync::Trigger::Cli)
        })
        .await
    }

    pub async fn run(&self, options: artistbot::sync::RunOptions) -> artistbot::sync::RunReport {
        self.engine()
            .run(
                options,
                tokio_util::sync::CancellationToken::new(),
                &artistbot::sync::NoProgress,
            )
            .await
            .expect("the run itself does not fail")
    }

    /// Puts artists of the fake world into the catalog without any API call, as an
    /// import would (profile due, no data yet).
    pub async fn seed(&self, ids: &[impl AsRef<str>]) {
        let world = self.fake_world();
        let new: Vec<artistbot::catalog::NewArtist> = ids
            .iter()
            .map(|id| {
                let artist = world
                    .spotify
                    .get(id.as_ref())
                    .expect("seeded artists exist in the world");
                artistbot::catalog::NewArtist {
                    profile: artistbot::catalog::ArtistProfile {
                        id: artist.id.clone(),
                        name: artist.name.clone(),
                        followers: None,
                        popularity: None,
                        url: None,
                        image_url: None,
                        genres: Vec::new(),
                    },
                    source: artistbot::catalog::Source::Import,
                    deezer_id: None,
                    deezer_fans: None,
                    added_via: artistbot::catalog::AddedVia::Import,
                }
            })
            .collect();
        self.store
            .add_artists(&new, artistbot::store::now())
            .await
            .expect("seeding artists");
    }

    /// The artist's tracks as the fake Deezer would give them (for seeding old data).
    pub fn fake_tracks(&self, spotify_id: &str) -> Vec<artistbot::catalog::TopTrack> {
        let world = self.fake_world();
        world.spotify[spotify_id]
            .top
            .iter()
            .map(|&t| {
                let track = &world.tracks[t];
                artistbot::catalog::TopTrack {
                    id: track.deezer_id.map(|d| d.to_string()).unwrap_or_default(),
                    name: track.title.clone(),
                    album_name: track.album.clone(),
                    image_url: track.cover.clone(),
                    popularity: None,
                    deezer_rank: Some(track.deezer_rank),
                    isrc: None,
                    url: None,
                    duration_ms: None,
                }
            })
            .collect()
    }

    pub fn fake_world(&self) -> testkit::fake::World {
        let mut copy = None;
        self.fake.update_world(|w| copy = Some(w.clone()));
        copy.expect("world copied")
    }

    pub async fn tracks(&self, artist_id: &str) -> Vec<artistbot::store::reads::StoredTrack> {
        self.store
            .stored_tracks(artist_id)
            .await
            .expect("reading tracks")
    }

    pub async fn related(&self, artist_id: &str) -> Vec<String> {
        self.store
            .stored_related(artist_id)
            .await
            .expect("reading related")
            .into_iter()
            .map(|r| r.related_id)
            .collect()
    }

    pub async fn artist(&self, id: &str) -> artistbot::store::reads::StoredArtist {
        self.store
            .stored_artist(id)
            .await
            .expect("reading an artist")
            .unwrap_or_else(|| panic!("artist {id} is in the catalog"))
    }
}

/// An address nothing listens on: a provider that is down.
pub fn nowhere() -> String {
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    format!("http://{address}")
}
