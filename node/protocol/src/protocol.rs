//! The storage-node wire protocols: names, request and response types, and size limits.
//!
//! Each operation is its own libp2p request-response protocol, named and versioned
//! `/floe/<name>/1`, with BCS bodies and its own request and response size limits derived from
//! the encoding configuration ([`limits`]). Every response is a `Result<_, NodeError>`: a node
//! refuses with a typed reason, never by dropping the stream.
//!
//! | protocol                     | request                 | response                         |
//! |------------------------------|-------------------------|----------------------------------|
//! | `/floe/put-metadata/1`       | [`BlobMetadata`]        | `()`                             |
//! | `/floe/get-metadata/1`       | [`BlobId`]              | [`BlobMetadata`]                 |
//! | `/floe/put-sliver/1`         | [`PutSliverRequest`]    | `()`                             |
//! | `/floe/get-sliver/1`         | [`GetSliverRequest`]    | [`Sliver`]                       |
//! | `/floe/confirmation/1`       | [`ConfirmationRequest`] | signed [`StorageConfirmation`]   |
//! | `/floe/recovery/1`           | [`RecoveryRequest`]     | [`RecoveryResponse`]             |
//! | `/floe/inconsistency/1`      | [`InconsistencyRequest`]| signed [`InvalidBlobIdMsg`]      |
//! | `/floe/blob-status/1`        | [`BlobId`]              | [`BlobStatusResponse`]           |
//! | `/floe/health/1`             | `()`                    | [`HealthResponse`]               |
//! | `/floe/sync-shard/1`         | signed [`SyncShardRequest`] | [`SyncShardResponse`]        |
//!
//! Protocol rules enforced by every node:
//! * metadata is stored or served only if it hashes to its blob id;
//! * a sliver is accepted only for a registered, unexpired, valid blob whose metadata the node
//!   holds, for a sliver pair on a shard the node holds, and only if it verifies against the
//!   metadata;
//! * a storage confirmation is signed only when the blob is registered with the requested
//!   persistence and every sliver of every shard the node holds for it is stored;
//! * an invalid-blob attestation is signed only for a proof that verifies against the metadata;
//! * a shard's slivers are handed over (`sync-shard`) only to the member of the current
//!   committee that holds the shard, on a request signed with its key for the current epoch,
//!   and only by a node that held the shard before; pages follow blob id order, so the
//!   requester resumes from the `next` cursor.

use floe_common::config::MAX_SYMBOL_SIZE;
use floe_common::merkle::MerkleProof;
use floe_common::messages::{InvalidBlobIdMsg, SignedMessage, SyncShardRequest};
use floe_common::{
    BlobId, BlobMetadata, BlobPersistence, EncodingConfig, Epoch, InconsistencyProof, NodeId,
    ShardIndex, Sliver, SliverAxis, SliverIndex, SliverPairIndex, StorageConfirmation,
};
use serde::{Deserialize, Serialize};

use crate::network::Limits;

/// `/floe/put-metadata/1`.
pub const PUT_METADATA: &str = "/floe/put-metadata/1";
/// `/floe/get-metadata/1`.
pub const GET_METADATA: &str = "/floe/get-metadata/1";
/// `/floe/put-sliver/1`.
pub const PUT_SLIVER: &str = "/floe/put-sliver/1";
/// `/floe/get-sliver/1`.
pub const GET_SLIVER: &str = "/floe/get-sliver/1";
/// `/floe/confirmation/1`.
pub const CONFIRMATION: &str = "/floe/confirmation/1";
/// `/floe/recovery/1`.
pub const RECOVERY: &str = "/floe/recovery/1";
/// `/floe/inconsistency/1`.
pub const INCONSISTENCY: &str = "/floe/inconsistency/1";
/// `/floe/blob-status/1`.
pub const BLOB_STATUS: &str = "/floe/blob-status/1";
/// `/floe/health/1`.
pub const HEALTH: &str = "/floe/health/1";
/// `/floe/sync-shard/1`.
pub const SYNC_SHARD: &str = "/floe/sync-shard/1";

/// Most blobs one sync-shard page may ask for.
pub const MAX_SYNC_SHARD_BLOBS: u64 = 256;
/// Sliver bytes a sync-shard page stops at (a page always holds at least one sliver, so the
/// response limit is this plus one largest sliver).
pub const SYNC_SHARD_PAGE_BYTES: usize = 16 << 20;

/// Most recovery symbols one request may ask for, as a multiple of the shard count.
pub const MAX_RECOVERY_SYMBOLS_PER_N: usize = 4;

/// Store one sliver of a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutSliverRequest {
    /// The blob.
    pub blob_id: BlobId,
    /// The sliver pair the sliver belongs to.
    pub pair: SliverPairIndex,
    /// The sliver (primary or secondary of `pair`). Shared, so a sender can retry without
    /// copying megabytes; on the wire it is the sliver itself.
    #[serde(with = "shared_sliver")]
    pub sliver: std::sync::Arc<Sliver>,
}

/// (De)serialises an `Arc<Sliver>` as the sliver itself (no `rc` feature needed).
mod shared_sliver {
    use std::sync::Arc;

    use floe_common::Sliver;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(s: &Arc<Sliver>, ser: S) -> Result<S::Ok, S::Error> {
        s.as_ref().serialize(ser)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Arc<Sliver>, D::Error> {
        Sliver::deserialize(de).map(Arc::new)
    }
}

/// Fetch one sliver of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetSliverRequest {
    /// The blob.
    pub blob_id: BlobId,
    /// The sliver pair.
    pub pair: SliverPairIndex,
    /// Which of the pair's slivers.
    pub axis: SliverAxis,
}

/// Ask for a signed storage confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmationRequest {
    /// The blob.
    pub blob_id: BlobId,
    /// Permanent, or deletable with its blob object.
    pub persistence: BlobPersistence,
    /// How long the node may wait for the registration to reach it and for its slivers to
    /// arrive before refusing (milliseconds; capped by the node's configuration).
    pub wait_ms: u32,
}

/// Ask a helper for symbols of its slivers on `target_axis.other()` that rebuild slivers on
/// `target_axis`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryRequest {
    /// The blob.
    pub blob_id: BlobId,
    /// Axis of the slivers being rebuilt.
    pub target_axis: SliverAxis,
    /// Indices (on `target_axis`) of the slivers being rebuilt.
    pub targets: Vec<SliverIndex>,
    /// Indices (on the other axis) of the helper's slivers to take symbols from; the helper
    /// answers for those it holds.
    pub sources: Vec<SliverIndex>,
    /// Whether to include a Merkle proof with each symbol. Without proofs the requester checks
    /// the rebuilt sliver against the metadata hash instead, and asks again with proofs only if
    /// that fails.
    pub proofs: bool,
}

/// One recovery symbol on the wire (its proof is optional, see [`RecoveryRequest::proofs`]).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireSymbol {
    /// The helper's source sliver (on the axis other than the target's).
    pub source: SliverIndex,
    /// The target sliver.
    pub target: SliverIndex,
    /// The symbol.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// Proof of leaf `target` against the source sliver's hash, if asked for.
    pub proof: Option<MerkleProof>,
}

impl std::fmt::Debug for WireSymbol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WireSymbol({} -> {}, {} bytes, proof: {})",
            self.source,
            self.target,
            self.data.len(),
            self.proof.is_some()
        )
    }
}

/// The symbols a helper could provide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryResponse {
    /// Symbols, for every requested (source held, target) combination.
    pub symbols: Vec<WireSymbol>,
}

/// Ask a node to verify an inconsistency proof and attest that the blob is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InconsistencyRequest {
    /// The blob.
    pub blob_id: BlobId,
    /// The proof.
    pub proof: InconsistencyProof,
}

/// What a node knows and stores of a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobStatusResponse {
    /// The blob.
    pub blob_id: BlobId,
    /// The ledger view: registered (and not deleted), certified, invalid, end epoch.
    pub registered: bool,
    /// Any registration certified.
    pub certified: bool,
    /// Invalidated.
    pub invalid: bool,
    /// End epoch (exclusive) of the latest registration.
    pub end_epoch: Option<Epoch>,
    /// The node holds the blob's metadata.
    pub has_metadata: bool,
    /// Slivers this node should hold (2 per sliver pair on its shards).
    pub slivers_expected: u32,
    /// Of those, how many are stored.
    pub slivers_stored: u32,
}

/// A shard-sync request signed by the requesting node's key.
pub type SignedSyncShard = SignedMessage<SyncShardRequest>;

/// One blob's sliver of the requested shard and axis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSliver {
    /// The blob.
    pub blob_id: BlobId,
    /// The sliver (of the pair the shard holds for this blob).
    pub sliver: Sliver,
}

/// A page of a shard's slivers, in blob id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncShardResponse {
    /// The slivers the node has, for blobs from the request's `start` on.
    pub slivers: Vec<ShardSliver>,
    /// Where the next page starts; `None` when the shard is exhausted.
    pub next: Option<BlobId>,
}

/// A node's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResponse {
    /// The node's id.
    pub node_id: NodeId,
    /// Its current epoch (from the last applied ledger block).
    pub epoch: Epoch,
    /// The last ledger block applied.
    pub ledger_height: u64,
    /// Shards held in the current committee.
    pub shards: Vec<ShardIndex>,
    /// Bytes of slivers and metadata stored.
    pub stored_bytes: u64,
    /// Slivers stored.
    pub slivers_stored: u64,
    /// Certified blobs whose slivers are still being recovered.
    pub recovering: u64,
}

/// Why a node refused a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum NodeError {
    /// The blob is not registered on the ledger (or not yet seen by this node).
    #[error("blob {0} is not registered")]
    NotRegistered(BlobId),
    /// The blob's registrations have all expired.
    #[error("blob {blob_id} expired at epoch {end_epoch}")]
    Expired {
        /// The blob.
        blob_id: BlobId,
        /// Its end epoch.
        end_epoch: Epoch,
    },
    /// The blob was invalidated (inconsistently encoded).
    #[error("blob {0} is invalid")]
    Invalid(BlobId),
    /// The requested persistence is not registered (deletable object unknown, or no permanent
    /// registration).
    #[error("blob {blob_id} is not registered as {persistence:?}")]
    PersistenceNotRegistered {
        /// The blob.
        blob_id: BlobId,
        /// What was asked.
        persistence: BlobPersistence,
    },
    /// This node does not hold the shard of the sliver pair.
    #[error("sliver pair {pair} is on shard {shard}, which this node does not hold")]
    ShardNotHeld {
        /// The pair.
        pair: SliverPairIndex,
        /// Its shard for this blob.
        shard: ShardIndex,
    },
    /// Slivers need the blob's metadata first.
    #[error("metadata of blob {0} is not stored here; send it first")]
    MetadataMissing(BlobId),
    /// The metadata does not hash to the blob id.
    #[error("metadata does not match blob {blob_id}: {reason}")]
    BadMetadata {
        /// The blob.
        blob_id: BlobId,
        /// What is wrong.
        reason: String,
    },
    /// A sliver that does not verify against the metadata or its pair.
    #[error("bad sliver for pair {pair}: {reason}")]
    BadSliver {
        /// The pair.
        pair: SliverPairIndex,
        /// What is wrong.
        reason: String,
    },
    /// Not stored here.
    #[error("not found")]
    NotFound,
    /// A storage confirmation was refused because slivers are missing.
    #[error("{missing} slivers of blob {blob_id} are not stored yet")]
    NotStored {
        /// The blob.
        blob_id: BlobId,
        /// Missing slivers.
        missing: u32,
    },
    /// An inconsistency proof that does not verify.
    #[error("inconsistency proof refused: {0}")]
    BadProof(String),
    /// A malformed request (indices out of range, too many symbols, …).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The node is at its request limit; retry later.
    #[error("node busy, retry later")]
    Busy,
    /// The node failed internally.
    #[error("internal error: {0}")]
    Internal(String),
    /// A shard-sync request this node does not serve, and which check refused it.
    #[error("shard sync refused: {0}")]
    NotSyncing(SyncRefusal),
    /// The node's disk is (nearly) full: it refuses new data (metadata, slivers) and keeps
    /// serving what it holds. It takes writes again by itself once space is freed; a writer
    /// treats it like any node that cannot take its slivers now.
    #[error("storage full: this node keeps {min_free_bytes} bytes free and has {}; it refuses new data until space is freed", available_bytes.map_or_else(|| "fewer".to_string(), |a| a.to_string()))]
    StorageFull {
        /// Bytes free on the node's store, if known.
        available_bytes: Option<u64>,
        /// The margin the node keeps free.
        min_free_bytes: u64,
    },
}

/// Why a node refused to serve a shard's slivers (`/floe/sync-shard/1`). The checks run in
/// this order; a shard's slivers go only to its current holder, signed for the current epoch,
/// from a node that held the shard before the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum SyncRefusal {
    /// The requesting peer is not a member of the current committee.
    #[error("the requester is not a member of the current committee")]
    NotAMember,
    /// The request is not signed by the member's key.
    #[error("request signature: {0}")]
    BadSignature(String),
    /// The request is signed for another network.
    #[error("request of chain {0:?}")]
    WrongChain(String),
    /// The request is signed for another epoch than the serving node's.
    #[error("request for epoch {requested}, this node is at epoch {current}")]
    WrongEpoch {
        /// The request's epoch.
        requested: Epoch,
        /// The serving node's epoch.
        current: Epoch,
    },
    /// The requester does not hold the shard in the current committee.
    #[error("the requester does not hold shard {0}")]
    RequesterLacksShard(ShardIndex),
    /// The serving node did not hold the shard before a change that is still syncing (or no
    /// change is syncing).
    #[error("this node did not hold shard {0} before a change that is syncing")]
    NotPreviousHolder(ShardIndex),
}

impl NodeError {
    /// A short stable label (metrics, logs).
    pub fn label(&self) -> &'static str {
        match self {
            NodeError::NotRegistered(_) => "not_registered",
            NodeError::Expired { .. } => "expired",
            NodeError::Invalid(_) => "invalid",
            NodeError::PersistenceNotRegistered { .. } => "persistence_not_registered",
            NodeError::ShardNotHeld { .. } => "shard_not_held",
            NodeError::MetadataMissing(_) => "metadata_missing",
            NodeError::BadMetadata { .. } => "bad_metadata",
            NodeError::BadSliver { .. } => "bad_sliver",
            NodeError::NotFound => "not_found",
            NodeError::NotStored { .. } => "not_stored",
            NodeError::BadProof(_) => "bad_proof",
            NodeError::BadRequest(_) => "bad_request",
            NodeError::Busy => "busy",
            NodeError::NotSyncing(_) => "not_syncing",
            NodeError::Internal(_) => "internal",
            NodeError::StorageFull { .. } => "storage_full",
        }
    }
}

/// A node's answer.
pub type NodeResult<T> = Result<T, NodeError>;
/// Signed storage confirmation.
pub type SignedConfirmation = SignedMessage<StorageConfirmation>;
/// Signed invalid-blob attestation.
pub type SignedInvalidBlob = SignedMessage<InvalidBlobIdMsg>;

/// Size limits of every protocol for a network of `config`'s shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolLimits {
    /// `/floe/put-metadata/1`.
    pub put_metadata: Limits,
    /// `/floe/get-metadata/1`.
    pub get_metadata: Limits,
    /// `/floe/put-sliver/1`.
    pub put_sliver: Limits,
    /// `/floe/get-sliver/1`.
    pub get_sliver: Limits,
    /// `/floe/confirmation/1`.
    pub confirmation: Limits,
    /// `/floe/recovery/1`.
    pub recovery: Limits,
    /// `/floe/inconsistency/1`.
    pub inconsistency: Limits,
    /// `/floe/blob-status/1`.
    pub blob_status: Limits,
    /// `/floe/health/1`.
    pub health: Limits,
    /// `/floe/sync-shard/1`.
    pub sync_shard: Limits,
}

/// Bytes of framing allowed around fixed-size fields.
const SLACK: usize = 256;
/// A small message (ids, indices, a signed confirmation, an error text).
const SMALL: usize = 4096;

/// The limits for `config`: a sliver body is bounded by the largest sliver of the network's
/// largest blob, a recovery response by [`MAX_RECOVERY_SYMBOLS_PER_N`]` × n` symbols with proofs.
pub fn limits(config: &EncodingConfig) -> ProtocolLimits {
    let n = config.n();
    let metadata = BlobMetadata::max_encoded_len(config.n_shards()) + SLACK;
    let sliver = config
        .max_sliver_size(SliverAxis::Primary)
        .max(config.max_sliver_size(SliverAxis::Secondary))
        + SLACK;
    let proof = floe_common::merkle::depth(n) * 33 + 8;
    let symbol = usize::from(MAX_SYMBOL_SIZE) + proof + 16;
    let recovery_request = 2 * n * 3 + SLACK;
    let small = |request: usize| Limits {
        request,
        response: SMALL,
    };
    ProtocolLimits {
        put_metadata: Limits {
            request: metadata,
            response: SMALL,
        },
        get_metadata: Limits {
            request: SMALL,
            response: metadata,
        },
        put_sliver: Limits {
            request: sliver,
            response: SMALL,
        },
        get_sliver: Limits {
            request: SMALL,
            response: sliver,
        },
        confirmation: small(SMALL),
        recovery: Limits {
            request: recovery_request,
            response: MAX_RECOVERY_SYMBOLS_PER_N * n * symbol + SLACK,
        },
        inconsistency: small(InconsistencyProof::max_encoded_len(config) + SLACK),
        blob_status: small(SMALL),
        health: Limits {
            request: SMALL,
            response: SMALL + 4 * n,
        },
        sync_shard: Limits {
            request: SMALL,
            response: SYNC_SHARD_PAGE_BYTES + sliver + MAX_SYNC_SHARD_BLOBS as usize * SLACK,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use floe_common::codec;

    #[test]
    fn limits_fit_the_largest_bodies() {
        let config = EncodingConfig::new(100).unwrap();
        let l = limits(&config);
        // The largest blob's sliver with framing fits, one byte over the sliver limit does not
        // matter because slivers are exactly sized.
        let sliver = Sliver {
            axis: SliverAxis::Primary,
            index: SliverIndex(0),
            symbol_size: MAX_SYMBOL_SIZE,
            data: vec![0; config.max_sliver_size(SliverAxis::Primary)],
        };
        let req = PutSliverRequest {
            blob_id: BlobId([0; 32]),
            pair: SliverPairIndex(0),
            sliver: sliver.into(),
        };
        assert!(codec::encode(&req).len() <= l.put_sliver.request);
        // A recovery request naming every source and every target fits.
        let req = RecoveryRequest {
            blob_id: BlobId([0; 32]),
            target_axis: SliverAxis::Primary,
            targets: (0..100).map(SliverIndex).collect(),
            sources: (0..100).map(SliverIndex).collect(),
            proofs: true,
        };
        assert!(codec::encode(&req).len() <= l.recovery.request);
        // The longest error text we produce fits a small response.
        let err: NodeResult<()> = Err(NodeError::BadSliver {
            pair: SliverPairIndex(1),
            reason: "x".repeat(1000),
        });
        assert!(codec::encode(&err).len() <= l.put_sliver.response);
        // Health of a node holding every shard fits.
        let h: NodeResult<HealthResponse> = Ok(HealthResponse {
            node_id: NodeId([0; 32]),
            epoch: Epoch(1),
            ledger_height: 1,
            shards: (0..100).map(ShardIndex).collect(),
            stored_bytes: 0,
            slivers_stored: 0,
            recovering: 0,
        });
        assert!(codec::encode(&h).len() <= l.health.response);
    }

    #[test]
    fn every_error_has_a_distinct_label() {
        let b = BlobId([1; 32]);
        let errors = [
            NodeError::NotRegistered(b),
            NodeError::Expired {
                blob_id: b,
                end_epoch: Epoch(1),
            },
            NodeError::Invalid(b),
            NodeError::PersistenceNotRegistered {
                blob_id: b,
                persistence: BlobPersistence::Permanent,
            },
            NodeError::ShardNotHeld {
                pair: SliverPairIndex(0),
                shard: ShardIndex(0),
            },
            NodeError::MetadataMissing(b),
            NodeError::BadMetadata {
                blob_id: b,
                reason: String::new(),
            },
            NodeError::BadSliver {
                pair: SliverPairIndex(0),
                reason: String::new(),
            },
            NodeError::NotFound,
            NodeError::NotStored {
                blob_id: b,
                missing: 1,
            },
            NodeError::BadProof(String::new()),
            NodeError::BadRequest(String::new()),
            NodeError::Busy,
            NodeError::NotSyncing(SyncRefusal::NotAMember),
            NodeError::Internal(String::new()),
            NodeError::StorageFull {
                available_bytes: Some(1),
                min_free_bytes: 2,
            },
        ];
        let labels: std::collections::BTreeSet<_> = errors.iter().map(|e| e.label()).collect();
        assert_eq!(labels.len(), errors.len());
        for e in &errors {
            let back: NodeError = codec::decode(&codec::encode(e), 4096).unwrap();
            assert_eq!(&back, e);
        }
    }

    /// Bytes a peer may send: every request and response type either decodes within its limit
    /// or is a typed error; nothing panics, and whatever decodes re-encodes to the same bytes.
    fn decode_any(bytes: &[u8], l: &ProtocolLimits) {
        fn one<T: serde::Serialize + serde::de::DeserializeOwned>(bytes: &[u8], limit: usize) {
            if let Ok(v) = codec::decode::<T>(bytes, limit) {
                assert_eq!(codec::encode(&v), bytes, "canonical");
            }
        }
        one::<BlobMetadata>(bytes, l.put_metadata.request);
        one::<BlobId>(bytes, l.get_metadata.request);
        one::<PutSliverRequest>(bytes, l.put_sliver.request);
        one::<GetSliverRequest>(bytes, l.get_sliver.request);
        one::<ConfirmationRequest>(bytes, l.confirmation.request);
        one::<RecoveryRequest>(bytes, l.recovery.request);
        one::<InconsistencyRequest>(bytes, l.inconsistency.request);
        one::<NodeResult<()>>(bytes, l.put_sliver.response);
        one::<NodeResult<BlobMetadata>>(bytes, l.get_metadata.response);
        one::<NodeResult<Sliver>>(bytes, l.get_sliver.response);
        one::<NodeResult<SignedConfirmation>>(bytes, l.confirmation.response);
        one::<NodeResult<RecoveryResponse>>(bytes, l.recovery.response);
        one::<NodeResult<SignedInvalidBlob>>(bytes, l.inconsistency.response);
        one::<NodeResult<BlobStatusResponse>>(bytes, l.blob_status.response);
        one::<NodeResult<HealthResponse>>(bytes, l.health.response);
        one::<SignedSyncShard>(bytes, l.sync_shard.request);
        one::<NodeResult<SyncShardResponse>>(bytes, l.sync_shard.response);
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            decode_any(&bytes, &limits(&EncodingConfig::new(10).unwrap()));
        }

        #[test]
        fn mutated_messages_never_panic(flip in 0usize..400, byte: u8, cut in 0usize..400) {
            let config = EncodingConfig::new(10).unwrap();
            let enc = floe_common::encode_blob(&config, &[5u8; 3000]).unwrap();
            let messages = [
                codec::encode(&PutSliverRequest { blob_id: enc.blob_id(), pair: SliverPairIndex(1), sliver: enc.pairs[1].primary.clone().into() }),
                codec::encode(enc.metadata.metadata()),
                codec::encode(&RecoveryRequest { blob_id: enc.blob_id(), target_axis: SliverAxis::Secondary, targets: vec![SliverIndex(1)], sources: vec![SliverIndex(2), SliverIndex(3)], proofs: true }),
            ];
            let l = limits(&config);
            for m in messages {
                let mut m = m.clone();
                let i = flip % m.len();
                m[i] ^= byte;
                decode_any(&m, &l);
                m.truncate(cut % (m.len() + 1));
                decode_any(&m, &l);
            }
        }
    }
}
