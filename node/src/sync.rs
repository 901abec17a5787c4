//! Blob sync: a node rebuilds the slivers it should hold but lacks, from its peers' recovery
//! symbols, never by downloading the blob.
//!
//! Every certified blob enters the durable sync queue (the store's `pending` family) in the same
//! batch as the block that certified it. [`BlobSync`] works through the queue with at most
//! `max_concurrent_blobs` blobs at once; a blob leaves the queue only when every sliver of the
//! node's shards is stored (or the blob is deleted, expired or invalid), so a restart redoes
//! whatever was in flight. A blob certified less than `grace_ms` ago is left alone: its writer
//! is probably still uploading to this node. Failures are retried with capped exponential
//! backoff.
//!
//! Recovering the slivers of one blob:
//!
//! 1. Metadata: the stored copy, or fetched from peers and checked against the blob id.
//! 2. Secondary slivers first, then primary: a target sliver on one axis is decoded from one
//!    symbol of `k` distinct slivers on the other axis (`k = n-2f` for secondary, `n-f` for
//!    primary). The node asks exactly `k` sources' holders for symbols of every target at once,
//!    **without Merkle proofs**, and checks each rebuilt sliver's hash against the metadata —
//!    as strong a check as the proofs, and the common path then downloads one symbol per needed
//!    source per target: about one sliver pair per pair recovered, plus the metadata.
//! 3. If a rebuilt sliver does not match (a helper lied, or the writer encoded inconsistently),
//!    the node asks every holder again, with proofs, and runs the proven recovery: bad symbols
//!    are dropped by their proofs; if the proven symbols rebuild a sliver that still does not
//!    match the metadata, the blob is inconsistent and the symbols are the proof.
//! 4. Inconsistent blob: the node attests it, collects invalid-blob attestations from peers
//!    (each verifies the proof) until validity weight (`> n/3`), and submits the invalidation
//!    to the ledger. Once the ledger's event arrives, garbage collection drops the data and reads
//!    answer "invalid".

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use floe_common::encoding::recover_sliver;
use floe_common::messages::InvalidBlobIdMsg;
use floe_common::{
    BlobId, CertificateBuilder, EncodingConfig, InconsistencyProof, RecoveryOutcome,
    RecoverySymbol, Sliver, SliverAxis, SliverExpander, SliverIndex, Threshold,
    VerifiedBlobMetadata,
};
use floe_ledger_types::TxKind;
use floe_runtime::{Backoff, Delays};
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use rand::seq::SliceRandom as _;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::committee::{CommitteeView, Member};
use crate::config::RecoveryConfig;
use crate::core::NodeCore;
use crate::ledger_tx::{LedgerTxError, NodeAccount};
use crate::metrics::Metrics;
use crate::p2p::{CallError, P2p};
use crate::protocol::{
    InconsistencyRequest, MAX_RECOVERY_SYMBOLS_PER_N, NodeError, RecoveryRequest,
};
use crate::storage::StorageError;

/// Most queued blobs looked at per scan.
const SCAN_PAGE: usize = 4096;
/// How often the queue is rescanned when nothing else happens.
const RESCAN: Duration = Duration::from_millis(500);

/// Recovering a blob failed (it is retried later).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// No peer served metadata matching the blob id.
    #[error("no peer served the metadata of blob {0}")]
    NoMetadata(BlobId),
    /// Too few helpers answered with usable symbols.
    #[error("{axis} recovery: {have} of {needed} sources answered")]
    NotEnoughSymbols {
        /// Target axis.
        axis: SliverAxis,
        /// Sources needed.
        needed: usize,
        /// Sources that answered.
        have: usize,
    },
    /// Decoding failed.
    #[error("recovery: {0}")]
    Recovery(#[from] floe_common::RecoveryError),
    /// A decoding task panicked or was cancelled.
    #[error("recovery task: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The blob is inconsistent, but the invalidation could not be completed yet.
    #[error("invalidation of blob {blob_id}: {reason}")]
    Invalidation {
        /// The blob.
        blob_id: BlobId,
        /// Why.
        #[source]
        reason: InvalidationError,
    },
}

/// Why an invalidation could not be completed (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum InvalidationError {
    /// This node would not attest the proof it built.
    #[error("own attestation: {0}")]
    OwnAttestation(#[source] NodeError),
    /// An attestation does not fit the committee.
    #[error("attestation: {0}")]
    Attestation(#[from] floe_common::CertificateError),
    /// Too few shards attested.
    #[error("only {weight} of {n_shards} shards attested")]
    TooFewAttestations {
        /// Shards that attested.
        weight: u32,
        /// Shards in all.
        n_shards: u16,
    },
    /// The invalidation transaction did not commit.
    #[error(transparent)]
    Ledger(#[from] LedgerTxError),
}

/// What became of a queued blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOutcome {
    /// Every sliver is stored (recovered or already there); the blob left the queue.
    Complete {
        /// Slivers rebuilt now.
        recovered: usize,
    },
    /// Nothing to do any more (deleted, expired, invalid, not certified); left the queue.
    Dropped,
    /// Found inconsistent and the invalidation was submitted; stays queued until the ledger's
    /// event makes it invalid.
    Invalidated,
    /// Not yet: inside the grace period.
    Waiting,
}

/// The blob-sync worker.
pub struct BlobSync {
    inner: Arc<Inner>,
    config: RecoveryConfig,
}

struct Inner {
    core: Arc<NodeCore>,
    p2p: P2p,
    account: NodeAccount,
}

impl BlobSync {
    /// A worker for `core`, asking peers through `p2p`, submitting invalidations through
    /// `account`.
    pub fn new(
        core: Arc<NodeCore>,
        p2p: P2p,
        account: NodeAccount,
        config: RecoveryConfig,
    ) -> Self {
        BlobSync {
            inner: Arc::new(Inner { core, p2p, account }),
            config,
        }
    }

    /// Works through the sync queue until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) {
        if !self.config.enabled {
            tracing::warn!("sliver recovery is off: this node does not rebuild what it lacks");
            cancel.cancelled().await;
            return;
        }
        let core = self.inner.core.clone();
        let mut tip = core.tip_watch();
        let grace = Duration::from_millis(self.config.grace_ms);
        let mut first_seen: HashMap<BlobId, Instant> = HashMap::new();
        let mut retry: HashMap<BlobId, Retry> = HashMap::new();
        // The blob of each running task, so a task that panics still leaves `in_flight`.
        let mut in_flight: HashMap<tokio::task::Id, BlobId> = HashMap::new();
        let mut tasks: JoinSet<(BlobId, Result<SyncOutcome, SyncError>)> = JoinSet::new();
        loop {
            let queued = match core.storage().pending_blobs(&BlobId([0; 32]), SCAN_PAGE) {
                Ok(q) => q,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the sync queue");
                    Vec::new()
                }
            };
            core.recovering
                .store(queued.len() as u64, Ordering::Relaxed);
            let now = Instant::now();
            let running: HashSet<BlobId> = in_flight.values().copied().collect();
            first_seen.retain(|id, _| queued.binary_search(id).is_ok() || running.contains(id));
            for id in queued {
                if tasks.len() >= self.config.max_concurrent_blobs.max(1) {
                    break;
                }
                let seen = *first_seen.entry(id).or_insert(now);
                let due = retry.get(&id).is_none_or(|r| r.at <= now);
                if running.contains(&id) || !due {
                    continue;
                }
                let wait_grace = now < seen + grace;
                let inner = self.inner.clone();
                let task = tasks.spawn(async move { (id, inner.sync_blob(id, wait_grace).await) });
                in_flight.insert(task.id(), id);
            }
            tokio::select! {
                _ = cancel.cancelled() => {
                    tasks.shutdown().await;
                    return;
                }
                Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    let (task, result) = match done {
                        Ok((task, (_, result))) => (task, result),
                        Err(e) => (e.id(), Err(SyncError::Task(e))),
                    };
                    if let Some(id) = in_flight.remove(&task) {
                        self.finished(id, result, &mut retry);
                    }
                }
                r = tip.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(RESCAN) => {}
            }
        }
    }

    fn finished(
        &self,
        id: BlobId,
        result: Result<SyncOutcome, SyncError>,
        retry: &mut HashMap<BlobId, Retry>,
    ) {
        let max = Duration::from_millis(self.config.max_backoff_ms);
        let policy = Backoff::new(Duration::from_millis(self.config.initial_backoff_ms), max);
        match result {
            Ok(SyncOutcome::Waiting) => {}
            Ok(SyncOutcome::Complete { recovered }) => {
                if recovered > 0 {
                    tracing::info!(blob_id = %id, recovered, "blob slivers recovered");
                }
                retry.remove(&id);
            }
            Ok(SyncOutcome::Dropped) => {
                retry.remove(&id);
            }
            Ok(SyncOutcome::Invalidated) => {
                retry.insert(
                    id,
                    Retry {
                        at: Instant::now() + max,
                        delays: policy.delays(),
                    },
                );
            }
            Err(e) => {
                self.inner.core.metrics().recovery_failures.inc();
                let r = retry.entry(id).or_insert_with(|| Retry {
                    at: Instant::now(),
                    delays: policy.delays(),
                });
                let wait = r.delays.next_delay().unwrap_or(max);
                r.at = Instant::now() + wait;
                tracing::warn!(blob_id = %id, error = %e, retry_in = ?wait, "blob recovery failed");
            }
        }
    }
}

/// The sources of a recovery: own slivers, and per member position its source indices.
#[derive(Default)]
struct Sources {
    local: Vec<Sliver>,
    remote: BTreeMap<usize, Vec<SliverIndex>>,
}

/// When a queued blob is tried again, and the delays of its failures so far.
struct Retry {
    at: Instant,
    delays: Delays,
}

/// Symbols collected for a set of targets: per source, one symbol per target (target order).
type Collected = BTreeMap<SliverIndex, Vec<Vec<u8>>>;

impl Inner {
    fn metrics(&self) -> &Metrics {
        self.core.metrics()
    }

    async fn sync_blob(&self, id: BlobId, in_grace: bool) -> Result<SyncOutcome, SyncError> {
        let storage = self.core.storage();
        let state = storage.blob_state(&id)?;
        let live = state
            .as_ref()
            .is_some_and(|s| !s.invalid && s.is_certified() && s.end_epoch > self.core.epoch());
        if !live {
            storage.remove_pending(&id)?;
            return Ok(SyncOutcome::Dropped);
        }
        let missing = self.core.missing_slivers(&id)?;
        if missing.is_empty() {
            storage.remove_pending(&id)?;
            return Ok(SyncOutcome::Complete { recovered: 0 });
        }
        if in_grace {
            return Ok(SyncOutcome::Waiting);
        }
        tracing::debug!(blob_id = %id, missing = missing.len(), "recovering slivers");
        let started = Instant::now();
        let metadata = self.metadata(&id).await?;
        let n = self.core.config().n_shards();
        let mut recovered = 0;
        for axis in [SliverAxis::Secondary, SliverAxis::Primary] {
            let targets: Vec<SliverIndex> = missing
                .iter()
                .filter(|(_, a)| *a == axis)
                .map(|(p, _)| p.sliver_index(axis, n))
                .collect();
            if targets.is_empty() {
                continue;
            }
            match self.recover_axis(&id, &metadata, axis, &targets).await? {
                Recovered::Slivers(slivers) => {
                    for sliver in slivers {
                        let pair = sliver.index.to_pair(axis, n);
                        storage.put_sliver(&id, pair, &sliver)?;
                        recovered += 1;
                        self.metrics().slivers_recovered.inc();
                    }
                    self.core.notify_stored();
                }
                Recovered::Inconsistent(proof) => {
                    self.invalidate(&id, proof).await?;
                    return Ok(SyncOutcome::Invalidated);
                }
            }
        }
        storage.remove_pending(&id)?;
        self.metrics().blobs_recovered.inc();
        self.metrics()
            .blob_sync_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok(SyncOutcome::Complete { recovered })
    }

    /// The blob's metadata: stored, or fetched from peers in random order and verified.
    async fn metadata(&self, id: &BlobId) -> Result<VerifiedBlobMetadata, SyncError> {
        let config = *self.core.config();
        if let Some(md) = self.core.storage().metadata(id)? {
            return md
                .verify(*id, &config)
                .map_err(|_| SyncError::NoMetadata(*id));
        }
        let committee = self.core.committee();
        let mut peers: Vec<&Member> = self.peers(&committee).collect();
        peers.shuffle(&mut rand::thread_rng());
        for m in peers {
            match self.p2p.get_metadata(m.peer_id, m.addrs.clone(), *id).await {
                Ok(md) => {
                    let size = bcs::serialized_size(&md).unwrap_or(0) as u64;
                    self.metrics().recovery_bytes_received.inc_by(size);
                    match md.clone().verify(*id, &config) {
                        Ok(v) => {
                            self.core.storage().put_metadata(id, &md)?;
                            return Ok(v);
                        }
                        Err(e) => {
                            tracing::warn!(peer = %m.name, blob_id = %id, error = %e, "peer served wrong metadata");
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(peer = %m.name, blob_id = %id, error = %e, "metadata request failed")
                }
            }
        }
        Err(SyncError::NoMetadata(*id))
    }

    fn peers<'c>(&self, committee: &'c CommitteeView) -> impl Iterator<Item = &'c Member> {
        let me = self.core.node_id();
        committee.members().iter().filter(move |m| m.node_id != me)
    }

    /// Rebuilds `targets` on `axis`: optimistic (no proofs) first, proven for what fails.
    async fn recover_axis(
        &self,
        id: &BlobId,
        metadata: &VerifiedBlobMetadata,
        axis: SliverAxis,
        targets: &[SliverIndex],
    ) -> Result<Recovered, SyncError> {
        let config = *self.core.config();
        let committee = self.core.committee();
        let sources = self.sources(&committee, id, axis)?;
        let collected = self
            .collect_unproven(&committee, id, axis, targets, &sources)
            .await?;
        let metadata_c = metadata.clone();
        let targets_c = targets.to_vec();
        let (done, failed) = tokio::task::spawn_blocking(move || {
            decode_unproven(&config, &metadata_c, axis, &targets_c, &collected)
        })
        .await?;
        if failed.is_empty() {
            return Ok(Recovered::Slivers(done));
        }
        tracing::warn!(blob_id = %id, %axis, failed = failed.len(), "optimistic recovery did not match the metadata; retrying with proofs");
        self.recover_proven(&committee, id, metadata, axis, &failed, &sources, done)
            .await
    }

    /// Where the symbols for `axis` come from: this node's own slivers of the other axis, and
    /// per committee member (by position) the source slivers it holds.
    fn sources(
        &self,
        committee: &CommitteeView,
        id: &BlobId,
        axis: SliverAxis,
    ) -> Result<Sources, SyncError> {
        let source_axis = axis.other();
        let n = self.core.config().n_shards();
        let mut sources = Sources::default();
        for j in 0..n {
            let source = SliverIndex(j);
            let pair = source.to_pair(source_axis, n);
            let Some(holder) = committee.pair_holder(id, pair) else {
                continue;
            };
            if holder.node_id == self.core.node_id() {
                if let Some(s) = self.core.storage().sliver(id, pair, source_axis)? {
                    sources.local.push(s);
                }
            } else if let Some(i) = committee
                .members()
                .iter()
                .position(|m| m.node_id == holder.node_id)
            {
                sources.remote.entry(i).or_default().push(source);
            }
        }
        // More own slivers than decoding needs are never used.
        sources
            .local
            .truncate(self.core.config().recovery_symbols_needed(axis));
        Ok(sources)
    }

    /// The optimistic path: symbols without proofs from exactly as many sources as decoding
    /// needs (own slivers first, then holders in random order, more only if some fail).
    async fn collect_unproven(
        &self,
        committee: &CommitteeView,
        id: &BlobId,
        axis: SliverAxis,
        targets: &[SliverIndex],
        sources: &Sources,
    ) -> Result<Collected, SyncError> {
        let config = *self.core.config();
        let needed = config.recovery_symbols_needed(axis);
        let mut collected: Collected = Collected::new();
        for sliver in &sources.local {
            if let Some(symbols) = expand_targets(&config, sliver, targets) {
                collected.insert(sliver.index, symbols);
            }
        }
        let mut unused: Vec<usize> = sources.remote.keys().copied().collect();
        unused.shuffle(&mut rand::thread_rng());
        while collected.len() < needed {
            let mut plan = Vec::new();
            let mut planned = 0;
            while collected.len() + planned < needed {
                let Some(h) = unused.pop() else { break };
                let mut from = sources.remote[&h].clone();
                from.truncate(needed - collected.len() - planned);
                planned += from.len();
                plan.push((h, from));
            }
            if plan.is_empty() {
                return Err(SyncError::NotEnoughSymbols {
                    axis,
                    needed,
                    have: collected.len(),
                });
            }
            let answers = plan.into_iter().map(|(h, from)| {
                let m = &committee.members()[h];
                self.fetch_symbols(id, m, axis, targets, from)
            });
            for answer in futures::future::join_all(answers).await {
                for (source, symbols) in answer {
                    collected.entry(source).or_insert(symbols);
                }
            }
        }
        Ok(collected)
    }

    /// The proven path for the targets the optimistic path could not rebuild: every holder,
    /// every source, with proofs; bad symbols fall out, and a target that still decodes to the
    /// wrong sliver proves the blob inconsistent.
    #[allow(clippy::too_many_arguments)]
    async fn recover_proven(
        &self,
        committee: &CommitteeView,
        id: &BlobId,
        metadata: &VerifiedBlobMetadata,
        axis: SliverAxis,
        failed: &[SliverIndex],
        sources: &Sources,
        mut done: Vec<Sliver>,
    ) -> Result<Recovered, SyncError> {
        let config = *self.core.config();
        let mut proven: Vec<Vec<RecoverySymbol>> = vec![Vec::new(); failed.len()];
        for sliver in &sources.local {
            let mut e = SliverExpander::new(config, sliver.symbol_size);
            if let Ok(syms) = floe_common::encoding::recovery_symbols(&mut e, sliver, failed) {
                for (pos, sym) in syms.into_iter().enumerate() {
                    proven[pos].push(sym);
                }
            }
        }
        let answers = sources.remote.iter().map(|(h, from)| {
            let m = &committee.members()[*h];
            self.fetch_proven(id, m, axis, failed, from.clone())
        });
        for answer in futures::future::join_all(answers).await {
            for (pos, syms) in answer.into_iter().enumerate() {
                proven[pos].extend(syms);
            }
        }
        for (pos, target) in failed.iter().enumerate() {
            let symbols = std::mem::take(&mut proven[pos]);
            match recover_sliver(&config, metadata, axis, *target, symbols)? {
                RecoveryOutcome::Recovered(sliver) => done.push(sliver),
                RecoveryOutcome::Inconsistent(proof) => return Ok(Recovered::Inconsistent(proof)),
            }
        }
        Ok(Recovered::Slivers(done))
    }

    /// Asks holder `m` for symbols of `sources` for every target, without proofs (split into
    /// requests within the protocol's symbol cap). Returns, per source that answered completely
    /// and well-formed, its symbols in target order. A malformed answer discards that request's
    /// symbols.
    async fn fetch_symbols(
        &self,
        id: &BlobId,
        m: &Member,
        axis: SliverAxis,
        targets: &[SliverIndex],
        sources: Vec<SliverIndex>,
    ) -> Vec<(SliverIndex, Vec<Vec<u8>>)> {
        let mut out = Vec::new();
        for (sources, reply) in self.ask(id, m, axis, targets, sources, false).await {
            let Some(reply) = reply else { continue };
            let mut per_source: BTreeMap<SliverIndex, Vec<Option<Vec<u8>>>> = sources
                .iter()
                .map(|s| (*s, vec![None; targets.len()]))
                .collect();
            for sym in reply {
                let (Some(slots), Some(pos)) = (
                    per_source.get_mut(&sym.source),
                    targets.iter().position(|t| *t == sym.target),
                ) else {
                    continue;
                };
                slots[pos] = Some(sym.data);
            }
            for (source, slots) in per_source {
                if let Some(symbols) = slots.into_iter().collect::<Option<Vec<_>>>() {
                    out.push((source, symbols));
                }
            }
        }
        out
    }

    /// Like [`Self::fetch_symbols`] with proofs: per target position, the helper's symbols.
    async fn fetch_proven(
        &self,
        id: &BlobId,
        m: &Member,
        axis: SliverAxis,
        targets: &[SliverIndex],
        sources: Vec<SliverIndex>,
    ) -> Vec<Vec<RecoverySymbol>> {
        let mut out = vec![Vec::new(); targets.len()];
        for (_, reply) in self.ask(id, m, axis, targets, sources, true).await {
            for sym in reply.into_iter().flatten() {
                let (Some(proof), Some(pos)) =
                    (sym.proof, targets.iter().position(|t| *t == sym.target))
                else {
                    continue;
                };
                out[pos].push(RecoverySymbol {
                    source_axis: axis.other(),
                    source_index: sym.source,
                    target_index: sym.target,
                    data: sym.data,
                    proof,
                });
            }
        }
        out
    }

    /// Sends the recovery requests to `m` (sources split to respect the per-request cap).
    async fn ask(
        &self,
        id: &BlobId,
        m: &Member,
        axis: SliverAxis,
        targets: &[SliverIndex],
        sources: Vec<SliverIndex>,
        proofs: bool,
    ) -> Vec<(Vec<SliverIndex>, Option<Vec<crate::protocol::WireSymbol>>)> {
        let cap = MAX_RECOVERY_SYMBOLS_PER_N * self.core.config().n();
        let per_request = (cap / targets.len().max(1)).max(1);
        let mut out = Vec::new();
        for chunk in sources.chunks(per_request) {
            let req = RecoveryRequest {
                blob_id: *id,
                target_axis: axis,
                targets: targets.to_vec(),
                sources: chunk.to_vec(),
                proofs,
            };
            let reply = match self.p2p.recovery(m.peer_id, m.addrs.clone(), req).await {
                Ok(resp) => {
                    let size = bcs::serialized_size(&resp).unwrap_or(0) as u64;
                    self.metrics().recovery_bytes_received.inc_by(size);
                    Some(resp.symbols)
                }
                Err(e) => {
                    log_call_error(&m.name, id, &e);
                    None
                }
            };
            out.push((chunk.to_vec(), reply));
        }
        out
    }

    /// Attests the inconsistency, gathers attestations to validity weight and submits the
    /// invalidation.
    async fn invalidate(&self, id: &BlobId, proof: InconsistencyProof) -> Result<(), SyncError> {
        let fail = |reason: InvalidationError| SyncError::Invalidation {
            blob_id: *id,
            reason,
        };
        self.metrics().inconsistencies_found.inc();
        tracing::warn!(blob_id = %id, target = %proof.target_index, axis = %proof.target_axis, "blob is inconsistently encoded; invalidating");
        let committee = self.core.committee();
        let mut builder = CertificateBuilder::<InvalidBlobIdMsg>::new(
            committee.committee(),
            self.core.chain_id(),
        );
        let req = InconsistencyRequest {
            blob_id: *id,
            proof,
        };
        let own = self
            .core
            .inconsistency(req.clone())
            .await
            .map_err(|e| fail(InvalidationError::OwnAttestation(e)))?;
        if let Some(i) = committee.committee().index_of(&self.core.node_id()) {
            builder.add(i, &own).map_err(|e| fail(e.into()))?;
        }
        let mut asks: FuturesUnordered<_> = committee
            .members()
            .iter()
            .enumerate()
            .filter(|(_, m)| m.node_id != self.core.node_id())
            .map(|(i, m)| {
                let req = req.clone();
                async move {
                    (
                        i,
                        m,
                        self.p2p
                            .inconsistency(m.peer_id, m.addrs.clone(), req)
                            .await,
                    )
                }
            })
            .collect();
        while !builder.reached(Threshold::Validity) {
            let Some((i, m, answer)) = asks.next().await else {
                break;
            };
            match answer {
                Ok(signed) => {
                    if let Err(e) = builder.add(i, &signed) {
                        tracing::warn!(peer = %m.name, error = %e, "bad invalid-blob attestation");
                    }
                }
                Err(e) => log_call_error(&m.name, id, &e),
            }
        }
        drop(asks);
        let too_few = InvalidationError::TooFewAttestations {
            weight: builder.weight(),
            n_shards: committee.n_shards(),
        };
        if !builder.reached(Threshold::Validity) {
            return Err(fail(too_few));
        }
        let certificate = builder.finish().ok_or_else(|| fail(too_few))?;
        let kind = TxKind::InvalidateBlob {
            blob_id: *id,
            certificate,
        };
        let height = self
            .account
            .submit(self.core.key(), kind)
            .await
            .map_err(|e| fail(e.into()))?;
        tracing::info!(blob_id = %id, height, "invalidation committed");
        Ok(())
    }
}

fn log_call_error(peer: &str, id: &BlobId, e: &CallError) {
    tracing::debug!(peer, blob_id = %id, error = %e, "recovery request failed");
}

enum Recovered {
    Slivers(Vec<Sliver>),
    Inconsistent(InconsistencyProof),
}

/// The symbols of a local source sliver for every target.
fn expand_targets(
    config: &EncodingConfig,
    sliver: &Sliver,
    targets: &[SliverIndex],
) -> Option<Vec<Vec<u8>>> {
    let mut e = SliverExpander::new(*config, sliver.symbol_size);
    let s = e.symbol_size();
    let expanded = e.expand(sliver.axis, &sliver.data).ok()?;
    Some(
        targets
            .iter()
            .map(|t| expanded[t.as_usize() * s..(t.as_usize() + 1) * s].to_vec())
            .collect(),
    )
}

/// Rebuilds each target from the collected (unproven) symbols; returns the slivers that match
/// the metadata and the targets that did not.
fn decode_unproven(
    config: &EncodingConfig,
    metadata: &VerifiedBlobMetadata,
    axis: SliverAxis,
    targets: &[SliverIndex],
    collected: &Collected,
) -> (Vec<Sliver>, Vec<SliverIndex>) {
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for (pos, target) in targets.iter().enumerate() {
        let symbols: Vec<(SliverIndex, &[u8])> = collected
            .iter()
            .filter_map(|(src, syms)| syms.get(pos).map(|d| (*src, d.as_slice())))
            .collect();
        match floe_common::encoding::recover_unproven(config, metadata, axis, *target, &symbols) {
            Ok(Some(sliver)) => done.push(sliver),
            _ => failed.push(*target),
        }
    }
    (done, failed)
}
