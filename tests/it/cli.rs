//! The `artistbot` binary itself: help, exit codes, `add`, `status`, signals, secrets.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use artistbot::store::runs::RunStatus;
use testkit::fake::{CLIENT_SECRET, SpotifyMode, World};

use crate::support::SyncHarness;

/// Runs the real binary with exactly the harness's settings (plus `extra`), from an
/// empty directory so no developer `.env` leaks in.
fn artistbot(h: &SyncHarness, args: &[&str], extra: &[(&str, &str)]) -> Output {
    command(h, args, extra).output().expect("running artistbot")
}

fn command(h: &SyncHarness, args: &[&str], extra: &[(&str, &str)]) -> Command {
    let dir = std::env::temp_dir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_artistbot"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info");
    for (k, v) in &h.env {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn world() -> (World, Vec<String>) {
    let mut world = World::new();
    let ive = world.add_artist(1, "IVE", Some(101), 4);
    let omg = world.add_artist(2, "OH MY GIRL", Some(102), 4);
    let nmixx = world.add_artist(3, "NMIXX", Some(103), 4);
    let lsf = world.add_artist(4, "LE SSERAFIM", Some(104), 4);
    world.relate(&ive, &[&nmixx, &lsf]);
    world.alias_on_both("오마이걸", &omg);
    (world, vec![ive, omg, nmixx, lsf])
}

#[test]
fn every_command_explains_itself() {
    let help = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_artistbot"))
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}");
        let shown = text(&output);
        assert!(shown.contains("Usage"), "{args:?}: {shown}");
        shown
    };
    // The commands as clap lists them, so a new command is checked without being named
    // here: each line of the "Commands:" block is a name and what it does.
    let top = help(&["--help"]);
    let commands: Vec<(String, String)> = top
        .lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| {
            let (name, what) = line.trim().split_once(char::is_whitespace)?;
            Some((name.to_owned(), what.trim().to_owned()))
        })
        .filter(|(name, _)| name != "help")
        .collect();
    let names: Vec<&str> = commands.iter().map(|(name, _)| name.as_str()).collect();
    for expected in [
        "migrate", "add", "sync", "ask", "doctor", "status", "daemon", "import", "serve",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    for (name, what) in &commands {
        assert!(what.len() > 20, "{name} says too little: {what:?}");
        let own = help(&[name, "--help"]);
        assert!(own.contains(&format!("artistbot {name}")), "{name}: {own}");
    }
}

#[test]
fn a_usage_error_exits_64_so_that_2_keeps_meaning_stopped_early() {
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_artistbot"))
            .args(args)
            .env_clear()
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap();
        (output.status.code(), text(&output))
    };

    for usage_error in [
        &["--no-such-flag"][..],
        &["sync", "--no-such-flag"],
        &["ask"],
        &["import"],
        &["no-such-command"],
        &[],
    ] {
        let (code, shown) = run(usage_error);
        assert_eq!(code, Some(64), "{usage_error:?}: {shown}");
    }
    for answer in [
        &["--help"][..],
        &["--version"],
        &["ask", "--help"],
        &["help"],
    ] {
        let (code, shown) = run(answer);
        assert_eq!(code, Some(0), "{answer:?}: {shown}");
    }
    let (_, help) = run(&["--help"]);
    assert!(help.contains("64  usage error"), "{help}");
    assert!(help.contains("--env-file <PATH>"), "{help}");
}

db_test!(
    async fn sync_exits_0_when_done_and_2_when_spotify_is_blocked(db: TestDb) {
        let (world, ids) = world();
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&ids).await;

        let first = artistbot(&h, &["sync"], &[]);
        assert_eq!(first.status.code(), Some(0), "{}", text(&first));
        assert!(text(&first).contains("completed"), "{}", text(&first));

        h.fake.quota_after(0, 48_925);
        let blocked = artistbot(&h, &["sync", "--force"], &[]);
        assert_eq!(blocked.status.code(), Some(2), "{}", text(&blocked));
        assert!(
            text(&blocked).contains("stopped early"),
            "{}",
            text(&blocked)
        );

        let status = artistbot(&h, &["status"], &[]);
        assert_eq!(status.status.code(), Some(0), "{}", text(&status));
        let shown = String::from_utf8_lossy(&status.stdout).to_string();
        assert!(shown.contains("BLOCKED until"), "{shown}");
        assert!(
            shown.contains("top_tracks") && shown.contains("refused"),
            "{shown}"
        );
        assert!(shown.contains("artists               4"), "{shown}");
    }
);

db_test!(
    async fn add_takes_names_hangul_spellings_ids_and_links(db: TestDb) {
        let (world, ids) = world();
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        let link = format!("https://open.spotify.com/intl-ko/artist/{}?si=abc", ids[3]);

        let output = artistbot(
            &h,
            &["add", "IVE", "오마이걸", &ids[2], &link, "No Such Band"],
            &[],
        );

        assert_eq!(
            output.status.code(),
            Some(1),
            "one name is unknown: {}",
            text(&output)
        );
        let shown = text(&output);
        assert!(shown.contains("added    IVE"), "{shown}");
        assert!(
            shown.contains("added    OH MY GIRL") && shown.contains("alias \"오마이걸\""),
            "{shown}"
        );
        assert!(shown.contains("unknown  No Such Band"), "{shown}");
        assert_eq!(h.store.artist_count().await.unwrap(), 4);
        let by_alias = h.store.artists_named("오마이걸").await.unwrap();
        assert_eq!(
            by_alias[0].id, ids[1],
            "the Hangul spelling now leads to OH MY GIRL"
        );
        // Added artists are refreshed right away, not at the next run.
        assert_eq!(h.tracks(&ids[0]).await.len(), 4);
        assert_eq!(
            h.related(&ids[0]).await,
            vec![ids[2].clone(), ids[3].clone()]
        );

        let again = artistbot(&h, &["add", "오마이걸"], &[]);
        assert_eq!(again.status.code(), Some(0), "{}", text(&again));
        assert!(text(&again).contains("present  OH MY GIRL"));
    }
);

db_test!(
    async fn secrets_never_reach_logs_or_errors(db: TestDb) {
        let (world, ids) = world();
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&[&ids[0]]).await;
        h.fake.expire_tokens_after_calls(1);

        let output = artistbot(&h, &["sync"], &[("RUST_LOG", "trace")]);

        let shown = text(&output);
        assert!(output.status.success(), "{shown}");
        assert!(!shown.contains(CLIENT_SECRET), "client secret leaked");
        assert!(!shown.contains("fake-token-"), "access token leaked");
        assert!(!shown.contains("Basic "), "authorization header leaked");

        let bad = artistbot(
            &h,
            &["status"],
            &[("DATABASE_URL", "mysql://root:s3cr3t-Pa55@127.0.0.1:1/none")],
        );
        assert_eq!(bad.status.code(), Some(1));
        let shown = text(&bad);
        assert!(shown.contains("cannot connect"), "{shown}");
        assert!(
            !shown.contains("s3cr3t-Pa55"),
            "database password leaked: {shown}"
        );
    }
);

db_test!(
    async fn ctrl_c_stops_a_sync_between_artists_and_leaves_each_whole(db: TestDb) {
        let mut world = World::new();
        let ids: Vec<String> = world.add_artists(60, "Slow Band", 1100, 8, 3);
        let h = SyncHarness::with_env(
            db,
            world,
            SpotifyMode::Development,
            &[("SYNC_CONCURRENCY", "1")],
        )
        .await;
        h.seed(&ids).await;
        h.fake.set_latency(Duration::from_millis(60));

        let child = command(&h, &["sync"], &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until some artist is done, then interrupt.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let mut any = false;
            for id in &ids {
                any |= !h.tracks(id).await.is_empty();
            }
            if any || std::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let pid = child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-INT", &pid])
                .status()
                .unwrap()
                .success()
        );
        let output = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();

        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        let run = h.store.recent_runs(1).await.unwrap().remove(0);
        assert_eq!(run.status, RunStatus::Interrupted, "{run:?}");
        let mut done = 0;
        for id in &ids {
            let artist = h.artist(id).await;
            let has_tracks = !h.tracks(id).await.is_empty();
            assert_eq!(
                has_tracks,
                artist.tracks_refreshed_at.is_some(),
                "{} is half-written",
                artist.name
            );
            done += usize::from(has_tracks);
        }
        assert!(
            done >= 1 && done < ids.len(),
            "stopped part-way: {done} of {}",
            ids.len()
        );
        assert_eq!(run.counts.artists_refreshed as usize, done, "honest counts");
    }
);

db_test!(
    async fn a_quota_block_met_by_add_holds_for_the_next_command(db: TestDb) {
        let (world, _) = world();
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.fake.quota_after(0, 48_925);

        // Deezer brings the artist in; the Spotify link meets the quota and waits.
        let add = artistbot(&h, &["add", "IVE"], &[]);
        assert_eq!(add.status.code(), Some(0), "{}", text(&add));
        assert!(
            text(&add).contains("added    IVE (dz:101)"),
            "{}",
            text(&add)
        );
        assert!(text(&add).contains("Spotify: blocked"), "{}", text(&add));

        h.fake.lift_quota();
        h.fake.clear_calls();
        let again = artistbot(&h, &["add", "OH MY GIRL"], &[]);
        assert_eq!(again.status.code(), Some(0), "{}", text(&again));
        assert!(
            text(&again).contains("Spotify: blocked"),
            "{}",
            text(&again)
        );
        assert_eq!(h.fake.spotify_api_calls(), 0, "the block was remembered");
    }
);
