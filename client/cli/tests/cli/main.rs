//! floe-cli integration tests against a real in-process validator (Malachite consensus,
//! RocksDB, HTTP RPC) and, for the data commands, real storage nodes: the SDK and the built
//! `floe` binary.

mod cli;
#[path = "../support/daemon.rs"]
mod daemon_support;
mod data;
mod lifecycle;
mod privacy;
mod quilt;
mod sdk;
mod sites;
mod support;
