//! `artistbot status` and `status --json` through the real binary: the mode line for
//! each world the sync can be in, and the JSON's documented keys.

use serde_json::Value;
use testkit::fake::{SpotifyMode, World};

use crate::binary::artistbot;
use crate::support::SyncHarness;

fn status_json(env: &[(String, String)]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let run = artistbot(dir.path(), &["status", "--json"], env.to_vec());
    assert_eq!(run.code, Some(0), "{}", run.shown());
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.shown()))
}

fn first_line(env: &[(String, String)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let run = artistbot(dir.path(), &["status"], env.to_vec());
    assert_eq!(run.code, Some(0), "{}", run.shown());
    run.stdout.lines().next().unwrap_or("").to_owned()
}

fn world() -> (World, Vec<String>) {
    let mut world = World::new();
    let ive = world.add_artist(1, "IVE", Some(101), 4);
    let nmixx = world.add_artist(3, "NMIXX", Some(103), 4);
    world.relate(&ive, &[&nmixx]);
    (world, vec![ive, nmixx])
}

db_test!(
    async fn status_names_the_mode_deezer_only_unknown_then_development(db: TestDb) {
        let (world, ids) = world();
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&ids).await;
        let without_spotify: Vec<(String, String)> = h
            .env
            .iter()
            .filter(|(name, _)| !name.starts_with("SPOTIFY_CLIENT"))
            .cloned()
            .collect();

        assert_eq!(status_json(&without_spotify)["mode"], "deezer_only");
        assert_eq!(
            first_line(&without_spotify),
            "mode: Deezer only (no Spotify app: artists, tracks and related artists come from Deezer)"
        );
        assert_eq!(status_json(&h.env)["mode"], "unknown");
        assert!(first_line(&h.env).starts_with("mode: unknown until the first sync"));

        h.sync().await;
        let report = status_json(&h.env);

        assert_eq!(report["mode"], "spotify_development");
        assert!(first_line(&h.env).starts_with("mode: Spotify Development Mode"));
        let endpoints = &report["spotify"]["endpoints"];
        assert_eq!(endpoints["top_tracks"]["state"], "refused");
        assert!(
            endpoints["top_tracks"]["asked_again_after"]
                .as_str()
                .is_some_and(|at| at.ends_with('Z')),
            "{report:#}"
        );
    }
);

db_test!(
    async fn status_json_keeps_its_documented_keys(db: TestDb) {
        let (world, ids) = world();
        let h = SyncHarness::new(db, world, SpotifyMode::Extended).await;
        h.seed(&ids).await;
        h.sync().await;

        let report = status_json(&h.env);

        assert_eq!(report["mode"], "spotify_extended", "{report:#}");
        let backend = report["database"]["backend"].as_str().unwrap();
        assert!(backend == "sqlite" || backend == "mysql", "{report:#}");
        assert!(report["database"]["migrations_applied"].as_u64().unwrap() > 0);
        assert_eq!(report["database"]["migrations_pending"], 0);
        let catalog = &report["catalog"];
        assert_eq!(catalog["artists"], 2);
        assert_eq!(catalog["with_top_tracks"], 2);
        assert_eq!(catalog["top_tracks"]["by_source"]["spotify"], 8);
        assert_eq!(catalog["top_tracks"]["total"], 8);
        for key in [
            "with_related_artists",
            "matched_on_deezer",
            "no_deezer_match",
            "aliases",
            "related_rows",
            "deezer_artists_cached",
        ] {
            assert!(!catalog[key].is_null(), "catalog.{key} in {report:#}");
        }
        let spotify = &report["spotify"];
        assert_eq!(spotify["configured"], true);
        assert!(spotify["calls_last_24h"].as_u64().unwrap() > 0);
        assert_eq!(spotify["daily_budget"], 1500);
        assert_eq!(spotify["run_budget"], 500);
        assert!(spotify["blocked_until"].is_null());
        assert_eq!(
            spotify["endpoints"]["related_artists"]["state"],
            "available"
        );
        let run = &report["last_runs"][0];
        assert_eq!(run["status"], "completed");
        assert_eq!(run["trigger"], "cli");
        assert!(run["started_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(run["counts"]["artists_refreshed"], 2);
        assert_eq!(report["daemon"]["schedule"], "0 0 3 * * *");
        assert_eq!(report["daemon"]["timezone"], "Asia/Seoul");
        assert!(
            report["daemon"]["next_run"]
                .as_str()
                .unwrap()
                .ends_with('Z')
        );
        assert_eq!(report["daemon"]["runner_lock"], "free");
        assert_eq!(report["request_queue"]["pending"], 0);
        assert_eq!(report["request_queue"]["done"], 0);
    }
);

#[test]
fn status_reads_a_service_environment_file() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("service.db");
    std::fs::write(
        dir.path().join("artistbot.env"),
        format!("DATABASE_URL=sqlite://{}?mode=rwc\n", catalog.display()),
    )
    .unwrap();

    let run = artistbot(
        dir.path(),
        &["--env-file", "artistbot.env", "status", "--json"],
        crate::binary::NO_ENV,
    );

    assert_eq!(run.code, Some(0), "{}", run.shown());
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        report["database"]["url"]
            .as_str()
            .unwrap()
            .contains("service.db"),
        "{report:#}"
    );
}

#[test]
fn status_piped_into_a_reader_that_stops_early_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("piped.db");
    // `status | head -1`: the reader leaves after one line, status has more to say.
    let run = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "\"{}\" status | head -c 1 >/dev/null; sleep 0.2",
            env!("CARGO_BIN_EXE_artistbot")
        ))
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", catalog.display()),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}
