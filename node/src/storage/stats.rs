//! Exact counts of what the node stores, kept in the `node` family and updated in the same
//! write batch as the data they count, so they stay exact across crashes.

use std::sync::MutexGuard;

use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};

use super::schema::STATS;
use super::{Storage, StorageError};

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

/// The counts while a data write is prepared; holding it serialises data writes, so the
/// counts are updated read-modify-write exactly.
pub(super) type StatsGuard<'a> = MutexGuard<'a, StorageStats>;

impl Storage {
    /// What is stored.
    pub fn stats(&self) -> StorageStats {
        *self.lock_stats()
    }

    pub(super) fn lock_stats(&self) -> StatsGuard<'_> {
        // The guarded value is plain data updated after a successful write; a panic elsewhere
        // cannot leave it half updated.
        self.stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes `batch` with the updated `stats` in the same batch.
    pub(super) fn write_counted(
        &self,
        mut batch: WriteBatch,
        guard: &mut StatsGuard<'_>,
        stats: StorageStats,
    ) -> Result<(), StorageError> {
        STATS.put(self, &mut batch, &stats);
        self.write(batch)?;
        **guard = stats;
        Ok(())
    }
}
