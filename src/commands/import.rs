//! `artistbot import dynamodb`: its arguments, the run, and what it prints.
//!
//! Owns the import's command line and output: a line per file read, a line per rejected
//! item (with its place), the counts per table and a totals line. Must not touch: parsing
//! or queries (see [`crate::import`] and `store::import`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SubsecRound};
use clap::{Args, Subcommand, ValueEnum};

use super::{begin_unit, command_runner};
use crate::config::Settings;
use crate::import::{
    EventSink, ImportEvent, ImportOptions, ImportReport, TableCounts, TableKind, import_dynamodb,
};

/// Exit code when some items were rejected (the good ones are imported).
pub const EXIT_REJECTED: i32 = 2;

/// Where imported data comes from.
#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// Import the old bot's DynamoDB exports: `aws dynamodb scan` output (one or several
    /// pages per file) or export-to-S3 DynamoDB-JSON lines (plain or .gz). Artist files
    /// are read first whatever the order given. Exit 0: everything imported; 2: some
    /// items were rejected (each is printed with its place; the rest is imported);
    /// 1: failure.
    Dynamodb(DynamodbArgs),
}

/// Arguments of `artistbot import dynamodb`.
#[derive(Debug, Args)]
pub struct DynamodbArgs {
    /// Export files of the artists, top_tracks and related_artists tables.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The table every file holds; without it, each file's table is recognized from its
    /// items (artists: id + name; top tracks: track id + artist_id; related: artist_id +
    /// related_id).
    #[arg(long, value_enum)]
    pub table: Option<TableArg>,
    /// Read and check everything (references included) and print the counts a real
    /// import would give, without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// When the exported data was fetched from Spotify, in UTC (2023-01-10,
    /// 2023-01-10T09:30:00, or RFC 3339). DynamoDB items carry no fetch time, so by
    /// default each file's modification time is used. It orders imports among themselves;
    /// what the sync stored is never overwritten by an import. A future time counts as now.
    #[arg(long, value_name = "TIME", value_parser = parse_fetched_at)]
    pub fetched_at: Option<NaiveDateTime>,
}

/// `--table` values, named as the old bot's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TableArg {
    Artists,
    #[value(name = "top_tracks", alias = "top-tracks")]
    TopTracks,
    #[value(name = "related_artists", alias = "related-artists")]
    RelatedArtists,
}

impl From<TableArg> for TableKind {
    fn from(table: TableArg) -> Self {
        match table {
            TableArg::Artists => TableKind::Artists,
            TableArg::TopTracks => TableKind::TopTracks,
            TableArg::RelatedArtists => TableKind::RelatedArtists,
        }
    }
}

/// Reads a `--fetched-at` time (UTC unless RFC 3339 says otherwise), to the second.
pub fn parse_fetched_at(text: &str) -> Result<NaiveDateTime, String> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.naive_utc().trunc_subsecs(0));
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(at.trunc_subsecs(0));
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(NaiveTime::MIN));
    }
    Err(format!(
        "{text:?} is not a time: use 2023-01-10, 2023-01-10T09:30:00 (UTC) or RFC 3339"
    ))
}

/// `artistbot import ...`: returns the process exit code.
pub async fn run(settings: Arc<Settings>, source: ImportSource) -> Result<i32> {
    let ImportSource::Dynamodb(args) = source;
    let runner = command_runner(settings.clone()).await?;
    let store = runner.store().clone();
    let options = ImportOptions {
        files: args.files,
        table: args.table.map(TableKind::from),
        fetched_at: args.fetched_at,
        dry_run: args.dry_run,
        tracks_kept: settings.sync.tracks_kept,
        related_kept: settings.sync.related_kept,
    };
    // A dry run writes nothing; a real one takes turns with the sync like any runner, so
    // a refresh in progress cannot be overwritten by the export's older data.
    let unit = if options.dry_run {
        None
    } else {
        match begin_unit(&runner).await? {
            Some(unit) => Some(unit),
            None => return Ok(2),
        }
    };
    let events: EventSink = Arc::new(print_event);
    let result = import_dynamodb(&store, &options, events).await;
    if let Some(unit) = unit {
        unit.finish().await;
    }
    let report = result.context("importing the DynamoDB exports")?;
    print_report(&report, &options);
    Ok(if report.has_rejections() {
        EXIT_REJECTED
    } else {
        0
    })
}

fn print_event(event: ImportEvent<'_>) {
    match event {
        ImportEvent::Rejected(rejection) => println!("rejected  {rejection}"),
        ImportEvent::FileRead(file) => {
            let format = match (file.format, file.pages) {
                (crate::import::ExportFormat::Scan, 1) => "scan output, 1 page".to_owned(),
                (crate::import::ExportFormat::Scan, pages) => format!("scan output, {pages} pages"),
                (crate::import::ExportFormat::JsonLines, _) => "export lines".to_owned(),
            };
            println!(
                "read      {}: {}, {format}{}, {} items, fetched at {} UTC",
                file.path.display(),
                file.table,
                if file.gzip { ", gzip" } else { "" },
                file.items,
                file.fetched_at
            );
            for mismatch in &file.count_mismatches {
                println!(
                    "note      {} page {}: its Count is {} but it holds {} items",
                    file.path.display(),
                    mismatch.page,
                    mismatch.declared,
                    mismatch.found
                );
            }
            if file.last_page_continues {
                println!(
                    "note      {}: the last page has a LastEvaluatedKey, so the scan went on \
                     after it; unless those pages are in another file given, the export is \
                     incomplete (scan again following LastEvaluatedKey)",
                    file.path.display()
                );
            }
        }
    }
}

fn print_report(report: &ImportReport, options: &ImportOptions) {
    println!();
    if report.dry_run {
        println!("dry run: nothing was written; a real import would give these counts");
    }
    println!(
        "{:<12} {:>8} {:>9} {:>8} {:>10} {:>11} {:>9} {:>8} {:>9}",
        "",
        "read",
        "imported",
        "updated",
        "unchanged",
        "kept newer",
        "left out",
        "removed",
        "rejected"
    );
    let row = |label: &str, c: &TableCounts| {
        println!(
            "{label:<12} {:>8} {:>9} {:>8} {:>10} {:>11} {:>9} {:>8} {:>9}",
            c.read,
            c.imported,
            c.updated,
            c.unchanged,
            c.kept_newer,
            c.left_out,
            c.removed,
            c.rejected
        );
    };
    row("artists", &report.artists);
    row("top tracks", &report.top_tracks);
    row("related", &report.related);
    if report.ignored_attributes > 0 {
        let listed: Vec<String> = report
            .ignored_by_name
            .iter()
            .map(|(name, count)| format!("{name} {count}"))
            .collect();
        println!(
            "ignored attributes (no place in the catalog): {} ({})",
            report.ignored_attributes,
            listed.join(", ")
        );
    }
    if report.top_tracks.left_out + report.related.left_out + report.artists.left_out > 0 {
        println!(
            "left out: valid items beyond the {} top tracks and {} related artists kept per \
             artist (SYNC_TRACKS_KEPT, SYNC_RELATED_KEPT), or repeating an item already read",
            options.tracks_kept, options.related_kept
        );
    }
    if report.total().kept_newer > 0 {
        println!("kept newer: the catalog holds data fetched after the export; it stays");
    }
    let total = report.total();
    let seconds = report.elapsed.as_secs_f64();
    println!(
        "total: read {}, imported {}, updated {}, unchanged {}, kept newer {}, left out {}, \
         removed {}, rejected {}, ignored attributes {}, unreadable files {} ({seconds:.1} s, \
         {:.0} items/s)",
        total.read,
        total.imported,
        total.updated,
        total.unchanged,
        total.kept_newer,
        total.left_out,
        total.removed,
        total.rejected,
        report.ignored_attributes,
        report.failed_files,
        total.read as f64 / seconds.max(0.001)
    );
    if report.has_rejections() {
        println!("some items were rejected (listed above); the others were imported");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetched_at_takes_dates_times_and_rfc3339() {
        let at = |text| parse_fetched_at(text).map(|t| t.to_string());
        assert_eq!(at("2023-01-10"), Ok("2023-01-10 00:00:00".into()));
        assert_eq!(at("2023-01-10T09:30:00"), Ok("2023-01-10 09:30:00".into()));
        assert_eq!(at("2023-01-10 09:30:00"), Ok("2023-01-10 09:30:00".into()));
        assert_eq!(
            at("2023-01-10T18:30:00+09:00"),
            Ok("2023-01-10 09:30:00".into())
        );
        assert!(at("last tuesday").is_err());
    }
}
