//! Importing DynamoDB exports into the catalog, on SQLite and MySQL: each format, every
//! rejection with its place, re-imports, dry runs, newer data that stays, the planner's
//! view of imported artists, and the real `artistbot import dynamodb` command.
//!
//! The fixtures are written by the tests: a two-page `aws dynamodb scan` of artists, a
//! gzip export-to-S3 file of top tracks and a plain one of related artists, with Hangul
//! names, numbers stored as strings, an item without id, a line missing a comma and
//! references to artists nobody knows.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use artistbot::catalog::{
    AddedVia, ArtistProfile, ArtistRefresh, NewArtist, RelatedUpdate, Source, TopTrack,
};
use artistbot::import::{
    EventSink, ImportEvent, ImportOptions, ImportReport, Rejection, TableCounts, import_dynamodb,
};
use artistbot::store::{self, Store};
use artistbot::sync::plan::{Ages, Capabilities, plan_refresh};
use chrono::{NaiveDate, NaiveDateTime};
use entity::{artists, related_artists, top_tracks};
use flate2::Compression;
use flate2::write::GzEncoder;
use sea_orm::{Database, DatabaseConnection, EntityTrait, QueryOrder};

use crate::support::migrated_store;

const IU: &str = "3HqSLMAZ3g3d5poNaI7GOU";
const OH_MY_GIRL: &str = "2019zR22qK2RBvCqtudBaI";
const IVE: &str = "6RHTUrRF63xao58xh9FXYJ";
const BIGBANG: &str = "4Kxlr1PRlDKEB0ekOCyHgX";

/// `aws dynamodb scan` output of `artists`, two pages in one file as the CLI prints them
/// when a scan is continued: numbers as `N` and as `S`, genres as `L` and `SS`, an
/// attribute the catalog has no place for, and (page 2, item 2, closing on line 34) an
/// item without id.
const ARTISTS_SCAN: &str = r#"{
    "Items": [
        {
            "id": {"S": "3HqSLMAZ3g3d5poNaI7GOU"},
            "name": {"S": "아이유"},
            "followers": {"N": "9876543"},
            "popularity": {"S": "78"},
            "url": {"S": "https://open.spotify.com/artist/3HqSLMAZ3g3d5poNaI7GOU"},
            "image_url": {"S": "https://i.scdn.co/image/iu-300"},
            "genres": {"L": [{"S": "k-pop"}, {"S": "k-pop ballad"}]}
        },
        {
            "id": {"S": "2019zR22qK2RBvCqtudBaI"},
            "name": {"S": "오마이걸"},
            "followers": {"S": "1234567"},
            "popularity": {"N": "65"},
            "genres": {"SS": ["k-pop", "k-pop girl group"]},
            "type": {"S": "artist"}
        }
    ],
    "Count": 2,
    "ScannedCount": 2,
    "LastEvaluatedKey": {"id": {"S": "2019zR22qK2RBvCqtudBaI"}}
}
{
    "Items": [
        {
            "id": {"S": "6RHTUrRF63xao58xh9FXYJ"},
            "name": {"S": "IVE (아이브)"}
        },
        {
            "name": {"S": "아이디 없는 가수"},
            "followers": {"N": "12"}
        }
    ],
    "Count": 2,
    "ScannedCount": 2
}
"#;

/// Export-to-S3 lines of `top_tracks` (gzipped by the tests): `id` or `track_id`,
/// popularity as `N` or `S`, ranks on two; line 5 misses a comma, line 6 names an artist
/// nobody knows.
const TOP_TRACK_LINES: &str = concat!(
    r#"{"Item":{"artist_id":{"S":"3HqSLMAZ3g3d5poNaI7GOU"},"id":{"S":"4SqWKzw0CbA05TGszDgMlc"},"name":{"S":"밤편지"},"popularity":{"N":"70"},"album_name":{"S":"Palette"}}}"#,
    "\n",
    r#"{"Item":{"artist_id":{"S":"3HqSLMAZ3g3d5poNaI7GOU"},"id":{"S":"0bYg9bo50gSsH3LtXe2SQn"},"name":{"S":"Blueming"},"popularity":{"S":"68"}}}"#,
    "\n",
    r#"{"Item":{"artist_id":{"S":"2019zR22qK2RBvCqtudBaI"},"track_id":{"S":"2x2TqKPJQmW2n2HN3bLDfp"},"name":{"S":"살짝 설렜어"},"rank":{"N":"2"}}}"#,
    "\n",
    r#"{"Item":{"artist_id":{"S":"2019zR22qK2RBvCqtudBaI"},"track_id":{"S":"5mW1cBm5hAh0bDXWfSR3gl"},"name":{"S":"Dun Dun Dance"},"rank":{"S":"1"},"popularity":{"N":"50"}}}"#,
    "\n",
    r#"{"Item":{"artist_id":{"S":"3HqSLMAZ3g3d5poNaI7GOU"},"id":{"S":"7a8TdyWdmQDWSfqmvUmn2x"} "name":{"S":"좋은 날"}}}"#,
    "\n",
    r#"{"Item":{"artist_id":{"S":"0000000000000000000000"},"id":{"S":"1111111111111111111111"},"name":{"S":"누구?"}}}"#,
    "\n",
    r#"{"Item":{"artist_id":{"S":"3HqSLMAZ3g3d5poNaI7GOU"},"id":{"S":"3P3UA61WRQqwCXaoFOTENd"},"name":{"S":"Love wins all"},"popularity":{"N":"75"}}}"#,
    "\n",
);

/// Export-to-S3 lines of `related_artists`: ranks, and the 2020 batch's `y_artist` with
/// distances; line 5 relates to an artist nobody knows.
const RELATED_LINES: &str = concat!(
    r#"{"Item":{"artist_id":{"S":"3HqSLMAZ3g3d5poNaI7GOU"},"related_id":{"S":"2019zR22qK2RBvCqtudBaI"},"rank_rel":{"N":"1"}}}"#,
    "\n",
    r#"{"Item":{"artist_id":{"S":"3HqSLMAZ3g3d5poNaI7GOU"},"related_id":{"S":"6RHTUrRF63xao58xh9FXYJ"},"rank_rel":{"S":"2"}}}"#,
    "\n",
    r#"{"Item":{"artist_id":{"S":"6RHTUrRF63xao58xh9FXYJ"},"y_artist":{"S":"3HqSLMAZ3g3d5poNaI7GOU"},"distance":{"N":"0.42"}}}"#,
    "\n",
    r#"{"Item":{"artist_id":{"S":"6RHTUrRF63xao58xh9FXYJ"},"y_artist":{"S":"2019zR22qK2RBvCqtudBaI"},"distance":{"N":"0.17"}}}"#,
    "\n",
    r#"{"Item":{"artist_id":{"S":"2019zR22qK2RBvCqtudBaI"},"related_id":{"S":"7n2Ycct7Beij7Dj7meI4X0"},"rank_rel":{"N":"1"}}}"#,
    "\n",
);

/// The three fixture files, in a temporary directory.
struct Fixtures {
    dir: tempfile::TempDir,
    artists: PathBuf,
    top_tracks: PathBuf,
    related: PathBuf,
}

impl Fixtures {
    fn write() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let artists = write_file(dir.path(), "artists.json", ARTISTS_SCAN.as_bytes());
        let top_tracks = write_file(
            dir.path(),
            "top_tracks.json.gz",
            &gzip(TOP_TRACK_LINES.as_bytes()),
        );
        let related = write_file(dir.path(), "related_artists.json", RELATED_LINES.as_bytes());
        Self {
            dir,
            artists,
            top_tracks,
            related,
        }
    }

    /// Lists files first: the import reads artists first whatever the order.
    fn all(&self) -> Vec<PathBuf> {
        vec![
            self.related.clone(),
            self.top_tracks.clone(),
            self.artists.clone(),
        ]
    }
}

fn write_file(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("writing a fixture");
    path
}

fn gzip(content: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(content).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

fn day(year: i32, month: u32, day: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a valid date")
}

/// The old bot's export time in these tests.
fn exported() -> NaiveDateTime {
    day(2023, 1, 10)
}

fn options(files: Vec<PathBuf>) -> ImportOptions {
    ImportOptions {
        files,
        table: None,
        fetched_at: Some(exported()),
        dry_run: false,
        tracks_kept: 10,
        related_kept: 10,
    }
}

/// Runs an import, collecting the rejections it reported.
async fn import(store: &Store, options: &ImportOptions) -> (ImportReport, Vec<Rejection>) {
    let rejections = Arc::new(Mutex::new(Vec::new()));
    let collected = rejections.clone();
    let events: EventSink = Arc::new(move |event| {
        if let ImportEvent::Rejected(rejection) = event {
            collected
                .lock()
                .expect("not poisoned")
                .push(rejection.clone());
        }
    });
    let report = import_dynamodb(store, options, events)
        .await
        .expect("the import runs");
    let rejections = rejections.lock().expect("not poisoned").clone();
    (report, rejections)
}

fn counts(
    read: u64,
    imported: u64,
    updated: u64,
    unchanged: u64,
    kept_newer: u64,
    rejected: u64,
) -> TableCounts {
    TableCounts {
        read,
        imported,
        updated,
        unchanged,
        kept_newer,
        rejected,
        ..TableCounts::default()
    }
}

/// Every row of the three tables, in key order.
#[derive(Debug, PartialEq)]
struct Rows {
    artists: Vec<artists::Model>,
    top_tracks: Vec<top_tracks::Model>,
    related: Vec<related_artists::Model>,
}

async fn raw(db: &testkit::db::TestDb) -> DatabaseConnection {
    Database::connect(db.url.as_str())
        .await
        .expect("a second connection to the test database")
}

async fn rows(conn: &DatabaseConnection) -> Rows {
    Rows {
        artists: artists::Entity::find()
            .order_by_asc(artists::Column::Id)
            .all(conn)
            .await
            .expect("reading artists"),
        top_tracks: top_tracks::Entity::find()
            .order_by_asc(top_tracks::Column::ArtistId)
            .order_by_asc(top_tracks::Column::Rank)
            .all(conn)
            .await
            .expect("reading top tracks"),
        related: related_artists::Entity::find()
            .order_by_asc(related_artists::Column::ArtistId)
            .order_by_asc(related_artists::Column::RankRel)
            .all(conn)
            .await
            .expect("reading related artists"),
    }
}

fn artist<'r>(rows: &'r Rows, id: &str) -> &'r artists::Model {
    rows.artists
        .iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("artist {id} is stored"))
}

fn track_names(rows: &Rows, artist_id: &str) -> Vec<(i32, String)> {
    rows.top_tracks
        .iter()
        .filter(|t| t.artist_id == artist_id)
        .map(|t| (t.rank, t.name.clone()))
        .collect()
}

fn related_ids(rows: &Rows, artist_id: &str) -> Vec<(i32, String)> {
    rows.related
        .iter()
        .filter(|r| r.artist_id == artist_id)
        .map(|r| (r.rank_rel, r.related_id.clone()))
        .collect()
}

fn profile(id: &str, name: &str) -> ArtistProfile {
    ArtistProfile {
        id: id.into(),
        name: name.into(),
        followers: Some(1),
        popularity: Some(1),
        url: None,
        image_url: None,
        genres: Vec::new(),
    }
}

/// An artist the sync brought in (through related artists: the same demand as an
/// imported one, so only freshness orders them).
fn synced_artist(id: &str, name: &str) -> NewArtist {
    NewArtist {
        profile: profile(id, name),
        source: Source::Spotify,
        deezer_id: None,
        deezer_fans: None,
        added_via: AddedVia::Related,
    }
}

fn synced_track(id: &str, name: &str) -> TopTrack {
    TopTrack {
        id: id.into(),
        name: name.into(),
        album_name: None,
        image_url: None,
        popularity: Some(99),
        deezer_rank: None,
        isrc: Some("KRA382000001".into()),
        url: None,
        duration_ms: Some(200_000),
    }
}

db_test!(
    async fn each_format_imports_with_hangul_names_numbers_as_strings_and_ranks(db: TestDb) {
        let store = migrated_store(&db).await;
        let fixtures = Fixtures::write();

        let (report, _) = import(&store, &options(fixtures.all())).await;

        assert_eq!(report.artists, counts(4, 3, 0, 0, 0, 1));
        assert_eq!(report.top_tracks, counts(7, 5, 0, 0, 0, 2));
        assert_eq!(report.related, counts(5, 4, 0, 0, 0, 1));
        assert_eq!(report.ignored_attributes, 1);
        assert_eq!(report.ignored_by_name.get("type"), Some(&1));
        assert_eq!(report.files.len(), 3);
        assert!(report.files.iter().any(|f| f.gzip && f.items == 7));
        assert_eq!(report.files[0].pages, 2, "the artists file is read first");

        let rows = rows(&raw(&db).await).await;
        let iu = artist(&rows, IU);
        assert_eq!(iu.name, "아이유");
        assert_eq!(iu.name_key, artistbot::names::name_key("아이유"));
        assert_eq!((iu.followers, iu.popularity), (Some(9_876_543), Some(78)));
        assert_eq!(iu.genres.as_deref(), Some(r#"["k-pop","k-pop ballad"]"#));
        assert_eq!(
            iu.image_url.as_deref(),
            Some("https://i.scdn.co/image/iu-300")
        );
        assert_eq!(
            (iu.source.as_str(), iu.added_via.as_str()),
            ("import", "import")
        );
        assert_eq!(iu.fetched_at, Some(exported()));
        assert_eq!(
            (
                iu.profile_refreshed_at,
                iu.tracks_refreshed_at,
                iu.related_refreshed_at
            ),
            (None, None, None),
            "imported artists are due for a refresh"
        );
        let omg = artist(&rows, OH_MY_GIRL);
        assert_eq!((omg.followers, omg.popularity), (Some(1_234_567), Some(65)));
        let ive = artist(&rows, IVE);
        assert_eq!(ive.name, "IVE (아이브)");
        assert_eq!(
            (ive.followers, ive.popularity, ive.genres.as_deref()),
            (None, None, None),
            "absent numbers stay NULL, never 0"
        );

        assert_eq!(
            track_names(&rows, IU),
            [
                (1, "Love wins all".to_owned()),
                (2, "밤편지".to_owned()),
                (3, "Blueming".to_owned())
            ],
            "without ranks, tracks go by popularity"
        );
        assert_eq!(
            track_names(&rows, OH_MY_GIRL),
            [
                (1, "Dun Dun Dance".to_owned()),
                (2, "살짝 설렜어".to_owned())
            ],
            "ranks from the data come first"
        );
        assert!(rows.top_tracks.iter().all(|t| t.source == "import"));
        assert!(rows.top_tracks.iter().all(|t| t.fetched_at == exported()));
        assert_eq!(
            related_ids(&rows, IU),
            [(1, OH_MY_GIRL.to_owned()), (2, IVE.to_owned())]
        );
        assert_eq!(
            related_ids(&rows, IVE),
            [(1, OH_MY_GIRL.to_owned()), (2, IU.to_owned())],
            "the smaller distance is the closer artist"
        );
        assert!(rows.related.iter().all(|r| r.source == "import"));
    }
);

db_test!(
    async fn every_rejected_item_names_its_place_and_the_good_ones_are_imported(db: TestDb) {
        let store = migrated_store(&db).await;
        let fixtures = Fixtures::write();

        let (report, rejections) = import(&store, &options(fixtures.all())).await;

        assert!(report.has_rejections());
        let shown: Vec<String> = rejections.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 4, "{shown:#?}");
        let artists = fixtures.artists.display();
        let tracks = fixtures.top_tracks.display();
        let related = fixtures.related.display();
        assert_eq!(
            shown[0],
            format!("{artists} page 2 item 2 (line 34): attribute `id` is missing")
        );
        // Artist files first, then the others in the order given (related, tracks).
        assert_eq!(
            shown[1],
            format!(
                "{related} line 5: related artist `7n2Ycct7Beij7Dj7meI4X0` is neither in the \
                 catalog nor among the imported artists"
            )
        );
        assert!(
            shown[2].starts_with(&format!(
                "{tracks} line 5: invalid JSON at column 89: expected `,`"
            )),
            "{}",
            shown[2]
        );
        assert_eq!(
            shown[3],
            format!(
                "{tracks} line 6: artist_id `0000000000000000000000` is neither in the catalog \
                 nor among the imported artists"
            )
        );
        assert_eq!(report.total().imported, 12);
    }
);

db_test!(
    async fn a_missing_comma_in_a_scan_names_its_line_and_keeps_the_items_before(db: TestDb) {
        let store = migrated_store(&db).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let broken = write_file(
            dir.path(),
            "artists.json",
            concat!(
                "{\n",
                "  \"Items\": [\n",
                "    {\"id\": {\"S\": \"3HqSLMAZ3g3d5poNaI7GOU\"}, \"name\": {\"S\": \"아이유\"}},\n",
                "    {\"id\": {\"S\": \"2019zR22qK2RBvCqtudBaI\"} \"name\": {\"S\": \"오마이걸\"}}\n",
                "  ]\n",
                "}\n",
            )
            .as_bytes(),
        );

        let (report, rejections) = import(&store, &options(vec![broken.clone()])).await;

        assert_eq!(report.failed_files, 1);
        assert_eq!(report.artists.imported, 1);
        assert!(report.has_rejections());
        assert_eq!(rejections.len(), 1);
        let shown = rejections[0].to_string();
        assert!(
            shown.starts_with(&format!(
                "{} line 4, column 44: malformed JSON: expected `,` or `}}`",
                broken.display()
            )),
            "{shown}"
        );
        assert!(
            shown.ends_with("the rest of the file was not read"),
            "{shown}"
        );
        let rows = rows(&raw(&db).await).await;
        assert_eq!(rows.artists.len(), 1);
    }
);

db_test!(
    async fn importing_the_same_files_again_changes_nothing(db: TestDb) {
        let store = migrated_store(&db).await;
        let fixtures = Fixtures::write();
        let conn = raw(&db).await;
        let (first, _) = import(&store, &options(fixtures.all())).await;
        let before = rows(&conn).await;

        // Files touched since (a copy, a download) must not matter either.
        let (second, _) = import(
            &store,
            &ImportOptions {
                fetched_at: Some(day(2023, 2, 1)),
                ..options(fixtures.all())
            },
        )
        .await;

        assert_eq!(rows(&conn).await, before, "no row changed");
        for (again, then) in [
            (second.artists, first.artists),
            (second.top_tracks, first.top_tracks),
            (second.related, first.related),
        ] {
            assert_eq!(again.unchanged, then.imported);
            assert_eq!((again.imported, again.updated, again.removed), (0, 0, 0));
            assert_eq!((again.read, again.rejected), (then.read, then.rejected));
        }
    }
);

db_test!(
    async fn a_dry_run_writes_nothing_and_counts_what_the_import_then_does(db: TestDb) {
        let store = migrated_store(&db).await;
        let fixtures = Fixtures::write();
        let conn = raw(&db).await;
        let empty = rows(&conn).await;

        let (dry, dry_rejections) = import(
            &store,
            &ImportOptions {
                dry_run: true,
                ..options(fixtures.all())
            },
        )
        .await;

        assert!(dry.dry_run);
        assert_eq!(rows(&conn).await, empty, "a dry run writes nothing");
        let (real, real_rejections) = import(&store, &options(fixtures.all())).await;
        assert_eq!(
            (dry.artists, dry.top_tracks, dry.related),
            (real.artists, real.top_tracks, real.related)
        );
        assert_eq!(
            dry_rejections, real_rejections,
            "references are checked too"
        );
    }
);

db_test!(
    async fn data_the_sync_refreshed_after_the_export_is_not_overwritten(db: TestDb) {
        let store = migrated_store(&db).await;
        let synced_at = store::now();
        store
            .add_artists(
                &[
                    synced_artist(IU, "IU"),
                    synced_artist(OH_MY_GIRL, "OH MY GIRL"),
                ],
                synced_at,
            )
            .await
            .expect("adding synced artists");
        store
            .apply_refresh(
                &ArtistRefresh {
                    artist_id: IU.into(),
                    tracks: Some((
                        Source::Spotify,
                        vec![synced_track("6Xy4aDZlxDDGlKAM6HmV8m", "홀씨")],
                    )),
                    related: Some(RelatedUpdate {
                        source: Source::Deezer,
                        related_ids: vec![OH_MY_GIRL.into()],
                        complete: true,
                    }),
                    ..ArtistRefresh::default()
                },
                synced_at,
            )
            .await
            .expect("a sync refresh");
        let conn = raw(&db).await;
        let synced = rows(&conn).await;

        let (report, _) = import(&store, &options(Fixtures::write().all())).await;

        assert_eq!(report.artists, counts(4, 1, 0, 0, 2, 1));
        // IU's three tracks stay out; Oh My Girl had none refreshed, so hers come in.
        assert_eq!(report.top_tracks, counts(7, 2, 0, 0, 3, 2));
        assert_eq!(report.related, counts(5, 2, 0, 0, 2, 1));
        let now = rows(&conn).await;
        assert_eq!(artist(&now, IU), artist(&synced, IU));
        assert_eq!(artist(&now, OH_MY_GIRL), artist(&synced, OH_MY_GIRL));
        assert_eq!(track_names(&now, IU), [(1, "홀씨".to_owned())]);
        assert_eq!(related_ids(&now, IU), [(1, OH_MY_GIRL.to_owned())]);
        assert_eq!(track_names(&now, OH_MY_GIRL).len(), 2);
    }
);

db_test!(
    async fn older_exports_never_replace_newer_ones_and_absent_values_erase_nothing(db: TestDb) {
        let store = migrated_store(&db).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        // One file per table, as DynamoDB writes them.
        let export = |name: &str, artist: &str, tracks: &[(&str, &str, u32)]| {
            let artists = format!(
                "{{\"Item\":{{\"id\":{{\"S\":\"{IU}\"}},\"name\":{{\"S\":\"아이유\"}},{artist}}}}}\n"
            );
            let mut lines = String::new();
            for (id, name, popularity) in tracks {
                lines += &format!(
                    "{{\"Item\":{{\"artist_id\":{{\"S\":\"{IU}\"}},\"id\":{{\"S\":\"{id}\"}},\"name\":{{\"S\":\"{name}\"}},\"popularity\":{{\"N\":\"{popularity}\"}}}}}}\n"
                );
            }
            vec![
                write_file(dir.path(), &format!("artists-{name}"), artists.as_bytes()),
                write_file(dir.path(), &format!("tracks-{name}"), lines.as_bytes()),
            ]
        };
        let import_at = |files: Vec<PathBuf>, at: NaiveDateTime| ImportOptions {
            fetched_at: Some(at),
            ..options(files)
        };
        let current = export(
            "2023.json",
            r#""followers":{"N":"100"},"popularity":{"N":"70"}"#,
            &[
                ("track0000000000000000A", "A", 50),
                ("track0000000000000000B", "B", 40),
            ],
        );
        let older = export(
            "2022.json",
            r#""followers":{"N":"5"},"popularity":{"N":"10"}"#,
            &[("track0000000000000000C", "C", 90)],
        );
        let newer = export(
            "2023-06.json",
            r#""popularity":{"N":"80"}"#,
            &[
                ("track0000000000000000B", "B", 60),
                ("track0000000000000000D", "D", 10),
            ],
        );
        let conn = raw(&db).await;
        import(&store, &import_at(current, day(2023, 1, 10))).await;
        let before = rows(&conn).await;

        let (report, _) = import(&store, &import_at(older, day(2022, 6, 1))).await;

        assert_eq!(
            (report.artists.kept_newer, report.top_tracks.kept_newer),
            (1, 1)
        );
        assert_eq!(rows(&conn).await, before);

        let (report, _) = import(&store, &import_at(newer, day(2023, 6, 1))).await;

        assert_eq!(report.artists.updated, 1);
        assert_eq!(
            (
                report.top_tracks.imported,
                report.top_tracks.updated,
                report.top_tracks.removed
            ),
            (1, 1, 1)
        );
        let after = rows(&conn).await;
        let iu = artist(&after, IU);
        assert_eq!((iu.followers, iu.popularity), (Some(100), Some(80)));
        assert_eq!(iu.fetched_at, Some(day(2023, 6, 1)));
        assert_eq!(
            track_names(&after, IU),
            [(1, "B".to_owned()), (2, "D".to_owned())]
        );
    }
);

db_test!(
    async fn only_the_kept_number_of_rows_per_artist_is_stored_and_the_rest_counted(db: TestDb) {
        let store = migrated_store(&db).await;
        let fixtures = Fixtures::write();

        let (report, _) = import(
            &store,
            &ImportOptions {
                tracks_kept: 2,
                related_kept: 1,
                ..options(fixtures.all())
            },
        )
        .await;

        assert_eq!(
            (report.top_tracks.imported, report.top_tracks.left_out),
            (4, 1)
        );
        assert_eq!((report.related.imported, report.related.left_out), (2, 2));
        let rows = rows(&raw(&db).await).await;
        assert_eq!(
            track_names(&rows, IU),
            [(1, "Love wins all".to_owned()), (2, "밤편지".to_owned())]
        );
        assert_eq!(related_ids(&rows, IVE), [(1, OH_MY_GIRL.to_owned())]);
    }
);

db_test!(
    async fn imported_artists_are_planned_before_artists_the_sync_refreshed(db: TestDb) {
        let store = migrated_store(&db).await;
        let now = store::now();
        let refreshed = now - chrono::Duration::days(3);
        store
            .add_artists(&[synced_artist(BIGBANG, "BIGBANG")], refreshed)
            .await
            .expect("adding a synced artist");
        store
            .apply_refresh(
                &ArtistRefresh {
                    artist_id: BIGBANG.into(),
                    tracks: Some((
                        Source::Spotify,
                        vec![synced_track("2ktoFujjJtantyMoVdBJlX", "뱅뱅뱅")],
                    )),
                    related: Some(RelatedUpdate {
                        source: Source::Deezer,
                        related_ids: Vec::new(),
                        complete: true,
                    }),
                    ..ArtistRefresh::default()
                },
                refreshed,
            )
            .await
            .expect("a sync refresh");

        import(&store, &options(Fixtures::write().all())).await;

        let day_old = Duration::from_secs(86_400);
        let plan = plan_refresh(
            store.artist_states().await.expect("artist states"),
            now,
            Ages {
                profile: day_old,
                tracks: day_old,
                related: day_old,
                deezer_remap: day_old,
                spotify_relink: day_old,
            },
            Capabilities {
                spotify_configured: true,
                tracks_need_deezer: false,
                related_need_deezer: false,
            },
            false,
        );
        let order: Vec<&str> = plan.tasks.iter().map(|t| t.artist.id.as_str()).collect();
        assert_eq!(order, [OH_MY_GIRL, IU, IVE, BIGBANG]);
        assert!(
            plan.tasks[..3]
                .iter()
                .all(|t| t.profile_due && t.tracks_due && t.related_due)
        );
    }
);

db_test!(
    async fn the_command_prints_its_counts_and_exits_2_when_items_were_rejected(db: TestDb) {
        // On a server the schema must exist before the command runs (`artistbot migrate`).
        migrated_store(&db).await.close().await;
        let fixtures = Fixtures::write();
        let run = |args: Vec<String>| {
            let url = db.url.clone();
            let cwd = fixtures.dir.path().to_owned();
            async move {
                tokio::process::Command::new(env!("CARGO_BIN_EXE_artistbot"))
                    .args(args)
                    .current_dir(cwd)
                    .env("DATABASE_URL", url)
                    .env_remove("RUST_LOG")
                    .env_remove("LOG_DIR")
                    .output()
                    .await
                    .expect("running artistbot")
            }
        };
        let mut args: Vec<String> = ["import", "dynamodb", "--dry-run"]
            .map(String::from)
            .to_vec();
        args.extend(fixtures.all().iter().map(|p| p.display().to_string()));

        let dry = run(args.clone()).await;
        args.retain(|a| a != "--dry-run");
        let real = run(args.clone()).await;
        let again = run(args).await;
        let related_only = run(vec![
            "import".into(),
            "dynamodb".into(),
            "--table".into(),
            "related_artists".into(),
            fixtures.related.display().to_string(),
        ])
        .await;

        let stdout =
            |output: &std::process::Output| String::from_utf8_lossy(&output.stdout).into_owned();
        let (dry_out, real_out, again_out) = (stdout(&dry), stdout(&real), stdout(&again));
        assert_eq!(
            real.status.code(),
            Some(2),
            "{real_out}\n{}",
            String::from_utf8_lossy(&real.stderr)
        );
        assert!(
            real_out.contains(
                "total: read 16, imported 12, updated 0, unchanged 0, kept newer 0, left out 0, \
                 removed 0, rejected 4, ignored attributes 1, unreadable files 0"
            ),
            "{real_out}"
        );
        assert!(real_out.contains("page 2 item 2 (line 34): attribute `id` is missing"));
        assert_eq!(dry.status.code(), Some(2));
        assert!(
            dry_out.contains("dry run: nothing was written"),
            "{dry_out}"
        );
        assert!(
            dry_out.contains("total: read 16, imported 12,"),
            "{dry_out}"
        );
        assert!(
            again_out.contains("total: read 16, imported 0, updated 0, unchanged 12,"),
            "{again_out}"
        );
        assert_eq!(
            related_only.status.code(),
            Some(2),
            "the related file alone still names an unknown artist"
        );
        assert!(
            stdout(&related_only).contains("imported 0, updated 0, unchanged 4,"),
            "{}",
            stdout(&related_only)
        );

        let good = write_file(
            fixtures.dir.path(),
            "good.json",
            format!(
                "{{\"Item\":{{\"id\":{{\"S\":\"{BIGBANG}\"}},\"name\":{{\"S\":\"빅뱅\"}}}}}}\n"
            )
            .as_bytes(),
        );
        let ok = run(vec![
            "import".into(),
            "dynamodb".into(),
            good.display().to_string(),
        ])
        .await;
        assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
        assert!(stdout(&ok).contains("total: read 1, imported 1,"));
    }
);

db_test!(
    async fn a_generated_scan_export_imports_every_artist_with_its_kept_rows(db: TestDb) {
        let store = migrated_store(&db).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let export = testkit::export::write_scan_export(dir.path(), 2 * 1024 * 1024)
            .expect("generating an export");

        let (report, rejections) = import(&store, &options(export.files())).await;

        assert!(rejections.is_empty(), "{rejections:?}");
        let n = export.artist_count;
        assert_eq!(report.total().read, export.items);
        assert_eq!(report.artists.imported, n);
        assert_eq!(report.top_tracks.imported, n * 10);
        assert_eq!(report.related.imported, n * 10);
        assert_eq!(
            report.top_tracks.left_out,
            n * (testkit::export::TRACKS_PER_ARTIST - 10)
        );
        assert!(report.files.iter().all(|f| f.pages >= 1));
    }
);

db_test!(
    async fn ranks_follow_the_rules_whatever_the_order_and_each_file_counts_as_fetched_when_written(
        db: TestDb,
    ) {
        let store = migrated_store(&db).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let line = |attributes: &str| format!("{{\"Item\":{{{attributes}}}}}\n");
        let s = |name: &str, value: &str| format!("\"{name}\":{{\"S\":\"{value}\"}}");
        let n = |name: &str, value: &str| format!("\"{name}\":{{\"N\":\"{value}\"}}");
        let track = |id: &str, popularity: &str| {
            let id = format!("track{id:0>17}");
            let attributes = [s("artist_id", IU), s("id", &id), s("name", &id)];
            line(&format!(
                "{},{}",
                attributes.join(","),
                n("popularity", popularity)
            ))
        };
        let write = |name: &str, lines: &[String], modified: NaiveDateTime| {
            let path = write_file(dir.path(), name, lines.concat().as_bytes());
            std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(modified.and_utc().into()))
                .expect("setting the modification time");
            path
        };
        let artists: Vec<String> = [IU, OH_MY_GIRL, IVE]
            .iter()
            .map(|id| line(&format!("{},{}", s("id", id), s("name", id))))
            .collect();
        let odd = write("odd.json", &[line(&s("title", "x"))], day(2023, 1, 1));
        // A repeat that ranks better comes in from a newer file; one that ranks worse, too.
        let newer = [track("1", "90"), track("2", "5"), track("4", "1")];
        let older = [track("1", "10"), track("2", "80"), track("3", "70")];
        let similar = format!(
            "{},{},{}",
            s("artist_id", IU),
            s("related_id", OH_MY_GIRL),
            n("similarity", "0.8")
        );
        let near = format!(
            "{},{},{}",
            s("artist_id", IU),
            s("y_artist", IVE),
            n("distance", "0.1")
        );
        let files = vec![
            write("new.json", &newer, day(2023, 2, 1)),
            write("old.json", &older, day(2023, 1, 1)),
            write(
                "related.json",
                &[line(&near), line(&similar)],
                day(2099, 1, 1),
            ),
            odd,
            write("empty.json", &[], day(2023, 1, 1)),
            write("artists.json", &artists, day(2023, 1, 1)),
        ];
        let started = store::now();

        let (report, rejections) = import(
            &store,
            &ImportOptions {
                fetched_at: None,
                tracks_kept: 3,
                ..options(files)
            },
        )
        .await;

        assert_eq!(report.failed_files, 1, "an empty file is no failure");
        assert_eq!(report.files.len(), 4);
        assert!(rejections[0].reason.contains("--table"), "{rejections:?}");
        assert_eq!(report.top_tracks.left_out, 3);
        let rows = rows(&raw(&db).await).await;
        let tracks: Vec<_> = rows
            .top_tracks
            .iter()
            .map(|t| (t.rank, t.name.as_str(), t.popularity))
            .collect();
        assert_eq!(
            tracks,
            [
                (1, "track00000000000000001", Some(90)),
                (2, "track00000000000000002", Some(80)),
                (3, "track00000000000000003", Some(70))
            ]
        );
        assert!(
            rows.top_tracks
                .iter()
                .all(|t| t.fetched_at == day(2023, 1, 1)),
            "a list is as old as the oldest file it came from"
        );
        assert_eq!(
            related_ids(&rows, IU),
            [(1, OH_MY_GIRL.to_owned()), (2, IVE.to_owned())],
            "a similarity and a distance have no common scale: similarities go first"
        );
        assert!(
            rows.related
                .iter()
                .all(|r| (started..=store::now()).contains(&r.fetched_at)),
            "a file from the future counts as fetched now"
        );
        assert_eq!(artist(&rows, IU).fetched_at, Some(day(2023, 1, 1)));
    }
);
