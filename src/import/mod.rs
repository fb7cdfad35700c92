//! `artistbot import dynamodb`: bringing the old bot's DynamoDB exports into the catalog.
//!
//! Reading (pure: files in, records out; no database, no network):
//! - `reader`: whole files. Detects the format (gzip by magic bytes; `aws dynamodb scan`
//!   pages, possibly several concatenated; export-to-S3 JSON lines), walks it item by item
//!   and hands each item to a callback with its [`ItemPlace`]. Memory is bounded by the
//!   largest item, not the file.
//! - `attr`: DynamoDB typed values ([`AttrValue`], [`Item`]) and the serde visitors that
//!   build them, keeping malformed values per item ([`ItemError`]) apart from malformed
//!   JSON ([`ExportError`]).
//! - `table`: which old table an item belongs to ([`detect_table`]).
//! - `record`: one item to one catalog record ([`to_record`]), with validation
//!   ([`RecordError`]).
//! - `source` and `number`: the counting byte reader and exact number parsing behind them.
//!
//! Importing:
//! - [`files`]: which table each file holds, when its data was fetched, and the order the
//!   files are read in (artists first, so references can be checked).
//! - [`groups`]: each artist's best top tracks and related artists, ranked and bounded
//!   while the files stream by (memory grows with artists, not with items).
//! - [`importer`]: the run itself: artists streamed to the store in batches, tracks and
//!   related artists grouped per artist and then written in batches, every rejected item
//!   reported with its place.
//! - [`report`]: the counts and rejections a run produces.
//!
//! Must not touch: providers or the sync engine; every query goes through
//! [`crate::store`] (`store::import`), which decides inserted/updated/unchanged.

mod attr;
pub mod files;
pub mod groups;
pub mod importer;
mod number;
mod reader;
mod record;
pub mod report;
mod source;
mod table;

pub use attr::{AttrProblem, AttrValue, Item, ItemError, JsonKind, parse_item};
pub use importer::{ImportError, ImportEvent, ImportOptions, import_dynamodb};
pub use reader::{
    CountMismatch, ExportError, ExportFormat, FileSummary, ItemPlace, MAX_LINE_BYTES, read_export,
    read_export_from,
};
pub use record::{
    ArtistRecord, ImportRecord, RecordError, RelatedRecord, RelatedScore, TopTrackRecord, to_record,
};
pub use report::{FileReport, ImportReport, Rejection, TableCounts};
pub use table::{TableKind, detect_table};
