//! Garbage collection: deletes the data (metadata and slivers) of blobs the node no longer has
//! to keep.
//!
//! Protocol rule: a blob's data is deleted when no live registration remains (every deletable
//! blob object was deleted, or none was ever registered), when the blob expired (its latest end
//! epoch is not after the current epoch), or when the ledger invalidated it. The blob state of
//! an invalidated blob is kept, so reads keep answering "invalid". The collector runs a pass
//! every [`GC_INTERVAL`] and at each epoch change; each deletion is one atomic batch.

use std::sync::Arc;
use std::time::Duration;

use floe_common::BlobId;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::service::NodeCore;
use crate::storage::StorageError;

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
                    Metrics::add(&m.gc_blobs_deleted, 1);
                    Metrics::add(&m.gc_bytes_deleted, freed);
                    tracing::info!(blob_id = %id, reason = ?why, freed, "blob data collected");
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE => start = next_id(last),
                _ => return Ok(deleted),
            }
        }
    }

    /// Runs passes until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) {
        let mut epoch = self.core.epoch();
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
            match tokio::task::spawn_blocking(move || collector.pass()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "garbage collection failed"),
                Err(e) => tracing::error!(error = %e, "garbage collection task failed"),
            }
        }
    }
}

/// The id after `id` in key order.
fn next_id(id: &BlobId) -> BlobId {
    let mut b = id.0;
    for byte in b.iter_mut().rev() {
        let (v, carry) = byte.overflowing_add(1);
        *byte = v;
        if !carry {
            break;
        }
    }
    BlobId(b)
}
