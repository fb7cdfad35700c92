//! The settings file: `.env` in the working directory, or the file `--env-file PATH` or
//! `ARTISTBOT_ENV_FILE` names (a service's environment file, so `status` and `doctor`
//! can be run against exactly what the service reads).
//!
//! Owns finding the file, reading it with dotenvy's syntax, and saying where it is
//! broken: a malformed line is an error naming the file and the line number, never a
//! line silently dropped (after which every later variable would fall back to its
//! default). Error messages never quote a value: a line may hold a secret. Part of the
//! `config` leaf: it imports nothing from the crate.

use std::cell::Cell;
use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The variable naming the settings file, for services that cannot pass `--env-file`.
pub const ENV_FILE_VARIABLE: &str = "ARTISTBOT_ENV_FILE";

/// The file read when none is named, in the working directory.
const DEFAULT_ENV_FILE: &str = ".env";

/// Why the settings file could not be used.
#[derive(Debug, Error)]
pub enum EnvFileError {
    /// A named file (or an existing `.env`) could not be read.
    #[error("cannot read the settings file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line is not `NAME=value` (the value is not shown: it may be a secret).
    #[error("{path}, line {line}: {problem}")]
    Malformed {
        path: PathBuf,
        line: usize,
        problem: String,
    },
}

/// One `NAME=value` of the file and the line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvEntry {
    pub name: String,
    pub line: usize,
    value: String,
}

/// A settings file as read: where it is and what it sets. `path` is `None` when no file
/// was named and there is no `.env`: the settings then come from the environment alone.
#[derive(Clone, Debug, Default)]
pub struct EnvFile {
    path: Option<PathBuf>,
    entries: Vec<EnvEntry>,
    bytes: Vec<u8>,
}

impl EnvFile {
    /// Reads `explicit` (from `--env-file`), else the file `ARTISTBOT_ENV_FILE` names,
    /// else `.env` when it exists. A named file must exist; `.env` may be absent.
    pub fn find_and_read(explicit: Option<&Path>) -> Result<EnvFile, EnvFileError> {
        let named = explicit.map(Path::to_path_buf).or_else(|| {
            std::env::var_os(ENV_FILE_VARIABLE)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        });
        match named {
            Some(path) => Self::read(&path),
            None if Path::new(DEFAULT_ENV_FILE).exists() => Self::read(Path::new(DEFAULT_ENV_FILE)),
            None => Ok(EnvFile::default()),
        }
    }

    /// Reads and checks one file.
    pub fn read(path: &Path) -> Result<EnvFile, EnvFileError> {
        let bytes = std::fs::read(path).map_err(|source| EnvFileError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        let entries = parse(&bytes).map_err(|(line, problem)| EnvFileError::Malformed {
            path: path.to_path_buf(),
            line,
            problem,
        })?;
        Ok(EnvFile {
            path: Some(path.to_path_buf()),
            entries,
            bytes,
        })
    }

    /// The file read, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Every `NAME=value` line, in file order.
    pub fn entries(&self) -> &[EnvEntry] {
        &self.entries
    }

    /// The value the file gives `name` (the first line wins, as when it is loaded).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|entry| entry.name == name)
            .map(|entry| entry.value.as_str())
    }

    /// Puts the file's variables into the process environment, where the log filter
    /// reads `RUST_LOG` too. A variable already set in the environment keeps its value:
    /// the environment overrides the file. Call it before any other thread starts.
    pub fn load_into_environment(&self) {
        if self.path.is_some() {
            // Already checked line by line in `read`; dotenvy sets the variables.
            let _ = dotenvy::Iter::new(self.bytes.as_slice()).load();
        }
    }
}

/// The file's entries, or the first malformed line's number and what is wrong with it.
///
/// The lines are parsed by dotenvy itself (quotes, escapes, `export`, multi-line quoted
/// values, `${VAR}`), so what is accepted here is exactly what is loaded. dotenvy reports
/// the logical line it failed on but not its number: the reader below hands it one
/// physical line per read, so the lines read so far tell where each entry ends.
fn parse(bytes: &[u8]) -> Result<Vec<EnvEntry>, (usize, String)> {
    // dotenvy drops a byte order mark only when it loads; an editor may well write one.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let lines_read = Cell::new(0);
    let reader = OneLinePerRead {
        rest: bytes,
        lines_read: &lines_read,
    };
    let mut entries = Vec::new();
    for item in dotenvy::Iter::new(reader) {
        let ends_on = lines_read.get().max(1);
        match item {
            Ok((name, value)) => {
                let spans = value.matches('\n').count();
                entries.push(EnvEntry {
                    name,
                    line: ends_on.saturating_sub(spans).max(1),
                    value,
                });
            }
            Err(dotenvy::Error::LineParse(text, at)) => {
                // `text` is the whole logical line when the line reader failed (a quote
                // still open at the end of the file), else the line or just its value.
                let open_quote_at_end = at >= text.len();
                let line = if open_quote_at_end {
                    let spans = text.trim_end_matches(['\n', '\r']).matches('\n').count();
                    ends_on.saturating_sub(spans).max(1)
                } else {
                    ends_on
                };
                let physical = String::from_utf8_lossy(bytes);
                let written = physical.lines().nth(line - 1).unwrap_or("");
                return Err((line, describe_malformed(written, open_quote_at_end)));
            }
            Err(other) => return Err((ends_on, other.to_string())),
        }
    }
    Ok(entries)
}

/// What is wrong with the line as written, naming the variable when it can be told,
/// never quoting the value.
fn describe_malformed(written: &str, open_quote_at_end: bool) -> String {
    let trimmed = written.trim_start();
    let trimmed = trimmed
        .strip_prefix("export ")
        .unwrap_or(trimmed)
        .trim_start();
    let name: String = trimmed
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .collect();
    let what = if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        "not NAME=value: a name starts with a letter or _ and holds letters, digits and _"
            .to_owned()
    } else if open_quote_at_end {
        format!("{name}: a quote is not closed")
    } else if !trimmed[name.len()..].trim_start().starts_with('=') {
        format!(
            "{name}: expected '=' right after the name (a name holds only letters, digits and _)"
        )
    } else {
        format!("{name}: the value cannot be read (quote a value that holds spaces, # or quotes)")
    };
    format!("{what}; the value is not shown")
}

/// Gives its reader one physical line per `read` (or less, for a line longer than the
/// reader's buffer), counting whole lines handed out.
struct OneLinePerRead<'a> {
    rest: &'a [u8],
    lines_read: &'a Cell<usize>,
}

impl Read for OneLinePerRead<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let line_end = self
            .rest
            .iter()
            .position(|&byte| byte == b'\n')
            .map_or(self.rest.len(), |newline| newline + 1);
        let n = line_end.min(buffer.len());
        buffer[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        if n > 0 && n == line_end {
            self.lines_read.set(self.lines_read.get() + 1);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn malformed(text: &str) -> (usize, String) {
        parse(text.as_bytes()).expect_err("the text is malformed")
    }

    #[test]
    fn entries_carry_the_line_they_start_on() {
        let text = "# comment\n\nDATABASE_URL=sqlite://x.db\nexport SPOTIFY_MARKET=KR\nMULTI=\"a\nb\"\nLAST='z'";
        let entries = parse(text.as_bytes()).unwrap();
        let found: Vec<(&str, usize)> = entries.iter().map(|e| (e.name.as_str(), e.line)).collect();
        assert_eq!(
            found,
            [
                ("DATABASE_URL", 3),
                ("SPOTIFY_MARKET", 4),
                ("MULTI", 5),
                ("LAST", 7)
            ]
        );
        assert_eq!(entries[2].value, "a\nb");
    }

    #[test]
    fn a_line_without_an_equals_sign_is_named_by_number_and_variable() {
        let (line, problem) = malformed("A=1\n# note\nSPOTIFY_CLIENT_SECRET hunter2-secret\nB=2\n");
        assert_eq!(line, 3);
        assert!(
            problem.starts_with("SPOTIFY_CLIENT_SECRET: expected '='"),
            "{problem}"
        );
        assert!(!problem.contains("hunter2"), "{problem}");
    }

    #[test]
    fn a_name_with_a_bad_character_is_an_error() {
        let (line, problem) = malformed("A=1\nB=2\nSPOTIFY-MARKET=KR\n");
        assert_eq!(line, 3);
        assert!(problem.contains("SPOTIFY: expected '='"), "{problem}");
        let (line, problem) = malformed("1ABC=x\n");
        assert_eq!(line, 1);
        assert!(problem.starts_with("not NAME=value"), "{problem}");
    }

    #[test]
    fn an_unclosed_quote_is_reported_on_the_line_it_opens() {
        let (line, problem) = malformed("A=1\nSKILL_SECRET=\"open-sesame\nB=2\nC=3\n");
        assert_eq!(line, 2);
        assert!(problem.contains("SKILL_SECRET"), "{problem}");
        assert!(!problem.contains("open-sesame"), "{problem}");
    }

    #[test]
    fn an_unquoted_space_in_a_value_is_an_error_that_does_not_quote_the_value() {
        let (line, problem) = malformed("A=1\nSKILL_SECRET=two words\n");
        assert_eq!(line, 2);
        assert!(
            problem.starts_with("SKILL_SECRET: the value cannot be read"),
            "{problem}"
        );
        assert!(
            !problem.contains("two") && !problem.contains("words"),
            "{problem}"
        );
    }

    #[test]
    fn windows_line_ends_and_a_missing_final_newline_parse() {
        let entries = parse(b"A=1\r\nB=\"two words\"\r\nC=3").unwrap();
        let values: Vec<&str> = entries.iter().map(|e| e.value.as_str()).collect();
        assert_eq!(values, ["1", "two words", "3"]);
        assert_eq!(entries[2].line, 3);
    }

    #[test]
    fn a_named_file_that_does_not_exist_is_an_error_naming_it() {
        let error = EnvFile::read(Path::new("/nonexistent/artistbot.env")).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/artistbot.env"),
            "{error}"
        );
    }
}
