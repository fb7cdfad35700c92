//! Partial outages and odd answers found by replaying real provider responses (issue 11,
//! items 5 and 6): one provider down never stops the other's work, a recording Deezer has
//! no data for does not sink an identity check, a related list of the artist alone keeps
//! the stored rows, a Spotify block does not make
//! every run search Deezer again, and a fresh database's probes are not paid twice.

use artistbot::catalog::{DeezerMapping, Source};
use artistbot::store::runs::RunStatus;
use testkit::fake::{Fault, Provider, SpotifyMode, World};

use crate::support::{SyncHarness, nowhere};
use crate::sync_engine::kpop_world;

db_test!(
    async fn spotify_unreachable_still_refreshes_matched_artists_from_deezer(db: TestDb) {
        let (world, [ive, lsf, nmixx]) = kpop_world();
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&[&ive, &lsf, &nmixx]).await;
        assert_eq!(h.sync().await.status, RunStatus::Completed);
        let first = h
            .fake_world()
            .tracks
            .iter()
            .position(|t| t.title == "IVE song 1")
            .unwrap();
        h.fake
            .update_world(|w| w.tracks[first].title = "IVE song 1 (remaster)".into());
        h.fake.clear_calls();

        let down = nowhere();
        let report = h
            .sync_all_with(&[
                ("SPOTIFY_API_URL", down.clone()),
                ("SPOTIFY_AUTH_URL", down),
            ])
            .await;

        assert!(h.fake.deezer_calls() > 0, "Deezer was asked: {report:?}");
        let tracks = h.tracks(&ive).await;
        assert_eq!(tracks[0].name, "IVE song 1 (remaster)", "{report:?}");
        assert!(tracks.iter().all(|t| t.source == Some(Source::Deezer)));
        for id in [&ive, &lsf, &nmixx] {
            assert!(!h.related(id).await.is_empty());
        }
        assert_eq!(
            report.exit_code(),
            2,
            "profiles wait for Spotify: {report:?}"
        );
    }
);

db_test!(
    async fn deezer_unreachable_still_refreshes_what_spotify_gives(db: TestDb) {
        let (world, [ive, ..]) = kpop_world();
        let h = SyncHarness::new(db, world, SpotifyMode::Extended).await;
        h.seed(&[&ive]).await;
        assert_eq!(h.sync().await.status, RunStatus::Completed);
        let first = h
            .fake_world()
            .tracks
            .iter()
            .position(|t| t.title == "IVE song 1")
            .unwrap();
        h.fake
            .update_world(|w| w.tracks[first].title = "IVE song 1 (live)".into());
        h.fake.clear_calls();

        let report = h.sync_all_with(&[("DEEZER_API_URL", nowhere())]).await;

        assert!(h.fake.spotify_api_calls() > 0, "{report:?}");
        let tracks = h.tracks(&ive).await;
        assert_eq!(tracks[0].name, "IVE song 1 (live)", "{report:?}");
        assert_eq!(tracks[0].source, Some(Source::Spotify));
    }
);

db_test!(
    async fn a_recording_deezer_has_no_data_for_is_skipped_in_the_identity_check(db: TestDb) {
        let (mut world, [ive, ..]) = kpop_world();
        // Few fans: a lone name match must be confirmed by a recording.
        world.deezer.get_mut(&101).unwrap().fans = 12;
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&[&ive]).await;
        // The first recording's details: Deezer's "no data" (code 800).
        h.fake.inject(
            Provider::Deezer,
            "/track/",
            Fault::DeezerError {
                code: 800,
                message: "no data".into(),
            },
            1,
        );

        let report = h.sync().await;

        assert_eq!(report.status, RunStatus::Completed, "{report:?}");
        let row = h.artist(&ive).await;
        assert_eq!(row.deezer_id, Some(101), "{report:?}");
        assert_eq!(row.deezer_mapping, Some(DeezerMapping::Isrc));
        assert!(
            h.fake.count(Provider::Deezer, "/track/") >= 2,
            "the next recording was tried"
        );
    }
);

db_test!(
    async fn a_related_list_of_the_artist_alone_keeps_the_stored_rows(db: TestDb) {
        let (world, [ive, ..]) = kpop_world();
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&[&ive]).await;
        assert_eq!(h.sync().await.status, RunStatus::Completed);
        let before = h.related(&ive).await;
        assert_eq!(before.len(), 2);

        h.fake
            .update_world(|w| w.deezer.get_mut(&101).unwrap().related = vec![101]);
        let report = h.sync_all().await;

        assert_eq!(report.counts.artists_failed, 0, "{report:?}");
        // (The forced run also links the two Deezer-born groups to their Spotify ids.)
        let after = h.related(&ive).await;
        assert_eq!(after.len(), before.len(), "{after:?}");
        for id in &after {
            assert!(["LE SSERAFIM", "NMIXX"].contains(&h.artist(id).await.name.as_str()));
        }
    }
);

db_test!(
    async fn a_spotify_block_does_not_make_every_run_search_deezer_again(db: TestDb) {
        let mut world = World::new();
        // On Spotify only: Deezer's search finds nothing for it.
        let ghost = world.add_artist(7, "Ghostwriter Collective", None, 4);
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&[&ghost]).await;
        h.sync().await;
        assert_eq!(
            h.artist(&ghost).await.deezer_mapping,
            Some(DeezerMapping::Unmapped)
        );

        // Spotify blocks the app for hours; the next runs must still leave the unmatched
        // artist alone until DEEZER_REMAP_AFTER has passed.
        h.fake.quota_after(0, 36_000);
        for _ in 0..2 {
            h.fake.clear_calls();
            h.sync().await;
            assert_eq!(
                h.fake.count(Provider::Deezer, "/search"),
                0,
                "searched Deezer again during the block"
            );
        }
    }
);

db_test!(
    async fn adding_one_artist_on_a_fresh_database_pays_each_probe_once(db: TestDb) {
        let (world, [ive, ..]) = kpop_world();
        let h = SyncHarness::new(db, world, SpotifyMode::Extended).await;

        let added = h.add(&[ive.as_str()]).await;

        assert_eq!(added.added(), vec![ive.clone()]);
        assert_eq!(h.tracks(&ive).await.len(), 10);
        // The profile, top tracks and related artists: the probes' answers are used.
        assert_eq!(h.fake.spotify_api_calls(), 3, "{:?}", h.fake.calls());
    }
);
