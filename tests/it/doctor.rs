//! `artistbot doctor` through the real binary, and the settings file every command
//! reads: a malformed line, a misspelt variable, an unreachable database, a Spotify
//! secret the app does not have, a skill endpoint open to the network, the grants of
//! each database account, and a setup that passes.

use sea_orm::{ConnectionTrait, Database};
use testkit::fake::{CLIENT_ID, FakeUpstream, SpotifyMode, World};

use crate::binary::{NO_ENV, Run, artistbot};
use crate::support::{FAST_ENV, SyncHarness};

/// The lines of a doctor run whose check is `check` (e.g. `"database"`).
fn check_line<'a>(run: &'a Run, check: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|line| line.get(6..).is_some_and(|rest| rest.starts_with(check)))
        .unwrap_or_else(|| panic!("no {check:?} line in\n{}", run.shown()))
}

/// Settings pointing the providers at `fake`, with no Spotify app unless asked.
fn fake_env(fake: &FakeUpstream, spotify: bool) -> Vec<(String, String)> {
    fake.env()
        .into_iter()
        .filter(|(name, _)| spotify || !name.starts_with("SPOTIFY_CLIENT"))
        .chain(
            FAST_ENV
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string())),
        )
        .collect()
}

#[test]
fn a_malformed_settings_line_is_named_by_file_and_line_and_stops_every_command() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "SPOTIFY_MARKET=KR\n# the app\nSPOTIFY_CLIENT_SECRET hunter2-not-for-logs\nDATABASE_URL=sqlite://x.db\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("service.env"),
        "DATABASE_URL=sqlite://x.db\nSKILL_SECRET=\"unclosed-secret-value\n",
    )
    .unwrap();

    let doctor = artistbot(dir.path(), &["doctor"], NO_ENV);
    let status = artistbot(dir.path(), &["status"], NO_ENV);
    let ask = artistbot(dir.path(), &["ask", "IU"], NO_ENV);
    let named = artistbot(dir.path(), &["--env-file", "service.env", "status"], NO_ENV);
    let by_variable = artistbot(
        dir.path(),
        &["doctor"],
        [("ARTISTBOT_ENV_FILE", "service.env")],
    );

    assert_eq!(doctor.code, Some(1), "{}", doctor.shown());
    let line = check_line(&doctor, "settings file");
    assert!(line.starts_with("FAIL"), "{line}");
    assert!(
        line.contains(".env, line 3: SPOTIFY_CLIENT_SECRET: expected '='"),
        "{line}"
    );
    for run in [&status, &ask] {
        assert_eq!(run.code, Some(1), "{}", run.shown());
        assert!(
            run.stderr.contains(".env, line 3: SPOTIFY_CLIENT_SECRET"),
            "{}",
            run.shown()
        );
    }
    assert_eq!(named.code, Some(1), "{}", named.shown());
    assert!(
        named
            .stderr
            .contains("service.env, line 2: SKILL_SECRET: a quote is not closed"),
        "{}",
        named.shown()
    );
    assert!(
        check_line(&by_variable, "settings file").contains("service.env, line 2"),
        "{}",
        by_variable.shown()
    );
    for run in [&doctor, &status, &ask, &named, &by_variable] {
        let shown = run.shown();
        assert!(!shown.contains("hunter2"), "a value leaked: {shown}");
        assert!(
            !shown.contains("unclosed-secret"),
            "a value leaked: {shown}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelt_variable_fails_doctor_with_the_setting_it_resembles() {
    let fake = FakeUpstream::start(World::new(), SpotifyMode::Development).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "DATABSE_URL=mysql://sync:pw@db.example/artistbot\nSPOTIFY_CLIENTID=my-app\n",
    )
    .unwrap();
    let mut env = fake_env(&fake, false);
    env.push(("skill_secret".into(), "lower-case-is-another-name".into()));

    let doctor = artistbot(dir.path(), &["doctor"], env.clone());
    let created = dir.path().join("artistbot.db").exists();
    let status = artistbot(dir.path(), &["status"], env);

    assert_eq!(doctor.code, Some(1), "{}", doctor.shown());
    let line = check_line(&doctor, "variable names");
    assert!(line.starts_with("FAIL"), "{line}");
    for expected in [
        "DATABSE_URL (.env, line 1) is not a setting: did you mean DATABASE_URL?",
        "SPOTIFY_CLIENTID (.env, line 2) is not a setting: did you mean SPOTIFY_CLIENT_ID?",
        "skill_secret (in the environment) is not a setting: did you mean SKILL_SECRET?",
    ] {
        assert!(line.contains(expected), "missing {expected:?} in {line}");
    }
    // Every other check still ran: the misspelt URL left the default SQLite file.
    assert!(
        check_line(&doctor, "database").contains("does not exist yet"),
        "{}",
        doctor.shown()
    );
    assert!(
        check_line(&doctor, "deezer").starts_with("ok"),
        "{}",
        doctor.shown()
    );
    assert!(!created, "doctor created the database");
    // Other commands run, with a warning naming the misspelt variable.
    assert!(
        status
            .stderr
            .contains("DATABSE_URL (.env, line 1) is not a setting"),
        "{}",
        status.shown()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_fails_doctor_without_showing_its_password() {
    let fake = FakeUpstream::start(World::new(), SpotifyMode::Development).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = fake_env(&fake, false);
    env.push((
        "DATABASE_URL".into(),
        "mysql://artistbot_sync:s3cr3t-Pa55@127.0.0.1:1/artistbot".into(),
    ));

    let doctor = artistbot(dir.path(), &["doctor"], env);

    assert_eq!(doctor.code, Some(1), "{}", doctor.shown());
    let line = check_line(&doctor, "database");
    assert!(line.starts_with("FAIL"), "{line}");
    assert!(line.contains("cannot connect"), "{line}");
    assert!(line.contains("fix: check DATABASE_URL"), "{line}");
    assert!(line.contains("artistbot_sync:***@127.0.0.1:1"), "{line}");
    assert!(check_line(&doctor, "schema").starts_with("skip"));
    assert!(
        !doctor.shown().contains("s3cr3t-Pa55"),
        "{}",
        doctor.shown()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spotify_secret_the_app_does_not_have_fails_doctor_without_echoing_it() {
    let fake = FakeUpstream::start(World::new(), SpotifyMode::Development).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = fake_env(&fake, false);
    env.push(("SPOTIFY_CLIENT_ID".into(), CLIENT_ID.into()));
    env.push((
        "SPOTIFY_CLIENT_SECRET".into(),
        "not-the-apps-secret-42".into(),
    ));

    let doctor = artistbot(dir.path(), &["doctor"], env);

    assert_eq!(doctor.code, Some(1), "{}", doctor.shown());
    let line = check_line(&doctor, "spotify app");
    assert!(line.starts_with("FAIL"), "{line}");
    assert!(line.contains("refused the app's credentials"), "{line}");
    assert!(line.contains("invalid_client"), "{line}");
    assert!(
        line.contains("fix: copy the Client ID and Client secret"),
        "{line}"
    );
    assert!(
        !doctor.shown().contains("not-the-apps-secret"),
        "{}",
        doctor.shown()
    );
    assert_eq!(
        fake.spotify_api_calls(),
        0,
        "doctor spends no Web API call of the quota"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_endpoint_open_to_the_network_without_its_secret_fails_doctor() {
    let fake = FakeUpstream::start(World::new(), SpotifyMode::Development).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = fake_env(&fake, false);
    env.push(("BIND_ADDR".into(), "0.0.0.0:8080".into()));
    env.push(("SKILL_PREVIEW".into(), "true".into()));

    let open = artistbot(dir.path(), &["doctor"], env.clone());
    env.push(("SKILL_SECRET".into(), "tiny-s3cret".into()));
    env.push(("SKILL_BOT_IDS".into(), "64a0f1e2d3c4b5a697887766".into()));
    let guarded = artistbot(dir.path(), &["doctor"], env);

    assert_eq!(open.code, Some(1), "{}", open.shown());
    let line = check_line(&open, "skill endpoint");
    assert!(line.starts_with("FAIL"), "{line}");
    assert!(
        line.contains("without SKILL_SECRET and SKILL_BOT_IDS"),
        "{line}"
    );
    assert!(check_line(&open, "chat preview").starts_with("WARN"));
    assert_eq!(
        guarded.code,
        Some(0),
        "warnings do not fail: {}",
        guarded.shown()
    );
    assert!(check_line(&guarded, "skill endpoint").starts_with("ok"));
    assert!(
        check_line(&guarded, "skill secret").contains("only 11 characters"),
        "{}",
        guarded.shown()
    );
    assert!(
        !guarded.shown().contains("tiny-s3cret"),
        "{}",
        guarded.shown()
    );
}

db_test!(
    async fn a_working_setup_passes_every_check(db: TestDb) {
        let backend = db.backend;
        let mut world = World::new();
        let ive = world.add_artist(1, "IVE", Some(101), 4);
        let h = SyncHarness::new(db, world, SpotifyMode::Development).await;
        h.seed(&[&ive]).await;
        h.sync().await;
        let dir = tempfile::tempdir().unwrap();

        let doctor = artistbot(dir.path(), &["doctor"], h.env.clone());

        assert_eq!(doctor.code, Some(0), "{}", doctor.shown());
        assert!(
            doctor.stdout.trim_end().ends_with("checks passed"),
            "{}",
            doctor.shown()
        );
        assert!(check_line(&doctor, "schema").starts_with("ok    schema          up to date"));
        assert!(
            check_line(&doctor, "mode").contains("Spotify Development Mode"),
            "{}",
            doctor.shown()
        );
        assert!(
            check_line(&doctor, "mode").contains("top_tracks refused"),
            "{}",
            doctor.shown()
        );
        assert!(check_line(&doctor, "quota").starts_with("ok    quota           not blocked;"));
        assert!(check_line(&doctor, "spotify app").starts_with("ok"));
        assert!(check_line(&doctor, "schedule").contains("in Asia/Seoul"));
        let grants = check_line(&doctor, "grants");
        match backend {
            testkit::db::Backend::Sqlite => assert!(grants.starts_with("skip"), "{grants}"),
            // The test server's root account.
            testkit::db::Backend::Mysql => {
                assert!(grants.contains("an administrator"), "{grants}")
            }
        }
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_tells_the_skill_account_from_the_sync_account_and_names_missing_grants() {
    crate::support::init_logs();
    let Some(db) = testkit::db::TestDb::mysql().await else {
        return;
    };
    let fake = FakeUpstream::start(World::new(), SpotifyMode::Development).await;
    crate::support::migrated_store(&db).await;
    let (server, database) = db.mysql_parts().expect("a MySQL test database");
    let suffix: String = database
        .chars()
        .rev()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    let (skill_user, sync_user, bare_user) = (
        format!("abdsk_{suffix}"),
        format!("abdsy_{suffix}"),
        format!("abdbr_{suffix}"),
    );
    let password = format!("pw-{}", fastrand::u64(..));
    let _cleanup = testkit::db::DropUsers {
        server: server.to_owned(),
        users: vec![skill_user.clone(), sync_user.clone(), bare_user.clone()],
    };
    let admin = Database::connect(server).await.unwrap();
    let render = |file: &str, role: &str, user: &str| {
        testkit::deploy_sql::render(
            &file.replace(&format!("'artistbot_{role}'"), &format!("'{user}'")),
            &[
                ("DATABASE", database),
                ("SKILL_HOST", "%"),
                ("SKILL_PASSWORD", &password),
                ("SKILL_TLS", "NONE"),
                ("SYNC_HOST", "%"),
                ("SYNC_PASSWORD", &password),
                ("SYNC_TLS", "NONE"),
            ],
        )
    };
    let mut statements = render(
        include_str!("../../deploy/mysql/grants.sql"),
        "skill",
        &skill_user,
    );
    statements.extend(render(
        include_str!("../../deploy/mysql/sync-grants.sql"),
        "sync",
        &sync_user,
    ));
    statements.push(format!(
        "CREATE USER '{bare_user}'@'%' IDENTIFIED BY '{password}'"
    ));
    statements.push(format!(
        "GRANT SELECT ON `{database}`.`artists` TO '{bare_user}'@'%'"
    ));
    for statement in statements {
        admin
            .execute_unprepared(&statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    admin.close().await.unwrap();
    let host = server
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@').map(|(_, host)| host).or(Some(rest)))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let doctor_as = |user: &str| {
        let mut env = fake_env(&fake, false);
        env.push((
            "DATABASE_URL".into(),
            format!("mysql://{user}:{password}@{host}/{database}"),
        ));
        artistbot(dir.path(), &["doctor"], env)
    };

    let skill = doctor_as(&skill_user);
    let sync = doctor_as(&sync_user);
    let bare = doctor_as(&bare_user);

    assert_eq!(skill.code, Some(0), "{}", skill.shown());
    let line = check_line(&skill, "grants");
    assert!(line.contains("has what the skill account needs"), "{line}");
    assert!(line.contains("not for sync"), "{line}");
    assert!(
        check_line(&skill, "schema").starts_with("skip"),
        "the skill account may not read the migrations table: {}",
        skill.shown()
    );
    assert_eq!(sync.code, Some(0), "{}", sync.shown());
    assert!(check_line(&sync, "grants").contains("has what the sync account needs"));
    assert!(check_line(&sync, "schema").starts_with("ok"));
    assert_eq!(bare.code, Some(1), "{}", bare.shown());
    let line = check_line(&bare, "grants");
    assert!(line.starts_with("FAIL"), "{line}");
    assert!(line.contains("INSERT, UPDATE on artists"), "{line}");
    assert!(line.contains("SELECT on top_tracks"), "{line}");
    assert!(
        line.contains("fix: as the admin, apply deploy/mysql/sync-grants.sql"),
        "{line}"
    );
    for run in [&skill, &sync, &bare] {
        assert!(!run.shown().contains(&password), "{}", run.shown());
    }
}
