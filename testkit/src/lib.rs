//! Test and benchmark support for artistbot: per-test databases ([`db`]), a fake of
//! the Spotify and Deezer APIs on loopback ([`fake`]), and synthetic DynamoDB exports of
//! the old bot's tables ([`export`]). Never used by the product itself.

pub mod db;
pub mod export;
pub mod fake;
pub mod kakao;
