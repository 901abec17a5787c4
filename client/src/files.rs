//! What `floe store` and `floe read` do, as library functions (the binary is a thin layer over
//! these): the storage duration (`--epochs N|max`, `--end-epoch`, `--earliest-expiry-time`),
//! the price of a store, dry runs, storing a file and reading a blob into a file or a writer.
//! Files above [`Chunking::threshold`] are stored in chunks with a manifest, and a manifest is
//! read back as the whole file ([`chunked`]), so memory stays bounded by the chunk size.

mod chunked;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use floe_common::{BlobId, ConsistencyCheck, EncodingConfig, Epoch, Frost};
use floe_ledger_types::rpc::SystemInfo;
use floe_ledger_types::{LedgerClient, objects};
use serde::Serialize;

pub use self::chunked::{ChunkedSummary, Chunking};
use crate::blobs::{BlobClient, ProgressHook, ReadError, ReadPhases, StoreError, StoreOptions};
use crate::blobs::{OpenBlob, StoreOutcome, StorePhases};

/// How long to store: a number of epochs ahead, the most the network allows, an end epoch, or
/// a time the blob must outlive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epochs {
    /// This many epochs ahead of the current one.
    Count(u32),
    /// The network's `max_epochs_ahead`.
    Max,
    /// Until this epoch starts: the end epoch (exclusive), after the current one.
    EndEpoch(Epoch),
    /// At least until this time (ms since the Unix epoch): the fewest epochs whose end is not
    /// before it, forecast with the ledger's epoch schedule (a governance change of the epoch
    /// length moves later ends).
    ExpiresAfter(u64),
}

impl FromStr for Epochs {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Epochs::Max);
        }
        match s.parse::<u32>() {
            Ok(0) => Err("epochs must be at least 1".into()),
            Ok(n) => Ok(Epochs::Count(n)),
            Err(_) => Err(format!("{s:?} is neither a number of epochs nor `max`")),
        }
    }
}

impl Epochs {
    /// The number of epochs ahead of the current one (`system.epoch`), checked against the
    /// network's maximum. An expiry time counts from the ledger's latest block time
    /// (`system.tip_timestamp_ms`).
    pub fn resolve(self, system: &SystemInfo) -> Result<u32, FilesError> {
        let max = system.max_epochs_ahead;
        let current = system.epoch;
        let n = match self {
            Epochs::Max => return Ok(max),
            Epochs::Count(n) => n,
            Epochs::EndEpoch(end) => {
                if end <= current {
                    return Err(FilesError::EndEpochNotAhead { end, current });
                }
                end.0 - current.0
            }
            Epochs::ExpiresAfter(at_ms) => {
                let now_ms = system.tip_timestamp_ms;
                if at_ms <= now_ms {
                    return Err(FilesError::ExpiryInPast { at_ms, now_ms });
                }
                let end_ms = |k: u32| {
                    crate::floe::epoch_start_ms(system, Epoch(current.0.saturating_add(k)))
                };
                match (1..=max).find(|&k| end_ms(k) >= at_ms) {
                    Some(k) => k,
                    None => {
                        return Err(FilesError::ExpiryTooFar {
                            at_ms,
                            latest_ms: end_ms(max),
                            max,
                        });
                    }
                }
            }
        };
        if n > max {
            return Err(FilesError::TooManyEpochs { asked: n, max });
        }
        Ok(n)
    }
}

/// The price of storing `encoded_size` bytes for some epochs, in FROST (transaction fees
/// excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Price {
    /// Storage: `storage_price × ⌈encoded/MiB⌉ × epochs`.
    pub storage: Frost,
    /// Write: `write_price × ⌈encoded/MiB⌉`.
    pub write: Frost,
    /// Both.
    pub total: Frost,
}

/// The price of a store at the network's current prices.
pub fn price(system: &SystemInfo, encoded_size: u64, epochs: u32) -> Price {
    let max = Frost(u64::MAX);
    let storage =
        objects::price(system.storage_price, encoded_size, u64::from(epochs)).unwrap_or(max);
    let write = objects::price(system.write_price, encoded_size, 1).unwrap_or(max);
    Price {
        storage,
        write,
        total: storage.checked_add(write).unwrap_or(max),
    }
}

/// A store or read of files failed.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The output could not be written.
    #[error("cannot write {}: {source}", path.display())]
    WriteFile {
        /// The file (`-` for standard output).
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// More epochs than the network allows.
    #[error("cannot store for {asked} epochs: the network allows at most {max} epochs ahead")]
    TooManyEpochs {
        /// Asked for.
        asked: u32,
        /// The network's maximum.
        max: u32,
    },
    /// An end epoch that is not after the current epoch.
    #[error("end epoch {end} is not after the current epoch {current}")]
    EndEpochNotAhead {
        /// Asked for.
        end: Epoch,
        /// The current epoch.
        current: Epoch,
    },
    /// An expiry time that has passed.
    #[error("the earliest expiry time {at_ms} ms is not after the ledger's time {now_ms} ms")]
    ExpiryInPast {
        /// Asked for (ms since the Unix epoch).
        at_ms: u64,
        /// The ledger's latest block time.
        now_ms: u64,
    },
    /// An expiry time later than the furthest epoch the network sells.
    #[error(
        "the earliest expiry time {at_ms} ms is after the end of the furthest storage the network allows ({max} epochs ahead, ending at {latest_ms} ms)"
    )]
    ExpiryTooFar {
        /// Asked for (ms since the Unix epoch).
        at_ms: u64,
        /// When storage bought now can end at the latest.
        latest_ms: u64,
        /// The network's maximum epochs ahead.
        max: u32,
    },
    /// The data cannot be encoded for this network (too large).
    #[error("cannot encode: {0}")]
    Encode(#[from] floe_common::EncodingConfigError),
    /// The encoding task stopped before it finished.
    #[error("encoding task: {0}")]
    EncodeTask(#[from] tokio::task::JoinError),
    /// A ledger query failed.
    #[error("ledger: {0}")]
    Ledger(#[from] floe_ledger_types::ClientError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The read failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A chunked file's manifest is malformed, or its chunks do not match it.
    #[error("chunked file: {0}")]
    ChunkMismatch(String),
}

/// What a dry run found: what a store would pay, without paying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DryRun {
    /// The blob id.
    pub blob_id: BlobId,
    /// Unencoded size.
    pub size: u64,
    /// Encoded size (what storage is bought for).
    pub encoded_size: u64,
    /// Epochs ahead.
    pub epochs: u32,
    /// The end epoch a store now would get (exclusive).
    pub end_epoch: Epoch,
    /// The price at the current prices.
    pub price: Price,
    /// The latest end epoch of a certified copy, if one exists.
    pub certified_until: Option<Epoch>,
    /// Whether a store would reuse the certified copy and pay nothing (without `--force`).
    pub already_certified: bool,
    /// Whether the blob id is marked invalid.
    pub invalid: bool,
}

/// Encodes `data` locally for the ledger's shard count and prices the store, paying nothing.
pub async fn dry_run(
    ledger: &LedgerClient,
    data: Vec<u8>,
    epochs: Epochs,
) -> Result<DryRun, FilesError> {
    let system = ledger.system().await?;
    let epochs = epochs.resolve(&system)?;
    let config = EncodingConfig::new(system.n_shards)?;
    let size = data.len() as u64;
    let encoded_size = config.encoded_length(size)?;
    let blob_id = tokio::task::spawn_blocking(move || {
        floe_common::encode_blob(&config, &data).map(|e| e.blob_id())
    })
    .await??;
    let status = ledger.blob_status(&blob_id).await?;
    let end_epoch = Epoch(system.epoch.0.saturating_add(epochs));
    let certified_until = status.as_ref().and_then(|s| s.info.max_certified_end_epoch);
    let invalid = status.as_ref().is_some_and(|s| s.invalid);
    Ok(DryRun {
        blob_id,
        size,
        encoded_size,
        epochs,
        end_epoch,
        price: price(&system, encoded_size, epochs),
        certified_until,
        already_certified: !invalid && certified_until.is_some_and(|e| e >= end_epoch),
        invalid,
    })
}

/// Dry run of a file.
pub async fn dry_run_file(
    ledger: &LedgerClient,
    path: &Path,
    epochs: Epochs,
) -> Result<DryRun, FilesError> {
    dry_run(ledger, read_file(path)?, epochs).await
}

/// Reads a whole file.
pub fn read_file(path: &Path) -> Result<Vec<u8>, FilesError> {
    std::fs::read(path).map_err(|source| FilesError::ReadFile {
        path: path.to_owned(),
        source,
    })
}

/// The files under `dir` (recursively, following symbolic links), sorted, each with its path
/// relative to `dir` with `/` between components (`docs/index.html`).
pub fn files_under(dir: &Path) -> Result<Vec<(String, PathBuf)>, FilesError> {
    let unreadable = |path: &Path, source| FilesError::ReadFile {
        path: path.to_owned(),
        source,
    };
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| unreadable(&d, e))? {
            let path = entry.map_err(|e| unreadable(&d, e))?.path();
            let meta = std::fs::metadata(&path).map_err(|e| unreadable(&path, e))?;
            if meta.is_dir() {
                todo.push(path);
            } else if meta.is_file() {
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push((parts.join("/"), path));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredFile {
    /// The file.
    pub path: PathBuf,
    /// What the store did (for a chunked file: the store of its manifest, whose blob id
    /// names the file).
    #[serde(flatten)]
    pub outcome: StoreOutcome,
    /// How the file was split, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunked: Option<ChunkedSummary>,
}

/// Stores the file at `path` with `opts` (whose `epochs` must already be resolved), in chunks
/// if it is larger than the default [`Chunking::threshold`].
pub async fn store_file(
    client: &BlobClient,
    path: &Path,
    opts: &StoreOptions,
) -> Result<StoredFile, FilesError> {
    store_file_with(client, path, opts, Chunking::default()).await
}

/// [`store_file`] with explicit chunking.
pub async fn store_file_with(
    client: &BlobClient,
    path: &Path,
    opts: &StoreOptions,
    chunking: Chunking,
) -> Result<StoredFile, FilesError> {
    let size = std::fs::metadata(path)
        .map_err(|source| FilesError::ReadFile {
            path: path.to_owned(),
            source,
        })?
        .len();
    if size > chunking.threshold {
        let (outcome, summary) = chunked::store(client, path, size, chunking, opts).await?;
        return Ok(StoredFile {
            path: path.to_owned(),
            outcome,
            chunked: Some(summary),
        });
    }
    let data = read_file(path)?;
    let outcome = client.store(&data, opts).await?;
    Ok(StoredFile {
        path: path.to_owned(),
        outcome,
        chunked: None,
    })
}

/// A blob that was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadSummary {
    /// The blob id.
    pub blob_id: BlobId,
    /// Its size.
    pub size: u64,
    /// Time per step (ms).
    pub phases: ReadPhases,
    /// Slivers that failed verification (served by faulty nodes).
    pub bad_slivers: usize,
    /// For a chunked file (the blob was its manifest): its chunks; `size` is then the file's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<usize>,
}

/// Reads a blob and writes it to `out` (binary safe). Returns the summary and the data.
pub async fn read_blob(
    client: &BlobClient,
    blob_id: BlobId,
    check: ConsistencyCheck,
    progress: Option<&ProgressHook>,
) -> Result<(ReadSummary, Vec<u8>), FilesError> {
    let outcome = client.read_with_progress(blob_id, check, progress).await?;
    Ok((
        ReadSummary {
            blob_id,
            size: outcome.data.len() as u64,
            phases: outcome.phases,
            bad_slivers: outcome.bad_slivers,
            chunks: None,
        },
        outcome.data,
    ))
}

/// Reads a blob into the file at `path`. The bytes go to a temporary file beside it that is
/// renamed into place, so a failed read never leaves a partial file.
pub async fn read_to_file(
    client: &BlobClient,
    blob_id: BlobId,
    check: ConsistencyCheck,
    path: &Path,
    progress: Option<&ProgressHook>,
) -> Result<ReadSummary, FilesError> {
    let blob = client
        .open_with_progress(blob_id, u64::MAX, progress)
        .await?;
    read_opened_to_file(client, blob, check, path, progress).await
}

/// [`read_to_file`] of a blob that [`BlobClient::open`] checked already.
pub async fn read_opened_to_file(
    client: &BlobClient,
    blob: OpenBlob,
    check: ConsistencyCheck,
    path: &Path,
    progress: Option<&ProgressHook>,
) -> Result<ReadSummary, FilesError> {
    let blob_id = blob.blob_id();
    let outcome = client.read_opened(blob, check, progress).await?;
    let mut summary = ReadSummary {
        blob_id,
        size: outcome.data.len() as u64,
        phases: outcome.phases,
        bad_slivers: outcome.bad_slivers,
        chunks: None,
    };
    let data = outcome.data;
    let err = |source| FilesError::WriteFile {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(err)?;
    match manifest_of(&data)? {
        Some(m) => {
            drop(data);
            let mut out = std::io::BufWriter::new(tmp.as_file_mut());
            chunked::read(client, &m, check, &mut out, path).await?;
            summary.size = m.size;
            summary.chunks = Some(m.chunks.len());
        }
        None => tmp.write_all(&data).map_err(err)?,
    }
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(summary)
}

/// Reads a blob into `out` (standard output, for example).
pub async fn read_to_writer(
    client: &BlobClient,
    blob_id: BlobId,
    check: ConsistencyCheck,
    out: &mut impl Write,
    progress: Option<&ProgressHook>,
) -> Result<ReadSummary, FilesError> {
    let (mut summary, data) = read_blob(client, blob_id, check, progress).await?;
    let err = |source| FilesError::WriteFile {
        path: PathBuf::from("-"),
        source,
    };
    if let Some(m) = manifest_of(&data)? {
        chunked::read(client, &m, check, out, Path::new("-")).await?;
        summary.size = m.size;
        summary.chunks = Some(m.chunks.len());
        return Ok(summary);
    }
    out.write_all(&data).map_err(err)?;
    out.flush().map_err(err)?;
    Ok(summary)
}

/// The manifest in a blob's bytes, if it is one (module docs of [`chunked`]).
fn manifest_of(data: &[u8]) -> Result<Option<floe_common::manifest::ChunkedManifest>, FilesError> {
    floe_common::manifest::ChunkedManifest::decode(data)
        .map_err(|e| FilesError::ChunkMismatch(e.to_string()))
}

/// The store phases' total (ms).
pub fn total_ms(p: &StorePhases) -> u64 {
    p.encode + p.register + p.upload + p.certify
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system() -> SystemInfo {
        // Epoch 4 started at 10 000 ms; epochs last 1 000 ms (2 000 from the next one).
        let json = serde_json::json!({
            "chain_id": "c", "epoch": 4, "n_shards": 10, "storage_price": 1,
            "write_price": 1, "min_fee": 1, "max_epochs_ahead": 5,
            "epoch_duration_ms": 1000, "next_epoch_duration_ms": 2000,
            "genesis_time_ms": 6000, "epoch_start_ms": 10_000, "next_epoch_at_ms": 11_000,
            "faucet": null, "total_supply": 0, "tip_height": 9,
            "tip_hash": "00".repeat(32), "tip_timestamp_ms": 10_400,
            "app_hash": "00".repeat(32),
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn lifetimes_resolve_against_the_schedule() {
        let s = system();
        let r = |e: Epochs| e.resolve(&s);
        assert_eq!(r(Epochs::Count(3)).unwrap(), 3);
        assert_eq!(r(Epochs::Max).unwrap(), 5);
        assert!(matches!(
            r(Epochs::Count(6)),
            Err(FilesError::TooManyEpochs { asked: 6, max: 5 })
        ));
        assert_eq!(r(Epochs::EndEpoch(Epoch(5))).unwrap(), 1);
        assert_eq!(r(Epochs::EndEpoch(Epoch(9))).unwrap(), 5);
        assert!(matches!(
            r(Epochs::EndEpoch(Epoch(4))),
            Err(FilesError::EndEpochNotAhead { .. })
        ));
        assert!(matches!(
            r(Epochs::EndEpoch(Epoch(10))),
            Err(FilesError::TooManyEpochs { asked: 6, max: 5 })
        ));
        // Epoch 5 starts at 11 000, then every 2 000 ms: 13 000, 15 000, 17 000, 19 000.
        assert_eq!(r(Epochs::ExpiresAfter(10_401)).unwrap(), 1);
        assert_eq!(r(Epochs::ExpiresAfter(11_000)).unwrap(), 1);
        assert_eq!(r(Epochs::ExpiresAfter(11_001)).unwrap(), 2);
        assert_eq!(r(Epochs::ExpiresAfter(19_000)).unwrap(), 5);
        assert!(matches!(
            r(Epochs::ExpiresAfter(10_400)),
            Err(FilesError::ExpiryInPast { now_ms: 10_400, .. })
        ));
        assert!(matches!(
            r(Epochs::ExpiresAfter(19_001)),
            Err(FilesError::ExpiryTooFar {
                latest_ms: 19_000,
                max: 5,
                ..
            })
        ));
    }

    #[test]
    fn epochs_parse() {
        assert_eq!("5".parse::<Epochs>(), Ok(Epochs::Count(5)));
        assert_eq!("max".parse::<Epochs>(), Ok(Epochs::Max));
        assert_eq!("MAX".parse::<Epochs>(), Ok(Epochs::Max));
        assert!("0".parse::<Epochs>().is_err());
        assert!("-1".parse::<Epochs>().is_err());
        assert!("forever".parse::<Epochs>().is_err());
    }
}
