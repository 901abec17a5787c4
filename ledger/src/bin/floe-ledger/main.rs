//! `floe-ledger`: run a validator. (The throughput benchmark is `floe-ledger-bench`.)

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "floe-ledger", version, about = "Floe ledger validator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a validator from its configuration file.
    Run {
        /// Path of the validator's `config.toml`.
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    floe_runtime::init_tracing(
        "info,arc_malachitebft=warn,informalsystems_malachitebft=warn,libp2p=warn",
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Run { config } => {
                let text = std::fs::read_to_string(&config)
                    .with_context(|| format!("reading {}", config.display()))?;
                let config: floe_ledger::validator::ValidatorConfig = toml::from_str(&text)
                    .with_context(|| format!("parsing {}", config.display()))?;
                let cancel = floe_runtime::cancel_on_signal().context("listening for signals")?;
                floe_ledger::validator::run(config, cancel).await?;
                Ok(())
            }
        }
    })
}
