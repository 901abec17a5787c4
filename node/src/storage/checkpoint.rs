//! Backups of a live store: RocksDB checkpoints, and opening one to inspect it.
//!
//! A checkpoint ([`Storage::checkpoint`]) is a consistent copy of the store at one moment,
//! taken while the node runs: RocksDB flushes its write buffers, then hard-links the table and
//! blob files into the new directory (copies them when it is on another file system) and
//! copies the manifest and the write-ahead log it still needs. A follower block is one write
//! batch, so a checkpoint's ledger cursor always agrees with its blob states and sync queue.
//!
//! [`Storage::open_read_only`] opens a store (a checkpoint, or a stopped node's) without taking
//! its lock and without writing anything, to read its ledger cursor before a restore.

use std::path::Path;

use floe_common::EncodingConfig;
use rocksdb::{DB, Options};

use super::{Storage, StorageError, StorageOptions, WalSync, space, tuning};

impl Storage {
    /// Writes a checkpoint of the store to `dir`, which must not exist (its parent must).
    /// Blocking: it flushes the write buffers first.
    pub fn checkpoint(&self, dir: &Path) -> Result<(), StorageError> {
        let checkpoint = rocksdb::checkpoint::Checkpoint::new(&self.db)?;
        checkpoint.create_checkpoint(dir)?;
        tracing::info!(dir = %dir.display(), "store checkpoint written");
        Ok(())
    }

    /// Opens the store at `path` read-only: no lock is taken and nothing is written (its
    /// write-ahead log is replayed in memory). Every write through it fails.
    pub fn open_read_only(path: &Path, config: EncodingConfig) -> Result<Self, StorageError> {
        let db = DB::open_cf_descriptors_read_only(
            &Options::default(),
            path,
            tuning::families(),
            false,
        )?;
        let mut read = rocksdb::ReadOptions::default();
        read.fill_cache(false);
        let mut st = Self {
            db,
            config,
            write: rocksdb::WriteOptions::default(),
            read,
            stats: std::sync::Mutex::new(Default::default()),
            wal: WalSync::default(),
            // Never written through, so the margin is never consulted.
            space: space::DiskSpace::new(path, StorageOptions::default().min_free_bytes),
        };
        let stats = super::schema::STATS.get(&st)?.unwrap_or_default();
        *st.stats.get_mut().expect("not shared yet") = stats;
        Ok(st)
    }
}
