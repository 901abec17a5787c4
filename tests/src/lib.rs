//! Floe's cross-crate integration and fault-tolerance tests, and the `TestCluster` harness.
//!
//! Not implemented yet (issue "Devnet and fault-tolerance suite"); the protocol core's own
//! property and conformance tests live in `common/tests/`.
