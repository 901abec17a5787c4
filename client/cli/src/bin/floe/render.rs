//! Output: a command's report (human text and a JSON document) and text formatting helpers.

#![allow(clippy::print_stdout)] // The command's output goes to stdout.

use std::fmt::Write as _;

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

/// `2026-11-24 10:20:00 UTC`.
pub fn time_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A duration: `250ms`, `42s`, `10m`, `1h 30m`, `2d 3h`.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    let (d, h, m, s) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .into_iter()
        .skip_while(|(v, _)| *v == 0)
        .take(2)
        .filter(|(v, _)| *v > 0)
        .map(|(v, u)| format!("{v}{u}"))
        .collect();
    parts.join(" ")
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

/// A left-aligned text table with a header row, columns two spaces apart.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        assert_eq!(time_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(time_utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(time_utc(1_700_000_000_123), "2023-11-14 22:13:20 UTC");
        assert_eq!(duration(250), "250ms");
        assert_eq!(duration(42_000), "42s");
        assert_eq!(duration(600_000), "10m");
        assert_eq!(duration(5_400_000), "1h 30m");
        assert_eq!(duration(3_600_000), "1h");
        assert_eq!(duration(183_600_000), "2d 3h");
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
