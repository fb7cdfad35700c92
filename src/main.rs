//! `artistbot`: the command line. Thin: telemetry, settings, then one command.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use artistbot::commands;
use artistbot::config::Settings;
use artistbot::telemetry::{self, Console};

#[derive(Parser)]
#[command(
    name = "artistbot",
    version,
    about = "Keeps a catalog of artists, top tracks and related artists fresh, and serves it to a KakaoTalk bot."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create or upgrade the database schema.
    Migrate {
        /// Only show which migrations are applied and pending.
        #[arg(long)]
        status: bool,
    },
    /// Add artists by name, Spotify id or Spotify link, and fetch their data now.
    Add {
        /// Names ("OH MY GIRL", 아이브), Spotify ids, or open.spotify.com links.
        artists: Vec<String>,
        /// Read more, one per line (# starts a comment).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Only add them; the next sync fetches their data.
        #[arg(long)]
        no_refresh: bool,
    },
    /// Refresh what is due now. Exit 0: all done; 2: stopped early (quota, budget, a
    /// provider down; the next run continues); 1: failure.
    Sync {
        /// Refresh every artist, whatever its age.
        #[arg(long)]
        force: bool,
    },
    /// Catalog counts, last runs, what each provider allows, the schedule and the
    /// request queue.
    Status,
    /// Run until stopped: the scheduled refresh (SYNC_SCHEDULE in SYNC_TIMEZONE) and
    /// onboarding of requested artists (every QUEUE_POLL). SIGTERM or Ctrl-C stops it
    /// cleanly (exit 0); a second signal stops it at once.
    Daemon,
    /// Import the old bot's data. Exit 0: all imported; 2: some items rejected (the
    /// others are imported); 1: failure.
    Import {
        #[command(subcommand)]
        source: commands::import::ImportSource,
    },
    /// Serve the KakaoTalk skill endpoint (POST /skill, GET /healthz) on BIND_ADDR.
    Serve,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(settings) => Arc::new(settings),
        Err(error) => {
            eprintln!("artistbot: configuration: {error}");
            return ExitCode::from(1);
        }
    };
    // A service's logs are its output; a command's stay out of what it prints.
    let console = match cli.command {
        Command::Daemon | Command::Serve => Console::Stdout,
        _ => Console::Stderr,
    };
    let _telemetry = match telemetry::init(
        console,
        settings.log_format.is_json(),
        settings.log_dir.as_deref(),
        settings.log_files_kept,
    ) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("artistbot: {error:#}");
            return ExitCode::from(1);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("cannot start the tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Migrate { status } => commands::migrate(&settings, status).await.map(|_| 0),
            Command::Add {
                artists,
                file,
                no_refresh,
            } => commands::add(settings.clone(), artists, file.as_deref(), !no_refresh).await,
            Command::Sync { force } => commands::sync(settings.clone(), force).await,
            Command::Status => commands::status(&settings).await.map(|_| 0),
            Command::Daemon => commands::daemon(settings.clone()).await,
            Command::Import { source } => commands::import::run(settings.clone(), source).await,
            Command::Serve => commands::serve(settings.clone()).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(error) => {
            let described = telemetry::describe_error(&error);
            tracing::error!("{described}");
            eprintln!("artistbot: {described}");
            ExitCode::from(1)
        }
    }
}
