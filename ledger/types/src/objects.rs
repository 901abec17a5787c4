//! The records the ledger keeps: accounts, objects, the per-blob-id index, storage nodes, the
//! committee and the system record.

use std::collections::{BTreeMap, BTreeSet};

use floe_common::{
    BlobId, Committee, Digest, EncodingType, Epoch, Frost, NodeId, ObjectId, PublicKey, ShardIndex,
};
use serde::{Deserialize, Serialize};

use crate::genesis::{FaucetParams, Params};
use crate::tx::{Address, TxDigest};

/// Bytes per pricing unit (1 MiB).
pub const MIB: u64 = 1 << 20;

/// What storing `size` encoded bytes costs at `unit_price` per MiB (rounded up) for `epochs`
/// epochs (a write price is the same with one epoch); `None` on overflow. The ledger charges
/// exactly this, and clients price their stores with it.
pub fn price(unit_price: Frost, size: u64, epochs: u64) -> Option<Frost> {
    unit_price
        .checked_mul(size.div_ceil(MIB))
        .and_then(|p| p.checked_mul(epochs))
}

/// `BLAKE3(digest ‖ index u32 LE)`: the id of the `index`-th object created by a transaction
/// (or by genesis, with the genesis digest).
pub fn derive_object_id(digest: &TxDigest, index: u32) -> ObjectId {
    let mut h = blake3::Hasher::new();
    h.update(&digest.0);
    h.update(&index.to_le_bytes());
    ObjectId(*h.finalize().as_bytes())
}

/// An account: a WAL balance, the next transaction nonce, and what it drew from the faucet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Balance.
    pub balance: Frost,
    /// The nonce the next transaction from this account must carry.
    pub nonce: u64,
    /// WAL this account drew from the faucet over the chain's life (capped by
    /// [`FaucetParams::max_per_account`]); always zero without a faucet.
    #[serde(default)]
    pub faucet_drawn: Frost,
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
    /// Height of the block whose event last set this object's registration, certification or
    /// end epoch (its `BlobRegistered`, `BlobCertified` or `BlobExtended` event): where a
    /// client proves them ([`BlobEvidence`](crate::rpc::BlobEvidence)).
    pub changed_at: u64,
}

impl BlobObject {
    /// Whether the blob is certified.
    pub fn is_certified(&self) -> bool {
        self.certified_epoch.is_some()
    }
}

/// A shared blob: a certified blob that nobody owns, with WAL that pays for its extensions.
///
/// Anyone may add to `funds` and extend it from them; nobody may delete, burn or transfer it,
/// or change its attributes. Its object id is the one of the blob object it was made from, and
/// [`Object::owner`] is [`Address::SHARED`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedBlob {
    /// The blob (its `owner` is [`Address::SHARED`]).
    pub blob: BlobObject,
    /// WAL held for extensions (counted in the supply).
    pub funds: Frost,
}

/// Where a `StakedWal` is in its life (see the staking module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StakeStatus {
    /// Waiting for `activation_epoch`; its principal is in the pool's `pending_stake`.
    Pending,
    /// Holds `shares` of the pool: earns rewards and counts for committee selection.
    Active,
    /// Withdrawal requested: still in the pool (and earning) until `withdraw_epoch`.
    Withdrawing,
    /// Left the pool: `amount + rewards` is held in the object until `Withdraw`.
    Withdrawable,
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
    /// First epoch in which the stake is active (earns rewards, counts for the committee).
    pub activation_epoch: Epoch,
    /// Epoch of the withdrawal request, if any.
    pub withdrawal_requested_epoch: Option<Epoch>,
    /// Epoch at which the stake leaves the pool (withdrawable from then on), once requested.
    pub withdraw_epoch: Option<Epoch>,
    /// Pool shares (set at activation; 0 while pending and after leaving the pool).
    pub shares: u64,
    /// Rewards: set when the stake leaves the pool (its value then minus the principal).
    pub rewards: Frost,
    /// Life-cycle status.
    pub status: StakeStatus,
}

impl StakedWal {
    /// Whether `Withdraw` may pay it out (apart from the sync lock of leaving nodes).
    pub fn is_withdrawable(&self) -> bool {
        self.status == StakeStatus::Withdrawable
    }
}

/// A website: its record maps paths to quilt patches (see `floe_common::site`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteObject {
    /// Owner: may update and delete it.
    pub owner: Address,
    /// Paths, routes, redirects, 404 page, headers.
    pub record: floe_common::site::SiteRecord,
    /// 0 when created, +1 per update.
    pub version: u64,
    /// Epoch of creation.
    pub created_epoch: Epoch,
}

/// A human-readable name, held until `expires` and pointing at a site. Its object id is
/// [`name_object_id`], so a name is looked up without an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameObject {
    /// The name (a hostname label, `floe_common::site::validate_name`).
    pub name: String,
    /// Owner: may renew, transfer and point it.
    pub owner: Address,
    /// The site it names, if any.
    pub site: Option<ObjectId>,
    /// The first epoch in which it is no longer held (anyone may claim it from then on).
    pub expires: Epoch,
}

/// The object id of name `name`: `BLAKE3("floe/name/v1" ‖ name)`.
pub fn name_object_id(name: &str) -> ObjectId {
    let mut h = blake3::Hasher::new();
    h.update(b"floe/name/v1");
    h.update(name.as_bytes());
    ObjectId(*h.finalize().as_bytes())
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
    /// A website.
    Site(SiteObject),
    /// A name.
    Name(NameObject),
    /// A shared blob (owned by [`Address::SHARED`]).
    SharedBlob(SharedBlob),
    /// An access policy for private blobs.
    Policy(crate::policy::PolicyObject),
    /// A reader's paid access to a policy.
    Access(crate::policy::AccessObject),
}

impl Object {
    /// The owner.
    pub fn owner(&self) -> Address {
        match self {
            Object::Storage(s) => s.owner,
            Object::Blob(b) => b.owner,
            Object::StakedWal(s) => s.owner,
            Object::Site(s) => s.owner,
            Object::Name(n) => n.owner,
            Object::SharedBlob(s) => s.blob.owner,
            Object::Policy(p) => p.owner,
            Object::Access(a) => a.reader,
        }
    }

    /// The type name (`"storage"`, `"blob"`, `"staked_wal"`, `"site"`, `"name"`,
    /// `"shared_blob"`, `"policy"`, `"access"`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Object::Storage(_) => "storage",
            Object::Blob(_) => "blob",
            Object::StakedWal(_) => "staked_wal",
            Object::Site(_) => "site",
            Object::Name(_) => "name",
            Object::SharedBlob(_) => "shared_blob",
            Object::Policy(_) => "policy",
            Object::Access(_) => "access",
        }
    }

    /// WAL held inside the object: a withdrawable stake's principal and rewards, or a shared
    /// blob's funds.
    pub fn escrow(&self) -> Option<Frost> {
        match self {
            Object::StakedWal(s) if s.status == StakeStatus::Withdrawable => {
                s.amount.checked_add(s.rewards)
            }
            Object::SharedBlob(s) => Some(s.funds),
            _ => Some(Frost::ZERO),
        }
    }

    /// The blob of a blob object or of a shared blob.
    pub fn as_blob(&self) -> Option<&BlobObject> {
        match self {
            Object::Blob(b) => Some(b),
            Object::SharedBlob(s) => Some(&s.blob),
            _ => None,
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
    /// Stake that counts at the next committee selection: the pool's active WAL minus the
    /// value of shares whose withdrawal is requested, plus pending stake.
    pub total_stake: Frost,
    /// The operator account.
    pub owner: Address,
    /// The node's staking pool.
    pub pool: StakingPool,
}

/// A node's staking pool: share accounting for stakers and the operator's commission.
///
/// The exchange rate is `active_wal / shares`; rewards raise `active_wal` only, so the rate
/// never falls and every active share gains the same.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakingPool {
    /// WAL backing the active shares (principal plus compounded rewards).
    pub active_wal: Frost,
    /// Shares outstanding (active and withdrawing stakes).
    pub shares: u64,
    /// Principal waiting for activation, by activation epoch.
    #[serde(with = "epoch_map")]
    pub pending_stake: BTreeMap<Epoch, Frost>,
    /// Shares leaving the pool, by withdraw epoch.
    #[serde(with = "epoch_map")]
    pub pending_withdrawal: BTreeMap<Epoch, u64>,
    /// `StakedWal` objects to activate or pay out at the start of an epoch.
    #[serde(with = "epoch_map")]
    pub pending_objects: BTreeMap<Epoch, Vec<ObjectId>>,
    /// Commission the owner can collect.
    pub commission: Frost,
    /// Commission earned at the last epoch change; collectable after the next one (and
    /// slashable by governance until then).
    pub commission_locked: Frost,
}

impl StakingPool {
    /// The WAL value of `shares` at the current rate (rounded down).
    pub fn value_of(&self, shares: u64) -> Frost {
        if self.shares == 0 {
            return Frost::ZERO;
        }
        let v = u128::from(shares) * u128::from(self.active_wal.0) / u128::from(self.shares);
        Frost(u64::try_from(v).unwrap_or(u64::MAX))
    }

    /// Shares bought by `amount` at the current rate (rounded down; 1:1 in an empty pool).
    pub fn shares_for(&self, amount: Frost) -> u64 {
        if self.shares == 0 || self.active_wal == Frost::ZERO {
            return amount.0;
        }
        let s = u128::from(amount.0) * u128::from(self.shares) / u128::from(self.active_wal.0);
        u64::try_from(s).unwrap_or(u64::MAX)
    }

    /// All WAL held by the pool (active, pending, commission).
    pub fn held(&self) -> Option<Frost> {
        self.pending_stake
            .values()
            .try_fold(self.active_wal, |a, f| a.checked_add(*f))?
            .checked_add(self.commission)?
            .checked_add(self.commission_locked)
    }

    /// Stake counting at the next committee selection (see [`StorageNode::total_stake`]).
    pub fn next_stake(&self) -> Frost {
        let leaving: u64 = self.pending_withdrawal.values().copied().sum();
        let active = self.active_wal.0.saturating_sub(self.value_of(leaving).0);
        let pending: u64 = self.pending_stake.values().map(|f| f.0).sum();
        Frost(active.saturating_add(pending))
    }
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
    pub fn with_epoch(&self, epoch: Epoch) -> CommitteeState {
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
    /// Where the epoch is in its life.
    pub epoch_state: EpochState,
    /// Members counted synced for the current epoch's change, kept after `SyncDone` so a
    /// gaining node that finishes after the quorum can still report (its previous holders then
    /// drop what they handed over); empty in epoch 0 and reset at each change.
    pub epoch_synced: std::collections::BTreeSet<NodeId>,
    /// Block time at which the current epoch started (scheduled, not the block's time).
    pub epoch_start_ms: u64,
    /// Length of the current epoch (`params.epoch_duration_ms` applies from the next one).
    pub epoch_duration_ms: u64,
    /// Current storage price (FROST per MiB per epoch).
    pub storage_price: Frost,
    /// Current write price (FROST per MiB).
    pub write_price: Frost,
    /// Current total capacity (encoded bytes that may be reserved per epoch).
    pub capacity: u64,
    /// All WAL in existence: balances + fee pool + escrow + pools + withdrawable stake.
    pub total_supply: Frost,
    /// WAL burned by slashing (already subtracted from `total_supply`).
    pub total_burned: Frost,
    /// Transaction fees collected.
    pub fee_pool: Frost,
    /// Per future epoch: payments held for that epoch's committee and storage reserved.
    #[serde(with = "epoch_map")]
    pub epoch_accounts: BTreeMap<Epoch, EpochAccount>,
    /// WAL staked: pools' active and pending WAL plus withdrawable `StakedWal` objects
    /// (commission excluded).
    pub total_staked: Frost,
    /// Id of the next governance proposal.
    pub next_proposal_id: u64,
    /// What the faucet minted (all zero without a faucet).
    #[serde(default)]
    pub faucet_minted: FaucetMinted,
}

/// What the faucet minted, all accounts together: over the chain's life
/// ([`FaucetParams::max_total`]) and in the last epoch it minted in
/// ([`FaucetParams::max_per_epoch`]). The epoch count starts again from zero at the first mint
/// of a later epoch ([`FaucetMinted::in_epoch`]), so the epoch change need not reset it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaucetMinted {
    /// Minted over the chain's life.
    pub total: Frost,
    /// The epoch of the last mint.
    pub epoch: Epoch,
    /// Minted in `epoch`.
    pub epoch_total: Frost,
}

impl FaucetMinted {
    /// What was minted in `epoch` so far.
    pub fn in_epoch(&self, epoch: Epoch) -> Frost {
        if self.epoch == epoch {
            self.epoch_total
        } else {
            Frost::ZERO
        }
    }
}

impl SystemState {
    /// All WAL held in per-epoch escrow.
    pub fn escrow_total(&self) -> Frost {
        Frost(self.epoch_accounts.values().map(|a| a.rewards.0).sum())
    }

    /// Storage reserved for `epoch` (encoded bytes).
    pub fn used_capacity(&self, epoch: Epoch) -> u64 {
        self.epoch_accounts.get(&epoch).map_or(0, |a| a.used)
    }

    /// Block time at which the next epoch starts.
    pub fn next_epoch_at_ms(&self) -> u64 {
        self.epoch_start_ms.saturating_add(self.epoch_duration_ms)
    }

    /// Block time of the current epoch's midpoint (next committee selection).
    pub fn mid_epoch_ms(&self) -> u64 {
        self.epoch_start_ms
            .saturating_add(self.epoch_duration_ms / 2)
    }
}

/// One epoch's money and space: storage payments escrowed for it, paid to its committee when
/// it ends, and the storage reserved for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochAccount {
    /// FROST held for the epoch's committee.
    pub rewards: Frost,
    /// Encoded bytes reserved for the epoch.
    pub used: u64,
}

/// One epoch's storage challenges (see the ledger's `challenge` module docs): the seed, the
/// window and who proved. The live blobs it draws from are kept apart (one entry per chunk of
/// blob ids), so recording a submission does not rewrite them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRound {
    /// The epoch whose committee is challenged.
    pub epoch: Epoch,
    /// The seed of the draws: `BLAKE3("floe/challenge-seed/v1" ‖ block hash ‖ epoch u32 LE)`
    /// of the block that started the epoch.
    pub seed: Digest,
    /// Height of that block.
    pub seed_height: u64,
    /// Draws per node (`challenges_per_node` when the epoch started).
    pub k: u16,
    /// Live, certified, valid blobs at the epoch's start (the ranks drawn from).
    pub live_blobs: u64,
    /// Merkle root over their ids in rank order
    /// ([`floe_common::challenge::snapshot_root`]).
    pub snapshot_root: Digest,
    /// Proofs are accepted in blocks with time `< closes_ms`.
    pub closes_ms: u64,
    /// Members whose proofs all verified (or who had nothing to prove, once settled).
    pub passed: BTreeSet<NodeId>,
    /// Members part way through their proofs: the draws accepted so far (a prefix).
    pub progress: BTreeMap<NodeId, u16>,
    /// Members that did not prove by the window's end (set when settled).
    pub failed: BTreeSet<NodeId>,
    /// Whether the window closed and the results are final.
    pub settled: bool,
}

/// The epoch state machine (see the `epoch` module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpochState {
    /// Normal operation; the next committee is not selected yet.
    Normal,
    /// The next committee is selected (from mid-epoch to the boundary).
    NextCommitteeSelected,
    /// The committee changed and shards move: reads of older blobs go to the previous
    /// committee until members with a quorum of shard weight report `EpochSyncDone`.
    Sync {
        /// Members counted as synced (reported, or gained no shard).
        synced: BTreeSet<NodeId>,
        /// Their total shard weight.
        weight: u16,
    },
}

impl EpochState {
    /// `normal`, `next_committee_selected` or `sync`.
    pub fn name(&self) -> &'static str {
        match self {
            EpochState::Normal => "normal",
            EpochState::NextCommitteeSelected => "next_committee_selected",
            EpochState::Sync { .. } => "sync",
        }
    }
}

/// A parameter change or penalty voted by governance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalChange {
    /// Epoch length in ms (from the epoch after the one it executes in).
    EpochDurationMs(u64),
    /// `max_epochs_ahead`.
    MaxEpochsAhead(u32),
    /// Minimum transaction fee.
    MinFee(Frost),
    /// Most nodes in a committee.
    ActiveSetSize(u16),
    /// Most shards per node.
    MaxShardsPerNode(u16),
    /// Burns the node's uncollected commission.
    SlashCommission(NodeId),
    /// Storage challenges per node and epoch (0 disables them; from the next epoch).
    ChallengesPerNode(u16),
    /// The challenge window in ms of block time (from the next epoch).
    ChallengeWindowMs(u64),
}

/// Where a proposal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    /// Open for votes until its deadline epoch (inclusive).
    Open,
    /// Reached quorum and was executed in `epoch`.
    Executed {
        /// Epoch of execution.
        epoch: Epoch,
    },
    /// Enough weight rejected it that quorum became impossible.
    Rejected {
        /// Epoch of rejection.
        epoch: Epoch,
    },
    /// The deadline passed without quorum.
    Expired {
        /// The first epoch after the deadline.
        epoch: Epoch,
    },
}

/// A governance proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Id (sequential from 0).
    pub id: u64,
    /// The account that proposed it.
    pub proposer: Address,
    /// The change.
    pub change: ProposalChange,
    /// Epoch of creation.
    pub created_epoch: Epoch,
    /// Last epoch in which votes are accepted.
    pub deadline_epoch: Epoch,
    /// Votes by committee node (`true` = approve).
    pub votes: BTreeMap<NodeId, bool>,
    /// Approving shard weight at the last tally.
    pub approve_weight: u16,
    /// Rejecting shard weight at the last tally.
    pub reject_weight: u16,
    /// Status.
    pub status: ProposalStatus,
}

/// Serde for `BTreeMap<Epoch, T>` as a sequence of `(epoch, value)` pairs (JSON objects would
/// need string keys, which do not survive `#[serde(flatten)]`).
mod epoch_map {
    use std::collections::BTreeMap;

    use floe_common::Epoch;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer, T: Serialize>(
        m: &BTreeMap<Epoch, T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<BTreeMap<Epoch, T>, D::Error> {
        let v: Vec<(Epoch, T)> = Vec::deserialize(d)?;
        Ok(v.into_iter().collect())
    }
}
