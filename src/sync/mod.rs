//! Every unit of work on the catalog: the refresh pipeline (plan -> fetch -> map ->
//! store -> report), onboarding of artists named with `add` or asked for by users, and
//! the runner that lets one unit of work run at a time, in this process and across every
//! process on the same database.
//!
//! [`SyncEngine::run`] is the one way catalog data gets refreshed: `artistbot sync`,
//! `artistbot add`, the daemon's schedule and the request queue all call it, through
//! the [`Runner`]. A run loads what the providers allowed last time, plans stale-first,
//! refreshes Spotify profiles in batches when the app may, then works on artists
//! concurrently (each artist's writes in one transaction), and records itself in
//! `sync_runs`.
//!
//! Spotify is spent like money: a per-run budget (further capped by a daily budget over
//! all runs), no call to an endpoint known to be refused, and a quota block stops every
//! Spotify call at once while Deezer work carries on.
//!
//! Files: [`engine`] (the run), [`plan`] (what is due), [`link`] (the Spotify phase:
//! profiles and links, in demand order), [`artist`] (one artist's refresh), [`identity`]
//! (matching artists across providers), [`context`] (what one run's artists share),
//! [`spotify_state`] (what Spotify allows, kept across runs), [`resolve`] (names, ids
//! and links into catalog artists, Deezer first), [`onboard`] (adding named and
//! requested artists), [`requests`] (the request queue's batch), [`runner`] (units of
//! work and the runner lock), [`report`], [`progress`], [`options`], [`error`].

mod artist;
mod context;
mod engine;
pub(crate) mod error;
pub(crate) mod identity;
mod link;
pub mod onboard;
pub(crate) mod options;
pub mod plan;
pub(crate) mod progress;
pub(crate) mod report;
pub mod requests;
pub mod resolve;
pub mod runner;
mod spotify_state;

pub use engine::SyncEngine;
pub use options::{RunOptions, Trigger};
pub use progress::{NoProgress, Progress};
pub use report::RunReport;
