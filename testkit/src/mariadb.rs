//! A MariaDB server of a test's own, for what the shared `TEST_MYSQL_URL` server cannot
//! show: server settings such as TLS with a certificate from a CA made in the test, and
//! `require_secure_transport`.
//!
//! Each [`MariaDb`] gets a fresh data directory (`mariadb-install-db`) in a temporary
//! directory and a free port on 127.0.0.1. Dropping the handle kills the server and
//! removes the directory, also when the test panics; on Linux the server is also killed
//! when the thread that started it ends, so a test process killed outright (a timeout,
//! Ctrl-C) leaves no server behind. Start it on the test's own thread, which is where a
//! `#[tokio::test]` body runs.
//!
//! Without MariaDB installed the caller gets `None` and skips, unless
//! `TEST_REQUIRE_MYSQL=1` (CI) makes that a failure. Root (`root@localhost`, no password)
//! is reached through the Unix socket, which `require_secure_transport` leaves alone;
//! everything a test wants to prove goes over TCP.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};

use crate::certs::ServerCertificate;

/// How long a fresh server may take to accept connections (it takes well under a
/// second on an idle machine; a loaded CI machine gets plenty of slack).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// TLS settings of the server.
pub struct ServerTls {
    /// The CA the server names to clients that present certificates (unused by the
    /// tests, but MariaDB wants it with the others).
    pub ca_pem: String,
    pub certificate: ServerCertificate,
    /// `require_secure_transport=ON`: TCP clients without TLS are refused.
    pub require_secure_transport: bool,
}

/// A running MariaDB server; killed, and its data removed, on drop.
pub struct MariaDb {
    // Declared first, so it is dropped (killed) before its directory is removed.
    server: ServerProcess,
    port: u16,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

/// The `mariadbd` process, killed on drop.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // SIGKILL: the data is thrown away anyway, and a clean shutdown takes longer.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl MariaDb {
    /// Initializes a data directory and starts a server on it, with TLS if asked. `None`
    /// when MariaDB is not installed (a panic instead when `TEST_REQUIRE_MYSQL=1`).
    pub fn start(tls: Option<ServerTls>) -> Option<MariaDb> {
        let (Some(server), Some(install)) =
            (find_program("mariadbd"), find_program("mariadb-install-db"))
        else {
            if std::env::var("TEST_REQUIRE_MYSQL").is_ok_and(|v| v == "1") {
                panic!(
                    "TEST_REQUIRE_MYSQL=1 but mariadbd or mariadb-install-db is not installed \
                     (Debian: apt-get install mariadb-server)"
                );
            }
            eprintln!("MariaDB is not installed: skipping the test that needs its own server");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("artistbot-mariadb-")
            .tempdir()
            .expect("a temporary directory for the server");
        let data = dir.path().join("data");
        let socket = dir.path().join("mysqld.sock");
        // A temporary directory of its own: servers sharing /tmp collide on the names of
        // their temporary tables ("Unknown table 'mysql.tmp_user_sys'" while installing).
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).expect("the server's temporary directory");
        let error_log = dir.path().join("error.log");
        // MariaDB refuses to run as root unless told to; as anyone else it runs as itself.
        // SAFETY: geteuid has no preconditions and cannot fail.
        let as_root = unsafe { libc::geteuid() } == 0;
        let mut common = vec![
            "--no-defaults".to_owned(),
            format!("--datadir={}", data.display()),
            format!("--tmpdir={}", tmp.display()),
            // Small InnoDB files: the server is thrown away after a few statements.
            "--innodb-buffer-pool-size=16M".to_owned(),
            "--innodb-log-file-size=4M".to_owned(),
        ];
        if as_root {
            common.push("--user=root".to_owned());
        }

        let installed = Command::new(&install)
            .args(&common)
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .stdin(Stdio::null())
            .output()
            .expect("running mariadb-install-db");
        assert!(
            installed.status.success(),
            "mariadb-install-db failed: {}\n{}",
            String::from_utf8_lossy(&installed.stdout),
            String::from_utf8_lossy(&installed.stderr)
        );

        let mut args = common;
        args.extend([
            "--bind-address=127.0.0.1".to_owned(),
            format!("--socket={}", socket.display()),
            format!("--pid-file={}", dir.path().join("mysqld.pid").display()),
            format!("--log-error={}", error_log.display()),
            // As on the shared CI server: accounts are matched by address, not by name.
            "--skip-name-resolve".to_owned(),
        ]);
        if let Some(tls) = &tls {
            let write = |name: &str, text: &str| {
                let path = dir.path().join(name);
                std::fs::write(&path, text).expect("writing a TLS file for the server");
                path
            };
            let ca = write("server-ca.pem", &tls.ca_pem);
            let cert = write("server-cert.pem", &tls.certificate.cert_pem);
            let key = write("server-key.pem", &tls.certificate.key_pem);
            args.extend([
                format!("--ssl-ca={}", ca.display()),
                format!("--ssl-cert={}", cert.display()),
                format!("--ssl-key={}", key.display()),
            ]);
            if tls.require_secure_transport {
                args.push("--require-secure-transport=ON".to_owned());
            }
        }

        // A port found free may be taken before the server binds it: try a few.
        for _ in 0..3 {
            let port = free_port();
            let mut command = Command::new(&server);
            command
                .args(&args)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            die_with_this_thread(&mut command);
            let mut process = ServerProcess(command.spawn().expect("starting mariadbd"));
            match wait_until_ready(&mut process.0, port, &socket, &error_log) {
                Ok(()) => {
                    return Some(MariaDb {
                        server: process,
                        port,
                        socket,
                        dir,
                    });
                }
                Err(log) if log.contains("already in use") => {
                    drop(process);
                    let _ = std::fs::remove_file(&socket);
                }
                Err(log) => panic!("the test's MariaDB did not start:\n{log}"),
            }
        }
        panic!("no free port for the test's MariaDB after three tries");
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A directory that lives as long as the server, for files a test hands to clients
    /// (a CA file named by `ssl-ca`, exports to import).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Root over the Unix socket: for setting up, never for what a test proves.
    pub fn root_url(&self) -> String {
        format!(
            "mysql://root@localhost/?socket={}&ssl-mode=DISABLED",
            self.socket.display()
        )
    }

    /// Runs statements as root, stopping at the first error.
    pub async fn execute_as_root(&self, statements: &[String]) {
        let root = Database::connect(self.root_url())
            .await
            .expect("root connects through the socket");
        for statement in statements {
            root.execute_unprepared(statement)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        let _ = root.close().await;
    }

    /// The server's error log, for failure messages.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// Whether the process is still running (it is, unless something killed it).
    pub fn is_running(&mut self) -> bool {
        matches!(self.server.0.try_wait(), Ok(None))
    }
}

/// Waits until the server accepts TCP connections; the error log if it exits or takes
/// too long.
fn wait_until_ready(
    child: &mut Child,
    port: u16,
    socket: &Path,
    error_log: &Path,
) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let log = || std::fs::read_to_string(error_log).unwrap_or_default();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("mariadbd exited ({status}):\n{}", log()));
        }
        // It creates the socket and listens on TCP once it is ready for connections.
        if socket.exists()
            && TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "mariadbd did not accept connections within {START_TIMEOUT:?}:\n{}",
                log()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("binding a free port on loopback")
}

/// `program` on the PATH or where distributions put it (`mariadbd` is in `/usr/sbin`,
/// which an ordinary user's PATH often lacks).
fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Linux: the server gets SIGKILL when the thread that spawned it ends.
#[cfg(target_os = "linux")]
fn die_with_this_thread(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and only makes one system call.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_this_thread(_command: &mut Command) {}
