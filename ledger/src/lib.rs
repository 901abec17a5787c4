//! Floe's metadata ledger: a BFT-replicated state machine (accounts and WAL, storage resources,
//! blobs, storage nodes, stake, committee) run by validators over the Malachite BFT engine.
//!
//! Layers, from pure to IO:
//! - [`tx`], [`genesis`], [`committee`], [`state`]: the pure, deterministic state machine (no IO,
//!   no clocks, no hash-map iteration, no floats). A block is executed as
//!   `state.begin_block(&ctx)`, then for each transaction `apply(&mut state, &verified_tx, &ctx)`
//!   (recording the effects or the typed rejection), then `state.take_changes()` written to the
//!   store atomically with the block.
//! - [`block`], [`cert`]: blocks, validator sets, consensus sign bytes and commit certificates
//!   (no engine types, so storage nodes and clients verify blocks without running consensus).
//! - [`store`]: RocksDB (blocks, certificates, state, transaction index, events).
//! - [`consensus`]: the Malachite context, signing, wire codec and application loop.
//! - [`rpc`] / [`client`]: the HTTP JSON API of a validator and its typed client.
//! - [`process`]: logging and signal handling shared by the binaries.

pub mod block;
pub mod cert;
pub mod chain;
pub mod client;
pub mod committee;
pub mod consensus;
pub mod error;
pub mod genesis;
pub mod localnet;
pub mod mempool;
pub mod process;
pub mod rpc;
pub mod service;
pub mod state;
pub mod store;
pub mod testkit;
pub mod tx;
pub mod validator;

pub use block::{Block, BlockHash, BlockHeader};
pub use cert::{CertError, CommitCertificate, ValidatorAddress, ValidatorInfo, ValidatorSet};
pub use client::{ClientError, LedgerClient};
pub use committee::{ApportionError, active_set, apportion, assign_shards, transition};
pub use error::TxError;
pub use genesis::{FaucetParams, Genesis, GenesisError, GenesisNode, GenesisValidator, Params};
pub use state::{
    Account, BlobIdInfo, BlobObject, BlockContext, CommitteeState, Effects, EpochAccount,
    EpochEvent, EpochState, Event, MemberShards, NodeReward, NodeVotes, Object, Proposal,
    ProposalChange, ProposalStatus, ShardMove, StakeStatus, StakedWal, StakingPool, State,
    StateError, StorageNode, StorageResource, SystemState, apply, derive_object_id,
};
pub use tx::{
    Address, MAX_TX_BYTES, SignedTransaction, Transaction, TxDigest, TxKind, VerifiedTransaction,
    node_id_of,
};
