//! Floe's metadata ledger: one validator of the BFT-replicated state machine (accounts and WAL,
//! storage resources, blobs, storage nodes, stake, committee) run over the Malachite BFT engine.
//!
//! The data everyone shares (transactions, objects, events, genesis, blocks, certificates, the
//! RPC shapes and the typed client) lives in `floe-ledger-types`; this crate holds the rules
//! that change it and the IO around them. Layers, from pure to IO:
//! - [`state`]: the pure, deterministic executor (no IO, no clocks, no hash-map iteration, no
//!   floats). A block is executed as `state.begin_block(&ctx)`, then for each transaction
//!   `apply(&mut state, &verified_tx, &ctx)` (recording the effects or the typed rejection),
//!   then `state.take_changes()` written to the store atomically with the block.
//! - [`chain`]: block validity rules and execution; the chained state digest.
//! - [`store`]: RocksDB (blocks, certificates, state, transaction index, events).
//! - [`mempool`], [`service`]: the verified, nonce-ordered pool and the [`service::Ledger`]
//!   handle shared by consensus and the RPC.
//! - [`consensus`]: the Malachite context, signing, wire codec and application loop.
//! - [`rpc`]: the HTTP JSON API of a validator.
//! - [`keyserver`]: the validator's key server for private blobs (policy-checked key shares).
//! - [`validator`], [`localnet`]: a validator process from its config; files for a local
//!   network.

pub mod chain;
pub mod consensus;
pub mod keyserver;
pub mod localnet;
pub mod mempool;
pub mod metrics;
pub mod rpc;
pub mod service;
pub mod state;
pub mod store;
#[cfg(any(test, feature = "test-utils"))]
pub mod testkit;
pub mod validator;

// The shared data modules, reachable inside this crate as `crate::tx`, `crate::block`, …
use floe_ledger_types::{block, cert, committee, error, events, genesis, record, tx};

pub use floe_ledger_types::policy;
pub use floe_ledger_types::{
    Account, Address, BlobIdInfo, BlobObject, Block, BlockHash, BlockHeader, CertError,
    ClientError, CommitCertificate, CommitteeState, Effects, EpochAccount, EpochEvent, EpochState,
    Event, FaucetMinted, FaucetParams, Genesis, GenesisBuilder, GenesisError, GenesisNode,
    GenesisValidator, KeyServerInfo, KeyServers, LedgerClient, MAX_BURN_BLOBS, MAX_TX_BYTES,
    MemberShards, NameObject, NodeReward, NodeVotes, Object, Params, Proposal, ProposalChange,
    ProposalStatus, ShardMove, SharedBlob, SignedTransaction, SiteObject, StakeStatus, StakedWal,
    StakingPool, StorageNode, StorageResource, SystemState, Transaction, TxDigest, TxError,
    TxFailure, TxKind, ValidatorAddress, ValidatorInfo, ValidatorSet, VerifiedTransaction,
    derive_object_id, name_object_id, node_id_of,
};
pub use floe_ledger_types::{ApportionError, active_set, apportion, assign_shards, transition};
pub use state::{BlockContext, State, StateError, apply};
