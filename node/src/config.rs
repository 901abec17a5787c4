//! The storage node's configuration file (TOML, `floe-node run --config node.toml`).
//!
//! Every field is documented here; `node.example.toml` at the crate root is parsed by a test so
//! the example cannot drift from the code. Unknown fields are errors, so a typo is caught at
//! start instead of silently ignored. Relative paths are resolved against the current
//! directory of the process.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A storage node's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Name, as registered on the ledger (e.g. `node-1`); used in logs.
    pub name: String,
    /// Directory of the RocksDB store.
    pub data_dir: PathBuf,
    /// The chain's genesis (JSON): the trust anchor for verifying ledger blocks.
    pub genesis: PathBuf,
    /// The node's network key (JSON `KeyFile`). Its public key is the key registered on the
    /// ledger; the libp2p peer id derives from it; its ledger address pays the fees of the
    /// transactions the node submits (blob invalidations). Must be readable by its owner only
    /// (mode `0600`): the node refuses to start otherwise.
    pub key_file: PathBuf,
    /// libp2p listen address, e.g. `/ip4/127.0.0.1/tcp/28001`.
    pub p2p_listen: String,
    /// HTTP listen address for `/health` and `/metrics`, e.g. `127.0.0.1:29001`.
    pub http_listen: SocketAddr,
    /// Ledger RPC base URLs (any validator; the node fails over between them).
    pub ledger_rpc: Vec<String>,
    /// fsync RocksDB's write-ahead log on every acknowledged write (costs one fsync per
    /// write). Without it, storage confirmations are still signed only after an fsync that
    /// covers the slivers they vouch for (one fsync shared by concurrent confirmations).
    #[serde(default)]
    pub sync_writes: bool,
    /// Blob sync (recovery of missing slivers).
    #[serde(default)]
    pub recovery: RecoveryConfig,
    /// Limits on what peers may ask of this node.
    #[serde(default)]
    pub inbound: InboundConfig,
    /// Disk space the node keeps free.
    #[serde(default)]
    pub disk: DiskConfig,
}

/// Disk space settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiskConfig {
    /// New data (metadata, slivers) is refused with `storage_full` while the file system of
    /// `data_dir` has fewer free bytes than this; reads and the ledger view go on, and writes
    /// are taken again once free space is back above this plus an eighth. It is the room
    /// RocksDB needs to flush its write buffers (up to 128 MiB per sliver family) and compact,
    /// so keep it well above 256 MiB; 0 turns the check off (RocksDB's own out-of-space errors
    /// are still answered `storage_full`).
    pub min_free_bytes: u64,
}

impl Default for DiskConfig {
    fn default() -> Self {
        Self {
            min_free_bytes: 1 << 30,
        }
    }
}

/// Blob sync settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecoveryConfig {
    /// Blobs recovered at the same time.
    pub max_concurrent_blobs: usize,
    /// Time after a blob's certification before the node recovers slivers it lacks, so that a
    /// writer still uploading can deliver them directly (milliseconds).
    pub grace_ms: u64,
    /// First retry delay after a failed recovery (milliseconds); doubles up to `max_backoff_ms`.
    pub initial_backoff_ms: u64,
    /// Longest retry delay (milliseconds).
    pub max_backoff_ms: u64,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            max_concurrent_blobs: 4,
            grace_ms: 2_000,
            initial_backoff_ms: 500,
            max_backoff_ms: 30_000,
        }
    }
}

/// Inbound request limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InboundConfig {
    /// Requests handled at the same time, over all peers; more are answered `busy`.
    pub max_concurrent: usize,
    /// Requests of one peer handled at the same time; more are answered `busy`.
    pub max_concurrent_per_peer: usize,
    /// Longest a storage-confirmation request may wait for the blob's registration
    /// (milliseconds).
    pub max_confirmation_wait_ms: u64,
}

impl Default for InboundConfig {
    fn default() -> Self {
        Self {
            max_concurrent: 256,
            max_concurrent_per_peer: 64,
            max_confirmation_wait_ms: 30_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let text = include_str!("../node.example.toml");
        let config: NodeConfig = toml::from_str(text).expect("example config parses");
        assert_eq!(config.name, "node-1");
        assert_eq!(config.recovery, RecoveryConfig::default());
        assert_eq!(config.inbound, InboundConfig::default());
        assert_eq!(config.disk, DiskConfig::default());
        assert_eq!(config.ledger_rpc.len(), 2);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let text = format!("{}\nextra = 1\n", include_str!("../node.example.toml"));
        assert!(toml::from_str::<NodeConfig>(&text).is_err());
    }
}
