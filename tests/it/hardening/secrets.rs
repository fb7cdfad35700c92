//! The database password never reaches a log, at any level, whatever it holds: a MariaDB
//! account whose password has `/ @ % :` in it runs `migrate`, `status` and `sync` at
//! `RUST_LOG=trace` (the driver's and the ORM's own spans included), and neither the
//! password nor its percent-encoded form appears in anything they print. A URL with the
//! password written raw (not a valid URL) fails with a message that does not show it.

use std::process::{Command, Output};

use sea_orm::{ConnectionTrait, Database};
use testkit::fake::{SpotifyMode, World};

use crate::support::SyncHarness;

/// Every character a URL's user information cares about, and a recognizable rest.
const PASSWORD: &str = "Pw/9@x%2F:y@z";

/// `PASSWORD` as a driver that decodes `%2F` in it would see it.
const DECODED: &str = "Pw/9@x/:y@z";

/// `PASSWORD` percent-encoded for the URL.
fn encoded(password: &str) -> String {
    password
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn run(h: &SyncHarness, url: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_artistbot"));
    command
        .args(args)
        .current_dir(std::env::temp_dir())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1");
    for (name, value) in &h.env {
        command.env(name, value);
    }
    command
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "trace")
        .output()
        .expect("running artistbot")
}

fn shown(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_with_url_characters_never_reaches_a_log_even_at_trace() {
    crate::support::init_logs();
    let Some(db) = testkit::db::TestDb::mysql().await else {
        return;
    };
    let (server, database) = db.mysql_parts().expect("a MySQL test database");
    let (server, database) = (server.to_owned(), database.to_owned());
    let user = format!("abpw_{}", &database[database.len().saturating_sub(20)..])
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(32)
        .collect::<String>();
    let _cleanup = testkit::db::DropUsers {
        server: server.clone(),
        users: vec![user.clone()],
    };
    let admin = Database::connect(server.as_str()).await.unwrap();
    for statement in [
        format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY '{}'",
            PASSWORD.replace('\\', "\\\\").replace('\'', "\\'")
        ),
        format!("GRANT ALL ON `{database}`.* TO '{user}'@'%'"),
    ] {
        admin.execute_unprepared(&statement).await.unwrap();
    }
    admin.close().await.unwrap();
    let host = server
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@').map(|(_, host)| host).or(Some(rest)))
        .unwrap()
        .to_owned();
    let url = format!("mysql://{user}:{}@{host}/{database}", encoded(PASSWORD));
    let h = SyncHarness::new(db, World::new(), SpotifyMode::Development).await;

    let outputs = [
        ("migrate", run(&h, &url, &["migrate"])),
        ("status", run(&h, &url, &["status"])),
        ("sync", run(&h, &url, &["sync"])),
    ];
    let raw_url = format!("mysql://{user}:{PASSWORD}@{host}/{database}");
    let unparsable = run(&h, &raw_url, &["status"]);

    for (command, output) in &outputs {
        let text = shown(output);
        assert!(output.status.success(), "{command} failed:\n{text}");
        // The check below means something only if the driver's and the ORM's debug and
        // trace lines were written.
        assert!(
            text.contains(" DEBUG ") || text.contains(" TRACE "),
            "{command} printed no debug or trace line at trace: {text}"
        );
        for form in [PASSWORD.to_owned(), encoded(PASSWORD), DECODED.to_owned()] {
            assert!(
                !text.contains(&form),
                "{command} printed the password ({form}) at trace"
            );
        }
    }
    let text = shown(&unparsable);
    assert_eq!(unparsable.status.code(), Some(1), "{text}");
    for form in [
        PASSWORD.to_owned(),
        encoded(PASSWORD),
        DECODED.to_owned(),
        "x%2F:y".to_owned(),
    ] {
        assert!(
            !text.contains(&form),
            "a raw password URL leaked {form}: {text}"
        );
    }
}
