//! Synthetic DynamoDB exports of the old bot's three tables, for the import benchmark and
//! tests that need volume.
//!
//! Grown from the reader's throughput example: items are pretty-printed the way
//! `aws dynamodb scan --output json` prints them (4-space indentation, typed values), in
//! pages of about 1 MB that carry `Count`, `ScannedCount` and, but for the last,
//! `LastEvaluatedKey`; the tables keep the write-up's proportions (987 artists, 12,933 top
//! tracks, 13,490 related rows: about 1 : 13 : 14). Unlike that example every reference
//! holds (tracks and related rows name generated artists), ids are unique by
//! construction, and each artist's rows are spread over the whole file, so an importer
//! has to group them. Some numbers are written as strings, as the old bot sometimes did.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Top tracks per generated artist.
pub const TRACKS_PER_ARTIST: u64 = 13;
/// Related artists per generated artist.
pub const RELATED_PER_ARTIST: u64 = 14;

const PAGE_BYTES: u64 = 1024 * 1024;

/// Three scan files, one per table.
#[derive(Clone, Debug)]
pub struct SyntheticExport {
    pub artists: PathBuf,
    pub top_tracks: PathBuf,
    pub related: PathBuf,
    pub artist_count: u64,
    /// Items over the three files.
    pub items: u64,
    /// Bytes over the three files.
    pub bytes: u64,
}

impl SyntheticExport {
    pub fn files(&self) -> Vec<PathBuf> {
        vec![
            self.artists.clone(),
            self.top_tracks.clone(),
            self.related.clone(),
        ]
    }
}

/// Writes `artists.json`, `top_tracks.json` and `related_artists.json` into `dir`, about
/// `target_bytes` together (at least 20 artists).
pub fn write_scan_export(dir: &Path, target_bytes: u64) -> io::Result<SyntheticExport> {
    let per_artist = bytes_per_artist()?;
    let artist_count = (target_bytes / per_artist).max(20);
    let artists = dir.join("artists.json");
    let top_tracks = dir.join("top_tracks.json");
    let related = dir.join("related_artists.json");

    let mut bytes = write_pages(&artists, (0..artist_count).map(artist_item))?;
    // Track t of every artist, then track t + 1 of every artist: each artist's rows are
    // as far apart as the file allows.
    bytes += write_pages(
        &top_tracks,
        (0..TRACKS_PER_ARTIST).flat_map(|t| (0..artist_count).map(move |a| track_item(a, t))),
    )?;
    bytes += write_pages(
        &related,
        (0..RELATED_PER_ARTIST)
            .flat_map(|k| (0..artist_count).map(move |a| related_item(a, k, artist_count))),
    )?;
    Ok(SyntheticExport {
        artists,
        top_tracks,
        related,
        artist_count,
        items: artist_count * (1 + TRACKS_PER_ARTIST + RELATED_PER_ARTIST),
        bytes,
    })
}

/// (name, type tag, value) triples of one item.
type Attributes = Vec<(&'static str, &'static str, String)>;

/// The printed size of one artist with all its rows.
fn bytes_per_artist() -> io::Result<u64> {
    let mut sink = Counting {
        inner: io::sink(),
        written: 0,
    };
    let sample = 1_000;
    write_pretty_item(&mut sink, &artist_item(sample))?;
    for t in 0..TRACKS_PER_ARTIST {
        write_pretty_item(&mut sink, &track_item(sample, t))?;
    }
    for k in 0..RELATED_PER_ARTIST {
        write_pretty_item(&mut sink, &related_item(sample, k, 10_000))?;
    }
    Ok(sink.written.max(1))
}

/// The id of generated artist `n`: unique by its first six characters.
pub fn artist_id(n: u64) -> String {
    format!("{}{}", base62(n, 6), filler(n.wrapping_mul(31), 16))
}

fn track_id(artist: u64, t: u64) -> String {
    format!(
        "{}{}{}",
        base62(artist, 6),
        base62(t, 2),
        filler(artist.wrapping_mul(131).wrapping_add(t), 14)
    )
}

fn artist_item(n: u64) -> Attributes {
    let id = artist_id(n);
    let mut item: Attributes = vec![
        ("id", "S", id.clone()),
        ("name", "S", format!("아티스트 {n}")),
        ("followers", "N", (n * 7919 % 10_000_000).to_string()),
        // The old bot sometimes stored numbers as strings.
        (
            "popularity",
            if n.is_multiple_of(5) { "S" } else { "N" },
            (n % 101).to_string(),
        ),
        ("url", "S", format!("https://open.spotify.com/artist/{id}")),
        (
            "image_url",
            "S",
            format!("https://i.scdn.co/image/ab6761610000e5eb{n:024x}"),
        ),
    ];
    if n.is_multiple_of(3) {
        item.push(("type", "S", "artist".into()));
    }
    item
}

fn track_item(artist: u64, t: u64) -> Attributes {
    let n = artist * TRACKS_PER_ARTIST + t;
    vec![
        ("id", "S", track_id(artist, t)),
        ("artist_id", "S", artist_id(artist)),
        ("name", "S", format!("노래 제목 {artist}-{t} (Track)")),
        ("popularity", "N", ((artist * 7 + t * 13) % 101).to_string()),
        ("album_name", "S", format!("Album {}", n / 4)),
        (
            "image_url",
            "S",
            format!("https://i.scdn.co/image/ab67616d00001e02{n:024x}"),
        ),
    ]
}

fn related_item(artist: u64, k: u64, artists: u64) -> Attributes {
    // The next RELATED_PER_ARTIST artists, wrapping: distinct, and never the artist itself
    // (there are always more artists than that).
    let other = (artist + 1 + k) % artists;
    let mut item: Attributes = vec![
        ("artist_id", "S", artist_id(artist)),
        ("related_id", "S", artist_id(other)),
    ];
    if artist.is_multiple_of(2) {
        item.push(("rank_rel", "N", (k + 1).to_string()));
    } else {
        // The 2020 batch's shape: a distance, lower is closer.
        item.push(("distance", "N", format!("0.{:04}", 1000 + k * 37)));
    }
    item
}

/// Writes `items` as scan pages of about [`PAGE_BYTES`]; returns the bytes written.
fn write_pages(path: &Path, items: impl Iterator<Item = Attributes>) -> io::Result<u64> {
    let mut out = Counting {
        inner: BufWriter::new(File::create(path)?),
        written: 0,
    };
    let mut items = items.peekable();
    let mut last_key = String::new();
    while items.peek().is_some() {
        let page_start = out.written;
        let mut in_page = 0u64;
        out.write_all(b"{\n    \"Items\": [\n")?;
        while out.written - page_start < PAGE_BYTES {
            let Some(item) = items.next() else { break };
            if in_page > 0 {
                out.write_all(b",\n")?;
            }
            write_pretty_item(&mut out, &item)?;
            last_key = item.first().map(|(_, _, v)| v.clone()).unwrap_or_default();
            in_page += 1;
        }
        write!(
            out,
            "\n    ],\n    \"Count\": {in_page},\n    \"ScannedCount\": {in_page}"
        )?;
        if items.peek().is_some() {
            write!(
                out,
                ",\n    \"LastEvaluatedKey\": {{\n        \"id\": {{\n            \"S\": \"{last_key}\"\n        }}\n    }}"
            )?;
        }
        out.write_all(b"\n}\n")?;
    }
    out.flush()?;
    Ok(out.written)
}

/// One item as the AWS CLI prints it inside `Items` (the values need no JSON escaping).
fn write_pretty_item(out: &mut impl Write, attributes: &Attributes) -> io::Result<()> {
    out.write_all(b"        {\n")?;
    for (i, (name, tag, value)) in attributes.iter().enumerate() {
        let comma = if i + 1 < attributes.len() { "," } else { "" };
        write!(
            out,
            "            \"{name}\": {{\n                \"{tag}\": \"{value}\"\n            }}{comma}\n"
        )?;
    }
    out.write_all(b"        }")
}

/// `n` in base 62, `width` characters, most significant first.
fn base62(mut n: u64, width: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut digits = vec![b'0'; width];
    for digit in digits.iter_mut().rev() {
        *digit = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&digits).into_owned()
}

/// `len` base-62 characters that look random (xorshift), so ids look like Spotify's.
fn filler(seed: u64, len: usize) -> String {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            base62(state % 62, 1)
        })
        .collect()
}

/// Counts bytes so pages can be cut at a size.
struct Counting<W: Write> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
