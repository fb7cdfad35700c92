//! The sync engine end to end: fake Spotify and Deezer on loopback, a real database.

use artistbot::catalog::{DeezerMapping, Source};
use artistbot::store::runs::RunStatus;
use testkit::fake::{Fault, Provider, SpotifyMode, World};

use crate::support::SyncHarness;

/// IVE and two related girl groups, all on both services.
pub(crate) fn kpop_world() -> (World, [String; 3]) {
    let mut world = World::new();
    let ive = world.add_artist(1, "IVE", Some(101), 12);
    let lsf = world.add_artist(2, "LE SSERAFIM", Some(102), 6);
    let nmixx = world.add_artist(3, "NMIXX", Some(103), 6);
    world.relate(&ive, &[&lsf, &nmixx]);
    world.relate(&lsf, &[&ive, &nmixx]);
    world.relate(&nmixx, &[&ive]);
    (world, [ive, lsf, nmixx])
}

db_test!(
    async fn development_mode_falls_back_to_deezer_for_tracks_and_related(db: TestDb) {
        let (world, [ive, lsf, nmixx]) = kpop_world();
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&[&ive]).await;

        let report = h.sync().await;

        assert_eq!(report.status, RunStatus::Completed, "{report:?}");
        assert_eq!(report.exit_code(), 0);
        let tracks = h.tracks(&ive).await;
        assert_eq!(tracks.len(), 10, "ten kept of twelve");
        assert!(tracks.iter().all(|t| t.source == Some(Source::Deezer)));
        assert_eq!(tracks[0].rank, 1);
        assert_eq!(tracks[0].name, "IVE song 1");
        assert_eq!(
            tracks[0].popularity, None,
            "Deezer gives no Spotify popularity"
        );
        // Growth costs no Spotify call: Deezer's related artists join under their
        // Deezer ids.
        assert_eq!(h.related(&ive).await, vec!["dz:102", "dz:103"]);
        let ive_row = h.artist(&ive).await;
        assert_eq!(
            ive_row.followers, None,
            "Development Mode has no followers: NULL, not 0"
        );
        assert_eq!(ive_row.popularity, None);
        assert_eq!(ive_row.deezer_id, Some(101));
        assert_eq!(ive_row.deezer_mapping, Some(DeezerMapping::Name));
        assert!(ive_row.deezer_fans.is_some());
        assert_eq!(
            ive_row.source,
            Some(Source::Spotify),
            "profile from Spotify"
        );
        let lsf_row = h.artist("dz:102").await;
        assert_eq!(
            lsf_row.added_via, "related",
            "related artists join the catalog"
        );
        assert_eq!(
            lsf_row.deezer_id,
            Some(102),
            "its Deezer id is its identity"
        );
        assert_eq!(lsf_row.deezer_mapping, Some(DeezerMapping::Origin));
        assert_eq!(report.counts.artists_added, 2);
        assert_eq!(
            h.fake.count(Provider::SpotifyApi, "/search"),
            0,
            "nothing searched on Spotify to grow"
        );

        // The refused endpoints are remembered: the next run asks Deezer directly.
        let top_calls = h.fake.count(Provider::SpotifyApi, "top-tracks");
        let related_calls = h.fake.count(Provider::SpotifyApi, "related-artists");
        assert!(
            top_calls <= 4 && related_calls <= 4,
            "probed, not per artist"
        );
        let second = h.sync().await;
        assert_eq!(second.status, RunStatus::Completed, "{second:?}");
        assert_eq!(h.fake.count(Provider::SpotifyApi, "top-tracks"), top_calls);
        assert_eq!(
            h.fake.count(Provider::SpotifyApi, "related-artists"),
            related_calls
        );
        // The next run links them to their Spotify ids; their rows and the edges to
        // them follow.
        assert_eq!(h.tracks(&lsf).await.len(), 6);
        assert_eq!(h.artist(&lsf).await.deezer_id, Some(102));
        assert_eq!(h.related(&ive).await, vec![lsf.clone(), nmixx.clone()]);
        assert_eq!(h.related(&nmixx).await, vec![ive.clone()]);
    }
);

db_test!(
    async fn an_extended_quota_app_uses_spotify_alone(db: TestDb) {
        let (world, [ive, lsf, nmixx]) = kpop_world();
        let h = SyncHarness::new(db, world, SpotifyMode::Extended).await;
        h.seed(&[&ive, &lsf, &nmixx]).await;

        let report = h.sync().await;

        assert_eq!(report.status, RunStatus::Completed, "{report:?}");
        assert_eq!(h.fake.deezer_calls(), 0, "nothing needed Deezer");
        let tracks = h.tracks(&ive).await;
        assert_eq!(tracks.len(), 10);
        assert!(tracks.iter().all(|t| t.source == Some(Source::Spotify)));
        assert_eq!(tracks[0].popularity, Some(90));
        assert_eq!(h.related(&lsf).await, vec![ive.clone(), nmixx.clone()]);
        let row = h.artist(&ive).await;
        assert!(row.followers.is_some() && row.popularity.is_some());
        assert_eq!(row.genres, vec!["k-pop".to_owned()]);
        // Three profiles in one batch call, not three single lookups.
        assert_eq!(
            h.fake.count(Provider::SpotifyApi, "/v1/artists")
                - h.fake.count(Provider::SpotifyApi, "/v1/artists/"),
            1
        );
        assert_eq!(report.counts.profiles_written, 3);
    }
);

db_test!(
    async fn an_expired_token_is_renewed_once_and_the_run_carries_on(db: TestDb) {
        let (world, [ive, lsf, nmixx]) = kpop_world();
        let h = SyncHarness::new(db, world, SpotifyMode::Extended).await;
        // Far shorter-lived than Spotify's hour, so the run meets several expiries.
        h.fake.expire_tokens_after_calls(4);
        h.seed(&[&ive, &lsf, &nmixx]).await;

        let report = h.sync().await;

        assert_eq!(report.status, RunStatus::Completed, "{report:?}");
        assert!(h.fake.tokens_issued() >= 2, "renewed after a 401");
        assert_eq!(h.tracks(&nmixx).await.len(), 6);
    }
);

db_test!(
    async fn a_short_rate_limit_is_waited_out(db: TestDb) {
        let (world, [ive, ..]) = kpop_world();
        let h = SyncHarness::new(db, world, SpotifyMode::Extended).await;
        h.fake.inject(
            Provider::SpotifyApi,
            "top-tracks",
            Fault::RateLimited { retry_after: 1 },
            1,
        );
        h.seed(&[&ive]).await;

        let started = std::time::Instant::now();
        let report = h.sync().await;

        assert_eq!(report.status, RunStatus::Completed, "{report:?}");
        assert!(
            started.elapsed() >= std::time::Duration::from_secs(1),
            "Retry-After honoured"
        );
        assert_eq!(h.tracks(&ive).await[0].source, Some(Source::Spotify));
    }
);

db_test!(
    async fn quota_exhaustion_stops_spotify_keeps_data_and_blocks_the_next_run(db: TestDb) {
        let (world, [ive, lsf, nmixx]) = kpop_world();
        // One artist at a time, so "after the quota answer" is well defined.
        let h = SyncHarness::with_env(
            db,
            world,
            SpotifyMode::Development,
            &[("SYNC_CONCURRENCY", "1")],
        )
        .await;
        h.seed(&[&ive, &lsf, &nmixx]).await;
        assert_eq!(h.sync().await.status, RunStatus::Completed);
        let before: Vec<_> = h.tracks(&ive).await;

        h.fake.clear_calls();
        h.fake.quota_after(1, 48_925);
        let report = h.sync_all().await;

        assert_eq!(report.status, RunStatus::Partial, "{report:?}");
        assert_eq!(report.exit_code(), 2);
        assert!(
            report
                .stop_reason
                .as_deref()
                .unwrap_or("")
                .contains("blocked"),
            "{report:?}"
        );
        let calls = h.fake.calls();
        let first_quota = calls
            .iter()
            .position(|c| c.provider == Provider::SpotifyApi && c.status == 429)
            .expect("the quota answer came");
        assert!(
            calls[first_quota + 1..]
                .iter()
                .all(|c| c.provider != Provider::SpotifyApi),
            "no Spotify call after QUOTA_EXCEEDED"
        );
        assert!(
            report.left_due >= 1,
            "profiles wait for Spotify: {report:?}"
        );
        // Deezer work carried on, and nothing was lost.
        for id in [&ive, &lsf, &nmixx] {
            assert!(!h.tracks(id).await.is_empty());
            assert!(!h.related(id).await.is_empty());
        }
        let after: Vec<_> = h.tracks(&ive).await;
        assert_eq!(
            after.iter().map(|t| &t.name).collect::<Vec<_>>(),
            before.iter().map(|t| &t.name).collect::<Vec<_>>()
        );

        // The block is persisted: the next run does not call Spotify before it ends.
        h.fake.lift_quota();
        h.fake.clear_calls();
        let next = h.sync_all().await;
        assert_eq!(
            h.fake.spotify_api_calls(),
            0,
            "blocked until the Retry-After has passed"
        );
        assert_eq!(next.exit_code(), 2, "profiles stay due while blocked");
        let states = h.store.provider_states().await.unwrap();
        let block = states
            .iter()
            .find(|s| s.feature == "access")
            .expect("a block row");
        let until = block.blocked_until.expect("blocked until");
        let hours = (until - artistbot::store::now()).num_hours();
        assert!(
            (12..=14).contains(&hours),
            "Retry-After 48,925 s is about 13.6 h, got {hours} h"
        );
    }
);

db_test!(
    async fn transient_failures_are_retried_until_they_pass(db: TestDb) {
        let (world, [ive, ..]) = kpop_world();
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.fake
            .inject(Provider::Deezer, "/top", Fault::Status(503), 1);
        h.fake
            .inject(Provider::Deezer, "/related", Fault::Malformed, 1);
        h.fake.inject(Provider::Deezer, "/search", Fault::Reset, 1);
        h.fake.inject(
            Provider::SpotifyApi,
            "/artists/",
            Fault::Delay(std::time::Duration::from_millis(1500)),
            1,
        );
        h.seed(&[&ive]).await;

        let report = h.sync().await;

        assert_eq!(report.status, RunStatus::Completed, "{report:?}");
        assert!(
            report.deezer_calls.retries >= 3,
            "{:?}",
            report.deezer_calls
        );
        assert!(
            report.spotify_calls.retries >= 1,
            "the timed-out call was retried"
        );
        assert_eq!(h.tracks(&ive).await.len(), 10);
        assert_eq!(h.related(&ive).await.len(), 2);
    }
);

db_test!(
    async fn a_failing_fetch_keeps_the_stored_rows(db: TestDb) {
        let (world, [ive, ..]) = kpop_world();
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&[&ive]).await;
        assert_eq!(h.sync().await.status, RunStatus::Completed);
        // A second run links the related artists (met on Deezer) to Spotify.
        assert_eq!(h.sync().await.status, RunStatus::Completed);
        let before = h.tracks(&ive).await;
        let related_before = h.related(&ive).await;

        h.fake
            .inject(Provider::Deezer, "/101/top", Fault::Status(500), 100);
        h.fake
            .inject(Provider::Deezer, "/101/related", Fault::Malformed, 100);
        let report = h.sync_all().await;

        assert_eq!(report.status, RunStatus::Partial, "{report:?}");
        assert_eq!(report.exit_code(), 2);
        assert!(report.counts.artists_failed >= 1);
        assert!(
            report.error_summary().unwrap_or_default().contains("IVE"),
            "{report:?}"
        );
        assert_eq!(
            h.tracks(&ive).await,
            before,
            "untouched, fetched_at included"
        );
        assert_eq!(h.related(&ive).await, related_before);
        let run = h.store.run(report.run_id).await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Partial);
        assert!(run.error_summary.unwrap_or_default().contains("IVE"));
    }
);

db_test!(
    async fn deezer_errors_inside_http_200_are_understood(db: TestDb) {
        let (world, [ive, ..]) = kpop_world();
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        // Deezer's throttle (code 4) is retried; it arrives with HTTP 200.
        h.fake.inject(
            Provider::Deezer,
            "/top",
            Fault::DeezerError {
                code: 4,
                message: "Quota limit exceeded".into(),
            },
            2,
        );
        h.seed(&[&ive]).await;
        let report = h.sync().await;
        assert_eq!(report.status, RunStatus::Completed, "{report:?}");
        assert_eq!(h.tracks(&ive).await.len(), 10);

        // "No data" (code 800) is an answer, not a reason to retry.
        h.fake.clear_calls();
        h.fake.inject(
            Provider::Deezer,
            "/related",
            Fault::DeezerError {
                code: 800,
                message: "no data".into(),
            },
            1,
        );
        let report = h.sync_all().await;
        assert_eq!(
            h.fake.count(Provider::Deezer, "/101/related"),
            1,
            "not retried"
        );
        assert_eq!(report.counts.artists_failed, 1);
        assert_eq!(h.related(&ive).await.len(), 2, "kept");
    }
);

db_test!(
    async fn namesakes_are_never_mixed_up(db: TestDb) {
        let mut world = World::new();
        let luna_a = world.add_artist(11, "LUNA", Some(501), 4);
        let luna_b = world.add_artist(12, "Luna", Some(502), 4);
        // A Deezer ghost with no albums, and a band only Deezer knows under Solo's name.
        world.add_deezer_only(503, "LUNA", 75, 0, 2);
        let solo = world.add_artist(13, "Solo Act", None, 3);
        world.add_deezer_only(504, "Solo Act", 40, 1, 2);
        // The two LUNAs' tracks differ, so their recordings tell them apart.
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&[&luna_a, &luna_b, &solo]).await;

        let report = h.sync().await;

        let a = h.artist(&luna_a).await;
        let b = h.artist(&luna_b).await;
        assert_eq!(a.deezer_id, Some(501), "{report:?}");
        assert_eq!(b.deezer_id, Some(502));
        assert_eq!(
            a.deezer_mapping,
            Some(DeezerMapping::Isrc),
            "namesakes need a recording"
        );
        assert!(
            h.tracks(&luna_a)
                .await
                .iter()
                .all(|t| t.name.starts_with("LUNA song"))
        );
        assert!(
            h.tracks(&luna_b)
                .await
                .iter()
                .all(|t| t.name.starts_with("Luna song"))
        );
        // Solo Act's only Deezer namesake is another artist: left unmapped, no tracks.
        let s = h.artist(&solo).await;
        assert_eq!(s.deezer_id, None);
        assert_eq!(s.deezer_mapping, Some(DeezerMapping::Ambiguous));
        assert!(
            h.tracks(&solo).await.is_empty(),
            "no data rather than another artist's"
        );
        assert_eq!(report.counts.artists_unmapped, 1);
        assert_eq!(
            report.status,
            RunStatus::Completed,
            "unmapped is not a failure"
        );

        // And the next run does not ask Deezer about it again before the wait is over.
        h.fake.clear_calls();
        let next = h.sync().await;
        assert_eq!(h.fake.count(Provider::Deezer, "search"), 0);
        assert_eq!(next.counts.artists_unmapped, 1);
    }
);

db_test!(
    async fn a_collaboration_is_a_top_track_of_both_artists(db: TestDb) {
        let (mut world, [ive, lsf, _]) = kpop_world();
        let shared = world.spotify[&ive].top[0];
        world.share_track(shared, &lsf);
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&[&ive, &lsf]).await;

        h.sync().await;

        let ive_tracks = h.tracks(&ive).await;
        let lsf_tracks = h.tracks(&lsf).await;
        assert_eq!(
            ive_tracks[0].id, lsf_tracks[0].id,
            "the same recording, stored for both"
        );
        assert_eq!(lsf_tracks[0].rank, 1);
        assert_eq!(lsf_tracks.len(), 7);
    }
);

db_test!(
    async fn hangul_and_punctuation_heavy_names_match_exactly(db: TestDb) {
        let mut world = World::new();
        let iu = world.add_artist(21, "아이유", Some(601), 3);
        let idle = world.add_artist(22, "(G)I-DLE", Some(602), 3);
        let pink = world.add_artist(23, "P!nk", Some(603), 3);
        let fromis = world.add_artist(24, "fromis_9", Some(604), 3);
        // Look-alikes that must not be taken: a composite and a different name.
        world.add_deezer_only(605, "아이유 & Friends", 10, 1, 1);
        world.add_deezer_only(606, "Pink", 10_000_000, 40, 1);
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&[&iu, &idle, &pink, &fromis]).await;

        let report = h.sync().await;

        assert_eq!(report.status, RunStatus::Completed, "{report:?}");
        for (id, deezer) in [(&iu, 601), (&idle, 602), (&pink, 603), (&fromis, 604)] {
            let row = h.artist(id).await;
            assert_eq!(row.deezer_id, Some(deezer), "{}", row.name);
            assert_eq!(h.tracks(id).await.len(), 3, "{}", row.name);
        }
        assert_eq!(h.artist(&iu).await.name_key, "아이유");
    }
);

db_test!(
    async fn the_stalest_artists_go_first(db: TestDb) {
        let mut world = World::new();
        let ids: Vec<String> = world.add_artists(30, "Band", 700, 5, 2);
        let h = SyncHarness::with_env(
            db,
            world,
            SpotifyMode::Development,
            &[("SYNC_CONCURRENCY", "1")],
        )
        .await;
        h.seed(&ids).await;
        assert_eq!(h.sync().await.status, RunStatus::Completed);
        // Age them differently: Band 3 oldest, then 1, 4, 0, 2.
        let now = artistbot::store::now();
        for (band, days) in [(3, 9), (1, 7), (4, 5), (0, 3), (2, 2)] {
            let refresh = artistbot::catalog::ArtistRefresh {
                artist_id: ids[band].clone(),
                tracks: Some((Source::Deezer, h.fake_tracks(&ids[band]))),
                related: None,
                ..Default::default()
            };
            h.store
                .apply_refresh(&refresh, now - chrono::Duration::days(days))
                .await
                .unwrap();
        }
        h.fake.clear_calls();

        h.sync().await;

        let order: Vec<String> = h
            .fake
            .calls()
            .into_iter()
            .filter(|c| c.path.ends_with("/top"))
            .map(|c| c.path)
            .collect();
        let expected: Vec<String> = [3, 1, 4, 0, 2]
            .iter()
            .map(|b| format!("/deezer/artist/{}/top", 700 + b))
            .collect();
        assert_eq!(order, expected);
    }
);

db_test!(
    async fn a_second_run_with_unchanged_upstreams_changes_nothing(db: TestDb) {
        let (world, [ive, lsf, nmixx]) = kpop_world();
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&[&ive]).await;
        h.sync().await;
        h.sync().await;
        let snapshot = |h: &SyncHarness| {
            let ids = [ive.clone(), lsf.clone(), nmixx.clone()];
            let store = h.store.clone();
            async move {
                let mut rows = Vec::new();
                for id in ids {
                    let a = store.stored_artist(&id).await.unwrap().unwrap();
                    rows.push(format!(
                        "{} {} {:?} {:?} {:?}",
                        a.id, a.name, a.deezer_id, a.image_url, a.followers
                    ));
                    for t in store.stored_tracks(&id).await.unwrap() {
                        rows.push(format!(
                            "{id} {} {} {} {:?}",
                            t.rank, t.id, t.name, t.source
                        ));
                    }
                    for r in store.stored_related(&id).await.unwrap() {
                        rows.push(format!(
                            "{id} -> {} {} {:?}",
                            r.related_id, r.rank, r.source
                        ));
                    }
                }
                rows
            }
        };
        let before = snapshot(&h).await;

        let forced = h.sync_all().await;
        assert_eq!(forced.status, RunStatus::Completed);
        assert_eq!(
            snapshot(&h).await,
            before,
            "same rows after refetching everything"
        );

        h.fake.clear_calls();
        let idle = h.sync().await;
        assert_eq!(
            idle.counts.artists_due, 0,
            "nothing is stale right after a run"
        );
        assert!(h.fake.calls().is_empty(), "and nothing is fetched");
    }
);

db_test!(
    async fn the_spotify_budget_is_never_exceeded(db: TestDb) {
        let mut world = World::new();
        let ids: Vec<String> = world.add_artists(40, "Group", 800, 6, 2);
        let h = SyncHarness::with_env(
            db,
            world,
            SpotifyMode::Development,
            &[("SPOTIFY_RUN_BUDGET", "3")],
        )
        .await;
        h.seed(&ids).await;

        let report = h.sync().await;

        assert!(
            h.fake.spotify_api_calls() <= 3,
            "{} calls",
            h.fake.spotify_api_calls()
        );
        assert_eq!(report.status, RunStatus::Partial);
        assert_eq!(report.exit_code(), 2);
        assert!(report.stop_reason.unwrap_or_default().contains("budget"));
        // Deezer work went on without Spotify.
        for id in &ids {
            assert_eq!(h.tracks(id).await.len(), 2);
        }
    }
);

db_test!(
    async fn catalog_growth_is_bounded_per_run(db: TestDb) {
        let mut world = World::new();
        let hub = world.add_artist(50, "Hub", Some(900), 2);
        let others: Vec<String> = world.add_artists(51, "Spoke", 901, 8, 1);
        let refs: Vec<&str> = others.iter().map(String::as_str).collect();
        world.relate(&hub, &refs);
        let h = SyncHarness::with_env(
            db,
            world,
            SpotifyMode::Development,
            &[("SYNC_MAX_NEW_ARTISTS", "3")],
        )
        .await;
        h.seed(&[&hub]).await;

        let report = h.sync().await;

        assert_eq!(report.counts.artists_added, 3);
        assert_eq!(h.related(&hub).await, vec!["dz:901", "dz:902", "dz:903"]);
        assert_eq!(h.store.artist_count().await.unwrap(), 4);
    }
);

db_test!(
    async fn deezer_unreachable_is_a_partial_run_that_loses_nothing(db: TestDb) {
        let (world, [ive, ..]) = kpop_world();
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&[&ive]).await;
        assert_eq!(h.sync().await.status, RunStatus::Completed);
        let before = h.tracks(&ive).await;

        let report = h
            .sync_all_with(&[("DEEZER_API_URL", crate::support::nowhere())])
            .await;

        assert_eq!(report.exit_code(), 2, "{report:?}");
        assert_eq!(h.tracks(&ive).await, before);
    }
);

db_test!(
    async fn a_first_development_mode_run_spends_about_one_spotify_call_per_artist(db: TestDb) {
        let world = World::synthetic(40, 10, 10);
        let ids: Vec<String> = world.spotify.keys().cloned().collect();
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&ids).await;

        let report = h.sync().await;

        assert_eq!(report.status, RunStatus::Completed, "{report:?}");
        // One profile lookup each, plus the probes of the refused endpoints (batch, top
        // tracks, related artists and the lookup that tells a retired endpoint from an
        // unknown artist); related artists are catalog artists matched on Deezer first,
        // so no searches.
        let spotify = h.fake.spotify_api_calls();
        assert!(spotify <= 40 + 4, "{spotify} Spotify calls for 40 artists");
        assert_eq!(h.fake.count(Provider::SpotifyApi, "/search"), 0);
        assert_eq!(
            h.fake.deezer_calls(),
            3 * 40,
            "search, top and related each"
        );
        for id in &ids {
            assert_eq!(h.related(id).await.len(), 10);
        }
    }
);

db_test!(
    async fn a_quota_block_stops_calls_already_waiting_in_other_workers(db: TestDb) {
        let mut world = World::new();
        let ids: Vec<String> = world.add_artists(70, "Crowd", 1200, 12, 2);
        let h = SyncHarness::with_env(
            db,
            world,
            SpotifyMode::Development,
            &[("SYNC_CONCURRENCY", "4")],
        )
        .await;
        h.seed(&ids).await;
        h.fake.set_latency(std::time::Duration::from_millis(40));
        h.fake.quota_after(6, 48_925);

        let report = h.sync().await;

        assert_eq!(report.exit_code(), 2, "{report:?}");
        let calls = h.fake.calls();
        let first_quota = calls
            .iter()
            .position(|c| c.provider == Provider::SpotifyApi && c.status == 429)
            .expect("the quota answer came");
        let after = calls[first_quota + 1..]
            .iter()
            .filter(|c| c.provider == Provider::SpotifyApi)
            .count();
        // Only calls already on the wire when the block was learned may still arrive.
        assert!(after <= 3, "{after} Spotify calls answered after the block");
    }
);

db_test!(
    async fn refused_credentials_stop_spotify_at_once_and_fail_the_run(db: TestDb) {
        let (world, [ive, lsf, nmixx]) = kpop_world();
        let h = SyncHarness::with_env(
            db,
            world,
            SpotifyMode::Development,
            &[("SPOTIFY_CLIENT_SECRET", "not-the-secret")],
        )
        .await;
        h.seed(&[&ive, &lsf, &nmixx]).await;

        let report = h.sync().await;

        assert_eq!(report.exit_code(), 1, "a configuration problem: {report:?}");
        assert!(
            report
                .configuration_error
                .as_deref()
                .unwrap_or("")
                .contains("credentials")
        );
        assert_eq!(
            h.fake.count(Provider::SpotifyToken, ""),
            1,
            "asked once, not per artist"
        );
        assert_eq!(h.fake.spotify_api_calls(), 0);
        // Deezer work went on.
        assert_eq!(h.tracks(&ive).await.len(), 10);
    }
);

db_test!(
    async fn a_premium_refusal_stops_spotify_instead_of_costing_a_call_per_artist(db: TestDb) {
        let mut world = World::new();
        let ids: Vec<String> = world.add_artists(80, "Quiet", 1300, 20, 2);
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&ids).await;
        // "Active premium subscription required for the owner of the app."
        h.fake
            .inject(Provider::SpotifyApi, "/v1/", Fault::Status(403), 1000);

        let report = h.sync().await;

        assert_eq!(report.exit_code(), 1, "{report:?}");
        // The endpoint probes, then at most one profile lookup per worker in flight (4)
        // before the refusal stops the rest: not one per artist (20).
        assert!(
            h.fake.spotify_api_calls() <= 3 + 4,
            "{} calls",
            h.fake.spotify_api_calls()
        );
        for id in &ids {
            assert_eq!(h.tracks(id).await.len(), 2, "Deezer data still came");
        }
    }
);

db_test!(
    async fn an_artist_spotify_no_longer_knows_does_not_retire_its_endpoints(db: TestDb) {
        let (world, [ive, lsf, nmixx]) = kpop_world();
        let h = SyncHarness::new(db, world, SpotifyMode::Extended).await;
        // An id Spotify answers 404 for, sorted first so the endpoint probe meets it.
        let gone = "0000000000000000000000".to_owned();
        let store = &h.store;
        let mut seed = vec![artistbot::catalog::NewArtist {
            profile: artistbot::catalog::ArtistProfile {
                id: gone.clone(),
                name: "Disbanded".into(),
                followers: None,
                popularity: None,
                url: None,
                image_url: None,
                genres: Vec::new(),
            },
            source: Source::Import,
            deezer_id: None,
            deezer_fans: None,
            added_via: artistbot::catalog::AddedVia::Import,
        }];
        seed.truncate(1);
        store
            .add_artists(&seed, artistbot::store::now())
            .await
            .unwrap();
        h.seed(&[&ive, &lsf, &nmixx]).await;

        let report = h.sync().await;

        let states = h.store.provider_states().await.unwrap();
        assert!(
            states.iter().all(|s| s.available != Some(false)),
            "no endpoint marked refused: {states:?}"
        );
        for id in [&ive, &lsf, &nmixx] {
            assert_eq!(h.tracks(id).await[0].source, Some(Source::Spotify));
        }
        assert!(
            report.counts.artists_failed >= 1,
            "the vanished artist failed: {report:?}"
        );
    }
);

db_test!(
    async fn a_deezer_artist_that_vanished_loses_its_match_not_its_rows(db: TestDb) {
        let (world, [ive, ..]) = kpop_world();
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&[&ive]).await;
        assert_eq!(h.sync().await.status, RunStatus::Completed);
        let before = h.tracks(&ive).await;

        h.fake.update_world(|w| {
            w.deezer.remove(&101);
        });
        let report = h.sync_all().await;

        assert_eq!(report.counts.artists_failed, 0, "{report:?}");
        assert_eq!(report.counts.artists_unmapped, 1);
        let row = h.artist(&ive).await;
        assert_eq!(row.deezer_id, None);
        assert_eq!(row.deezer_mapping, Some(DeezerMapping::Unmapped));
        assert_eq!(
            row.deezer_fans, None,
            "another artist's fans are not this one's"
        );
        assert_eq!(h.tracks(&ive).await, before, "stored rows stay");
    }
);
