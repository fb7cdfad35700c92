//! A catalog that does not depend on Spotify: artists enter from Deezer alone, their
//! Spotify ids are linked when proven, and an artist met on both sides is one artist
//! with all its rows, on SQLite and MySQL.

use std::sync::Arc;

use artistbot::catalog::{AddedVia, DeezerMapping, SpotifyLink};
use artistbot::config::Settings;
use artistbot::import::{EventSink, ImportOptions, import_dynamodb};
use artistbot::store::requests::RequestStatus;
use artistbot::store::runs::RunStatus;
use artistbot::sync::onboard::AddOutcome;
use artistbot::sync::{NoProgress, RunOptions, SyncEngine, Trigger};
use testkit::fake::{CLIENT_ID, CLIENT_SECRET, Provider, World};
use tokio_util::sync::CancellationToken;

use crate::support::SyncHarness;

/// IVE and two related groups on both services, and a fourth group nobody relates to.
fn kpop() -> (World, [String; 4]) {
    let mut world = World::new();
    let ive = world.add_artist(1, "IVE", Some(101), 6);
    let lsf = world.add_artist(2, "LE SSERAFIM", Some(102), 5);
    let nmixx = world.add_artist(3, "NMIXX", Some(103), 4);
    let kiof = world.add_artist(4, "KISS OF LIFE", Some(104), 3);
    world.relate(&ive, &[&lsf, &nmixx]);
    world.relate(&lsf, &[&ive]);
    world.relate(&nmixx, &[&ive, &lsf]);
    (world, [ive, lsf, nmixx, kiof])
}

/// The harness's settings with the fake's Spotify app configured.
fn with_spotify(h: &SyncHarness, extra: &[(&str, &str)]) -> Arc<Settings> {
    let mut env: std::collections::HashMap<String, String> = h.env.iter().cloned().collect();
    env.insert("SPOTIFY_CLIENT_ID".into(), CLIENT_ID.into());
    env.insert("SPOTIFY_CLIENT_SECRET".into(), CLIENT_SECRET.into());
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    Arc::new(Settings::from_map(&env).expect("settings with Spotify"))
}

/// A stale-first sync with `settings`.
async fn sync_with(h: &SyncHarness, settings: Arc<Settings>) -> artistbot::sync::RunReport {
    SyncEngine::new(h.store.clone(), settings)
        .run(
            RunOptions::stale(Trigger::Cli),
            CancellationToken::new(),
            &NoProgress,
        )
        .await
        .expect("the run itself does not fail")
}

fn added_id(outcome: &AddOutcome) -> &str {
    match outcome {
        AddOutcome::Added { id, .. } | AddOutcome::AlreadyPresent { id, .. } => id,
        other => panic!("not added: {other:?}"),
    }
}

db_test!(
    async fn the_whole_loop_works_without_a_spotify_app(db: TestDb) {
        let (world, [.., kiof]) = kpop();
        let h = SyncHarness::without_spotify(db, world, &[]).await;
        let _ = kiof;

        // add by name: Deezer alone brings the artist, its tracks and its related artists.
        let added = h.add(&["IVE"]).await;
        assert_eq!(added_id(&added.outcomes[0]), "dz:101");
        let refresh = added.refresh.expect("refreshed").expect("the run ran");
        assert_eq!(refresh.status, RunStatus::Completed, "{refresh:?}");
        let tracks = h.tracks("dz:101").await;
        assert_eq!(tracks.len(), 6);
        assert!(
            tracks
                .iter()
                .all(|t| t.source == Some(artistbot::catalog::Source::Deezer))
        );
        assert_eq!(tracks[0].album_name.as_deref(), Some("IVE album 1"));
        assert!(tracks[0].image_url.is_some(), "the album cover");
        assert_eq!(h.related("dz:101").await, vec!["dz:102", "dz:103"]);
        let ive = h.artist("dz:101").await;
        assert_eq!(ive.name, "IVE");
        assert!(ive.deezer_fans.is_some() && ive.image_url.is_some());
        assert_eq!(ive.url, None, "no Spotify page known");
        assert_eq!(ive.deezer_mapping, Some(DeezerMapping::Origin));

        // sync: the catalog grows and the grown artists get their data.
        let report = h.sync().await;
        assert_eq!(report.status, RunStatus::Completed, "{report:?}");
        assert_eq!(h.tracks("dz:102").await.len(), 5);
        assert_eq!(h.related("dz:103").await, vec!["dz:101", "dz:102"]);

        // A Deezer id and a deezer.com link.
        let by_id = h.add(&["https://www.deezer.com/ko/artist/104"]).await;
        assert_eq!(added_id(&by_id.outcomes[0]), "dz:104");
        assert_eq!(h.tracks("dz:104").await.len(), 3);

        // Request onboarding: a name users asked for.
        let mut world = h.fake_world();
        world.add_artist(5, "STAYC", Some(105), 2);
        h.fake.update_world(|w| *w = world);
        h.store
            .record_request("STAYC", artistbot::store::now())
            .await
            .unwrap();
        let batch = h.onboard_requests().await;
        assert_eq!(batch.added, vec!["dz:105".to_owned()], "{batch:?}");
        let request = h.store.request("STAYC").await.unwrap().unwrap();
        assert_eq!(request.status, RequestStatus::Done);
        assert_eq!(h.tracks("dz:105").await.len(), 2);

        assert_eq!(h.fake.spotify_api_calls(), 0);
        assert_eq!(h.fake.tokens_issued(), 0, "Spotify never asked");
    }
);

db_test!(
    async fn an_artist_met_first_on_deezer_then_added_by_its_spotify_id_is_one_artist(db: TestDb) {
        let (world, [ive, ..]) = kpop();
        let h = SyncHarness::without_spotify(db, world, &[]).await;
        h.add(&["IVE"]).await;
        // LE SSERAFIM and NMIXX joined as IVE's related artists; a sync fills them in.
        h.sync().await;
        h.store
            .add_alias("아이브", "dz:101", "cli", artistbot::store::now())
            .await
            .unwrap();
        h.store
            .record_request("ive!", artistbot::store::now())
            .await
            .unwrap();
        h.store
            .resolve_request("ive", "dz:101", 1, artistbot::store::now())
            .await
            .unwrap();
        let tracks_before = h.tracks("dz:101").await.len();

        // With a Spotify app, add IVE by its Spotify id: the two are one artist.
        let settings = with_spotify(&h, &[]);
        let runner = artistbot::sync::runner::Runner::new(
            SyncEngine::new(h.store.clone(), settings.clone()),
            Arc::new(artistbot::sync::runner::Unwatched),
            CancellationToken::new(),
        );
        let engine = SyncEngine::new(h.store.clone(), settings);
        let (spotify, deezer) = engine.clients(artistbot::store::now()).await.unwrap();
        let refs = [artistbot::names::ArtistRef::SpotifyId(ive.clone())];
        let onboarded = artistbot::sync::onboard::onboard(
            &runner,
            (&spotify, &deezer),
            &refs,
            AddedVia::Cli,
            Some(&NoProgress),
        )
        .await
        .unwrap();
        assert!(matches!(onboarded.outcomes[0], AddOutcome::Added { .. }));

        assert!(
            h.store.stored_artist("dz:101").await.unwrap().is_none(),
            "the Deezer-born row is gone"
        );
        let merged = h.artist(&ive).await;
        assert_eq!(merged.deezer_id, Some(101));
        assert_eq!(
            h.tracks(&ive).await.len(),
            tracks_before,
            "its tracks came along"
        );
        assert_eq!(h.related(&ive).await, vec!["dz:102", "dz:103"]);
        let lsf_now = h.store.artists_named("lesserafim").await.unwrap()[0]
            .id
            .clone();
        let lsf_related = h.related(&lsf_now).await;
        assert!(
            lsf_related.contains(&ive),
            "edges to it follow: {lsf_now} -> {lsf_related:?}"
        );
        assert_eq!(
            h.store.artists_named("아이브").await.unwrap()[0].id,
            ive,
            "aliases follow"
        );
        assert_eq!(
            h.store
                .request("ive")
                .await
                .unwrap()
                .unwrap()
                .artist_id
                .as_deref(),
            Some(ive.as_str()),
            "requests follow"
        );
        let ives = h.store.artists_named("ive").await.unwrap();
        assert_eq!(ives.len(), 1, "never a duplicate: {ives:?}");
    }
);

db_test!(
    async fn an_artist_met_first_on_deezer_then_imported_is_one_artist(db: TestDb) {
        let (world, [ive, ..]) = kpop();
        let h = SyncHarness::without_spotify(db, world, &[]).await;
        h.add(&["IVE"]).await;
        let dir = tempfile::tempdir().unwrap();
        let export = dir.path().join("artists.json");
        std::fs::write(
            &export,
            format!(
                r#"{{"Items": [{{"id": {{"S": "{ive}"}}, "name": {{"S": "IVE"}}, "followers": {{"N": "1000"}}}}], "Count": 1}}"#
            ),
        )
        .unwrap();
        let events: EventSink = Arc::new(|_| {});
        import_dynamodb(
            &h.store,
            &ImportOptions {
                files: vec![export],
                table: None,
                fetched_at: None,
                dry_run: false,
                tracks_kept: 10,
                related_kept: 10,
            },
            events,
        )
        .await
        .unwrap();
        assert_eq!(
            h.store.artists_named("ive").await.unwrap().len(),
            2,
            "two rows, for now"
        );

        // The next sync matches the imported artist on Deezer: the Deezer-born row is it.
        let report = h.sync().await;
        assert_eq!(report.status, RunStatus::Completed, "{report:?}");
        let ives = h.store.artists_named("ive").await.unwrap();
        assert_eq!(ives.len(), 1, "{ives:?}");
        assert_eq!(ives[0].id, ive);
        let row = h.artist(&ive).await;
        assert_eq!(row.deezer_id, Some(101));
        assert_eq!(row.followers, Some(1000), "the import's facts stay");
        assert_eq!(h.tracks(&ive).await.len(), 6);
        assert_eq!(h.related(&ive).await.len(), 2);
    }
);

db_test!(
    async fn a_deezer_born_artist_is_linked_later_and_its_rows_follow_it(db: TestDb) {
        let (world, [ive, lsf, nmixx, _]) = kpop();
        let h = SyncHarness::without_spotify(db, world, &[]).await;
        h.add(&["IVE"]).await;
        h.sync().await;
        h.store
            .add_alias("아이브", "dz:101", "cli", artistbot::store::now())
            .await
            .unwrap();

        let report = sync_with(&h, with_spotify(&h, &[])).await;

        assert_eq!(report.status, RunStatus::Completed, "{report:?}");
        let mut linked = report.linked.clone();
        linked.sort();
        assert!(
            linked.contains(&("dz:101".to_owned(), ive.clone())),
            "{linked:?}"
        );
        assert_eq!(h.related(&ive).await, vec![lsf.clone(), nmixx.clone()]);
        assert_eq!(h.related(&nmixx).await, vec![ive.clone(), lsf.clone()]);
        assert_eq!(h.tracks(&ive).await.len(), 6);
        let row = h.artist(&ive).await;
        assert_eq!(row.deezer_id, Some(101));
        assert_eq!(row.spotify_link, Some(SpotifyLink::Name));
        assert!(
            row.url.is_some_and(|u| u.contains(&ive)),
            "the Spotify page"
        );
        assert_eq!(h.store.artists_named("아이브").await.unwrap()[0].id, ive);
        assert_eq!(h.store.artist_count().await.unwrap(), 3, "no duplicate");
        // One search per artist linked, nothing else from Spotify.
        assert_eq!(h.fake.count(Provider::SpotifyApi, "/search"), 3);
    }
);

db_test!(
    async fn homonyms_stay_apart_and_a_held_spotify_id_is_never_linked_twice(db: TestDb) {
        let mut world = World::new();
        // The real LUNA, on both services; a small Deezer namesake with its own songs.
        let luna = world.add_artist(11, "LUNA", Some(501), 3);
        world.add_deezer_only(502, "LUNA", 80, 2, 2);
        let hub = world.add_artist(12, "Hub", Some(500), 1);
        world.relate(&hub, &[&luna]);
        world.deezer.get_mut(&500).unwrap().related = vec![501, 502];
        let h = SyncHarness::without_spotify(db, world, &[]).await;
        h.add(&["Hub"]).await;
        assert_eq!(h.related("dz:500").await, vec!["dz:501", "dz:502"]);

        let report = sync_with(&h, with_spotify(&h, &[])).await;

        assert_eq!(report.status, RunStatus::Completed, "{report:?}");
        assert_eq!(
            h.artist(&luna).await.deezer_id,
            Some(501),
            "the real LUNA linked"
        );
        let ghost = h.artist("dz:502").await;
        assert_eq!(
            ghost.spotify_link,
            Some(SpotifyLink::Ambiguous),
            "no proof: apart"
        );
        assert_eq!(ghost.deezer_id, Some(502));
        assert_eq!(
            h.related(&hub).await,
            vec![luna.clone(), "dz:502".to_owned()]
        );

        // Linking the namesake to the real LUNA's Spotify id directly is refused.
        let profile = artistbot::catalog::ArtistProfile {
            id: luna.clone(),
            name: "LUNA".into(),
            followers: None,
            popularity: None,
            url: None,
            image_url: None,
            genres: Vec::new(),
        };
        let joined = h
            .store
            .link_spotify(
                "dz:502",
                &profile,
                SpotifyLink::Name,
                artistbot::store::now(),
            )
            .await
            .unwrap();
        assert_eq!(
            joined,
            artistbot::store::identity::Joined::Held { by: luna.clone() }
        );
        assert!(h.store.stored_artist("dz:502").await.unwrap().is_some());
        assert_eq!(h.artist(&luna).await.deezer_id, Some(501));
    }
);

db_test!(
    async fn a_small_spotify_budget_links_the_artists_users_asked_for_first(db: TestDb) {
        let mut world = World::new();
        let ids = world.add_artists(30, "Group", 3000, 6, 1);
        let h = SyncHarness::without_spotify(db, world, &[]).await;
        // Two grown through related artists, one named with add, one users asked for.
        h.onboard(&["Group 0", "Group 1"], AddedVia::Related).await;
        h.onboard(&["Group 2"], AddedVia::Cli).await;
        h.onboard(&["Group 3"], AddedVia::Request).await;
        h.onboard(&["Group 4", "Group 5"], AddedVia::Related).await;

        let report = sync_with(&h, with_spotify(&h, &[("SPOTIFY_RUN_BUDGET", "2")])).await;

        let linked: Vec<&str> = report.linked.iter().map(|(_, to)| to.as_str()).collect();
        assert_eq!(linked.len(), 2, "{report:?}");
        assert!(linked.contains(&ids[3].as_str()), "asked for: first");
        assert!(linked.contains(&ids[2].as_str()), "named: second");
    }
);

db_test!(
    async fn chat_phrases_never_become_aliases_but_a_spelling_both_providers_agree_on_does(
        db: TestDb,
    ) {
        let mut world = World::new();
        let iu = world.add_artist(40, "IU", Some(4000), 3);
        let omg = world.add_artist(41, "OH MY GIRL", Some(4001), 3);
        world.alias_on_both("오마이걸", &omg);
        // Both searches answer any other text with the most popular artist.
        world.search_fallback = Some(iu.clone());
        let h =
            SyncHarness::with_env(db, world, testkit::fake::SpotifyMode::Development, &[]).await;
        let now = artistbot::store::now();
        for chat in ["안녕하세요", "노래 추천", "바보", "오마이걸"] {
            h.store.record_request(chat, now).await.unwrap();
        }

        let batch = h.onboard_requests().await;

        assert_eq!(batch.resolved, 1, "{batch:?}");
        for chat in ["안녕하세요", "노래 추천", "바보"] {
            assert!(
                h.store
                    .artists_named(&artistbot::names::name_key(chat))
                    .await
                    .unwrap()
                    .is_empty(),
                "{chat} stays unknown"
            );
            let request = h.store.request(chat).await.unwrap().unwrap();
            assert_eq!(request.status, RequestStatus::NotFound, "{chat}");
        }
        assert!(
            h.store.stored_artist(&iu).await.unwrap().is_none(),
            "no IU from chat"
        );
        let found = h.store.artists_named("오마이걸").await.unwrap();
        assert_eq!(found[0].id, omg, "both providers agree: an alias");
    }
);

db_test!(
    async fn without_spotify_a_spelling_deezer_alone_guesses_is_only_a_candidate(db: TestDb) {
        let mut world = World::new();
        let omg = world.add_artist(41, "OH MY GIRL", Some(4001), 3);
        world.alias_on_both("오마이걸", &omg);
        let h = SyncHarness::without_spotify(db, world, &[]).await;
        h.add(&["OH MY GIRL"]).await;
        h.store
            .record_request("오마이걸", artistbot::store::now())
            .await
            .unwrap();

        let batch = h.onboard_requests().await;

        assert_eq!(batch.not_found, 1, "{batch:?}");
        assert!(
            h.store.artists_named("오마이걸").await.unwrap().is_empty(),
            "no alias"
        );
        let request = h.store.request("오마이걸").await.unwrap().unwrap();
        assert_eq!(request.candidate_artist_id.as_deref(), Some("dz:4001"));
    }
);

/// Runs the real binary with the harness's settings (plus `extra`), from an empty
/// directory so no developer `.env` leaks in.
fn artistbot(h: &SyncHarness, args: &[&str], extra: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_artistbot"));
    cmd.args(args)
        .current_dir(std::env::temp_dir())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn");
    for (k, v) in h
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(extra.iter().copied())
    {
        cmd.env(k, v);
    }
    cmd.output().expect("running artistbot")
}

db_test!(
    async fn a_first_sync_starts_an_empty_catalog_from_the_starter_list(db: TestDb) {
        let (world, _) = kpop();
        let h = SyncHarness::without_spotify(db, world, &[]).await;
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("starter.txt");
        std::fs::write(
            &list,
            "# a small starter list\nIVE\ndeezer:104\nNobody Here\n",
        )
        .unwrap();
        let list = list.display().to_string();

        let first = artistbot(&h, &["sync"], &[("CATALOG_STARTER", &list)]);

        let shown = String::from_utf8_lossy(&first.stdout).to_string();
        assert_eq!(
            first.status.code(),
            Some(0),
            "{shown}{}",
            String::from_utf8_lossy(&first.stderr)
        );
        assert_eq!(h.tracks("dz:101").await.len(), 6);
        assert_eq!(h.tracks("dz:104").await.len(), 3);
        assert_eq!(h.related("dz:101").await, vec!["dz:102", "dz:103"]);
        let starter = h.artist("dz:101").await;
        assert_eq!(starter.added_via, AddedVia::Starter.as_str());

        // A catalog that is not empty is never seeded again.
        h.fake.update_world(|w| {
            w.add_artist(5, "STAYC", Some(105), 2);
        });
        std::fs::write(dir.path().join("starter.txt"), "STAYC\n").unwrap();
        let second = artistbot(&h, &["sync"], &[("CATALOG_STARTER", &list)]);
        assert_eq!(second.status.code(), Some(0));
        assert!(h.store.artists_named("stayc").await.unwrap().is_empty());
    }
);

db_test!(
    async fn without_network_a_first_sync_exits_2_with_one_line_and_changes_nothing(db: TestDb) {
        let (world, _) = kpop();
        let h = SyncHarness::without_spotify(db, world, &[]).await;
        let nowhere = crate::support::nowhere();

        let run = artistbot(
            &h,
            &["sync"],
            &[("CATALOG_STARTER", "bundled"), ("DEEZER_API_URL", &nowhere)],
        );

        let stderr = String::from_utf8_lossy(&run.stderr).to_string();
        assert_eq!(run.status.code(), Some(2), "{stderr}");
        assert!(
            run.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&run.stdout)
        );
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("artistbot:"))
            .collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(
            lines[0].contains("starter list") && lines[0].contains("nothing changed"),
            "{stderr}"
        );
        assert_eq!(h.store.artist_count().await.unwrap(), 0);
    }
);

db_test!(
    async fn the_daemon_starts_an_empty_catalog_at_once(db: TestDb) {
        let (world, _) = kpop();
        let h = SyncHarness::without_spotify(db, world, &[]).await;
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("starter.txt");
        std::fs::write(&list, "IVE\n").unwrap();
        let mut env: std::collections::HashMap<String, String> = h.env.iter().cloned().collect();
        env.insert("CATALOG_STARTER".into(), list.display().to_string());
        env.insert("QUEUE_POLL".into(), "200ms".into());
        let settings = Arc::new(Settings::from_map(&env).unwrap());
        let shutdown = CancellationToken::new();
        let daemon = tokio::spawn(artistbot::daemon::Daemon::new(settings).run(shutdown.clone()));

        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while h.tracks("dz:101").await.is_empty() {
            assert!(std::time::Instant::now() < deadline, "no first run");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        shutdown.cancel();
        daemon.await.unwrap().unwrap();

        assert_eq!(h.related("dz:101").await, vec!["dz:102", "dz:103"]);
        let runs = h.store.recent_runs(10).await.unwrap();
        assert!(runs.iter().any(|r| r.trigger == "schedule"), "{runs:?}");
    }
);
