//! `deploy/mysql/grants.sql` on MariaDB: a user with exactly those grants gets replies
//! and records misses within the request limits (who asked, how many names a user added,
//! how many requests are open), and cannot write the catalog nor change a request beyond
//! counting it again.

use artistbot::config::DatabaseUrl;
use artistbot::skill::{self, SkillService};
use artistbot::store::{PoolOptions, Store};
use axum::http::StatusCode;
use sea_orm::{ConnectionTrait, Database};

use super::fixtures::{ask, ask_as, seed_catalog, skill_settings};
use crate::support::migrated_store;

const GRANTS: &str = include_str!("../../../deploy/mysql/grants.sql");

/// The file's statements with its placeholders (and the user name) substituted, as the
/// README's `render` does; any host, no TLS (the test server has none).
fn grant_statements(database: &str, user: &str, password: &str) -> Vec<String> {
    testkit::deploy_sql::render(
        &GRANTS.replace("'artistbot_skill'", &format!("'{user}'")),
        &[
            ("DATABASE", database),
            ("SKILL_HOST", "%"),
            ("SKILL_PASSWORD", password),
            ("SKILL_TLS", "NONE"),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_skill_user_reads_and_records_misses_but_cannot_write_the_catalog() {
    crate::support::init_logs();
    let Some(db) = testkit::db::TestDb::mysql().await else {
        return;
    };
    let store = migrated_store(&db).await;
    seed_catalog(&store).await;
    let (server, database) = db.mysql_parts().expect("a MySQL test database");
    // Unique per test database, so parallel runs never share a user.
    let user = format!("abskill_{}", &database[database.len().saturating_sub(20)..])
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(32)
        .collect::<String>();
    let password = format!("pw-{}", fastrand::u64(..));
    let _cleanup = testkit::db::DropUsers {
        server: server.to_owned(),
        users: vec![user.clone()],
    };
    let admin = Database::connect(server).await.unwrap();
    for statement in grant_statements(database, &user, &password) {
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
    let url = format!("mysql://{user}:{password}@{host}/{database}");
    let skill_store = Store::connect(
        &DatabaseUrl::new(url.clone()),
        PoolOptions {
            lazy: true,
            ..PoolOptions::default()
        },
    )
    .await
    .unwrap();
    let service = SkillService::new(
        skill_store,
        skill_settings(&[
            ("REQUESTS_PER_USER_PER_DAY", "2"),
            ("REQUESTS_MAX_PENDING", "3"),
        ]),
    );
    let router = skill::router(service.clone());

    let hit = ask(&router, "IU").await;
    let alias = ask(&router, "오마이걸").await;
    let miss = ask(&router, "오마이갈").await;
    ask(&router, "오마이갈").await;

    assert_eq!(hit.status, StatusCode::OK);
    assert_eq!(
        hit.json["template"]["outputs"][0]["basicCard"]["title"],
        "IU"
    );
    assert_eq!(
        alias.json["template"]["outputs"][0]["basicCard"]["title"],
        "OH MY GIRL"
    );
    assert!(
        miss.json["template"]["outputs"][0]["simpleText"]["text"]
            .as_str()
            .unwrap()
            .contains("찾아보고 있어요"),
        "{}",
        miss.json
    );
    assert_eq!(
        store.pending_requests_for_test().await.unwrap(),
        [("오마이갈".to_owned(), 2)],
        "the miss was recorded, and counted again, through the skill user"
    );

    // Every write of the limits goes through the skill user: a second user counted on
    // the request, a user held to REQUESTS_PER_USER_PER_DAY, the open requests counted
    // against REQUESTS_MAX_PENDING.
    ask_as(&router, "오마이갈", "second-user").await;
    ask_as(&router, "Band One", "second-user").await;
    ask_as(&router, "Band Two", "second-user").await;
    ask_as(&router, "Band Three", "third-user").await;
    ask_as(&router, "Band Four", "fourth-user").await;
    let asked = store.request("오마이갈").await.unwrap().unwrap();
    assert_eq!((asked.users_asked, asked.times_asked), (2, 3));
    assert!(store.request("Band One").await.unwrap().is_some());
    assert_eq!(store.request("Band Two").await.unwrap(), None, "user limit");
    assert!(store.request("Band Three").await.unwrap().is_some());
    assert_eq!(
        store.request("Band Four").await.unwrap(),
        None,
        "queue full"
    );
    let metrics = service.metrics();
    assert_eq!(
        (metrics.asks("user_limit"), metrics.asks("queue_full")),
        (1, 1)
    );
    // A tap on a suggestion, by a user who asked for the spelling, is recorded too.
    let mut tap = super::fixtures::kakao_request("IU");
    tap["userRequest"]["user"]["id"] = serde_json::json!("second-user");
    tap["action"]["clientExtra"] = serde_json::json!({"asked": "오마이갈"});
    super::fixtures::post(&router, &tap).await;
    assert!(
        store
            .request("오마이갈")
            .await
            .unwrap()
            .unwrap()
            .tapped_artist_id
            .is_some()
    );

    let skill_user = Database::connect(url.as_str()).await.unwrap();
    for write in [
        "INSERT INTO artists (id, name, name_key, source, added_via, created_at) \
         VALUES ('x', 'x', 'x', 'spotify', 'cli', '2026-01-01 00:00:00')",
        "UPDATE artists SET name = 'hacked'",
        "DELETE FROM top_tracks",
        "INSERT INTO artist_aliases (alias_key, artist_id, alias, source, created_at) \
         VALUES ('x', 'x', 'x', 'cli', '2026-01-01 00:00:00')",
        "DELETE FROM artist_requests",
        "UPDATE artist_requests SET status = 'done'",
        "UPDATE artist_requests SET query = 'x', artist_id = 'x'",
        "UPDATE artist_requests SET attempts = 0, next_attempt_at = NULL",
        "SELECT query FROM artist_requests",
        "UPDATE artist_requests SET users_asked = 100, status = 'pending'",
        "UPDATE artist_requests SET tapped_artist_id = 'x', artist_id = 'x'",
        "UPDATE artist_request_users SET asked_at = '2020-01-01 00:00:00'",
        "DELETE FROM artist_request_users",
        "SELECT COUNT(*) FROM sync_runs",
    ] {
        let error = skill_user
            .execute_unprepared(write)
            .await
            .expect_err(write)
            .to_string();
        assert!(
            error.contains("denied"),
            "{write}: expected a permission error, got {error}"
        );
    }
    skill_user.close().await.unwrap();
}
