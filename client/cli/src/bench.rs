//! `floe bench`: encode throughput on one thread, and timed stores and reads against the
//! configured network, a running daemon's aggregator under readers ([`bench_aggregator`]),
//! quilts against separate blobs ([`bench_quilt`]), and private blobs' encryption and key
//! retrieval ([`bench_private`]).
//! Each prints one JSON line; nothing here asserts a speed.

mod aggregator;
mod private;
mod quilt;

use std::time::Instant;

use floe_common::{BlobId, ConsistencyCheck, EncodingConfig, EncodingConfigError};
use rand::{RngCore, SeedableRng};
use serde::Serialize;

use floe_client::blobs::{
    BlobClient, ReadError, ReadPhases, StoreError, StoreOptions, StorePhases,
};

pub use aggregator::{AggregatorBench, AggregatorBenchError, bench_aggregator};
pub use private::{PrivateBench, PrivateBenchError, PrivateBenchOptions, bench_private};
pub use quilt::{QuiltBench, QuiltBenchError, bench_quilt};

/// `floe bench encode`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EncodeBench {
    /// Blob size (bytes).
    pub size: u64,
    /// Shards.
    pub shards: u16,
    /// MiB of blob encoded per second.
    pub mib_s: f64,
    /// Time of the encoding (slivers, sliver hashes, metadata, blob id), in ms.
    pub encode_ms: f64,
}

/// `floe bench store`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreBench {
    /// Blob size (bytes).
    pub size: u64,
    /// The stored blob.
    pub blob_id: BlobId,
    /// MiB stored per second, end to end.
    pub mib_s: f64,
    /// End-to-end time (ms).
    pub total_ms: u64,
    /// Time per step (ms).
    pub phases_ms: StorePhases,
    /// The process's peak resident memory (bytes), if known.
    pub peak_rss_bytes: Option<u64>,
}

/// `floe bench read`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadBench {
    /// Blob size (bytes).
    pub size: u64,
    /// The blob read.
    pub blob_id: BlobId,
    /// MiB read per second, end to end.
    pub mib_s: f64,
    /// End-to-end time (ms).
    pub total_ms: u64,
    /// Time per step (ms).
    pub phases_ms: ReadPhases,
    /// The process's peak resident memory (bytes), if known.
    pub peak_rss_bytes: Option<u64>,
}

/// `size` pseudo-random bytes (fresh each call, so every store is a new blob).
pub fn random_data(size: usize) -> Vec<u8> {
    let mut data = vec![0u8; size];
    rand::rngs::StdRng::from_entropy().fill_bytes(&mut data);
    data
}

/// MiB per second, rounded to 0.01.
fn mib_s(bytes: u64, secs: f64) -> f64 {
    if secs <= 0.0 {
        return 0.0;
    }
    ((bytes as f64 / (1024.0 * 1024.0) / secs) * 100.0).round() / 100.0
}

/// Encodes `size` random bytes for `shards` shards on the calling thread.
pub fn bench_encode(size: usize, shards: u16) -> Result<EncodeBench, EncodingConfigError> {
    let config = EncodingConfig::new(shards)?;
    config.encoded_length(size as u64)?;
    let data = random_data(size);
    let t = Instant::now();
    let encoded = floe_common::encode_blob(&config, &data)?;
    let secs = t.elapsed().as_secs_f64();
    drop(encoded);
    Ok(EncodeBench {
        size: size as u64,
        shards,
        mib_s: mib_s(size as u64, secs),
        encode_ms: (secs * 10_000.0).round() / 10.0,
    })
}

/// Stores `size` random bytes for `epochs` epochs.
pub async fn bench_store(
    client: &BlobClient,
    size: usize,
    epochs: u32,
) -> Result<StoreBench, StoreError> {
    let data = random_data(size);
    let t = Instant::now();
    let outcome = client
        .store(
            &data,
            &StoreOptions {
                epochs,
                force: true,
                ..StoreOptions::default()
            },
        )
        .await?;
    let secs = t.elapsed().as_secs_f64();
    let phases = match &outcome {
        floe_client::blobs::StoreOutcome::NewlyCreated { phases, .. } => *phases,
        floe_client::blobs::StoreOutcome::AlreadyCertified { .. } => StorePhases::default(),
    };
    Ok(StoreBench {
        size: size as u64,
        blob_id: outcome.blob_id(),
        mib_s: mib_s(size as u64, secs),
        total_ms: (secs * 1000.0) as u64,
        phases_ms: phases,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// Reads `blob_id` with the default consistency check.
pub async fn bench_read(client: &BlobClient, blob_id: BlobId) -> Result<ReadBench, ReadError> {
    let t = Instant::now();
    let outcome = client.read(blob_id, ConsistencyCheck::Default).await?;
    let secs = t.elapsed().as_secs_f64();
    let size = outcome.data.len() as u64;
    Ok(ReadBench {
        size,
        blob_id,
        mib_s: mib_s(size, secs),
        total_ms: (secs * 1000.0) as u64,
        phases_ms: outcome.phases,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// The process's peak resident set size (`VmHWM` in `/proc/self/status`), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

pub(crate) fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm() {
        assert_eq!(
            parse_vm_hwm("Name:\tfloe\nVmPeak:\t  100 kB\nVmHWM:\t    2048 kB\n"),
            Some(2048 * 1024)
        );
        assert_eq!(parse_vm_hwm("Name: x\n"), None);
        if cfg!(target_os = "linux") {
            assert!(peak_rss_bytes().unwrap() > 0);
        }
    }

    #[test]
    fn encode_bench_small() {
        let b = bench_encode(1 << 20, 10).unwrap();
        assert_eq!((b.size, b.shards), (1 << 20, 10));
        assert!(b.encode_ms > 0.0, "{b:?}");
        // The throughput is the size over the time measured (both rounded).
        let implied = 1000.0 / b.encode_ms;
        assert!((b.mib_s - implied).abs() <= 0.05 * implied, "{b:?}");
        assert!(bench_encode(10, 1).is_err());
    }
}
