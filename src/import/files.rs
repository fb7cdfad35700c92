//! Which table each export file holds, when its data counts as fetched, and the order the
//! files are read in.
//!
//! Owns three rules. A file holds one table: the one given with `--table`, else the one its
//! first recognizable item belongs to (DynamoDB scans and exports are per table). Its data
//! counts as fetched at `--fetched-at`, else at the file's modification time (DynamoDB items
//! carry no fetch time), and never later than now (a future time would outrank every later
//! sync). Artist files are read first, whatever the argument order, so that top tracks and
//! related artists can be checked against the artists the import brings.
//!
//! Blocking file I/O: call from a blocking thread. Must not touch: records, the store.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

use super::reader::{ExportError, read_export};
use super::report::Rejection;
use super::table::{TableKind, detect_table};

/// An export file ready to be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportFile {
    pub path: PathBuf,
    pub table: TableKind,
    pub fetched_at: NaiveDateTime,
}

/// The files to read, artists first (otherwise in the order given), and the files that
/// cannot be read, each as a rejection naming the file. Files without any item are left
/// out silently: export partitions can be empty.
pub fn plan_files(
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
            Ok(table.map(|table| ExportFile {
                path: path.clone(),
                table,
                fetched_at,
            }))
        });
        match planned {
            Ok(Some(file)) => files.push(file),
            Ok(None) => {}
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
        match item.ok().as_ref().and_then(detect_table) {
            Some(table) => {
                found = Some(table);
                ControlFlow::Break(())
            }
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
            let modified = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .map_err(|error| Rejection {
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
pub(crate) fn file_rejection(error: &ExportError, table: Option<TableKind>) -> Rejection {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write a test file");
        path
    }

    fn time(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").expect("valid time")
    }

    #[test]
    fn artist_files_come_first_and_tables_are_recognized() {
        let dir = tempfile::tempdir().expect("temp dir");
        let related = write(
            &dir,
            "related.json",
            "{\"Item\":{\"artist_id\":{\"S\":\"a\"},\"related_id\":{\"S\":\"b\"}}}\n",
        );
        let artists = write(
            &dir,
            "artists.json",
            "{\"Items\":[{\"bad\":{\"S\":\"x\"}},{\"id\":{\"S\":\"a\"},\"name\":{\"S\":\"A\"}}]}",
        );
        let empty = write(&dir, "empty.json", "\n");
        let now = time("2026-11-27 00:00:00");

        let (files, problems) = plan_files(&[related, empty, artists], None, None, now);

        assert!(problems.is_empty(), "{problems:?}");
        let tables: Vec<_> = files.iter().map(|f| f.table).collect();
        assert_eq!(tables, [TableKind::Artists, TableKind::RelatedArtists]);
    }

    #[test]
    fn fetched_at_is_given_or_the_modification_time_and_never_in_the_future() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write(
            &dir,
            "a.json",
            "{\"Item\":{\"id\":{\"S\":\"a\"},\"name\":{\"S\":\"A\"}}}\n",
        );
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

    #[test]
    fn a_file_of_unrecognizable_items_asks_for_the_table() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write(&dir, "odd.json", "{\"Item\":{\"title\":{\"S\":\"x\"}}}\n");
        let now = time("2026-11-27 00:00:00");

        let (files, problems) = plan_files(std::slice::from_ref(&path), None, None, now);
        assert!(files.is_empty());
        assert!(problems[0].reason.contains("--table"), "{problems:?}");

        let (files, problems) = plan_files(&[path], Some(TableKind::Artists), None, now);
        assert_eq!(files.len(), 1);
        assert!(problems.is_empty());
    }
}
