//! `floe bench quilt`: many small files as one quilt against the same files as separate blobs
//! (ledger transactions, WAL, bytes stored and time per file), then one patch read through
//! the SDK stream (bytes fetched from nodes and latency).

use std::time::Instant;

use floe_client::blobs::{
    BlobClient, QuiltFile, QuiltReadError, QuiltStoreError, StoreError, StoreOptions, StoreOutcome,
};
use floe_common::EncodingConfig;
use floe_common::quilt::encode_quilt;
use floe_ledger_types::objects::price;
use serde::Serialize;

use super::random_data;

/// A way of storing files, per file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerFile {
    /// Files stored this way.
    pub files: usize,
    /// Ledger transactions (the wallet's nonce delta), per file.
    pub ledger_txs: f64,
    /// WAL paid (balance delta: storage, write and fees), FROST per file.
    pub frost: f64,
    /// Encoded bytes stored on the nodes, per file.
    pub stored_bytes: f64,
    /// Wall time per file (ms).
    pub ms: f64,
}

/// How many times less the quilt costs per file (individual ÷ quilt).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ratios {
    /// Ledger transactions.
    pub ledger_txs: f64,
    /// WAL.
    pub frost: f64,
    /// Encoded bytes.
    pub stored_bytes: f64,
    /// Wall time.
    pub ms: f64,
}

/// One patch read through the SDK stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchReadBench {
    /// Reads timed.
    pub reads: usize,
    /// The patch's bytes.
    pub patch_bytes: u64,
    /// Bytes fetched from nodes for it (symbols with proofs counted as data; metadata not).
    pub fetched_bytes: u64,
    /// Bytes fetched for the index (a read by identifier's first step).
    pub index_fetched_bytes: u64,
    /// Median latency of a read by patch id (ledger status, metadata, symbols), ms.
    pub median_ms: f64,
    /// Slowest read, ms.
    pub max_ms: f64,
}

/// The estimate at another shard count, from the same prices and the layout there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Shards.
    pub shards: u16,
    /// Encoded bytes per file in a quilt.
    pub quilt_stored_bytes: f64,
    /// Encoded bytes of one file as its own blob.
    pub individual_stored_bytes: u64,
    /// FROST per file in a quilt (storage, write and three fees shared by all files).
    pub quilt_frost: f64,
    /// FROST of one file as its own blob (storage, write, three fees).
    pub individual_frost: u64,
    /// individual ÷ quilt.
    pub frost_ratio: f64,
}

/// `floe bench quilt`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuiltBench {
    /// Bytes per file.
    pub size: usize,
    /// The network's shards.
    pub shards: u16,
    /// The quilt's blob id.
    pub quilt_id: String,
    /// The quilt's symbol size.
    pub symbol_size: u16,
    /// In one quilt.
    pub quilt: PerFile,
    /// As separate blobs.
    pub individual: PerFile,
    /// individual ÷ quilt.
    pub ratios: Ratios,
    /// A patch read.
    pub patch_read: PatchReadBench,
    /// The same comparison at 1000 shards (computed, not measured).
    pub at_1000_shards: Option<Estimate>,
}

/// A quilt bench failed.
#[derive(Debug, thiserror::Error)]
pub enum QuiltBenchError {
    /// Storing the quilt.
    #[error(transparent)]
    Quilt(#[from] QuiltStoreError),
    /// Storing a separate blob.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading a patch.
    #[error(transparent)]
    Read(#[from] QuiltReadError),
    /// The ledger.
    #[error("ledger: {0}")]
    Ledger(#[from] floe_ledger_types::ClientError),
}

/// (nonce, balance) of the client's wallet.
async fn wallet(client: &BlobClient) -> Result<(u64, u64), QuiltBenchError> {
    let a = client.ledger().account(&client.address()).await?;
    Ok((a.nonce, a.balance.0))
}

fn encoded(o: &StoreOutcome) -> u64 {
    match o {
        StoreOutcome::NewlyCreated { encoded_size, .. } => *encoded_size,
        StoreOutcome::AlreadyCertified { .. } => 0,
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b <= 0.0 {
        return 0.0;
    }
    ((a / b) * 10.0).round() / 10.0
}

/// Stores `files` random files of `size` bytes as one quilt and `individual` as separate
/// blobs for `epochs` epochs, then reads one patch `reads` times.
pub async fn bench_quilt(
    client: &BlobClient,
    files: usize,
    size: usize,
    individual: usize,
    epochs: u32,
    reads: usize,
) -> Result<QuiltBench, QuiltBenchError> {
    let opts = StoreOptions {
        epochs,
        force: true,
        ..StoreOptions::default()
    };
    let quilt_files: Vec<QuiltFile> = (0..files)
        .map(|i| QuiltFile {
            identifier: format!("file-{i:06}.bin"),
            data: random_data(size),
            ..QuiltFile::default()
        })
        .collect();
    let (n0, b0) = wallet(client).await?;
    let t = Instant::now();
    let out = client.store_quilt(quilt_files, &opts).await?;
    let quilt_ms = t.elapsed().as_secs_f64() * 1000.0;
    let (n1, b1) = wallet(client).await?;
    let per = |total: f64, n: usize| total / n.max(1) as f64;
    let quilt = PerFile {
        files,
        ledger_txs: per((n1 - n0) as f64, files),
        frost: per(b0.saturating_sub(b1) as f64, files),
        stored_bytes: per(encoded(&out.store) as f64, files),
        ms: per(quilt_ms, files),
    };

    let mut stored = 0u64;
    let t = Instant::now();
    for _ in 0..individual {
        stored += encoded(&client.store(&random_data(size), &opts).await?);
    }
    let individual_ms = t.elapsed().as_secs_f64() * 1000.0;
    let (n2, b2) = wallet(client).await?;
    let single = PerFile {
        files: individual,
        ledger_txs: per((n2 - n1) as f64, individual),
        frost: per(b1.saturating_sub(b2) as f64, individual),
        stored_bytes: per(stored as f64, individual),
        ms: per(individual_ms, individual),
    };

    // A patch from the middle of the quilt.
    let quilt_id = out.store.blob_id();
    let (_, patch_id) = out.patches[out.patches.len() / 2].clone();
    let blob = client
        .open(quilt_id, u64::MAX)
        .await
        .map_err(QuiltReadError::from)?;
    let (_, index_fetched) = client.quilt_index_of(&blob).await?;
    let mut times = Vec::with_capacity(reads.max(1));
    let mut fetched = 0;
    let mut patch_bytes = 0;
    for _ in 0..reads.max(1) {
        let t = Instant::now();
        let p = client.read_patch(patch_id).await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        fetched = p.fetched_bytes;
        patch_bytes = p.data.len() as u64;
    }
    times.sort_by(f64::total_cmp);
    let round = |ms: f64| (ms * 100.0).round() / 100.0;
    let committee = client.committee().await.map_err(StoreError::from)?;
    let config = *committee.encoding();
    let system = client.ledger().system().await?;
    Ok(QuiltBench {
        size,
        shards: config.n_shards(),
        quilt_id: quilt_id.to_string(),
        symbol_size: blob.symbol_size(),
        ratios: Ratios {
            ledger_txs: ratio(single.ledger_txs, quilt.ledger_txs),
            frost: ratio(single.frost, quilt.frost),
            stored_bytes: ratio(single.stored_bytes, quilt.stored_bytes),
            ms: ratio(single.ms, quilt.ms),
        },
        quilt,
        individual: single,
        patch_read: PatchReadBench {
            reads: times.len(),
            patch_bytes,
            fetched_bytes: fetched,
            index_fetched_bytes: index_fetched,
            median_ms: round(times[times.len() / 2]),
            max_ms: round(times[times.len() - 1]),
        },
        at_1000_shards: estimate(1000, files, size, epochs, &system),
    })
}

/// What one file costs in a quilt of `files` and alone, at `shards` shards, at the network's
/// current prices.
pub fn estimate(
    shards: u16,
    files: usize,
    size: usize,
    epochs: u32,
    system: &floe_ledger_types::rpc::SystemInfo,
) -> Option<Estimate> {
    let config = EncodingConfig::new(shards).ok()?;
    let quilt_files: Vec<QuiltFile> = (0..files)
        .map(|i| QuiltFile {
            identifier: format!("file-{i:06}.bin"),
            data: vec![0; size],
            ..QuiltFile::default()
        })
        .collect();
    let quilt_len = encode_quilt(&config, &quilt_files).ok()?.data.len() as u64;
    let cost = |len: u64| -> Option<(u64, u64)> {
        let enc = config.encoded_length(len).ok()?;
        let storage = price(system.storage_price, enc, u64::from(epochs))?;
        let write = price(system.write_price, enc, 1)?;
        Some((enc, storage.0 + write.0 + 3 * system.min_fee.0))
    };
    let (q_enc, q_frost) = cost(quilt_len)?;
    let (i_enc, i_frost) = cost(size as u64)?;
    let q_frost = q_frost as f64 / files.max(1) as f64;
    Some(Estimate {
        shards,
        quilt_stored_bytes: q_enc as f64 / files.max(1) as f64,
        individual_stored_bytes: i_enc,
        quilt_frost: q_frost,
        individual_frost: i_frost,
        frost_ratio: ratio(i_frost as f64, q_frost),
    })
}
