//! A ledger state driven outside consensus, as a validator executes it: a genesis of 100
//! storage nodes over 1000 shards, blocks at chosen times, signed transactions verified and
//! applied, and blobs reserved, registered and certified with node-signed certificates.

use anyhow::{Context as _, ensure};
use floe_common::hash::Digest;
use floe_common::messages::BlobPersistence;
use floe_common::{BlobId, EncodingConfig, Epoch, Frost, KeyPair};
use floe_ledger::testkit::{confirmation_certificate, reserve_and_register};
use floe_ledger::{
    Address, BlockContext, BlockHash, Effects, Event, Genesis, GenesisNode, SignedTransaction,
    State, Transaction, TxKind, apply,
};

/// The chain id.
pub const CHAIN: &str = "floe-challenge-bench";
/// Storage nodes in the committee.
pub const NODES: usize = 100;
/// Shards.
pub const SHARDS: u16 = 1000;
/// Challenges per node and epoch.
pub const K: u16 = 20;
/// Block time of genesis (epoch 0 starts).
const GENESIS_MS: u64 = 1_000_000;
/// One WAL.
const WAL: u64 = 1_000_000_000;

/// How the stake, hence the shards, is spread over the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stakes {
    /// Every node has the same stake: 10 shards each, so a certificate needs 67 signatures.
    Equal,
    /// Node 0 has 300 times the stake of each of the 99 others: about 750 shards, a quorum on
    /// its own, so one signature certifies a blob; the others hold 2 or 3 shards each.
    Dominant,
}

fn key(tag: u8, i: usize) -> KeyPair {
    let mut seed = [tag; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    KeyPair::from_seed(seed)
}

/// The protocol key of storage node `i` (its account submits the node's proofs).
pub fn node_key(i: usize) -> KeyPair {
    key(2, i)
}

/// The key of the user who stores the blobs and owns the nodes' stake.
pub fn user_key() -> KeyPair {
    key(1, 0)
}

/// The address of `key`.
pub fn addr(key: &KeyPair) -> Address {
    Address::of(&key.public())
}

/// `NODES` storage nodes over `SHARDS` shards, `K` challenges per node with a window of the
/// whole epoch (one hour), the default fee, prices of 1 FROST (so rewards never move a shard),
/// and a funded user and node accounts.
pub fn genesis(stakes: Stakes) -> Genesis {
    let mut g = Genesis::builder(CHAIN, SHARDS)
        .time_ms(GENESIS_MS)
        .params(|p| {
            p.challenges_per_node = K;
            p.challenge_window_ms = p.epoch_duration_ms;
            p.storage_price_per_mib_epoch = Frost(1);
            p.write_price_per_mib = Frost(1);
        })
        .validator("validator-0", key(3, 0).public(), 1)
        .account(addr(&user_key()), Frost(1_000_000_000 * WAL));
    for i in 0..NODES {
        let stake = match stakes {
            Stakes::Dominant if i == 0 => Frost(300 * WAL),
            _ => Frost(WAL),
        };
        g = g.account(addr(&node_key(i)), Frost(WAL)).node(GenesisNode {
            commission_bps: 0,
            storage_price_vote: Frost(1),
            write_price_vote: Frost(1),
            capacity_vote: 1 << 50,
            ..GenesisNode::new(
                format!("node-{i}"),
                node_key(i).public(),
                addr(&user_key()),
                stake,
                "/ip4/127.0.0.1/tcp/1",
                "http://127.0.0.1:1",
            )
        });
    }
    g.build()
}

/// A made-up, distinct block hash per height.
fn block_hash(height: u64) -> BlockHash {
    BlockHash(*blake3::hash(&height.to_le_bytes()).as_bytes())
}

/// The ledger state with a current block: transactions are applied in it, in order.
pub struct Net {
    /// The state.
    pub state: State,
    time_ms: u64,
    height: u64,
    tx_index: u32,
    /// The node keys whose signatures make a quorum of the committee of an epoch.
    quorum: Option<(Epoch, Vec<KeyPair>)>,
    node_keys: Vec<KeyPair>,
}

impl Net {
    /// The state of `genesis`, at genesis time.
    pub fn new(genesis: &Genesis) -> anyhow::Result<Self> {
        Ok(Self {
            state: State::from_genesis(genesis)?,
            time_ms: genesis.genesis_time_ms,
            height: 1,
            tx_index: 0,
            quorum: None,
            node_keys: (0..NODES).map(node_key).collect(),
        })
    }

    fn ctx(&self) -> BlockContext {
        BlockContext {
            height: self.height,
            timestamp_ms: self.time_ms,
            tx_index: self.tx_index,
            block_hash: block_hash(self.height),
        }
    }

    /// Starts the next block at time `t_ms`: runs the epoch state machine
    /// ([`State::begin_block`]) and returns the block's events.
    pub fn block_at(&mut self, t_ms: u64) -> Vec<Event> {
        self.time_ms = t_ms;
        self.height += 1;
        self.tx_index = 0;
        let ctx = self.ctx();
        self.state.begin_block(&ctx);
        self.state.take_block_events()
    }

    /// Starts a block at the current epoch's midpoint (the next committee is selected).
    pub fn block_at_midpoint(&mut self) -> Vec<Event> {
        self.block_at(self.state.system().mid_epoch_ms())
    }

    /// Starts the block that changes the epoch.
    pub fn block_at_next_epoch(&mut self) -> Vec<Event> {
        self.block_at(self.state.system().next_epoch_at_ms())
    }

    /// The time of the current block.
    pub fn time_ms(&self) -> u64 {
        self.time_ms
    }

    /// The next nonce of `key`'s account.
    pub fn nonce(&self, key: &KeyPair) -> u64 {
        self.state.account(&addr(key)).map_or(0, |a| a.nonce)
    }

    /// The minimum fee.
    pub fn min_fee(&self) -> Frost {
        self.state.system().params.min_fee
    }

    /// A transaction of `kind` from `key` with nonce `nonce` and the minimum fee (unsigned).
    pub fn transaction(&self, key: &KeyPair, nonce: u64, kind: TxKind) -> Transaction {
        Transaction {
            sender: addr(key),
            nonce,
            fee: self.min_fee(),
            kind,
        }
    }

    fn sign(&self, key: &KeyPair, nonce: u64, kind: TxKind) -> SignedTransaction {
        SignedTransaction::sign(key, self.transaction(key, nonce, kind), CHAIN)
    }

    /// The context of the next transaction of the current block.
    pub fn next_ctx(&mut self) -> BlockContext {
        let ctx = self.ctx();
        self.tx_index += 1;
        ctx
    }

    /// Verifies `tx` and applies it as the next transaction of the current block.
    pub fn apply(&mut self, tx: SignedTransaction) -> anyhow::Result<Effects> {
        let verified = tx.verify(CHAIN)?;
        let ctx = self.next_ctx();
        Ok(apply(&mut self.state, &verified, &ctx)?)
    }

    /// Node keys making a quorum of the current committee: the members with the most shards
    /// first (one key for [`Stakes::Dominant`], 67 for [`Stakes::Equal`]).
    fn quorum_keys(&mut self) -> anyhow::Result<Vec<KeyPair>> {
        let epoch = self.state.epoch();
        if let Some((e, keys)) = &self.quorum
            && *e == epoch
        {
            return Ok(keys.clone());
        }
        let config = EncodingConfig::new(SHARDS)?;
        let mut members = self.state.committee().members().to_vec();
        members.sort_by_key(|m| std::cmp::Reverse(m.weight));
        let (mut keys, mut weight) = (Vec::new(), 0u32);
        for m in members {
            if config.is_quorum(weight) {
                break;
            }
            let key = self
                .node_keys
                .iter()
                .find(|k| k.public() == m.public_key)
                .context("a committee member without a known key")?;
            keys.push(key.clone());
            weight += u32::from(m.weight);
        }
        ensure!(config.is_quorum(weight), "the committee has no quorum");
        self.quorum = Some((epoch, keys.clone()));
        Ok(keys)
    }

    /// Stores a blob as a client does: `user` reserves its encoded size for `epochs_ahead`
    /// epochs and registers it (permanent), then certifies it with a storage confirmation
    /// signed by a quorum of the committee. Returns the blob id.
    pub fn store(
        &mut self,
        user: &KeyPair,
        root: Digest,
        unencoded_length: u64,
        epochs_ahead: u32,
    ) -> anyhow::Result<BlobId> {
        let encoded = EncodingConfig::new(SHARDS)?.encoded_length(unencoded_length)?;
        let nonce = self.nonce(user);
        let reg = reserve_and_register(
            |nonce, kind| self.sign(user, nonce, kind),
            nonce,
            unencoded_length,
            root,
            encoded,
            epochs_ahead,
        );
        let [reserve, register] = reg.txs;
        self.apply(reserve).context("reserve")?;
        self.apply(register).context("register")?;
        let keys = self.quorum_keys()?;
        let certificate = confirmation_certificate(
            CHAIN,
            self.state.committee(),
            &keys,
            self.state.epoch(),
            reg.blob_id,
            BlobPersistence::Permanent,
            keys.len(),
        )?;
        let certify = self.sign(
            user,
            nonce + 2,
            TxKind::CertifyBlob {
                blob_object: reg.blob_object,
                certificate,
            },
        );
        self.apply(certify).context("certify")?;
        Ok(reg.blob_id)
    }

    /// Takes the state changes of the block (what a validator writes to its store) and
    /// returns their encoded size in bytes (keys and values).
    pub fn take_changes(&mut self) -> usize {
        self.state
            .take_changes()
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len))
            .sum()
    }
}
