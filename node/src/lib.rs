//! Floe storage node: holds the slivers of its shards in RocksDB, serves them over libp2p,
//! signs storage confirmations, and recovers missing slivers from peers.
//!
//! Landed so far: [`storage`], the RocksDB store (metadata, primary and secondary slivers, the
//! node's own state) with durable writes and typed errors for corrupt records; [`follower`],
//! which follows the ledger's verified blocks into per-blob [`blob_state`]. The libp2p
//! protocols and recovery come with the rest of the storage-node issue.

pub mod blob_state;
pub mod committee;
pub mod config;
pub mod follower;
pub mod gc;
pub mod http;
pub mod metrics;
pub mod network;
pub mod p2p;
pub mod protocol;
pub mod server;
pub mod service;
pub mod storage;
pub mod sync;

pub use blob_state::{BlobState, apply_event};
pub use config::NodeConfig;
pub use follower::{Follower, FollowerError};
pub use storage::{Storage, StorageError, StorageOptions};
