//! One import run: export files in, catalog rows out, every item accounted for.
//!
//! Owns the order of work and the counting. Files are planned first: each holds one table,
//! the one given with `--table`, else the one its first recognizable item belongs to
//! (DynamoDB scans and exports are per table); its data counts as fetched at
//! `--fetched-at`, else at the file's modification time (items carry no fetch time), and
//! never later than now (a future time would outrank every later sync). Artist files are
//! streamed first, whatever the argument order: a reader thread parses and validates items
//! and hands batches to the store while it reads on, so parsing and writing overlap.
//! Top-track and related-artist files follow; their records may come in any order across
//! files, so each artist's best rows are gathered in [`Groups`] (bounded per artist) and
//! written once every file is read, in batches of a few hundred rows, artist by artist in
//! id order (top tracks and related artists side by side).
//!
//! A record is rejected, with its place, when its item is malformed, when it does not map
//! to its table (missing id, wrong type, number out of range), when it belongs to another
//! table than its file, or when it names an artist that is neither in the catalog nor
//! among the artists of this import. Good records are imported either way.
//!
//! Must not touch: queries (the store decides inserted/updated/unchanged), printing (the
//! command does it from [`ImportEvent`]s), providers.

use std::collections::HashSet;
use std::mem;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use tokio::sync::mpsc;

use super::groups::{ArtistIndex, Groups, RelatedCandidate, TrackCandidate};
use super::reader::{ExportError, read_export};
use super::record::{ImportRecord, TableKind, detect_table, to_record};
use super::report::{FileReport, ImportReport, Rejection};
use crate::catalog::{ArtistProfile, TopTrack};
use crate::store::import::{
    IMPORT_BATCH_ROWS, ImportMode, ImportWrites, ImportedArtist, ImportedList,
};
use crate::store::ranked::{RankedTable, RelatedArtists, TopTracks};
use crate::store::{self, Store, StoreError};

/// What to import and how.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub files: Vec<PathBuf>,
    /// The table every file holds; recognized per file from its items when `None`.
    pub table: Option<TableKind>,
    /// When the exported data was fetched; each file's modification time when `None`.
    pub fetched_at: Option<NaiveDateTime>,
    /// Read, validate and decide everything, write nothing.
    pub dry_run: bool,
    /// Top tracks kept per artist (the sync's `tracks_kept`).
    pub tracks_kept: usize,
    /// Related artists kept per artist (the sync's `related_kept`).
    pub related_kept: usize,
}

/// What an import reports as it goes, so a command can show it at once.
#[derive(Clone, Copy, Debug)]
pub enum ImportEvent<'a> {
    /// A file was read to its end.
    FileRead(&'a FileReport),
    /// An item, or the rest of a file, could not be imported.
    Rejected(&'a Rejection),
}

/// Receives [`ImportEvent`]s; called from reader threads, so it must be `Send + Sync`.
pub type EventSink = Arc<dyn Fn(ImportEvent<'_>) + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no export files given")]
    NoFiles,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A reader thread panicked or was cancelled: a bug, not a data problem.
    #[error("reading the export files stopped unexpectedly")]
    Reader(#[source] tokio::task::JoinError),
}

/// Imports DynamoDB export files into the catalog; see the module docs. Rejections do not
/// make this fail: they are in the report (and were sent to `events` as they happened).
pub async fn import_dynamodb(
    store: &Store,
    options: &ImportOptions,
    events: EventSink,
) -> Result<ImportReport, ImportError> {
    if options.files.is_empty() {
        return Err(ImportError::NoFiles);
    }
    let started = Instant::now();
    let now = store::now();
    let mode = match options.dry_run {
        true => ImportMode::DryRun,
        false => ImportMode::Write,
    };
    let mut report = ImportReport {
        dry_run: options.dry_run,
        ..ImportReport::default()
    };

    let (paths, table, fetched_at) = (options.files.clone(), options.table, options.fetched_at);
    let (files, unreadable) = blocking(move || plan_files(&paths, table, fetched_at, now)).await?;
    for problem in &unreadable {
        report.failed_files += 1;
        events(ImportEvent::Rejected(problem));
    }
    let mut index = ArtistIndex::default();
    for id in store.artist_ids().await? {
        index.insert(&id);
    }
    let table_given = options.table.is_some();
    let (artist_files, list_files): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|file| file.table == TableKind::Artists);

    // Artists: a reader thread sends batches while the store writes the previous one.
    let (batches, mut received) = mpsc::channel::<Vec<ImportedArtist>>(2);
    let reading_events = events.clone();
    let reading = tokio::task::spawn_blocking(move || {
        read_artist_files(&artist_files, table_given, index, &batches, &reading_events)
    });
    while let Some(batch) = received.recv().await {
        let writes = store.import_artists(&batch, now, mode).await?;
        report.artists.add_writes(writes);
    }
    let (index, artists_read) = reading.await.map_err(ImportError::Reader)?;
    report.absorb(artists_read);

    // Top tracks and related artists: grouped per artist across all files, then written.
    let kept = (options.tracks_kept, options.related_kept);
    let (index, lists, lists_read) =
        blocking(move || read_list_files(&list_files, table_given, index, kept, &events)).await?;
    report.absorb(lists_read);
    tracing::debug!(
        artists = index.len(),
        track_lists = lists.tracks.artists(),
        related_lists = lists.related.artists(),
        "files read; writing top tracks and related artists"
    );
    // Two connections, two tables: one list's round trips overlap the other's. Safe on
    // both backends: these writes only take shared locks on `artists` (foreign key checks)
    // on MySQL, and SQLite's second writer waits (busy timeout) for the first's commit.
    let related_id = |row: &RelatedCandidate| index.id(row.related).to_owned();
    let (tracks, related) = tokio::join!(
        write_lists::<TopTracks, _>(store, lists.tracks, &index, mode, top_track),
        write_lists::<RelatedArtists, _>(store, lists.related, &index, mode, related_id),
    );
    report.top_tracks.add_writes(tracks?);
    report.related.add_writes(related?);

    report.elapsed = started.elapsed();
    Ok(report)
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ImportError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ImportError::Reader)
}

/// An export file ready to be read.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ExportFile {
    path: PathBuf,
    table: TableKind,
    fetched_at: NaiveDateTime,
}

/// The files to read, artists first (otherwise in the order given), and the files that
/// cannot be read, each as a rejection naming the file. Files without any item are left
/// out silently: export partitions can be empty. Blocking file I/O.
fn plan_files(
    paths: &[PathBuf],
    table: Option<TableKind>,
    fetched_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> (Vec<ExportFile>, Vec<Rejection>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let planned = file_fetched_at(path, fetched_at, now).and_then(|fetched_at| {
            let table = match table {
                Some(table) => Some(table),
                None => recognize_table(path)?,
            };
            let path = path.clone();
            Ok(table.map(|table| ExportFile {
                path,
                table,
                fetched_at,
            }))
        });
        match planned {
            Ok(file) => files.extend(file),
            Err(problem) => problems.push(problem),
        }
    }
    // A stable sort: within artists, and within the rest, the given order stays.
    files.sort_by_key(|file| file.table != TableKind::Artists);
    (files, problems)
}

/// The table of the first item that belongs to one; `None` for a file with no items.
fn recognize_table(path: &Path) -> Result<Option<TableKind>, Rejection> {
    let mut found = None;
    let read = read_export(path, |_, item| {
        found = item.ok().as_ref().and_then(detect_table);
        match found {
            Some(_) => ControlFlow::Break(()),
            None => ControlFlow::Continue(()),
        }
    });
    match (found, read) {
        (Some(table), _) => Ok(Some(table)),
        (None, Err(error)) => Err(file_rejection(&error, None)),
        (None, Ok(summary)) if summary.items == 0 => Ok(None),
        (None, Ok(_)) => Err(Rejection {
            place: path.display().to_string(),
            table: None,
            reason: "no item is recognizable as an artist (id and name), a top track (track \
                     id and artist_id) or a related artist (artist_id and related_id); give \
                     --table to say which table the file holds"
                .into(),
        }),
    }
}

/// When a file's data counts as fetched: `given`, else its modification time; at most `now`.
fn file_fetched_at(
    path: &Path,
    given: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Result<NaiveDateTime, Rejection> {
    let at = match given {
        Some(at) => at,
        None => {
            let modified = std::fs::metadata(path).and_then(|m| m.modified());
            let modified = modified.map_err(|error| Rejection {
                place: path.display().to_string(),
                table: None,
                reason: format!("cannot be read: {error}"),
            })?;
            DateTime::<Utc>::from(modified).naive_utc().trunc_subsecs(0)
        }
    };
    Ok(at.min(now))
}

/// A file that could not be read to its end, as a rejection naming the place.
fn file_rejection(error: &ExportError, table: Option<TableKind>) -> Rejection {
    let rest = "the rest of the file was not read";
    let (place, reason) = match error {
        ExportError::Io { file, source } => (
            file.display().to_string(),
            format!("cannot be read: {source}; {rest}"),
        ),
        ExportError::Syntax {
            file,
            line,
            column,
            message,
        } => (
            format!("{} line {line}, column {column}", file.display()),
            format!("malformed JSON: {message}; {rest}"),
        ),
        ExportError::NotAScanPage {
            file,
            line,
            column,
            message,
        } => (
            format!("{} line {line}, column {column}", file.display()),
            format!("not a DynamoDB scan page: {message}; {rest}"),
        ),
        ExportError::UnrecognizedFormat { file, found } => (
            file.display().to_string(),
            format!("not a DynamoDB export: found {found}"),
        ),
    };
    Rejection {
        place,
        table,
        reason,
    }
}

/// What the caller of [`read_records`] decided about one valid record.
enum Verdict {
    Taken,
    /// Valid, but already imported in this run.
    LeftOut,
    Rejected(String),
    /// Stop reading (the writer is gone).
    Stop,
}

/// Reads one file, hands each record of its table to `decide`, and counts and reports the
/// rest. Items detected as another table than the file's are rejected unless the table was
/// given (then the user said what the file holds).
fn read_records(
    file: &ExportFile,
    table_given: bool,
    report: &mut ImportReport,
    events: &EventSink,
    mut decide: impl FnMut(ImportRecord) -> Verdict,
) {
    let table = file.table;
    let mut stopped = false;
    let mut counts = *report.table_mut(table);
    let mut ignored = Vec::new();
    let summary = read_export(&file.path, |place, item| {
        counts.read += 1;
        let record =
            item.map_err(|error| error.to_string())
                .and_then(|item| match detect_table(&item) {
                    Some(other) if other != table && !table_given => Err(format!(
                        "an item of {other} in a file of {table} (recognized from its first item); \
                     give each table its own file"
                    )),
                    _ => to_record(table, &item).map_err(|error| error.to_string()),
                });
        let verdict = match record {
            Ok(record) => {
                ignored.extend_from_slice(record.ignored_attributes());
                decide(record)
            }
            Err(reason) => Verdict::Rejected(reason),
        };
        match verdict {
            Verdict::Taken => {}
            Verdict::LeftOut => counts.left_out += 1,
            Verdict::Rejected(reason) => {
                counts.rejected += 1;
                let place = place.to_string();
                let table = Some(table);
                events(ImportEvent::Rejected(&Rejection {
                    place,
                    table,
                    reason,
                }));
            }
            Verdict::Stop => {
                stopped = true;
                return ControlFlow::Break(());
            }
        }
        // Names are counted in bulk now and then, not item by item.
        if ignored.len() >= 1024 {
            report.count_ignored(&mem::take(&mut ignored));
        }
        ControlFlow::Continue(())
    });
    report.count_ignored(&ignored);
    *report.table_mut(table) = counts;
    match summary {
        Ok(summary) if !stopped => {
            let file_report = FileReport {
                path: file.path.clone(),
                table,
                fetched_at: file.fetched_at,
                format: summary.format,
                gzip: summary.gzip,
                pages: summary.pages,
                items: summary.items,
                last_page_continues: summary.last_page_continues,
                count_mismatches: summary.count_mismatches,
            };
            events(ImportEvent::FileRead(&file_report));
            report.files.push(file_report);
        }
        Ok(_) => {}
        Err(error) => {
            report.failed_files += 1;
            events(ImportEvent::Rejected(&file_rejection(&error, Some(table))));
        }
    }
}

/// Reads the artist files, sending batches of valid artists; returns the index with the
/// import's artists added, and the counts.
fn read_artist_files(
    files: &[ExportFile],
    table_given: bool,
    mut index: ArtistIndex,
    batches: &mpsc::Sender<Vec<ImportedArtist>>,
    events: &EventSink,
) -> (ArtistIndex, ImportReport) {
    let mut report = ImportReport::default();
    let mut imported = HashSet::new();
    let mut batch = Vec::with_capacity(IMPORT_BATCH_ROWS);
    let mut writer_gone = false;
    for file in files {
        if writer_gone {
            break;
        }
        read_records(file, table_given, &mut report, events, |record| {
            let ImportRecord::Artist(artist) = record else {
                return Verdict::Rejected("not an artist".into());
            };
            if !imported.insert(index.insert(&artist.id)) {
                return Verdict::LeftOut;
            }
            batch.push(ImportedArtist {
                profile: ArtistProfile {
                    id: artist.id,
                    name: artist.name,
                    followers: artist.followers,
                    popularity: artist.popularity,
                    url: artist.url,
                    image_url: artist.image_url,
                    genres: artist.genres,
                },
                fetched_at: file.fetched_at,
            });
            if batch.len() >= IMPORT_BATCH_ROWS {
                let full = mem::replace(&mut batch, Vec::with_capacity(IMPORT_BATCH_ROWS));
                if batches.blocking_send(full).is_err() {
                    writer_gone = true;
                    return Verdict::Stop;
                }
            }
            Verdict::Taken
        });
    }
    if !batch.is_empty() && !writer_gone {
        // The writer may have failed meanwhile; its error is the one reported.
        let _ = batches.blocking_send(batch);
    }
    (index, report)
}

/// Every artist's best top tracks and related artists.
struct Lists {
    tracks: Groups<TrackCandidate>,
    related: Groups<RelatedCandidate>,
}

/// Reads the top-track and related-artist files into per-artist groups (keeping
/// `tracks_kept` and `related_kept` each), checking every artist id against `index`.
fn read_list_files(
    files: &[ExportFile],
    table_given: bool,
    index: ArtistIndex,
    (tracks_kept, related_kept): (usize, usize),
    events: &EventSink,
) -> (ArtistIndex, Lists, ImportReport) {
    let mut report = ImportReport::default();
    let mut lists = Lists {
        tracks: Groups::new(tracks_kept),
        related: Groups::new(related_kept),
    };
    let known = |id: &str, what: &str| {
        index.get(id).ok_or_else(|| {
            Verdict::Rejected(format!(
                "{what} `{id}` is neither in the catalog nor among the imported artists"
            ))
        })
    };
    for file in files {
        read_records(file, table_given, &mut report, events, |record| {
            let offered = match record {
                ImportRecord::TopTrack(track) => known(&track.artist_id, "artist_id").map(|a| {
                    let from = (a, file.fetched_at);
                    lists.tracks.offer_track(from, track.into());
                }),
                ImportRecord::Related(related) => known(&related.artist_id, "artist_id")
                    .and_then(|a| Ok((a, known(&related.related_id, "related artist")?)))
                    .map(|(a, other)| {
                        let candidate = RelatedCandidate::new(other, &related);
                        let from = (a, file.fetched_at);
                        lists.related.offer_related(from, candidate, &index);
                    }),
                ImportRecord::Artist(_) => {
                    Err(Verdict::Rejected("an artist in a file of lists".into()))
                }
            };
            offered.map_or_else(|rejected| rejected, |()| Verdict::Taken)
        });
    }
    report.top_tracks.left_out += lists.tracks.left_out();
    report.related.left_out += lists.related.left_out();
    (index, lists, report)
}

/// Writes one table's grouped lists in batches of about [`IMPORT_BATCH_ROWS`] rows.
async fn write_lists<T: RankedTable, C>(
    store: &Store,
    groups: Groups<C>,
    index: &ArtistIndex,
    mode: ImportMode,
    item: impl Fn(&C) -> T::Item,
) -> Result<ImportWrites, StoreError> {
    let mut writes = ImportWrites::default();
    let mut batch = Vec::new();
    let mut rows = 0;
    let groups = groups.into_sorted(index);
    let last = groups.len();
    for (position, (artist, group)) in groups.into_iter().enumerate() {
        rows += group.rows.len();
        batch.push(ImportedList {
            artist_id: index.id(artist).to_owned(),
            fetched_at: group.fetched_at,
            items: group.rows.iter().map(&item).collect(),
        });
        if rows >= IMPORT_BATCH_ROWS || position + 1 == last {
            writes.add(
                store
                    .import_lists::<T>(&mem::take(&mut batch), mode)
                    .await?,
            );
            rows = 0;
        }
    }
    Ok(writes)
}

fn top_track(candidate: &TrackCandidate) -> TopTrack {
    TopTrack {
        id: candidate.track_id().to_owned(),
        name: candidate.name().to_owned(),
        album_name: candidate.album_name().map(str::to_owned),
        image_url: candidate.image_url().map(str::to_owned),
        popularity: candidate.popularity,
        // The old bot kept none of these; the sync fills them in.
        deezer_rank: None,
        isrc: None,
        url: None,
        duration_ms: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").expect("valid time")
    }

    #[test]
    fn artist_files_come_first_and_unrecognizable_files_ask_for_the_table() {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write a test file");
            path
        };
        let related = write(
            "related.json",
            "{\"Item\":{\"artist_id\":{\"S\":\"a\"},\"related_id\":{\"S\":\"b\"}}}\n",
        );
        let artists = write(
            "artists.json",
            "{\"Items\":[{\"bad\":{\"S\":\"x\"}},{\"id\":{\"S\":\"a\"},\"name\":{\"S\":\"A\"}}]}",
        );
        let empty = write("empty.json", "\n");
        let odd = write("odd.json", "{\"Item\":{\"title\":{\"S\":\"x\"}}}\n");
        let now = time("2026-11-27 00:00:00");

        let (files, problems) =
            plan_files(&[related, empty, odd.clone(), artists], None, None, now);

        let tables: Vec<_> = files.iter().map(|f| f.table).collect();
        assert_eq!(tables, [TableKind::Artists, TableKind::RelatedArtists]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].reason.contains("--table"), "{problems:?}");
        let (files, _) = plan_files(&[odd], Some(TableKind::Artists), None, now);
        assert_eq!(files.len(), 1);
    }

    #[test]
    fn fetched_at_is_given_or_the_modification_time_and_never_in_the_future() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a.json");
        std::fs::write(&path, "\n").expect("write a test file");
        let modified = time("2023-01-10 09:30:00");
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(modified.and_utc().into()))
            .expect("set the modification time");
        let now = time("2026-11-27 00:00:00");

        assert_eq!(file_fetched_at(&path, None, now).ok(), Some(modified));
        let given = time("2024-05-01 00:00:00");
        assert_eq!(file_fetched_at(&path, Some(given), now).ok(), Some(given));
        let future = time("2030-01-01 00:00:00");
        assert_eq!(file_fetched_at(&path, Some(future), now).ok(), Some(now));
    }
}
