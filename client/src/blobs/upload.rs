//! The upload step of a store: slivers to every node, confirmations back, with bounded memory.
//!
//! Memory: the slivers of a blob are about 4.4× its size at 100 shards, but the writer never
//! holds them all. A sliver is produced when its request is about to be sent (systematic slivers
//! are copied out of the caller's buffer, parity slivers moved out of [`PreparedBlob`]) and
//! dropped when the node acknowledged it. The upload runs in phases:
//!
//! 1. every node's secondary slivers (their parity, ≈0.5× the blob, was computed with the blob
//!    id, and is freed as it is sent);
//! 2. then the primary slivers, one group of nodes (a fifth of the shards) at a time. Primary
//!    parity, the largest part (≈2× the blob), is computed for one group when its phase starts.
//!
//! Peak: the blob, then the larger of the secondary parity (≈0.5×) and a group's primary
//! parity (≈0.4×), and the slivers in flight (a budget of bytes,
//! [`UploadOptions::bytes_in_flight`]): about 2.6× the blob with the process itself. A
//! phase ends when its slivers were all sent, or when none was sent for [`GROUP_STALL`] (a hung
//! node must not hold back the others).
//!
//! Confirmations are collected to quorum weight, then the upload goes on for
//! [`UploadOptions::extra_time`] so most nodes get their slivers directly.
//!
//! The pieces: [`UploadPlan`] (who gets which pairs, in which group), [`Phases`] (opening
//! phases, computing a group's parity, noticing a stall), [`Confirmations`] (the certificate
//! and the reasons of the nodes that did not confirm), and [`UploadCtx::upload_to_node`] (one
//! node's metadata, slivers and confirmation).

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use floe_common::encoding::PreparedBlob;
use floe_common::messages::{ProtocolMessage, StorageConfirmation};
use floe_common::{
    BlobId, BlobMetadata, BlobPersistence, Certificate, CertificateBuilder, CertificateError,
    EncodedBlob, Epoch, NodeId, Sliver, SliverAxis, SliverIndex, SliverPairIndex, Threshold,
};
use floe_node_protocol::committee::{CommitteeView, Member};
use floe_node_protocol::p2p::{CallError, P2p};
use floe_node_protocol::protocol::{
    ConfirmationRequest, NodeError, PutSliverRequest, SignedConfirmation,
};
use floe_runtime::retry::{Backoff, Retryable as _};
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;

use super::progress::{ProgressHook, report};

/// Groups of nodes whose primary parity is computed and sent one after another: more groups
/// lower the peak memory (each holds 1/`GROUPS` of the primary parity, ≈2× the blob in all) at
/// the cost of one more pass of column expansions each.
const GROUPS: usize = 5;
/// A phase with no sliver sent for this long (a node that hangs) lets the next phase start.
const GROUP_STALL: Duration = Duration::from_secs(2);
/// How often a phase's progress is checked.
const STALL_CHECK: Duration = Duration::from_millis(250);
/// Retries of one call to a node: 100 ms doubling, jittered, four retries.
const CALL_RETRY: Backoff =
    Backoff::new(Duration::from_millis(100), Duration::from_secs(2)).times(4);
/// Retries of a call the node answered "not registered": 25 ms doubling to 500 ms, jittered,
/// for about 8 to 16 seconds in all. The answer is cheap and a node usually sees the
/// registration one block (a few hundred ms) after the writer, so the first retries come soon.
const REGISTRATION_RETRY: Backoff =
    Backoff::new(Duration::from_millis(25), Duration::from_millis(500)).times(20);
/// Times a confirmation signed for an earlier epoch is asked again.
const LAGGING_RETRIES: u32 = 10;
/// Wait before asking a lagging node again.
const LAGGING_WAIT: Duration = Duration::from_millis(250);

/// How an upload runs: the client's tuning and what the store asked for.
#[derive(Debug, Clone, Copy)]
pub struct UploadOptions<'a> {
    /// The network's chain id: confirmations must be signed for it.
    pub chain_id: &'a str,
    /// Sliver bytes in flight at once, over all nodes (at least one sliver).
    pub bytes_in_flight: usize,
    /// After quorum is reached, how long to keep uploading to the remaining nodes.
    pub extra_time: Duration,
    /// How long a node may wait for the registration or its slivers before refusing a
    /// confirmation.
    pub confirmation_wait: Duration,
    /// Nodes not uploaded to (they recover their slivers later).
    pub skip_nodes: &'a HashSet<NodeId>,
    /// Told about upload bytes (progress bars).
    pub progress: Option<&'a ProgressHook>,
}

/// Why one node did not confirm.
#[derive(Debug, thiserror::Error)]
pub enum NodeUploadError {
    /// A call to the node failed (a refusal or a transport failure).
    #[error(transparent)]
    Call(#[from] CallError),
    /// The node's confirmation does not verify against the committee.
    #[error("bad confirmation: {0}")]
    BadConfirmation(#[source] CertificateError),
}

impl NodeUploadError {
    /// The node's disk is full: it refuses new data now (and takes it again once space is
    /// freed), so it is not retried within this store; it recovers the blob's slivers from
    /// its peers later, like any node that missed an upload.
    pub fn is_storage_full(&self) -> bool {
        matches!(
            self,
            NodeUploadError::Call(CallError::Node(NodeError::StorageFull { .. }))
        )
    }
}

/// One node that did not confirm, and why.
#[derive(Debug)]
pub struct NodeFailure {
    /// The node's registered name.
    pub node: String,
    /// Why.
    pub error: NodeUploadError,
}

/// The reasons of the nodes that did not confirm, `name: reason; …`.
#[derive(Debug, Default)]
pub struct NodeFailures(pub Vec<NodeFailure>);

impl fmt::Display for NodeFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none reported");
        }
        for (i, failure) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", failure.node, failure.error)?;
        }
        Ok(())
    }
}

/// An upload failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Not enough nodes confirmed storage.
    #[error("only {weight} of the {quorum} shards needed confirmed storage; failures: {failures}")]
    NotEnoughConfirmations {
        /// Shards confirmed.
        weight: u32,
        /// Shards needed (quorum).
        quorum: u32,
        /// Per node, why it did not confirm.
        failures: NodeFailures,
    },
}

/// Where an upload's slivers come from.
pub(crate) enum SliverSource<'a> {
    /// Prepared with bounded memory (the normal path).
    Prepared(PreparedBlob<'a>),
    /// Fully encoded up front (for example a deliberately inconsistent encoding in tests).
    Encoded(Vec<[Option<Sliver>; 2]>),
}

impl SliverSource<'_> {
    pub(crate) fn encoded(e: EncodedBlob) -> Self {
        SliverSource::Encoded(
            e.pairs
                .into_iter()
                .map(|p| [Some(p.primary), Some(p.secondary)])
                .collect(),
        )
    }

    /// Makes the primary slivers of `pairs` available (computes parity not yet computed).
    fn prepare(&mut self, pairs: &[SliverPairIndex]) {
        if let SliverSource::Prepared(p) = self {
            let wanted: Vec<SliverIndex> = pairs.iter().map(|p| SliverIndex(p.0)).collect();
            p.compute_primary(&wanted);
        }
    }

    fn take(&mut self, pair: SliverPairIndex, axis: SliverAxis) -> Option<Sliver> {
        match self {
            SliverSource::Prepared(p) => p.take(pair, axis),
            SliverSource::Encoded(v) => v.get_mut(pair.as_usize())?[axis as usize].take(),
        }
    }
}

/// One node's share.
struct NodeUpload {
    /// The node's position in the committee (its signer index).
    index: usize,
    member: Member,
    pairs: Vec<SliverPairIndex>,
}

/// Who gets which pairs, grouped for the primary phases.
struct UploadPlan {
    /// Groups of about equal shard weight, in committee order.
    groups: Vec<Vec<NodeUpload>>,
    /// Bytes to send in all.
    total_bytes: u64,
}

impl UploadPlan {
    fn new(committee: &CommitteeView, blob_id: &BlobId, len: u64, skip: &HashSet<NodeId>) -> Self {
        let config = committee.encoding();
        let nodes: Vec<NodeUpload> = committee
            .members()
            .iter()
            .enumerate()
            .filter(|(_, m)| !skip.contains(&m.node_id))
            .map(|(index, m)| NodeUpload {
                index,
                member: m.clone(),
                pairs: committee.pairs_on(blob_id, &m.shards),
            })
            .collect();
        let pair_bytes = [SliverAxis::Primary, SliverAxis::Secondary]
            .into_iter()
            .map(|axis| config.sliver_size(axis, len).unwrap_or(0) as u64)
            .sum::<u64>();
        let total_bytes = nodes
            .iter()
            .map(|u| u.pairs.len() as u64 * pair_bytes)
            .sum();
        UploadPlan {
            groups: Self::group(nodes, committee.n_shards()),
            total_bytes,
        }
    }

    /// Splits the nodes into [`GROUPS`] groups of about equal shard weight.
    fn group(nodes: Vec<NodeUpload>, n_shards: u16) -> Vec<Vec<NodeUpload>> {
        let per_group = usize::from(n_shards).div_ceil(GROUPS);
        let mut out: Vec<Vec<NodeUpload>> = Vec::new();
        let mut weight = per_group; // start a new group at once
        for u in nodes {
            if weight >= per_group {
                out.push(Vec::new());
                weight = 0;
            }
            weight += u.pairs.len();
            out.last_mut().expect("just pushed").push(u);
        }
        out
    }
}

/// Counts a phase's nodes that still have slivers to send; notifies when none is left.
struct Phase {
    left: AtomicUsize,
    done: Notify,
    /// Slivers of the phase sent so far (progress, to detect a stalled phase).
    slivers: AtomicUsize,
}

impl Phase {
    fn new(nodes: usize) -> Arc<Self> {
        Arc::new(Phase {
            left: AtomicUsize::new(nodes),
            done: Notify::new(),
            slivers: AtomicUsize::new(0),
        })
    }

    fn finish_one(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one();
        }
    }

    /// Resolves once every node of the phase is done with it.
    async fn finished(&self) {
        if self.left.load(Ordering::Acquire) > 0 {
            self.done.notified().await;
        }
    }
}

/// Calls `finish_one` when dropped (however the node's part of the phase ends).
struct SentGuard(Arc<Phase>);

impl Drop for SentGuard {
    fn drop(&mut self) {
        self.0.finish_one();
    }
}

/// The upload's phases: phase 0 sends every node's secondary slivers; phase g ≥ 1 the primary
/// slivers of group g, whose parity is computed when the phase opens.
struct Phases<'s, 'a> {
    phases: Vec<Arc<Phase>>,
    /// The pairs of each group, to compute its primary parity.
    group_pairs: Vec<Vec<SliverPairIndex>>,
    source: &'s Mutex<SliverSource<'a>>,
    /// The phase whose slivers are being sent (`phases.len()` once all were opened).
    current: usize,
    opened: watch::Sender<usize>,
    /// Slivers of the current phase sent at the last check, and when that count last moved.
    progress: (usize, Instant),
}

impl<'s, 'a> Phases<'s, 'a> {
    fn new(groups: &[Vec<NodeUpload>], source: &'s Mutex<SliverSource<'a>>) -> Self {
        let mut phases = vec![Phase::new(groups.iter().map(Vec::len).sum())];
        phases.extend(groups.iter().map(|g| Phase::new(g.len())));
        Phases {
            phases,
            group_pairs: groups
                .iter()
                .map(|g| g.iter().flat_map(|u| u.pairs.iter().copied()).collect())
                .collect(),
            source,
            current: 0,
            opened: watch::channel(0).0,
            progress: (0, Instant::now()),
        }
    }

    /// What a node of group `g` holds: its guards for the secondary phase and its group's
    /// primary phase, and the gate that opens its primary phase.
    fn node_handles(&self, g: usize) -> ([SentGuard; 2], (watch::Receiver<usize>, usize)) {
        let guards = [
            SentGuard(self.phases[0].clone()),
            SentGuard(self.phases[g + 1].clone()),
        ];
        (guards, (self.opened.subscribe(), g + 1))
    }

    /// The phase being sent, if any is left.
    fn current(&self) -> Option<Arc<Phase>> {
        self.phases.get(self.current).cloned()
    }

    /// Opens the next phase: computes its group's primary parity, then lets its nodes send.
    fn open_next(&mut self) {
        self.current += 1;
        self.progress = (0, Instant::now());
        let Some(pairs) = self.group_pairs.get(self.current - 1) else {
            return;
        };
        let mut src = self
            .source
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        super::store::in_place(|| src.prepare(pairs));
        self.opened.send_replace(self.current);
    }

    /// Whether the current phase sent nothing for [`GROUP_STALL`] (a hung node).
    fn stalled(&mut self) -> bool {
        let sent = self
            .current()
            .map_or(0, |p| p.slivers.load(Ordering::Relaxed));
        if sent != self.progress.0 {
            self.progress = (sent, Instant::now());
            false
        } else {
            self.progress.1.elapsed() >= GROUP_STALL
        }
    }
}

/// The confirmations collected so far, and why the other nodes did not confirm.
struct Confirmations<'c> {
    builder: CertificateBuilder<'c, StorageConfirmation>,
    failures: Vec<NodeFailure>,
    n_shards: u16,
}

impl<'c> Confirmations<'c> {
    fn new(committee: &'c CommitteeView, chain: &str) -> Self {
        Confirmations {
            builder: CertificateBuilder::new(committee.committee(), chain),
            failures: Vec::new(),
            n_shards: committee.n_shards(),
        }
    }

    fn record(
        &mut self,
        index: usize,
        node: String,
        result: Result<SignedConfirmation, CallError>,
    ) {
        let error = match result {
            Ok(signed) => match self.builder.add(index, &signed) {
                Ok(_) => return,
                Err(e) => NodeUploadError::BadConfirmation(e),
            },
            Err(e) => NodeUploadError::Call(e),
        };
        self.failures.push(NodeFailure { node, error });
    }

    fn quorum(&self) -> bool {
        self.builder.reached(Threshold::Quorum)
    }

    /// The certificate and its weight, or why there is none.
    fn finish(self) -> Result<(Certificate, u32), UploadError> {
        let weight = self.builder.weight();
        match self.builder.finish() {
            Some(certificate) if Threshold::Quorum.reached(weight, self.n_shards) => {
                Ok((certificate, weight))
            }
            _ => Err(UploadError::NotEnoughConfirmations {
                weight,
                quorum: Threshold::Quorum.min_weight(self.n_shards),
                failures: NodeFailures(self.failures),
            }),
        }
    }
}

/// Uploads to every node; returns the certificate once quorum weight confirmed and the extra
/// upload time passed (or every node finished).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn upload(
    p2p: &P2p,
    committee: &CommitteeView,
    blob_id: BlobId,
    source: SliverSource<'_>,
    metadata: &BlobMetadata,
    persistence: BlobPersistence,
    opts: UploadOptions<'_>,
) -> Result<(Certificate, u32), UploadError> {
    let plan = UploadPlan::new(
        committee,
        &blob_id,
        metadata.unencoded_length,
        opts.skip_nodes,
    );
    report(opts.progress, |p| p.transfer(plan.total_bytes));

    let source = Mutex::new(source);
    let metadata = Arc::new(metadata.clone());
    // The budget in KiB permits; a sliver takes its size's worth, at most the whole budget.
    let budget = u32::try_from(opts.bytes_in_flight.div_ceil(1024).max(1)).unwrap_or(u32::MAX >> 4);
    let in_flight = Semaphore::new(budget as usize);
    let config = committee.encoding();
    let kib = |axis| {
        let bytes = config
            .sliver_size(axis, metadata.unencoded_length)
            .unwrap_or(0);
        u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, budget)
    };
    let sliver_kib = [kib(SliverAxis::Primary), kib(SliverAxis::Secondary)];
    let ctx = UploadCtx {
        p2p,
        blob_id,
        persistence,
        wait_ms: u32::try_from(opts.confirmation_wait.as_millis()).unwrap_or(u32::MAX),
        epoch: committee.epoch(),
        in_flight: &in_flight,
        sliver_kib,
        source: &source,
        progress: opts.progress,
    };
    let mut phases = Phases::new(&plan.groups, &source);
    let mut uploads = FuturesUnordered::new();
    for (g, group) in plan.groups.into_iter().enumerate() {
        for u in group {
            let (guards, gate) = phases.node_handles(g);
            let (md, ctx) = (metadata.clone(), ctx.clone());
            uploads.push(async move {
                let r = ctx.upload_to_node(&u, md, guards, gate).await;
                (u.index, u.member.name, r)
            });
        }
    }

    let mut confirmations = Confirmations::new(committee, opts.chain_id);
    let mut deadline: Option<Instant> = None;
    loop {
        let current = phases.current();
        let phase_done = async {
            match &current {
                Some(p) => p.finished().await,
                None => std::future::pending().await,
            }
        };
        let past_deadline = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            next = uploads.next() => {
                let Some((index, name, result)) = next else { break };
                confirmations.record(index, name, result);
                if deadline.is_none() && confirmations.quorum() {
                    deadline = Some(Instant::now() + opts.extra_time);
                }
            }
            () = phase_done => phases.open_next(),
            // A phase whose uploads stopped progressing (a hung node) must not hold back the
            // next ones.
            () = tokio::time::sleep(STALL_CHECK), if current.is_some() => {
                if phases.stalled() {
                    tracing::debug!(blob_id = %blob_id, phase = phases.current, "upload phase stalled; starting the next");
                    phases.open_next();
                }
            }
            () = past_deadline => break,
        }
    }
    confirmations.finish()
}

/// What every node's upload shares.
#[derive(Clone)]
struct UploadCtx<'a, 's> {
    p2p: &'a P2p,
    blob_id: BlobId,
    persistence: BlobPersistence,
    wait_ms: u32,
    /// The committee's epoch: confirmations must be signed for it.
    epoch: Epoch,
    in_flight: &'a Semaphore,
    /// Permits (KiB) a primary and a secondary sliver take of `in_flight`.
    sliver_kib: [u32; 2],
    source: &'a Mutex<SliverSource<'s>>,
    progress: Option<&'a ProgressHook>,
}

/// Retries a call ([`CALL_RETRY`]) on `busy` and transport failures, and on `shard not held` (a
/// node that has not applied the latest epoch change yet). Answers that the blob (or its
/// persistence) is not registered are retried too, with [`REGISTRATION_RETRY`]: a node applies a
/// block once the next one is certified, so it may see a registration a block after the writer
/// did, and it answers at once instead of waiting. Other refusals, such as `storage_full` (a
/// node whose disk is full), end that node's part of the upload at once.
async fn retry<T, F, Fut>(mut call: F) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CallError>>,
{
    let mut registration = REGISTRATION_RETRY.delays();
    loop {
        let result = (&mut call)
            .retry(CALL_RETRY.builder())
            .sleep(tokio::time::sleep)
            .when(|e| {
                matches!(
                    e,
                    CallError::Node(NodeError::Busy | NodeError::ShardNotHeld { .. })
                        | CallError::Transport(_)
                )
            })
            .await;
        match result {
            Err(CallError::Node(
                NodeError::NotRegistered(_) | NodeError::PersistenceNotRegistered { .. },
            )) => match registration.next_delay() {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return result,
            },
            other => return other,
        }
    }
}

impl UploadCtx<'_, '_> {
    /// Metadata, then every sliver (each produced just before it is sent, bounded by the shared
    /// semaphore), then the confirmation. Each guard is released once the node has no sliver
    /// of its phase left to send.
    async fn upload_to_node(
        &self,
        u: &NodeUpload,
        metadata: Arc<BlobMetadata>,
        [secondary, primary]: [SentGuard; 2],
        (mut opened, group): (watch::Receiver<usize>, usize),
    ) -> Result<SignedConfirmation, CallError> {
        let (peer, addrs) = (u.member.peer_id, u.member.addrs.clone());
        retry(|| {
            self.p2p
                .put_metadata(peer, addrs.clone(), (*metadata).clone())
        })
        .await?;
        self.put_slivers(u, SliverAxis::Secondary, &secondary.0)
            .await?;
        drop(secondary);
        opened
            .wait_for(|&g| g >= group)
            .await
            .map_err(|_| CallError::Transport("the upload ended".into()))?;
        self.put_slivers(u, SliverAxis::Primary, &primary.0).await?;
        drop(primary);
        self.confirmation(u).await
    }

    /// The node's confirmation. A node that has not applied the epoch change yet (it follows
    /// the ledger a block or so behind) signs for the epoch before; it is asked again shortly.
    async fn confirmation(&self, u: &NodeUpload) -> Result<SignedConfirmation, CallError> {
        let (peer, addrs) = (u.member.peer_id, &u.member.addrs);
        let mut lagging = 0;
        loop {
            let signed = retry(|| {
                self.p2p.confirmation(
                    peer,
                    addrs.clone(),
                    ConfirmationRequest {
                        blob_id: self.blob_id,
                        persistence: self.persistence,
                        wait_ms: self.wait_ms,
                    },
                )
            })
            .await?;
            let epoch = ProtocolMessage::<StorageConfirmation>::from_bytes(&signed.serialized)
                .map(|m| m.epoch);
            match epoch {
                Ok(e) if e < self.epoch && lagging < LAGGING_RETRIES => {
                    lagging += 1;
                    tokio::time::sleep(LAGGING_WAIT).await;
                }
                _ => return Ok(signed),
            }
        }
    }

    /// Sends the node's slivers of one axis, within the bytes `in_flight` allows across the
    /// upload.
    async fn put_slivers(
        &self,
        u: &NodeUpload,
        axis: SliverAxis,
        phase: &Phase,
    ) -> Result<(), CallError> {
        let (peer, addrs) = (u.member.peer_id, &u.member.addrs);
        let puts = u.pairs.iter().map(|pair| async move {
            let units = match axis {
                SliverAxis::Primary => self.sliver_kib[0],
                SliverAxis::Secondary => self.sliver_kib[1],
            };
            let _permit = self
                .in_flight
                .acquire_many(units)
                .await
                .expect("never closed");
            let sliver = self
                .source
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take(*pair, axis)
                .ok_or_else(|| {
                    CallError::Transport(format!("{axis} sliver of pair {pair} unavailable"))
                })?;
            let size = sliver.data.len() as u64;
            // Shared by the attempts: a retry does not copy the sliver.
            let sliver = Arc::new(sliver);
            retry(|| {
                self.p2p.put_sliver(
                    peer,
                    addrs.clone(),
                    PutSliverRequest {
                        blob_id: self.blob_id,
                        pair: *pair,
                        sliver: sliver.clone(),
                    },
                )
            })
            .await?;
            phase.slivers.fetch_add(1, Ordering::Relaxed);
            report(self.progress, |p| p.advance(size));
            Ok::<_, CallError>(())
        });
        for r in futures::future::join_all(puts).await {
            r?;
        }
        Ok(())
    }
}
