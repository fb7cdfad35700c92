//! artistbot keeps a catalog of music artists, their top tracks and related artists
//! fresh in MySQL (or an embedded SQLite file), and answers KakaoTalk chatbot users from
//! that catalog.
//!
//! Crate map (dependencies point one way: `sync -> providers, store`; `skill -> store`;
//! `providers` and `store` never import each other):
//! - [`config`]: every setting, its default and its parsing; secrets that never print.
//! - [`telemetry`]: the tracing subscriber (stdout, optional rolling files).
//! - [`names`]: the name-folding rule and Spotify id/link parsing, shared by all.
//! - [`catalog`]: domain types passed between the pipeline and the store.
//! - [`providers`]: outbound Spotify and Deezer clients under one HTTP policy.
//! - [`store`]: the only module that builds queries.
//! - [`sync`]: the refresh pipeline: plan, fetch, map, store, report.
//! - [`daemon`]: `artistbot daemon`: the scheduled refresh, the request queue, the
//!   runner lock across replicas, clean shutdown, health and metrics.
//! - [`import`]: the old bot's DynamoDB exports: streaming readers and the import run
//!   (`import -> store`).
//! - [`skill`]: the KakaoTalk skill endpoint (read-only replies from the catalog).
//! - [`commands`]: what each CLI subcommand does, for the thin `main`.

pub mod catalog;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod import;
pub mod names;
pub mod providers;
pub mod skill;
pub mod store;
pub mod sync;
pub mod telemetry;
