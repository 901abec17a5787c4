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
//! parity (≈0.4×), and the slivers in flight: about 2.6× the blob with the process itself. A
//! phase ends when its slivers were all sent, or when none was sent for [`GROUP_STALL`] (a hung
//! node must not hold back the others).
//!
//! Confirmations are collected to quorum weight, then the upload goes on for
//! [`super::BlobOptions::extra_upload_time`] so most nodes get their slivers directly.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use floe_common::encoding::PreparedBlob;
use floe_common::messages::{ProtocolMessage, StorageConfirmation};
use floe_common::{
    BlobId, BlobMetadata, BlobPersistence, CertificateBuilder, EncodedBlob, NodeId, Sliver,
    SliverAxis, SliverIndex, SliverPairIndex, Threshold,
};
use floe_node::committee::{CommitteeView, Member};
use floe_node::p2p::{CallError, P2p};
use floe_node::protocol::{ConfirmationRequest, NodeError, PutSliverRequest, SignedConfirmation};
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use tokio::sync::{Notify, Semaphore, watch};

use super::BlobClient;
use super::progress::{ProgressHook, report};
use super::store::{StoreError, StoreOptions};

/// Groups of nodes whose primary parity is computed and sent one after another: more groups
/// lower the peak memory (each holds 1/`GROUPS` of the primary parity, ≈2× the blob in all) at
/// the cost of one more pass of column expansions each.
const GROUPS: usize = 5;
/// A phase with no sliver sent for this long (a node that hangs) lets the next phase start.
const GROUP_STALL: Duration = Duration::from_secs(2);
/// How often a phase's progress is checked.
const STALL_CHECK: Duration = Duration::from_millis(250);

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
    index: usize,
    member: Member,
    pairs: Vec<SliverPairIndex>,
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

/// Splits the nodes to upload to into [`GROUPS`] groups of about equal shard weight.
fn groups(nodes: Vec<NodeUpload>, n_shards: u16) -> Vec<Vec<NodeUpload>> {
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

impl BlobClient {
    /// Uploads to every node; returns the certificate once quorum weight confirmed and the
    /// extra upload time passed (or every node finished).
    pub(crate) async fn upload(
        &self,
        committee: &CommitteeView,
        blob_id: BlobId,
        source: SliverSource<'_>,
        metadata: &BlobMetadata,
        persistence: BlobPersistence,
        opts: &StoreOptions,
    ) -> Result<(floe_common::Certificate, u32), StoreError> {
        let skip: &HashSet<NodeId> = &opts.skip_nodes;
        let config = *committee.encoding();
        let nodes: Vec<NodeUpload> = committee
            .members()
            .iter()
            .enumerate()
            .filter(|(_, m)| !skip.contains(&m.node_id))
            .map(|(index, m)| NodeUpload {
                index,
                member: m.clone(),
                pairs: committee.pairs_on(&blob_id, &m.shards),
            })
            .collect();
        let len = metadata.unencoded_length;
        let pair_bytes = config
            .sliver_size(SliverAxis::Primary, len)
            .unwrap_or(0)
            .saturating_add(config.sliver_size(SliverAxis::Secondary, len).unwrap_or(0));
        let total: usize = nodes.iter().map(|u| u.pairs.len() * pair_bytes).sum();
        report(opts.progress.as_ref(), |p| p.transfer(total as u64));

        let source = Mutex::new(source);
        let metadata = Arc::new(metadata.clone());
        let in_flight = Semaphore::new(self.options.upload_slivers_in_flight.max(1));
        let wait_ms = u32::try_from(self.options.confirmation_wait.as_millis()).unwrap_or(u32::MAX);
        let ctx = UploadCtx {
            p2p: &self.p2p,
            blob_id,
            persistence,
            wait_ms,
            epoch: committee.epoch(),
            in_flight: &in_flight,
            source: &source,
            progress: opts.progress.as_ref(),
        };
        // Phase 0 sends every node's secondary slivers; phase g ≥ 1 the primary slivers of
        // group g, whose parity is computed when the phase opens.
        let node_groups = groups(nodes, committee.n_shards());
        let group_pairs: Vec<Vec<SliverPairIndex>> = node_groups
            .iter()
            .map(|g| g.iter().flat_map(|u| u.pairs.iter().copied()).collect())
            .collect();
        let mut phases = vec![Phase::new(node_groups.iter().map(Vec::len).sum())];
        let (opened, _) = watch::channel(0usize);
        let mut uploads = FuturesUnordered::new();
        for (g, group) in node_groups.into_iter().enumerate() {
            phases.push(Phase::new(group.len()));
            for u in group {
                let guards = [
                    SentGuard(phases[0].clone()),
                    SentGuard(phases[g + 1].clone()),
                ];
                let (md, ctx, gate) = (metadata.clone(), ctx.clone(), (opened.subscribe(), g + 1));
                uploads.push(async move {
                    let r = ctx.upload_to_node(&u, md, guards, gate).await;
                    (u.index, u.member.name, r)
                });
            }
        }
        // The phase whose slivers are being sent (`phases.len()` once all were opened).
        let mut phase = 0;
        let open_next = |phase: &mut usize| {
            *phase += 1;
            let Some(pairs) = group_pairs.get(*phase - 1) else {
                return;
            };
            let mut src = source
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match tokio::runtime::Handle::current().runtime_flavor() {
                tokio::runtime::RuntimeFlavor::MultiThread => {
                    tokio::task::block_in_place(|| src.prepare(pairs));
                }
                _ => src.prepare(pairs),
            }
            opened.send_replace(*phase);
        };

        let mut builder = CertificateBuilder::<StorageConfirmation>::new(committee.committee());
        let mut failures = Vec::new();
        let mut deadline: Option<tokio::time::Instant> = None;
        let mut progress = (0usize, tokio::time::Instant::now());
        loop {
            let current = phases.get(phase).cloned();
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
                    let Some((i, name, result)) = next else { break };
                    match result {
                        Ok(signed) => {
                            if let Err(e) = builder.add(i, &signed) {
                                failures.push(format!("{name}: bad confirmation: {e}"));
                            }
                        }
                        Err(e) => failures.push(format!("{name}: {e}")),
                    }
                    if deadline.is_none() && builder.reached(Threshold::Quorum) {
                        deadline = Some(tokio::time::Instant::now() + self.options.extra_upload_time);
                    }
                }
                () = phase_done => {
                    open_next(&mut phase);
                    progress = (0, tokio::time::Instant::now());
                }
                // A phase whose uploads stopped progressing (a hung node) must not hold back
                // the next ones: move on once no sliver of it was sent for `GROUP_STALL`.
                () = tokio::time::sleep(STALL_CHECK), if current.is_some() => {
                    let now = current.as_ref().map_or(0, |p| p.slivers.load(Ordering::Relaxed));
                    if now != progress.0 {
                        progress = (now, tokio::time::Instant::now());
                    } else if progress.1.elapsed() >= GROUP_STALL {
                        tracing::debug!(blob_id = %blob_id, phase, "upload phase stalled; starting the next");
                        open_next(&mut phase);
                        progress = (0, tokio::time::Instant::now());
                    }
                }
                () = past_deadline => break,
            }
        }
        let weight = builder.weight();
        if !builder.reached(Threshold::Quorum) {
            let n = u32::from(committee.n_shards());
            return Err(StoreError::NotEnoughConfirmations {
                weight,
                quorum: (2 * n) / 3 + 1,
                failures: if failures.is_empty() {
                    "none reported".into()
                } else {
                    failures.join("; ")
                },
            });
        }
        let certificate = builder.finish().expect("quorum reached");
        Ok((certificate, weight))
    }
}

/// What every node's upload shares.
#[derive(Clone)]
struct UploadCtx<'a, 's> {
    p2p: &'a P2p,
    blob_id: BlobId,
    persistence: BlobPersistence,
    wait_ms: u32,
    /// The committee's epoch: confirmations must be signed for it.
    epoch: floe_common::Epoch,
    in_flight: &'a Semaphore,
    source: &'a Mutex<SliverSource<'s>>,
    progress: Option<&'a ProgressHook>,
}

/// Times a confirmation signed for an earlier epoch is asked again.
const LAGGING_RETRIES: u32 = 10;
/// Wait before asking a lagging node again.
const LAGGING_WAIT: Duration = Duration::from_millis(250);

/// Retries a call a few times on `busy` and transport failures, and on `shard not held` (a
/// node that has not applied the latest epoch change yet).
async fn retry<T, F, Fut>(mut call: F) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CallError>>,
{
    let mut delay = Duration::from_millis(100);
    let mut attempt = 0;
    loop {
        match call().await {
            Err(
                CallError::Node(NodeError::Busy | NodeError::ShardNotHeld { .. })
                | CallError::Transport(_),
            ) if attempt < 4 => {
                attempt += 1;
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            other => return other,
        }
    }
}

impl UploadCtx<'_, '_> {
    /// Metadata, then every sliver (each produced just before it is sent, bounded by the shared
    /// semaphore), then the confirmation. `sent` is released once no sliver is left to send.
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
        // A node that has not applied the epoch change yet (it follows the ledger a block or
        // so behind) signs for the epoch before; ask it again shortly.
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

    /// Sends the node's slivers of one axis, at most `in_flight` at a time across the upload.
    async fn put_slivers(
        &self,
        u: &NodeUpload,
        axis: SliverAxis,
        phase: &Phase,
    ) -> Result<(), CallError> {
        let (peer, addrs) = (u.member.peer_id, &u.member.addrs);
        let puts = u.pairs.iter().map(|pair| async move {
            let _permit = self.in_flight.acquire().await.expect("never closed");
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
