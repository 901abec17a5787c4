//! The node's on-disk state in RocksDB.
//!
//! Column families:
//!
//! | family      | key                               | value                                        |
//! |-------------|-----------------------------------|----------------------------------------------|
//! | `metadata`  | blob id (32 B)                    | BCS [`BlobMetadata`](floe_common::BlobMetadata) |
//! | `primary`   | blob id ‖ sliver pair index (BE)  | stored sliver (primary axis)                 |
//! | `secondary` | blob id ‖ sliver pair index (BE)  | stored sliver (secondary axis)               |
//! | `held`      | blob id ‖ axis (1 B) ‖ pair (BE)  | u32 LE: bytes of the stored sliver           |
//! | `blobs`     | blob id (32 B)                    | BCS [`BlobState`](crate::BlobState) (from the ledger) |
//! | `pending`   | blob id (32 B)                    | empty: certified, to be checked              |
//! | `node`      | a name (below)                    | BCS value of the name's type                 |
//!
//! The `node` family holds the node's own state, each name with one type ([`schema`]):
//! `ledger_tip` ([`LedgerTip`], the follower's cursor), `stats` ([`StorageStats`]),
//! `epoch_record` ([`EpochRecord`]), `sync_reported_epoch` (the epoch whose shard sync the node
//! reported) and `sync_cursor/{shard}/{axis}` (where a shard pull stands).
//!
//! Modules, one per concern: [`blob_data`] (metadata, slivers and their index),
//! [`sliver_format`] (the stored form of a sliver), [`ledger_view`] (blob states, tip and epoch
//! record, written per block in one batch), [`sync_queue`] (`pending`), [`migration_state`]
//! (shard-pull progress), [`stats`] (exact counts, updated in the batch of the data they
//! count), [`schema`] (families, keys, typed values), [`tuning`] (RocksDB options) and
//! [`checkpoint`] (consistent copies of the live store for backups, and read-only opening).
//!
//! Every write goes through RocksDB's write-ahead log before it is acknowledged, so an
//! acknowledged write survives `kill -9` of the process. Before the node signs anything that
//! vouches for stored data (a storage confirmation), it makes the log durable with
//! [`Storage::sync_wal`]: one fsync covers every write made before it, and concurrent callers
//! share it (group commit), so a power loss across the committee cannot void a certificate
//! the ledger accepted. With `sync_writes` every write is fsynced on its own instead. Values are
//! decoded with size limits and checked against their key: a corrupted record is a typed error,
//! never a panic or a wrong sliver.

mod blob_data;
mod checkpoint;
mod ledger_view;
mod migration_state;
mod schema;
mod sliver_format;
mod space;
mod stats;
mod sync_queue;
#[cfg(test)]
mod tests;
mod tuning;

use std::path::Path;
use std::sync::Mutex;

use floe_common::codec::CodecError;
use floe_common::encoding::MetadataError;
use floe_common::{EncodingConfig, SliverAxis, SliverIndex, SliverPairIndex};
use rocksdb::{DB, WriteBatch, WriteOptions};

pub use ledger_view::{ChallengeRecord, EpochRecord, LedgerTip, SettledRound};
pub use schema::next_blob_id;
pub use sliver_format::{SliverFormatError, decode_stored_sliver, encode_stored_sliver};
pub use space::SpaceStatus;
pub use stats::StorageStats;

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
        #[source]
        reason: Corruption,
    },
    /// The store's file system is (nearly) full: a data write was refused, so that RocksDB
    /// keeps room to flush and the ledger view can still be written ([`space`]). Reads go on;
    /// writes are taken again once space is freed.
    #[error("storage full: {} bytes free, {min_free} kept free; new data is refused until space is freed", available.map_or_else(|| "unknown".to_string(), |a| a.to_string()))]
    Full {
        /// Bytes free on the store's file system, if known.
        available: Option<u64>,
        /// The margin the node keeps free.
        min_free: u64,
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

/// What is wrong with a corrupt record.
#[derive(Debug, thiserror::Error)]
pub enum Corruption {
    /// The value does not decode.
    #[error(transparent)]
    Decode(#[from] CodecError),
    /// The value is not a stored sliver.
    #[error(transparent)]
    Sliver(#[from] SliverFormatError),
    /// Stored metadata that does not hash to its blob id.
    #[error("metadata does not match its blob id: {0}")]
    Metadata(#[from] MetadataError),
    /// A value larger than any valid one.
    #[error("{len} bytes exceeds {limit}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The largest valid length.
        limit: usize,
    },
    /// A sliver stored under another sliver's key.
    #[error("holds {axis} sliver {index}")]
    WrongSliver {
        /// Its axis.
        axis: SliverAxis,
        /// Its index.
        index: SliverIndex,
    },
    /// A key that is not a blob id.
    #[error("not a blob id")]
    NotABlobId,
    /// An index entry with an unknown axis byte.
    #[error("bad axis")]
    BadAxis,
    /// An index entry whose value is not a length.
    #[error("bad length")]
    BadLength,
}

/// Options of the store.
#[derive(Debug, Clone, Copy, Default)]
pub struct StorageOptions {
    /// fsync the write-ahead log on every acknowledged write.
    pub sync_writes: bool,
    /// Data writes (metadata, slivers) are refused while the store's file system has fewer
    /// free bytes than this ([`space`]); 0 turns the margin off.
    pub min_free_bytes: u64,
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
    /// Group commit of the write-ahead log ([`Storage::sync_wal`]).
    wal: WalSync,
    /// Free space, and whether data writes are taken ([`space`]).
    space: space::DiskSpace,
}

/// Counts writes and fsyncs of the write-ahead log, so that one fsync serves every write made
/// before it began.
#[derive(Default)]
struct WalSync {
    /// Writes acknowledged so far.
    written: std::sync::atomic::AtomicU64,
    /// Held while fsyncing; holds the count of writes the last fsync covered.
    synced: Mutex<u64>,
    /// fsyncs done.
    syncs: std::sync::atomic::AtomicU64,
}

impl Storage {
    /// Opens (or creates) the store at `path` for a network with `config`'s shard count.
    pub fn open(
        path: &Path,
        config: EncodingConfig,
        opts: StorageOptions,
    ) -> Result<Self, StorageError> {
        let db = DB::open_cf_descriptors(&tuning::db_options(path), path, tuning::families())?;
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
            wal: WalSync::default(),
            space: space::DiskSpace::new(path, opts.min_free_bytes),
        };
        let stats = schema::STATS.get(&st)?.unwrap_or_default();
        *st.stats.get_mut().expect("not shared yet") = stats;
        Ok(st)
    }

    /// The encoding configuration of the network.
    pub fn config(&self) -> &EncodingConfig {
        &self.config
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column families are created on open")
    }

    /// Writes `batch` through the write-ahead log (fsynced with `sync_writes`). A write RocksDB
    /// refuses for lack of space is [`StorageError::Full`].
    fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        self.space
            .after_write(self.db.write_opt(batch, &self.write))?;
        self.wal
            .written
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Ok(())
    }

    /// Makes every write acknowledged before this call durable (fsyncs the write-ahead log).
    /// Blocking. Concurrent callers share one fsync: a caller whose writes the running fsync
    /// already covers, or the next one will, does not start its own.
    pub fn sync_wal(&self) -> Result<(), StorageError> {
        use std::sync::atomic::Ordering;
        let mine = self.wal.written.load(Ordering::Acquire);
        let mut synced = self.wal.synced.lock().expect("wal lock");
        if *synced >= mine {
            return Ok(());
        }
        let covered = self.wal.written.load(Ordering::Acquire);
        self.db.flush_wal(true)?;
        self.wal.syncs.fetch_add(1, Ordering::Relaxed);
        *synced = covered;
        Ok(())
    }

    /// Whether the store takes data writes now, the free space and the writes refused so far
    /// (reads the file system's free space).
    pub fn space(&self) -> SpaceStatus {
        self.space.status()
    }

    /// Fails with [`StorageError::Full`] (and counts the refusal) if a data write would be
    /// refused now: callers check before doing work for a write.
    pub fn check_room(&self) -> Result<(), StorageError> {
        self.space.check_room()
    }

    /// fsyncs of the write-ahead log done by [`Storage::sync_wal`].
    pub fn wal_syncs(&self) -> u64 {
        self.wal.syncs.load(std::sync::atomic::Ordering::Relaxed)
    }
}
