//! `artistbot import dynamodb`: bringing the old bot's DynamoDB exports into the catalog.
//!
//! Reading (pure: files in, records out; no database, no network):
//! - `reader`: whole files. Detects the format (gzip by magic bytes; `aws dynamodb scan`
//!   pages, possibly several concatenated; export-to-S3 JSON lines), walks it item by item
//!   and hands each item to a callback with its [`ItemPlace`]. Memory is bounded by the
//!   largest item, not the file.
//! - `attr`: DynamoDB typed values ([`AttrValue`], [`Item`]) checked on top of serde_json,
//!   malformed values kept per item ([`ItemError`]) apart from malformed JSON
//!   ([`ExportError`]); exact DynamoDB numbers (bigdecimal).
//! - `record`: which old table an item belongs to ([`detect_table`]) and the catalog record
//!   it maps to ([`to_record`]), with validation ([`RecordError`]).
//!
//! Importing:
//! - `importer`: the run itself ([`import_dynamodb`]): which table each file holds and when
//!   its data was fetched, artists streamed to the store in batches, tracks and related
//!   artists grouped per artist and then written in batches, every rejected item reported
//!   with its place.
//! - `groups`: each artist's best top tracks and related artists, ranked and bounded
//!   while the files stream by (memory grows with artists, not with items).
//! - `report`: the counts and rejections a run produces.
//!
//! Must not touch: providers or the sync engine; every query goes through
//! [`crate::store`] (`store::import`, `store::ranked`), which decides
//! inserted/updated/unchanged.

mod attr;
mod groups;
mod importer;
mod reader;
mod record;
mod report;

pub use attr::{AttrProblem, AttrValue, Item, ItemError, parse_item};
pub use importer::{EventSink, ImportError, ImportEvent, ImportOptions, import_dynamodb};
pub use reader::{ExportError, ExportFormat, FileSummary, ItemPlace, read_export};
pub use record::{
    ArtistRecord, ImportRecord, RecordError, RelatedRecord, RelatedScore, TableKind,
    TopTrackRecord, detect_table, to_record,
};
pub use report::{ImportReport, Rejection, TableCounts};
