//! `floe-node`: run a storage node from its configuration file.
//!
//! `floe-node run --config node.toml` runs until SIGINT or SIGTERM, then stops every task and
//! exits 0; a configuration error or a failed task exits non-zero with the reason.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

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

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,libp2p=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn shutdown_signal(cancel: CancellationToken) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    cancel.cancel();
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing();
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
                let cancel = CancellationToken::new();
                tokio::spawn(shutdown_signal(cancel.clone()));
                floe_node::server::run(config, cancel).await?;
                tracing::info!("storage node stopped");
                Ok(())
            }
        }
    })
}
