//! `floe-ledger-bench`: starts a local cluster of `floe-ledger` validator processes, drives it
//! with signed transactions and prints one JSON line (see [`bench`]). It builds its workload
//! with the ledger's test fixtures, so it needs the `test-utils` feature:
//! `cargo run --release -p floe-ledger --features test-utils --bin floe-ledger-bench`.

use clap::Parser;

mod bench;

fn main() -> anyhow::Result<()> {
    let args = bench::BenchArgs::parse();
    floe_runtime::init_tracing(
        "info,arc_malachitebft=warn,informalsystems_malachitebft=warn,libp2p=warn",
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(bench::run(args))
}
