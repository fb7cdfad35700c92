//! Reading whole export files: `aws dynamodb scan` pages and DynamoDB export-to-S3 JSON
//! lines, plain or gzip, item by item.
//!
//! Owns: format detection, the streaming walk over each file, item places, file summaries
//! and file-level errors. Items are handed to a callback one at a time and never collected,
//! so memory stays bounded by the largest single item, not by the file.
//! Must not touch: catalog records (see `record`), any database.

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::attr::{ExportLineShape, Item, ItemError, ItemShape, KeyOneOf, Lenient, json_message};
use super::source::{LineRead, SCAN_KEYS, Sniffed, Source};

/// Longest JSON line accepted. A DynamoDB item is at most 400 KB; with JSON escaping
/// (`\uXXXX` is six bytes for one) a line stays far below this.
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// Where an item was found, for messages and for counting per file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemPlace {
    /// The file as it was given to [`read_export`]; shared, so cloning a place is cheap.
    pub file: Arc<Path>,
    /// Scan format: the 1-based page (JSON document) within the file. `None` for JSON lines.
    pub page: Option<usize>,
    /// 1-based index of the item within its page (scan) or within the file (JSON lines,
    /// blank lines not counted).
    pub index: usize,
    /// JSON lines: the line of the item. Scan format: the line where the item's closing
    /// brace is.
    pub line: Option<u64>,
}

impl fmt::Display for ItemPlace {
    /// `artists.json page 2 item 17 (line 312)`, or `export.json.gz line 1042`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match (self.page, self.line) {
            (Some(page), Some(line)) => {
                write!(f, "{file} page {page} item {} (line {line})", self.index)
            }
            (Some(page), None) => write!(f, "{file} page {page} item {}", self.index),
            (None, Some(line)) => write!(f, "{file} line {line}"),
            (None, None) => write!(f, "{file} item {}", self.index),
        }
    }
}

/// The format a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// `aws dynamodb scan --output json` pages, one or more concatenated JSON documents.
    Scan,
    /// DynamoDB export-to-S3 DynamoDB-JSON lines (`{"Item": {...}}` per line). An empty
    /// file is reported as this format, with no items: export partitions can be empty.
    JsonLines,
}

/// A scan page whose `Count` differs from the number of items it held: a sign the file
/// was cut or edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountMismatch {
    /// 1-based page within the file.
    pub page: usize,
    /// The page's `Count`.
    pub declared: u64,
    /// Items the page actually held.
    pub found: usize,
}

/// What one file held, once it was read to the end (or until the callback stopped it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSummary {
    /// The detected format.
    pub format: ExportFormat,
    /// Whether the file was gzip-compressed.
    pub gzip: bool,
    /// Scan pages read in full (0 for JSON lines).
    pub pages: usize,
    /// Items handed to the callback, including the ones handed over as errors.
    pub items: usize,
    /// How many of those were errors.
    pub item_errors: usize,
    /// The callback returned `ControlFlow::Break`; the rest of the file was not read.
    pub stopped_early: bool,
    /// The last scan page carried a `LastEvaluatedKey` (or `NextToken`): the scan went on
    /// after it. Unless its continuation is in another file, the export is incomplete (the
    /// old bot's migration read only the first 1 MB page this way).
    pub last_page_continues: bool,
    /// Scan pages whose `Count` disagrees with their items.
    pub count_mismatches: Vec<CountMismatch>,
}

/// Why a file could not be read (to the end). Items before the error were already handed
/// to the callback.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Opening or reading failed, including corrupt or truncated gzip data.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Malformed JSON in a scan file (JSON-lines files report bad lines per item instead).
    #[error("{}: line {line}, column {column}: {message}", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// Valid JSON that is not a scan page: no `Items`, `Items` not an array, a page that is
    /// not an object, a `Count` that is not a number.
    #[error("{}: line {line}, column {column}: not a DynamoDB scan page: {message}", file.display())]
    NotAScanPage {
        /// The file.
        file: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Neither a scan page nor export lines.
    #[error("{}: not a DynamoDB export: found {found}", file.display())]
    UnrecognizedFormat {
        /// The file.
        file: PathBuf,
        /// What the file starts with.
        found: String,
    },
}

/// Reads one DynamoDB export file and hands each item to `on_item`, with its place.
///
/// The format is detected from the content: gzip by its magic bytes (whatever the name),
/// then a scan page by its first key (`Items`, `Count`, ...) or export lines by `Item`.
/// A malformed item is handed over as `Err` and reading goes on; return
/// `ControlFlow::Break` from `on_item` to stop early. See [`ExportError`] for what ends a
/// file.
pub fn read_export(
    path: &Path,
    on_item: impl FnMut(ItemPlace, Result<Item, ItemError>) -> ControlFlow<()>,
) -> Result<FileSummary, ExportError> {
    let file = File::open(path).map_err(|source| ExportError::Io {
        file: path.to_owned(),
        source,
    })?;
    read_export_from(path, file, on_item)
}

/// [`read_export`] over any reader; `name` is used in places and errors only.
pub fn read_export_from(
    name: &Path,
    reader: impl Read,
    mut on_item: impl FnMut(ItemPlace, Result<Item, ItemError>) -> ControlFlow<()>,
) -> Result<FileSummary, ExportError> {
    let io_error = |source| ExportError::Io {
        file: name.to_owned(),
        source,
    };
    let newlines = Cell::new(0);
    let (mut source, gzip) = Source::open(reader, &newlines).map_err(io_error)?;
    let sniffed = source.sniff().map_err(io_error)?;
    let mut summary = FileSummary {
        format: ExportFormat::JsonLines,
        gzip,
        pages: 0,
        items: 0,
        item_errors: 0,
        stopped_early: false,
        last_page_continues: false,
        count_mismatches: Vec::new(),
    };
    let mut walk = Walk {
        file: Arc::from(name),
        newlines: &newlines,
        on_item: &mut on_item,
        summary: &mut summary,
    };
    match sniffed {
        Sniffed::Empty => {}
        Sniffed::JsonLines => walk.json_lines(&mut source)?,
        Sniffed::Scan => {
            walk.summary.format = ExportFormat::Scan;
            walk.scan_pages(&mut source)?;
        }
        Sniffed::Unrecognized(found) => {
            return Err(ExportError::UnrecognizedFormat {
                file: name.to_owned(),
                found,
            });
        }
    }
    Ok(summary)
}

/// The state of reading one file.
struct Walk<'a, F> {
    file: Arc<Path>,
    newlines: &'a Cell<u64>,
    on_item: &'a mut F,
    summary: &'a mut FileSummary,
}

impl<F> Walk<'_, F>
where
    F: FnMut(ItemPlace, Result<Item, ItemError>) -> ControlFlow<()>,
{
    /// Hands one item over and keeps the counts; `Break` means the caller wants no more.
    fn deliver(&mut self, place: ItemPlace, item: Result<Item, ItemError>) -> ControlFlow<()> {
        self.summary.items += 1;
        if item.is_err() {
            self.summary.item_errors += 1;
        }
        let flow = (self.on_item)(place, item);
        if flow.is_break() {
            self.summary.stopped_early = true;
        }
        flow
    }

    fn error(&self, e: serde_json::Error) -> ExportError {
        let file = self.file.to_path_buf();
        if e.is_io() {
            return ExportError::Io {
                file,
                source: e.into(),
            };
        }
        let (line, column, message) = (e.line(), e.column(), json_message(&e));
        if e.is_data() {
            ExportError::NotAScanPage {
                file,
                line,
                column,
                message,
            }
        } else {
            ExportError::Syntax {
                file,
                line,
                column,
                message,
            }
        }
    }

    /// Export-to-S3 lines: each line is parsed on its own, so one bad line costs one item.
    fn json_lines<R: Read>(&mut self, source: &mut Source<'_, R>) -> Result<(), ExportError> {
        let mut line = Vec::new();
        let mut index = 0;
        loop {
            let line_number = self.newlines.get() + 1;
            let read = source
                .read_line_bounded(&mut line, MAX_LINE_BYTES)
                .map_err(|source| ExportError::Io {
                    file: self.file.to_path_buf(),
                    source,
                })?;
            let item = match read {
                LineRead::End => return Ok(()),
                LineRead::TooLong => Err(ItemError::LineTooLong {
                    limit: MAX_LINE_BYTES,
                }),
                LineRead::Line if line.trim_ascii().is_empty() => continue,
                LineRead::Line => match parse_export_line(&line) {
                    Ok(item) => item,
                    // A first line that ends inside its object is not a bad line: the file
                    // is one pretty-printed document (e.g. `aws dynamodb get-item` output, or
                    // an export reformatted by a tool), and every later line would fail too.
                    Err(e) if index == 0 && e.is_eof() => {
                        return Err(ExportError::UnrecognizedFormat {
                            file: self.file.to_path_buf(),
                            found: "a multi-line JSON object starting with \"Item\" \
                                    (export files hold one item per line)"
                                .into(),
                        });
                    }
                    Err(e) => Err(ItemError::from_json_error(&e)),
                },
            };
            index += 1;
            let place = ItemPlace {
                file: Arc::clone(&self.file),
                page: None,
                index,
                line: Some(line_number),
            };
            if self.deliver(place, item).is_break() {
                return Ok(());
            }
        }
    }

    /// Scan output: one or more concatenated page documents, streamed through serde_json.
    fn scan_pages<R: Read>(&mut self, source: &mut Source<'_, R>) -> Result<(), ExportError> {
        let mut de = serde_json::Deserializer::from_reader(source);
        loop {
            let page = self.summary.pages + 1;
            let mut reading = PageReading {
                walk: &mut *self,
                page,
                items: 0,
            };
            let result = PageSeed(&mut reading).deserialize(&mut de);
            let found = reading.items;
            match result {
                Ok(page_end) => {
                    self.summary.pages = page;
                    self.summary.last_page_continues = page_end.continues;
                    if let Some(declared) = page_end.count
                        && usize::try_from(declared).ok() != Some(found)
                    {
                        self.summary.count_mismatches.push(CountMismatch {
                            page,
                            declared,
                            found,
                        });
                    }
                }
                // The callback asked to stop: the error is the one `PageItem` raised for it.
                Err(_) if self.summary.stopped_early => return Ok(()),
                Err(e) => return Err(self.error(e)),
            }
            // `end` skips whitespace and fails with "trailing characters" when another
            // document follows: that is the next page, not an error.
            match de.end() {
                Ok(()) => return Ok(()),
                Err(e) if e.is_syntax() => continue,
                Err(e) => return Err(self.error(e)),
            }
        }
    }
}

/// Parses one export line (its trailing newline is whitespace to serde_json). The outer
/// error is invalid JSON; the inner one a valid line that is not a valid item.
fn parse_export_line(line: &[u8]) -> Result<Result<Item, ItemError>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let item = Lenient(ExportLineShape).deserialize(&mut de)?;
    de.end()?;
    Ok(item)
}

/// Reading one scan page.
struct PageReading<'w, 'a, F> {
    walk: &'w mut Walk<'a, F>,
    page: usize,
    items: usize,
}

/// What the keys around `Items` said about a page.
struct PageEnd {
    count: Option<u64>,
    continues: bool,
}

// Indices into SCAN_KEYS.
const KEY_ITEMS: usize = 0;
const KEY_COUNT: usize = 1;
const KEY_LAST_EVALUATED_KEY: usize = 3;
const KEY_NEXT_TOKEN: usize = 5;

/// One scan page document; keys may come in any order and unknown keys are skipped.
struct PageSeed<'r, 'w, 'a, F>(&'r mut PageReading<'w, 'a, F>);

impl<'de, F> DeserializeSeed<'de> for PageSeed<'_, '_, '_, F>
where
    F: FnMut(ItemPlace, Result<Item, ItemError>) -> ControlFlow<()>,
{
    type Value = PageEnd;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<PageEnd, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F> Visitor<'de> for PageSeed<'_, '_, '_, F>
where
    F: FnMut(ItemPlace, Result<Item, ItemError>) -> ControlFlow<()>,
{
    type Value = PageEnd;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a DynamoDB scan page object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PageEnd, A::Error> {
        let mut saw_items = false;
        let mut end = PageEnd {
            count: None,
            continues: false,
        };
        while let Some(key) = map.next_key_seed(KeyOneOf(&SCAN_KEYS))? {
            match key {
                Some(KEY_ITEMS) => {
                    if saw_items {
                        return Err(de::Error::duplicate_field("Items"));
                    }
                    saw_items = true;
                    map.next_value_seed(ItemsSeed(&mut *self.0))?;
                }
                Some(KEY_COUNT) => end.count = map.next_value::<Option<u64>>()?,
                Some(KEY_LAST_EVALUATED_KEY | KEY_NEXT_TOKEN) => {
                    end.continues |= map.next_value::<Option<IgnoredAny>>()?.is_some();
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !saw_items {
            return Err(de::Error::missing_field("Items"));
        }
        Ok(end)
    }
}

/// The `Items` array, walked element by element.
struct ItemsSeed<'r, 'w, 'a, F>(&'r mut PageReading<'w, 'a, F>);

impl<'de, F> DeserializeSeed<'de> for ItemsSeed<'_, '_, '_, F>
where
    F: FnMut(ItemPlace, Result<Item, ItemError>) -> ControlFlow<()>,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F> Visitor<'de> for ItemsSeed<'_, '_, '_, F>
where
    F: FnMut(ItemPlace, Result<Item, ItemError>) -> ControlFlow<()>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(PageItem(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// One element of `Items`: parsed, then handed to the callback at once.
struct PageItem<'r, 'w, 'a, F>(&'r mut PageReading<'w, 'a, F>);

impl<'de, F> DeserializeSeed<'de> for PageItem<'_, '_, '_, F>
where
    F: FnMut(ItemPlace, Result<Item, ItemError>) -> ControlFlow<()>,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let item = Lenient(ItemShape).deserialize(deserializer)?;
        let reading = self.0;
        reading.items += 1;
        let place = ItemPlace {
            file: Arc::clone(&reading.walk.file),
            page: Some(reading.page),
            index: reading.items,
            // serde_json has read exactly up to the item's closing brace: the newlines
            // handed out so far are the ones before it.
            line: Some(reading.walk.newlines.get() + 1),
        };
        match reading.walk.deliver(place, item) {
            ControlFlow::Continue(()) => Ok(()),
            // serde has no "stop" signal other than an error; `scan_pages` recognises it by
            // `stopped_early` and does not report it.
            ControlFlow::Break(()) => Err(de::Error::custom("reading stopped by the caller")),
        }
    }
}
