//! The tracing subscriber: log lines to stdout or stderr as text or as one JSON object per
//! line, and with `LOG_DIR` daily rolling files of which a bounded number are kept.
//! `RUST_LOG` filters (default `info`, with the database drivers quieter); `NO_COLOR`
//! turns colours off even at a terminal.
//!
//! Also what every log field and metric shares: [`escaped`] for text that came from a
//! user or an upstream (so it can neither forge a line nor hide in terminal escapes),
//! and the Prometheus text format ([`MetricsText`], [`Histogram`]).
//!
//! A leaf: it imports nothing else from the crate (the binaries pass it what the
//! settings say), so neither it nor the settings depend on each other.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::Path;

use tracing::Subscriber;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

/// Where the console log lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// Services (daemon, serve): logs are their output.
    Stdout,
    /// Commands that print results (status, add): logs stay out of the output.
    Stderr,
    /// AWS Lambda: stdout, which CloudWatch stores line by line with a timestamp of its
    /// own, so lines carry none (a second one would only be noise), and never colours.
    Lambda,
}

/// How each line is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lines {
    /// Human-readable text.
    Text,
    /// One JSON object per line, the event's fields at the top level.
    Json,
}

/// Keeps the file writer flushing; hold it for all of `main`.
#[must_use = "dropping the guard stops file logging"]
pub struct TelemetryGuard {
    _file_writer: Option<WorkerGuard>,
}

const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,hyper=warn,reqwest=warn,tokio_cron_scheduler=warn";

/// Added to whatever `RUST_LOG` says: the Lambda runtime logs every raw event at TRACE,
/// and an event carries the request's headers, the skill's shared secret among them.
const ALWAYS_CAPPED: &str = "lambda_runtime=debug";

/// Installs the global subscriber. Call once, first thing in `main`. `json_lines`: one
/// JSON object per line instead of text (`LOG_FORMAT=json`), on the console and in files.
pub fn init(
    console: Console,
    json_lines: bool,
    log_dir: Option<&Path>,
    files_kept: usize,
) -> anyhow::Result<TelemetryGuard> {
    let format = if json_lines { Lines::Json } else { Lines::Text };
    let filter = || {
        EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
            .add_directive(
                ALWAYS_CAPPED
                    .parse()
                    .expect("the capping directive is valid"),
            )
    };
    let no_color = std::env::var_os("NO_COLOR");
    let console_layer = match console {
        Console::Stdout => line_layer(
            std::io::stdout,
            format,
            colours_wanted(std::io::stdout().is_terminal(), no_color.as_ref()),
            true,
        ),
        Console::Stderr => line_layer(
            std::io::stderr,
            format,
            colours_wanted(std::io::stderr().is_terminal(), no_color.as_ref()),
            true,
        ),
        Console::Lambda => line_layer(std::io::stdout, format, false, false),
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
                Some(line_layer(writer, format, false, true).with_filter(filter())),
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

/// Colours only for a person at a terminal who has not asked for none (no-color.org:
/// `NO_COLOR` set to anything but the empty string). journald, launchd log files and
/// CloudWatch would otherwise store escape codes.
fn colours_wanted(is_terminal: bool, no_color: Option<&OsString>) -> bool {
    is_terminal && no_color.is_none_or(|value| value.is_empty())
}

/// One layer writing lines to `writer` in `format`.
fn line_layer<S, W>(
    writer: W,
    format: Lines,
    colours: bool,
    timestamps: bool,
) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    match format {
        Lines::Text => {
            let layer = fmt::layer()
                .with_writer(writer)
                .with_ansi(colours)
                .with_target(false);
            if timestamps {
                layer.boxed()
            } else {
                layer.without_time().boxed()
            }
        }
        Lines::Json => {
            // Fields at the top level (`outcome`, `latency_ms`) are what queries filter
            // on; the spans (the Lambda request id among them) come as one list, not
            // twice over as "current span" and "span list".
            let layer = fmt::layer()
                .with_writer(writer)
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(true);
            if timestamps {
                layer.boxed()
            } else {
                layer.without_time().boxed()
            }
        }
    }
}

/// `text` as a log field may show it: on one line, every control character (newline,
/// carriage return, ESC, BEL, ...), format character (the bidi overrides U+202A–U+202E
/// and isolates U+2066–U+2069, zero-width characters, ...) and line or paragraph
/// separator written as an escape (`\n`, `\u{1b}`, `\u{202e}`), and a backslash as
/// `\\` so an escape cannot be typed in. Everything else (Hangul, emoji, accents) is
/// written as it is.
///
/// Use it for every field that carries what a user typed or a name an upstream gave:
/// `tracing::info!(query = %escaped(&request.query), ...)`.
pub fn escaped(text: &str) -> Escaped<'_> {
    Escaped(text)
}

/// See [`escaped`].
#[derive(Clone, Copy)]
pub struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut clean_from = 0;
        for (at, c) in self.0.char_indices() {
            let escape = match c {
                '\\' => Some("\\\\"),
                '\n' => Some("\\n"),
                '\r' => Some("\\r"),
                '\t' => Some("\\t"),
                _ if is_invisible_or_control(c) => None,
                _ => continue,
            };
            f.write_str(&self.0[clean_from..at])?;
            match escape {
                Some(text) => f.write_str(text)?,
                None => write!(f, "\\u{{{:x}}}", c as u32)?,
            }
            clean_from = at + c.len_utf8();
        }
        f.write_str(&self.0[clean_from..])
    }
}

impl std::fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Unicode's control (Cc) and format (Cf) characters and the line and paragraph
/// separators (Zl, Zp): what can break a line, move the cursor, reorder the text around
/// it or hide in it.
fn is_invisible_or_control(c: char) -> bool {
    matches!(
        c as u32,
        0x00..=0x1f
            | 0x7f..=0x9f
            | 0xad
            | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x890..=0x891
            | 0x8e2
            | 0x180e
            | 0x200b..=0x200f
            | 0x2028..=0x202e
            | 0x2060..=0x2064
            | 0x2066..=0x206f
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0x110bd
            | 0x110cd
            | 0x13430..=0x1343f
            | 0x1bca0..=0x1bca3
            | 0x1d173..=0x1d17a
            | 0xe0001
            | 0xe0020..=0xe007f
    )
}

/// Prometheus text exposition (format 0.0.4), one metric family after another.
#[derive(Default)]
pub struct MetricsText {
    out: String,
}

impl MetricsText {
    pub fn new() -> Self {
        Self::default()
    }

    /// A family: its `# HELP` and `# TYPE` lines, then one line per sample (labels as
    /// written, e.g. `{outcome="hit"}`, or empty).
    pub fn family<V: std::fmt::Display>(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        samples: impl IntoIterator<Item = (String, V)>,
    ) {
        use std::fmt::Write as _;
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(self.out, "{name}{labels} {value}");
        }
    }

    /// One unlabelled sample.
    pub fn single<V: std::fmt::Display>(&mut self, name: &str, kind: &str, help: &str, value: V) {
        self.family(name, kind, help, [(String::new(), value)]);
    }

    /// A histogram family from `histogram`'s buckets (cumulative, as the format wants).
    pub fn histogram(&mut self, name: &str, help: &str, histogram: &Histogram) {
        use std::fmt::Write as _;
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} histogram");
        let (buckets, count, sum) = histogram.snapshot();
        let mut cumulative = 0;
        for (bound, n) in histogram.bounds.iter().zip(&buckets) {
            cumulative += n;
            let _ = writeln!(self.out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(self.out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(self.out, "{name}_sum {sum}");
        let _ = writeln!(self.out, "{name}_count {count}");
    }

    /// `artistbot_build_info{version="..."} 1`: which build answers, for dashboards that
    /// follow a deployment.
    pub fn build_info(&mut self) {
        self.family(
            "artistbot_build_info",
            "gauge",
            "The running build (always 1; the version is the label).",
            [(format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")), 1)],
        );
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// A Prometheus histogram of durations, in seconds: lock-free counters per bucket.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative): `counts[i]` counts values in
    /// `(bounds[i-1], bounds[i]]`; the last slot is above every bound.
    counts: Vec<std::sync::atomic::AtomicU64>,
    sum_nanos: std::sync::atomic::AtomicU64,
}

impl Histogram {
    /// A histogram with these upper bounds (seconds, ascending).
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len())
                .map(|_| std::sync::atomic::AtomicU64::new(0))
                .collect(),
            sum_nanos: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub fn observe(&self, duration: std::time::Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        let seconds = duration.as_secs_f64();
        let slot = self
            .bounds
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(self.bounds.len());
        self.counts[slot].fetch_add(1, Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    /// (per-bucket counts within the bounds, total count, sum in seconds).
    fn snapshot(&self) -> (Vec<u64>, u64, f64) {
        use std::sync::atomic::Ordering::Relaxed;
        let all: Vec<u64> = self.counts.iter().map(|c| c.load(Relaxed)).collect();
        let count = all.iter().sum();
        let sum = self.sum_nanos.load(Relaxed) as f64 / 1e9;
        (all[..self.bounds.len()].to_vec(), count, sum)
    }
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
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer keeping what the layer wrote.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'writer> MakeWriter<'writer> for Captured {
        type Writer = Captured;

        fn make_writer(&'writer self) -> Captured {
            self.clone()
        }
    }

    /// What one event inside one span looks like written as `format`.
    fn written(format: Lines, timestamps: bool) -> String {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::registry().with(line_layer(
            captured.clone(),
            format,
            false,
            timestamps,
        ));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("invoke", requestId = "req-1");
            let _entered = span.enter();
            tracing::info!(outcome = "hit", latency_ms = 1.5, "skill request");
        });
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn json_lines_are_one_object_each_with_the_fields_on_top() {
        let text = written(Lines::Json, true);

        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line = &lines[0];
        assert_eq!(line["message"], "skill request");
        assert_eq!(line["outcome"], "hit");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["spans"][0]["requestId"], "req-1");
        assert!(
            line["timestamp"].is_string(),
            "off Lambda a line says when: {text}"
        );
        assert!(
            line.get("span").is_none(),
            "the span is listed once: {text}"
        );
    }

    #[test]
    fn lines_for_cloudwatch_carry_no_timestamp_of_their_own() {
        let json: serde_json::Value =
            serde_json::from_str(written(Lines::Json, false).trim()).unwrap();
        assert!(json.get("timestamp").is_none(), "{json}");

        let text = written(Lines::Text, false);
        assert!(text.trim_start().starts_with("INFO"), "{text}");
        assert!(text.contains("invoke{requestId=\"req-1\"}"), "{text}");
        let stamped = written(Lines::Text, true);
        assert!(stamped.starts_with("20"), "{stamped}");
    }

    #[test]
    fn colours_need_a_terminal_and_no_no_color() {
        let set = OsString::from("1");
        let empty = OsString::new();
        assert!(colours_wanted(true, None));
        assert!(!colours_wanted(true, Some(&set)));
        assert!(
            colours_wanted(true, Some(&empty)),
            "an empty NO_COLOR is unset"
        );
        assert!(!colours_wanted(false, None));
    }

    #[test]
    fn escaped_text_stays_on_one_line_and_shows_what_hides() {
        let typed =
            "오마이걸\n2026-12-24T03:00:00Z  INFO forged\r\u{7}\u{1b}[31m\u{202e}txt\u{200b}\\n 👍🏽";

        let shown = escaped(typed).to_string();

        assert_eq!(
            shown,
            "오마이걸\\n2026-12-24T03:00:00Z  INFO forged\\r\\u{7}\\u{1b}[31m\\u{202e}txt\\u{200b}\\\\n 👍🏽"
        );
        assert!(!shown.contains('\n') && !shown.contains('\u{1b}'));
        assert_eq!(escaped("OH MY GIRL").to_string(), "OH MY GIRL");
        assert_eq!(format!("{:?}", escaped("a\tb")), "\"a\\tb\"");
    }

    #[test]
    fn a_field_written_escaped_keeps_a_text_log_line_whole() {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::registry().with(line_layer(
            captured.clone(),
            Lines::Text,
            false,
            false,
        ));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(query = %escaped("x\nERROR forged"), "requested name not found");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();

        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("query=x\\nERROR forged"), "{text}");
    }

    #[test]
    fn histograms_render_cumulative_buckets_a_sum_and_a_count() {
        static BOUNDS: &[f64] = &[0.01, 0.1];
        let histogram = Histogram::new(BOUNDS);
        for ms in [5, 50, 60, 500] {
            histogram.observe(std::time::Duration::from_millis(ms));
        }
        let mut text = MetricsText::new();

        text.histogram("t_seconds", "help", &histogram);

        let text = text.finish();
        assert!(text.contains("t_seconds_bucket{le=\"0.01\"} 1\n"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"0.1\"} 3\n"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"+Inf\"} 4\n"), "{text}");
        assert!(text.contains("t_seconds_sum 0.615\n"), "{text}");
        assert!(text.contains("t_seconds_count 4\n"), "{text}");
    }

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
