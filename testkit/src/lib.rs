//! Test and benchmark support for artistbot: per-test databases ([`db`]), a fake of
//! the Spotify and Deezer APIs on loopback ([`fake`]), synthetic DynamoDB exports of
//! the old bot's tables ([`export`]), the Kakao reply limits ([`kakao`]), a MariaDB
//! server of a test's own ([`mariadb`]) with certificates from a CA made in the test
//! ([`certs`]), the deployed SQL files with their placeholders filled in
//! ([`deploy_sql`]), and a stand-in for the AWS Lambda Runtime API ([`lambda_runtime`])
//! with the HTTP events each AWS front door sends ([`lambda_events`]). Never used by the
//! product itself.

pub mod certs;
pub mod db;
pub mod deploy_sql;
pub mod export;
pub mod fake;
pub mod kakao;
pub mod lambda_events;
pub mod lambda_runtime;
pub mod mariadb;
