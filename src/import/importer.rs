//! One import run: export files in, catalog rows out, every item accounted for.
//!
//! Owns the order of work and the counting. Files are planned first: each holds one table,
//! the one given with `--table`, else the one its first recognizable item belongs to
//! (DynamoDB scans and exports are per table); its data counts as fetched at
//! `--fetched-at`, else at the file's modification time (items carry no fetch time), and
//! never later than now (a future time would outrank every later sync). A reader thread
//! then reads the files, artist files first whatever the argument order, so that every
//! reference can be checked: it hands artists to the store in batches and reads on while
//! they are written. Top tracks and related artists may come in any order across files,
//! so each artist's best rows are gathered in [`Groups`] (bounded per artist) and written
//! once every file is read, in batches of a few hundred rows, artist by artist in id order
//! (top tracks and related artists side by side).
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

/// Why an import could not run to its end (rejected items are no error: they are in the
/// report).
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
    let mut index = ArtistIndex::default();
    for id in store.artist_ids().await? {
        index.insert(&id);
    }
    let reading = Reading {
        options: options.clone(),
        events,
        report: ImportReport::default(),
    };
    // The reader sends artists in batches and reads on while the store writes them.
    let (batches, mut received) = mpsc::channel::<Vec<ImportedArtist>>(2);
    let reader = tokio::task::spawn_blocking(move || reading.read_all(now, index, batches));
    let mut artists = ImportWrites::default();
    while let Some(batch) = received.recv().await {
        artists.add(store.import_artists(&batch, now, mode).await?);
    }
    let (index, lists, mut report) = reader.await.map_err(ImportError::Reader)?;
    report.artists.add_writes(artists);
    // Two connections, two tables: one list's round trips overlap the other's. Safe on
    // both backends: these writes only take shared locks on `artists` (foreign key checks)
    // on MySQL, and SQLite's second writer waits (busy timeout) for the first's commit.
    let tracks = write_lists::<TopTracks, _>(store, lists.tracks, &index, mode, |track| {
        track.to_top_track()
    });
    let related = write_lists::<RelatedArtists, _>(store, lists.related, &index, mode, |row| {
        index.id(row.related).to_owned()
    });
    let (tracks, related) = tokio::join!(tracks, related);
    report.top_tracks.add_writes(tracks?);
    report.related.add_writes(related?);
    report.dry_run = options.dry_run;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// An export file ready to be read.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ExportFile {
    path: PathBuf,
    table: TableKind,
    fetched_at: NaiveDateTime,
}

/// Every artist's best top tracks and related artists.
struct Lists {
    tracks: Groups<TrackCandidate>,
    related: Groups<RelatedCandidate>,
}

/// What the reader thread owns: blocking file I/O only.
struct Reading {
    options: ImportOptions,
    events: EventSink,
    report: ImportReport,
}

/// What [`Reading::read_file`]'s caller decided about one valid record.
enum Verdict {
    Taken,
    /// Valid, but already imported in this run.
    LeftOut,
    Rejected(String),
    /// Stop reading (the writer is gone).
    Stop,
}

impl Reading {
    fn reject(&self, rejection: Rejection) {
        (self.events)(ImportEvent::Rejected(&rejection));
    }

    /// Plans and reads every file: artists sent to `batches`, lists gathered per artist,
    /// every reference checked against `index` and the artists read before it.
    fn read_all(
        mut self,
        now: NaiveDateTime,
        mut index: ArtistIndex,
        batches: mpsc::Sender<Vec<ImportedArtist>>,
    ) -> (ArtistIndex, Lists, ImportReport) {
        let mut lists = Lists {
            tracks: Groups::new(self.options.tracks_kept),
            related: Groups::new(self.options.related_kept),
        };
        let mut imported = HashSet::new();
        let mut batch = Vec::with_capacity(IMPORT_BATCH_ROWS);
        for file in self.plan_files(now) {
            self.read_file(&file, |record| {
                let known = |id: &str, what: &str| {
                    index.get(id).ok_or_else(|| {
                        let reason = "is neither in the catalog nor among the imported artists";
                        Verdict::Rejected(format!("{what} `{id}` {reason}"))
                    })
                };
                let from = |artist| (artist, file.fetched_at);
                let taken = match record {
                    ImportRecord::Artist(artist) => {
                        if !imported.insert(index.insert(&artist.id)) {
                            return Verdict::LeftOut;
                        }
                        let (profile, fetched_at) = (artist.into(), file.fetched_at);
                        batch.push(ImportedArtist {
                            profile,
                            fetched_at,
                        });
                        if batch.len() >= IMPORT_BATCH_ROWS {
                            let full =
                                mem::replace(&mut batch, Vec::with_capacity(IMPORT_BATCH_ROWS));
                            if batches.blocking_send(full).is_err() {
                                return Verdict::Stop;
                            }
                        }
                        Ok(())
                    }
                    ImportRecord::TopTrack(track) => known(&track.artist_id, "artist_id")
                        .map(|artist| lists.tracks.offer_track(from(artist), track.into())),
                    ImportRecord::Related(related) => known(&related.artist_id, "artist_id")
                        .and_then(|artist| {
                            let other = known(&related.related_id, "related artist")?;
                            let candidate = RelatedCandidate::new(other, &related);
                            lists.related.offer_related(from(artist), candidate, &index);
                            Ok(())
                        }),
                };
                // The writer failed: its error is the one reported, and reading is over.
                match (taken, batches.is_closed()) {
                    (_, true) => Verdict::Stop,
                    (Ok(()), false) => Verdict::Taken,
                    (Err(verdict), false) => verdict,
                }
            });
            if batches.is_closed() {
                break;
            }
        }
        if !batch.is_empty() {
            // The writer may have failed meanwhile; its error is the one reported.
            let _ = batches.blocking_send(batch);
        }
        self.report.top_tracks.left_out += lists.tracks.left_out();
        self.report.related.left_out += lists.related.left_out();
        (index, lists, self.report)
    }

    /// The files to read, artists first (otherwise in the order given); each file that
    /// cannot be read is rejected, naming the file. Files without any item are left out
    /// silently: export partitions can be empty.
    fn plan_files(&mut self, now: NaiveDateTime) -> Vec<ExportFile> {
        let mut files = Vec::new();
        for path in self.options.files.clone() {
            let table = self.options.table;
            let planned = file_fetched_at(&path, self.options.fetched_at, now).and_then(|at| {
                let table = match table {
                    Some(table) => Some(table),
                    None => recognize_table(&path)?,
                };
                let file = |table| ExportFile {
                    path,
                    table,
                    fetched_at: at,
                };
                Ok(table.map(file))
            });
            match planned {
                Ok(file) => files.extend(file),
                Err(rejection) => {
                    self.report.failed_files += 1;
                    self.reject(rejection);
                }
            }
        }
        // A stable sort: within artists, and within the rest, the given order stays.
        files.sort_by_key(|file| file.table != TableKind::Artists);
        files
    }

    /// Reads one file, hands each record of its table to `decide`, and counts and reports
    /// the rest. Items detected as another table than the file's are rejected unless the
    /// table was given (then the user said what the file holds).
    fn read_file(&mut self, file: &ExportFile, mut decide: impl FnMut(ImportRecord) -> Verdict) {
        let (table, table_given) = (file.table, self.options.table.is_some());
        let mut stopped = false;
        let mut counts = *self.report.table_mut(table);
        let mut ignored = Vec::new();
        let summary = read_export(&file.path, |place, item| {
            counts.read += 1;
            let record = item.map_err(|e| e.to_string()).and_then(|item| {
                match detect_table(&item) {
                    Some(other) if other != table && !table_given => Err(format!(
                        "an item of {other} in a file of {table} (recognized from its first item); \
                     give each table its own file"
                    )),
                    _ => to_record(table, &item).map_err(|e| e.to_string()),
                }
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
                    self.reject(Rejection::new(place, Some(table), reason));
                }
                Verdict::Stop => {
                    stopped = true;
                    return ControlFlow::Break(());
                }
            }
            // Names are counted in bulk now and then, not item by item.
            if ignored.len() >= 1024 {
                self.report.count_ignored(&mem::take(&mut ignored));
            }
            ControlFlow::Continue(())
        });
        self.report.count_ignored(&ignored);
        *self.report.table_mut(table) = counts;
        match summary {
            Ok(summary) if !stopped => {
                let report = FileReport::new(file.path.clone(), table, file.fetched_at, summary);
                (self.events)(ImportEvent::FileRead(&report));
                self.report.files.push(report);
            }
            Ok(_) => {}
            Err(error) => {
                self.report.failed_files += 1;
                self.reject(file_rejection(&error, Some(table)));
            }
        }
    }
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
    let place = path.display().to_string();
    match (found, read) {
        (Some(table), _) => Ok(Some(table)),
        (None, Err(error)) => Err(file_rejection(&error, None)),
        (None, Ok(summary)) if summary.items == 0 => Ok(None),
        (None, Ok(_)) => Err(Rejection::new(
            place,
            None,
            "no item is recognizable as an artist (id and name), a top track (track id and \
             artist_id) or a related artist (artist_id and related_id); give --table to say \
             which table the file holds"
                .into(),
        )),
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
        None => match std::fs::metadata(path).and_then(|m| m.modified()) {
            Ok(modified) => DateTime::<Utc>::from(modified).naive_utc().trunc_subsecs(0),
            Err(error) => {
                let reason = format!("cannot be read: {error}");
                return Err(Rejection::new(path.display().to_string(), None, reason));
            }
        },
    };
    Ok(at.min(now))
}

/// A file that could not be read to its end, as a rejection naming the place.
fn file_rejection(error: &ExportError, table: Option<TableKind>) -> Rejection {
    use ExportError::{Io, NotAScanPage, Syntax, UnrecognizedFormat};
    let rest = "the rest of the file was not read";
    let at = |file: &Path, line, column| format!("{} line {line}, column {column}", file.display());
    let (place, reason) = match error {
        Io { file, source } => (
            file.display().to_string(),
            format!("cannot be read: {source}; {rest}"),
        ),
        Syntax {
            file,
            line,
            column,
            message,
        } => (
            at(file, line, column),
            format!("malformed JSON: {message}; {rest}"),
        ),
        NotAScanPage {
            file,
            line,
            column,
            message,
        } => (
            at(file, line, column),
            format!("not a DynamoDB scan page: {message}; {rest}"),
        ),
        UnrecognizedFormat { file, found } => (
            file.display().to_string(),
            format!("not a DynamoDB export: found {found}"),
        ),
    };
    Rejection::new(place, table, reason)
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
    let (mut batch, mut rows) = (Vec::new(), 0);
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
            let lists = mem::take(&mut batch);
            writes.add(store.import_lists::<T>(&lists, mode).await?);
            rows = 0;
        }
    }
    Ok(writes)
}
