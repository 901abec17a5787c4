//! Floe storage node: holds the slivers of its shards in RocksDB, serves them over libp2p,
//! signs storage confirmations, recovers missing slivers from peers, and moves shards between
//! nodes when the committee changes.
//!
//! * [`storage`]: the RocksDB store (metadata, slivers, the ledger view, the sync queue).
//! * [`follower`]: applies the ledger's verified blocks to the per-blob [`blob_state`] and the
//!   epoch record.
//! * [`service`]: the node's answers to the `/floe/*/1` wire protocols (whose types, codec and
//!   swarm live in `floe-node-protocol`).
//! * [`sync`]: blob sync, rebuilding missing slivers from recovery symbols.
//! * [`migration`]: shard migration at epoch changes (pull from the previous holder, fall back
//!   to recovery, report `EpochSyncDone`).
//! * [`gc`]: deletes expired, deleted and invalid blobs, and handed-over shards.
//! * [`server`]: wires everything into one running node under a cancellation token.
//! * [`ops`]: the operator commands of `floe-node` (key, configuration, registration, backup
//!   and restore).

pub mod blob_state;
pub mod challenge;
pub mod config;
pub mod core;
pub mod follower;
pub mod gc;
pub mod http;
pub mod ledger_tx;
pub mod metrics;
pub mod migration;
pub mod ops;
pub mod server;
pub mod service;
pub mod storage;
pub mod sync;

// The wire protocols, the swarm and the committee view are shared with clients
// (`floe-node-protocol`); inside this crate they are `crate::protocol`, `crate::p2p`, …
use floe_node_protocol::{committee, network, p2p, protocol};

pub use blob_state::{BlobState, apply_event};
pub use config::NodeConfig;
pub use follower::{Follower, FollowerError};
pub use storage::{Storage, StorageError, StorageOptions};
