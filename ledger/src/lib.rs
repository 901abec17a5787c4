//! Floe's metadata ledger: a BFT-replicated state machine (accounts and WAL, storage resources,
//! blobs, storage nodes, stake, committee) run by validators over an existing consensus engine.
//!
//! This crate currently holds the pure, deterministic state machine (no IO, no clocks, no
//! hash-map iteration, no floats); the consensus engine, the RocksDB store and the RPC call it.
//! See `ARCHITECTURE.md` and `docs/ledger-consensus-notes.md`.
//!
//! * [`tx`]: addresses, [`Transaction`]s and their kinds, signing ([`SignedTransaction`]) and
//!   (batch) verification into [`VerifiedTransaction`]s.
//! * [`genesis`]: the [`Genesis`] file, its validation and the epoch-0 committee.
//! * [`committee`]: D'Hondt shard apportionment with a per-node cap, shard assignment.
//! * [`state`]: the [`State`], [`apply`] (one transaction → [`Effects`] or a [`TxError`],
//!   leaving the state unchanged on error), persistence hooks ([`State::take_changes`],
//!   [`State::from_entries`]) and the read API for the RPC.
//!
//! A block is executed as: `state.begin_block(&ctx)`, then for each transaction
//! `apply(&mut state, &verified_tx, &ctx)` (recording the effects or the rejection), then
//! `state.take_changes()` written to the store atomically with the block.

pub mod committee;
pub mod error;
pub mod genesis;
pub mod state;
pub mod tx;

pub use committee::{ApportionError, apportion, assign_shards};
pub use error::TxError;
pub use genesis::{FaucetParams, Genesis, GenesisError, GenesisNode, GenesisValidator, Params};
pub use state::{
    Account, BlobIdInfo, BlobObject, BlockContext, CommitteeState, Effects, Event, NodeVotes,
    Object, StakedWal, State, StateError, StorageNode, StorageResource, SystemState, apply,
    derive_object_id,
};
pub use tx::{
    Address, MAX_TX_BYTES, SignedTransaction, Transaction, TxDigest, TxKind, VerifiedTransaction,
    node_id_of,
};
