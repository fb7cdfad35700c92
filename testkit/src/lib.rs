//! Test and benchmark support for artistbot: per-test databases ([`db`]) and a fake of
//! the Spotify and Deezer APIs on loopback ([`fake`]). Never used by the product itself.

pub mod db;
pub mod fake;
