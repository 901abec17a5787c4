//! Garbage collection: deletes the data (metadata and slivers) of blobs the node no longer has
//! to keep.
//!
//! Protocol rule: a blob's data is deleted when no live registration remains (every deletable
//! blob object was deleted, or none was ever registered), when the blob expired (its latest end
//! epoch is not after the current epoch), or when the ledger invalidated it. The blob state of
//! an invalidated blob is kept, so reads keep answering "invalid". The collector runs a pass
//! every [`GC_INTERVAL`] and at each epoch change; each deletion is one atomic batch.
//!
//! Handed-over shards: once an epoch change's shard sync is done (the ledger's `SyncDone`, so
//! a quorum of the new committee holds its shards) and every node that gained a shard reported
//! it (`ShardsSynced`) — or the next epoch began — the node deletes its slivers of every sliver
//! pair that is not on a shard it holds in the current committee. Never while a sync or a
//! handover is pending (the previous holder serves the shard to its new holder and to readers
//! until then), and never with a committee view older than the ledger's epoch.

use std::sync::Arc;
use std::time::Duration;

use floe_common::{BlobId, Epoch};
use tokio_util::sync::CancellationToken;

use crate::core::NodeCore;
use crate::storage::{StorageError, next_blob_id};

/// Time between passes.
pub const GC_INTERVAL: Duration = Duration::from_secs(2);
/// Blobs looked at per page of a pass.
const PAGE: usize = 1024;

/// Why a blob's data is garbage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Garbage {
    /// No live registration.
    Unregistered,
    /// Expired.
    Expired,
    /// Invalidated.
    Invalid,
}

/// The collector.
pub struct Collector {
    core: Arc<NodeCore>,
}

impl Collector {
    /// A collector for `core`'s store.
    pub fn new(core: Arc<NodeCore>) -> Self {
        Collector { core }
    }

    /// Whether `id`'s data is garbage now.
    pub fn is_garbage(&self, id: &BlobId) -> Result<Option<Garbage>, StorageError> {
        let Some(state) = self.core.storage().blob_state(id)? else {
            return Ok(Some(Garbage::Unregistered));
        };
        Ok(if state.invalid {
            Some(Garbage::Invalid)
        } else if state.registered_deletable + state.registered_permanent == 0 {
            Some(Garbage::Unregistered)
        } else if state.end_epoch <= self.core.epoch() {
            Some(Garbage::Expired)
        } else {
            None
        })
    }

    /// One pass over every blob with data; returns how many were deleted.
    pub fn pass(&self) -> Result<usize, StorageError> {
        let storage = self.core.storage();
        let mut start = BlobId([0; 32]);
        let mut deleted = 0;
        loop {
            let page = storage.blobs_with_data(&start, PAGE)?;
            for id in &page {
                if let Some(why) = self.is_garbage(id)? {
                    let freed = storage.delete_blob(id)?;
                    deleted += 1;
                    let m = self.core.metrics();
                    m.gc_blobs_deleted.inc();
                    m.gc_bytes_deleted.inc_by(freed);
                    tracing::info!(blob_id = %id, reason = ?why, freed, "blob data collected");
                }
            }
            match page.last().and_then(next_blob_id) {
                Some(next) if page.len() == PAGE => start = next,
                _ => return Ok(deleted),
            }
        }
    }

    /// Deletes the slivers of shards handed over to other nodes, if the current epoch's sync is
    /// done and the committee view is current; returns the epoch swept, if it did.
    pub fn sweep_handed_over(&self) -> Result<Option<Epoch>, StorageError> {
        let tip = *self.core.tip_watch().borrow();
        let committee = self.core.committee();
        let handing_over = self
            .core
            .storage()
            .epoch_record()?
            .is_some_and(|r| r.epoch == tip.epoch && !r.handover_done());
        if tip.sync_pending || handing_over || committee.epoch() != tip.epoch {
            return Ok(None);
        }
        let storage = self.core.storage();
        let mut start = BlobId([0; 32]);
        let (mut slivers, mut bytes) = (0, 0);
        loop {
            let page = storage.blobs_with_data(&start, PAGE)?;
            for id in &page {
                let keep = self.core.own_pairs(id);
                let (s, b) = storage.delete_slivers_except(id, &keep)?;
                slivers += s;
                bytes += b;
            }
            match page.last().and_then(next_blob_id) {
                Some(next) if page.len() == PAGE => start = next,
                _ => break,
            }
        }
        if slivers > 0 {
            let m = self.core.metrics();
            m.handed_over_slivers_deleted.inc_by(slivers);
            m.gc_bytes_deleted.inc_by(bytes);
            tracing::info!(epoch = %tip.epoch, slivers, freed = bytes, "slivers of handed-over shards deleted");
        }
        Ok(Some(tip.epoch))
    }

    /// Runs passes until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) {
        let mut epoch = self.core.epoch();
        let mut swept: Option<Epoch> = None;
        let mut tip = self.core.tip_watch();
        let mut interval = tokio::time::interval(GC_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = interval.tick() => {}
                r = tip.changed() => {
                    if r.is_err() { return }
                    let now = self.core.epoch();
                    if now == epoch { continue }
                    epoch = now;
                }
            }
            let core = self.core.clone();
            let collector = Collector { core };
            let sweep = swept != Some(epoch);
            let work = move || {
                collector.pass()?;
                if sweep {
                    return collector.sweep_handed_over();
                }
                Ok(None)
            };
            match tokio::task::spawn_blocking(work).await {
                Ok(Ok(Some(e))) => swept = Some(e),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "garbage collection failed"),
                Err(e) => tracing::error!(error = %e, "garbage collection task failed"),
            }
        }
    }
}
