//! Test and benchmark support for artistbot: per-test databases ([`db`]), a fake of
//! the Spotify and Deezer APIs on loopback ([`fake`]), synthetic DynamoDB exports of
//! the old bot's tables ([`export`]), and the deployed SQL files with their placeholders
//! filled in ([`deploy_sql`]). Never used by the product itself.

pub mod db;
pub mod deploy_sql;
pub mod export;
pub mod fake;
pub mod kakao;
