//! The state every task of a node shares ([`NodeCore`]): its key, store, ledger view, committees
//! and metrics, and the checks the protocol rules are built from (is a blob writable, which
//! pairs does the node hold, which of its slivers are missing). The protocol answers are in
//! [`crate::service`]; blob sync, migration, GC and the HTTP endpoint use the same core.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use floe_common::{
    BlobId, EncodingConfig, Epoch, KeyPair, NodeId, ShardIndex, SliverAxis, SliverPairIndex,
    VerifiedBlobMetadata,
};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::blob_state::BlobState;
use crate::committee::{CommitteeView, Committees};
use crate::metrics::{Gauges, Metrics};
use crate::protocol::{HealthResponse, NodeError, NodeResult};
use crate::service::{LongPollLimits, LongPolls};
use crate::storage::{LedgerTip, Storage, StorageError};

impl From<StorageError> for NodeError {
    fn from(e: StorageError) -> Self {
        match e {
            // Logged by the store when it starts refusing; a refusal per request is expected.
            StorageError::Full {
                available,
                min_free,
            } => NodeError::StorageFull {
                available_bytes: available,
                min_free_bytes: min_free,
            },
            e => {
                tracing::error!(error = %e, "storage failure");
                NodeError::Internal(format!("storage: {e}"))
            }
        }
    }
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(join_error)`
pub(crate) fn join_error(e: tokio::task::JoinError) -> NodeError {
    NodeError::Internal(format!("task failed: {e}"))
}

/// Everything the node's tasks share.
pub struct NodeCore {
    /// The network's chain id, signed into every message the node signs.
    pub(crate) chain_id: String,
    pub(crate) key: KeyPair,
    pub(crate) node_id: NodeId,
    pub(crate) storage: Arc<Storage>,
    pub(crate) config: EncodingConfig,
    pub(crate) tip: watch::Receiver<LedgerTip>,
    committee: watch::Receiver<Arc<Committees>>,
    stored: watch::Sender<u64>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) max_confirmation_wait: Duration,
    /// Places of confirmation long polls.
    pub(crate) long_polls: LongPolls,
    /// Blobs in the sync queue (maintained by blob sync).
    pub recovering: AtomicU64,
}

impl NodeCore {
    /// The shared state of a node.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        chain_id: String,
        key: KeyPair,
        storage: Arc<Storage>,
        tip: watch::Receiver<LedgerTip>,
        committee: watch::Receiver<Arc<Committees>>,
        metrics: Arc<Metrics>,
        max_confirmation_wait: Duration,
        long_polls: LongPollLimits,
    ) -> Self {
        let config = *storage.config();
        NodeCore {
            chain_id,
            node_id: floe_ledger_types::node_id_of(&key.public()),
            key,
            storage,
            config,
            tip,
            committee,
            stored: watch::Sender::new(0),
            metrics,
            max_confirmation_wait,
            long_polls: LongPolls::new(long_polls),
            recovering: AtomicU64::new(0),
        }
    }

    /// The network's chain id (from the genesis).
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// The node's id.
    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// The node's key.
    pub fn key(&self) -> &KeyPair {
        &self.key
    }

    /// The store.
    pub fn storage(&self) -> &Arc<Storage> {
        &self.storage
    }

    /// The encoding configuration.
    pub fn config(&self) -> &EncodingConfig {
        &self.config
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The current committee.
    pub fn committee(&self) -> Arc<CommitteeView> {
        self.committee.borrow().current.clone()
    }

    /// The previous committee while the change to the current one syncs shards.
    pub fn previous_committee(&self) -> Option<Arc<CommitteeView>> {
        self.committee.borrow().previous.clone()
    }

    /// The current and (while syncing) previous committees.
    pub fn committees(&self) -> Arc<Committees> {
        self.committee.borrow().clone()
    }

    /// A receiver of committee changes.
    pub fn committee_watch(&self) -> watch::Receiver<Arc<Committees>> {
        self.committee.clone()
    }

    /// A receiver of ledger progress.
    pub fn tip_watch(&self) -> watch::Receiver<LedgerTip> {
        self.tip.clone()
    }

    /// The current epoch: the ledger's, as of the last applied block.
    pub fn epoch(&self) -> Epoch {
        self.tip.borrow().epoch
    }

    /// The shards this node holds in the current committee.
    pub fn shards(&self) -> Vec<ShardIndex> {
        self.committee()
            .member(&self.node_id)
            .map(|m| m.shards.clone())
            .unwrap_or_default()
    }

    /// The shards this node serves: those it holds, and while a change syncs, those it held
    /// in the previous committee (their slivers stay until the ledger's `SyncDone`).
    pub fn served_shards(&self) -> BTreeSet<ShardIndex> {
        let c = self.committees();
        let mut shards: BTreeSet<ShardIndex> = c
            .current
            .member(&self.node_id)
            .map(|m| m.shards.iter().copied().collect())
            .unwrap_or_default();
        if let Some(m) = c.previous.as_ref().and_then(|p| p.member(&self.node_id)) {
            shards.extend(m.shards.iter().copied());
        }
        shards
    }

    /// The sliver pairs of `blob_id` on this node's shards.
    pub fn own_pairs(&self, blob_id: &BlobId) -> Vec<SliverPairIndex> {
        let c = self.committee();
        c.member(&self.node_id)
            .map(|m| c.pairs_on(blob_id, &m.shards))
            .unwrap_or_default()
    }

    /// The slivers of `blob_id` this node should hold but does not, as (pair, axis).
    pub fn missing_slivers(
        &self,
        blob_id: &BlobId,
    ) -> Result<Vec<(SliverPairIndex, SliverAxis)>, StorageError> {
        self.missing_of(blob_id, &self.own_pairs(blob_id))
    }

    /// The slivers of `pairs` of `blob_id` not stored, as (pair, axis).
    pub(crate) fn missing_of(
        &self,
        blob_id: &BlobId,
        pairs: &[SliverPairIndex],
    ) -> Result<Vec<(SliverPairIndex, SliverAxis)>, StorageError> {
        let mut missing = Vec::new();
        for &pair in pairs {
            for axis in [SliverAxis::Secondary, SliverAxis::Primary] {
                if !self.storage.has_sliver(blob_id, pair, axis)? {
                    missing.push((pair, axis));
                }
            }
        }
        Ok(missing)
    }

    /// Records that slivers were stored (wakes confirmation long-polls).
    pub fn notify_stored(&self) {
        self.stored.send_modify(|g| *g += 1);
    }

    /// The blob's state if it may be written: registered, unexpired, valid.
    pub fn writable(&self, blob_id: &BlobId) -> NodeResult<BlobState> {
        let state = self
            .storage
            .blob_state(blob_id)?
            .ok_or(NodeError::NotRegistered(*blob_id))?;
        if state.invalid {
            return Err(NodeError::Invalid(*blob_id));
        }
        if state.registered_deletable + state.registered_permanent == 0 {
            return Err(NodeError::NotRegistered(*blob_id));
        }
        if state.end_epoch <= self.epoch() {
            return Err(NodeError::Expired {
                blob_id: *blob_id,
                end_epoch: state.end_epoch,
            });
        }
        Ok(state)
    }

    /// Fails with [`NodeError::Invalid`] if the blob was invalidated.
    pub(crate) fn not_invalid(&self, blob_id: &BlobId) -> NodeResult<()> {
        match self.storage.blob_state(blob_id)? {
            Some(s) if s.invalid => Err(NodeError::Invalid(*blob_id)),
            _ => Ok(()),
        }
    }

    /// Retries `check` whenever the ledger view or the store changes, until it returns
    /// something other than a "not yet" error or `wait` passes.
    pub(crate) async fn wait_until<T>(
        &self,
        wait: Duration,
        mut check: impl FnMut() -> NodeResult<T>,
        retry: impl Fn(&NodeError) -> bool,
    ) -> NodeResult<T> {
        let deadline = Instant::now() + wait;
        let mut tip = self.tip.clone();
        let mut stored = self.stored.subscribe();
        loop {
            tip.borrow_and_update();
            stored.borrow_and_update();
            match check() {
                Err(e) if retry(&e) && Instant::now() < deadline => {}
                other => return other,
            }
            tokio::select! {
                r = tip.changed() => if r.is_err() { tokio::time::sleep_until(deadline).await },
                _ = stored.changed() => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    pub(crate) fn verified_metadata(&self, blob_id: &BlobId) -> NodeResult<VerifiedBlobMetadata> {
        let md = self
            .storage
            .metadata(blob_id)?
            .ok_or(NodeError::MetadataMissing(*blob_id))?;
        md.verify(*blob_id, &self.config)
            .map_err(|e| NodeError::Internal(format!("stored metadata: {e}")))
    }

    /// The node's health.
    pub fn health(&self) -> HealthResponse {
        let stats = self.storage.stats();
        HealthResponse {
            node_id: self.node_id,
            epoch: self.epoch(),
            ledger_height: self.tip.borrow().height,
            shards: self.shards(),
            stored_bytes: stats.bytes,
            slivers_stored: stats.slivers,
            recovering: self.recovering.load(Ordering::Relaxed),
        }
    }

    /// The gauges for `/metrics`.
    pub fn gauges(&self) -> Gauges {
        Gauges {
            stored: self.storage.stats(),
            ledger_height: self.tip.borrow().height,
            epoch: self.epoch().0,
            shards: self.shards().len() as u64,
            recovering: self.recovering.load(Ordering::Relaxed),
            wal_syncs: self.storage.wal_syncs(),
            space: self.storage.space(),
            long_polls: self.long_polls.waiting() as u64,
        }
    }
}
