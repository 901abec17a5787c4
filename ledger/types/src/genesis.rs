//! The genesis file: chain id, parameters, validators, initial balances and storage nodes.

use std::collections::{BTreeMap, BTreeSet};

use floe_common::{
    Committee, CommitteeMember, EncodingConfig, Epoch, Frost, NodeId, PublicKey, codec,
};
use serde::{Deserialize, Serialize};

use crate::cert::{CertError, ValidatorInfo, ValidatorSet};
use crate::committee::{ApportionError, active_set, apportion, assign_shards};
use crate::key_servers::KeyServers;
use crate::objects::CommitteeState;
use crate::tx::{Address, MAX_ADDRESS_LEN, MAX_COMMISSION_BPS, MAX_NAME_LEN, node_id_of};

/// Longest chain id, in bytes.
pub const MAX_CHAIN_ID_LEN: usize = 64;

/// Protocol parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Length of an epoch in block time (ms). Changeable by governance; a change applies from
    /// the epoch after the one in which it is executed.
    pub epoch_duration_ms: u64,
    /// The furthest ahead storage can be bought or extended, in epochs.
    pub max_epochs_ahead: u32,
    /// Initial storage price: FROST per MiB (of encoded size, rounded up) per epoch.
    pub storage_price_per_mib_epoch: Frost,
    /// Initial write price: FROST per MiB (of encoded size, rounded up), paid at registration.
    pub write_price_per_mib: Frost,
    /// Smallest transaction fee accepted.
    pub min_fee: Frost,
    /// Most shards one node may hold (apportionment cap).
    pub max_shards_per_node: u16,
    /// Most nodes in a committee (the largest by stake); default [`DEFAULT_ACTIVE_SET_SIZE`].
    #[serde(default = "default_active_set_size")]
    pub active_set_size: u16,
    /// Storage challenges per committee member and epoch (`k`; 0 disables challenges). At most
    /// [`MAX_CHALLENGES_PER_NODE`]. Changeable by governance; applies from the next epoch.
    #[serde(default = "default_challenges_per_node")]
    pub challenges_per_node: u16,
    /// How long after an epoch's start (block time, ms) its storage proofs are accepted;
    /// positive. A window longer than the epoch ends with the epoch. Changeable by governance;
    /// applies from the next epoch.
    #[serde(default = "default_challenge_window_ms")]
    pub challenge_window_ms: u64,
    /// Price of holding a site name for one epoch (paid into that epoch's reward escrow).
    #[serde(default = "default_name_price_per_epoch")]
    pub name_price_per_epoch: Frost,
}

/// Default price of a name per epoch: 0.01 WAL.
pub const DEFAULT_NAME_PRICE_PER_EPOCH: Frost = Frost(10_000_000);

fn default_name_price_per_epoch() -> Frost {
    DEFAULT_NAME_PRICE_PER_EPOCH
}

/// Default storage challenges per node and epoch.
pub const DEFAULT_CHALLENGES_PER_NODE: u16 = 10;
/// Most storage challenges per node and epoch (a node's proofs may take several transactions,
/// each at most [`crate::tx::MAX_PROOFS_TX_BYTES`]; this bounds the ledger's work per member).
pub const MAX_CHALLENGES_PER_NODE: u16 = 64;
/// Default challenge window: 30 minutes of block time.
pub const DEFAULT_CHALLENGE_WINDOW_MS: u64 = 30 * 60 * 1000;

fn default_challenges_per_node() -> u16 {
    DEFAULT_CHALLENGES_PER_NODE
}

fn default_challenge_window_ms() -> u64 {
    DEFAULT_CHALLENGE_WINDOW_MS
}

/// Default committee size cap (Walrus mainnet uses 111).
pub const DEFAULT_ACTIVE_SET_SIZE: u16 = 100;
/// Default initial storage price (FROST per MiB-epoch) and node vote.
pub const DEFAULT_STORAGE_PRICE: Frost = Frost(1_000);
/// Default initial write price (FROST per MiB) and node vote.
pub const DEFAULT_WRITE_PRICE: Frost = Frost(500);

impl Params {
    /// Parameters for a network of `n_shards` shards: one-hour epochs, storage bought up to 100
    /// epochs ahead, the default prices ([`DEFAULT_STORAGE_PRICE`], [`DEFAULT_WRITE_PRICE`]), a
    /// 1,000 FROST minimum fee, no per-node cap below the shard count, the default active set,
    /// and [`DEFAULT_CHALLENGES_PER_NODE`] storage challenges answered within
    /// [`DEFAULT_CHALLENGE_WINDOW_MS`].
    pub fn for_shards(n_shards: u16) -> Params {
        Params {
            epoch_duration_ms: 3_600_000,
            max_epochs_ahead: 100,
            storage_price_per_mib_epoch: DEFAULT_STORAGE_PRICE,
            write_price_per_mib: DEFAULT_WRITE_PRICE,
            min_fee: Frost(1_000),
            max_shards_per_node: n_shards,
            active_set_size: DEFAULT_ACTIVE_SET_SIZE,
            challenges_per_node: DEFAULT_CHALLENGES_PER_NODE,
            challenge_window_ms: DEFAULT_CHALLENGE_WINDOW_MS,
            name_price_per_epoch: DEFAULT_NAME_PRICE_PER_EPOCH,
        }
    }
}

fn default_active_set_size() -> u16 {
    DEFAULT_ACTIVE_SET_SIZE
}

/// The devnet faucet: a `Faucet` transaction mints WAL to its sender, within four caps. Only a
/// devnet genesis ([`Genesis::devnet`]) may enable it.
///
/// The caps bound what anyone can mint, and so the stake anyone can put behind storage nodes
/// of their own: `max_total` is the bound a devnet sizes against its genesis stake (see
/// `floe-devnet`'s genesis); `max_per_epoch` spreads that over time and `max_per_account`
/// keeps one user from taking the whole epoch's allowance by accident. Genesis validation
/// requires `0 < max_per_call ≤ max_per_account, max_per_epoch ≤ max_total`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaucetParams {
    /// Most FROST minted per faucet transaction.
    pub max_per_call: Frost,
    /// Most FROST one account may draw over the chain's life.
    pub max_per_account: Frost,
    /// Most FROST minted in one epoch, all accounts together.
    pub max_per_epoch: Frost,
    /// Most FROST minted over the chain's life, all accounts together.
    pub max_total: Frost,
}

impl FaucetParams {
    /// Checks the caps' order (see the type's docs).
    fn validate(&self) -> Result<(), GenesisError> {
        let field = "faucet";
        if self.max_per_call == Frost::ZERO {
            return Err(invalid(field, "max_per_call must be positive"));
        }
        if self.max_per_call > self.max_per_account || self.max_per_call > self.max_per_epoch {
            return Err(invalid(
                field,
                "max_per_call must not exceed max_per_account or max_per_epoch",
            ));
        }
        if self.max_per_account > self.max_total || self.max_per_epoch > self.max_total {
            return Err(invalid(
                field,
                "max_per_account and max_per_epoch must not exceed max_total",
            ));
        }
        Ok(())
    }
}

/// A consensus validator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// Unique name.
    pub name: String,
    /// ed25519 consensus key.
    pub public_key: PublicKey,
    /// Voting power (> 0).
    pub voting_power: u64,
}

/// A storage node present at genesis, with its operator's initial stake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisNode {
    /// Unique name.
    pub name: String,
    /// ed25519 protocol key.
    pub public_key: PublicKey,
    /// libp2p multiaddr.
    pub network_address: String,
    /// HTTP address.
    pub http_address: String,
    /// Commission in basis points (≤ 10000).
    pub commission_bps: u16,
    /// Initial stake, owned by `owner` as a `StakedWal` object (adds to the total supply).
    pub stake: Frost,
    /// The operator account (owns the node and the initial stake).
    pub owner: Address,
    /// Storage price vote.
    pub storage_price_vote: Frost,
    /// Write price vote.
    pub write_price_vote: Frost,
    /// Capacity vote (bytes).
    pub capacity_vote: u64,
}

impl GenesisNode {
    /// A node with `stake` from `owner`, 10 % commission, price votes equal to
    /// [`Params::for_shards`]'s prices and a 1 TiB capacity vote.
    pub fn new(
        name: impl Into<String>,
        public_key: PublicKey,
        owner: Address,
        stake: Frost,
        network_address: impl Into<String>,
        http_address: impl Into<String>,
    ) -> GenesisNode {
        GenesisNode {
            name: name.into(),
            public_key,
            network_address: network_address.into(),
            http_address: http_address.into(),
            commission_bps: 1_000,
            stake,
            owner,
            storage_price_vote: DEFAULT_STORAGE_PRICE,
            write_price_vote: DEFAULT_WRITE_PRICE,
            capacity_vote: 1 << 40,
        }
    }

    /// The node id.
    pub fn node_id(&self) -> NodeId {
        node_id_of(&self.public_key)
    }
}

/// Everything the chain starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// Chain id, signed into every transaction (1..=64 bytes).
    pub chain_id: String,
    /// Block time at which epoch 0 starts.
    pub genesis_time_ms: u64,
    /// Parameters.
    pub params: Params,
    /// Consensus validators.
    pub validators: Vec<GenesisValidator>,
    /// Initial balances (distinct addresses).
    pub accounts: Vec<(Address, Frost)>,
    /// Initial storage nodes; they form the epoch-0 committee.
    pub storage_nodes: Vec<GenesisNode>,
    /// Number of shards.
    pub n_shards: u16,
    /// Whether this chain is a devnet: a throwaway network where anyone may mint WAL. Only a
    /// devnet may have a faucet.
    #[serde(default)]
    pub devnet: bool,
    /// Faucet, if enabled (devnets only).
    pub faucet: Option<FaucetParams>,
    /// The key servers of private blobs, if the chain has them.
    #[serde(default)]
    pub key_servers: Option<KeyServers>,
}

/// Builds a [`Genesis`] one part at a time (tests, tools, local networks). Unset parts are empty
/// (no validators, accounts or nodes, no faucet, not a devnet) or [`Params::for_shards`].
#[derive(Debug, Clone)]
pub struct GenesisBuilder(Genesis);

impl GenesisBuilder {
    /// Block time at which epoch 0 starts.
    pub fn time_ms(mut self, genesis_time_ms: u64) -> Self {
        self.0.genesis_time_ms = genesis_time_ms;
        self
    }

    /// Changes the parameters.
    pub fn params(mut self, change: impl FnOnce(&mut Params)) -> Self {
        change(&mut self.0.params);
        self
    }

    /// Adds a consensus validator.
    pub fn validator(mut self, name: impl Into<String>, key: PublicKey, voting_power: u64) -> Self {
        self.0.validators.push(GenesisValidator {
            name: name.into(),
            public_key: key,
            voting_power,
        });
        self
    }

    /// Adds an account with a balance.
    pub fn account(mut self, address: Address, balance: Frost) -> Self {
        self.0.accounts.push((address, balance));
        self
    }

    /// Adds a storage node.
    pub fn node(mut self, node: GenesisNode) -> Self {
        self.0.storage_nodes.push(node);
        self
    }

    /// Marks the chain as a devnet (required for a faucet).
    pub fn devnet(mut self) -> Self {
        self.0.devnet = true;
        self
    }

    /// Enables the faucet (valid on a devnet only: see [`GenesisBuilder::devnet`]).
    pub fn faucet(mut self, faucet: FaucetParams) -> Self {
        self.0.faucet = Some(faucet);
        self
    }

    /// Sets the key servers of private blobs.
    pub fn key_servers(mut self, key_servers: KeyServers) -> Self {
        self.0.key_servers = Some(key_servers);
        self
    }

    /// The genesis (not validated: see [`Genesis::validate`]).
    pub fn build(self) -> Genesis {
        self.0
    }
}

/// An invalid genesis.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// No validators.
    #[error("genesis has no validators")]
    NoValidators,
    /// A validator with zero voting power.
    #[error("validator {0:?} has zero voting power")]
    ZeroVotingPower(String),
    /// Two validators or nodes share a name or key, or two accounts an address.
    #[error("duplicate {0}")]
    Duplicate(String),
    /// An invalid ed25519 key.
    #[error("invalid public key of {0:?}")]
    InvalidKey(String),
    /// A field out of range.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Field.
        field: String,
        /// Why.
        reason: String,
    },
    /// The shard count is not supported by the encoding.
    #[error("unsupported shard count {0}")]
    ShardCount(u16),
    /// No storage nodes, zero total stake, or a cap too low for the shards.
    #[error(transparent)]
    Apportion(#[from] ApportionError),
    /// The storage nodes do not form a valid committee.
    #[error("invalid storage_nodes: {0}")]
    Committee(#[from] floe_common::CertificateError),
    /// Total supply overflows (with the faucet's `max_total` minted).
    #[error("total supply overflows u64")]
    Overflow,
    /// A faucet on a chain whose genesis does not say it is a devnet.
    #[error("a faucet is only allowed on a devnet (set `devnet: true`, or remove the faucet)")]
    FaucetNotDevnet,
}

fn invalid(field: &str, reason: impl Into<String>) -> GenesisError {
    GenesisError::Invalid {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

fn check_text(field: &str, s: &str, max: usize) -> Result<(), GenesisError> {
    if s.is_empty() || s.len() > max {
        return Err(invalid(
            field,
            format!("length {} not in 1..={max}", s.len()),
        ));
    }
    Ok(())
}

impl Genesis {
    /// A builder for chain `chain_id` with `n_shards` shards, starting at time 0.
    pub fn builder(chain_id: impl Into<String>, n_shards: u16) -> GenesisBuilder {
        GenesisBuilder(Genesis {
            chain_id: chain_id.into(),
            genesis_time_ms: 0,
            params: Params::for_shards(n_shards),
            validators: Vec::new(),
            accounts: Vec::new(),
            storage_nodes: Vec::new(),
            n_shards,
            devnet: false,
            faucet: None,
            key_servers: None,
        })
    }

    /// Checks the genesis (see [`GenesisError`]).
    pub fn validate(&self) -> Result<(), GenesisError> {
        check_text("chain_id", &self.chain_id, MAX_CHAIN_ID_LEN)?;
        let p = &self.params;
        if p.epoch_duration_ms == 0 {
            return Err(invalid("epoch_duration_ms", "must be positive"));
        }
        if p.max_epochs_ahead == 0 {
            return Err(invalid("max_epochs_ahead", "must be positive"));
        }
        if p.max_shards_per_node == 0 {
            return Err(invalid("max_shards_per_node", "must be positive"));
        }
        if p.active_set_size == 0 {
            return Err(invalid("active_set_size", "must be positive"));
        }
        if p.challenges_per_node > MAX_CHALLENGES_PER_NODE {
            return Err(invalid(
                "challenges_per_node",
                "must be at most MAX_CHALLENGES_PER_NODE (64)",
            ));
        }
        if p.challenge_window_ms == 0 {
            return Err(invalid("challenge_window_ms", "must be positive"));
        }
        EncodingConfig::new(self.n_shards).map_err(|_| GenesisError::ShardCount(self.n_shards))?;
        if self.validators.is_empty() {
            return Err(GenesisError::NoValidators);
        }
        let mut names = BTreeSet::new();
        let mut keys = BTreeSet::new();
        for v in &self.validators {
            check_text("validator name", &v.name, MAX_NAME_LEN)?;
            if v.voting_power == 0 {
                return Err(GenesisError::ZeroVotingPower(v.name.clone()));
            }
            if !v.public_key.is_valid() {
                return Err(GenesisError::InvalidKey(v.name.clone()));
            }
            if !names.insert(&v.name) || !keys.insert(v.public_key) {
                return Err(GenesisError::Duplicate(format!("validator {:?}", v.name)));
            }
        }
        let mut addrs = BTreeSet::new();
        for (a, _) in &self.accounts {
            if !addrs.insert(a) {
                return Err(GenesisError::Duplicate(format!("account {a}")));
            }
        }
        let (mut names, mut keys) = (BTreeSet::new(), BTreeSet::new());
        for n in &self.storage_nodes {
            check_text("node name", &n.name, MAX_NAME_LEN)?;
            check_text("network_address", &n.network_address, MAX_ADDRESS_LEN)?;
            check_text("http_address", &n.http_address, MAX_ADDRESS_LEN)?;
            if n.commission_bps > MAX_COMMISSION_BPS {
                return Err(invalid(
                    "commission_bps",
                    format!("{} > 10000", n.commission_bps),
                ));
            }
            if !n.public_key.is_valid() {
                return Err(GenesisError::InvalidKey(n.name.clone()));
            }
            if !names.insert(&n.name) || !keys.insert(n.public_key) {
                return Err(GenesisError::Duplicate(format!(
                    "storage node {:?}",
                    n.name
                )));
            }
        }
        let supply = self.total_supply()?;
        if let Some(faucet) = &self.faucet {
            if !self.devnet {
                return Err(GenesisError::FaucetNotDevnet);
            }
            faucet.validate()?;
            supply
                .checked_add(faucet.max_total)
                .ok_or(GenesisError::Overflow)?;
        }
        if let Some(k) = &self.key_servers {
            k.validate(self.validators.iter().map(|v| v.name.as_str()))
                .map_err(|e| invalid("key_servers", e.to_string()))?;
        }
        self.committee()?;
        Ok(())
    }

    /// Balances plus initial stake.
    pub fn total_supply(&self) -> Result<Frost, GenesisError> {
        self.accounts
            .iter()
            .map(|(_, f)| *f)
            .chain(self.storage_nodes.iter().map(|n| n.stake))
            .try_fold(Frost::ZERO, Frost::checked_add)
            .ok_or(GenesisError::Overflow)
    }

    /// The epoch-0 committee: the active set (`active_set_size` largest stakes), shards
    /// apportioned by stake (D'Hondt, capped at `max_shards_per_node`), assigned consecutively in node-id order. Does not run the other
    /// checks of [`Genesis::validate`].
    pub fn committee(&self) -> Result<CommitteeState, GenesisError> {
        let mut stakes: BTreeMap<NodeId, u64> = BTreeMap::new();
        let mut keys: BTreeMap<NodeId, PublicKey> = BTreeMap::new();
        for n in &self.storage_nodes {
            let id = n.node_id();
            let s = stakes.entry(id).or_default();
            *s = s.checked_add(n.stake.0).ok_or(GenesisError::Overflow)?;
            keys.insert(id, n.public_key);
        }
        let list: Vec<(NodeId, u64)> = stakes.into_iter().collect();
        let list = active_set(&list, self.params.active_set_size);
        let counts = apportion(&list, self.n_shards, self.params.max_shards_per_node)?;
        let members = counts
            .iter()
            .map(|(id, &weight)| CommitteeMember {
                node_id: *id,
                public_key: keys[id],
                weight,
            })
            .collect();
        let committee = Committee::new(Epoch(0), self.n_shards, members)?;
        Ok(CommitteeState {
            committee,
            shards: assign_shards(&counts),
        })
    }

    /// `BLAKE3(BCS(genesis))`.
    pub fn digest(&self) -> [u8; 32] {
        *blake3::hash(&codec::encode(self)).as_bytes()
    }

    /// The validator set that commits blocks: the genesis validators with their voting power.
    /// Nodes and clients check every block's commit certificate against it.
    pub fn validator_set(&self) -> Result<ValidatorSet, CertError> {
        ValidatorSet::new(
            self.validators
                .iter()
                .map(|v| ValidatorInfo {
                    name: v.name.clone(),
                    public_key: v.public_key,
                    power: v.voting_power,
                })
                .collect(),
        )
    }
}
