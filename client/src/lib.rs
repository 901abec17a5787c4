//! Floe's client SDK, the `floe` command line, and the HTTP publisher/aggregator daemon.
//!
//! * [`config`]: the client configuration file (`client.yaml`).

pub mod config;

pub use config::ClientConfig;
