//! Reading a blob: status, metadata, primary slivers, decode.
//!
//! During an epoch change that moves shards (ledger state `sync`), a moved shard's new holder
//! may not hold older blobs' slivers yet; its previous holder still does until the ledger's
//! `SyncDone`. So while the ledger reports a `previous_epoch`, each sliver is asked from its
//! current holder first and from its previous holder if that fails, and metadata from members
//! of both committees.

use std::sync::Arc;
use std::time::{Duration, Instant};

use floe_common::{
    BlobId, ConsistencyCheck, DecodeError, EncodingConfig, Sliver, SliverAxis, SliverExpander,
    SliverPairIndex, VerifiedBlobMetadata, decode_blob,
};
use floe_node_protocol::committee::CommitteeView;
use floe_node_protocol::p2p::{CallError, P2p};
use floe_node_protocol::protocol::{GetSliverRequest, NodeError};
use floe_node_protocol::{Multiaddr, PeerId};
use floe_runtime::retry::{Backoff, Retryable as _};
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use rand::seq::SliceRandom as _;
use serde::Serialize;

use super::progress::{ProgressHook, report};
use super::stream::OpenBlob;
use super::{BlobClient, ConnectError};

/// Metadata requests in flight at once.
const METADATA_FANOUT: usize = 3;

/// Retries of a read call a node answered `busy` (at its request limits): 50 ms doubling to
/// 400 ms, jittered, three times. A node that is down or lies is not retried: its sliver is
/// asked elsewhere or rebuilt, which a busy node would only make more expensive.
const BUSY_RETRY: Backoff =
    Backoff::new(Duration::from_millis(50), Duration::from_millis(400)).times(3);

/// `call`, retried while the node answers `busy` ([`BUSY_RETRY`]).
pub(super) async fn when_busy<T, F, Fut>(call: F) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CallError>>,
{
    call.retry(BUSY_RETRY.builder())
        .sleep(tokio::time::sleep)
        .when(|e| matches!(e, CallError::Node(NodeError::Busy)))
        .await
}

/// Milliseconds spent in each step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReadPhases {
    /// Ledger status and metadata.
    pub metadata: u64,
    /// Fetching and verifying slivers.
    pub slivers: u64,
    /// Decoding and the consistency check.
    pub decode: u64,
}

/// A blob read.
#[derive(Debug, Clone)]
pub struct ReadOutcome {
    /// The blob's bytes.
    pub data: Vec<u8>,
    /// Time per step.
    pub phases: ReadPhases,
    /// Slivers that were fetched but failed verification (Byzantine or corrupt nodes).
    pub bad_slivers: usize,
}

/// A read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The network could not be reached.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The ledger does not know this blob id (never registered, or deleted).
    #[error("blob {0} not found")]
    NotFound(BlobId),
    /// Registered but not certified: it is not (yet) available.
    #[error("blob {0} is registered but not certified")]
    NotCertified(BlobId),
    /// The blob was encoded inconsistently and has no content.
    #[error("blob {0} is invalid (inconsistently encoded)")]
    Invalid(BlobId),
    /// No node served metadata matching the blob id.
    #[error("no node served the metadata of blob {0}")]
    NoMetadata(BlobId),
    /// Too few nodes served valid slivers.
    #[error(
        "only {have} of the {needed} slivers needed could be fetched and verified ({failed} failed)"
    )]
    NotEnoughSlivers {
        /// Valid slivers.
        have: usize,
        /// Needed.
        needed: usize,
        /// Requests that failed or returned bad slivers.
        failed: usize,
    },
    /// Decoding failed.
    #[error("decode: {0}")]
    Decode(DecodeError),
    /// The blob is larger than the reader accepts ([`BlobClient::read_at_most`]); nothing
    /// but its metadata was fetched.
    #[error("blob {blob_id} has {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The blob.
        blob_id: BlobId,
        /// Its length.
        size: u64,
        /// The limit.
        limit: u64,
    },
}

impl BlobClient {
    /// Reads a blob with the given consistency check.
    pub async fn read(
        &self,
        blob_id: BlobId,
        check: ConsistencyCheck,
    ) -> Result<ReadOutcome, ReadError> {
        self.read_with_progress(blob_id, check, None).await
    }

    /// [`BlobClient::read`] of a blob of at most `limit` bytes: a larger one is refused with
    /// [`ReadError::TooLarge`] once its (verified) metadata says so, before any sliver is
    /// fetched.
    pub async fn read_at_most(
        &self,
        blob_id: BlobId,
        check: ConsistencyCheck,
        limit: u64,
    ) -> Result<ReadOutcome, ReadError> {
        self.read_limited(blob_id, check, None, limit).await
    }

    /// [`BlobClient::read`], telling `progress` about phases and sliver bytes received.
    pub async fn read_with_progress(
        &self,
        blob_id: BlobId,
        check: ConsistencyCheck,
        progress: Option<&ProgressHook>,
    ) -> Result<ReadOutcome, ReadError> {
        self.read_limited(blob_id, check, progress, u64::MAX).await
    }

    async fn read_limited(
        &self,
        blob_id: BlobId,
        check: ConsistencyCheck,
        progress: Option<&ProgressHook>,
        limit: u64,
    ) -> Result<ReadOutcome, ReadError> {
        let blob = self.open_with_progress(blob_id, limit, progress).await?;
        self.read_opened(blob, check, progress).await
    }

    /// [`BlobClient::read_with_progress`] of a blob that [`BlobClient::open`] checked
    /// already: the slivers and the decode.
    pub async fn read_opened(
        &self,
        blob: OpenBlob,
        check: ConsistencyCheck,
        progress: Option<&ProgressHook>,
    ) -> Result<ReadOutcome, ReadError> {
        let blob_id = blob.blob_id;
        let metadata_ms = blob.opened_ms;
        let t = Instant::now();
        let config = *blob.committees.0.encoding();
        report(progress, |p| {
            p.phase("slivers");
            let sliver = config
                .sliver_size(SliverAxis::Primary, blob.len())
                .unwrap_or(0);
            p.transfer((sliver * config.rows()) as u64);
        });
        let (slivers, failed, bad) = fetch_primaries(
            &self.p2p,
            self.options.read_slivers_in_flight,
            &blob.committees,
            blob_id,
            &blob.metadata,
            progress,
        )
        .await;
        if slivers.len() < config.rows() {
            return Err(ReadError::NotEnoughSlivers {
                have: slivers.len(),
                needed: config.rows(),
                failed,
            });
        }
        let slivers_ms = t.elapsed().as_millis() as u64;

        let t = Instant::now();
        report(progress, |p| p.phase("decode"));
        let data = decode_full(config, blob.metadata, slivers, check, blob_id).await?;
        Ok(ReadOutcome {
            data,
            phases: ReadPhases {
                metadata: metadata_ms,
                slivers: slivers_ms,
                decode: t.elapsed().as_millis() as u64,
            },
            bad_slivers: bad,
        })
    }

    /// [`BlobClient::open`], telling `progress` about the metadata phase.
    pub async fn open_with_progress(
        &self,
        blob_id: BlobId,
        limit: u64,
        progress: Option<&ProgressHook>,
    ) -> Result<OpenBlob, ReadError> {
        report(progress, |p| p.phase("metadata"));
        let t = Instant::now();
        let status = self
            .ledger
            .blob_status(&blob_id)
            .await
            .map_err(|e| ReadError::Connect(e.into()))?
            .ok_or(ReadError::NotFound(blob_id))?;
        if status.invalid {
            return Err(ReadError::Invalid(blob_id));
        }
        if !status.certified {
            return Err(if status.permanent || status.deletable {
                ReadError::NotCertified(blob_id)
            } else {
                ReadError::NotFound(blob_id)
            });
        }
        let committees = Arc::new(self.read_committees().await?);
        let metadata = self.fetch_metadata(&committees, blob_id).await?;
        let size = metadata.unencoded_length();
        if size > limit {
            return Err(ReadError::TooLarge {
                blob_id,
                size,
                limit,
            });
        }
        Ok(OpenBlob {
            blob_id,
            metadata,
            committees,
            opened_ms: t.elapsed().as_millis() as u64,
        })
    }

    /// The current committee and, while the ledger syncs an epoch change, the previous one.
    async fn read_committees(&self) -> Result<ReadCommittees, ConnectError> {
        let system = self.ledger.system().await?;
        let current = self.committee().await?;
        let previous = match system.previous_epoch {
            Some(e) => match self.ledger.committee_at(e).await? {
                Some(resp) => Some(CommitteeView::from_response(&resp)?),
                None => None,
            },
            None => None,
        };
        Ok((current, previous))
    }

    /// Metadata from nodes in random order, a few at a time; the first that matches wins.
    async fn fetch_metadata(
        &self,
        committees: &ReadCommittees,
        blob_id: BlobId,
    ) -> Result<VerifiedBlobMetadata, ReadError> {
        let (committee, previous) = committees;
        let config = *committee.encoding();
        let mut members: Vec<_> = committee.members().iter().collect();
        members.shuffle(&mut rand::thread_rng());
        // Members only in the previous committee last: they may have handed their data over.
        if let Some(p) = previous {
            members.extend(
                p.members()
                    .iter()
                    .filter(|m| committee.member(&m.node_id).is_none()),
            );
        }
        let mut members = members.into_iter();
        let mut asks = FuturesUnordered::new();
        loop {
            while asks.len() < METADATA_FANOUT {
                let Some(m) = members.next() else { break };
                let p2p = self.p2p.clone();
                asks.push(async move {
                    when_busy(|| p2p.get_metadata(m.peer_id, m.addrs.clone(), blob_id)).await
                });
            }
            let Some(answer) = asks.next().await else {
                return Err(ReadError::NoMetadata(blob_id));
            };
            match answer {
                Ok(md) => {
                    if let Ok(v) = md.verify(blob_id, &config) {
                        return Ok(v);
                    }
                }
                Err(CallError::Node(NodeError::Invalid(_))) => {
                    return Err(ReadError::Invalid(blob_id));
                }
                Err(_) => {}
            }
        }
    }
}

/// The current committee, and the previous one while an epoch change syncs.
pub(super) type ReadCommittees = (CommitteeView, Option<CommitteeView>);

/// Sliver verifications running at once, over all reads of the process.
static VERIFY_SLOTS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// Verifies a primary sliver of `pair` against the metadata off the async threads.
/// `Some(Err(()))`: the node answered with a bad sliver.
pub(super) async fn verify_primary(
    config: EncodingConfig,
    metadata: VerifiedBlobMetadata,
    pair: SliverPairIndex,
    sliver: Sliver,
) -> Option<Result<Sliver, ()>> {
    let ok = sliver.axis == SliverAxis::Primary
        && sliver.index == pair.sliver_index(SliverAxis::Primary, config.n_shards());
    if !ok {
        return Some(Err(()));
    }
    let symbol_size = config.symbol_size(metadata.unencoded_length()).ok()?;
    // CPU-bound: at most one verification per core, so concurrent reads queue here instead of
    // each holding an expanded sliver in a blocking thread.
    let _slot = VERIFY_SLOTS.acquire().await.ok()?;
    tokio::task::spawn_blocking(move || {
        SliverExpander::new(config, symbol_size)
            .verify(&sliver, &metadata)
            .map(|()| sliver)
            .map_err(|_| ())
    })
    .await
    .ok()
}

/// Primary slivers, systematic ones first, verified, until `rows` are collected. Returns the
/// slivers, the failed requests and the bad slivers.
pub(super) async fn fetch_primaries(
    p2p: &P2p,
    fanout: usize,
    committees: &ReadCommittees,
    blob_id: BlobId,
    metadata: &VerifiedBlobMetadata,
    progress: Option<&ProgressHook>,
) -> (Vec<Sliver>, usize, usize) {
    let config = *committees.0.encoding();
    let needed = config.rows();
    let n = config.n_shards();
    // Systematic slivers first (no decoding work), the rest shuffled.
    let mut rest: Vec<u16> = (needed as u16..n).collect();
    rest.shuffle(&mut rand::thread_rng());
    let mut order = (0..needed as u16).chain(rest).map(SliverPairIndex);
    let mut asks = FuturesUnordered::new();
    let mut slivers: Vec<Sliver> = Vec::with_capacity(needed);
    let (mut failed, mut bad) = (0, 0);
    let fanout = fanout.max(1);
    loop {
        // Keep enough requests in flight to finish, bounded by the fan-out.
        while asks.len() < fanout && slivers.len() + asks.len() < needed + failed.min(needed) {
            let Some(pair) = order.next() else { break };
            let holders = holders(committees, &blob_id, pair);
            if holders.is_empty() {
                continue;
            }
            let p2p = p2p.clone();
            let md = metadata.clone();
            asks.push(async move {
                let req = GetSliverRequest {
                    blob_id,
                    pair,
                    axis: SliverAxis::Primary,
                };
                for (peer, addrs) in holders {
                    if let Ok(sliver) = when_busy(|| p2p.get_sliver(peer, addrs.clone(), req)).await
                    {
                        return verify_primary(config, md, pair, sliver).await;
                    }
                }
                None
            });
        }
        let Some(answer) = asks.next().await else {
            break;
        };
        match answer {
            Some(Ok(s)) => {
                report(progress, |p| p.advance(s.data.len() as u64));
                slivers.push(s);
            }
            Some(Err(())) => {
                bad += 1;
                failed += 1;
            }
            None => failed += 1,
        }
        if slivers.len() >= needed {
            break;
        }
    }
    (slivers, failed, bad)
}

/// Who serves `pair` of `blob_id`: its current holder and, while an epoch change syncs, its
/// previous holder if that is another node.
pub(super) fn holders(
    committees: &ReadCommittees,
    blob_id: &BlobId,
    pair: SliverPairIndex,
) -> Vec<(PeerId, Vec<Multiaddr>)> {
    let (committee, previous) = committees;
    let Some(m) = committee.pair_holder(blob_id, pair) else {
        return Vec::new();
    };
    let mut holders = vec![(m.peer_id, m.addrs.clone())];
    if let Some(p) = previous.as_ref().and_then(|p| p.pair_holder(blob_id, pair))
        && p.node_id != m.node_id
    {
        holders.push((p.peer_id, p.addrs.clone()));
    }
    holders
}

/// Decodes verified primary slivers off the async threads.
pub(super) async fn decode_full(
    config: EncodingConfig,
    metadata: VerifiedBlobMetadata,
    slivers: Vec<Sliver>,
    check: ConsistencyCheck,
    blob_id: BlobId,
) -> Result<Vec<u8>, ReadError> {
    tokio::task::spawn_blocking(move || decode_blob(&config, &metadata, &slivers, check))
        .await
        .map_err(|e| {
            ReadError::Decode(DecodeError::BadSliver {
                axis: SliverAxis::Primary,
                index: 0,
                reason: e.to_string(),
            })
        })?
        .map_err(|e| match e {
            DecodeError::InvalidBlob => ReadError::Invalid(blob_id),
            other => ReadError::Decode(other),
        })
}
