//! `floe-devnet`: a whole local Floe network — ledger validators and storage nodes, each its
//! own process — from one command.
//!
//! ```sh
//! cargo run --release -p floe-devnet -- up            # 4 validators, 10 nodes, 100 shards
//! cargo run --release -p floe-devnet -- status        # from another terminal
//! cargo run --release -p floe-devnet -- kill node-3   # SIGKILL, like a crash
//! cargo run --release -p floe-devnet -- restart node-3
//! cargo run --release -p floe-devnet -- down
//! ```
//!
//! `cargo run -p floe-devnet` builds only this package, so the devnet does not use the
//! `floe-ledger` and `floe-node` binaries: it re-executes itself with the hidden subcommands
//! `floe-devnet validator --config PATH` and `floe-devnet node --config PATH`, which run
//! [`floe_ledger::validator::run`] and [`floe_node::server::run`] until SIGINT or SIGTERM.
//!
//! The first `up` generates everything into the devnet folder (see [`manifest`] for its
//! layout): keys from the OS random number generator, a random chain id, a genesis (a devnet
//! chain; validators with equal power; storage nodes `node-1`… with equal stake owned by the
//! client wallet; the wallet funded with 10,000,000 WAL and every node's account with 1,000 WAL;
//! the faucet on, with the caps and per-node shard cap of [`limits`]), one configuration per
//! process, the wallet, and `devnet.json` describing all of it. Key files and `devnet.json` are
//! readable by their owner only. Later `up`s resume the same network: same keys, genesis, ports
//! and data.
//!
//! [`Devnet`] is the library face, used by the binary and by tests:
//!
//! ```no_run
//! # async fn example() -> Result<(), floe_devnet::DevnetError> {
//! use floe_devnet::{Devnet, DevnetOptions};
//! use std::time::Duration;
//!
//! let opts = DevnetOptions { validators: 1, nodes: 4, shards: 8, ..DevnetOptions::default() };
//! let mut devnet = Devnet::generate("/tmp/my-devnet".as_ref(), &opts)?
//!     .with_executable("target/debug/floe-devnet"); // a test: env!("CARGO_BIN_EXE_floe-devnet")
//! devnet.start_all()?;
//! devnet.wait_ready(Duration::from_secs(60)).await?;
//! devnet.kill("node-2")?;                       // crash it
//! devnet.start("node-2")?;                      // and bring it back
//! devnet.wait_healthy("node-2", Duration::from_secs(30)).await?;
//! devnet.stop_all(floe_devnet::STOP_GRACE)?;    // also done (with SIGKILL) on drop
//! # Ok(()) }
//! ```
//!
//! Processes are tracked through pid files (`run/NAME.pid`), checked against the process's
//! command line before any signal, so every `floe-devnet` command — and every handle — sees
//! the same processes. Unix only.

pub mod demo;
pub mod devnet;
pub mod error;
pub mod health;
pub mod limits;
pub mod manifest;
pub mod process;

pub use demo::{DemoReport, demo};
pub use devnet::{Devnet, Event, Exit, LOG_TAIL_LINES, STOP_GRACE};
pub use error::DevnetError;
pub use health::{NetworkStatus, ProcessStatus, State};
pub use manifest::{DevnetOptions, Host, Manifest, ProcessKind, ProcessSpec};
