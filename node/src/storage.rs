//! The node's on-disk state in RocksDB.
//!
//! Column families:
//!
//! | family      | key                               | value                              |
//! |-------------|-----------------------------------|------------------------------------|
//! | `metadata`  | blob id (32 B)                    | BCS [`BlobMetadata`]               |
//! | `primary`   | blob id ‖ sliver pair index (BE)  | stored sliver (primary axis)       |
//! | `secondary` | blob id ‖ sliver pair index (BE)  | stored sliver (secondary axis)     |
//! | `node`      | fixed names (`ledger_height`, …)  | BCS values                         |
//! | `blobs`     | blob id (32 B)                    | BCS [`BlobState`] (from the ledger)|
//! | `pending`   | blob id (32 B)                    | empty: certified, to be checked    |
//! | `held`      | blob id ‖ axis (1 B) ‖ pair (BE)  | u32 LE: bytes of the stored sliver |
//!
//! `held` indexes the sliver families: it is written and deleted in the same batch as the
//! sliver, so "is this sliver stored" and "how many bytes does deleting it free" never read a
//! sliver value (with BlobDB that would read megabytes from a blob file).
//! A stored sliver is its symbol bytes followed by a 6-byte trailer (format version 1, axis,
//! index u16 LE, symbol size u16 LE): the value read from RocksDB becomes the sliver's buffer by
//! truncation, without another copy of megabytes of data (see [`encode_stored_sliver`]).
//!
//! Keys put a blob's slivers next to each other, so a blob's data is one key range and
//! deleting it is a range delete. Every write goes through RocksDB's write-ahead log before it
//! is acknowledged, so an acknowledged write survives `kill -9` of the process; with
//! `sync_writes` the log is also fsynced, which extends that to a machine crash at the cost of
//! one fsync per write. Values are decoded with size limits and checked against their key: a
//! corrupted record is a typed error, never a panic or a wrong sliver.
//!
//! The ledger follower writes a block's blob-state updates, the blobs it certified (into
//! `pending`, the blob-sync queue) and the new ledger tip (the last fully applied block) in one
//! write batch, so after a crash the cursor, the blob states and the sync queue always agree and
//! following resumes at the next block. A blob leaves `pending` only once every sliver the node
//! should hold is stored (or the blob is gone), so recovery in flight at a crash is redone.
//!
//! The latest epoch change the node followed ([`EpochRecord`]: the new committee's shards and
//! the shard moves) is written in the same batch as the block that carried it, and the tip
//! says whether that change's shard sync is still running, so shard migration resumes after a
//! crash exactly where the ledger is.
//!
//! The number of stored slivers and bytes is kept in the `node` family (`stats`) and updated in
//! the same batch as the data it counts, so it stays exact across crashes.

use std::path::Path;
use std::sync::Mutex;

use crate::blob_state::BlobState;

use floe_common::codec::{self, CodecError};
use floe_common::{BlobId, BlobMetadata, EncodingConfig, Sliver, SliverAxis, SliverPairIndex};
use rocksdb::{
    ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions,
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

const CF_METADATA: &str = "metadata";
const CF_PRIMARY: &str = "primary";
const CF_SECONDARY: &str = "secondary";
const CF_NODE: &str = "node";
const CF_BLOBS: &str = "blobs";
const CF_PENDING: &str = "pending";
const CF_HELD: &str = "held";
const FAMILIES: [&str; 7] = [
    CF_METADATA,
    CF_PRIMARY,
    CF_SECONDARY,
    CF_NODE,
    CF_BLOBS,
    CF_PENDING,
    CF_HELD,
];
/// Key in the `node` family of the last ledger block whose events are applied.
const LEDGER_HEIGHT: &str = "ledger_height";
/// Key in the `node` family of the last applied block's time and height ([`LedgerTip`]).
const LEDGER_TIP: &str = "ledger_tip";
/// Key in the `node` family of the [`StorageStats`].
const STATS: &str = "stats";
/// Key of the latest [`EpochRecord`] in the `node` family.
const EPOCH_RECORD: &str = "epoch_record";
/// Largest stored blob state accepted.
const MAX_BLOB_STATE_BYTES: usize = 1 << 20;

/// A storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// RocksDB reported an error (IO, corruption detected by RocksDB, lock held by another
    /// process).
    #[error("rocksdb: {0}")]
    Db(#[from] rocksdb::Error),
    /// A stored value does not decode or does not match its key.
    #[error("corrupt record in {family} for key {key}: {reason}")]
    Corrupt {
        /// Column family.
        family: &'static str,
        /// Hex of the key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A sliver whose index does not belong to the pair it is stored under.
    #[error("{axis} sliver {index} does not belong to pair {pair}")]
    WrongPair {
        /// Axis.
        axis: SliverAxis,
        /// Sliver index.
        index: u16,
        /// Pair it was offered for.
        pair: SliverPairIndex,
    },
}

/// The blob id after `id` in key order (`None` after the largest).
pub fn next_blob_id(id: &BlobId) -> Option<BlobId> {
    let mut b = id.0;
    for byte in b.iter_mut().rev() {
        let (v, carry) = byte.overflowing_add(1);
        *byte = v;
        if !carry {
            return Some(BlobId(b));
        }
    }
    None
}

/// The last ledger block the node applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerTip {
    /// Its height (0: none yet).
    pub height: u64,
    /// Its block time (ms since the Unix epoch).
    pub timestamp_ms: u64,
    /// The ledger's epoch after it (from the ledger's `EpochChanged` events; the epoch length
    /// can change by governance, so it is never computed from time).
    pub epoch: floe_common::Epoch,
    /// Whether the change to `epoch` is still syncing shards (the ledger's `EpochChanged` came,
    /// its `SyncDone` not yet): the previous committee still serves older blobs.
    pub sync_pending: bool,
}

/// The latest epoch change, from the ledger's verified `EpochChanged` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The new epoch.
    pub epoch: floe_common::Epoch,
    /// The epoch of the committee the moved shards come from.
    pub previous_epoch: floe_common::Epoch,
    /// The new committee's members and shards.
    pub members: Vec<floe_ledger::MemberShards>,
    /// Shards that change holder.
    pub moves: Vec<floe_ledger::ShardMove>,
    /// Members whose `EpochSyncDone` the ledger counted in this epoch (`ShardsSynced`).
    pub synced: Vec<floe_common::NodeId>,
}

impl EpochRecord {
    /// Whether every node that gains a shard reported it synced: until then a previous holder
    /// keeps serving (and storing) the shards it hands over, even after the ledger's
    /// `SyncDone` (which needs only a quorum).
    pub fn handover_done(&self) -> bool {
        self.moves.iter().all(|m| self.synced.contains(&m.to))
    }
}

/// What the node stores, exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageStats {
    /// Slivers stored (both axes).
    pub slivers: u64,
    /// Bytes of sliver data and metadata stored (encoded values).
    pub bytes: u64,
    /// Blobs whose metadata is stored.
    pub blobs: u64,
}

/// Bytes after a stored sliver's data.
const SLIVER_TRAILER: usize = 6;
/// Version byte of the stored sliver format.
const SLIVER_FORMAT: u8 = 1;

/// The stored form of a sliver: data ‖ version ‖ axis ‖ index (u16 LE) ‖ symbol size (u16 LE).
pub fn encode_stored_sliver(sliver: &Sliver) -> Vec<u8> {
    let mut v = Vec::with_capacity(sliver.data.len() + SLIVER_TRAILER);
    v.extend_from_slice(&sliver.data);
    v.push(SLIVER_FORMAT);
    v.push(match sliver.axis {
        SliverAxis::Primary => 0,
        SliverAxis::Secondary => 1,
    });
    v.extend_from_slice(&sliver.index.0.to_le_bytes());
    v.extend_from_slice(&sliver.symbol_size.to_le_bytes());
    v
}

/// Parses a stored sliver, reusing the buffer for its data.
pub fn decode_stored_sliver(mut v: Vec<u8>) -> Result<Sliver, String> {
    if v.len() < SLIVER_TRAILER {
        return Err(format!("{} bytes is shorter than the trailer", v.len()));
    }
    let t = v.len() - SLIVER_TRAILER;
    let trailer: [u8; SLIVER_TRAILER] = v[t..].try_into().expect("length checked");
    if trailer[0] != SLIVER_FORMAT {
        return Err(format!("unknown sliver format {}", trailer[0]));
    }
    let axis = match trailer[1] {
        0 => SliverAxis::Primary,
        1 => SliverAxis::Secondary,
        a => return Err(format!("bad axis {a}")),
    };
    let index = u16::from_le_bytes([trailer[2], trailer[3]]);
    let symbol_size = u16::from_le_bytes([trailer[4], trailer[5]]);
    if symbol_size == 0 || !t.is_multiple_of(usize::from(symbol_size)) {
        return Err(format!(
            "{t} bytes is not a whole number of {symbol_size}-byte symbols"
        ));
    }
    v.truncate(t);
    Ok(Sliver {
        axis,
        index: floe_common::SliverIndex(index),
        symbol_size,
        data: v,
    })
}

/// Options of the store.
#[derive(Debug, Clone, Copy, Default)]
pub struct StorageOptions {
    /// fsync the write-ahead log on every acknowledged write.
    pub sync_writes: bool,
}

/// The node's RocksDB store.
pub struct Storage {
    db: DB,
    config: EncodingConfig,
    write: WriteOptions,
    /// Reads that do not fill the block cache (values are read once per request).
    read: rocksdb::ReadOptions,
    /// Serialises data writes so that [`StorageStats`] is updated read-modify-write exactly.
    stats: Mutex<StorageStats>,
}

fn sliver_key(blob_id: &BlobId, pair: SliverPairIndex) -> [u8; 34] {
    let mut k = [0u8; 34];
    k[..32].copy_from_slice(&blob_id.0);
    k[32..].copy_from_slice(&pair.0.to_be_bytes());
    k
}

fn held_key(blob_id: &BlobId, axis: SliverAxis, pair: SliverPairIndex) -> [u8; 35] {
    let mut k = [0u8; 35];
    k[..32].copy_from_slice(&blob_id.0);
    k[32] = axis as u8;
    k[33..].copy_from_slice(&pair.0.to_be_bytes());
    k
}

/// Whether files under `dir` can be opened with `O_DIRECT` (tmpfs and some others refuse it, and
/// RocksDB would then fail its first flush instead of its open).
fn supports_direct_io(dir: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt as _;
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let probe = dir.join(".direct-io-probe");
    let ok = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(&probe)
        .is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

/// A blob id and the raw value stored under it.
type BlobEntry = (BlobId, Box<[u8]>);

fn family(axis: SliverAxis) -> &'static str {
    match axis {
        SliverAxis::Primary => CF_PRIMARY,
        SliverAxis::Secondary => CF_SECONDARY,
    }
}

impl Storage {
    /// Opens (or creates) the store at `path` for a network with `config`'s shard count.
    pub fn open(
        path: &Path,
        config: EncodingConfig,
        opts: StorageOptions,
    ) -> Result<Self, StorageError> {
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        // Slivers are incompressible; the build has no compression libraries anyway.
        db_opts.set_compression_type(rocksdb::DBCompressionType::None);
        // Flushes and compactions write the slivers (blob files) with direct I/O: they go to the
        // disk once, without being copied into freshly allocated page-cache pages, which cost
        // more CPU than everything else a node does with a sliver.
        let direct = supports_direct_io(path);
        if !direct {
            tracing::info!(path = %path.display(), "file system refuses direct i/o; flushing through the page cache");
        }
        db_opts.set_use_direct_io_for_flush_and_compaction(direct);
        // Reuse finished write-ahead log files instead of creating new ones: rewriting pages
        // already in the page cache is a plain copy; new files need new pages.
        // A log is reusable once every column family flushed past it; without a cap the small
        // families (metadata, blob states) would keep old logs alive for gigabytes of slivers.
        db_opts.set_recycle_log_file_num(4);
        db_opts.set_max_total_wal_size(128 << 20);
        let cfs = FAMILIES.iter().map(|name| {
            let mut o = Options::default();
            o.set_compression_type(rocksdb::DBCompressionType::None);
            if *name == CF_PRIMARY || *name == CF_SECONDARY {
                // Large values: keep them in bigger files and write buffers.
                o.set_write_buffer_size(64 << 20);
                o.set_target_file_size_base(256 << 20);
                // Slivers are large values: keep them in blob files (BlobDB), so compaction
                // rewrites only keys and pointers and reads skip the block cache.
                o.set_enable_blob_files(true);
                o.set_min_blob_size(4096);
                o.set_blob_file_size(256 << 20);
            }
            ColumnFamilyDescriptor::new(*name, o)
        });
        let db = DB::open_cf_descriptors(&db_opts, path, cfs)?;
        let mut write = WriteOptions::default();
        write.set_sync(opts.sync_writes);
        let mut read = rocksdb::ReadOptions::default();
        read.fill_cache(false);
        let mut st = Self {
            db,
            config,
            write,
            read,
            stats: Mutex::new(StorageStats::default()),
        };
        let stats = st.node_value(STATS)?.unwrap_or_default();
        *st.stats.get_mut().expect("not shared yet") = stats;
        Ok(st)
    }

    /// The encoding configuration of the network.
    pub fn config(&self) -> &EncodingConfig {
        &self.config
    }

    /// What is stored.
    pub fn stats(&self) -> StorageStats {
        *self.lock_stats()
    }

    fn lock_stats(&self) -> std::sync::MutexGuard<'_, StorageStats> {
        // The guarded value is plain data updated after a successful write; a panic elsewhere
        // cannot leave it half updated.
        self.stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes `batch` with the updated `stats` in the same batch.
    fn write_counted(
        &self,
        mut batch: WriteBatch,
        guard: &mut std::sync::MutexGuard<'_, StorageStats>,
        stats: StorageStats,
    ) -> Result<(), StorageError> {
        batch.put_cf(self.cf(CF_NODE), STATS.as_bytes(), codec::encode(&stats));
        self.db.write_opt(batch, &self.write)?;
        **guard = stats;
        Ok(())
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column families are created on open")
    }

    fn get<T: DeserializeOwned>(
        &self,
        family: &'static str,
        key: &[u8],
        limit: usize,
    ) -> Result<Option<T>, StorageError> {
        let Some(bytes) = self
            .db
            .get_pinned_cf_opt(self.cf(family), key, &self.read)?
        else {
            return Ok(None);
        };
        codec::decode(&bytes, limit)
            .map(Some)
            .map_err(|e: CodecError| StorageError::Corrupt {
                family,
                key: hex::encode(key),
                reason: e.to_string(),
            })
    }

    fn put<T: Serialize>(
        &self,
        family: &'static str,
        key: &[u8],
        value: &T,
    ) -> Result<(), StorageError> {
        self.db
            .put_cf_opt(self.cf(family), key, codec::encode(value), &self.write)?;
        Ok(())
    }

    /// Stores a blob's metadata (the caller has verified it against the blob id).
    pub fn put_metadata(
        &self,
        blob_id: &BlobId,
        metadata: &BlobMetadata,
    ) -> Result<(), StorageError> {
        let mut guard = self.lock_stats();
        if self.has_metadata(blob_id)? {
            return Ok(());
        }
        let value = codec::encode(metadata);
        let mut stats = *guard;
        stats.blobs += 1;
        stats.bytes += value.len() as u64;
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_METADATA), blob_id.0, value);
        self.write_counted(batch, &mut guard, stats)
    }

    /// Whether a blob's metadata is stored (no value read).
    pub fn has_metadata(&self, blob_id: &BlobId) -> Result<bool, StorageError> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(CF_METADATA), blob_id.0)?
            .is_some())
    }

    /// A blob's metadata, re-verified against its id on the way out.
    pub fn metadata(&self, blob_id: &BlobId) -> Result<Option<BlobMetadata>, StorageError> {
        let limit = BlobMetadata::max_encoded_len(self.config.n_shards());
        let Some(md) = self.get::<BlobMetadata>(CF_METADATA, &blob_id.0, limit)? else {
            return Ok(None);
        };
        md.clone()
            .verify(*blob_id, &self.config)
            .map_err(|e| StorageError::Corrupt {
                family: CF_METADATA,
                key: blob_id.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Some(md))
    }

    /// Stores a sliver of pair `pair` (the caller has verified it against the metadata). A
    /// sliver already stored is left as is.
    pub fn put_sliver(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        sliver: &Sliver,
    ) -> Result<(), StorageError> {
        if pair.sliver_index(sliver.axis, self.config.n_shards()) != sliver.index {
            return Err(StorageError::WrongPair {
                axis: sliver.axis,
                index: sliver.index.0,
                pair,
            });
        }
        let mut guard = self.lock_stats();
        if self.has_sliver(blob_id, pair, sliver.axis)? {
            return Ok(());
        }
        let value = encode_stored_sliver(sliver);
        let mut stats = *guard;
        stats.slivers += 1;
        stats.bytes += value.len() as u64;
        let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.cf(CF_HELD),
            held_key(blob_id, sliver.axis, pair),
            len.to_le_bytes(),
        );
        batch.put_cf(
            self.cf(family(sliver.axis)),
            sliver_key(blob_id, pair),
            value,
        );
        self.write_counted(batch, &mut guard, stats)
    }

    /// The sliver of `pair` on `axis`, if stored.
    pub fn sliver(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        axis: SliverAxis,
    ) -> Result<Option<Sliver>, StorageError> {
        let key = sliver_key(blob_id, pair);
        let limit = self.config.max_sliver_size(axis) + SLIVER_TRAILER;
        let Some(value) = self.db.get_cf_opt(self.cf(family(axis)), key, &self.read)? else {
            return Ok(None);
        };
        let corrupt = |reason: String| StorageError::Corrupt {
            family: family(axis),
            key: hex::encode(key),
            reason,
        };
        if value.len() > limit {
            return Err(corrupt(format!("{} bytes exceeds {limit}", value.len())));
        }
        let sliver = decode_stored_sliver(value).map_err(corrupt)?;
        if sliver.axis != axis || pair.sliver_index(axis, self.config.n_shards()) != sliver.index {
            return Err(StorageError::Corrupt {
                family: family(axis),
                key: hex::encode(key),
                reason: format!("holds {} sliver {}", sliver.axis, sliver.index),
            });
        }
        Ok(Some(sliver))
    }

    /// Whether the sliver of `pair` on `axis` is stored (reads the index, not the sliver).
    pub fn has_sliver(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        axis: SliverAxis,
    ) -> Result<bool, StorageError> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(CF_HELD), held_key(blob_id, axis, pair))?
            .is_some())
    }

    /// The index entries of a blob's stored slivers: (axis, pair, stored bytes), in order.
    fn held(
        &self,
        blob_id: &BlobId,
    ) -> Result<Vec<(SliverAxis, SliverPairIndex, u64)>, StorageError> {
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(CF_HELD),
            IteratorMode::From(&blob_id.0, Direction::Forward),
        );
        for item in iter {
            let (key, value) = item?;
            if key.len() != 35 || key[..32] != blob_id.0 {
                break;
            }
            let corrupt = |reason: &str| StorageError::Corrupt {
                family: CF_HELD,
                key: hex::encode(&key),
                reason: reason.into(),
            };
            let axis = match key[32] {
                0 => SliverAxis::Primary,
                1 => SliverAxis::Secondary,
                _ => return Err(corrupt("bad axis")),
            };
            let len: [u8; 4] = value
                .as_ref()
                .try_into()
                .map_err(|_| corrupt("bad length"))?;
            out.push((
                axis,
                SliverPairIndex(u16::from_be_bytes([key[33], key[34]])),
                u64::from(u32::from_le_bytes(len)),
            ));
        }
        Ok(out)
    }

    /// The pairs of a blob stored on `axis`, in order.
    pub fn stored_pairs(
        &self,
        blob_id: &BlobId,
        axis: SliverAxis,
    ) -> Result<Vec<SliverPairIndex>, StorageError> {
        Ok(self
            .held(blob_id)?
            .into_iter()
            .filter(|(a, _, _)| *a == axis)
            .map(|(_, p, _)| p)
            .collect())
    }

    /// Deletes a blob's metadata and all its slivers in one atomic batch; returns the bytes
    /// freed.
    pub fn delete_blob(&self, blob_id: &BlobId) -> Result<u64, StorageError> {
        let mut guard = self.lock_stats();
        let mut stats = *guard;
        if let Some(md) = self.db.get_pinned_cf(self.cf(CF_METADATA), blob_id.0)? {
            stats.blobs = stats.blobs.saturating_sub(1);
            stats.bytes = stats.bytes.saturating_sub(md.len() as u64);
        }
        for (_, _, len) in self.held(blob_id)? {
            stats.slivers = stats.slivers.saturating_sub(1);
            stats.bytes = stats.bytes.saturating_sub(len);
        }
        let freed = guard.bytes - stats.bytes;
        let mut batch = WriteBatch::default();
        let mut held_end = [0xffu8; 35];
        held_end[..32].copy_from_slice(&blob_id.0);
        batch.delete_range_cf(self.cf(CF_HELD), &blob_id.0[..], &held_end[..]);
        batch.delete_cf(self.cf(CF_HELD), held_end);
        batch.delete_cf(self.cf(CF_METADATA), blob_id.0);
        batch.delete_cf(self.cf(CF_PENDING), blob_id.0);
        let from = sliver_key(blob_id, SliverPairIndex(0));
        let mut to = [0u8; 34];
        to[..32].copy_from_slice(&blob_id.0);
        to[32..].copy_from_slice(&[0xff, 0xff]);
        for axis in [SliverAxis::Primary, SliverAxis::Secondary] {
            batch.delete_range_cf(self.cf(family(axis)), from, to);
            batch.delete_cf(self.cf(family(axis)), to);
        }
        self.write_counted(batch, &mut guard, stats)?;
        Ok(freed)
    }

    /// Blob ids whose metadata is stored, from `start` on (inclusive), at most `limit`.
    pub fn blobs_with_data(
        &self,
        start: &BlobId,
        limit: usize,
    ) -> Result<Vec<BlobId>, StorageError> {
        self.keys(CF_METADATA, start, limit)
    }

    /// Blob ids in the sync queue, from `start` on, at most `limit`.
    pub fn pending_blobs(&self, start: &BlobId, limit: usize) -> Result<Vec<BlobId>, StorageError> {
        self.keys(CF_PENDING, start, limit)
    }

    /// Removes a blob from the sync queue.
    pub fn remove_pending(&self, blob_id: &BlobId) -> Result<(), StorageError> {
        self.db
            .delete_cf_opt(self.cf(CF_PENDING), blob_id.0, &self.write)?;
        Ok(())
    }

    /// Entries of a family keyed by blob id, from `start` on (inclusive), at most `limit`, in
    /// blob id order; a key that is not a blob id is a typed corruption error.
    fn blob_entries(
        &self,
        family: &'static str,
        start: &BlobId,
        limit: usize,
    ) -> Result<Vec<BlobEntry>, StorageError> {
        let iter = self.db.iterator_cf(
            self.cf(family),
            IteratorMode::From(&start.0, Direction::Forward),
        );
        iter.take(limit)
            .map(|item| {
                let (key, value) = item?;
                let id: [u8; 32] = key.as_ref().try_into().map_err(|_| StorageError::Corrupt {
                    family,
                    key: hex::encode(&key),
                    reason: "not a blob id".into(),
                })?;
                Ok((BlobId(id), value))
            })
            .collect()
    }

    fn keys(
        &self,
        family: &'static str,
        start: &BlobId,
        limit: usize,
    ) -> Result<Vec<BlobId>, StorageError> {
        Ok(self
            .blob_entries(family, start, limit)?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    /// Stores a small named value of the node's own state (event cursor, …).
    pub fn put_node_value<T: Serialize>(&self, name: &str, value: &T) -> Result<(), StorageError> {
        self.put(CF_NODE, name.as_bytes(), value)
    }

    /// Reads a named value of the node's own state.
    pub fn node_value<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, StorageError> {
        self.get(CF_NODE, name.as_bytes(), 1 << 20)
    }

    /// The node's state of a blob id, built from ledger events.
    pub fn blob_state(&self, blob_id: &BlobId) -> Result<Option<BlobState>, StorageError> {
        self.get(CF_BLOBS, &blob_id.0, MAX_BLOB_STATE_BYTES)
    }

    /// The last ledger block whose events are applied (`None` before the first).
    pub fn ledger_height(&self) -> Result<Option<u64>, StorageError> {
        self.node_value(LEDGER_HEIGHT)
    }

    /// The last applied ledger block's height and time (default before the first).
    pub fn ledger_tip(&self) -> Result<LedgerTip, StorageError> {
        Ok(self.node_value(LEDGER_TIP)?.unwrap_or_default())
    }

    /// The latest epoch change followed, if any.
    pub fn epoch_record(&self) -> Result<Option<EpochRecord>, StorageError> {
        self.node_value(EPOCH_RECORD)
    }

    /// Blob states from `start` on (inclusive), at most `limit`, in blob id order.
    pub fn blob_states(
        &self,
        start: &BlobId,
        limit: usize,
    ) -> Result<Vec<(BlobId, BlobState)>, StorageError> {
        self.blob_entries(CF_BLOBS, start, limit)?
            .into_iter()
            .map(|(id, value)| {
                let state =
                    codec::decode(&value, MAX_BLOB_STATE_BYTES).map_err(|e: CodecError| {
                        StorageError::Corrupt {
                            family: CF_BLOBS,
                            key: hex::encode(id.0),
                            reason: e.to_string(),
                        }
                    })?;
                Ok((id, state))
            })
            .collect()
    }

    /// Adds blobs to the sync queue (blob sync checks and recovers their slivers).
    pub fn add_pending(&self, ids: &[BlobId]) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        for id in ids {
            batch.put_cf(self.cf(CF_PENDING), id.0, []);
        }
        self.db.write_opt(batch, &self.write)?;
        Ok(())
    }

    /// Deletes the blob's slivers of every pair not in `keep` (shards handed over to other
    /// nodes), in one batch; returns (slivers, bytes) freed.
    pub fn delete_slivers_except(
        &self,
        blob_id: &BlobId,
        keep: &[SliverPairIndex],
    ) -> Result<(u64, u64), StorageError> {
        let mut guard = self.lock_stats();
        let mut stats = *guard;
        let mut batch = WriteBatch::default();
        let mut slivers = 0;
        for (axis, pair, len) in self.held(blob_id)? {
            if keep.contains(&pair) {
                continue;
            }
            slivers += 1;
            stats.slivers = stats.slivers.saturating_sub(1);
            stats.bytes = stats.bytes.saturating_sub(len);
            batch.delete_cf(self.cf(family(axis)), sliver_key(blob_id, pair));
            batch.delete_cf(self.cf(CF_HELD), held_key(blob_id, axis, pair));
        }
        if slivers == 0 {
            return Ok((0, 0));
        }
        let freed = guard.bytes - stats.bytes;
        self.write_counted(batch, &mut guard, stats)?;
        Ok((slivers, freed))
    }

    /// Writes the blob states changed by ledger block `tip` (`None` deletes), queues the blobs
    /// it certified for sync, records the block's epoch change if any, and moves the ledger
    /// cursor to `tip`, atomically.
    pub fn apply_block_events(
        &self,
        tip: LedgerTip,
        updates: &[(BlobId, Option<BlobState>)],
        certified: &[BlobId],
        epoch_change: Option<&EpochRecord>,
    ) -> Result<(), StorageError> {
        let height = tip.height;
        let mut batch = WriteBatch::default();
        if let Some(record) = epoch_change {
            batch.put_cf(
                self.cf(CF_NODE),
                EPOCH_RECORD.as_bytes(),
                codec::encode(record),
            );
        }
        for id in certified {
            batch.put_cf(self.cf(CF_PENDING), id.0, []);
        }
        batch.put_cf(self.cf(CF_NODE), LEDGER_TIP.as_bytes(), codec::encode(&tip));
        let blobs = self.cf(CF_BLOBS);
        for (id, state) in updates {
            match state {
                Some(s) => batch.put_cf(blobs, id.0, codec::encode(s)),
                None => batch.delete_cf(blobs, id.0),
            }
        }
        batch.put_cf(
            self.cf(CF_NODE),
            LEDGER_HEIGHT.as_bytes(),
            codec::encode(&height),
        );
        self.db.write_opt(batch, &self.write)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use floe_common::encode_blob;

    fn config() -> EncodingConfig {
        EncodingConfig::new(10).unwrap()
    }

    #[test]
    fn slivers_and_metadata_round_trip_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let enc = encode_blob(&config(), &vec![7u8; 10_000]).unwrap();
        let id = enc.blob_id();
        {
            let st = Storage::open(dir.path(), config(), StorageOptions::default()).unwrap();
            st.put_metadata(&id, enc.metadata.metadata()).unwrap();
            for p in [2usize, 5] {
                let pair = &enc.pairs[p];
                st.put_sliver(&id, pair.index, &pair.primary).unwrap();
                st.put_sliver(&id, pair.index, &pair.secondary).unwrap();
            }
            st.put_node_value("event_cursor", &(42u64, 3u32)).unwrap();
            // A sliver offered under the wrong pair is refused.
            assert!(matches!(
                st.put_sliver(&id, SliverPairIndex(3), &enc.pairs[2].primary),
                Err(StorageError::WrongPair { .. })
            ));
            // Dropped without any flush: only the write-ahead log holds the data.
        }
        let st = Storage::open(dir.path(), config(), StorageOptions::default()).unwrap();
        assert_eq!(
            st.metadata(&id).unwrap().as_ref(),
            Some(enc.metadata.metadata())
        );
        for p in [2usize, 5] {
            let pair = &enc.pairs[p];
            assert_eq!(
                st.sliver(&id, pair.index, SliverAxis::Primary)
                    .unwrap()
                    .as_ref(),
                Some(&pair.primary)
            );
            assert_eq!(
                st.sliver(&id, pair.index, SliverAxis::Secondary)
                    .unwrap()
                    .as_ref(),
                Some(&pair.secondary)
            );
        }
        assert!(
            st.sliver(&id, SliverPairIndex(0), SliverAxis::Primary)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            st.stored_pairs(&id, SliverAxis::Primary).unwrap(),
            vec![SliverPairIndex(2), SliverPairIndex(5)]
        );
        assert_eq!(
            st.node_value::<(u64, u32)>("event_cursor").unwrap(),
            Some((42, 3))
        );

        let stats = st.stats();
        assert_eq!((stats.slivers, stats.blobs), (4, 1));
        assert!(stats.bytes > 4 * pair_len(&enc));
        // Storing again does not count twice.
        st.put_sliver(&id, enc.pairs[2].index, &enc.pairs[2].primary)
            .unwrap();
        assert_eq!(st.stats(), stats);

        assert_eq!(st.delete_blob(&id).unwrap(), stats.bytes);
        assert_eq!(st.stats(), StorageStats::default());
        assert!(st.metadata(&id).unwrap().is_none());
        assert!(
            st.stored_pairs(&id, SliverAxis::Secondary)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn handed_over_slivers_are_deleted_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let enc = encode_blob(&config(), &vec![3u8; 7_000]).unwrap();
        let id = enc.blob_id();
        let st = Storage::open(dir.path(), config(), StorageOptions::default()).unwrap();
        st.put_metadata(&id, enc.metadata.metadata()).unwrap();
        for p in [1usize, 4, 8] {
            let pair = &enc.pairs[p];
            st.put_sliver(&id, pair.index, &pair.primary).unwrap();
            st.put_sliver(&id, pair.index, &pair.secondary).unwrap();
        }
        let before = st.stats();
        let keep = [enc.pairs[4].index];
        let (slivers, freed) = st.delete_slivers_except(&id, &keep).unwrap();
        assert_eq!(slivers, 4);
        let after = st.stats();
        assert_eq!((after.slivers, before.bytes - after.bytes), (2, freed));
        for p in [1usize, 8] {
            let pair = enc.pairs[p].index;
            assert!(!st.has_sliver(&id, pair, SliverAxis::Primary).unwrap());
            assert!(
                st.sliver(&id, pair, SliverAxis::Secondary)
                    .unwrap()
                    .is_none()
            );
        }
        assert!(st.has_sliver(&id, keep[0], SliverAxis::Secondary).unwrap());
        assert_eq!(st.delete_slivers_except(&id, &keep).unwrap(), (0, 0));
        assert_eq!(st.delete_blob(&id).unwrap(), after.bytes);
        assert_eq!(st.stats(), StorageStats::default());
        assert!(!st.has_sliver(&id, keep[0], SliverAxis::Primary).unwrap());
    }

    fn pair_len(enc: &floe_common::EncodedBlob) -> u64 {
        enc.pairs[0]
            .primary
            .data
            .len()
            .min(enc.pairs[0].secondary.data.len()) as u64
    }

    #[test]
    fn block_events_and_cursor_commit_together() {
        let dir = tempfile::tempdir().unwrap();
        let a = BlobId([1; 32]);
        let b = BlobId([2; 32]);
        let state = BlobState {
            registered_permanent: 1,
            end_epoch: floe_common::Epoch(5),
            ..BlobState::default()
        };
        {
            let st = Storage::open(dir.path(), config(), StorageOptions::default()).unwrap();
            assert_eq!(st.ledger_height().unwrap(), None);
            st.apply_block_events(
                LedgerTip {
                    height: 1,
                    timestamp_ms: 0,
                    epoch: floe_common::Epoch(0),
                    sync_pending: false,
                },
                &[(a, Some(state.clone())), (b, Some(state.clone()))],
                &[a],
                None,
            )
            .unwrap();
            st.apply_block_events(
                LedgerTip {
                    height: 2,
                    timestamp_ms: 0,
                    epoch: floe_common::Epoch(1),
                    sync_pending: true,
                },
                &[(b, None)],
                &[],
                Some(&EpochRecord {
                    epoch: floe_common::Epoch(1),
                    previous_epoch: floe_common::Epoch(0),
                    members: Vec::new(),
                    moves: Vec::new(),
                    synced: Vec::new(),
                }),
            )
            .unwrap();
        }
        let st = Storage::open(dir.path(), config(), StorageOptions::default()).unwrap();
        assert_eq!(st.ledger_height().unwrap(), Some(2));
        assert_eq!(st.ledger_tip().unwrap().height, 2);
        assert_eq!(st.ledger_tip().unwrap().epoch, floe_common::Epoch(1));
        assert!(st.ledger_tip().unwrap().sync_pending);
        assert_eq!(
            st.epoch_record().unwrap().unwrap().previous_epoch,
            floe_common::Epoch(0)
        );
        assert_eq!(st.blob_states(&BlobId([0; 32]), 10).unwrap().len(), 1);
        assert_eq!(st.pending_blobs(&BlobId([0; 32]), 10).unwrap(), vec![a]);
        assert_eq!(st.blob_state(&a).unwrap(), Some(state));
        assert_eq!(st.blob_state(&b).unwrap(), None);
        st.db.put_cf(st.cf(CF_BLOBS), b.0, b"\xff").unwrap();
        assert!(matches!(
            st.blob_state(&b),
            Err(StorageError::Corrupt { .. })
        ));
    }

    #[test]
    fn corrupt_records_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let st = Storage::open(dir.path(), config(), StorageOptions { sync_writes: true }).unwrap();
        let id = BlobId([1; 32]);
        st.db.put_cf(st.cf(CF_METADATA), id.0, b"garbage").unwrap();
        assert!(matches!(
            st.metadata(&id),
            Err(StorageError::Corrupt { .. })
        ));
        // Valid metadata of another blob stored under this id is caught by re-verification.
        let enc = encode_blob(&config(), b"hello").unwrap();
        st.db
            .put_cf(
                st.cf(CF_METADATA),
                id.0,
                codec::encode(enc.metadata.metadata()),
            )
            .unwrap();
        assert!(matches!(
            st.metadata(&id),
            Err(StorageError::Corrupt { .. })
        ));
        // A secondary sliver stored in the primary family is caught.
        let key = sliver_key(&id, SliverPairIndex(0));
        st.db
            .put_cf(
                st.cf(CF_PRIMARY),
                key,
                encode_stored_sliver(&enc.pairs[0].secondary),
            )
            .unwrap();
        assert!(matches!(
            st.sliver(&id, SliverPairIndex(0), SliverAxis::Primary),
            Err(StorageError::Corrupt { .. })
        ));
        // Truncated, mis-versioned and ragged values are caught.
        let good = encode_stored_sliver(&enc.pairs[0].primary);
        let mut bad_version = good.clone();
        let t = bad_version.len() - 6;
        bad_version[t] = 9;
        let mut ragged = enc.pairs[0].primary.data.clone();
        ragged.push(0);
        ragged.extend_from_slice(&good[t..]);
        for bad in [vec![1, 2, 3], bad_version, ragged] {
            st.db.put_cf(st.cf(CF_PRIMARY), key, bad).unwrap();
            assert!(matches!(
                st.sliver(&id, SliverPairIndex(0), SliverAxis::Primary),
                Err(StorageError::Corrupt { .. })
            ));
        }
        assert_eq!(
            decode_stored_sliver(good).unwrap(),
            enc.pairs[0].primary,
            "round trip"
        );
        // A second process cannot open the same store.
        assert!(Storage::open(dir.path(), config(), StorageOptions::default()).is_err());
    }
}
