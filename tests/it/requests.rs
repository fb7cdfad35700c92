//! The request queue one user cannot flood: the per-user limit, the cap on open
//! requests, distinct users counted once, the order by demand, retention, clean names
//! and counts made by the database, on SQLite and MySQL.

use std::time::Duration;

use artistbot::config::RequestLimits;
use artistbot::skill::{self, SkillService};
use artistbot::store::requests::{AskRecorded, RequestCounts, RequestStatus, RequesterKey};
use artistbot::store::{self, Store};
use chrono::NaiveDateTime;
use testkit::fake::World;

use crate::skill::fixtures::{ask_as, first_text, skill_settings};
use crate::support::{SyncHarness, migrated_store};

fn user(id: &str) -> RequesterKey {
    RequesterKey::of_user(Some(id))
}

fn limits(per_user: u32, max_pending: u64) -> RequestLimits {
    RequestLimits {
        per_user,
        max_pending,
        ..RequestLimits::DEFAULT
    }
}

fn minutes_ago(now: NaiveDateTime, minutes: i64) -> NaiveDateTime {
    now - chrono::Duration::minutes(minutes)
}

async fn queries_due(store: &Store) -> Vec<String> {
    store
        .due_requests(store::now(), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.query)
        .collect()
}

db_test!(
    async fn one_user_flooding_names_hits_the_limit_and_a_name_others_want_is_onboarded_first(
        db: TestDb,
    ) {
        let mut world = World::new();
        world.add_artist(5, "STAYC", Some(105), 2);
        let h = SyncHarness::without_spotify(db, world, &[("QUEUE_BATCH", "1")]).await;
        let service = SkillService::new(
            h.store.clone(),
            skill_settings(&[("REQUESTS_PER_USER_PER_DAY", "5")]),
        );
        let router = skill::router(service.clone());

        // One user sends 200 distinct unknown names.
        for i in 0..200 {
            let answer = ask_as(&router, &format!("Junk Band {i}"), "flooder").await;
            assert_eq!(answer.status, 200);
            assert!(
                first_text(&answer.json).contains(&format!("Junk Band {i}")),
                "every miss gets its normal reply: {}",
                answer.json
            );
        }
        // Asking again for one of theirs only counts the ask.
        ask_as(&router, "Junk Band 0", "flooder").await;
        // Two other users ask for a real name, after all that.
        ask_as(&router, "STAYC", "fan-1").await;
        ask_as(&router, "stayc", "fan-2").await;
        ask_as(&router, "STAYC", "fan-2").await;

        let requests = h.store.pending_requests_for_test().await.unwrap();
        assert_eq!(requests.len(), 6, "5 of the flood and STAYC: {requests:?}");
        assert!(requests.contains(&("Junk Band 0".to_owned(), 2)));
        assert!(!requests.iter().any(|(q, _)| q == "Junk Band 5"));
        let wanted = h.store.request("STAYC").await.unwrap().unwrap();
        assert_eq!((wanted.users_asked, wanted.times_asked), (2, 3));
        let metrics = service.metrics();
        assert_eq!(metrics.asks("user_limit"), 195);
        assert_eq!(metrics.asks("new_request"), 6);
        assert_eq!(metrics.asks("new_asker"), 1);
        assert_eq!(metrics.asks("asked_again"), 2);

        // The queue's first batch (one name) onboards the name two users want.
        let batch = h.onboard_requests().await;
        assert_eq!(batch.added, vec!["dz:105".to_owned()], "{batch:?}");
        let done = h.store.request("STAYC").await.unwrap().unwrap();
        assert_eq!(done.status, RequestStatus::Done);
        for i in 0..5 {
            let junk = h
                .store
                .request(&format!("Junk Band {i}"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!((junk.status, junk.attempts), (RequestStatus::Pending, 0));
        }
    }
);

db_test!(
    async fn due_requests_run_by_distinct_users_then_age_and_repeats_do_not_count(db: TestDb) {
        let store = migrated_store(&db).await;
        let now = store::now();
        let unlimited = limits(100, 100);
        let ask = |query: &'static str, who: &'static str, minutes: i64| {
            let store = store.clone();
            async move {
                store
                    .record_request_from(
                        query,
                        Some(&user(who)),
                        &unlimited,
                        minutes_ago(now, minutes),
                    )
                    .await
                    .unwrap()
            }
        };
        assert_eq!(ask("Oldest Single", "a", 50).await, AskRecorded::NewRequest);
        assert_eq!(ask("Popular Old", "a", 40).await, AskRecorded::NewRequest);
        assert_eq!(ask("Popular New", "b", 30).await, AskRecorded::NewRequest);
        assert_eq!(ask("Newest Single", "c", 20).await, AskRecorded::NewRequest);
        for who in ["b", "c"] {
            assert_eq!(ask("Popular Old", who, 10).await, AskRecorded::NewAsker);
        }
        for who in ["a", "c"] {
            ask("Popular New", who, 10).await;
        }
        // One user asking for a name many times is one user.
        for _ in 0..10 {
            assert_eq!(ask("Newest Single", "c", 5).await, AskRecorded::AskedAgain);
        }

        assert_eq!(
            queries_due(&store).await,
            [
                "Popular Old",
                "Popular New",
                "Oldest Single",
                "Newest Single"
            ]
        );
        let newest = store.request("Newest Single").await.unwrap().unwrap();
        assert_eq!((newest.users_asked, newest.times_asked), (1, 11));
        let popular = store.request("Popular Old").await.unwrap().unwrap();
        assert_eq!((popular.users_asked, popular.times_asked), (3, 3));
    }
);

db_test!(
    async fn the_cap_on_open_requests_stops_new_names_but_still_counts_queued_ones(db: TestDb) {
        let store = migrated_store(&db).await;
        let now = store::now();
        let capped = limits(100, 3);
        let ask = |query: &'static str, who: &'static str| {
            let store = store.clone();
            async move {
                store
                    .record_request_from(query, Some(&user(who)), &capped, now)
                    .await
                    .unwrap()
            }
        };
        for (i, name) in ["One", "Two", "Three"].into_iter().enumerate() {
            assert_eq!(ask(name, ["a", "b", "c"][i]).await, AskRecorded::NewRequest);
        }

        assert_eq!(ask("Four", "d").await, AskRecorded::QueueFull);
        assert_eq!(
            ask("One", "d").await,
            AskRecorded::NewAsker,
            "queued names still count"
        );
        assert_eq!(store.request("Four").await.unwrap(), None);
        assert_eq!(store.request("One").await.unwrap().unwrap().users_asked, 2);
        // A request waiting for its retry is still open; one given up or done is not.
        let later = now + chrono::Duration::hours(1);
        store
            .miss_request(
                &store.request("Two").await.unwrap().unwrap().query_key,
                RequestStatus::NotFound,
                1,
                Some(later),
                None,
            )
            .await
            .unwrap();
        assert_eq!(ask("Four", "d").await, AskRecorded::QueueFull);
        store
            .miss_request(
                &store.request("Two").await.unwrap().unwrap().query_key,
                RequestStatus::NotFound,
                5,
                None,
                None,
            )
            .await
            .unwrap();
        assert_eq!(ask("Four", "d").await, AskRecorded::NewRequest);
        assert_eq!(ask("Five", "e").await, AskRecorded::QueueFull);
    }
);

db_test!(
    async fn the_skill_answers_past_the_cap_and_counts_what_it_did_not_record(db: TestDb) {
        let store = migrated_store(&db).await;
        let service = SkillService::new(
            store.clone(),
            skill_settings(&[("REQUESTS_MAX_PENDING", "2")]),
        );
        let router = skill::router(service.clone());

        for (i, name) in ["First Name", "Second Name", "Third Name"]
            .iter()
            .enumerate()
        {
            let answer = ask_as(&router, name, &format!("user-{i}")).await;
            assert_eq!(answer.status, 200);
            assert!(first_text(&answer.json).contains(name), "{}", answer.json);
        }

        assert_eq!(store.pending_requests_for_test().await.unwrap().len(), 2);
        assert_eq!(service.metrics().asks("queue_full"), 1);
    }
);

db_test!(
    async fn retention_deletes_old_finished_and_unasked_requests_and_keeps_the_rest(db: TestDb) {
        let h =
            SyncHarness::without_spotify(db, World::new(), &[("REQUEST_MAX_ATTEMPTS", "1")]).await;
        let store = &h.store;
        let now = store::now();
        let old = now - chrono::Duration::days(40);
        let recent = now - chrono::Duration::days(1);
        let open = limits(100, 100);
        let ask = |query: &'static str, who: &'static str, at: NaiveDateTime| {
            let store = store.clone();
            async move {
                store
                    .record_request_from(query, Some(&user(who)), &open, at)
                    .await
                    .unwrap()
            }
        };
        // Given up long ago: tried once (REQUEST_MAX_ATTEMPTS=1) and not found.
        ask("Old Given Up", "a", old).await;
        let batch = h.onboard_requests().await;
        assert_eq!(batch.handled, ["not_found"]);
        // Done long ago, and done lately after being asked long ago.
        for name in ["Old Done", "Lately Done"] {
            ask(name, "a", old).await;
        }
        let key = |name: &'static str| async move {
            store.request(name).await.unwrap().unwrap().query_key
        };
        store
            .resolve_request(&key("Old Done").await, "dz:1", 1, old)
            .await
            .unwrap();
        store
            .resolve_request(&key("Lately Done").await, "dz:1", 1, recent)
            .await
            .unwrap();
        // Pending: nobody asked for one in 40 days; the other was asked for again.
        ask("Old Unasked", "a", old).await;
        ask("Old But Wanted", "a", old).await;
        ask("Old But Wanted", "b", recent).await;
        ask("Recent", "b", recent).await;

        let deleted = store
            .delete_expired_requests(Duration::from_secs(30 * 24 * 3600), now)
            .await
            .unwrap();

        assert_eq!(deleted, 3);
        for gone in ["Old Given Up", "Old Done", "Old Unasked"] {
            assert_eq!(store.request(gone).await.unwrap(), None, "{gone}");
        }
        for kept in ["Lately Done", "Old But Wanted", "Recent"] {
            assert!(store.request(kept).await.unwrap().is_some(), "{kept}");
        }
        // Who asked went with them: the same user asking again is a new request, with
        // that user counted once.
        assert_eq!(ask("Old Given Up", "a", now).await, AskRecorded::NewRequest);
        assert_eq!(
            store
                .request("Old Given Up")
                .await
                .unwrap()
                .unwrap()
                .users_asked,
            1
        );
        // Nothing more to delete.
        assert_eq!(
            store
                .delete_expired_requests(Duration::from_secs(30 * 24 * 3600), now)
                .await
                .unwrap(),
            0
        );
    }
);

db_test!(
    async fn a_name_with_bidi_zero_width_and_control_characters_is_stored_and_echoed_clean(
        db: TestDb,
    ) {
        let store = migrated_store(&db).await;
        let router = skill::router(SkillService::new(store.clone(), skill_settings(&[])));

        let answer = ask_as(
            &router,
            "\u{202E}\u{2066}Lonely\u{200B} \u{7}Band\u{1b}\u{2069}\u{FEFF}",
            "u",
        )
        .await;
        let invisible = ask_as(&router, "\u{200B}\u{202E}\u{2069}\u{0}", "u").await;

        let text = first_text(&answer.json);
        assert!(text.contains("Lonely Band"), "{text}");
        for hidden in [
            '\u{202E}', '\u{2066}', '\u{200B}', '\u{7}', '\u{1b}', '\u{FEFF}',
        ] {
            assert!(
                !answer.json.to_string().contains(hidden),
                "{hidden:?} echoed"
            );
        }
        assert!(
            first_text(&invisible.json).contains("어떤 아티스트가 궁금하세요?"),
            "{}",
            invisible.json
        );
        assert_eq!(
            store.pending_requests_for_test().await.unwrap(),
            [("Lonely Band".to_owned(), 1)]
        );
        assert_eq!(
            store
                .record_request_from(
                    "\u{200B}\u{202A}",
                    Some(&user("u")),
                    &limits(9, 9),
                    store::now()
                )
                .await
                .unwrap(),
            AskRecorded::Blank
        );
    }
);

db_test!(
    async fn request_counts_are_counted_by_state(db: TestDb) {
        let store = migrated_store(&db).await;
        let now = store::now();
        for name in ["P1", "P2", "D1", "NR", "NG1", "NG2", "FR", "FG"] {
            store.record_request(name, now).await.unwrap();
        }
        let key = |name: &'static str| {
            let store = store.clone();
            async move { store.request(name).await.unwrap().unwrap().query_key }
        };
        let later = now + chrono::Duration::hours(1);
        let earlier = now - chrono::Duration::hours(1);
        store
            .resolve_request(&key("D1").await, "dz:1", 1, now)
            .await
            .unwrap();
        for (name, status, retry) in [
            ("NR", RequestStatus::NotFound, Some(later)),
            ("NG1", RequestStatus::NotFound, None),
            ("NG2", RequestStatus::NotFound, None),
            ("FR", RequestStatus::Failed, Some(earlier)),
            ("FG", RequestStatus::Failed, None),
        ] {
            store
                .miss_request(&key(name).await, status, 1, retry, Some("test"))
                .await
                .unwrap();
        }

        let counts = store.request_counts(now).await.unwrap();

        assert_eq!(
            counts,
            RequestCounts {
                pending: 2,
                due_now: 3,
                not_found_retrying: 1,
                not_found_given_up: 2,
                failed_retrying: 1,
                failed_given_up: 1,
                done: 1,
            }
        );
    }
);

db_test!(
    async fn a_tapped_suggestion_makes_the_asked_spelling_an_alias_through_the_queue(db: TestDb) {
        let mut world = World::new();
        world.add_artist(7, "OH MY GIRL", Some(107), 2);
        let h = SyncHarness::without_spotify(db, world, &[]).await;
        h.add(&["OH MY GIRL"]).await;
        let router = skill::router(SkillService::new(h.store.clone(), skill_settings(&[])));

        let miss = ask_as(&router, "OH MY GRL", "fan").await;
        let chip = miss.json["template"]["quickReplies"]
            .as_array()
            .and_then(|chips| chips.iter().find(|c| c["messageText"] == "OH MY GIRL"))
            .unwrap_or_else(|| panic!("a suggestion chip: {}", miss.json))
            .clone();
        assert_eq!(chip["extra"]["asked"], "OH MY GRL", "{chip}");
        let tap = |user: &str| {
            let mut request = crate::skill::fixtures::kakao_request("OH MY GIRL");
            request["userRequest"]["user"]["id"] = serde_json::json!(user);
            request["action"]["clientExtra"] = chip["extra"].clone();
            request
        };
        // Someone who never asked for the spelling cannot vouch for it.
        crate::skill::fixtures::post(&router, &tap("stranger")).await;
        assert_eq!(
            h.store
                .request("OH MY GRL")
                .await
                .unwrap()
                .unwrap()
                .tapped_artist_id,
            None
        );
        let tapped = crate::skill::fixtures::post(&router, &tap("fan")).await;
        assert_eq!(
            tapped.json["template"]["outputs"][0]["basicCard"]["title"],
            "OH MY GIRL"
        );
        assert_eq!(
            h.store
                .request("OH MY GRL")
                .await
                .unwrap()
                .unwrap()
                .tapped_artist_id
                .as_deref(),
            Some("dz:107")
        );

        let batch = h.onboard_requests().await;

        assert_eq!(batch.handled, ["tapped"], "{batch:?}");
        let done = h.store.request("OH MY GRL").await.unwrap().unwrap();
        assert_eq!(
            (done.status, done.artist_id.as_deref()),
            (RequestStatus::Done, Some("dz:107"))
        );
        let again = ask_as(&router, "oh my grl", "someone").await;
        assert_eq!(
            again.json["template"]["outputs"][0]["basicCard"]["title"], "OH MY GIRL",
            "the spelling is an alias now: {}",
            again.json
        );
    }
);

db_test!(
    async fn a_spelling_deezer_alone_guesses_is_offered_first_and_a_tap_makes_it_an_alias(
        db: TestDb,
    ) {
        let mut world = World::new();
        let omg = world.add_artist(41, "OH MY GIRL", Some(4001), 3);
        world.alias_on_both("오마이걸", &omg);
        let h = SyncHarness::without_spotify(db, world, &[]).await;
        h.add(&["OH MY GIRL"]).await;
        let service = || SkillService::new(h.store.clone(), skill_settings(&[]));

        // A fan asks for the Hangul spelling; Deezer alone is no proof, so the daemon keeps
        // its best hit only as the request's candidate.
        let first = ask_as(&skill::router(service()), "오마이걸", "fan").await;
        assert_ne!(
            first.json["template"]["outputs"][0]["basicCard"]["title"], "OH MY GIRL",
            "{}",
            first.json
        );
        let batch = h.onboard_requests().await;
        assert_eq!(batch.not_found, 1, "{batch:?}");
        assert!(h.store.artists_named("오마이걸").await.unwrap().is_empty());

        // Asked again (names freshly loaded), the candidate is the first chip, and the
        // fan's tap on it is the evidence.
        let router = skill::router(service());
        let again = ask_as(&router, "오마이걸", "fan").await;
        let chip = again.json["template"]["quickReplies"][0].clone();
        assert_eq!(chip["messageText"], "OH MY GIRL", "{}", again.json);
        assert_eq!(chip["extra"]["asked"], "오마이걸", "{chip}");
        let mut tap = crate::skill::fixtures::kakao_request("OH MY GIRL");
        tap["userRequest"]["user"]["id"] = serde_json::json!("fan");
        tap["action"]["clientExtra"] = chip["extra"].clone();
        crate::skill::fixtures::post(&router, &tap).await;

        let batch = h.onboard_requests().await;

        assert_eq!(batch.handled, ["tapped"], "{batch:?}");
        let found = h.store.artists_named("오마이걸").await.unwrap();
        assert_eq!(found[0].id, "dz:4001", "an alias now");
        let known = ask_as(&skill::router(service()), "오마이걸", "someone").await;
        assert_eq!(
            known.json["template"]["outputs"][0]["basicCard"]["title"], "OH MY GIRL",
            "{}",
            known.json
        );
    }
);
