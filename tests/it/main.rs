//! The integration test binary: every test drives artistbot's real code against a real
//! database (SQLite, and MySQL/MariaDB when `TEST_MYSQL_URL` is set) and, where it needs
//! upstreams, the fake Spotify and Deezer of `testkit` on loopback.
//!
//! Each database test is written once with `db_test!` and runs as `<name>::sqlite` and
//! `<name>::mysql`. Logs are silent unless `TEST_LOG=1`.

#[macro_use]
mod support;

mod ask;
mod binary;
mod cli;
mod daemon;
mod doctor;
mod hardening;
mod identity;
mod import;
mod import_reader;
mod lambda;
mod layering;
mod outages;
mod preview;
mod requests;
mod skill;
mod status;
mod store_basics;
mod sync_engine;
mod tls;
