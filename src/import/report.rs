//! What an import produces: per-table counts, the files it read, and each rejection.
//!
//! Owns the counting conventions only. Per table, every item read ends in exactly one of
//! imported, updated, unchanged, kept (the catalog's data is newer), left out (beyond the
//! per-artist limit, or repeated) and rejected; `removed` counts stored rows an imported
//! list replaced, which are not items. Must not touch: printing, the store.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDateTime;

use super::reader::{CountMismatch, ExportFormat, FileSummary};
use super::record::TableKind;
use crate::store::import::ImportWrites;

/// Distinct ignored attribute names listed by name; the rest are counted together.
const IGNORED_NAMES_LISTED: usize = 50;

/// Counts for one table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableCounts {
    /// Items read from the files holding this table.
    pub read: u64,
    /// Rows that were not in the catalog.
    pub imported: u64,
    /// Rows whose content changed.
    pub updated: u64,
    /// Rows already stored exactly so.
    pub unchanged: u64,
    /// Rows not written because the catalog holds data fetched later (by the sync, or by
    /// an import of a newer export).
    pub kept_newer: u64,
    /// Valid items not stored: beyond the rows kept per artist, or repeating an item
    /// already imported in this run.
    pub left_out: u64,
    /// Stored rows an imported list replaced (not items).
    pub removed: u64,
    /// Items that could not be imported; each one is reported with its place.
    pub rejected: u64,
}

impl TableCounts {
    fn add(&mut self, other: &TableCounts) {
        self.read += other.read;
        self.left_out += other.left_out;
        self.rejected += other.rejected;
        self.add_writes(ImportWrites {
            inserted: other.imported,
            updated: other.updated,
            unchanged: other.unchanged,
            kept_newer: other.kept_newer,
            removed: other.removed,
        });
    }

    pub(crate) fn add_writes(&mut self, writes: ImportWrites) {
        self.imported += writes.inserted;
        self.updated += writes.updated;
        self.unchanged += writes.unchanged;
        self.kept_newer += writes.kept_newer;
        self.removed += writes.removed;
    }
}

/// One file as the import saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileReport {
    pub path: PathBuf,
    /// Given with `--table`, or recognized from its first item.
    pub table: TableKind,
    /// `--fetched-at`, else the file's modification time.
    pub fetched_at: NaiveDateTime,
    pub format: ExportFormat,
    pub gzip: bool,
    /// Scan pages (0 for export lines).
    pub pages: usize,
    pub items: usize,
    /// The last scan page has a `LastEvaluatedKey`: unless another file holds the pages
    /// after it, the scan was not exported to its end.
    pub last_page_continues: bool,
    pub count_mismatches: Vec<CountMismatch>,
}

impl FileReport {
    pub(crate) fn new(
        path: PathBuf,
        table: TableKind,
        fetched_at: NaiveDateTime,
        summary: FileSummary,
    ) -> Self {
        Self {
            path,
            table,
            fetched_at,
            format: summary.format,
            gzip: summary.gzip,
            pages: summary.pages,
            items: summary.items,
            last_page_continues: summary.last_page_continues,
            count_mismatches: summary.count_mismatches,
        }
    }
}

/// An item that could not be imported, or a file that could not be read to its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Where: `file page P item I (line L)`, `file line L`, or the file alone.
    pub place: String,
    pub table: Option<TableKind>,
    pub reason: String,
}

impl Rejection {
    pub(crate) fn new(place: String, table: Option<TableKind>, reason: String) -> Self {
        Self {
            place,
            table,
            reason,
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.place, self.reason)
    }
}

/// Everything an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub dry_run: bool,
    pub artists: TableCounts,
    pub top_tracks: TableCounts,
    pub related: TableCounts,
    /// Files read (to their end or not).
    pub files: Vec<FileReport>,
    /// Files that could not be read to their end (unreadable, malformed JSON, unknown
    /// format, or no recognizable item); each is reported like a rejection.
    pub failed_files: u64,
    /// Attribute occurrences the catalog has no place for, over all items.
    pub ignored_attributes: u64,
    /// The same by attribute name (the first 50 names met).
    pub ignored_by_name: BTreeMap<String, u64>,
    pub elapsed: Duration,
}

impl ImportReport {
    pub(crate) fn table_mut(&mut self, kind: TableKind) -> &mut TableCounts {
        match kind {
            TableKind::Artists => &mut self.artists,
            TableKind::TopTracks => &mut self.top_tracks,
            TableKind::RelatedArtists => &mut self.related,
        }
    }

    /// The three tables together.
    pub fn total(&self) -> TableCounts {
        let mut total = self.artists;
        total.add(&self.top_tracks);
        total.add(&self.related);
        total
    }

    /// Whether anything was rejected or a file was not read to its end.
    pub fn has_rejections(&self) -> bool {
        self.total().rejected > 0 || self.failed_files > 0
    }

    pub(crate) fn count_ignored(&mut self, names: &[String]) {
        self.ignored_attributes += names.len() as u64;
        for name in names {
            if let Some(count) = self.ignored_by_name.get_mut(name) {
                *count += 1;
            } else if self.ignored_by_name.len() < IGNORED_NAMES_LISTED {
                self.ignored_by_name.insert(name.clone(), 1);
            }
        }
    }
}
