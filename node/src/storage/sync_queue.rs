//! The blob-sync queue (`pending`): certified blobs whose slivers the node still has to check
//! and recover. The follower adds a blob in the batch of the block that certified it; a blob
//! leaves the queue only once every sliver the node should hold is stored (or the blob is
//! gone), so recovery in flight at a crash is redone.

use floe_common::BlobId;
use rocksdb::WriteBatch;

use super::schema::PENDING;
use super::{Storage, StorageError};

impl Storage {
    /// Adds blobs to the sync queue (blob sync checks and recovers their slivers).
    pub fn add_pending(&self, ids: &[BlobId]) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        for id in ids {
            PENDING.put(self, &mut batch, id, &());
        }
        self.write(batch)
    }

    /// Blob ids in the sync queue, from `start` on, at most `limit`.
    pub fn pending_blobs(&self, start: &BlobId, limit: usize) -> Result<Vec<BlobId>, StorageError> {
        PENDING.keys(self, start, limit)
    }

    /// Removes a blob from the sync queue.
    pub fn remove_pending(&self, blob_id: &BlobId) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        PENDING.delete(self, &mut batch, blob_id);
        self.write(batch)
    }
}
