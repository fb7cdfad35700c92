//! Reading DynamoDB exports end to end, without a database: formats, places, errors,
//! table detection and mapping to records. Fixtures are in `tests/fixtures/import/` or
//! written by the tests themselves.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use artistbot::import::{
    ArtistRecord, AttrProblem, AttrValue, ExportError, ExportFormat, FileSummary, ImportRecord,
    Item, ItemError, ItemPlace, RecordError, RelatedRecord, RelatedScore, TableKind,
    TopTrackRecord, detect_table, parse_item, read_export, to_record,
};
use flate2::Compression;
use flate2::write::GzEncoder;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

/// Everything the callback was handed, in order.
type Seen = Vec<(ItemPlace, Result<Item, ItemError>)>;

/// Reads a whole file, collecting what the callback saw (fine for small test files).
fn read_all(path: &Path) -> (Result<FileSummary, ExportError>, Seen) {
    let mut seen = Vec::new();
    let summary = read_export(path, |place, item| {
        seen.push((place, item));
        ControlFlow::Continue(())
    });
    (summary, seen)
}

fn write_file(dir: &tempfile::TempDir, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    fs::write(&path, content).expect("write test file");
    path
}

fn gzip(content: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(content).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

fn item(json: &str) -> Item {
    parse_item(json).expect("test item is valid DynamoDB JSON")
}

fn record(json: &str) -> Result<ImportRecord, RecordError> {
    let item = item(json);
    let kind = detect_table(&item).expect("test item belongs to a table");
    to_record(kind, &item)
}

fn artist(json: &str) -> Result<ArtistRecord, RecordError> {
    record(json).map(|r| match r {
        ImportRecord::Artist(a) => a,
        other => panic!("expected an artist, got {other:?}"),
    })
}

fn record_error(json: &str) -> RecordError {
    record(json).expect_err("the item must be rejected")
}

// ---------------------------------------------------------------- scan format

#[test]
fn scan_page_with_hangul_names_delivers_each_item_with_its_place() {
    let path = fixture("scan_artists_hangul.json");

    let (summary, seen) = read_all(&path);

    let summary = summary.expect("fixture reads");
    assert_eq!(summary.format, ExportFormat::Scan);
    assert!(!summary.gzip);
    assert_eq!(
        (summary.pages, summary.items, summary.item_errors),
        (1, 3, 0)
    );
    assert!(!summary.last_page_continues);
    assert!(summary.count_mismatches.is_empty());
    let names: Vec<_> = seen
        .iter()
        .map(|(_, item)| item.as_ref().expect("valid item")["name"].clone())
        .collect();
    assert_eq!(
        names,
        ["아이유", "오마이걸", "IVE (아이브)"].map(|n| AttrValue::S(n.into()))
    );
    let places: Vec<_> = seen
        .iter()
        .map(|(p, _)| (p.page, p.index, p.line))
        .collect();
    // Lines of each item's closing brace in the fixture.
    assert_eq!(
        places,
        [
            (Some(1), 1, Some(32)),
            (Some(1), 2, Some(102)),
            (Some(1), 3, Some(129))
        ]
    );
    assert_eq!(&*seen[0].0.file, path.as_path());
}

#[test]
fn numbers_as_n_or_s_strings_and_raw_spotify_shapes_map_to_artists() {
    let (_, seen) = read_all(&fixture("scan_artists_hangul.json"));
    let artists: Vec<ArtistRecord> = seen
        .into_iter()
        .map(|(_, item)| {
            let item = item.expect("valid item");
            assert_eq!(detect_table(&item), Some(TableKind::Artists));
            match to_record(TableKind::Artists, &item).expect("valid artist") {
                ImportRecord::Artist(a) => a,
                other => panic!("expected an artist, got {other:?}"),
            }
        })
        .collect();

    assert_eq!(
        artists[0],
        ArtistRecord {
            id: "3HqSLMAZ3g3d5poNaI7GOU".into(),
            name: "아이유".into(),
            followers: Some(9_876_543),
            popularity: Some(78),
            url: Some("https://open.spotify.com/artist/3HqSLMAZ3g3d5poNaI7GOU".into()),
            image_url: Some("https://i.scdn.co/image/iu-300".into()),
            genres: vec!["k-pop".into(), "k-pop ballad".into()],
            ignored_attributes: vec![],
        }
    );
    // Numbers stored as S, url from external_urls, image closest to 300 px, genres from SS.
    assert_eq!(artists[1].followers, Some(1_234_567));
    assert_eq!(artists[1].popularity, Some(65));
    assert_eq!(
        artists[1].url.as_deref(),
        Some("https://open.spotify.com/artist/2019zR22qK2RBvCqtudBaI")
    );
    assert_eq!(
        artists[1].image_url.as_deref(),
        Some("https://i.scdn.co/image/omg-320")
    );
    assert_eq!(artists[1].genres, ["k-pop", "k-pop girl group"]);
    // followers.total in exponent form; no image at all stays None; extra attributes listed.
    assert_eq!(artists[2].followers, Some(2_500_000));
    assert_eq!(artists[2].image_url, None);
    assert_eq!(artists[2].url, None);
    assert!(artists[2].genres.is_empty());
    assert_eq!(artists[2].ignored_attributes, ["type", "uri"]);
}

#[test]
fn concatenated_pages_are_numbered_and_a_trailing_last_evaluated_key_is_noted() {
    let (summary, seen) = read_all(&fixture("scan_top_tracks_two_pages.json"));

    let summary = summary.expect("fixture reads");
    assert_eq!((summary.pages, summary.items), (2, 3));
    // The continuation key is on page 1 only: page 2 is its continuation.
    assert!(!summary.last_page_continues);
    let places: Vec<_> = seen
        .iter()
        .map(|(p, _)| (p.page, p.index, p.line))
        .collect();
    assert_eq!(
        places,
        [
            (Some(1), 1, Some(10)),
            (Some(1), 2, Some(18)),
            (Some(2), 1, Some(51))
        ]
    );
}

#[test]
fn a_page_set_that_stops_at_a_last_evaluated_key_is_flagged_incomplete() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first_page_only: String = fs::read_to_string(fixture("scan_top_tracks_two_pages.json"))
        .expect("fixture")
        .split_inclusive("\n}\n")
        .next()
        .expect("first page")
        .to_owned();
    let path = write_file(&dir, "page1.json", first_page_only.as_bytes());

    let (summary, _) = read_all(&path);

    let summary = summary.expect("page reads");
    assert_eq!(summary.pages, 1);
    assert!(summary.last_page_continues);
}

#[test]
fn pages_in_separate_files_are_each_counted_from_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let page = |id: &str| {
        format!(
            r#"{{"Items":[{{"id":{{"S":"{id}"}},"name":{{"S":"n"}}}}],"Count":1,"ScannedCount":1}}"#
        )
    };
    let a = write_file(&dir, "a.json", page("aaa").as_bytes());
    let b = write_file(&dir, "b.json", page("bbb").as_bytes());

    let mut places = Vec::new();
    for path in [&a, &b] {
        let summary = read_export(path, |place, _| {
            places.push(place.to_string());
            ControlFlow::Continue(())
        })
        .expect("page reads");
        assert_eq!(summary.pages, 1);
    }

    assert_eq!(
        places,
        [
            format!("{} page 1 item 1 (line 1)", a.display()),
            format!("{} page 1 item 1 (line 1)", b.display()),
        ]
    );
}

#[test]
fn a_missing_comma_names_file_line_and_column_after_earlier_items_were_delivered() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = concat!(
        "{\n",
        "  \"Items\": [\n",
        "    {\"id\": {\"S\": \"aaa\"}, \"name\": {\"S\": \"first\"}},\n",
        "    {\"id\": {\"S\": \"bbb\"} \"name\": {\"S\": \"second\"}}\n",
        "  ]\n",
        "}\n",
    );
    let path = write_file(&dir, "broken.json", text.as_bytes());

    let (summary, seen) = read_all(&path);

    assert_eq!(seen.len(), 1, "the item before the error is delivered");
    assert!(seen[0].1.is_ok());
    match summary {
        Err(ExportError::Syntax {
            file,
            line,
            column,
            message,
        }) => {
            assert_eq!(file, path);
            assert_eq!((line, column), (4, 25));
            assert!(message.contains("expected `,` or `}`"), "{message}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let shown = read_export(&path, |_, _| ControlFlow::Continue(()))
        .expect_err("syntax error")
        .to_string();
    assert!(shown.contains("broken.json: line 4, column 25"), "{shown}");
}

#[test]
fn an_unknown_type_tag_fails_only_its_item_and_reading_continues() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = r#"{"Items": [
 {"id": {"S": "aaa"}, "name": {"S": "one"}},
 {"id": {"S": "bbb"}, "name": {"X": "two"}},
 {"id": {"S": "ccc"}, "name": {"N": 3}},
 {"id": {"S": "ddd"}, "name": {"S": "four"}}
], "Count": 4}"#;
    let path = write_file(&dir, "tags.json", text.as_bytes());

    let (summary, seen) = read_all(&path);

    let summary = summary.expect("syntax is fine");
    assert_eq!((summary.items, summary.item_errors), (4, 2));
    assert!(seen[0].1.is_ok() && seen[3].1.is_ok());
    assert_eq!(
        seen[1].1,
        Err(ItemError::Attribute {
            path: "name".into(),
            problem: AttrProblem::UnknownTag("X".into())
        })
    );
    let (place, error) = (
        &seen[2].0,
        seen[2].1.as_ref().expect_err("N must be a string"),
    );
    assert_eq!(
        format!("{place}: {error}"),
        format!(
            "{} page 1 item 3 (line 4): attribute `name`: a N value must be a string, found a number",
            path.display()
        )
    );
}

#[test]
fn a_count_that_disagrees_with_the_items_is_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_file(
        &dir,
        "count.json",
        br#"{"Count": 5, "Items": [{"id": {"S": "a"}, "name": {"S": "x"}}]}"#,
    );

    let (summary, _) = read_all(&path);

    let summary = summary.expect("reads");
    assert_eq!(summary.count_mismatches.len(), 1);
    assert_eq!(summary.count_mismatches[0].declared, 5);
    assert_eq!(summary.count_mismatches[0].found, 1);
}

#[test]
fn a_scan_document_without_items_is_not_a_scan_page() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_file(&dir, "noitems.json", br#"{"Count": 0, "ScannedCount": 0}"#);

    let (summary, _) = read_all(&path);

    assert!(
        matches!(summary, Err(ExportError::NotAScanPage { ref message, .. }) if message.contains("Items")),
        "{summary:?}"
    );
}

#[test]
fn a_file_of_another_shape_is_unrecognized() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_file(&dir, "other.json", br#"[{"id": "x"}]"#);

    let (summary, seen) = read_all(&path);

    assert!(seen.is_empty());
    assert!(
        matches!(summary, Err(ExportError::UnrecognizedFormat { .. })),
        "{summary:?}"
    );
}

#[test]
fn the_callback_can_stop_reading_early() {
    let mut count = 0;
    let summary = read_export(&fixture("scan_top_tracks_two_pages.json"), |_, _| {
        count += 1;
        if count == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .expect("stopping is not an error");

    assert_eq!(count, 2);
    assert!(summary.stopped_early);
    assert_eq!(summary.items, 2);
}

// ---------------------------------------------------------------- JSON lines

#[test]
fn json_lines_export_reads_plain_and_gzip_the_same() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plain = fixture("export_related.json");
    let content = fs::read(&plain).expect("fixture");
    let gz = write_file(&dir, "export_related.json.gz", &gzip(&content));
    // gzip is told by its magic bytes, not the name.
    let misnamed = write_file(&dir, "export_related.json", &gzip(&content));

    let (plain_summary, plain_items) = read_all(&plain);
    let (gz_summary, gz_items) = read_all(&gz);
    let (misnamed_summary, misnamed_items) = read_all(&misnamed);

    let plain_summary = plain_summary.expect("plain reads");
    assert_eq!(plain_summary.format, ExportFormat::JsonLines);
    assert_eq!((plain_summary.items, plain_summary.pages), (3, 0));
    assert!(gz_summary.expect("gzip reads").gzip);
    assert!(misnamed_summary.expect("gzip reads").gzip);
    let strip = |seen: Seen| {
        seen.into_iter()
            .map(|(p, i)| (p.index, p.line, i))
            .collect::<Vec<_>>()
    };
    let plain_items = strip(plain_items);
    assert_eq!(plain_items, strip(gz_items));
    assert_eq!(plain_items, strip(misnamed_items));
    // The blank third line is skipped but still counted as a line.
    let lines: Vec<_> = plain_items.iter().map(|(i, l, _)| (*i, *l)).collect();
    assert_eq!(lines, [(1, Some(1)), (2, Some(2)), (3, Some(4))]);
}

#[test]
fn json_lines_map_to_related_records_with_rank_or_distance() {
    let (_, seen) = read_all(&fixture("export_related.json"));
    let records: Vec<_> = seen
        .into_iter()
        .map(|(_, item)| {
            let item = item.expect("valid item");
            assert_eq!(detect_table(&item), Some(TableKind::RelatedArtists));
            to_record(TableKind::RelatedArtists, &item).expect("valid edge")
        })
        .collect();

    assert_eq!(
        records[0],
        ImportRecord::Related(RelatedRecord {
            artist_id: "6RHTUrRF63xao58xh9FXYJ".into(),
            related_id: "28ot3wh4oNmoFOdVajibBl".into(),
            rank: Some(1),
            score: None,
            ignored_attributes: vec![],
        })
    );
    assert_eq!(
        records[2],
        ImportRecord::Related(RelatedRecord {
            artist_id: "3HqSLMAZ3g3d5poNaI7GOU".into(),
            related_id: "2019zR22qK2RBvCqtudBaI".into(),
            rank: None,
            score: Some(RelatedScore::Distance(0.4213)),
            ignored_attributes: vec![],
        })
    );
}

#[test]
fn a_bad_json_line_is_reported_with_its_line_and_reading_continues() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = concat!(
        "{\"Item\":{\"id\":{\"S\":\"aaa\"},\"name\":{\"S\":\"one\"}}}\r\n",
        "{\"Item\":{\"id\":{\"S\":\"bbb\"} \"name\":{\"S\":\"two\"}}}\r\n",
        "{\"Item\":{\"id\":{\"S\":\"ccc\"},\"name\":{\"Q\":\"three\"}}}\r\n",
        "{\"NotItem\":{}}\r\n",
        "{\"Item\":{\"id\":{\"S\":\"ddd\"},\"name\":{\"S\":\"four\"}}}",
    );
    let path = write_file(&dir, "export.json", text.as_bytes());

    let (summary, seen) = read_all(&path);

    let summary = summary.expect("bad lines do not end the file");
    assert_eq!((summary.items, summary.item_errors), (5, 3));
    assert!(seen[0].1.is_ok() && seen[4].1.is_ok());
    let (place, error) = (&seen[1].0, seen[1].1.as_ref().expect_err("bad JSON"));
    assert_eq!(place.line, Some(2));
    assert!(
        matches!(error, ItemError::Syntax { column: 27, message } if message.contains("expected `,` or `}`")),
        "{error:?}"
    );
    assert_eq!(place.to_string(), format!("{} line 2", path.display()));
    assert!(matches!(
        seen[2].1,
        Err(ItemError::Attribute { ref problem, .. }) if *problem == AttrProblem::UnknownTag("Q".into())
    ));
    assert_eq!(seen[3].1, Err(ItemError::MissingItemKey));
}

#[test]
fn a_pretty_printed_item_document_is_not_taken_for_export_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_file(
        &dir,
        "get-item.json",
        b"{\n    \"Item\": {\n        \"id\": {\n            \"S\": \"abc\"\n        }\n    }\n}\n",
    );

    let (summary, seen) = read_all(&path);

    assert!(seen.is_empty());
    assert!(
        matches!(summary, Err(ExportError::UnrecognizedFormat { ref found, .. }) if found.contains("one item per line")),
        "{summary:?}"
    );
}

#[test]
fn an_empty_file_is_an_export_with_no_items() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_file(&dir, "empty.json.gz", &gzip(b"  \n"));

    let (summary, seen) = read_all(&path);

    let summary = summary.expect("empty is fine");
    assert_eq!(
        (summary.format, summary.items),
        (ExportFormat::JsonLines, 0)
    );
    assert!(seen.is_empty());
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_file(
        &dir,
        "bom.json",
        b"\xef\xbb\xbf{\"Item\":{\"id\":{\"S\":\"aaa\"},\"name\":{\"S\":\"x\"}}}\n",
    );

    let (summary, seen) = read_all(&path);

    assert_eq!(summary.expect("reads").items, 1);
    assert!(seen[0].1.is_ok());
}

#[test]
fn a_truncated_gzip_file_is_an_io_error_after_the_items_before_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut lines = String::new();
    for i in 0..2000 {
        writeln!(
            lines,
            r#"{{"Item":{{"id":{{"S":"id{i}"}},"name":{{"S":"artist number {i}"}}}}}}"#
        )
        .expect("write to string");
    }
    let compressed = gzip(lines.as_bytes());
    let path = write_file(&dir, "cut.json.gz", &compressed[..compressed.len() / 2]);

    let (summary, seen) = read_all(&path);

    assert!(
        matches!(summary, Err(ExportError::Io { .. })),
        "{summary:?}"
    );
    assert!(!seen.is_empty() && seen.len() < 2000);
}

// ---------------------------------------------------------------- records

#[test]
fn raw_spotify_top_tracks_take_album_name_and_the_300_px_cover() {
    let (_, seen) = read_all(&fixture("scan_top_tracks_two_pages.json"));
    let item = seen[2].1.as_ref().expect("valid item");

    let record = to_record(TableKind::TopTracks, item).expect("valid track");

    assert_eq!(
        record,
        ImportRecord::TopTrack(TopTrackRecord {
            artist_id: "2019zR22qK2RBvCqtudBaI".into(),
            track_id: "2x2TqKPJQmW2n2HN3bLDfp".into(),
            name: "살짝 설렜어 (Nonstop)".into(),
            popularity: Some(61),
            album_name: Some("NONSTOP".into()),
            image_url: Some("https://i.scdn.co/image/nonstop-300".into()),
            rank: None,
            ignored_attributes: vec![
                "duration_ms".into(),
                "explicit".into(),
                "preview_url".into()
            ],
        })
    );
}

#[test]
fn an_item_without_id_is_rejected_naming_the_attribute() {
    let error = to_record(
        TableKind::Artists,
        &item(r#"{"name": {"S": "아이유"}, "followers": {"N": "1"}}"#),
    )
    .expect_err("no id");

    assert_eq!(
        error,
        RecordError::Missing {
            attribute: "id".into()
        }
    );
    assert_eq!(error.to_string(), "attribute `id` is missing");
    assert_eq!(error.attribute(), "id");
}

#[test]
fn required_attributes_that_are_null_or_blank_are_rejected() {
    assert_eq!(
        record_error(r#"{"id": {"S": "abc"}, "name": {"S": "  "}}"#),
        RecordError::Empty {
            attribute: "name".into()
        }
    );
    assert_eq!(
        to_record(
            TableKind::TopTracks,
            &item(r#"{"artist_id": {"S": "abc"}, "id": {"NULL": true}, "name": {"S": "t"}}"#)
        ),
        Err(RecordError::Missing {
            attribute: "track_id".into()
        })
    );
}

#[test]
fn wrong_types_are_rejected_naming_the_attribute() {
    let bool_name = record_error(r#"{"id": {"S": "abc"}, "name": {"BOOL": true}}"#);
    assert_eq!(
        bool_name.to_string(),
        "attribute `name` has type BOOL, expected S"
    );
    let map_name = record_error(r#"{"id": {"S": "abc"}, "name": {"M": {"N": {"N": "1"}}}}"#);
    assert_eq!(map_name.attribute(), "name");
    let bool_popularity =
        record_error(r#"{"id": {"S": "abc"}, "name": {"S": "x"}, "popularity": {"BOOL": true}}"#);
    assert_eq!(
        bool_popularity.to_string(),
        "attribute `popularity` has type BOOL, expected N (or S holding a number)"
    );
    let genre = record_error(
        r#"{"id": {"S": "abc"}, "name": {"S": "x"}, "genres": {"L": [{"S": "a"}, {"N": "1"}]}}"#,
    );
    assert_eq!(genre.attribute(), "genres[1]");
}

#[test]
fn numbers_out_of_range_are_rejected() {
    let artist_with = |attribute: &str, value: &str| {
        format!(r#"{{"id": {{"S": "abc"}}, "name": {{"S": "x"}}, "{attribute}": {value}}}"#)
    };
    let cases = [
        (
            artist_with("followers", r#"{"N": "-1"}"#),
            "followers",
            "-1",
        ),
        (
            artist_with("followers", r#"{"N": "9223372036854775808"}"#),
            "followers",
            "9223372036854775808",
        ),
        (
            artist_with("popularity", r#"{"N": "101"}"#),
            "popularity",
            "101",
        ),
        (
            artist_with("popularity", r#"{"S": "-5"}"#),
            "popularity",
            "-5",
        ),
    ];
    for (json, attribute, value) in cases {
        match record_error(&json) {
            RecordError::OutOfRange {
                attribute: a,
                value: v,
                ..
            } => {
                assert_eq!((a.as_str(), v.as_str()), (attribute, value), "{json}");
            }
            other => panic!("expected out of range for {json}, got {other:?}"),
        }
    }
    let rank = |rank: &str| {
        record_error(&format!(
            r#"{{"artist_id": {{"S": "abc"}}, "related_id": {{"S": "def"}}, "rank_rel": {{"N": "{rank}"}}}}"#
        ))
    };
    assert_eq!(
        rank("0").to_string(),
        "attribute `rank_rel` is 0, outside the allowed 1..=1000"
    );
    assert_eq!(rank("1001").attribute(), "rank_rel");
}

#[test]
fn non_integers_and_non_numbers_are_rejected_where_integers_are_required() {
    let with_popularity = |value: &str| {
        format!(r#"{{"id": {{"S": "abc"}}, "name": {{"S": "x"}}, "popularity": {value}}}"#)
    };
    assert_eq!(
        record_error(&with_popularity(r#"{"N": "55.5"}"#)),
        RecordError::NotAnInteger {
            attribute: "popularity".into(),
            value: "55.5".into()
        }
    );
    assert_eq!(
        record_error(&with_popularity(r#"{"S": "high"}"#)).to_string(),
        "attribute `popularity` is \"high\", which is not a number"
    );
    // Exponent notation that is an exact integer is fine.
    assert_eq!(
        artist(&with_popularity(r#"{"N": "5.5e1"}"#)).map(|a| a.popularity),
        Ok(Some(55))
    );
}

#[test]
fn spotify_ids_must_be_ascii_alphanumeric_and_keep_their_case() {
    let with_id = |id: &str| format!(r#"{{"id": {{"S": "{id}"}}, "name": {{"S": "x"}}}}"#);
    for bad in ["3HqSLMAZ-3g3d", "아이유", "abc def", &"a".repeat(65)] {
        assert!(
            matches!(record_error(&with_id(bad)), RecordError::InvalidId { ref attribute, .. } if attribute == "id"),
            "{bad}"
        );
    }
    assert_eq!(
        artist(&with_id("AbCxYz09")).map(|a| a.id),
        Ok("AbCxYz09".to_owned())
    );
}

#[test]
fn an_artist_related_to_itself_is_rejected() {
    let error = record_error(r#"{"artist_id": {"S": "abc"}, "related_id": {"S": "abc"}}"#);

    assert_eq!(
        error,
        RecordError::SelfRelated {
            artist_id: "abc".into()
        }
    );
    assert_eq!(error.attribute(), "related_id");
}

#[test]
fn aliases_that_disagree_are_rejected() {
    let error = record_error(
        r#"{"artist_id": {"S": "abc"}, "related_id": {"S": "def"}, "y_artist": {"S": "ghi"}}"#,
    );

    assert_eq!(
        error.to_string(),
        "attributes `related_id` (\"def\") and `y_artist` (\"ghi\") disagree"
    );
}

#[test]
fn blank_or_null_optional_values_become_none() {
    let artist = artist(
        r#"{"id": {"S": "abc"}, "name": {"S": "x"}, "url": {"S": ""}, "image_url": {"NULL": true},
            "popularity": {"S": ""}, "genres": {"NULL": true}}"#,
    )
    .expect("valid artist");

    assert_eq!(
        (
            artist.url,
            artist.image_url,
            artist.popularity,
            artist.genres
        ),
        (None, None, None, vec![])
    );
}

#[test]
fn similarity_scores_keep_their_direction() {
    let record = record(
        r#"{"artist_id": {"S": "abc"}, "related_id": {"S": "def"}, "similarity": {"N": "0.87"}, "rank": {"S": "3"}}"#,
    );

    assert!(matches!(
        record,
        Ok(ImportRecord::Related(RelatedRecord { rank: Some(3), score: Some(RelatedScore::Similarity(s)), .. })) if s == 0.87
    ));
}

// ---------------------------------------------------------------- typed values and numbers

#[test]
fn every_type_tag_reads_and_each_malformed_value_is_named_by_its_path() {
    let item = item(
        r#"{"s":{"S":"아이유"},"n":{"N":"1.5e3"},"t":{"BOOL":true},"z":{"NULL":true},
            "l":{"L":[{"S":"a"}]},"m":{"M":{"k":{"N":"1"}}},"ss":{"SS":["a"]},
            "ns":{"NS":["2.5"]},"b":{"B":"AAE="},"bs":{"BS":["AA=="]}}"#,
    );
    let s = |text: &str| text.to_owned();
    let expected = [
        ("b", AttrValue::B(s("AAE="))),
        ("bs", AttrValue::Bs(vec![s("AA==")])),
        ("l", AttrValue::L(vec![AttrValue::S(s("a"))])),
        ("m", AttrValue::M([(s("k"), AttrValue::N(s("1")))].into())),
        ("n", AttrValue::N(s("1.5e3"))),
        ("ns", AttrValue::Ns(vec![s("2.5")])),
        ("s", AttrValue::S(s("아이유"))),
        ("ss", AttrValue::Ss(vec![s("a")])),
        ("t", AttrValue::Bool(true)),
        ("z", AttrValue::Null),
    ];
    assert_eq!(item, expected.map(|(k, v)| (s(k), v)).into());

    let wrong = |tag, expected, found| AttrProblem::WrongJsonType {
        tag,
        expected,
        found,
    };
    let cases = [
        (
            r#"{"a":{"N":"1_000"}}"#,
            "a",
            AttrProblem::InvalidNumber(s("1_000")),
        ),
        (
            r#"{"a":{"NS":["1","inf"]}}"#,
            "a[1]",
            AttrProblem::InvalidNumber(s("inf")),
        ),
        (r#"{"a":{}}"#, "a", AttrProblem::NoTag),
        (r#"{"a":{"S":"x","N":"1"}}"#, "a", AttrProblem::SeveralTags),
        (r#"{"a":{"NULL":false}}"#, "a", AttrProblem::NullNotTrue),
        (
            r#"{"a":{"S":"x"},"a":{"S":"y"}}"#,
            "a",
            AttrProblem::Duplicate,
        ),
        (
            r#"{"a":"NULL"}"#,
            "a",
            AttrProblem::NotTyped { found: "a string" },
        ),
        (
            r#"{"g":{"L":[{"S":"k"},{"X":"?"}]}}"#,
            "g[1]",
            AttrProblem::UnknownTag(s("X")),
        ),
        (
            r#"{"a":{"L":{"S":"x"}}}"#,
            "a",
            wrong("L", "an array", "an object"),
        ),
        (
            r#"{"m":{"M":{"k":"x"}}}"#,
            "m.k",
            AttrProblem::NotTyped { found: "a string" },
        ),
        (
            r#"{"a":{"SS":["x",[1]]}}"#,
            "a[1]",
            wrong("SS", "an array of strings", "an array"),
        ),
        (
            r#"{"album":{"M":{"images":{"L":[{"M":{"height":{"N":300}}}]}}}}"#,
            "album.images[0].height",
            wrong("N", "a string", "a number"),
        ),
    ];
    for (json, path, problem) in cases {
        let expected = ItemError::Attribute {
            path: s(path),
            problem,
        };
        assert_eq!(parse_item(json), Err(expected), "{json}");
    }
    assert_eq!(
        parse_item(r#"["not", "an", "item"]"#),
        Err(ItemError::NotAnObject { found: "an array" })
    );
    assert_eq!(
        parse_item(r#"{"id": "plain"}"#),
        Err(ItemError::Attribute {
            path: s("id"),
            problem: AttrProblem::NotTyped { found: "a string" }
        })
    );
}

#[test]
fn numbers_are_read_exactly_whatever_their_notation_and_never_rounded() {
    let followers = |value: &str| {
        artist(&format!(
            r#"{{"id": {{"S": "abc"}}, "name": {{"S": "x"}}, "followers": {{"N": "{value}"}}}}"#
        ))
        .map(|a| a.followers)
    };
    for (text, value) in [
        ("1.5e3", 1500),
        ("1500.000", 1500),
        ("+7", 7),
        ("0.000e-5", 0),
        ("12E+1", 120),
        ("00012", 12),
        ("9223372036854775807", i64::MAX),
    ] {
        assert_eq!(followers(text), Ok(Some(value)), "{text}");
    }
    let long_fraction = "1.00000000000000000000000000000001";
    for text in ["12.5", "1.55e1", "5e-1", "1e-999999999", long_fraction] {
        let error = followers(text).expect_err(text);
        assert!(
            matches!(error, RecordError::NotAnInteger { .. }),
            "{text}: {error}"
        );
    }
    let huge = [
        "9223372036854775808",
        "1e19",
        "1e999999999",
        "1e99999999999999999999",
    ];
    for text in huge.into_iter().chain(["9".repeat(38).as_str()]) {
        let error = followers(text).expect_err(text);
        assert!(
            matches!(error, RecordError::OutOfRange { .. }),
            "{text}: {error}"
        );
    }
    for text in [
        "-", ".", "1e", "1e+", "1.2.3", "inf", "NaN", "0x10", "1_000",
    ] {
        let json = format!(
            r#"{{"id": {{"S": "abc"}}, "name": {{"S": "x"}}, "followers": {{"S": "{text}"}}}}"#
        );
        let error = record_error(&json);
        assert!(
            matches!(error, RecordError::NotANumber { .. }),
            "{text}: {error}"
        );
    }
    let score = |attribute: &str, value: &str| {
        record(&format!(
            r#"{{"artist_id": {{"S": "a"}}, "related_id": {{"S": "b"}}, "{attribute}": {{"N": "{value}"}}}}"#
        ))
    };
    assert!(matches!(
        score("similarity", "-1.5e2"),
        Ok(ImportRecord::Related(RelatedRecord { score: Some(RelatedScore::Similarity(s)), .. })) if s == -150.0
    ));
    assert!(matches!(
        score("distance", ".5"),
        Ok(ImportRecord::Related(RelatedRecord { score: Some(RelatedScore::Distance(d)), .. })) if d == 0.5
    ));
    assert_eq!(
        score("distance", "1e999").map_err(|e| e.to_string()),
        Err("attribute `distance` is 1e999, outside the allowed a finite float".into())
    );
}

// ---------------------------------------------------------------- table detection

#[test]
fn each_table_is_recognized_from_its_attributes() {
    let cases = [
        (
            r#"{"id": {"S": "a"}, "name": {"S": "아이유"}}"#,
            Some(TableKind::Artists),
        ),
        (
            r#"{"id": {"S": "t"}, "artist_id": {"S": "a"}, "name": {"S": "밤편지"}}"#,
            Some(TableKind::TopTracks),
        ),
        (
            r#"{"track_id": {"S": "t"}, "artist_id": {"S": "a"}}"#,
            Some(TableKind::TopTracks),
        ),
        (
            r#"{"artist_id": {"S": "a"}, "related_id": {"S": "b"}, "rank_rel": {"N": "1"}}"#,
            Some(TableKind::RelatedArtists),
        ),
        (
            r#"{"artist_id": {"S": "a"}, "y_artist": {"S": "b"}, "distance": {"N": "0.5"}}"#,
            Some(TableKind::RelatedArtists),
        ),
        // Ambiguous: a track id and a related id.
        (
            r#"{"artist_id": {"S": "a"}, "related_id": {"S": "b"}, "track_id": {"S": "t"}}"#,
            None,
        ),
        // Unknown: nothing that identifies a table.
        (r#"{"artist_id": {"S": "a"}}"#, None),
        (r#"{"title": {"S": "x"}}"#, None),
        // An id without a name is no artist; a NULL name counts as absent.
        (r#"{"id": {"S": "a"}}"#, None),
        (r#"{"id": {"S": "a"}, "name": {"NULL": true}}"#, None),
    ];
    for (json, expected) in cases {
        assert_eq!(detect_table(&item(json)), expected, "{json}");
    }
}

// ---------------------------------------------------------------- places

#[test]
fn item_places_display_as_people_read_them() {
    let place = |page, index, line| ItemPlace {
        file: Arc::from(Path::new("artists.json")),
        page,
        index,
        line,
    };
    assert_eq!(
        place(Some(2), 17, None).to_string(),
        "artists.json page 2 item 17"
    );
    assert_eq!(
        place(Some(2), 17, Some(312)).to_string(),
        "artists.json page 2 item 17 (line 312)"
    );
    let line = ItemPlace {
        file: Arc::from(Path::new("export.json.gz")),
        page: None,
        index: 900,
        line: Some(1042),
    };
    assert_eq!(line.to_string(), "export.json.gz line 1042");
    assert_eq!(place(None, 5, None).to_string(), "artists.json item 5");
}

// ---------------------------------------------------------------- volume

#[test]
fn twenty_thousand_items_stream_through_the_callback_without_collecting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("big.json");
    let mut out = std::io::BufWriter::new(fs::File::create(&path).expect("create"));
    let per_page = 5000;
    for page in 0..4 {
        out.write_all(b"{\n    \"Items\": [\n").expect("write");
        for i in 0..per_page {
            let n = page * per_page + i;
            let separator = if i + 1 < per_page { "," } else { "" };
            writeln!(
                out,
                r#"        {{"id": {{"S": "artist{n}"}}, "name": {{"S": "가수 {n}"}}, "popularity": {{"N": "{}"}}}}{separator}"#,
                n % 101
            )
            .expect("write");
        }
        writeln!(
            out,
            "    ],\n    \"Count\": {per_page},\n    \"ScannedCount\": {per_page},\n    \"LastEvaluatedKey\": {{\"id\": {{\"S\": \"x\"}}}}\n}}"
        )
        .expect("write");
    }
    drop(out);

    let (mut valid, mut popularity_sum) = (0usize, 0i64);
    let summary = read_export(&path, |_, item| {
        if let Ok(ImportRecord::Artist(a)) = item
            .map_err(|e| e.to_string())
            .and_then(|item| to_record(TableKind::Artists, &item).map_err(|e| e.to_string()))
        {
            valid += 1;
            popularity_sum += i64::from(a.popularity.unwrap_or(0));
        }
        ControlFlow::Continue(())
    })
    .expect("reads");

    assert_eq!((summary.pages, summary.items, valid), (4, 20_000, 20_000));
    assert!(summary.last_page_continues);
    assert_eq!(popularity_sum, (0..20_000i64).map(|n| n % 101).sum::<i64>());
}
