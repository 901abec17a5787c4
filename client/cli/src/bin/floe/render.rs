//! Output: a command's report (human text and a JSON document) and text formatting helpers.

#![allow(clippy::print_stdout)] // The command's output goes to stdout.

use std::time::{Duration, UNIX_EPOCH};

use floe_common::ShardIndex;
use serde::Serialize;

/// What a command prints.
#[derive(Debug)]
pub struct Report {
    /// The `--json` document.
    pub json: serde_json::Value,
    /// The human text.
    pub human: String,
    /// How it is printed.
    pub style: Style,
}

/// How a report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Text, or the pretty JSON document with `--json`.
    Normal,
    /// Nothing at all: the command already wrote its output (a blob's bytes on stdout).
    Silent,
    /// One compact JSON line, with or without `--json` (benchmarks).
    JsonLine,
}

impl Report {
    pub fn new(json: impl Serialize, human: String) -> Report {
        Report {
            json: serde_json::to_value(json).expect("reports serialize to JSON"),
            human,
            style: Style::Normal,
        }
    }

    /// A command whose output was already written.
    pub fn silent() -> Report {
        Report {
            json: serde_json::Value::Null,
            human: String::new(),
            style: Style::Silent,
        }
    }

    /// One JSON line, whatever the output mode (fields in declaration order).
    pub fn line(json: impl Serialize) -> Report {
        let line = serde_json::to_string(&json).expect("reports serialize to JSON");
        Report {
            style: Style::JsonLine,
            ..Report::new(json, line)
        }
    }

    /// Prints the JSON document or the text on stdout.
    pub fn print(&self, json: bool) {
        match self.style {
            Style::Silent => {}
            Style::JsonLine => println!("{}", self.human),
            Style::Normal if json => println!(
                "{}",
                serde_json::to_string_pretty(&self.json).expect("JSON values serialize")
            ),
            Style::Normal => {
                print!("{}", self.human);
                if !self.human.ends_with('\n') {
                    println!();
                }
            }
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `2026-11-24T10:20:00Z`.
pub fn time_utc(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// A duration to its two largest units: `250ms`, `42s`, `10m`, `1h 30m`, `2days 3h`.
pub fn duration(ms: u64) -> String {
    const UNITS: [u64; 4] = [86_400, 3600, 60, 1];
    let rounded = if ms < 1000 {
        Duration::from_millis(ms)
    } else {
        let s = ms / 1000;
        let top = UNITS.iter().position(|u| s >= *u).unwrap_or(3);
        let next = UNITS.get(top + 1).copied().unwrap_or(1);
        Duration::from_secs(s - s % next)
    };
    humantime::format_duration(rounded).to_string()
}

/// A byte count in binary units: `42 B`, `1.5 KiB`, `64.0 MiB`.
pub fn bytes(n: u64) -> String {
    bytesize::ByteSize::b(n).to_string()
}

/// `in 4m 12s` or `4m 12s ago` relative to now.
pub fn relative(ms: u64) -> String {
    let now = now_ms();
    if ms >= now {
        format!("in {}", duration(ms - now))
    } else {
        format!("{} ago", duration(now - ms))
    }
}

/// Shards as ranges: `0-24, 30, 32-33`.
pub fn shard_ranges(shards: &[ShardIndex]) -> String {
    let mut sorted: Vec<u16> = shards.iter().map(|s| s.0).collect();
    sorted.sort_unstable();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(", ")
}

/// A left-aligned text table with a header row, columns two spaces apart, no borders.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(headers.iter().copied())
        .add_rows(rows.iter().cloned());
    for column in t.column_iter_mut() {
        column.set_padding((0, 2));
    }
    let mut out = String::new();
    for line in t.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        assert_eq!(time_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(time_utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(time_utc(1_700_000_000_123), "2023-11-14T22:13:20Z");
        assert_eq!(duration(250), "250ms");
        assert_eq!(duration(42_000), "42s");
        assert_eq!(duration(600_000), "10m");
        assert_eq!(duration(5_400_000), "1h 30m");
        assert_eq!(duration(3_600_000), "1h");
        assert_eq!(duration(183_600_000), "2days 3h");
        assert_eq!(duration(183_661_000), "2days 3h", "two units");
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(64 << 20), "64.0 MiB");
    }

    #[test]
    fn shards_and_tables() {
        let s: Vec<ShardIndex> = [3, 0, 1, 2, 7, 9, 10].into_iter().map(ShardIndex).collect();
        assert_eq!(shard_ranges(&s), "0-3, 7, 9-10");
        assert_eq!(shard_ranges(&[]), "");
        let t = table(
            &["A", "BB"],
            &[
                vec!["xxx".into(), "1".into()],
                vec!["y".into(), "22".into()],
            ],
        );
        assert_eq!(t, "A    BB\nxxx  1\ny    22\n");
    }
}
