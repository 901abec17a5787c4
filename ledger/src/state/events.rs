//! What a successful transaction did: effects and events.

use floe_common::{BlobId, EncodingType, Epoch, Frost, NodeId, ObjectId};
use serde::{Deserialize, Serialize};

use crate::tx::{Address, TxDigest};

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
