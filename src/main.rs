//! `artistbot`: the command line. Thin: arguments, the settings file, settings,
//! telemetry, then one command.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use artistbot::commands;
use artistbot::config::{self, EnvFile, Settings};
use artistbot::telemetry::{self, Console};

/// What every exit code means, for `--help` (the README says the same).
const EXIT_CODES: &str = "\
Exit codes, the same for every command:
  0   done
  1   failed (for doctor: a check failed)
  2   stopped early for a reason the next run gets past (Spotify quota or budget, a
      provider down, another runner busy, Ctrl-C); the next run continues
  64  usage error (an unknown flag, a missing argument)";

/// A usage error: clap's own error exit (2) would mean "stopped early" here.
const USAGE_ERROR: u8 = 64;

#[derive(Parser)]
#[command(
    name = "artistbot",
    version,
    about = "Keeps a catalog of artists, top tracks and related artists fresh, and serves it to a KakaoTalk bot.",
    after_help = EXIT_CODES
)]
struct Cli {
    /// Read the settings from this file instead of `.env` (a service's environment file;
    /// variables already set in the environment still win).
    #[arg(long, global = true, value_name = "PATH", env = config::ENV_FILE_VARIABLE)]
    env_file: Option<PathBuf>,
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
    /// Add artists by name, Deezer or Spotify id or link, and fetch their data now.
    Add {
        /// Names ("OH MY GIRL", 아이브; a bare number is a name), Deezer ids as
        /// `deezer:75798` or deezer.com links, Spotify ids or open.spotify.com links.
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
    /// Show the reply the KakaoTalk skill gives NAME, recording nothing.
    ///
    /// The skill's own code path (lookup, related artists, suggestions), drawn for a
    /// terminal or printed as the Kakao JSON. Exit 0: a reply from the catalog (a known
    /// name or not); 1: the catalog could not be read.
    Ask {
        /// What a user types: an artist's name (several words are joined by spaces).
        #[arg(required = true, value_name = "NAME")]
        name: Vec<String>,
        /// Print the Kakao JSON instead of the terminal rendering.
        #[arg(long)]
        json: bool,
    },
    /// Check the setup: one line per check, with what is wrong and how to fix it.
    ///
    /// The settings file, variable names, the database (reachable, schema, grants),
    /// the Spotify app (a token only: no quota spent), Deezer, the schedule and the
    /// skill endpoint. Writes nothing. Exit 0: no check failed (warnings do not fail);
    /// 1: a check failed.
    Doctor,
    /// The mode, catalog counts, last runs, what each provider allows, the schedule and
    /// the request queue.
    Status {
        /// The same facts as one JSON object, with stable keys (see the README).
        #[arg(long)]
        json: bool,
    },
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
    /// Serve the KakaoTalk skill endpoint (POST /skill, GET /healthz, GET /metrics) on
    /// BIND_ADDR, and
    /// the chat preview page (GET /) when SKILL_PREVIEW allows it.
    Serve,
}

/// For commands that only print (`status | head`): when the reader of the output goes
/// away, the process ends quietly as Unix tools do, instead of panicking in `println!`.
/// Not for commands that write the catalog or serve: they keep Rust's default (the write
/// fails, the error is handled).
fn end_quietly_when_the_reader_goes_away() {
    #[cfg(unix)]
    // SAFETY: called before any thread starts; it only restores SIGPIPE's default action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            // `--help` and `--version` are answers, not errors.
            return if error.use_stderr() {
                ExitCode::from(USAGE_ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if matches!(
        cli.command,
        Command::Status { .. } | Command::Ask { .. } | Command::Doctor
    ) {
        end_quietly_when_the_reader_goes_away();
    }
    let env_file = EnvFile::find_and_read(cli.env_file.as_deref());
    if let Command::Doctor = cli.command {
        // Doctor reports a broken settings file as one of its checks, and goes on.
        if let Ok(file) = &env_file {
            file.load_into_environment();
        }
        let runtime = tokio::runtime::Runtime::new().expect("cannot start the tokio runtime");
        return ExitCode::from(runtime.block_on(commands::doctor::run(env_file)) as u8);
    }
    let env_file = match env_file {
        Ok(file) => file,
        Err(error) => {
            eprintln!("artistbot: {error}");
            return ExitCode::from(1);
        }
    };
    // Before the runtime starts any thread: this sets environment variables.
    env_file.load_into_environment();
    let settings = match Settings::from_environment() {
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
    commands::warn_about_misspelt_variables(&env_file);
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
            Command::Ask { name, json } => commands::ask::run(&settings, &name, json).await,
            Command::Status { json } => commands::status::run(&settings, json).await.map(|_| 0),
            Command::Daemon => commands::daemon(settings.clone()).await,
            Command::Import { source } => commands::import::run(settings.clone(), source).await,
            Command::Serve => commands::serve(settings.clone()).await,
            Command::Doctor => unreachable!("doctor runs before the settings are loaded"),
        }
    });
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(error) => {
            let described = telemetry::describe_error(&error);
            // A command's log is already on stderr, beside the line below: said once
            // there, and logged where logs are kept (a service's stdout, LOG_DIR).
            if console == Console::Stdout || settings.log_dir.is_some() {
                tracing::error!("{described}");
            }
            eprintln!("artistbot: {described}");
            ExitCode::from(1)
        }
    }
}
