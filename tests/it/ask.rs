//! `artistbot ask` through the real binary: the skill's exact reply on a terminal and as
//! JSON, recording nothing, and never answering from a catalog that is not there.

use crate::binary::{NO_ENV, artistbot};
use crate::skill::fixtures::{ask, router, seed_catalog};
use crate::support::migrated_store;

db_test!(
    async fn ask_shows_the_card_each_list_with_albums_and_the_quick_replies(db: TestDb) {
        let store = migrated_store(&db).await;
        seed_catalog(&store).await;
        let dir = tempfile::tempdir().unwrap();

        let run = artistbot(
            dir.path(),
            &["ask", "IU"],
            [("DATABASE_URL", db.url.as_str())],
        );

        assert_eq!(run.code, Some(0), "{}", run.shown());
        let shown = &run.stdout;
        for expected in [
            "[basicCard] IU\n  팔로워 9,876,543명 · Deezer 팬 123,456명 · k-pop, k-ballad\n",
            "  button  Spotify에서 보기 → https://open.spotify.example/artist/iu\n",
            "[carousel of 4 listCards]\n[listCard] IU\n  1. Love wins all — Love wins all\n  2. 밤편지 — Palette\n  3. 좋은 날 — REAL\n",
            "[listCard] 태연\n  1. INVU — INVU\n  2. 그대라는 시 — 호텔 델루나 OST\n",
            "[listCard] 볼빨간사춘기\n  1. 우주를 줄게\n",
            "[quickReplies] 태연 | 볼빨간사춘기 | AKMU\n",
        ] {
            assert!(shown.contains(expected), "missing {expected:?} in\n{shown}");
        }

        let several_words = artistbot(
            dir.path(),
            &["ask", "OH", "MY", "GIRL"],
            [("DATABASE_URL", db.url.as_str())],
        );
        assert!(
            several_words.stdout.starts_with("[basicCard] OH MY GIRL\n"),
            "{}",
            several_words.shown()
        );
    }
);

db_test!(
    async fn ask_json_is_exactly_the_reply_of_the_skill_endpoint(db: TestDb) {
        let store = migrated_store(&db).await;
        seed_catalog(&store).await;
        let dir = tempfile::tempdir().unwrap();

        for utterance in ["IU", "오마이걸", "nell", "Radiohead"] {
            let run = artistbot(
                dir.path(),
                &["ask", "--json", utterance],
                [("DATABASE_URL", db.url.as_str())],
            );
            assert_eq!(run.code, Some(0), "{}", run.shown());
            let printed: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");

            let served = ask(&router(&store), utterance).await;

            assert_eq!(printed, served.json, "{utterance}");
        }
    }
);

db_test!(
    async fn ask_offers_suggestions_for_an_unknown_name_and_records_nothing(db: TestDb) {
        let store = migrated_store(&db).await;
        seed_catalog(&store).await;
        let dir = tempfile::tempdir().unwrap();

        // Misses are recorded by the skill endpoint (the default), never by `ask`.
        let run = artistbot(
            dir.path(),
            &["ask", "오마이갈"],
            [("DATABASE_URL", db.url.as_str())],
        );

        assert_eq!(run.code, Some(0), "{}", run.shown());
        assert!(run.stdout.starts_with("[simpleText]\n"), "{}", run.shown());
        assert!(run.stdout.contains("혹시 이 아티스트?"), "{}", run.shown());
        assert!(
            run.stdout.contains("[quickReplies] OH MY GIRL\n"),
            "{}",
            run.shown()
        );
        assert!(store.pending_requests_for_test().await.unwrap().is_empty());
    }
);

#[test]
fn ask_without_a_catalog_says_how_to_make_one_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());

    let run = artistbot(dir.path(), &["ask", "IU"], [("DATABASE_URL", url.as_str())]);
    let default = artistbot(dir.path(), &["ask", "IU"], NO_ENV);

    assert_eq!(run.code, Some(1), "{}", run.shown());
    assert!(run.stderr.contains("no catalog at"), "{}", run.shown());
    assert!(run.stderr.contains("`artistbot sync`"), "{}", run.shown());
    assert!(!file.exists(), "ask created the database file");
    assert_eq!(default.code, Some(1), "{}", default.shown());
    assert!(!dir.path().join("artistbot.db").exists());
}
