//! The JSON shapes of a validator's HTTP RPC, shared by the server (`floe-ledger`) and the typed
//! client ([`crate::client`]).
//!
//! Amounts ([`Frost`]) are JSON numbers everywhere. Ids are their text forms (addresses, digests
//! and block hashes lowercase hex; blob ids URL-safe base64). Event cursors are `height:index`.

use floe_common::hash::Digest;
use floe_common::{BlobId, Epoch, Frost, NodeId, ObjectId, PublicKey, ShardIndex};
use serde::{Deserialize, Serialize};

use crate::block::BlockHash;
use crate::error::{TxError, TxFailure};
use crate::events::Effects;
use crate::genesis::FaucetParams;
use crate::objects::{BlobIdInfo, Object, Proposal, StorageNode};
use crate::record::{CommittedTx, EventCursor, EventRecord, TxOutcome, TxStatus};
use crate::tx::{Address, TxDigest};

/// Header marking a batch as forwarded by another validator (not forwarded again).
pub const FORWARDED_HEADER: &str = "x-floe-forwarded";

/// Every error response: a stable machine code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable snake-case code (`unknown_blob`, `bad_signature`, …).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// For `unknown_transaction`: whether the transaction waits in the mempool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<bool>,
}

/// Whether a submitted transaction was new to the mempool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdmissionStatus {
    /// Newly added.
    Added,
    /// Already pending.
    Duplicate,
}

/// `POST /v1/transactions` (without `wait`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitResponse {
    /// The transaction digest.
    pub digest: TxDigest,
    /// Whether it was new.
    pub admission: AdmissionStatus,
}

/// One transaction's result in `POST /v1/transactions/batch`: either `admission` or `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItem {
    /// The transaction digest.
    pub digest: TxDigest,
    /// Set when admitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission: Option<AdmissionStatus>,
    /// Set when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// `POST /v1/transactions/batch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    /// One result per transaction, in order.
    pub results: Vec<BatchItem>,
}

/// What a committed transaction did, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxStatusView {
    /// Applied.
    Success {
        /// Its effects.
        effects: Effects,
    },
    /// Did not succeed.
    Failure {
        /// The rejection's stable code.
        code: String,
        /// Human message.
        message: String,
        /// The typed rejection.
        error: TxError,
        /// Set when it failed in execution: the fee charged (its nonce was consumed too).
        /// Absent when an admission check refused it and it changed nothing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fee_charged: Option<Frost>,
    },
}

impl From<TxStatus> for TxStatusView {
    fn from(s: TxStatus) -> Self {
        match s {
            TxStatus::Success(effects) => TxStatusView::Success { effects },
            TxStatus::Failure(TxFailure { error, fee_charged }) => TxStatusView::Failure {
                code: error.code().to_owned(),
                message: error.to_string(),
                error,
                fee_charged,
            },
        }
    }
}

impl From<TxStatusView> for TxStatus {
    fn from(s: TxStatusView) -> Self {
        match s {
            TxStatusView::Success { effects } => TxStatus::Success(effects),
            TxStatusView::Failure {
                error, fee_charged, ..
            } => TxStatus::Failure(TxFailure { error, fee_charged }),
        }
    }
}

/// `GET /v1/transactions/{digest}` and `POST /v1/transactions?wait=true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxResponse {
    /// The transaction digest.
    pub digest: TxDigest,
    /// Block height.
    pub height: u64,
    /// Index in the block.
    pub index: u32,
    /// Outcome.
    pub status: TxStatusView,
}

impl From<CommittedTx> for TxResponse {
    fn from(c: CommittedTx) -> Self {
        TxResponse {
            digest: c.outcome.digest,
            height: c.height,
            index: c.index,
            status: c.outcome.status.into(),
        }
    }
}

impl From<TxResponse> for CommittedTx {
    fn from(r: TxResponse) -> Self {
        CommittedTx {
            height: r.height,
            index: r.index,
            outcome: TxOutcome {
                digest: r.digest,
                status: r.status.into(),
            },
        }
    }
}

/// An object with its id and type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectResponse {
    /// The object id.
    pub object_id: ObjectId,
    /// `storage`, `blob`, `staked_wal`, `site`, `name` or `shared_blob`.
    pub type_name: String,
    /// The object.
    pub object: Object,
}

/// `GET /v1/accounts/{address}` (an unknown address has zero balance, nonce 0, no objects).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountResponse {
    /// The address.
    pub address: Address,
    /// Balance in FROST.
    pub balance: Frost,
    /// The nonce the next transaction must carry.
    pub nonce: u64,
    /// Objects owned, in id order: one page (`?after=OBJECT&limit=N`, at most
    /// [`MAX_ACCOUNT_OBJECTS`] per answer).
    pub objects: Vec<ObjectResponse>,
    /// Set when more objects follow: pass it as `after` for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<ObjectId>,
}

/// Most objects of one `GET /v1/accounts/{address}` answer (also the default page).
pub const MAX_ACCOUNT_OBJECTS: usize = 1_000;

/// `GET /v1/blobs/{blob_id}`: the ledger's status of a blob id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobStatus {
    /// The blob id.
    pub blob_id: BlobId,
    /// Whether a not-deleted permanent registration exists.
    pub permanent: bool,
    /// Whether a not-deleted deletable registration exists.
    pub deletable: bool,
    /// Whether any registration is certified.
    pub certified: bool,
    /// Whether the blob id was invalidated.
    pub invalid: bool,
    /// Counts, epochs and objects.
    #[serde(flatten)]
    pub info: BlobIdInfo,
    /// Where the latest certified end epoch can be proven (when the blob is certified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<BlobEvidence>,
}

impl BlobStatus {
    /// The status of `blob_id` from its index entry, with the evidence for its certification.
    pub fn new(blob_id: BlobId, info: BlobIdInfo, evidence: Option<BlobEvidence>) -> Self {
        BlobStatus {
            blob_id,
            permanent: info.registered_permanent > 0,
            deletable: info.registered_deletable > 0,
            certified: info.certified_permanent + info.certified_deletable > 0,
            invalid: info.is_invalid(),
            info,
            evidence,
        }
    }
}

/// Where a server claims a blob's certification can be proven: the block at `height` holds a
/// `BlobCertified` or `BlobExtended` event of `object_id` with end epoch `end_epoch`.
///
/// A client checks it with [`BlobEvidence::prove`] on that block's record, once the block's
/// results are proven ([`LedgerClient::proven_block`](crate::LedgerClient::proven_block)).
/// What it proves is that the blob object was certified, and lasted until `end_epoch`, as of
/// `height`. It cannot prove that nothing happened since: a deletable object may have been
/// deleted, or the blob id invalidated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobEvidence {
    /// The certified blob object with the latest end epoch.
    pub object_id: ObjectId,
    /// The height of the event.
    pub height: u64,
    /// The end epoch the event sets.
    pub end_epoch: Epoch,
}

/// A blob certification, proven by a certified block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenCertification {
    /// The blob.
    pub blob_id: BlobId,
    /// The certified blob object.
    pub object_id: ObjectId,
    /// Whether the object is deletable.
    pub deletable: bool,
    /// Its end epoch (exclusive) as of `height`.
    pub end_epoch: Epoch,
    /// The block holding the event.
    pub height: u64,
}

/// A server's claim about a blob does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The server claims a certification but names no block proving it.
    #[error("blob {0} is claimed certified without evidence")]
    Missing(BlobId),
    /// The named block is not (yet) followed by a committed block, so its results are unproven.
    #[error("block {0} is not followed by a certified block yet")]
    NotYetProven(u64),
    /// The named block holds no event certifying or extending the object to the end epoch.
    #[error(
        "block {height} holds no certification of {object_id} (blob {blob_id}) until {end_epoch}"
    )]
    NoSuchEvent {
        /// The blob.
        blob_id: BlobId,
        /// The object claimed.
        object_id: ObjectId,
        /// The end epoch claimed.
        end_epoch: Epoch,
        /// The block named.
        height: u64,
    },
}

impl BlobEvidence {
    /// Checks the evidence against `record`, the (already proven) block at `self.height`: one
    /// of its successful transactions emitted `BlobCertified` or `BlobExtended` for `blob_id`'s
    /// object `self.object_id` with end epoch `self.end_epoch`.
    pub fn prove(
        &self,
        blob_id: &BlobId,
        record: &crate::record::BlockRecord,
    ) -> Result<ProvenCertification, EvidenceError> {
        use crate::events::Event;
        let found = (record.block.header.height == self.height)
            .then(|| {
                record
                    .outcomes
                    .iter()
                    .filter_map(|o| match &o.status {
                        TxStatus::Success(effects) => Some(effects.events.iter()),
                        TxStatus::Failure(_) => None,
                    })
                    .flatten()
                    .find_map(|e| match e {
                        Event::BlobCertified {
                            blob_id: b,
                            object_id,
                            end_epoch,
                            deletable,
                            ..
                        }
                        | Event::BlobExtended {
                            blob_id: b,
                            object_id,
                            end_epoch,
                            deletable,
                        } if b == blob_id
                            && *object_id == self.object_id
                            && *end_epoch == self.end_epoch =>
                        {
                            Some(*deletable)
                        }
                        _ => None,
                    })
            })
            .flatten();
        match found {
            Some(deletable) => Ok(ProvenCertification {
                blob_id: *blob_id,
                object_id: self.object_id,
                deletable,
                end_epoch: self.end_epoch,
                height: self.height,
            }),
            None => Err(EvidenceError::NoSuchEvent {
                blob_id: *blob_id,
                object_id: self.object_id,
                end_epoch: self.end_epoch,
                height: self.height,
            }),
        }
    }
}

/// A storage node with its current shards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node.
    #[serde(flatten)]
    pub node: StorageNode,
    /// Shards held in the current committee (empty if not a member).
    pub shards: Vec<ShardIndex>,
}

/// `GET /v1/nodes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodesResponse {
    /// All registered nodes, in id order.
    pub nodes: Vec<NodeInfo>,
}

/// One committee member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitteeMemberInfo {
    /// Node id.
    pub node_id: NodeId,
    /// Node name.
    pub name: String,
    /// Weight (number of shards).
    pub weight: u16,
    /// The shards.
    pub shards: Vec<ShardIndex>,
    /// Protocol key.
    pub public_key: PublicKey,
    /// libp2p multiaddr.
    pub network_address: String,
    /// HTTP address.
    pub http_address: String,
    /// The node's stake for the next selection (`total_stake`; 0 if unknown).
    #[serde(default)]
    pub stake: Frost,
    /// The node's commission (basis points).
    #[serde(default)]
    pub commission_bps: u16,
}

/// Which committee a [`CommitteeResponse`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitteeRole {
    /// The committee of the current epoch (writes, certificates).
    Current,
    /// The committee that serves reads of older blobs while a sync runs.
    Previous,
    /// The committee selected for the next epoch.
    Next,
}

/// `GET /v1/committee` (current) or `GET /v1/committee?epoch=E` (current, previous or next
/// committee, whichever serves epoch `E`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitteeResponse {
    /// Epoch.
    pub epoch: Epoch,
    /// Which committee this is.
    #[serde(default = "current_role")]
    pub role: CommitteeRole,
    /// Total shards.
    pub n_shards: u16,
    /// Members in certificate order.
    pub members: Vec<CommitteeMemberInfo>,
}

fn current_role() -> CommitteeRole {
    CommitteeRole::Current
}

/// `GET /v1/proposals`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalsResponse {
    /// Every proposal, by id (open and closed).
    pub proposals: Vec<Proposal>,
}

/// `GET /v1/system`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemInfo {
    /// Chain id.
    pub chain_id: String,
    /// Current epoch.
    pub epoch: Epoch,
    /// Total shards.
    pub n_shards: u16,
    /// FROST per MiB per epoch.
    pub storage_price: Frost,
    /// FROST per MiB written.
    pub write_price: Frost,
    /// Smallest fee accepted.
    pub min_fee: Frost,
    /// Furthest storage can be bought ahead, in epochs.
    pub max_epochs_ahead: u32,
    /// Length of the current epoch (ms).
    pub epoch_duration_ms: u64,
    /// Length of epochs from the next one on (`params.epoch_duration_ms`; differs from
    /// `epoch_duration_ms` after a governance change).
    #[serde(default)]
    pub next_epoch_duration_ms: u64,
    /// Block time at which epoch 0 starts.
    pub genesis_time_ms: u64,
    /// `normal`, `next_committee_selected` or `sync`.
    #[serde(default)]
    pub epoch_state: String,
    /// During `sync`: shard weight of the members counted as synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_weight: Option<u16>,
    /// During `sync`: the epoch of the previous committee, which still serves reads of blobs
    /// certified before the change (`GET /v1/committee?epoch=…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_epoch: Option<Epoch>,
    /// Block time at which the current epoch started.
    #[serde(default)]
    pub epoch_start_ms: u64,
    /// Block time of the current epoch's midpoint (next committee selection).
    #[serde(default)]
    pub mid_epoch_ms: u64,
    /// Block time at which the next epoch starts.
    #[serde(default)]
    pub next_epoch_at_ms: u64,
    /// Total capacity voted (encoded bytes per epoch).
    #[serde(default)]
    pub capacity: u64,
    /// Encoded bytes reserved for the current epoch.
    #[serde(default)]
    pub capacity_used: u64,
    /// Most nodes in a committee.
    #[serde(default)]
    pub active_set_size: u16,
    /// Most shards per node.
    #[serde(default)]
    pub max_shards_per_node: u16,
    /// WAL escrowed for current and future epochs' committees.
    #[serde(default)]
    pub escrow: Frost,
    /// WAL staked (pools and withdrawable stake).
    #[serde(default)]
    pub total_staked: Frost,
    /// WAL burned by slashing.
    #[serde(default)]
    pub total_burned: Frost,
    /// Faucet, if enabled.
    pub faucet: Option<FaucetParams>,
    /// All WAL in existence.
    pub total_supply: Frost,
    /// Height of the last committed block.
    pub tip_height: u64,
    /// Its hash.
    pub tip_hash: BlockHash,
    /// Its timestamp.
    pub tip_timestamp_ms: u64,
    /// State digest after it.
    pub app_hash: Digest,
}

/// `GET /v1/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsResponse {
    /// Events in cursor order.
    pub events: Vec<EventRecord>,
    /// Pass as `after` next time (`height:index`).
    #[serde(with = "cursor_text")]
    pub next: EventCursor,
}

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResponse {
    /// Chain id.
    pub chain_id: String,
    /// Tip height.
    pub height: u64,
    /// Tip hash.
    pub block_hash: BlockHash,
    /// Pending transactions.
    pub mempool: usize,
    /// Number of validators.
    pub validators: usize,
}

mod cursor_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::record::EventCursor;

    pub(super) fn serialize<S: Serializer>(c: &EventCursor, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(c)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<EventCursor, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{Block, BlockHeader};
    use crate::cert::{CommitCertificate, ValidatorAddress};
    use crate::events::{Effects, Event};
    use crate::record::BlockRecord;

    fn record(height: u64, events: Vec<Event>) -> BlockRecord {
        let header = BlockHeader {
            chain_id: "c".into(),
            height,
            parent_hash: BlockHash::GENESIS_PARENT,
            timestamp_ms: 1,
            proposer: ValidatorAddress([1; 32]),
            tx_root: Digest([0; 32]),
            app_hash: Digest([0; 32]),
        };
        let ok = |events| TxOutcome {
            digest: TxDigest([2; 32]),
            status: TxStatus::Success(Effects {
                digest: TxDigest([2; 32]),
                fee_charged: Frost(1),
                created: Vec::new(),
                mutated: Vec::new(),
                deleted: Vec::new(),
                events,
            }),
        };
        BlockRecord {
            certificate: CommitCertificate {
                height,
                round: 0,
                block_hash: header.hash(),
                signatures: Vec::new(),
            },
            block: Block {
                header,
                txs: Vec::new(),
            },
            outcomes: vec![ok(Vec::new()), ok(events)],
            app_hash: Digest([0; 32]),
            system_events: Vec::new(),
            changes_digest: Digest([0; 32]),
        }
    }

    #[test]
    fn evidence_proves_only_the_event_it_names() {
        let (blob, other_blob) = (BlobId([5; 32]), BlobId([6; 32]));
        let object = ObjectId([7; 32]);
        let certified = Event::BlobCertified {
            blob_id: blob,
            object_id: object,
            end_epoch: Epoch(9),
            deletable: false,
            epoch: Epoch(1),
        };
        let evidence = BlobEvidence {
            object_id: object,
            height: 4,
            end_epoch: Epoch(9),
        };
        let proven = evidence
            .prove(&blob, &record(4, vec![certified.clone()]))
            .unwrap();
        assert_eq!(
            (proven.end_epoch, proven.height, proven.deletable),
            (Epoch(9), 4, false)
        );
        // An extension proves its new end epoch too.
        let extended = Event::BlobExtended {
            blob_id: blob,
            object_id: object,
            end_epoch: Epoch(9),
            deletable: true,
        };
        assert!(
            evidence
                .prove(&blob, &record(4, vec![extended]))
                .unwrap()
                .deletable
        );
        // Another block, blob, object or end epoch: not proven.
        let refuse = |e: &BlobEvidence, b: &BlobId, r: &BlockRecord| {
            assert!(matches!(
                e.prove(b, r),
                Err(EvidenceError::NoSuchEvent { .. })
            ));
        };
        refuse(&evidence, &blob, &record(5, vec![certified.clone()]));
        refuse(&evidence, &other_blob, &record(4, vec![certified.clone()]));
        let later = BlobEvidence {
            end_epoch: Epoch(10),
            ..evidence
        };
        refuse(&later, &blob, &record(4, vec![certified.clone()]));
        let elsewhere = BlobEvidence {
            object_id: ObjectId([8; 32]),
            ..evidence
        };
        refuse(&elsewhere, &blob, &record(4, vec![certified]));
        // A registration is not a certification.
        let registered = Event::BlobRegistered {
            blob_id: blob,
            object_id: object,
            epoch: Epoch(1),
            end_epoch: Epoch(9),
            deletable: false,
            size: 1,
            encoding_type: floe_common::EncodingType::RedStuffRs2,
        };
        refuse(&evidence, &blob, &record(4, vec![registered]));
    }
}

/// Most ranks in one `GET /v1/challenges/blobs` request (a node asks for its draws' blobs,
/// at most [`crate::genesis::MAX_CHALLENGES_PER_NODE`]).
pub const MAX_CHALLENGE_RANKS: usize = 64;

/// `GET /v1/challenges`: the storage challenges of the current epoch and the last settled
/// round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengesResponse {
    /// The current epoch.
    pub epoch: Epoch,
    /// The current epoch's round (none in epoch 0 or while challenges are disabled).
    pub current: Option<crate::objects::ChallengeRound>,
    /// The last settled round before it.
    pub last: Option<crate::objects::ChallengeRound>,
}

/// `GET /v1/challenges/blobs?ranks=…`: the blobs of some ranks of the current round's
/// snapshot, each with its path to the round's `snapshot_root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeBlobsResponse {
    /// The round's epoch.
    pub epoch: Epoch,
    /// Blobs in the snapshot.
    pub live_blobs: u64,
    /// The snapshot's Merkle root (also in the round's `ChallengesStarted` event).
    pub snapshot_root: Digest,
    /// One entry per rank asked, in the order asked.
    pub blobs: Vec<floe_common::challenge::RankedBlob>,
}
