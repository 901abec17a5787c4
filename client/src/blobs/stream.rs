//! Streaming reads: a blob's bytes, or a range of them, as they arrive and verify, in bounded
//! memory.
//!
//! [`BlobClient::open`] checks the blob on the ledger and fetches its verified metadata (so
//! "not found", "too large" and the length are known before any byte is sent);
//! [`BlobClient::stream`] then yields the bytes of a range, in order:
//!
//! * **Rows in order.** A blob is the concatenation of its systematic primary slivers: row `r`
//!   holds bytes `r·cols·s .. (r+1)·cols·s`. The stream fetches the rows covering the range
//!   from their holders, verifies each against its hash in the metadata, and yields it as soon
//!   as every earlier row has been yielded. Up to [`BlobOptions::read_window_bytes`] are
//!   fetched ahead of the consumer; all streams of one client together hold at most
//!   [`BlobOptions::read_buffer_bytes`] (a row's share is released when the consumer drops its
//!   chunk, e.g. once an HTTP server has written it to the socket).
//! * **Sparse ranges.** Of a row of which less than half is wanted only the wanted symbols are
//!   fetched, each with its Merkle proof against the row's hash (the node protocol's recovery
//!   request, primary sliver → secondary targets). A 1 KiB range of a 64 MiB blob costs one or
//!   two symbols and the metadata, not the blob.
//! * **Degraded.** If a row cannot be had from its holder (nor, during an epoch change, from
//!   its previous holder), the stream falls back to the full read of [`BlobClient::read`]: any
//!   `rows` primary slivers, decoded with the requested consistency check, and yields the rest
//!   of the range from it. Only this path holds the whole blob in memory.
//! * **Consistency.** The bytes are those [`BlobClient::read`] returns: rows are verified
//!   systematic slivers, which the default check takes as they are. A strict check
//!   ([`ConsistencyCheck::Strict`]) re-encodes the whole blob before anything is known to be
//!   good, so it cannot stream: it reads the whole blob first, then yields the range.
//!
//! A failure after bytes were yielded ends the stream with an error item; an HTTP server then
//! aborts the response, so a client never takes a truncated body for a whole one.

use std::collections::VecDeque;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use floe_common::encoding::RecoverySymbol;
use floe_common::{
    BlobId, ConsistencyCheck, EncodingConfig, SliverAxis, SliverIndex, VerifiedBlobMetadata,
};
use floe_node_protocol::p2p::P2p;
use floe_node_protocol::protocol::{GetSliverRequest, RecoveryRequest};
use futures::stream::{BoxStream, FuturesOrdered};
use futures::{Stream, StreamExt as _};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::task::AbortOnDropHandle;

use super::read::{
    ReadCommittees, decode_full, fetch_primaries, holders, verify_primary, when_busy,
};
use super::{BlobClient, ReadError};

/// A blob whose ledger status and metadata are checked: ready to stream
/// ([`BlobClient::open`]).
#[derive(Clone)]
pub struct OpenBlob {
    pub(super) blob_id: BlobId,
    pub(super) metadata: VerifiedBlobMetadata,
    pub(super) committees: Arc<ReadCommittees>,
    /// How long the ledger check and the metadata took (ms).
    pub(super) opened_ms: u64,
}

impl std::fmt::Debug for OpenBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenBlob")
            .field("blob_id", &self.blob_id)
            .field("len", &self.len())
            .finish()
    }
}

impl OpenBlob {
    /// The blob.
    pub fn blob_id(&self) -> BlobId {
        self.blob_id
    }

    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        self.metadata.unencoded_length()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How long the ledger check and the metadata fetch took, in milliseconds.
    pub fn opened_ms(&self) -> u64 {
        self.opened_ms
    }
}

/// What a stream fetched from the storage nodes so far.
#[derive(Debug, Default)]
pub struct StreamStats {
    fetched: AtomicU64,
    degraded: AtomicU64,
}

impl StreamStats {
    /// Sliver and symbol bytes received from nodes (metadata not counted).
    pub fn fetched_bytes(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// Whether the stream fell back to a full read (a row's holder failed).
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed) > 0
    }

    fn add(&self, bytes: usize) {
        self.fetched.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// The bytes of a range of a blob, in order ([`BlobClient::stream`]).
pub struct BlobStream {
    inner: BoxStream<'static, Result<Bytes, ReadError>>,
    stats: Arc<StreamStats>,
}

impl BlobStream {
    /// What it fetched so far.
    pub fn stats(&self) -> Arc<StreamStats> {
        self.stats.clone()
    }
}

impl Stream for BlobStream {
    type Item = Result<Bytes, ReadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// The memory all streams of one client may hold, in KiB permits.
pub(super) struct ReadBudget {
    permits: Arc<Semaphore>,
    total: u32,
}

impl ReadBudget {
    pub(super) fn new(bytes: usize) -> Self {
        let total = u32::try_from(bytes.div_ceil(1024).max(1)).unwrap_or(u32::MAX >> 4);
        ReadBudget {
            permits: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    fn units(&self, bytes: usize) -> u32 {
        u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, self.total)
    }
}

impl BlobClient {
    /// Checks `blob_id` on the ledger and fetches its verified metadata, refusing a blob of
    /// more than `limit` bytes with [`ReadError::TooLarge`]. Nothing else is fetched yet.
    pub async fn open(&self, blob_id: BlobId, limit: u64) -> Result<OpenBlob, ReadError> {
        self.open_with_progress(blob_id, limit, None).await
    }

    /// Streams bytes `range` of `blob` (clipped to the blob) as they are fetched and verified;
    /// see the [module docs](self).
    pub fn stream(&self, blob: OpenBlob, range: Range<u64>, check: ConsistencyCheck) -> BlobStream {
        self.stream_ahead(blob, range, check, self.options.read_window_bytes)
    }

    /// [`BlobClient::stream`], fetching up to `window` bytes ahead of the consumer instead of
    /// [`BlobOptions::read_window_bytes`](super::BlobOptions::read_window_bytes): a reader
    /// that consumes fast (into a file) reads a large blob with more rows in flight. The
    /// client's read budget still bounds what all streams hold.
    pub fn stream_ahead(
        &self,
        blob: OpenBlob,
        range: Range<u64>,
        check: ConsistencyCheck,
        window: usize,
    ) -> BlobStream {
        let config = *blob.committees.0.encoding();
        let len = blob.len();
        let range = range.start.min(len)..range.end.min(len);
        let stats = Arc::new(StreamStats::default());
        let reader = Arc::new(Reader {
            p2p: self.p2p.clone(),
            config,
            blob,
            fanout: self.options.read_slivers_in_flight.max(1),
            stats: stats.clone(),
        });
        if range.is_empty() {
            return BlobStream {
                inner: futures::stream::empty().boxed(),
                stats,
            };
        }
        if check == ConsistencyCheck::Strict {
            let inner = futures::stream::once(async move { reader.full(range, check).await });
            return BlobStream {
                inner: inner.boxed(),
                stats,
            };
        }
        let row = row_bytes(&config, len);
        let state = Rows {
            reader,
            budget: self.read_budget.clone(),
            window: window.max(1),
            next_row: (range.start / row) as usize,
            last_row: ((range.end - 1) / row) as usize,
            row,
            range,
            inflight: FuturesOrdered::new(),
            inflight_bytes: VecDeque::new(),
            check,
            done: false,
        };
        BlobStream {
            inner: futures::stream::unfold(state, Rows::step).boxed(),
            stats,
        }
    }
}

/// Bytes per row (systematic primary sliver) of a blob of `len` bytes.
fn row_bytes(config: &EncodingConfig, len: u64) -> u64 {
    let s = config.symbol_size(len).map_or(1, u64::from);
    (config.cols() as u64 * s).max(1)
}

/// What the fetch tasks of one stream share.
struct Reader {
    p2p: P2p,
    config: EncodingConfig,
    blob: OpenBlob,
    fanout: usize,
    stats: Arc<StreamStats>,
}

/// A row's fetched bytes, holding their share of the read budget until dropped.
struct Chunk {
    data: Vec<u8>,
    range: Range<usize>,
    _permit: OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Chunk {
    fn as_ref(&self) -> &[u8] {
        &self.data[self.range.clone()]
    }
}

impl Reader {
    /// Bytes `want` (within the row) of row `row`: the wanted symbols with proofs if that is
    /// less than half the row, else the verified sliver. `Err(())`: no holder served it.
    async fn fetch_row(
        self: Arc<Self>,
        row: usize,
        want: Range<usize>,
        permit: OwnedSemaphorePermit,
    ) -> Result<Bytes, ()> {
        let blob_id = self.blob.blob_id;
        let n_shards = self.config.n_shards();
        let pair = SliverIndex(row as u16).to_pair(SliverAxis::Primary, n_shards);
        let holders = holders(&self.blob.committees, &blob_id, pair);
        let len = self.blob.len();
        let s = self.config.symbol_size(len).map_err(|_| ())? as usize;
        let row_len = self.config.cols() * s;
        if want.len() * 2 < row_len {
            let cols = want.start / s..want.end.div_ceil(s);
            for (peer, addrs) in &holders {
                if let Some(data) = self.symbols(*peer, addrs.clone(), row, cols.clone()).await {
                    let start = want.start - cols.start * s;
                    return Ok(Bytes::from_owner(Chunk {
                        data,
                        range: start..start + want.len(),
                        _permit: permit,
                    }));
                }
            }
        }
        let req = GetSliverRequest {
            blob_id,
            pair,
            axis: SliverAxis::Primary,
        };
        for (peer, addrs) in holders {
            let Ok(sliver) = when_busy(|| self.p2p.get_sliver(peer, addrs.clone(), req)).await
            else {
                continue;
            };
            self.stats.add(sliver.data.len());
            let md = self.blob.metadata.clone();
            if let Some(Ok(sliver)) = verify_primary(self.config, md, pair, sliver).await {
                return Ok(Bytes::from_owner(Chunk {
                    data: sliver.data,
                    range: want,
                    _permit: permit,
                }));
            }
        }
        Err(())
    }

    /// Symbols `cols` of row `row` from one holder, each verified against the row's hash;
    /// their concatenation, or `None`.
    async fn symbols(
        &self,
        peer: floe_node_protocol::PeerId,
        addrs: Vec<floe_node_protocol::Multiaddr>,
        row: usize,
        cols: Range<usize>,
    ) -> Option<Vec<u8>> {
        let req = RecoveryRequest {
            blob_id: self.blob.blob_id,
            target_axis: SliverAxis::Secondary,
            targets: cols.clone().map(|j| SliverIndex(j as u16)).collect(),
            sources: vec![SliverIndex(row as u16)],
            proofs: true,
        };
        let resp = when_busy(|| self.p2p.recovery(peer, addrs.clone(), req.clone()))
            .await
            .ok()?;
        let mut data = Vec::with_capacity(cols.len() * resp.symbols.first()?.data.len());
        for j in cols {
            let target = SliverIndex(j as u16);
            let w = resp
                .symbols
                .iter()
                .find(|w| w.target == target && w.source.as_usize() == row)?;
            self.stats.add(w.data.len());
            let symbol = RecoverySymbol {
                source_axis: SliverAxis::Primary,
                source_index: w.source,
                target_index: target,
                data: w.data.clone(),
                proof: w.proof.clone()?,
            };
            symbol
                .verify(
                    &self.config,
                    &self.blob.metadata,
                    SliverAxis::Secondary,
                    target,
                )
                .ok()?;
            data.extend_from_slice(&symbol.data);
        }
        Some(data)
    }

    /// Bytes `range` from a full read (any `rows` primary slivers, decoded with `check`).
    async fn full(&self, range: Range<u64>, check: ConsistencyCheck) -> Result<Bytes, ReadError> {
        let blob = &self.blob;
        let (slivers, failed, _bad) = fetch_primaries(
            &self.p2p,
            self.fanout,
            &blob.committees,
            blob.blob_id,
            &blob.metadata,
            None,
        )
        .await;
        self.stats
            .add(slivers.iter().map(|s| s.data.len()).sum::<usize>());
        if slivers.len() < self.config.rows() {
            return Err(ReadError::NotEnoughSlivers {
                have: slivers.len(),
                needed: self.config.rows(),
                failed,
            });
        }
        let data = decode_full(
            self.config,
            blob.metadata.clone(),
            slivers,
            check,
            blob.blob_id,
        )
        .await?;
        Ok(Bytes::from(data).slice(range.start as usize..range.end as usize))
    }
}

/// The state of a row-by-row stream.
struct Rows {
    reader: Arc<Reader>,
    budget: Arc<ReadBudget>,
    window: usize,
    next_row: usize,
    last_row: usize,
    row: u64,
    range: Range<u64>,
    inflight: FuturesOrdered<AbortOnDropHandle<Result<Bytes, ()>>>,
    /// Bytes fetched ahead by each in-flight row, in order.
    inflight_bytes: VecDeque<usize>,
    check: ConsistencyCheck,
    done: bool,
}

impl Rows {
    /// The bytes of row `r` within the range, relative to the row.
    fn want(&self, r: usize) -> Range<usize> {
        let start = r as u64 * self.row;
        let a = self.range.start.max(start) - start;
        let b = self.range.end.min(start + self.row) - start;
        a as usize..b as usize
    }

    /// Starts fetching rows while the window and the budget allow; always at least one row
    /// when nothing is in flight (then waiting for the budget).
    async fn top_up(&mut self) -> bool {
        while self.next_row <= self.last_row {
            let want = self.want(self.next_row);
            let s = (self.row as usize) / self.reader.config.cols();
            let cost = if want.len() * 2 < self.row as usize {
                (want.len() + 2 * s).min(self.row as usize)
            } else {
                self.row as usize
            };
            let ahead: usize = self.inflight_bytes.iter().sum();
            let units = self.budget.units(cost);
            let permit = if self.inflight.is_empty() {
                match self.budget.permits.clone().acquire_many_owned(units).await {
                    Ok(p) => p,
                    Err(_) => return false,
                }
            } else if ahead + cost > self.window {
                break;
            } else {
                match self.budget.permits.clone().try_acquire_many_owned(units) {
                    Ok(p) => p,
                    Err(_) => break,
                }
            };
            let task = self.reader.clone().fetch_row(self.next_row, want, permit);
            self.inflight
                .push_back(AbortOnDropHandle::new(tokio::spawn(task)));
            self.inflight_bytes.push_back(cost);
            self.next_row += 1;
        }
        true
    }

    async fn step(mut self) -> Option<(Result<Bytes, ReadError>, Self)> {
        if self.done || !self.top_up().await {
            return None;
        }
        match self.inflight.next().await? {
            Ok(Ok(bytes)) => {
                self.inflight_bytes.pop_front();
                self.range.start += bytes.len() as u64;
                Some((Ok(bytes), self))
            }
            Ok(Err(())) | Err(_) => {
                // A row failed: the rest comes from a full read.
                self.inflight = FuturesOrdered::new();
                self.done = true;
                self.reader.stats.degraded.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(blob_id = %self.reader.blob.blob_id, "row unavailable: streaming the rest from a full read");
                let rest = self.reader.full(self.range.clone(), self.check).await;
                Some((rest, self))
            }
        }
    }
}
