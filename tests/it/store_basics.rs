//! The store on its own: schema, aliases, requests.

use artistbot::catalog::{AddedVia, ArtistProfile, NewArtist, Source};
use artistbot::store;

use crate::support::migrated_store;

fn new_artist(id: &str, name: &str) -> NewArtist {
    NewArtist {
        profile: ArtistProfile {
            id: id.into(),
            name: name.into(),
            followers: None,
            popularity: None,
            url: None,
            image_url: None,
            genres: Vec::new(),
        },
        source: Source::Spotify,
        deezer_id: None,
        deezer_fans: None,
        added_via: AddedVia::Cli,
    }
}

db_test!(
    async fn migrations_apply_twice_without_harm(db: TestDb) {
        let store = migrated_store(&db).await;
        store.migrate().await.expect("a second migrate is a no-op");
        let (applied, pending) = store.migration_status().await.unwrap();
        assert!(pending.is_empty());
        assert_eq!(applied.len(), 9);
    }
);

db_test!(
    async fn ids_are_case_sensitive_and_emoji_names_stay_distinct(db: TestDb) {
        let store = migrated_store(&db).await;
        let now = store::now();
        let added = store
            .add_artists(
                &[
                    new_artist("6RHTUrRF63xao58xh9FXYJ", "🌈"),
                    new_artist("6rhturrf63xao58xh9fxyj", "🔥"),
                ],
                now,
            )
            .await
            .unwrap();
        assert_eq!(added, 2, "ids differing only in case are different artists");
        let rainbow = store
            .artists_named(&artistbot::names::name_key("🌈"))
            .await
            .unwrap();
        assert_eq!(rainbow.len(), 1);
        assert_eq!(rainbow[0].id, "6RHTUrRF63xao58xh9FXYJ");
    }
);

db_test!(
    async fn two_thousand_artists_are_added_in_one_call(db: TestDb) {
        // More rows than one multi-row INSERT may bind on SQLite (32,766 variables).
        let store = migrated_store(&db).await;
        let many: Vec<NewArtist> = (0..2000)
            .map(|n| new_artist(&format!("bulk{n:018}"), &format!("Bulk Artist {n}")))
            .collect();
        let added = store.add_artists(&many, store::now()).await.unwrap();
        assert_eq!(added, 2000);
        assert_eq!(store.artist_count().await.unwrap(), 2000);
        let again = store.add_artists(&many, store::now()).await.unwrap();
        assert_eq!(again, 0, "artists already present are left alone");
    }
);

db_test!(
    async fn an_alias_leads_to_its_artist_and_is_never_reassigned(db: TestDb) {
        let store = migrated_store(&db).await;
        let now = store::now();
        store
            .add_artists(
                &[new_artist("a1", "OH MY GIRL"), new_artist("a2", "IVE")],
                now,
            )
            .await
            .unwrap();
        assert!(store.add_alias("오마이걸", "a1", "cli", now).await.unwrap());
        assert!(
            !store
                .add_alias("오마이 걸", "a2", "cli", now)
                .await
                .unwrap()
        );
        let found = store.artists_named("오마이걸").await.unwrap();
        assert_eq!(found[0].id, "a1");
    }
);

db_test!(
    async fn repeated_requests_for_one_name_make_one_row(db: TestDb) {
        let store = migrated_store(&db).await;
        let now = store::now();
        assert!(store.record_request("아이브", now).await.unwrap());
        assert!(store.record_request(" 아이 브 ", now).await.unwrap());
        assert!(!store.record_request("   ", now).await.unwrap());
        let requests = store.pending_requests_for_test().await.unwrap();
        assert_eq!(requests, vec![("아이브".to_owned(), 2)]);
    }
);
