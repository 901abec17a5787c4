//! The node's answers to the wire protocols ([`crate::protocol`]), over its store and its view
//! of the ledger.
//!
//! Protocol rules (what an honest node enforces; see also the module docs of
//! [`crate::protocol`]):
//!
//! * **Writes need a live registration, and never wait for one.** Metadata, slivers and
//!   confirmations are accepted only for a blob that is registered, not expired and not invalid
//!   in the node's ledger view; otherwise the answer is `not_registered` (or
//!   `persistence_not_registered`) at once. The node applies a block once the next one is
//!   certified, so a writer that saw its registration become final may be a block ahead of the
//!   node: the writer retries such answers with backoff for a few seconds (the SDK does). A
//!   node that waited instead would let anyone hold a request slot for free by naming any blob
//!   id.
//! * **Slivers only for held shards, only verified.** A sliver is accepted for a pair whose shard
//!   (for this blob's rotation) the node holds, after its index, size and Merkle root are checked
//!   against the stored metadata; the metadata itself is accepted only if it hashes to the blob
//!   id. Nothing unverified is ever written.
//! * **Confirmations mean "stored".** A storage confirmation is signed, for the current epoch,
//!   only when the requested persistence is registered and both slivers of every pair on the
//!   node's shards are stored. A request for a registered blob whose slivers are still missing
//!   may wait for them (long-poll, at most the request's and the node's wait), but only with a
//!   place in the long-poll budget ([`long_poll`]: in total, per peer, per IP address);
//!   without one it is answered `busy` at once.
//! * **Attestations mean "proven".** An invalid-blob attestation is signed only after the
//!   inconsistency proof verifies against the stored metadata.
//! * Reads of an invalidated blob answer [`NodeError::Invalid`].
//! * **A full disk refuses new data, nothing else.** While the store keeps less free space than
//!   its margin, metadata and sliver writes answer [`NodeError::StorageFull`] (before any
//!   verification work); reads, confirmations of what is stored and the ledger view go on, and
//!   writes are taken again as soon as space is freed (see `storage::space`).
//!
//! Capacity: [`Service`] classifies each request for the swarm's admission
//! ([`crate::p2p::Class`]): requests of committee members, and writes (metadata, slivers,
//! confirmations) naming a blob registered in the node's ledger view, may use the slots
//! reserved for them and are not held to the per-address rate; everything else is anonymous.

mod long_poll;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use floe_common::messages::{InvalidBlobIdMsg, ProtocolMessage, SignedMessage};
use floe_common::{
    BlobId, BlobMetadata, BlobPersistence, EncodingConfig, Sliver, SliverExpander, SliverIndex,
    SliverPairIndex, StorageConfirmation,
};

pub use self::long_poll::LongPollLimits;
pub(crate) use self::long_poll::LongPolls;
use crate::core::{NodeCore, join_error};
use crate::p2p::{Class, Handler, Origin, Request, Response};
use crate::protocol::{
    BlobStatusResponse, ConfirmationRequest, GetSliverRequest, InconsistencyRequest,
    MAX_RECOVERY_SYMBOLS_PER_N, NodeError, NodeResult, PutSliverRequest, RecoveryRequest,
    RecoveryResponse, SignedConfirmation, SignedInvalidBlob, WireSymbol,
};

/// The protocol answers of a node.
impl NodeCore {
    /// Stores verified metadata.
    pub fn put_metadata(&self, metadata: &BlobMetadata) -> NodeResult<()> {
        let blob_id = metadata.blob_id();
        metadata
            .clone()
            .verify(blob_id, &self.config)
            .map_err(|e| NodeError::BadMetadata {
                blob_id,
                reason: e.to_string(),
            })?;
        self.writable(&blob_id)?;
        self.storage.put_metadata(&blob_id, metadata)?;
        Ok(())
    }

    /// Checks that this node holds `pair`'s shard for `blob_id`.
    fn holds_pair(&self, blob_id: &BlobId, pair: SliverPairIndex) -> NodeResult<()> {
        if pair.as_usize() >= self.config.n() {
            return Err(NodeError::BadRequest(format!(
                "pair {pair} out of range for {} shards",
                self.config.n()
            )));
        }
        let c = self.committee();
        let shard = c.shard_of_pair(blob_id, pair);
        match c.shard_holder(shard) {
            Some(m) if m.node_id == self.node_id => Ok(()),
            _ => Err(NodeError::ShardNotHeld { pair, shard }),
        }
    }

    /// Verifies and stores a sliver.
    pub async fn put_sliver(self: &Arc<Self>, req: PutSliverRequest) -> NodeResult<()> {
        let PutSliverRequest {
            blob_id,
            pair,
            sliver,
        } = req;
        // Received from the wire, the sliver is not shared: this takes it without a copy.
        let sliver = Arc::unwrap_or_clone(sliver);
        self.holds_pair(&blob_id, pair)?;
        let expected = pair.sliver_index(sliver.axis, self.config.n_shards());
        if sliver.index != expected {
            return Err(NodeError::BadSliver {
                pair,
                reason: format!(
                    "{} sliver {} is not pair {pair}'s ({expected})",
                    sliver.axis, sliver.index
                ),
            });
        }
        self.writable(&blob_id)?;
        if self.storage.has_sliver(&blob_id, pair, sliver.axis)? {
            return Ok(());
        }
        // A full store refuses before the sliver is verified (the store checks again).
        self.storage.check_room()?;
        let metadata = self.verified_metadata(&blob_id)?;
        let core = self.clone();
        tokio::task::spawn_blocking(move || {
            sliver
                .verify(&core.config, &metadata)
                .map_err(|e| NodeError::BadSliver {
                    pair,
                    reason: e.to_string(),
                })?;
            core.storage.put_sliver(&blob_id, pair, &sliver)?;
            Ok::<_, NodeError>(())
        })
        .await
        .map_err(join_error)??;
        self.notify_stored();
        Ok(())
    }

    /// The blob's metadata.
    pub fn get_metadata(&self, blob_id: &BlobId) -> NodeResult<BlobMetadata> {
        self.not_invalid(blob_id)?;
        self.storage.metadata(blob_id)?.ok_or(NodeError::NotFound)
    }

    /// Checks that this node serves `pair`'s shard for `blob_id` (holds it, or held it before a
    /// change that is still syncing).
    fn serves_pair(&self, blob_id: &BlobId, pair: SliverPairIndex) -> NodeResult<()> {
        let Err(e) = self.holds_pair(blob_id, pair) else {
            return Ok(());
        };
        match (&e, self.previous_committee()) {
            (NodeError::ShardNotHeld { shard, .. }, Some(p)) if p.holds(&self.node_id, *shard) => {
                Ok(())
            }
            _ => Err(e),
        }
    }

    /// One stored sliver.
    pub fn get_sliver(&self, req: &GetSliverRequest) -> NodeResult<Sliver> {
        self.serves_pair(&req.blob_id, req.pair)?;
        self.not_invalid(&req.blob_id)?;
        self.storage
            .sliver(&req.blob_id, req.pair, req.axis)?
            .ok_or(NodeError::NotFound)
    }

    /// Whether a confirmation can be signed now: the blob is registered with the asked
    /// persistence and this node holds all its slivers.
    fn confirmable(&self, req: &ConfirmationRequest) -> NodeResult<()> {
        let state = self.writable(&req.blob_id)?;
        let registered = match req.persistence {
            BlobPersistence::Permanent => state.registered_permanent > 0,
            BlobPersistence::Deletable(object) => state.deletable.contains_key(&object),
        };
        if !registered {
            return Err(NodeError::PersistenceNotRegistered {
                blob_id: req.blob_id,
                persistence: req.persistence,
            });
        }
        if self.shards().is_empty() {
            return Err(NodeError::BadRequest(
                "this node holds no shards in the current committee".into(),
            ));
        }
        let missing = self.missing_slivers(&req.blob_id)?.len();
        if missing > 0 {
            return Err(NodeError::NotStored {
                blob_id: req.blob_id,
                missing: u32::try_from(missing).unwrap_or(u32::MAX),
            });
        }
        Ok(())
    }

    /// A signed storage confirmation. One that cannot be signed yet only because slivers are
    /// missing waits for them up to the request's (capped) wait, with a place in the long-poll
    /// budget taken for `from` (`busy` without one); anything else is answered at once. Signed
    /// only once the slivers it vouches for are durable: the write-ahead log is fsynced first
    /// (shared with concurrent confirmations).
    pub async fn confirmation(
        &self,
        from: &Origin,
        req: ConfirmationRequest,
    ) -> NodeResult<SignedConfirmation> {
        let wait = Duration::from_millis(u64::from(req.wait_ms)).min(self.max_confirmation_wait);
        match self.confirmable(&req) {
            Ok(()) => {}
            Err(NodeError::NotStored { .. }) if !wait.is_zero() => {
                let Some(_place) = self.long_polls.try_take(from) else {
                    tracing::debug!(peer = %from.peer, ip = ?from.ip, blob_id = %req.blob_id, "confirmation long poll refused: budget used up");
                    return Err(NodeError::Busy);
                };
                self.wait_until(
                    wait,
                    || self.confirmable(&req),
                    |e| matches!(e, NodeError::NotStored { .. }),
                )
                .await?;
            }
            Err(e) => return Err(e),
        }
        let storage = self.storage.clone();
        tokio::task::spawn_blocking(move || storage.sync_wal())
            .await
            .map_err(join_error)??;
        let msg = ProtocolMessage::new(
            &self.chain_id,
            self.epoch(),
            StorageConfirmation {
                blob_id: req.blob_id,
                persistence: req.persistence,
            },
        );
        Ok(SignedMessage::sign(&self.key, &msg))
    }

    /// Recovery symbols from the node's slivers named in `req.sources`.
    pub async fn recovery(self: &Arc<Self>, req: RecoveryRequest) -> NodeResult<RecoveryResponse> {
        let n = self.config.n();
        let bad = |m: String| Err(NodeError::BadRequest(m));
        if req.targets.is_empty() || req.sources.is_empty() {
            return bad("no targets or no sources".into());
        }
        if req.targets.len() * req.sources.len() > MAX_RECOVERY_SYMBOLS_PER_N * n {
            return bad(format!(
                "{} symbols asked, at most {} per request",
                req.targets.len() * req.sources.len(),
                MAX_RECOVERY_SYMBOLS_PER_N * n
            ));
        }
        if let Some(i) = req
            .targets
            .iter()
            .chain(&req.sources)
            .find(|i| i.as_usize() >= n)
        {
            return bad(format!("sliver index {i} out of range"));
        }
        self.not_invalid(&req.blob_id)?;
        let source_axis = req.target_axis.other();
        let n_shards = self.config.n_shards();
        let mine = self.served_shards();
        let rotation = req.blob_id.rotation(n_shards);
        let mut slivers = Vec::new();
        let mut seen = BTreeSet::new();
        for s in &req.sources {
            let pair = s.to_pair(source_axis, n_shards);
            if !seen.insert(*s) || !mine.contains(&pair.to_shard(rotation, n_shards)) {
                continue;
            }
            if let Some(sliver) = self.storage.sliver(&req.blob_id, pair, source_axis)? {
                slivers.push(sliver);
            }
        }
        if slivers.is_empty() {
            return Err(NodeError::NotFound);
        }
        let config = self.config;
        tokio::task::spawn_blocking(move || symbols_for(config, &slivers, &req))
            .await
            .map_err(join_error)?
    }

    /// Verifies an inconsistency proof and attests that the blob is invalid.
    pub async fn inconsistency(
        self: &Arc<Self>,
        req: InconsistencyRequest,
    ) -> NodeResult<SignedInvalidBlob> {
        let metadata = self.verified_metadata(&req.blob_id)?;
        let config = self.config;
        let proof = req.proof;
        tokio::task::spawn_blocking(move || proof.verify(&config, &metadata))
            .await
            .map_err(join_error)?
            .map_err(|e| NodeError::BadProof(e.to_string()))?;
        let msg = ProtocolMessage::new(
            &self.chain_id,
            self.epoch(),
            InvalidBlobIdMsg {
                blob_id: req.blob_id,
            },
        );
        Ok(SignedMessage::sign(&self.key, &msg))
    }

    /// What the node knows and holds of a blob.
    pub fn blob_status(&self, blob_id: &BlobId) -> NodeResult<BlobStatusResponse> {
        let state = self.storage.blob_state(blob_id)?;
        let pairs = self.own_pairs(blob_id);
        let expected = 2 * pairs.len();
        let missing = self.missing_of(blob_id, &pairs)?.len();
        let s = state.clone().unwrap_or_default();
        Ok(BlobStatusResponse {
            blob_id: *blob_id,
            registered: s.registered_deletable + s.registered_permanent > 0,
            certified: s.is_certified(),
            invalid: s.invalid,
            end_epoch: state.map(|s| s.end_epoch),
            has_metadata: self.storage.has_metadata(blob_id)?,
            slivers_expected: u32::try_from(expected).unwrap_or(u32::MAX),
            slivers_stored: u32::try_from(expected - missing).unwrap_or(u32::MAX),
        })
    }
}

/// The symbols of `slivers` (all on the source axis) for every target of `req`.
fn symbols_for(
    config: EncodingConfig,
    slivers: &[Sliver],
    req: &RecoveryRequest,
) -> NodeResult<RecoveryResponse> {
    let mut symbols = Vec::with_capacity(slivers.len() * req.targets.len());
    let mut expander: Option<SliverExpander> = None;
    for sliver in slivers {
        let e = match &mut expander {
            Some(e) if e.symbol_size() == usize::from(sliver.symbol_size) => e,
            slot => slot.insert(SliverExpander::new(config, sliver.symbol_size)),
        };
        let internal = |e: floe_common::erasure::ErasureError| NodeError::Internal(e.to_string());
        if req.proofs {
            let with_proofs = floe_common::encoding::recovery_symbols(e, sliver, &req.targets)
                .map_err(internal)?;
            symbols.extend(with_proofs.into_iter().map(|s| WireSymbol {
                source: s.source_index,
                target: s.target_index,
                data: s.data,
                proof: Some(s.proof),
            }));
        } else {
            let s = e.symbol_size();
            let expanded = e.expand(sliver.axis, &sliver.data).map_err(internal)?;
            symbols.extend(req.targets.iter().map(|t: &SliverIndex| WireSymbol {
                source: sliver.index,
                target: *t,
                data: expanded[t.as_usize() * s..(t.as_usize() + 1) * s].to_vec(),
                proof: None,
            }));
        }
    }
    Ok(RecoveryResponse { symbols })
}

/// Serves the node protocols from a [`NodeCore`].
pub struct Service {
    core: Arc<NodeCore>,
}

impl Service {
    /// A handler over `core`.
    pub fn new(core: Arc<NodeCore>) -> Self {
        Service { core }
    }
}

impl Service {
    /// Whether `blob_id` is registered (and valid) in the node's ledger view.
    fn registered(&self, blob_id: &BlobId) -> bool {
        matches!(
            self.core.storage().blob_state(blob_id),
            Ok(Some(s)) if !s.invalid && s.registered_deletable + s.registered_permanent > 0
        )
    }
}

#[async_trait::async_trait]
impl Handler for Service {
    async fn handle(&self, from: Origin, request: Request) -> Response {
        let core = &self.core;
        let peer = from.peer;
        tracing::trace!(%peer, protocol = request.protocol(), "inbound request");
        match request {
            Request::PutMetadata(md) => Response::PutMetadata(core.put_metadata(&md)),
            Request::GetMetadata(id) => Response::GetMetadata(core.get_metadata(&id)),
            Request::PutSliver(r) => Response::PutSliver(core.put_sliver(r).await),
            Request::GetSliver(r) => Response::GetSliver(core.get_sliver(&r)),
            Request::Confirmation(r) => Response::Confirmation(core.confirmation(&from, r).await),
            Request::Recovery(r) => Response::Recovery(core.recovery(r).await),
            Request::Inconsistency(r) => Response::Inconsistency(core.inconsistency(r).await),
            Request::BlobStatus(id) => Response::BlobStatus(core.blob_status(&id)),
            Request::Health(()) => Response::Health(Ok(core.health())),
            Request::SyncShard(r) => {
                Response::SyncShard(crate::migration::serve(core, peer, r).await)
            }
        }
    }

    /// Members of the current or previous committee, then writes naming a registered blob.
    fn class(&self, from: &Origin, request: &Request) -> Class {
        let committees = self.core.committees();
        let member = committees.current.member_by_peer(&from.peer).is_some()
            || committees
                .previous
                .as_ref()
                .is_some_and(|p| p.member_by_peer(&from.peer).is_some());
        if member {
            return Class::Member;
        }
        let blob_id = match request {
            Request::PutMetadata(md) => md.blob_id(),
            Request::PutSliver(r) => r.blob_id,
            Request::Confirmation(r) => r.blob_id,
            _ => return Class::Anonymous,
        };
        if self.registered(&blob_id) {
            Class::Writer
        } else {
            Class::Anonymous
        }
    }
}
