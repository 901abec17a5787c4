//! The records the ledger keeps: accounts, objects, the per-blob-id index, storage nodes, the
//! committee and the system record.

use std::collections::{BTreeMap, BTreeSet};

use floe_common::{
    BlobId, Committee, EncodingType, Epoch, Frost, NodeId, ObjectId, PublicKey, ShardIndex,
};
use serde::{Deserialize, Serialize};

use crate::genesis::{FaucetParams, Params};
use crate::tx::Address;

/// An account: a WAL balance and the next transaction nonce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Balance.
    pub balance: Frost,
    /// The nonce the next transaction from this account must carry.
    pub nonce: u64,
}

/// A storage resource: `size` bytes (encoded) for epochs `[start_epoch, end_epoch)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageResource {
    /// Owner.
    pub owner: Address,
    /// First epoch (inclusive).
    pub start_epoch: Epoch,
    /// End epoch (exclusive).
    pub end_epoch: Epoch,
    /// Bytes of encoded data.
    pub size: u64,
}

/// A registered blob: one registration of a blob id, paid for until `end_epoch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobObject {
    /// Owner.
    pub owner: Address,
    /// The blob.
    pub blob_id: BlobId,
    /// Epoch of registration.
    pub registered_epoch: Epoch,
    /// Epoch of certification, if certified.
    pub certified_epoch: Option<Epoch>,
    /// Start epoch of the storage it was registered with.
    pub start_epoch: Epoch,
    /// Available while `epoch < end_epoch`.
    pub end_epoch: Epoch,
    /// Storage size (encoded bytes) paid for.
    pub size: u64,
    /// Length before encoding.
    pub unencoded_length: u64,
    /// Encoding.
    pub encoding_type: EncodingType,
    /// Whether the owner may delete it.
    pub deletable: bool,
    /// Whether the blob id was invalidated.
    pub invalid: bool,
    /// Attributes (e.g. `content-type`).
    pub attributes: BTreeMap<String, String>,
}

impl BlobObject {
    /// Whether the blob is certified.
    pub fn is_certified(&self) -> bool {
        self.certified_epoch.is_some()
    }
}

/// WAL staked with a storage node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakedWal {
    /// Owner.
    pub owner: Address,
    /// The node staked with.
    pub node: NodeId,
    /// Principal.
    pub amount: Frost,
    /// First epoch in which the stake counts for committee selection.
    pub activation_epoch: Epoch,
    /// Epoch of the withdrawal request, if any.
    pub withdrawal_requested_epoch: Option<Epoch>,
    /// Rewards accrued so far, paid out with the principal on withdrawal (always zero until
    /// rewards are distributed by a later version).
    pub rewards: Frost,
}

/// An owned object on the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Object {
    /// A storage resource.
    Storage(StorageResource),
    /// A blob registration.
    Blob(BlobObject),
    /// Staked WAL.
    StakedWal(StakedWal),
}

impl Object {
    /// The owner.
    pub fn owner(&self) -> Address {
        match self {
            Object::Storage(s) => s.owner,
            Object::Blob(b) => b.owner,
            Object::StakedWal(s) => s.owner,
        }
    }

    /// The type name (`"storage"`, `"blob"`, `"staked_wal"`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Object::Storage(_) => "storage",
            Object::Blob(_) => "blob",
            Object::StakedWal(_) => "staked_wal",
        }
    }

    /// WAL held inside the object (staked principal and rewards).
    pub(crate) fn escrow(&self) -> Option<Frost> {
        match self {
            Object::StakedWal(s) => s.amount.checked_add(s.rewards),
            _ => Some(Frost::ZERO),
        }
    }
}

/// What the ledger knows about a blob id, over all its blob objects (like Walrus's blob status).
/// Counts include registrations that have expired but were not deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobIdInfo {
    /// Registered (and not deleted) permanent blob objects.
    pub registered_permanent: u32,
    /// Registered (and not deleted) deletable blob objects.
    pub registered_deletable: u32,
    /// Certified (and not deleted) permanent blob objects.
    pub certified_permanent: u32,
    /// Certified (and not deleted) deletable blob objects.
    pub certified_deletable: u32,
    /// The latest end epoch of the certified, not deleted blob objects.
    pub max_certified_end_epoch: Option<Epoch>,
    /// The first epoch in which any blob object of this id was certified.
    pub initial_certified_epoch: Option<Epoch>,
    /// Epoch of invalidation, if the blob id was invalidated.
    pub invalidated_epoch: Option<Epoch>,
    /// The blob objects of this id (not deleted).
    pub objects: BTreeSet<ObjectId>,
}

impl BlobIdInfo {
    /// Whether the blob id was invalidated.
    pub fn is_invalid(&self) -> bool {
        self.invalidated_epoch.is_some()
    }
}

/// A storage node's votes on prices and capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeVotes {
    /// FROST per MiB per epoch.
    pub storage_price: Frost,
    /// FROST per MiB written.
    pub write_price: Frost,
    /// Capacity in bytes.
    pub capacity: u64,
}

/// A registered storage node and its stake pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageNode {
    /// Id (`BLAKE3("floe/node" ‖ public_key)`).
    pub node_id: NodeId,
    /// Unique name.
    pub name: String,
    /// ed25519 protocol key (signs confirmations).
    pub public_key: PublicKey,
    /// libp2p multiaddr.
    pub network_address: String,
    /// HTTP address.
    pub http_address: String,
    /// Commission in basis points.
    pub commission_bps: u16,
    /// Price and capacity votes.
    pub votes: NodeVotes,
    /// Stake counting towards the node (withdrawal-requested stake excluded).
    pub total_stake: Frost,
    /// The operator account.
    pub owner: Address,
}

/// The storage committee and each member's shards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitteeState {
    /// The committee (weights = shard counts, members in node-id order).
    pub committee: Committee,
    /// Each member's shards, consecutive in node-id order at genesis.
    pub shards: BTreeMap<NodeId, Vec<ShardIndex>>,
}

impl CommitteeState {
    /// The same members and shards for `epoch`.
    pub(crate) fn with_epoch(&self, epoch: Epoch) -> CommitteeState {
        let committee = Committee::new(
            epoch,
            self.committee.n_shards(),
            self.committee.members().to_vec(),
        )
        .expect("an existing committee stays valid under a new epoch");
        CommitteeState {
            committee,
            shards: self.shards.clone(),
        }
    }
}

/// System-wide state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemState {
    /// Chain id (part of every transaction's signed bytes).
    pub chain_id: String,
    /// Block time of epoch 0's start.
    pub genesis_time_ms: u64,
    /// Protocol parameters.
    pub params: Params,
    /// Faucet, if enabled.
    pub faucet: Option<FaucetParams>,
    /// Number of shards.
    pub n_shards: u16,
    /// The current epoch.
    pub epoch: Epoch,
    /// Current storage price (FROST per MiB per epoch).
    pub storage_price: Frost,
    /// Current write price (FROST per MiB).
    pub write_price: Frost,
    /// All WAL in existence: balances + fee pool + storage fund + staked WAL.
    pub total_supply: Frost,
    /// Transaction fees collected.
    pub fee_pool: Frost,
    /// Storage and write payments held for distribution to storage nodes.
    pub storage_fund: Frost,
    /// WAL held in `StakedWal` objects (principal and rewards).
    pub total_staked: Frost,
}
