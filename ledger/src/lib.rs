//! Floe's metadata ledger: a BFT-replicated state machine (accounts and WAL, storage resources,
//! blobs, storage nodes, stake, committee) run by validators over the Malachite BFT engine.
//!
//! Layers, from pure to IO:
//! - [`block`], [`cert`]: blocks, validator sets, consensus sign bytes and commit certificates
//!   (no engine types, so storage nodes and clients verify blocks without linking consensus);
//! - [`tx`], [`state`]: signed transactions and the deterministic state machine;
//! - [`store`]: RocksDB (blocks, certificates, state, transaction index, events);
//! - [`consensus`]: the Malachite context, signing, wire codec and application loop;
//! - [`rpc`] / [`client`]: the HTTP JSON API of a validator and its typed client.

pub mod block;
pub mod cert;
pub mod consensus;
pub mod tx;

pub use block::{Block, BlockHash, BlockHeader};
pub use cert::{CertError, CommitCertificate, ValidatorAddress, ValidatorInfo, ValidatorSet};
