//! Floe storage node: holds the slivers of its shards in RocksDB, serves them over libp2p,
//! signs storage confirmations, and recovers missing slivers from peers.
//!
//! Not implemented yet (issue "Storage node"). The crate already depends on RocksDB (built
//! without compression: slivers are incompressible) so that its long C++ build is paid and
//! cached from the first CI run.
