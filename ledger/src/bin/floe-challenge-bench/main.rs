//! `floe-challenge-bench`: what storage challenges cost, printed as one JSON line. It asserts
//! nothing about speed; it fails only if an honest proof is refused.
//!
//! Figures:
//! - `verify_proofs_per_s_n1000`: [`StorageProof::verify`] calls per second on one thread at
//!   1000 shards, over a few thousand distinct proofs of a 4 MiB blob (really encoded, with
//!   challenges drawn as the ledger draws them);
//! - `proof_bytes`: the mean BCS size of a proof at 100 and 1000 shards, for a 1 MiB and a
//!   64 MiB blob, and `max_proof_bytes_n1000`, the bound the ledger enforces;
//! - `ledger_cost_100_nodes_k20`: through the ledger's real state machine, a genesis of 100
//!   storage nodes over 1000 shards with 20 challenges per node and a window of the whole
//!   epoch, a handful of real blobs stored (reserve, register, certify with node-signed
//!   certificates). Timed: the block that changes to epoch 1 and starts the round (the
//!   live-blob snapshot) and taking its state changes; then the 100 `SubmitStorageProofs`
//!   transactions (sign and encode, then what a validator pays: decode, signature check,
//!   execution with every proof verified: the `validator_*` figures). Every node must pass
//!   (`StorageProved` for each, and 100 in the round's `passed`). Then the epoch change again
//!   with `--scale-blobs` made-up certified blobs live (a separate network of the same size
//!   whose node 0 holds a quorum of shards, so each certificate is a single signature), next
//!   to the change without blobs on that network. Nothing is written to RocksDB: taking the
//!   changes is timed, writing them is not.
//!
//! Run it with the release profile (it is built with the ledger's test fixtures):
//! `cargo run --release -p floe-ledger --features test-utils --bin floe-challenge-bench`.
//!
//! [`StorageProof::verify`]: floe_common::challenge::StorageProof::verify

use clap::Parser;
use serde_json::json;

mod ledger;
mod net;
mod proofs;

/// Benchmark options.
#[derive(Parser)]
#[command(
    name = "floe-challenge-bench",
    version,
    about = "Measure storage challenges (proof checks, sizes, ledger cost); print one JSON line"
)]
struct Args {
    /// Distinct proofs in the verification loop (verified repeatedly for at least 2 s).
    #[arg(long, default_value_t = 4000)]
    verify_proofs: usize,
    /// Real blobs stored on the 100-node ledger before the round.
    #[arg(long, default_value_t = 12)]
    real_blobs: usize,
    /// Size of each real blob (bytes).
    #[arg(long, default_value_t = 256 * 1024)]
    real_blob_bytes: usize,
    /// Made-up certified blobs live at the measured epoch change at scale (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    scale_blobs: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    eprintln!("verification rate at 1000 shards");
    let verify = proofs::verify_rate(4 << 20, args.verify_proofs)?;
    let sizes = proofs::proof_sizes()?;
    let mut ledger = ledger::round(args.real_blobs, args.real_blob_bytes)?;
    // The largest snapshot whose epoch change was measured.
    ledger["snapshot_live_blobs"] = json!(args.real_blobs);
    if args.scale_blobs > 0 {
        eprintln!("epoch change with {} live blobs", args.scale_blobs);
        ledger["epoch_change_at_scale"] = ledger::scale(args.scale_blobs)?;
        ledger["snapshot_live_blobs"] = json!(args.scale_blobs);
    }
    let line = json!({
        "profile": if cfg!(debug_assertions) { "dev" } else { "release" },
        "verify_proofs_per_s_n1000": verify["proofs_per_s"],
        "verify_n1000": verify,
        "proof_bytes": sizes["proof_bytes"],
        "symbol_bytes": sizes["symbol_bytes"],
        "max_proof_bytes_n1000": sizes["max_proof_bytes_n1000"],
        "ledger_cost_100_nodes_k20": ledger,
    });
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    Ok(())
}
