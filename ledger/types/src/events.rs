//! What a successful transaction did: effects and events.

use floe_common::{BlobId, EncodingType, Epoch, Frost, NodeId, ObjectId, ShardIndex};
use serde::{Deserialize, Serialize};

use crate::objects::{NodeVotes, ProposalChange};
use crate::tx::{Address, TxDigest};

/// A committee member's shards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberShards {
    /// The node.
    pub node: NodeId,
    /// Its shards, ascending.
    pub shards: Vec<ShardIndex>,
}

/// A shard that changes holder: `to` pulls its slivers from `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMove {
    /// The shard.
    pub shard: ShardIndex,
    /// The holder in the committee the data comes from.
    pub from: NodeId,
    /// The new holder.
    pub to: NodeId,
}

/// One node's reward for an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReward {
    /// The node.
    pub node: NodeId,
    /// Its share of the epoch's payments (commission included).
    pub reward: Frost,
    /// The operator's commission (the rest went to the staking pool).
    pub commission: Frost,
}

/// An event for storage nodes and clients. The caller assigns each event its stable cursor
/// (block height, index).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// WAL moved between accounts.
    Transfer {
        /// Payer.
        from: Address,
        /// Payee.
        to: Address,
        /// Amount.
        amount: Frost,
    },
    /// The faucet minted WAL.
    Minted {
        /// Recipient.
        to: Address,
        /// Amount.
        amount: Frost,
    },
    /// Storage was bought.
    StorageReserved {
        /// The new storage object.
        object_id: ObjectId,
        /// Owner.
        owner: Address,
        /// Start epoch.
        start_epoch: Epoch,
        /// End epoch (exclusive).
        end_epoch: Epoch,
        /// Size (encoded bytes).
        size: u64,
        /// Price paid.
        cost: Frost,
    },
    /// A blob was registered: nodes may accept its slivers.
    BlobRegistered {
        /// The blob.
        blob_id: BlobId,
        /// The blob object.
        object_id: ObjectId,
        /// Epoch of registration.
        epoch: Epoch,
        /// End epoch (exclusive).
        end_epoch: Epoch,
        /// Deletable.
        deletable: bool,
        /// Length before encoding.
        size: u64,
        /// Encoding.
        encoding_type: EncodingType,
    },
    /// A blob was certified: the point of availability.
    BlobCertified {
        /// The blob.
        blob_id: BlobId,
        /// The blob object.
        object_id: ObjectId,
        /// End epoch (exclusive).
        end_epoch: Epoch,
        /// Deletable.
        deletable: bool,
        /// Epoch of certification.
        epoch: Epoch,
    },
    /// A certified blob's end epoch moved later.
    BlobExtended {
        /// The blob.
        blob_id: BlobId,
        /// The blob object.
        object_id: ObjectId,
        /// The new end epoch.
        end_epoch: Epoch,
        /// Whether deletable.
        deletable: bool,
    },
    /// A deletable blob object was deleted.
    BlobDeleted {
        /// The blob.
        blob_id: BlobId,
        /// The deleted blob object.
        object_id: ObjectId,
        /// Its end epoch.
        end_epoch: Epoch,
        /// Whether it was certified.
        was_certified: bool,
        /// Epoch of deletion.
        epoch: Epoch,
    },
    /// A blob id was invalidated: nodes drop its data.
    BlobInvalidated {
        /// The blob.
        blob_id: BlobId,
        /// Epoch of invalidation.
        epoch: Epoch,
    },
    /// A storage node registered.
    NodeRegistered {
        /// Node id.
        node: NodeId,
        /// Name.
        name: String,
        /// Operator.
        owner: Address,
    },
    /// A node's stake changed.
    StakeChanged {
        /// Node id.
        node: NodeId,
        /// Its new total stake.
        total: Frost,
    },
    /// An epoch-state-machine event (see [`EpochEvent`]).
    Epoch(EpochEvent),
    /// A node's price and capacity votes changed.
    NodeVotesSet {
        /// The node.
        node: NodeId,
        /// Its votes.
        votes: NodeVotes,
    },
    /// Prices or capacity changed (after a vote or an epoch change).
    PricesUpdated {
        /// FROST per MiB per epoch.
        storage_price: Frost,
        /// FROST per MiB written.
        write_price: Frost,
        /// Total capacity (bytes).
        capacity: u64,
    },
    /// A node's owner collected commission.
    CommissionCollected {
        /// The node.
        node: NodeId,
        /// The owner.
        owner: Address,
        /// Amount.
        amount: Frost,
    },
    /// Governance burned a node's uncollected commission.
    CommissionSlashed {
        /// The node.
        node: NodeId,
        /// Amount burned.
        amount: Frost,
    },
    /// A governance proposal was created.
    ProposalCreated {
        /// Id.
        id: u64,
        /// Proposer.
        proposer: Address,
        /// The change.
        change: ProposalChange,
        /// Last epoch for votes.
        deadline_epoch: Epoch,
    },
    /// Votes were cast on a proposal.
    ProposalVoted {
        /// Id.
        id: u64,
        /// The committee nodes whose weight voted.
        nodes: Vec<NodeId>,
        /// Approve or reject.
        approve: bool,
        /// Approving weight now.
        approve_weight: u16,
        /// Rejecting weight now.
        reject_weight: u16,
    },
    /// A proposal reached quorum and was executed.
    ProposalExecuted {
        /// Id.
        id: u64,
        /// The change applied.
        change: ProposalChange,
    },
    /// A proposal can no longer reach quorum.
    ProposalRejected {
        /// Id.
        id: u64,
    },
    /// A proposal's deadline passed.
    ProposalExpired {
        /// Id.
        id: u64,
    },
    /// Staked WAL was withdrawn.
    Withdrawn {
        /// The deleted `StakedWal`.
        staked: ObjectId,
        /// Recipient.
        owner: Address,
        /// Principal returned.
        amount: Frost,
        /// Rewards paid.
        rewards: Frost,
    },
    /// A site was created.
    SiteCreated {
        /// The site object.
        site: ObjectId,
        /// Its owner.
        owner: Address,
    },
    /// A site was changed.
    SiteUpdated {
        /// The site object.
        site: ObjectId,
        /// Its new version.
        version: u64,
    },
    /// A site was deleted.
    SiteDeleted {
        /// The site object.
        site: ObjectId,
    },
    /// A name was claimed (or reclaimed after it expired).
    NameClaimed {
        /// The name.
        name: String,
        /// Its owner.
        owner: Address,
        /// The site it names.
        site: Option<ObjectId>,
        /// First epoch it is no longer held.
        expires: Epoch,
        /// Price paid.
        cost: Frost,
    },
    /// A name was renewed.
    NameRenewed {
        /// The name.
        name: String,
        /// Its new expiry.
        expires: Epoch,
        /// Price paid.
        cost: Frost,
    },
    /// A name changed owner.
    NameTransferred {
        /// The name.
        name: String,
        /// Previous owner.
        from: Address,
        /// New owner.
        to: Address,
    },
    /// A name was pointed at a site (or at nothing).
    NameSiteSet {
        /// The name.
        name: String,
        /// The site.
        site: Option<ObjectId>,
    },
    /// A blob object changed owner.
    BlobTransferred {
        /// The blob.
        blob_id: BlobId,
        /// The blob object.
        object_id: ObjectId,
        /// Previous owner.
        from: Address,
        /// New owner.
        to: Address,
    },
    /// A blob object became a shared blob (same object id).
    BlobShared {
        /// The blob.
        blob_id: BlobId,
        /// The shared blob.
        object_id: ObjectId,
        /// The account that shared it.
        by: Address,
        /// Its funds now.
        funds: Frost,
    },
    /// WAL was added to a shared blob's funds.
    SharedBlobFunded {
        /// The shared blob.
        object_id: ObjectId,
        /// The payer.
        by: Address,
        /// Amount added.
        amount: Frost,
        /// Its funds now.
        funds: Frost,
    },
    /// A shared blob paid an extension from its funds (with a `BlobExtended` event).
    SharedBlobSpent {
        /// The shared blob.
        object_id: ObjectId,
        /// Amount paid into the escrow of the added epochs.
        amount: Frost,
        /// Its funds now.
        funds: Frost,
    },
    /// An expired or invalidated blob object was burned: removed without returning storage.
    /// (A live deletable one burned is deleted instead: `BlobDeleted`.)
    BlobBurned {
        /// The blob.
        blob_id: BlobId,
        /// The removed blob object.
        object_id: ObjectId,
        /// Its end epoch.
        end_epoch: Epoch,
        /// Whether it was deletable.
        deletable: bool,
        /// Whether it was certified.
        was_certified: bool,
        /// Epoch of burning.
        epoch: Epoch,
    },
    /// An access policy was created.
    PolicyCreated {
        /// The policy.
        policy: ObjectId,
        /// Its owner.
        owner: Address,
        /// Its rule's kind (`owner`, `allowlist`, …).
        kind: String,
    },
    /// An allowlist changed.
    AllowlistUpdated {
        /// The policy.
        policy: ObjectId,
        /// Its version now.
        version: u64,
        /// Members now.
        members: u32,
    },
    /// A reader paid for access to a policy.
    AccessPaid {
        /// The policy.
        policy: ObjectId,
        /// The reader.
        reader: Address,
        /// The first epoch without access now.
        until: Epoch,
        /// What was paid to the policy's owner.
        price: Frost,
    },
}

/// The epoch-related events. Emitted by [`crate::State::begin_block`] (block events, no
/// transaction) except [`EpochEvent::ShardsSynced`], and [`EpochEvent::SyncDone`] when a
/// transaction completes the sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpochEvent {
    /// Mid-epoch: the committee of `epoch` (the next one) is fixed.
    NextCommitteeSelected {
        /// The epoch the committee serves.
        epoch: Epoch,
        /// Its members and shards, in node-id order.
        members: Vec<MemberShards>,
        /// Shards that will change holder at the epoch change.
        moves: Vec<ShardMove>,
    },
    /// The epoch changed: the committee of `epoch` takes writes from now on.
    EpochChanged {
        /// The new epoch.
        epoch: Epoch,
        /// Its (scheduled) start time.
        start_ms: u64,
        /// When the next epoch starts.
        next_epoch_at_ms: u64,
        /// The new committee's members and shards.
        members: Vec<MemberShards>,
        /// Shards that move: `to` must fetch them from `from`, a member of the previous
        /// committee (`previous_epoch`). Empty: nothing to sync.
        moves: Vec<ShardMove>,
        /// The epoch of the committee that serves reads of older blobs until sync is done.
        previous_epoch: Epoch,
    },
    /// A member of the new committee reported its shards synced.
    ShardsSynced {
        /// The epoch.
        epoch: Epoch,
        /// The node.
        node: NodeId,
        /// Shard weight counted as synced so far.
        synced_weight: u16,
    },
    /// A quorum of the new committee holds its shards: reads move to the new committee.
    SyncDone {
        /// The epoch.
        epoch: Epoch,
    },
    /// The payments escrowed for `epoch` were paid to its committee.
    RewardsPaid {
        /// The epoch that ended.
        epoch: Epoch,
        /// Total paid out.
        total: Frost,
        /// Per node.
        nodes: Vec<NodeReward>,
        /// Rounding leftover carried to the next epoch's escrow.
        leftover: Frost,
        /// Rewards of members that failed their storage challenges, carried to the next
        /// epoch's escrow (not part of `leftover` nor of `nodes`).
        forfeited: Frost,
    },
    /// The storage challenges of `epoch` are drawn: each member computes its `k` draws with
    /// [`floe_common::challenge::challenges`] from `seed` over the `live_blobs` blobs of the
    /// epoch's start and proves them before `closes_ms`.
    ChallengesStarted {
        /// The epoch.
        epoch: Epoch,
        /// The seed.
        seed: floe_common::Digest,
        /// Draws per node.
        k: u16,
        /// Live blobs ranked.
        live_blobs: u64,
        /// Merkle root over the ranked blob ids
        /// ([`floe_common::challenge::snapshot_root`]): a prover checks the blob of each drawn
        /// rank against it.
        snapshot_root: floe_common::Digest,
        /// Proofs are accepted in blocks before this time.
        closes_ms: u64,
    },
    /// The challenge window of `epoch` closed (or the epoch ended first): who proved.
    ChallengeResults {
        /// The epoch.
        epoch: Epoch,
        /// Members that proved (or had nothing to prove), in id order.
        passed: Vec<NodeId>,
        /// Members that did not, in id order: they forfeit the epoch's rewards.
        failed: Vec<NodeId>,
    },
    /// A member's storage proofs for `epoch` all verified.
    StorageProved {
        /// The epoch.
        epoch: Epoch,
        /// The node.
        node: NodeId,
        /// Proofs checked.
        proofs: u16,
    },
}

/// What a successful transaction did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effects {
    /// The transaction.
    pub digest: TxDigest,
    /// Fee paid to the fee pool.
    pub fee_charged: Frost,
    /// Objects created, in creation order.
    pub created: Vec<ObjectId>,
    /// Pre-existing objects changed, in id order.
    pub mutated: Vec<ObjectId>,
    /// Pre-existing objects deleted, in id order.
    pub deleted: Vec<ObjectId>,
    /// Events, in order.
    pub events: Vec<Event>,
}
