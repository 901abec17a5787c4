//! floe-client integration tests against a real in-process validator (Malachite consensus,
//! RocksDB, HTTP RPC): the SDK and the built `floe` binary.

mod cli;
mod sdk;
mod support;
