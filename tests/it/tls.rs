//! Verified TLS to MySQL/MariaDB, as the README's "The Lambda and a MySQL at home" sets
//! it up: a MariaDB of the test's own (`testkit::mariadb`) that requires TLS and shows a
//! certificate for `localhost` from a CA made in the test, and the accounts of
//! `deploy/mysql/` created with `REQUIRE SSL`.
//!
//! `DATABASE_URL=...?ssl-mode=VERIFY_IDENTITY&ssl-ca=FILE` must work for the commands (the
//! real binary) and for the skill endpoint's pool (what the Lambda runs); a CA that did
//! not sign the certificate, or a host name the certificate does not name, must fail
//! with an error that says so; a client without TLS must be refused; and no error or
//! log line may show a password.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use artistbot::config::{DatabaseUrl, Settings};
use artistbot::skill::{self, SkillService};
use artistbot::store::{PoolOptions, Store};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use testkit::certs::TestCa;
use testkit::deploy_sql::render;
use testkit::mariadb::{MariaDb, ServerTls};
use tower::ServiceExt;

const DATABASE_SQL: &str = include_str!("../../deploy/mysql/database.sql");
const SYNC_GRANTS: &str = include_str!("../../deploy/mysql/sync-grants.sql");
const SKILL_GRANTS: &str = include_str!("../../deploy/mysql/grants.sql");

/// Verify the chain and the host name: what the README tells every remote client to use.
const VERIFIED: &str = "ssl-mode=VERIFY_IDENTITY";

/// A TLS-only server set up the README's way, and what a client needs to reach it.
struct Deployed {
    server: MariaDb,
    /// The CA that signed the server's certificate.
    ca_file: PathBuf,
    /// A CA that did not.
    other_ca_file: PathBuf,
    admin_password: String,
    sync_password: String,
    skill_password: String,
}

impl Deployed {
    /// Starts the server and applies `deploy/mysql/` in the README's order: the database
    /// and its admin, `artistbot migrate` as that admin over verified TLS, then the sync
    /// and skill accounts bound to 127.0.0.1 with `REQUIRE SSL`. `None` without MariaDB.
    async fn start() -> Option<Deployed> {
        let ca = TestCa::new("artistbot test CA");
        let server = MariaDb::start(Some(ServerTls {
            ca_pem: ca.pem().to_owned(),
            certificate: ca.server_certificate(&["localhost"]),
            require_secure_transport: true,
        }))?;
        let ca_file = server.dir().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        let other_ca_file = server.dir().join("other-ca.pem");
        std::fs::write(&other_ca_file, TestCa::new("someone else's CA").pem()).unwrap();
        let deployed = Deployed {
            server,
            ca_file,
            other_ca_file,
            admin_password: password(),
            sync_password: password(),
            skill_password: password(),
        };

        deployed
            .server
            .execute_as_root(&render(
                DATABASE_SQL,
                &[
                    ("DATABASE", "artistbot"),
                    ("ADMIN_PASSWORD", &deployed.admin_password),
                ],
            ))
            .await;
        let migrate = deployed.artistbot(&["migrate"], &deployed.admin_url(), "info");
        assert!(
            migrate.status.success(),
            "artistbot migrate as the admin over verified TLS: {}\n{}",
            text(&migrate),
            deployed.server.error_log()
        );
        let mut accounts = render(
            SYNC_GRANTS,
            &[
                ("DATABASE", "artistbot"),
                ("SYNC_HOST", "127.0.0.1"),
                ("SYNC_PASSWORD", &deployed.sync_password),
                ("SYNC_TLS", "SSL"),
            ],
        );
        accounts.extend(render(
            SKILL_GRANTS,
            &[
                ("DATABASE", "artistbot"),
                ("SKILL_HOST", "127.0.0.1"),
                ("SKILL_PASSWORD", &deployed.skill_password),
                ("SKILL_TLS", "SSL"),
            ],
        ));
        deployed.server.execute_as_root(&accounts).await;
        Some(deployed)
    }

    /// `mysql://user:password@host:port/artistbot?query`.
    fn url(&self, user: &str, password: &str, host: &str, query: &str) -> String {
        format!(
            "mysql://{user}:{password}@{host}:{}/artistbot?{query}",
            self.server.port()
        )
    }

    fn verified(&self, user: &str, password: &str) -> String {
        let query = format!("{VERIFIED}&ssl-ca={}", self.ca_file.display());
        self.url(user, password, "localhost", &query)
    }

    fn admin_url(&self) -> String {
        self.verified("artistbot_admin", &self.admin_password)
    }

    fn sync_url(&self) -> String {
        self.verified("artistbot_sync", &self.sync_password)
    }

    fn skill_url(&self) -> String {
        self.verified("artistbot_skill", &self.skill_password)
    }

    fn passwords(&self) -> [&str; 3] {
        [
            &self.admin_password,
            &self.sync_password,
            &self.skill_password,
        ]
    }

    /// Runs the real binary with only `DATABASE_URL` (and `RUST_LOG`) set, from the
    /// server's directory, so no developer `.env` leaks in.
    fn artistbot(&self, args: &[&str], database_url: &str, log: &str) -> Output {
        Command::new(env!("CARGO_BIN_EXE_artistbot"))
            .args(args)
            .current_dir(self.server.dir())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", log)
            .output()
            .expect("running artistbot")
    }

    /// Fails the test if `output` shows any of the passwords.
    fn assert_no_password(&self, what: &str, output: &str) {
        for password in self.passwords() {
            assert!(
                !output.contains(password),
                "{what} shows a password:\n{output}"
            );
        }
    }
}

fn password() -> String {
    format!("pw{:016x}", fastrand::u64(..))
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `Store::connect`'s error for `url` (the pool connects at once).
async fn connect_error(url: &str) -> String {
    match Store::connect(&DatabaseUrl::new(url), PoolOptions::default()).await {
        Ok(_) => panic!("connecting to {url} should fail"),
        Err(error) => error.to_string(),
    }
}

/// The skill endpoint as the Lambda builds it: settings from the environment, the
/// endpoint's own (lazy) pool, the shared router.
async fn skill_router(database_url: &str) -> axum::Router {
    let vars = HashMap::from([("DATABASE_URL".to_owned(), database_url.to_owned())]);
    let settings = Settings::from_map(&vars).expect("skill settings");
    let store = skill::connect_store(&settings)
        .await
        .expect("the skill's pool");
    skill::router(SkillService::new(store, settings.skill.clone()))
}

async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_tls_carries_the_commands_and_the_skill_endpoint() {
    crate::support::init_logs();
    // `artistbot migrate` over verified TLS is part of the setup.
    let Some(deployed) = Deployed::start().await else {
        return;
    };
    let export = deployed.server.dir().join("artists.json");
    std::fs::write(
        &export,
        json!({
            "Items": [{"id": {"S": "3HqSLMAZ3g3d5poNaI7GOU"}, "name": {"S": "IU"}}],
            "Count": 1,
            "ScannedCount": 1
        })
        .to_string(),
    )
    .unwrap();

    let import = deployed.artistbot(
        &["import", "dynamodb", export.to_str().unwrap()],
        &deployed.sync_url(),
        "info",
    );
    // Every log line the binary can write, to look for the password in.
    let status = deployed.artistbot(&["status"], &deployed.sync_url(), "trace");
    let router = skill_router(&deployed.skill_url()).await;
    let (health, _) = send(
        &router,
        Request::get("/healthz").body(Body::empty()).unwrap(),
    )
    .await;
    let (asked, reply) = send(
        &router,
        Request::post("/skill")
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"userRequest": {"utterance": "IU"}}).to_string(),
            ))
            .unwrap(),
    )
    .await;

    assert!(import.status.success(), "import: {}", text(&import));
    assert!(status.status.success(), "status: {}", text(&status));
    assert!(
        text(&status).contains("mysql"),
        "status names the database: {}",
        text(&status)
    );
    assert_eq!(
        health,
        StatusCode::OK,
        "the skill's pool reaches the database"
    );
    assert_eq!(asked, StatusCode::OK);
    assert_eq!(
        reply["template"]["outputs"][0]["basicCard"]["title"], "IU",
        "the skill user reads the catalog over TLS: {reply}"
    );
    deployed.assert_no_password("import", &text(&import));
    deployed.assert_no_password("status", &text(&status));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_or_host_name_is_refused_with_an_error_that_says_why() {
    crate::support::init_logs();
    let Some(deployed) = Deployed::start().await else {
        return;
    };
    let password = &deployed.sync_password;
    let other_ca = format!("{VERIFIED}&ssl-ca={}", deployed.other_ca_file.display());
    let right_ca = format!("{VERIFIED}&ssl-ca={}", deployed.ca_file.display());
    let missing_ca = format!(
        "{VERIFIED}&ssl-ca={}",
        deployed.server.dir().join("no-such-ca.pem").display()
    );

    let wrong_ca =
        connect_error(&deployed.url("artistbot_sync", password, "localhost", &other_ca)).await;
    // The certificate names `localhost`, not the address.
    let wrong_name =
        connect_error(&deployed.url("artistbot_sync", password, "127.0.0.1", &right_ca)).await;
    let no_ca_file =
        connect_error(&deployed.url("artistbot_sync", password, "localhost", &missing_ca)).await;
    // The Lambda's pool is lazy: a CA file that is not there (a layer not attached)
    // must still stop it at start, with the file's name, not at every reply.
    let vars = HashMap::from([(
        "DATABASE_URL".to_owned(),
        deployed.url(
            "artistbot_skill",
            &deployed.skill_password,
            "localhost",
            &missing_ca,
        ),
    )]);
    let lambda_start = skill::connect_store(&Settings::from_map(&vars).unwrap())
        .await
        .map(|_| ())
        .expect_err("the skill's pool with a missing CA file")
        .to_string();
    // The same through a command, with every log line the binary can write.
    let command = deployed.artistbot(
        &["status"],
        &deployed.url("artistbot_sync", password, "localhost", &other_ca),
        "trace",
    );

    for (case, message) in [
        ("wrong CA", &wrong_ca),
        ("wrong host name", &wrong_name),
        ("missing CA file", &no_ca_file),
        ("missing CA file, skill endpoint", &lambda_start),
    ] {
        deployed.assert_no_password(case, message);
        assert!(
            message.contains(":***@"),
            "{case}: the error names the database without its password: {message}"
        );
    }
    assert!(
        wrong_ca.contains("invalid peer certificate: UnknownIssuer"),
        "a CA that did not sign the server's certificate: {wrong_ca}"
    );
    assert!(
        wrong_name
            .contains("invalid peer certificate: certificate not valid for name \"127.0.0.1\""),
        "a host name the certificate does not name: {wrong_name}"
    );
    for message in [&no_ca_file, &lambda_start] {
        assert!(
            message.contains("cannot read the CA file") && message.contains("no-such-ca.pem"),
            "a CA file that is not there is named: {message}"
        );
    }
    assert!(!command.status.success(), "status with a wrong CA fails");
    assert!(
        text(&command).contains("invalid peer certificate: UnknownIssuer"),
        "the command says why: {}",
        text(&command)
    );
    deployed.assert_no_password("artistbot status at RUST_LOG=trace", &text(&command));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_tls_is_refused_and_the_drivers_default_does_not_verify() {
    crate::support::init_logs();
    let Some(deployed) = Deployed::start().await else {
        return;
    };

    let plain = connect_error(&deployed.url(
        "artistbot_skill",
        &deployed.skill_password,
        "localhost",
        "ssl-mode=DISABLED",
    ))
    .await;
    // No ssl-mode at all: sqlx's default (PREFERRED) encrypts but trusts any
    // certificate, here one from a CA this client was never told about.
    let unverified = Store::connect(
        &DatabaseUrl::new(deployed.url("artistbot_sync", &deployed.sync_password, "127.0.0.1", "")),
        PoolOptions::default(),
    )
    .await;

    assert!(
        plain.contains("Access denied for user 'artistbot_skill'"),
        "the server refuses a client without TLS: {plain}"
    );
    deployed.assert_no_password("the refusal", &plain);
    let unverified = unverified.expect("the default mode connects without checking anything");
    unverified.ping().await.unwrap();
    unverified.close().await;
}
