//! The storage node's configuration file (TOML, `floe-node run --config node.toml`).
//!
//! Every field is documented here; `node.example.toml` at the crate root is parsed by a test so
//! the example cannot drift from the code, and `floe-node config` writes new configurations from
//! the example's text ([`crate::ops::config_file`]). Unknown fields are errors, so a typo is
//! caught at start instead of silently ignored. Relative paths are resolved against the current
//! directory of the process.

use std::net::SocketAddr;
use std::path::PathBuf;

use floe_node_protocol::p2p::{InboundLimits, RateLimit};
use serde::{Deserialize, Serialize};

use crate::service::LongPollLimits;

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
    /// HTTP listen address for `/health`, `/metrics` and the operator routes
    /// ([`crate::http::admin`], answered to loopback peers only), e.g. `127.0.0.1:29001`.
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
    /// Rebuild slivers the node should hold but lacks. Off, the node never recovers (not for
    /// newly certified blobs it missed, nor for a challenged sliver it lost) and fails the
    /// storage challenges that fall on them: for fault tests and maintenance only.
    pub enabled: bool,
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
            enabled: true,
            max_concurrent_blobs: 4,
            grace_ms: 2_000,
            initial_backoff_ms: 500,
            max_backoff_ms: 30_000,
        }
    }
}

/// Limits on what peers may ask of this node: connections, requests in flight, request rates
/// and confirmation long polls. A request over a limit is answered `busy` at once (a connection
/// over a limit is refused); see `floe_node_protocol::p2p` for the order of the checks.
///
/// Committee members and writes naming a blob registered on the ledger ("writers") may use the
/// `reserved_concurrent` slots and are not held to the per-address rate; members are not rate
/// limited at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InboundConfig {
    /// Requests handled at the same time, over all peers.
    pub max_concurrent: usize,
    /// Requests of one peer handled at the same time.
    pub max_concurrent_per_peer: usize,
    /// Of `max_concurrent`, slots that only committee members and writers may take.
    pub reserved_concurrent: usize,
    /// Longest a storage-confirmation request may wait for the blob's slivers (milliseconds).
    pub max_confirmation_wait_ms: u64,
    /// Confirmation requests waiting for slivers at the same time, over all peers; one that
    /// would wait without a place is answered `busy` at once.
    pub max_long_polls: usize,
    /// Confirmation requests of one peer waiting at the same time.
    pub max_long_polls_per_peer: usize,
    /// Confirmation requests from one IP address waiting at the same time.
    pub max_long_polls_per_ip: usize,
    /// Requests one peer may make per second, on average (a token bucket).
    pub peer_requests_per_second: u32,
    /// Requests one peer may make at once after a quiet spell (the bucket's size).
    pub peer_request_burst: u32,
    /// Anonymous requests one IP address may make per second, over all its peers.
    pub ip_requests_per_second: u32,
    /// Anonymous requests one IP address may make at once after a quiet spell.
    pub ip_request_burst: u32,
    /// Inbound connections open at the same time.
    pub max_connections: u32,
    /// Inbound connections from one IP address.
    pub max_connections_per_ip: usize,
    /// Connections with one peer.
    pub max_connections_per_peer: u32,
    /// Inbound connections in their handshake at the same time.
    pub max_pending_connections: u32,
    /// Streams one connection may have open at once, per protocol; more are dropped.
    pub max_streams_per_connection: usize,
}

impl Default for InboundConfig {
    fn default() -> Self {
        let l = InboundLimits::default();
        Self {
            max_concurrent: l.max_concurrent,
            max_concurrent_per_peer: l.max_concurrent_per_peer,
            reserved_concurrent: l.reserved,
            max_confirmation_wait_ms: 30_000,
            max_long_polls: 32,
            max_long_polls_per_peer: 2,
            max_long_polls_per_ip: 8,
            peer_requests_per_second: l.peer_rate.per_second,
            peer_request_burst: l.peer_rate.burst,
            ip_requests_per_second: l.ip_rate.per_second,
            ip_request_burst: l.ip_rate.burst,
            max_connections: l.max_connections,
            max_connections_per_ip: l.max_connections_per_ip,
            max_connections_per_peer: l.max_connections_per_peer,
            max_pending_connections: l.max_pending_connections,
            max_streams_per_connection: l.max_streams_per_connection,
        }
    }
}

impl InboundConfig {
    /// The swarm's admission and connection limits.
    pub fn limits(&self) -> InboundLimits {
        InboundLimits {
            max_concurrent: self.max_concurrent,
            max_concurrent_per_peer: self.max_concurrent_per_peer,
            reserved: self.reserved_concurrent,
            peer_rate: RateLimit {
                per_second: self.peer_requests_per_second,
                burst: self.peer_request_burst,
            },
            ip_rate: RateLimit {
                per_second: self.ip_requests_per_second,
                burst: self.ip_request_burst,
            },
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            max_connections_per_peer: self.max_connections_per_peer,
            max_pending_connections: self.max_pending_connections,
            max_streams_per_connection: self.max_streams_per_connection,
        }
    }

    /// The budget of confirmation long polls.
    pub fn long_polls(&self) -> LongPollLimits {
        LongPollLimits {
            total: self.max_long_polls,
            per_peer: self.max_long_polls_per_peer,
            per_ip: self.max_long_polls_per_ip,
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
