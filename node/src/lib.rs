//! Floe storage node (issue 4). Holds the RocksDB dependency so its build is cached from the first CI run.
