//! `floe-node`: run a storage node from its configuration file.
//!
//! `floe-node run --config node.toml` runs until SIGINT or SIGTERM, then stops every task and
//! exits 0; a configuration error or a failed task exits non-zero with the reason.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "floe-node", version, about = "Floe storage node")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a storage node from its configuration file.
    Run {
        /// Path of the node's `node.toml`.
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    floe_runtime::init_tracing("info,libp2p=warn");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Run { config } => {
                let text = std::fs::read_to_string(&config)
                    .with_context(|| format!("reading {}", config.display()))?;
                let config: floe_node::NodeConfig = toml::from_str(&text)
                    .with_context(|| format!("parsing {}", config.display()))?;
                let cancel = floe_runtime::cancel_on_signal().context("listening for signals")?;
                floe_node::server::run(config, cancel).await?;
                tracing::info!("storage node stopped");
                Ok(())
            }
        }
    })
}
