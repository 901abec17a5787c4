//! Floe's client SDK, the `floe` command line, and the HTTP publisher/aggregator daemon.
//!
//! Not implemented yet (issue "Client SDK"); encoding and verification already live in
//! `floe-common`.
