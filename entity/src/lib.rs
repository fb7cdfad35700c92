//! sea-orm models of the artistbot catalog, one module per table.
//!
//! This crate holds models only: no queries, no business rules. The schema itself is
//! defined by the `migration` crate; these models mirror it column for column. Every
//! timestamp is a UTC `NaiveDateTime` stored in a `DATETIME` column (MySQL's `TIMESTAMP`
//! ends in 2038), and every string id is case-sensitive (a binary collation on MySQL).

pub mod artist_aliases;
pub mod artist_request_users;
pub mod artist_requests;
pub mod artists;
pub mod deezer_artists;
pub mod provider_state;
pub mod related_artists;
pub mod sync_runs;
pub mod top_tracks;
