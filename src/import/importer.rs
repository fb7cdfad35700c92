//! One import run: export files in, catalog rows out, every item accounted for.
//!
//! Owns the order of work and the counting. Files are planned first (their table and
//! fetched-at time, artists first). Artist files are then streamed: a reader thread parses
//! and validates items and hands batches to the store while it reads on, so parsing and
//! writing overlap. Top-track and related-artist files are read next; their records may
//! come in any order across files, so each artist's best rows are gathered in
//! [`Groups`] (bounded per artist) and written once every file is read, in batches of a few
//! hundred rows, artist by artist in id order (top tracks and related artists side by side).
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
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDateTime;
use thiserror::Error;
use tokio::sync::mpsc;

use super::files::{ExportFile, file_rejection, plan_files};
use super::groups::{ArtistIndex, ArtistKey, Groups, RelatedCandidate, TrackCandidate};
use super::reader::read_export;
use super::record::{ImportRecord, to_record};
use super::report::{FileReport, ImportReport, Rejection, TableCounts};
use super::table::{TableKind, detect_table};
use crate::catalog::{ArtistProfile, TopTrack};
use crate::store::import::{
    IMPORT_BATCH_ROWS, ImportMode, ImportedArtist, ImportedRelated, ImportedTopTracks,
};
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
    /// A file was read (to its end, or until a file-level error reported as a rejection).
    FileRead(&'a FileReport),
    /// An item, or the rest of a file, could not be imported.
    Rejected(&'a Rejection),
}

/// Receives [`ImportEvent`]s; called from reader threads, so it must be `Send + Sync`.
pub type EventSink = Arc<dyn Fn(ImportEvent<'_>) + Send + Sync>;

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("no export files given")]
    NoFiles,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A reader thread panicked or was cancelled: a bug, not a data problem.
    #[error("reading the export files stopped unexpectedly: {0}")]
    Reader(String),
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
    let mode = if options.dry_run {
        ImportMode::DryRun
    } else {
        ImportMode::Write
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
    let (index, artists_read) = reading
        .await
        .map_err(|error| ImportError::Reader(error.to_string()))?;
    absorb(&mut report, artists_read);

    // Top tracks and related artists: grouped per artist across all files, then written.
    let (tracks_kept, related_kept) = (options.tracks_kept, options.related_kept);
    let reading_events = events.clone();
    let (index, lists, lists_read) = blocking(move || {
        read_list_files(
            &list_files,
            table_given,
            index,
            tracks_kept,
            related_kept,
            &reading_events,
        )
    })
    .await?;
    absorb(&mut report, lists_read);
    tracing::debug!(
        artists = index.len(),
        track_lists = lists.tracks.artists(),
        related_lists = lists.related.artists(),
        "files read; writing top tracks and related artists"
    );
    // Two connections, two tables: one list's round trips overlap the other's. Safe on
    // both backends: these writes only take shared locks on `artists` (foreign key checks)
    // on MySQL, and SQLite's second writer waits (busy timeout) for the first's commit.
    let (tracks, related) = tokio::join!(
        write_top_tracks(store, lists.tracks, &index, mode, &mut report.top_tracks),
        write_related(store, lists.related, &index, mode, &mut report.related),
    );
    tracks?;
    related?;

    report.elapsed = started.elapsed();
    Ok(report)
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ImportError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ImportError::Reader(error.to_string()))
}

/// Adds what a reader counted (reads, rejections, files) to the run's report.
fn absorb(report: &mut ImportReport, read: ImportReport) {
    report.artists.add(&read.artists);
    report.top_tracks.add(&read.top_tracks);
    report.related.add(&read.related);
    report.files.extend(read.files);
    report.failed_files += read.failed_files;
    report.ignored_attributes += read.ignored_attributes;
    for (name, count) in read.ignored_by_name {
        *report.ignored_by_name.entry(name).or_default() += count;
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
    let mut counts = *report.table(table);
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
                ignored.extend(ignored_attributes(&record).iter().cloned());
                decide(record)
            }
            Err(reason) => Verdict::Rejected(reason),
        };
        match verdict {
            Verdict::Taken => {}
            Verdict::LeftOut => counts.left_out += 1,
            Verdict::Rejected(reason) => {
                counts.rejected += 1;
                events(ImportEvent::Rejected(&Rejection {
                    place: place.to_string(),
                    table: Some(table),
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

fn ignored_attributes(record: &ImportRecord) -> &[String] {
    match record {
        ImportRecord::Artist(a) => &a.ignored_attributes,
        ImportRecord::TopTrack(t) => &t.ignored_attributes,
        ImportRecord::Related(r) => &r.ignored_attributes,
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
    let mut imported: HashSet<ArtistKey> = HashSet::new();
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

/// Reads the top-track and related-artist files into per-artist groups, checking every
/// artist id against `index`.
fn read_list_files(
    files: &[ExportFile],
    table_given: bool,
    index: ArtistIndex,
    tracks_kept: usize,
    related_kept: usize,
    events: &EventSink,
) -> (ArtistIndex, Lists, ImportReport) {
    let mut report = ImportReport::default();
    let mut lists = Lists {
        tracks: Groups::new(tracks_kept),
        related: Groups::new(related_kept),
    };
    let unknown = |id: &str, what: &str| {
        Verdict::Rejected(format!(
            "{what} `{id}` is neither in the catalog nor among the imported artists"
        ))
    };
    for file in files {
        read_records(file, table_given, &mut report, events, |record| {
            match record {
                ImportRecord::TopTrack(track) => {
                    let Some(artist) = index.get(&track.artist_id) else {
                        return unknown(&track.artist_id, "artist_id");
                    };
                    lists
                        .tracks
                        .offer_track(artist, file.fetched_at, track.into());
                }
                ImportRecord::Related(related) => {
                    let Some(artist) = index.get(&related.artist_id) else {
                        return unknown(&related.artist_id, "artist_id");
                    };
                    let Some(other) = index.get(&related.related_id) else {
                        return unknown(&related.related_id, "related artist");
                    };
                    let candidate = RelatedCandidate::new(other, &related);
                    lists
                        .related
                        .offer_related(artist, file.fetched_at, candidate, &index);
                }
                ImportRecord::Artist(_) => {
                    return Verdict::Rejected("an artist in a file of lists".into());
                }
            }
            Verdict::Taken
        });
    }
    report.top_tracks.left_out += lists.tracks.offered() - lists.tracks.held();
    report.related.left_out += lists.related.offered() - lists.related.held();
    (index, lists, report)
}

/// Writes the grouped top tracks in batches of about [`IMPORT_BATCH_ROWS`] rows.
async fn write_top_tracks(
    store: &Store,
    groups: Groups<TrackCandidate>,
    index: &ArtistIndex,
    mode: ImportMode,
    counts: &mut TableCounts,
) -> Result<(), StoreError> {
    let mut batch = Vec::new();
    let mut rows = 0;
    for (artist, group) in groups.into_sorted(index) {
        rows += group.rows.len();
        batch.push(ImportedTopTracks {
            artist_id: index.id(artist).to_owned(),
            fetched_at: group.fetched_at,
            tracks: group.rows.iter().map(top_track).collect(),
        });
        if rows >= IMPORT_BATCH_ROWS {
            let writes = store
                .import_top_tracks(&mem::take(&mut batch), mode)
                .await?;
            counts.add_writes(writes);
            rows = 0;
        }
    }
    if !batch.is_empty() {
        let writes = store.import_top_tracks(&batch, mode).await?;
        counts.add_writes(writes);
    }
    Ok(())
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

/// Writes the grouped related artists in batches of about [`IMPORT_BATCH_ROWS`] rows.
async fn write_related(
    store: &Store,
    groups: Groups<RelatedCandidate>,
    index: &ArtistIndex,
    mode: ImportMode,
    counts: &mut TableCounts,
) -> Result<(), StoreError> {
    let mut batch = Vec::new();
    let mut rows = 0;
    for (artist, group) in groups.into_sorted(index) {
        rows += group.rows.len();
        batch.push(ImportedRelated {
            artist_id: index.id(artist).to_owned(),
            fetched_at: group.fetched_at,
            related_ids: group
                .rows
                .iter()
                .map(|row| index.id(row.related).to_owned())
                .collect(),
        });
        if rows >= IMPORT_BATCH_ROWS {
            let writes = store.import_related(&mem::take(&mut batch), mode).await?;
            counts.add_writes(writes);
            rows = 0;
        }
    }
    if !batch.is_empty() {
        let writes = store.import_related(&batch, mode).await?;
        counts.add_writes(writes);
    }
    Ok(())
}
