//! `floe-ledger`: run a validator, write a local network, or benchmark one.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

mod bench;

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
    /// Start a local cluster of validator processes, drive it, and print one JSON line.
    Bench(bench::BenchArgs),
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,arc_malachitebft=warn,informalsystems_malachitebft=warn,libp2p=warn",
        )
    });
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
                let cancel = CancellationToken::new();
                tokio::spawn(shutdown_signal(cancel.clone()));
                floe_ledger::validator::run(config, cancel).await?;
                Ok(())
            }
            Command::Bench(args) => bench::run(args).await,
        }
    })
}
