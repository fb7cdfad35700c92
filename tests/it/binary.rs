//! Running the real `artistbot` binary as an operator would: in a directory of the
//! test's own, with exactly the environment the test gives (no developer `.env` and no
//! variable of the test process leaks in).

use std::path::Path;
use std::process::{Command, Output};

/// What a run of the binary printed, and how it ended.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Everything printed, for assertion messages.
    pub fn shown(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The binary, started in `dir` with `env` only (and `PATH`).
pub fn command<K: AsRef<str>, V: AsRef<str>>(
    dir: &Path,
    args: &[&str],
    env: impl IntoIterator<Item = (K, V)>,
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_artistbot"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn");
    for (name, value) in env {
        command.env(name.as_ref(), value.as_ref());
    }
    command
}

/// Runs the binary to its end (see [`command`]).
pub fn artistbot<K: AsRef<str>, V: AsRef<str>>(
    dir: &Path,
    args: &[&str],
    env: impl IntoIterator<Item = (K, V)>,
) -> Run {
    let output: Output = command(dir, args, env).output().expect("running artistbot");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// No variables at all.
pub const NO_ENV: [(&str, &str); 0] = [];
