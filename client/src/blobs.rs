//! Storing and reading blobs: the SDK's data path.
//!
//! [`BlobClient`] talks to the ledger (through [`LedgerClient`]) and to the storage nodes
//! (through an outbound-only libp2p swarm speaking the node protocols of
//! [`floe_node_protocol::protocol`]).
//!
//! * [`BlobClient::store`]: encode → (reuse an existing certified blob, or) reserve storage and
//!   register in one batch → upload metadata and slivers to every node in parallel → collect
//!   storage confirmations to quorum weight, then keep uploading for a bounded extra time →
//!   certify with the aggregated certificate.
//! * [`BlobClient::open`] + [`BlobClient::stream`]: the bytes of a range as they verify, row by
//!   row, in bounded memory ([`stream`](self::stream) has the rules).
//! * [`BlobClient::store_quilt`], [`BlobClient::read_patch`]: many files as one blob, each
//!   read alone through the stream of its byte range ([`quilt`](self::quilt)).
//! * [`BlobClient::read`]: ledger status → verified metadata from a few nodes → primary slivers
//!   in parallel, systematic ones first, each verified, stopping at `rows` → decode with the
//!   chosen consistency check.
//!
//! Every failure is a typed error that names the step and the cause.

mod progress;
mod quilt;
mod read;
mod store;
mod stream;
mod upload;

use std::time::Duration;

use floe_common::config::EncodingConfigError;
use floe_common::{EncodingConfig, KeyPair};
use floe_ledger_types::{Address, ClientError, LedgerClient};
use floe_node_protocol::committee::{CommitteeError, CommitteeView};
use floe_node_protocol::network::NetworkError;
use floe_node_protocol::p2p::P2p;
use floe_node_protocol::protocol;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::trust::{LedgerTrust, TrustError};

pub use floe_common::quilt::{QuiltFile, QuiltIndex, QuiltPatchId};
pub use progress::{Progress, ProgressHook};
pub use quilt::{
    PatchLocation, QuiltPatch, QuiltReadError, QuiltStoreError, QuiltStoreOutcome, patch_id_of,
};
pub use read::{ReadError, ReadOutcome, ReadPhases};
pub use store::{Persistence, StoreError, StoreOptions, StoreOutcome, StorePhases};
pub use stream::{BlobStream, OpenBlob, StreamStats};
pub use upload::{NodeFailure, NodeFailures, NodeUploadError, UploadError};

/// Tuning of the data path.
#[derive(Debug, Clone)]
pub struct BlobOptions {
    /// Sliver bytes in flight at once during a store, over all nodes (at least one sliver is
    /// always sent). A budget of bytes, not of slivers: a small blob's many small slivers go
    /// out together, which is what a store over long round trips needs, while a large blob's
    /// big slivers go a few at a time, which bounds the writer's memory.
    pub upload_bytes_in_flight: usize,
    /// After quorum is reached, how long to keep uploading to the remaining nodes.
    pub extra_upload_time: Duration,
    /// How long a node may wait for the registration or its slivers before refusing a
    /// confirmation.
    pub confirmation_wait: Duration,
    /// Slivers requested at once during a (whole, decoding) read.
    pub read_slivers_in_flight: usize,
    /// How far one streaming read ([`BlobClient::stream`]) fetches ahead of its consumer, in
    /// bytes (at least one row is always in flight).
    pub read_window_bytes: usize,
    /// Bytes all streaming reads of this client hold at once, fetched but not yet dropped by
    /// their consumers; a stream waits for room before fetching a row.
    pub read_buffer_bytes: usize,
    /// How long to wait for the ledger to finalise a transaction.
    pub ledger_timeout: Duration,
    /// The chain to sign for and the fee cap ([`LedgerTrust`]).
    pub trust: LedgerTrust,
}

impl Default for BlobOptions {
    fn default() -> Self {
        BlobOptions {
            upload_bytes_in_flight: 8 << 20,
            extra_upload_time: Duration::from_secs(2),
            confirmation_wait: Duration::from_secs(10),
            read_slivers_in_flight: 48,
            read_window_bytes: 16 << 20,
            read_buffer_bytes: 192 << 20,
            ledger_timeout: Duration::from_secs(30),
            trust: LedgerTrust::default(),
        }
    }
}

/// The network could not be reached or described.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The ledger did not answer.
    #[error("ledger unreachable: {0}")]
    Ledger(#[from] ClientError),
    /// The ledger's committee is unusable.
    #[error(transparent)]
    Committee(#[from] CommitteeError),
    /// The network's shard count gives no valid encoding.
    #[error("shard count: {0}")]
    Encoding(#[from] EncodingConfigError),
    /// The libp2p swarm could not start.
    #[error("network: {0}")]
    Network(#[from] NetworkError),
    /// The ledger serves another chain than the configured one.
    #[error(transparent)]
    Trust(#[from] TrustError),
}

/// The SDK's handle for storing and reading blobs.
pub struct BlobClient {
    ledger: LedgerClient,
    key: KeyPair,
    chain_id: String,
    p2p: P2p,
    options: BlobOptions,
    /// Held while a batch of transactions is signed, submitted and awaited, so concurrent
    /// stores through one client never race each other for the wallet's nonces.
    submit_lock: tokio::sync::Mutex<()>,
    /// Memory of the streaming reads ([`BlobOptions::read_buffer_bytes`]).
    read_budget: std::sync::Arc<stream::ReadBudget>,
    _stop: DropGuard,
}

impl BlobClient {
    /// Connects: reads the chain id and shard count from the ledger and starts a swarm with a
    /// fresh identity. `key` is the wallet that pays.
    pub async fn connect(
        ledger: LedgerClient,
        key: KeyPair,
        options: BlobOptions,
    ) -> Result<Self, ConnectError> {
        let system = ledger.system().await?;
        options.trust.check_chain(&system.chain_id)?;
        let config = EncodingConfig::new(system.n_shards)?;
        let cancel = CancellationToken::new();
        let identity = KeyPair::generate(&mut rand::rngs::OsRng);
        let (p2p, _, task) =
            P2p::start(&identity, &protocol::limits(&config), None, cancel.clone()).await?;
        drop(task); // the swarm stops with the drop guard
        Ok(BlobClient {
            ledger,
            key,
            chain_id: system.chain_id,
            p2p,
            read_budget: std::sync::Arc::new(stream::ReadBudget::new(options.read_buffer_bytes)),
            options,
            submit_lock: tokio::sync::Mutex::new(()),
            _stop: cancel.drop_guard(),
        })
    }

    /// The chain this client signs for.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// The ledger client.
    pub fn ledger(&self) -> &LedgerClient {
        &self.ledger
    }

    /// The wallet's address.
    pub fn address(&self) -> Address {
        Address::of(&self.key.public())
    }

    /// The current committee.
    pub async fn committee(&self) -> Result<CommitteeView, ConnectError> {
        let resp = self.ledger.committee().await?;
        Ok(CommitteeView::from_response(&resp)?)
    }
}
