//! Reading whole export files: `aws dynamodb scan` pages and DynamoDB export-to-S3 JSON
//! lines, plain or gzip, item by item.
//!
//! Owns format detection, the byte stream (gzip, buffering, newline counting), the walk over
//! each file, item places, file summaries and file-level errors. Items are handed to a
//! callback one at a time and never collected, so memory stays bounded by the largest item,
//! not by the file: a scan page's `Items` array is walked element by element through serde
//! (one scan document can hold a whole table), export lines are read one bounded line at a
//! time. Must not touch: catalog records (see `record`), any database.

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::bufread::MultiGzDecoder;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::error::Category;

use super::attr::{Item, ItemError, Json, item_from_json, json_message};

/// Longest JSON line accepted. A DynamoDB item is at most 400 KB; with JSON escaping
/// (`\uXXXX` is six bytes for one) a line stays far below this.
pub(crate) const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

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
    /// JSON lines: the line of the item. Scan format: the line of the item's closing brace.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// `aws dynamodb scan --output json` pages, one or more concatenated JSON documents.
    Scan,
    /// DynamoDB export-to-S3 DynamoDB-JSON lines (`{"Item": {...}}` per line). An empty
    /// file is reported as this format, with no items: export partitions can be empty.
    #[default]
    JsonLines,
}

/// A scan page whose `Count` differs from the number of items it held: a sign the file
/// was cut or edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountMismatch {
    /// 1-based page within the file.
    pub page: usize,
    pub declared: u64,
    pub found: usize,
}

/// What one file held, once it was read to the end (or until the callback stopped it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileSummary {
    pub format: ExportFormat,
    pub gzip: bool,
    /// Scan pages read in full (0 for JSON lines).
    pub pages: usize,
    /// Items handed to the callback, including the ones handed over as errors.
    pub items: usize,
    pub item_errors: usize,
    /// The callback returned `ControlFlow::Break`; the rest of the file was not read.
    pub stopped_early: bool,
    /// The last scan page carried a `LastEvaluatedKey` (or `NextToken`): the scan went on
    /// after it. Unless its continuation is in another file, the export is incomplete (the
    /// old bot's migration read only the first 1 MB page this way).
    pub last_page_continues: bool,
    pub count_mismatches: Vec<CountMismatch>,
}

/// Why a file could not be read (to the end). Items before the error were already handed
/// to the callback.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Opening or reading failed, including corrupt or truncated gzip data.
    #[error("{}: {source}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Malformed JSON in a scan file (JSON-lines files report bad lines per item instead).
    #[error("{}: line {line}, column {column}: {message}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// Valid JSON that is not a scan page: no `Items`, `Items` not an array, a page that is
    /// not an object, a `Count` that is not a number.
    #[error("{}: line {line}, column {column}: not a DynamoDB scan page: {message}", file.display())]
    NotAScanPage {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// Neither a scan page nor export lines.
    #[error("{}: not a DynamoDB export: found {found}", file.display())]
    UnrecognizedFormat { file: PathBuf, found: String },
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
    mut on_item: impl FnMut(ItemPlace, Result<Item, ItemError>) -> ControlFlow<()>,
) -> Result<FileSummary, ExportError> {
    let io_error = |source| ExportError::Io {
        file: path.to_owned(),
        source,
    };
    let mut file = BufReader::with_capacity(BUFFER_BYTES, File::open(path).map_err(io_error)?);
    let gzip = file.fill_buf().map_err(io_error)?.starts_with(&GZIP_MAGIC);
    let newlines = Cell::new(0);
    let mut walk = Walk {
        file: Arc::from(path),
        newlines: &newlines,
        on_item: &mut on_item,
        summary: FileSummary {
            gzip,
            ..FileSummary::default()
        },
        page_items: 0,
        count: None,
        continues: false,
    };
    // MultiGzDecoder: a file of several concatenated gzip members is still one file.
    match gzip {
        true => walk.read(BufReader::with_capacity(
            BUFFER_BYTES,
            MultiGzDecoder::new(file),
        ))?,
        false => walk.read(file)?,
    }
    Ok(walk.summary)
}

/// The state of reading one file, and of its current scan page.
struct Walk<'a, F> {
    file: Arc<Path>,
    newlines: &'a Cell<u64>,
    on_item: &'a mut F,
    summary: FileSummary,
    page_items: usize,
    count: Option<u64>,
    continues: bool,
}

impl<F> Walk<'_, F>
where
    F: FnMut(ItemPlace, Result<Item, ItemError>) -> ControlFlow<()>,
{
    /// Reads the decompressed content, in the format its start tells.
    fn read(&mut self, mut content: impl BufRead) -> Result<(), ExportError> {
        match sniff(&mut content, self.newlines).map_err(|e| self.io(e))? {
            Ok(None) => Ok(()),
            Ok(Some(ExportFormat::JsonLines)) => self.json_lines(content),
            Ok(Some(ExportFormat::Scan)) => {
                self.summary.format = ExportFormat::Scan;
                let buf = vec![0; BUFFER_BYTES].into_boxed_slice();
                let (inner, newlines) = (content, self.newlines);
                self.scan_pages(Lines {
                    inner,
                    buf,
                    pos: 0,
                    end: 0,
                    newlines,
                })
            }
            Err(found) => {
                let file = self.file.to_path_buf();
                Err(ExportError::UnrecognizedFormat { file, found })
            }
        }
    }

    /// Hands one item over and keeps the counts; `Break` means the caller wants no more.
    fn deliver(&mut self, place: ItemPlace, item: Result<Item, ItemError>) -> ControlFlow<()> {
        self.summary.items += 1;
        self.summary.item_errors += usize::from(item.is_err());
        let flow = (self.on_item)(place, item);
        self.summary.stopped_early = flow.is_break();
        flow
    }

    fn place(&self, page: Option<usize>, index: usize, line: u64) -> ItemPlace {
        let (file, line) = (Arc::clone(&self.file), Some(line));
        ItemPlace {
            file,
            page,
            index,
            line,
        }
    }

    fn io(&self, source: io::Error) -> ExportError {
        let file = self.file.to_path_buf();
        ExportError::Io { file, source }
    }

    fn error(&self, e: serde_json::Error) -> ExportError {
        let file = self.file.to_path_buf();
        let (line, column, message) = (e.line(), e.column(), json_message(&e));
        match e.classify() {
            Category::Io => self.io(e.into()),
            Category::Data => ExportError::NotAScanPage {
                file,
                line,
                column,
                message,
            },
            Category::Syntax | Category::Eof => ExportError::Syntax {
                file,
                line,
                column,
                message,
            },
        }
    }

    /// Export-to-S3 lines: each line is parsed on its own, so one bad line costs one item.
    fn json_lines(&mut self, mut source: impl BufRead) -> Result<(), ExportError> {
        let (mut line, mut index, mut line_number) = (Vec::new(), 0, self.newlines.get());
        loop {
            line.clear();
            line_number += 1;
            let limit = MAX_LINE_BYTES as u64 + 1;
            let mut read = (&mut source).take(limit).read_until(b'\n', &mut line);
            let too_long = line.len() > MAX_LINE_BYTES;
            if read.is_ok() && too_long && line.last() != Some(&b'\n') {
                // Read on to the end of the line without storing it: memory stays bounded
                // whatever the input.
                read = source.skip_until(b'\n');
            }
            read.map_err(|e| self.io(e))?;
            let item = if line.is_empty() {
                return Ok(());
            } else if too_long {
                Err(ItemError::LineTooLong {
                    limit: MAX_LINE_BYTES,
                })
            } else if line.trim_ascii().is_empty() {
                continue;
            } else {
                match export_line(&line) {
                    Ok(item) => item,
                    // A first line that ends inside its object is not a bad line: the file
                    // is one pretty-printed document (e.g. `aws dynamodb get-item` output,
                    // or an export reformatted by a tool), and every later line would fail.
                    Err(e) if index == 0 && e.is_eof() => {
                        return Err(ExportError::UnrecognizedFormat {
                            file: self.file.to_path_buf(),
                            found: "a multi-line JSON object starting with \"Item\" \
                                    (export files hold one item per line)"
                                .into(),
                        });
                    }
                    Err(e) => Err(ItemError::syntax(&e)),
                }
            };
            index += 1;
            if self
                .deliver(self.place(None, index, line_number), item)
                .is_break()
            {
                return Ok(());
            }
        }
    }

    /// Scan output: one or more concatenated page documents, streamed through serde_json.
    fn scan_pages(&mut self, source: impl Read) -> Result<(), ExportError> {
        let mut de = serde_json::Deserializer::from_reader(source);
        loop {
            (self.page_items, self.count, self.continues) = (0, None, false);
            match (&mut de).deserialize_map(&mut *self) {
                Ok(()) => {
                    let (page, found) = (self.summary.pages + 1, self.page_items);
                    self.summary.pages = page;
                    self.summary.last_page_continues = self.continues;
                    if let Some(declared) = self.count.filter(|&c| usize::try_from(c) != Ok(found))
                    {
                        let mismatch = CountMismatch {
                            page,
                            declared,
                            found,
                        };
                        self.summary.count_mismatches.push(mismatch);
                    }
                }
                // The callback asked to stop: the error is the one `Items` raised for it.
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

/// One line of an export-to-S3 file: `{"Item": {...}}`. Other keys are skipped, so a future
/// format that adds metadata beside `Item` still reads. The outer error is invalid JSON.
fn export_line(line: &[u8]) -> Result<Result<Item, ItemError>, serde_json::Error> {
    Ok(match serde_json::from_slice::<Json>(line)?.into_entries() {
        Ok(entries) => match entries.into_iter().find(|(key, _)| key == "Item") {
            Some((_, item)) => item_from_json(item),
            None => Err(ItemError::MissingItemKey),
        },
        Err(other) => Err(ItemError::NotAnObject {
            found: other.kind(),
        }),
    })
}

/// A scan page: keys in any order, unknown keys skipped.
impl<'de, F> Visitor<'de> for &mut Walk<'_, F>
where
    F: FnMut(ItemPlace, Result<Item, ItemError>) -> ControlFlow<()>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a DynamoDB scan page object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut saw_items = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "Items" if saw_items => return Err(de::Error::duplicate_field("Items")),
                "Items" => {
                    saw_items = true;
                    map.next_value_seed(Items(&mut *self))?;
                }
                "Count" => self.count = map.next_value()?,
                "LastEvaluatedKey" | "NextToken" => {
                    self.continues |= map.next_value::<Option<IgnoredAny>>()?.is_some();
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match saw_items {
            true => Ok(()),
            false => Err(de::Error::missing_field("Items")),
        }
    }
}

/// The `Items` array of a scan page, handed over element by element.
struct Items<'w, 'a, F>(&'w mut Walk<'a, F>);

impl<'de, F> DeserializeSeed<'de> for Items<'_, '_, F>
where
    F: FnMut(ItemPlace, Result<Item, ItemError>) -> ControlFlow<()>,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F> Visitor<'de> for Items<'_, '_, F>
where
    F: FnMut(ItemPlace, Result<Item, ItemError>) -> ControlFlow<()>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let walk = self.0;
        // serde_json has read exactly up to the item's closing brace when it hands the
        // element over: the newlines counted so far are the ones before that brace.
        while let Some(json) = seq.next_element::<Json>()? {
            walk.page_items += 1;
            let line = walk.newlines.get() + 1;
            let place = walk.place(Some(walk.summary.pages + 1), walk.page_items, line);
            if walk.deliver(place, item_from_json(json)).is_break() {
                // serde has no "stop" but an error; `scan_pages` knows it by `stopped_early`.
                return Err(de::Error::custom("reading stopped by the caller"));
            }
        }
        Ok(())
    }
}

/// Bytes read from the file, and from the decompressor, at a time.
const BUFFER_BYTES: usize = 64 * 1024;
/// gzip's magic number (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// UTF-8 byte order mark, which some Windows tools put in front of JSON.
const UTF8_BOM: [u8; 3] = [0xef, 0xbb, 0xbf];
/// Keys of an `aws dynamodb scan` result page (`NextToken` appears with `--max-items`).
const SCAN_KEYS: [&str; 6] = [
    "Items",
    "Count",
    "ScannedCount",
    "LastEvaluatedKey",
    "ConsumedCapacity",
    "NextToken",
];

/// The format of `content`, told from its first key: `None` when there is nothing but
/// blank space, `Err` saying what was found when it is neither format. Consumes only a
/// byte order mark and blank space (counting its newlines). The key is looked for in what
/// the buffer holds after the blank space, which is the start of a read unless nearly a
/// buffer's worth of blank space came first.
fn sniff(
    content: &mut impl BufRead,
    newlines: &Cell<u64>,
) -> io::Result<Result<Option<ExportFormat>, String>> {
    if content.fill_buf()?.starts_with(&UTF8_BOM) {
        content.consume(UTF8_BOM.len());
    }
    loop {
        let available = content.fill_buf()?;
        if available.is_empty() {
            return Ok(Ok(None));
        }
        let blank = available
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        let lines = available[..blank].iter().filter(|&&b| b == b'\n').count();
        let content_starts = blank < available.len();
        content.consume(blank);
        newlines.set(newlines.get() + lines as u64);
        if content_starts {
            break;
        }
    }
    let head = content.fill_buf()?;
    let shown = String::from_utf8_lossy(&head[..head.len().min(40)]);
    let unrecognized = Err(format!("content starting with {shown:?}"));
    // Keys looked for are short and plain ASCII: no escape handling is needed.
    let key = head.strip_prefix(b"{").map(<[u8]>::trim_ascii_start);
    let Some(key) = key.and_then(|rest| rest.strip_prefix(b"\"")) else {
        return Ok(unrecognized);
    };
    let Some(close) = key.iter().take(64).position(|&b| b == b'"') else {
        return Ok(unrecognized);
    };
    Ok(match String::from_utf8_lossy(&key[..close]).as_ref() {
        "Item" => Ok(Some(ExportFormat::JsonLines)),
        key if SCAN_KEYS.contains(&key) => Ok(Some(ExportFormat::Scan)),
        key => Err(format!("a JSON object whose first key is {key:?}")),
    })
}

/// What serde_json reads, buffered here because it reads one byte at a time (that path is
/// kept short and inlined), counting newlines so item places can name lines.
struct Lines<'c, R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    newlines: &'c Cell<u64>,
}

impl<R: Read> Read for Lines<'_, R> {
    #[inline]
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.end && out.len() == 1 {
            let byte = self.buf[self.pos];
            self.pos += 1;
            if byte == b'\n' {
                self.newlines.set(self.newlines.get() + 1);
            }
            out[0] = byte;
            return Ok(1);
        }
        if self.pos == self.end {
            (self.pos, self.end) = (0, self.inner.read(&mut self.buf)?);
        }
        let read = out.len().min(self.end - self.pos);
        let bytes = &self.buf[self.pos..self.pos + read];
        out[..read].copy_from_slice(bytes);
        let newlines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        self.newlines.set(self.newlines.get() + newlines);
        self.pos += read;
        Ok(read)
    }
}
