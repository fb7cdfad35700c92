//! The byte stream of one export file: gzip detection, buffering, newline counting and
//! format sniffing.
//!
//! Owns reading bytes with a fixed-size buffer, so memory does not grow with the file, and
//! counting the newlines handed out, so item places can name lines even when serde_json is
//! the one reading. Must not touch: JSON structure beyond the first key, records, databases.

use std::cell::Cell;
use std::io::{self, BufRead, Chain, Cursor, Read};

use flate2::read::MultiGzDecoder;

/// Bytes read from the underlying file (or decompressor) at a time.
const BUFFER_SIZE: usize = 64 * 1024;

/// How far into the content the format sniffer looks for the first key.
const SNIFF_WINDOW: usize = 4 * 1024;

/// gzip's magic number (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// UTF-8 byte order mark, which some Windows tools put in front of JSON.
const UTF8_BOM: [u8; 3] = [0xef, 0xbb, 0xbf];

/// Keys of an `aws dynamodb scan` result page (`NextToken` appears with `--max-items`).
pub(crate) const SCAN_KEYS: [&str; 6] = [
    "Items",
    "Count",
    "ScannedCount",
    "LastEvaluatedKey",
    "ConsumedCapacity",
    "NextToken",
];

/// The two bytes read to detect gzip, handed back in front of the rest.
type Rewound<R> = Chain<Cursor<Vec<u8>>, R>;

/// The underlying stream, plain or decompressed. An enum rather than a trait object keeps
/// the caller's reader type free of `'static` bounds.
enum Inner<R: Read> {
    Plain(Rewound<R>),
    Gzip(Box<MultiGzDecoder<Rewound<R>>>),
}

impl<R: Read> Read for Inner<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Inner::Plain(r) => r.read(buf),
            Inner::Gzip(r) => r.read(buf),
        }
    }
}

/// What the first bytes of the (decompressed) content say the format is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sniffed {
    /// Only whitespace, or nothing at all.
    Empty,
    /// `aws dynamodb scan` output: the first key is one of [`SCAN_KEYS`].
    Scan,
    /// DynamoDB export-to-S3 lines: the first key is `Item`.
    JsonLines,
    /// Something else; the text says what was found.
    Unrecognized(String),
}

/// A buffered reader that counts the newlines it has handed out.
///
/// The count lives in a `Cell` the caller owns, so code that only has the serde_json
/// deserializer (which holds this reader) can still ask which line the stream is on.
pub(crate) struct Source<'a, R: Read> {
    inner: Inner<R>,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    newlines: &'a Cell<u64>,
}

impl<'a, R: Read> Source<'a, R> {
    /// Wraps `raw`, decompressing it when it starts with gzip's magic bytes. Returns the
    /// source and whether it was gzip.
    pub(crate) fn open(mut raw: R, newlines: &'a Cell<u64>) -> io::Result<(Self, bool)> {
        let mut magic = Vec::with_capacity(GZIP_MAGIC.len());
        (&mut raw)
            .take(GZIP_MAGIC.len() as u64)
            .read_to_end(&mut magic)?;
        let gzip = magic == GZIP_MAGIC;
        let rewound = Cursor::new(magic).chain(raw);
        let inner = if gzip {
            // MultiGzDecoder: a file of several concatenated gzip members is still one file.
            Inner::Gzip(Box::new(MultiGzDecoder::new(rewound)))
        } else {
            Inner::Plain(rewound)
        };
        let source = Source {
            inner,
            buf: vec![0; BUFFER_SIZE].into_boxed_slice(),
            pos: 0,
            end: 0,
            newlines,
        };
        Ok((source, gzip))
    }

    /// Makes at least `wanted` bytes available (fewer only at end of stream) and returns them.
    fn fill_at_least(&mut self, wanted: usize) -> io::Result<&[u8]> {
        let wanted = wanted.min(self.buf.len());
        if self.end - self.pos < wanted {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
            while self.end < wanted {
                let n = read_retrying(&mut self.inner, &mut self.buf[self.end..])?;
                if n == 0 {
                    break;
                }
                self.end += n;
            }
        }
        Ok(&self.buf[self.pos..self.end])
    }

    /// Looks at the start of the content to tell the format; consumes only a byte order mark
    /// and leading whitespace.
    pub(crate) fn sniff(&mut self) -> io::Result<Sniffed> {
        if self.fill_at_least(UTF8_BOM.len())?.starts_with(&UTF8_BOM) {
            self.consume(UTF8_BOM.len());
        }
        loop {
            let available = self.fill_buf()?;
            if available.is_empty() {
                return Ok(Sniffed::Empty);
            }
            let blank = available
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            let whole = blank == available.len();
            self.consume(blank);
            if !whole {
                break;
            }
        }
        let head = self.fill_at_least(SNIFF_WINDOW)?;
        Ok(sniff_head(head))
    }

    /// Reads one line (up to and including `\n`) into `line`, keeping at most `limit` bytes.
    pub(crate) fn read_line_bounded(
        &mut self,
        line: &mut Vec<u8>,
        limit: usize,
    ) -> io::Result<LineRead> {
        line.clear();
        let mut read_any = false;
        let mut too_long = false;
        loop {
            let available = self.fill_buf()?;
            if available.is_empty() {
                return Ok(match (read_any, too_long) {
                    (false, _) => LineRead::End,
                    (true, true) => LineRead::TooLong,
                    (true, false) => LineRead::Line,
                });
            }
            let (take, complete) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            if !too_long {
                if line.len() + take > limit {
                    // Keep reading to the end of the line, but stop storing it: memory stays
                    // bounded whatever the input.
                    too_long = true;
                    line.clear();
                } else {
                    line.extend_from_slice(&available[..take]);
                }
            }
            read_any = true;
            self.consume(take);
            if complete {
                return Ok(if too_long {
                    LineRead::TooLong
                } else {
                    LineRead::Line
                });
            }
        }
    }
}

/// The result of [`Source::read_line_bounded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineRead {
    /// A line is in the buffer (its `\n` included, when it had one).
    Line,
    /// A line was longer than the limit; it was skipped and the buffer is empty.
    TooLong,
    /// No more bytes.
    End,
}

impl<R: Read> Read for Source<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // serde_json's reader asks for one byte at a time, so that path must stay short.
        if self.pos < self.end && out.len() == 1 {
            let byte = self.buf[self.pos];
            self.pos += 1;
            if byte == b'\n' {
                self.newlines.set(self.newlines.get() + 1);
            }
            out[0] = byte;
            return Ok(1);
        }
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Source<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.end {
            self.end = read_retrying(&mut self.inner, &mut self.buf)?;
            self.pos = 0;
        }
        Ok(&self.buf[self.pos..self.end])
    }

    fn consume(&mut self, amount: usize) {
        let amount = amount.min(self.end - self.pos);
        let newlines = self.buf[self.pos..self.pos + amount]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.newlines.set(self.newlines.get() + newlines as u64);
        self.pos += amount;
    }
}

/// `read` that retries when a signal interrupted it, as `read_exact` does.
fn read_retrying(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Tells the format from the first non-blank bytes: `{` then the first key.
fn sniff_head(head: &[u8]) -> Sniffed {
    let describe = |bytes: &[u8]| {
        let shown: String = String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into();
        format!("content starting with {shown:?}")
    };
    if head.first() != Some(&b'{') {
        return Sniffed::Unrecognized(describe(head));
    }
    let rest = &head[1..];
    let blank = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let rest = &rest[blank..];
    if rest.first() != Some(&b'"') {
        return Sniffed::Unrecognized(describe(head));
    }
    // Keys we look for are short and plain ASCII: no escape handling is needed to match them.
    let key_bytes = &rest[1..];
    let Some(close) = key_bytes.iter().take(64).position(|&b| b == b'"') else {
        return Sniffed::Unrecognized(describe(head));
    };
    let key = String::from_utf8_lossy(&key_bytes[..close]);
    if key == "Item" {
        Sniffed::JsonLines
    } else if SCAN_KEYS.contains(&key.as_ref()) {
        Sniffed::Scan
    } else {
        Sniffed::Unrecognized(format!("a JSON object whose first key is {key:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_key_decides_the_format() {
        assert_eq!(sniff_head(br#"{"Item": {}}"#), Sniffed::JsonLines);
        assert_eq!(sniff_head(b"{\n    \"Items\": []"), Sniffed::Scan);
        assert_eq!(sniff_head(br#"{"Count": 0, "Items": []}"#), Sniffed::Scan);
        assert!(matches!(sniff_head(b"[1, 2]"), Sniffed::Unrecognized(_)));
        assert!(matches!(
            sniff_head(br#"{"Metadata": {}}"#),
            Sniffed::Unrecognized(text) if text.contains("Metadata")
        ));
    }

    #[test]
    fn lines_longer_than_the_limit_are_skipped_whole() {
        let newlines = Cell::new(0);
        let input = format!("{}\nshort\nlast", "x".repeat(100));
        let (mut source, gzip) = Source::open(input.as_bytes(), &newlines).expect("in memory");
        assert!(!gzip);
        let mut line = Vec::new();
        assert_eq!(
            source.read_line_bounded(&mut line, 10).expect("in memory"),
            LineRead::TooLong
        );
        assert_eq!(
            source.read_line_bounded(&mut line, 10).expect("in memory"),
            LineRead::Line
        );
        assert_eq!(line, b"short\n");
        assert_eq!(
            source.read_line_bounded(&mut line, 10).expect("in memory"),
            LineRead::Line
        );
        assert_eq!(line, b"last");
        assert_eq!(
            source.read_line_bounded(&mut line, 10).expect("in memory"),
            LineRead::End
        );
        assert_eq!(newlines.get(), 2);
    }
}
