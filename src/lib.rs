//! artistbot keeps a catalog of music artists, their top tracks and related artists
//! fresh in MySQL (or an embedded SQLite file), and answers KakaoTalk chatbot users from
//! that catalog.
//!
//! Crate map:
//! - [`config`]: every setting, its default and its parsing; secrets that never print;
//!   the types settings parse into (the refresh schedule, [`config::cron`]).
//! - [`telemetry`]: the tracing subscriber (stdout, optional rolling files).
//! - [`names`]: the name-folding rule and Spotify id/link parsing, shared by all.
//! - [`catalog`]: domain types passed between the pipeline and the store.
//! - [`providers`]: outbound Spotify and Deezer clients under one HTTP policy.
//! - [`store`]: the only module that builds queries.
//! - [`sync`]: every unit of work on the catalog: the refresh pipeline (plan, fetch,
//!   map, store, report), onboarding of named and requested artists, and the runner
//!   that lets one unit of work run at a time across processes.
//! - [`daemon`]: `artistbot daemon`: the schedule, the request queue's poll, clean
//!   shutdown, health and metrics, all through the sync's runner.
//! - [`import`]: the old bot's DynamoDB exports: streaming readers and the import run.
//! - [`skill`]: the KakaoTalk skill endpoint (read-only replies from the catalog) and
//!   its chat preview page.
//! - [`server`]: the HTTP server every listener runs on (`serve`, the health server):
//!   timeouts, a connection cap, a bounded stop.
//! - [`commands`]: what each CLI subcommand parses and prints, for the thin `main`.
//!
//! ## Layering
//! Each line names what a module may import from the crate; nothing else. A test
//! (`tests/it/layering.rs`) reads this list and the code and fails on any other import,
//! and on any import cycle between files.
//! - leaves: `config`, `names`, `catalog`, `telemetry` → nothing
//! - `providers` → leaves
//! - `store` → leaves
//! - `server` → leaves
//! - `sync` → `providers`, `store`, leaves
//! - `skill` → `server`, `store`, leaves
//! - `import` → `store`, leaves
//! - `daemon` → `server`, `sync`, `store`, leaves
//! - `commands` → `daemon`, `import`, `skill`, `server`, `sync`, `store`, `providers`, leaves

pub mod catalog;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod import;
pub mod names;
pub mod providers;
pub mod server;
pub mod skill;
pub mod store;
pub mod sync;
pub mod telemetry;
