//! Floe's client SDK: store and read blobs, and use the ledger. It depends on the protocol
//! crates only (`floe-common`, `floe-ledger-types`, `floe-node-protocol`, and `floe-runtime`
//! for retries), never on a server,
//! so an application that stores a blob builds no storage engine and no consensus. The `floe`
//! command line and `floe daemon` are built on it in `floe-cli`.
//!
//! * [`config`]: the client configuration file (`client.yaml`).
//! * [`blobs`]: storing and reading blobs ([`BlobClient`]) over the storage-node protocols,
//!   with an optional [`blobs::Progress`] observer.
//! * [`files`]: what `floe store` / `floe read` do: `--epochs N|max`, prices, dry runs, storing
//!   files and reading blobs into files or writers.
//! * [`wallet`]: the account key file: create (0600, never overwritten), load, address.
//! * [`floe`]: [`Floe`], the handle on the ledger. It signs transactions with the wallet's key,
//!   picks the nonce and fee, waits for finality and retries stale nonces; it wraps balance,
//!   transfer, faucet, network info, stake/withdraw, blob status, listing, extending and
//!   deleting blob objects, and [`Floe::execute`] submits any other transaction kind.
//! * [`private`]: private blobs: a file encrypted to a ledger policy before it is stored, and
//!   its key fetched from a threshold of key servers after it is read.
//! * [`sites`]: a directory published as a website (quilts + a site record on the ledger),
//!   updated by sending only what changed, with an optional name.
//! * [`blob_id`]: the blob id of data or a file, computed offline for a shard count.
//! * [`error`]: [`FloeError`], which names the failed step, carries the ledger's error code for
//!   rejections, and sorts failures into [`ErrorKind`]s (rejected, network, local).
//!
//! ```no_run
//! # async fn demo() -> Result<(), floe_client::FloeError> {
//! use floe_client::{ClientConfig, Floe};
//! let config = ClientConfig::load(std::path::Path::new("client.yaml")).expect("config");
//! let floe = Floe::from_config(&config).await?;
//! floe.faucet(None).await?;
//! let receipt = floe.stake("node-1", "2.5".parse().expect("amount")).await?;
//! println!("staked: {}", receipt.staked_object);
//! # Ok(()) }
//! ```

pub mod blob_id;
pub mod blobs;
pub mod config;
pub mod error;
pub mod files;
pub mod floe;
pub mod private;
pub mod sites;
pub mod trust;
pub mod wallet;

pub use blob_id::{BlobIdError, ComputedBlobId, blob_id_of, blob_id_of_file};
pub use blobs::{BlobClient, BlobOptions};
pub use config::ClientConfig;
pub use error::{ErrorKind, FloeError};
pub use floe::{Floe, Receipt};
pub use trust::{LedgerTrust, TrustError};
pub use wallet::{Wallet, WalletError};
