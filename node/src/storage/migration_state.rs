//! What shard migration persists in the `node` family so that a restart resumes it: the epoch
//! whose `EpochSyncDone` the node already sent, and per gained shard and axis, the next blob id
//! to pull from the previous holder.

use floe_common::{BlobId, Epoch, ShardIndex, SliverAxis};

use super::schema::{SYNC_REPORTED, pull_cursor};
use super::{Storage, StorageError};

impl Storage {
    /// The epoch whose shard sync the node reported done (`None` before the first report).
    pub fn sync_reported(&self) -> Result<Option<Epoch>, StorageError> {
        SYNC_REPORTED.get(self)
    }

    /// Records that the node reported its shard sync of `epoch` done.
    pub fn set_sync_reported(&self, epoch: Epoch) -> Result<(), StorageError> {
        SYNC_REPORTED.store(self, &epoch)
    }

    /// Where the pull of `shard`'s slivers of `axis` stood: the epoch of that pull and the next
    /// blob id to ask for.
    pub fn pull_cursor(
        &self,
        shard: ShardIndex,
        axis: SliverAxis,
    ) -> Result<Option<(Epoch, BlobId)>, StorageError> {
        pull_cursor(shard, axis).get(self)
    }

    /// Records where the pull of `shard`'s slivers of `axis` in `epoch` stands.
    pub fn set_pull_cursor(
        &self,
        shard: ShardIndex,
        axis: SliverAxis,
        epoch: Epoch,
        next: BlobId,
    ) -> Result<(), StorageError> {
        pull_cursor(shard, axis).store(self, &(epoch, next))
    }
}
