//! Shard migration: at an epoch change, a node that gains shards pulls their slivers from the
//! previous holders, falls back to recovery from the committee when a holder is down or lies,
//! and reports `EpochSyncDone` to the ledger once it holds every gained shard.
//!
//! Protocol (both sides):
//!
//! * **Trigger.** The ledger's verified `EpochChanged { epoch, moves, previous_epoch }` event
//!   ([`crate::follower`] persists it as [`EpochRecord`]). A move `{shard, from, to}` with
//!   `to == self` is a gained shard; `from` is a member of committee `previous_epoch`.
//! * **Pull** (`/floe/sync-shard/1`). For each gained shard and each axis, the node sends
//!   [`SyncShardRequest`]`{shard, axis, start, count}` signed with its key for `epoch`, and
//!   walks the pages ([`SyncShardResponse::next`]) in blob id order. Each sliver is checked
//!   against the blob's metadata (stored, or fetched and checked against the blob id) before it
//!   is written; the cursor is persisted after each page so a restart resumes.
//! * **Serve.** A node answers only a member of its current committee that holds the shard, on
//!   a request signed by that member's key for the node's current epoch, and only for a shard
//!   it held in the previous committee while the change syncs or hands over (until every
//!   gaining node reported, or the next epoch). It serves the slivers it
//!   stores for live (registered, unexpired, valid) blobs, at most
//!   [`MAX_SYNC_SHARD_BLOBS`] blobs and about [`SYNC_SHARD_PAGE_BYTES`] per page.
//! * **Fallback.** If the holder cannot be reached after [`PULL_ATTEMPTS`] tries, refuses, or
//!   serves a sliver that does not verify, the pull stops. Then (and after every pull) the node
//!   lists the live certified blobs whose slivers of gained shards it still lacks and queues
//!   them for blob sync ([`crate::sync`]), which rebuilds them from the committee's recovery
//!   symbols. Nothing certified depends on the previous holder being alive or honest.
//! * **Report.** When no live certified blob lacks a gained shard's sliver, the node submits
//!   `EpochSyncDone { epoch }` from its account. A node that gains nothing reports nothing (the
//!   ledger counts it at once). When a quorum of shards is counted, the ledger's `SyncDone`
//!   moves reads to the new committee. That can come before every gainer is done (e.g. when
//!   the members that gained nothing already are a quorum), so the worker migrates whenever an
//!   epoch moved shards to it, not only while the ledger syncs; a report after `SyncDone` is
//!   recorded as a late `ShardsSynced`. A previous holder keeps the shards it hands over until
//!   every gainer's report is on the ledger (or the next epoch begins); then garbage collection
//!   deletes them ([`crate::gc`]).
//!
//! If the sync is still unfinished at the next boundary the ledger re-issues the moves with the
//! next epoch; the worker then starts over for that epoch (already stored slivers are skipped
//! by the completeness check, not downloaded again).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use floe_common::messages::{ProtocolMessage, SignedMessage, SyncShardRequest};
use floe_common::{BlobId, NodeId, ShardIndex, SliverAxis, VerifiedBlobMetadata};
use floe_ledger_types::{TxError, TxKind};
use floe_runtime::retry::{Backoff, Retryable as _};
use libp2p::PeerId;
use tokio_util::sync::CancellationToken;

use crate::committee::{CommitteeView, Member};
use crate::core::NodeCore;
use crate::ledger_tx::{LedgerTxError, NodeAccount};
use crate::p2p::{CallError, P2p};
use crate::protocol::{
    MAX_SYNC_SHARD_BLOBS, NodeError, NodeResult, SYNC_SHARD_PAGE_BYTES, ShardSliver,
    SignedSyncShard, SyncRefusal, SyncShardResponse,
};
use crate::storage::{EpochRecord, Storage, StorageError, next_blob_id};

/// Blobs asked for per page.
const PAGE_BLOBS: u64 = 64;
/// Tries of one page before the pull falls back to recovery.
pub const PULL_ATTEMPTS: u32 = 4;
/// First wait between tries of a page.
const PULL_BACKOFF: Duration = Duration::from_millis(250);
/// Retries of one page: [`PULL_ATTEMPTS`] tries in all, from [`PULL_BACKOFF`], jittered.
const PULL_RETRY: Backoff =
    Backoff::new(PULL_BACKOFF, Duration::from_secs(4)).times(PULL_ATTEMPTS as usize - 1);
/// How often progress is rechecked while waiting for recovery or for the committee views.
const RECHECK: Duration = Duration::from_millis(500);
/// Longest wait before a failed migration is tried again.
const MIGRATION_RETRY_MAX: Duration = Duration::from_secs(10);
/// Retries of a failed migration: from [`RECHECK`], doubling, jittered, up to
/// [`MIGRATION_RETRY_MAX`].
const MIGRATION_RETRY: Backoff = Backoff::new(RECHECK, MIGRATION_RETRY_MAX);
/// Blob states scanned per step of a serve or a completeness check.
const SCAN: usize = 1024;
/// Most blob states one served page scans (bounds a request's work).
const MAX_SCAN_PER_PAGE: usize = 16 * 1024;

/// Shard migration failed for now (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The ledger moved to another epoch; the worker starts over for it.
    #[error("epoch {0} is no longer the one syncing")]
    Superseded(floe_common::Epoch),
    /// `EpochSyncDone` could not be committed.
    #[error("reporting the sync: {0}")]
    Report(#[from] LedgerTxError),
    /// The worker was cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// Why a shard pull stopped before the end.
#[derive(Debug, thiserror::Error)]
enum PullError {
    #[error("holder unreachable or refusing: {0}")]
    Call(#[from] CallError),
    #[error("holder served a bad page: {0}")]
    Lied(#[from] BadPage),
    #[error("sliver verification task: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("holder {0} is not in the previous committee")]
    UnknownHolder(NodeId),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Migration(#[from] MigrationError),
}

/// What was wrong with a page a previous holder served.
#[derive(Debug, thiserror::Error)]
enum BadPage {
    #[error("cursor {next} does not advance past {cursor}")]
    CursorStuck { next: BlobId, cursor: BlobId },
    #[error("slivers out of order")]
    OutOfOrder,
    #[error("a sliver past the next cursor")]
    PastCursor,
    #[error("{axis} sliver {index} is not shard {shard}'s of blob {blob_id}")]
    WrongSliver {
        axis: SliverAxis,
        index: floe_common::SliverIndex,
        shard: ShardIndex,
        blob_id: BlobId,
    },
    #[error("sliver of blob {blob_id} does not verify: {source}")]
    Unverified {
        blob_id: BlobId,
        source: floe_common::encoding::SliverError,
    },
}

/// The migration worker of one node.
pub struct ShardMigration {
    core: Arc<NodeCore>,
    p2p: P2p,
    account: NodeAccount,
}

impl ShardMigration {
    /// A worker for `core`, pulling through `p2p` and reporting through `account`.
    pub fn new(core: Arc<NodeCore>, p2p: P2p, account: NodeAccount) -> Self {
        ShardMigration { core, p2p, account }
    }

    /// Runs until `cancel` fires: migrates the gained shards of every epoch change the node
    /// follows.
    pub async fn run(self, cancel: CancellationToken) {
        let mut tip = self.core.tip_watch();
        let mut delays = MIGRATION_RETRY.delays();
        loop {
            let t = *tip.borrow_and_update();
            // Not only while the ledger syncs: its `SyncDone` needs just a quorum (members that
            // gain nothing count at once), and every gained shard must still arrive.
            let record = match self.core.storage().epoch_record() {
                Ok(r) => r.filter(|r| r.epoch == t.epoch),
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the epoch record");
                    None
                }
            };
            let reported = self.core.storage().sync_reported().ok().flatten();
            let mut wait = RECHECK * 4;
            if let Some(record) = record.filter(|r| reported < Some(r.epoch)) {
                let result = tokio::select! {
                    _ = cancel.cancelled() => return,
                    r = self.migrate(&record) => r,
                };
                match result {
                    Ok(()) => delays.reset(),
                    Err(MigrationError::Superseded(_)) => continue,
                    Err(MigrationError::Cancelled) => return,
                    Err(e) => {
                        wait = delays.next_delay().unwrap_or(MIGRATION_RETRY_MAX);
                        tracing::warn!(epoch = %record.epoch, error = %e, retry_in = ?wait, "shard migration failed");
                    }
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = tip.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn check_current(&self, record: &EpochRecord) -> Result<(), MigrationError> {
        if self.core.epoch() != record.epoch {
            return Err(MigrationError::Superseded(record.epoch));
        }
        Ok(())
    }

    /// Migrates the shards `record` moves to this node, makes sure every shard it holds is
    /// complete, and reports the gained ones synced.
    async fn migrate(&self, record: &EpochRecord) -> Result<(), MigrationError> {
        let me = self.core.node_id();
        let gained: Vec<(ShardIndex, NodeId)> = record
            .moves
            .iter()
            .filter(|m| m.to == me)
            .map(|m| (m.shard, m.from))
            .collect();
        if !gained.is_empty() {
            tracing::info!(epoch = %record.epoch, shards = gained.len(), "syncing gained shards");
            let previous = self.committees_for(record).await?;
            let shards: Vec<ShardIndex> = gained.iter().map(|(s, _)| *s).collect();
            let incomplete = self.incomplete_shards(&shards)?;
            let mut unreachable: BTreeSet<NodeId> = BTreeSet::new();
            for (shard, from) in &gained {
                if !incomplete.contains(shard) {
                    continue;
                }
                if unreachable.contains(from) {
                    self.core.metrics().shard_sync_fallbacks.inc();
                    continue;
                }
                match self.pull_shard(record, &previous, *shard, *from).await {
                    Ok(n) => {
                        tracing::info!(shard = %shard, slivers = n, "shard pulled from its previous holder");
                    }
                    Err(PullError::Migration(e)) => return Err(e),
                    Err(e) => {
                        self.core.metrics().shard_sync_fallbacks.inc();
                        tracing::warn!(shard = %shard, from = %from, error = %e, "shard pull failed; recovering from the committee");
                        unreachable.insert(*from);
                    }
                }
            }
        }
        // Whatever is still missing of any shard this node holds (gained now, or in an earlier
        // change whose sync was cut short by the next epoch) is recovered by blob sync.
        loop {
            self.check_current(record)?;
            let shards = self.core.shards();
            let missing = self.blobs_missing(&shards)?;
            if missing.is_empty() {
                break;
            }
            tracing::debug!(blobs = missing.len(), "shards held: blobs left to recover");
            self.core.storage().add_pending(&missing)?;
            tokio::time::sleep(RECHECK).await;
        }
        if gained.is_empty() {
            self.core.storage().set_sync_reported(record.epoch)?;
            return Ok(());
        }
        self.report(record).await
    }

    /// Waits until the node's committee views are those of `record` (current and previous);
    /// returns the previous one.
    async fn committees_for(
        &self,
        record: &EpochRecord,
    ) -> Result<Arc<CommitteeView>, MigrationError> {
        loop {
            self.check_current(record)?;
            let c = self.core.committees();
            if c.current.epoch() == record.epoch
                && let Some(p) = c
                    .previous
                    .as_ref()
                    .filter(|p| p.epoch() == record.previous_epoch)
            {
                return Ok(p.clone());
            }
            tokio::time::sleep(RECHECK / 5).await;
        }
    }

    /// Reports the epoch's sync to the ledger (a rejection meaning "nothing more to report" is
    /// success).
    async fn report(&self, record: &EpochRecord) -> Result<(), MigrationError> {
        let kind = TxKind::EpochSyncDone {
            epoch: record.epoch,
        };
        match self.account.submit(self.core.key(), kind).await {
            Ok(height) => {
                self.core.metrics().epoch_syncs_reported.inc();
                tracing::info!(epoch = %record.epoch, height, "gained shards synced; reported");
            }
            Err(LedgerTxError::Rejected(
                e @ (TxError::AlreadySynced(_) | TxError::NotSyncing { .. }),
            )) => {
                tracing::info!(epoch = %record.epoch, reason = %e, "sync needs no report");
            }
            Err(LedgerTxError::Rejected(TxError::WrongEpoch { .. })) => {
                return Err(MigrationError::Superseded(record.epoch));
            }
            Err(e) => return Err(e.into()),
        }
        self.core.storage().set_sync_reported(record.epoch)?;
        Ok(())
    }

    /// The shards of `shards` some live certified blob lacks a sliver of.
    fn incomplete_shards(
        &self,
        shards: &[ShardIndex],
    ) -> Result<BTreeSet<ShardIndex>, StorageError> {
        let mut out = BTreeSet::new();
        scan_live_certified(self.core.storage(), self.core.epoch(), |id| {
            for s in shards {
                if !out.contains(s) && !has_shard_slivers(self.core.storage(), id, *s)? {
                    out.insert(*s);
                }
            }
            Ok(out.len() < shards.len())
        })?;
        Ok(out)
    }

    /// The live certified blobs lacking a sliver of one of `shards`.
    fn blobs_missing(&self, shards: &[ShardIndex]) -> Result<Vec<BlobId>, StorageError> {
        let mut out = Vec::new();
        if shards.is_empty() {
            return Ok(out);
        }
        scan_live_certified(self.core.storage(), self.core.epoch(), |id| {
            for s in shards {
                if !has_shard_slivers(self.core.storage(), id, *s)? {
                    out.push(*id);
                    break;
                }
            }
            Ok(true)
        })?;
        Ok(out)
    }

    /// Pulls both axes of `shard` from its previous holder; returns the slivers stored.
    async fn pull_shard(
        &self,
        record: &EpochRecord,
        previous: &CommitteeView,
        shard: ShardIndex,
        from: NodeId,
    ) -> Result<u64, PullError> {
        let holder = previous
            .member(&from)
            .ok_or(PullError::UnknownHolder(from))?;
        let mut stored = 0;
        for axis in [SliverAxis::Primary, SliverAxis::Secondary] {
            let mut cursor = match self.core.storage().pull_cursor(shard, axis)? {
                Some((e, c)) if e == record.epoch => c,
                _ => BlobId([0; 32]),
            };
            loop {
                self.check_current(record)?;
                let page = self.fetch_page(record, holder, shard, axis, cursor).await?;
                stored += self.store_page(holder, shard, axis, cursor, &page).await?;
                match page.next {
                    None => break,
                    Some(next) if next > cursor => {
                        cursor = next;
                        self.core
                            .storage()
                            .set_pull_cursor(shard, axis, record.epoch, cursor)?;
                    }
                    Some(next) => {
                        return Err(BadPage::CursorStuck { next, cursor }.into());
                    }
                }
            }
        }
        Ok(stored)
    }

    async fn fetch_page(
        &self,
        record: &EpochRecord,
        holder: &Member,
        shard: ShardIndex,
        axis: SliverAxis,
        start: BlobId,
    ) -> Result<SyncShardResponse, PullError> {
        let request = SyncShardRequest {
            shard,
            axis,
            start,
            count: PAGE_BLOBS,
        };
        let signed = SignedMessage::sign(
            self.core.key(),
            &ProtocolMessage::new(self.core.chain_id(), record.epoch, request),
        );
        let page = (|| {
            self.p2p
                .sync_shard(holder.peer_id, holder.addrs.clone(), signed.clone())
        })
        .retry(PULL_RETRY.builder())
        .sleep(tokio::time::sleep)
        .notify(|e, wait| {
            tracing::debug!(peer = %holder.name, shard = %shard, error = %e, retry_in = ?wait, "shard page failed; retrying");
        })
        .await?;
        Ok(page)
    }

    /// Verifies and stores one page; returns the slivers newly stored.
    async fn store_page(
        &self,
        holder: &Member,
        shard: ShardIndex,
        axis: SliverAxis,
        start: BlobId,
        page: &SyncShardResponse,
    ) -> Result<u64, PullError> {
        let config = *self.core.config();
        let n = config.n_shards();
        let mut last: Option<BlobId> = None;
        let mut stored = 0;
        for ShardSliver { blob_id, sliver } in &page.slivers {
            if *blob_id < start || last.is_some_and(|l| l >= *blob_id) {
                return Err(BadPage::OutOfOrder.into());
            }
            if page.next.is_some_and(|next| next <= *blob_id) {
                return Err(BadPage::PastCursor.into());
            }
            last = Some(*blob_id);
            let pair = shard.to_pair(blob_id.rotation(n), n);
            if sliver.axis != axis || sliver.index != pair.sliver_index(axis, n) {
                return Err(BadPage::WrongSliver {
                    axis: sliver.axis,
                    index: sliver.index,
                    shard,
                    blob_id: *blob_id,
                }
                .into());
            }
            // Only blobs this node's ledger view says are alive; a blob it does not know yet
            // comes through blob sync once certified.
            if self.core.writable(blob_id).is_err()
                || self.core.storage().has_sliver(blob_id, pair, axis)?
            {
                continue;
            }
            let Some(metadata) = self.metadata(holder, blob_id).await? else {
                continue;
            };
            let sliver = sliver.clone();
            let checked = tokio::task::spawn_blocking(move || {
                sliver.verify(&config, &metadata).map(|()| sliver)
            })
            .await?;
            let sliver = checked.map_err(|source| BadPage::Unverified {
                blob_id: *blob_id,
                source,
            })?;
            self.core.storage().put_sliver(blob_id, pair, &sliver)?;
            stored += 1;
            let m = self.core.metrics();
            m.shard_slivers_received.inc();
            m.shard_bytes_received.inc_by(sliver.data.len() as u64);
        }
        if stored > 0 {
            self.core.notify_stored();
        }
        Ok(stored)
    }

    /// The blob's verified metadata: stored, or fetched from `holder` (then any other member
    /// of the current committee) and checked against the blob id.
    async fn metadata(
        &self,
        holder: &Member,
        blob_id: &BlobId,
    ) -> Result<Option<VerifiedBlobMetadata>, PullError> {
        let config = *self.core.config();
        if let Some(md) = self.core.storage().metadata(blob_id)? {
            return Ok(md.verify(*blob_id, &config).ok());
        }
        let committee = self.core.committee();
        let others = committee
            .members()
            .iter()
            .filter(|m| m.node_id != self.core.node_id() && m.node_id != holder.node_id);
        for m in std::iter::once(holder).chain(others) {
            let Ok(md) = self
                .p2p
                .get_metadata(m.peer_id, m.addrs.clone(), *blob_id)
                .await
            else {
                continue;
            };
            if let Ok(v) = md.clone().verify(*blob_id, &config) {
                self.core.storage().put_metadata(blob_id, &md)?;
                return Ok(Some(v));
            }
        }
        Ok(None)
    }
}

/// Whether both slivers of `shard`'s pair of `id` are stored.
fn has_shard_slivers(
    storage: &Storage,
    id: &BlobId,
    shard: ShardIndex,
) -> Result<bool, StorageError> {
    let n = storage.config().n_shards();
    let pair = shard.to_pair(id.rotation(n), n);
    Ok(storage.has_sliver(id, pair, SliverAxis::Primary)?
        && storage.has_sliver(id, pair, SliverAxis::Secondary)?)
}

/// Calls `f` with every live (valid, registered, unexpired at `epoch`) certified blob, in id
/// order, until it returns `false`.
fn scan_live_certified(
    storage: &Storage,
    epoch: floe_common::Epoch,
    mut f: impl FnMut(&BlobId) -> Result<bool, StorageError>,
) -> Result<(), StorageError> {
    let mut start = BlobId([0; 32]);
    loop {
        let page = storage.blob_states(&start, SCAN)?;
        for (id, state) in &page {
            if state.is_certified() && !state.invalid && state.end_epoch > epoch && !f(id)? {
                return Ok(());
            }
        }
        match page.last().and_then(|(last, _)| next_blob_id(last)) {
            Some(next) if page.len() == SCAN => start = next,
            _ => return Ok(()),
        }
    }
}

/// Answers a shard-sync request (the serving side; see the module docs for the rules).
pub async fn serve(
    core: &Arc<NodeCore>,
    peer: PeerId,
    signed: SignedSyncShard,
) -> NodeResult<SyncShardResponse> {
    let refuse = |r: SyncRefusal| Err(NodeError::NotSyncing(r));
    let committees = core.committees();
    let Some(requester) = committees.current.member_by_peer(&peer) else {
        return refuse(SyncRefusal::NotAMember);
    };
    let msg = match signed.verify(&requester.public_key) {
        Ok(msg) => msg,
        Err(e) => return refuse(SyncRefusal::BadSignature(e.to_string())),
    };
    if msg.chain != core.chain_id() {
        return refuse(SyncRefusal::WrongChain(msg.chain));
    }
    let epoch = core.epoch();
    if msg.epoch != epoch {
        return refuse(SyncRefusal::WrongEpoch {
            requested: msg.epoch,
            current: epoch,
        });
    }
    let req = msg.body;
    if usize::from(req.shard.0) >= core.config().n() {
        return Err(NodeError::BadRequest(format!(
            "shard {} out of range",
            req.shard
        )));
    }
    if !committees.current.holds(&requester.node_id, req.shard) {
        return refuse(SyncRefusal::RequesterLacksShard(req.shard));
    }
    let held = committees
        .previous
        .as_ref()
        .is_some_and(|p| p.holds(&core.node_id(), req.shard));
    if !held {
        return refuse(SyncRefusal::NotPreviousHolder(req.shard));
    }
    let count = req.count.clamp(1, MAX_SYNC_SHARD_BLOBS) as usize;
    let storage = core.storage().clone();
    tokio::task::spawn_blocking(move || page(&storage, epoch, &req, count))
        .await
        .map_err(|e| NodeError::Internal(format!("task failed: {e}")))?
        .map_err(NodeError::from)
}

/// One page of `req.shard`'s slivers on `req.axis`, from `req.start` on.
fn page(
    storage: &Storage,
    epoch: floe_common::Epoch,
    req: &SyncShardRequest,
    count: usize,
) -> Result<SyncShardResponse, StorageError> {
    let n = storage.config().n_shards();
    let mut slivers = Vec::new();
    let mut bytes = 0;
    let mut scanned = 0;
    let mut start = req.start;
    loop {
        let states = storage.blob_states(&start, SCAN)?;
        for (id, state) in &states {
            if slivers.len() >= count || scanned >= MAX_SCAN_PER_PAGE {
                return Ok(SyncShardResponse {
                    slivers,
                    next: Some(*id),
                });
            }
            scanned += 1;
            let live = !state.invalid
                && state.registered_deletable + state.registered_permanent > 0
                && state.end_epoch > epoch;
            if !live {
                continue;
            }
            let pair = req.shard.to_pair(id.rotation(n), n);
            let Some(sliver) = storage.sliver(id, pair, req.axis)? else {
                continue;
            };
            if !slivers.is_empty() && bytes + sliver.data.len() > SYNC_SHARD_PAGE_BYTES {
                return Ok(SyncShardResponse {
                    slivers,
                    next: Some(*id),
                });
            }
            bytes += sliver.data.len();
            slivers.push(ShardSliver {
                blob_id: *id,
                sliver,
            });
        }
        match states.last().and_then(|(last, _)| next_blob_id(last)) {
            Some(next) if states.len() == SCAN => start = next,
            _ => {
                return Ok(SyncShardResponse {
                    slivers,
                    next: None,
                });
            }
        }
    }
}
