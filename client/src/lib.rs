//! Floe's client SDK, the `floe` command line, and the HTTP publisher/aggregator daemon.
//!
//! * [`config`]: the client configuration file (`client.yaml`).
//! * [`blobs`]: storing and reading blobs ([`BlobClient`]).

pub mod blobs;
pub mod config;

pub use blobs::{BlobClient, BlobOptions};
pub use config::ClientConfig;
