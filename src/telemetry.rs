//! The tracing subscriber: human-readable lines to stdout or stderr, and with `LOG_DIR`
//! daily rolling files of which a bounded number are kept. `RUST_LOG` filters (default
//! `info`, with the database drivers quieter).

use std::io::IsTerminal;
use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

/// Where the console log lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// Services (daemon, serve): logs are their output.
    Stdout,
    /// Commands that print results (status, add): logs stay out of the output.
    Stderr,
}

/// Keeps the file writer flushing; hold it for all of `main`.
#[must_use = "dropping the guard stops file logging"]
pub struct TelemetryGuard {
    _file_writer: Option<WorkerGuard>,
}

const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,hyper=warn,reqwest=warn,tokio_cron_scheduler=warn";

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init(
    console: Console,
    log_dir: Option<&Path>,
    files_kept: usize,
) -> anyhow::Result<TelemetryGuard> {
    let filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let console_layer = match console {
        // Colours only for a person at a terminal: journald, launchd log files and
        // CloudWatch would otherwise store escape codes.
        Console::Stdout => fmt::layer()
            .with_writer(std::io::stdout)
            .with_ansi(std::io::stdout().is_terminal())
            .with_target(false)
            .boxed(),
        Console::Stderr => fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .boxed(),
    };
    let (file_layer, guard) = match log_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("LOG_DIR {}: {e}", dir.display()))?;
            let appender = Builder::new()
                .rotation(Rotation::DAILY)
                .filename_prefix("artistbot")
                .filename_suffix("log")
                .max_log_files(files_kept.max(1))
                .build(dir)
                .map_err(|e| anyhow::anyhow!("LOG_DIR {}: {e}", dir.display()))?;
            let (writer, guard) = tracing_appender::non_blocking(appender);
            (
                Some(
                    fmt::layer()
                        .with_writer(writer)
                        .with_ansi(false)
                        .with_filter(filter()),
                ),
                Some(guard),
            )
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(console_layer.with_filter(filter()))
        .with(file_layer)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot install the log subscriber: {e}"))?;
    Ok(TelemetryGuard {
        _file_writer: guard,
    })
}

/// A failure in one line for a person: the error and each cause it keeps, each said
/// once. Errors here show their cause in their own message too (so a log line with only
/// the error still says why), so a cause already said is not repeated.
pub fn describe_error(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the catalog: {0}")]
    struct Says(#[source] std::io::Error);

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::other("disk on fire");
        let error = anyhow::Error::new(Says(io)).context("sync failed");
        assert_eq!(
            describe_error(&error),
            "sync failed: reading the catalog: disk on fire"
        );
        let plain = anyhow::anyhow!("no cause");
        assert_eq!(describe_error(&plain), "no cause");
    }
}
