//! `floe bench aggregator`: a running `floe daemon` under readers, over plain HTTP/1.1
//! connections (one per request, `Connection: close`), so the figures are what any HTTP client
//! sees:
//!
//! * time to the first body byte of the whole blob, and one fast client's throughput (medians
//!   of five reads);
//! * a 1 KiB `Range` from the middle of the blob: latency (median of 20) and the bytes the
//!   daemon fetched from storage nodes for it (its `floe_daemon_read_node_bytes_total`);
//! * `clients` readers at once, each reading the whole blob at `rate` bytes a second, and the
//!   daemon's peak resident memory while they do (`VmHWM` of `--pid`, which must be a process
//!   on this machine).

use std::ops::Range;
use std::time::{Duration, Instant};

use floe_common::BlobId;
use serde::Serialize;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// `floe bench aggregator`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregatorBench {
    /// Blob size (bytes).
    pub size: u64,
    /// The blob read.
    pub blob_id: BlobId,
    /// Time to the first body byte of a whole-blob `GET` (ms, median of 5).
    pub ttfb_ms: f64,
    /// One client reading as fast as it can (MiB/s, median of 5).
    pub fast_mib_s: f64,
    /// A 1 KiB range from the middle: time to the whole answer (ms, median of 20).
    pub range_1k_ms: f64,
    /// Bytes the daemon fetched from nodes per 1 KiB range.
    pub range_1k_node_bytes: u64,
    /// `range_1k_node_bytes` as a fraction of the blob.
    pub range_1k_fraction: f64,
    /// Slow readers at once.
    pub slow_clients: usize,
    /// Each slow reader's pace (bytes/s).
    pub slow_rate: u64,
    /// Slow readers that got the whole body.
    pub slow_complete: usize,
    /// Wall time of the slow phase (s).
    pub slow_seconds: f64,
    /// The daemon's peak resident memory over the whole bench (bytes; `VmHWM` of `--pid`).
    pub daemon_peak_rss_bytes: Option<u64>,
}

/// Why the bench could not run.
#[derive(Debug, thiserror::Error)]
pub enum AggregatorBenchError {
    /// The daemon could not be reached or answered garbage.
    #[error("{0}")]
    Http(String),
}

fn http_err(e: impl std::fmt::Display) -> AggregatorBenchError {
    AggregatorBenchError::Http(e.to_string())
}

/// One answer.
struct Got {
    status: u16,
    ttfb: Duration,
    total: Duration,
    body: u64,
    content_length: Option<u64>,
}

/// `GET path` on `addr` over a fresh connection; the body is counted and dropped, read at
/// most `pace` bytes a second if given.
async fn get(
    addr: &str,
    path: &str,
    range: Option<Range<u64>>,
    pace: Option<u64>,
) -> Result<Got, AggregatorBenchError> {
    let started = Instant::now();
    let mut conn = TcpStream::connect(addr).await.map_err(http_err)?;
    let range = range.map_or(String::new(), |r| {
        format!("Range: bytes={}-{}\r\n", r.start, r.end - 1)
    });
    conn.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{range}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .map_err(http_err)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut head = Vec::new();
    let mut ttfb = None;
    let mut body = loop {
        let n = conn.read(&mut buf).await.map_err(http_err)?;
        if n == 0 {
            return Err(http_err("connection closed inside the head"));
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let body = (head.len() - end - 4) as u64;
            if body > 0 {
                ttfb = Some(started.elapsed());
            }
            head.truncate(end);
            break body;
        }
    };
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| http_err(format!("no status line in {head:?}")))?;
    let content_length = head.lines().find_map(|l| {
        l.strip_prefix("content-length:")
            .and_then(|v| v.trim().parse().ok())
    });
    loop {
        if let Some(rate) = pace {
            let due = Duration::from_secs_f64(body as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        let n = conn.read(&mut buf).await.map_err(http_err)?;
        if n == 0 {
            break;
        }
        ttfb.get_or_insert_with(|| started.elapsed());
        body += n as u64;
    }
    Ok(Got {
        status,
        ttfb: ttfb.unwrap_or_else(|| started.elapsed()),
        total: started.elapsed(),
        body,
        content_length,
    })
}

/// A complete 2xx answer, or an error naming what came back.
fn complete(got: Got, what: &str) -> Result<Got, AggregatorBenchError> {
    if !(200..300).contains(&got.status) || got.content_length != Some(got.body) {
        return Err(http_err(format!(
            "{what}: status {}, {} body bytes of {:?}",
            got.status, got.body, got.content_length
        )));
    }
    Ok(got)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The daemon's `floe_daemon_read_node_bytes_total`.
async fn node_bytes(addr: &str) -> Result<u64, AggregatorBenchError> {
    let mut conn = TcpStream::connect(addr).await.map_err(http_err)?;
    conn.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .map_err(http_err)?;
    let mut text = String::new();
    conn.read_to_string(&mut text).await.map_err(http_err)?;
    text.lines()
        .find_map(|l| l.strip_prefix("floe_daemon_read_node_bytes_total "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| http_err("the daemon's /metrics has no floe_daemon_read_node_bytes_total"))
}

/// Runs the bench against the daemon at `url` (`http://host:port`) reading `blob_id`.
pub async fn bench_aggregator(
    url: &str,
    blob_id: BlobId,
    pid: Option<u32>,
    clients: usize,
    rate: u64,
) -> Result<AggregatorBench, AggregatorBenchError> {
    let addr = url
        .trim_end_matches('/')
        .strip_prefix("http://")
        .ok_or_else(|| http_err(format!("{url:?}: expected http://HOST:PORT")))?
        .to_owned();
    let path = format!("/v1/blobs/{blob_id}");

    let (mut ttfb, mut fast) = (Vec::new(), Vec::new());
    let mut size = 0;
    for _ in 0..5 {
        let got = complete(get(&addr, &path, None, None).await?, "whole blob")?;
        size = got.body;
        ttfb.push(got.ttfb.as_secs_f64() * 1000.0);
        fast.push(got.body as f64 / (1024.0 * 1024.0) / got.total.as_secs_f64());
    }

    let mid = size / 2;
    let before = node_bytes(&addr).await?;
    let mut range_ms = Vec::new();
    const RANGES: u64 = 20;
    for _ in 0..RANGES {
        let got = get(&addr, &path, Some(mid..mid + 1024), None).await?;
        let got = complete(got, "1 KiB range")?;
        range_ms.push(got.total.as_secs_f64() * 1000.0);
    }
    let range_node_bytes = (node_bytes(&addr).await? - before) / RANGES;

    let started = Instant::now();
    let slow =
        futures::future::join_all((0..clients).map(|_| get(&addr, &path, None, Some(rate.max(1)))))
            .await;
    let slow_seconds = started.elapsed().as_secs_f64();
    let slow_complete = slow
        .into_iter()
        .filter(|g| {
            g.as_ref()
                .is_ok_and(|g| g.status == 200 && g.content_length == Some(g.body))
        })
        .count();

    Ok(AggregatorBench {
        size,
        blob_id,
        ttfb_ms: round2(median(ttfb)),
        fast_mib_s: round2(median(fast)),
        range_1k_ms: round2(median(range_ms)),
        range_1k_node_bytes: range_node_bytes,
        range_1k_fraction: (range_node_bytes as f64 / size.max(1) as f64 * 1e6).round() / 1e6,
        slow_clients: clients,
        slow_rate: rate,
        slow_complete,
        slow_seconds: round2(slow_seconds),
        daemon_peak_rss_bytes: pid.and_then(|p| {
            super::parse_vm_hwm(&std::fs::read_to_string(format!("/proc/{p}/status")).ok()?)
        }),
    })
}
