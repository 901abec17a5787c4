//! `floe-node`: run a storage node, and the operator commands around it.
//!
//! ```text
//! floe-node [--json] <command>
//!   run --config node.toml              run the node until SIGINT or SIGTERM
//!   keygen --out FILE [--force]         a new protocol key file (mode 0600)
//!   config --out FILE [--force] [--name N] [--data-dir D] [--p2p-listen ADDR]
//!          [--http-listen ADDR] [--ledger-rpc URL…] [--genesis PATH] [--key-file PATH]
//!                                       a complete, commented node.toml
//!   register --config node.toml --owner-key WALLET --stake WAL [--commission-bps N]
//!          [--network-address ADDR] [--http-address ADDR] [--storage-price-vote AMOUNT]
//!          [--write-price-vote AMOUNT] [--capacity-vote BYTES]
//!                                       register the node and stake with it
//!   backup --config node.toml --out DIR a checkpoint of the running node's store
//!   restore --config node.toml --from DIR [--force]
//!                                       put a checkpoint back (node stopped)
//! ```
//!
//! `run` exits 0 after a clean shutdown; a configuration error or a failed task exits 1 with
//! the reason. The other commands print what they did (with `--json`, one JSON document) and
//! exit with [`EXIT_CODES`]; an error goes to stderr, or with `--json` to stdout as
//! `{"error": {"code", "message", "exit_code"}}`. The work is done by `floe_node::ops`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use floe_common::Frost;
use floe_node::NodeConfig;
use floe_node::ops::{self, ErrorKind};
use serde::Serialize;

/// The exit codes, as `--help` shows them.
const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  usage or local error: bad arguments, a file that exists or cannot be read, the node
     running during a restore
  2  refused: insufficient funds, already registered, name taken, the ledger or the node
     said no
  3  network: the ledger or the node cannot be reached or answered unexpectedly; retrying
     later may help";

#[derive(Parser)]
#[command(name = "floe-node", version, about = "Floe storage node", after_help = EXIT_CODES)]
struct Cli {
    /// Print exactly one JSON document on stdout (amounts in FROST).
    #[arg(long, global = true)]
    json: bool,
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
    #[command(flatten)]
    Ops(OpsCommand),
}

/// The operator commands.
#[derive(Subcommand)]
enum OpsCommand {
    /// Write a new ed25519 protocol key file (mode 0600) and print its public key and node id.
    Keygen {
        /// Where to write the key file.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace an existing file (its key is lost).
        #[arg(long)]
        force: bool,
    },
    /// Write a complete, commented node.toml. Paths not given default to files next to it.
    Config(ConfigArgs),
    /// Register the node of a configuration on the ledger, owned and staked by a wallet.
    Register(RegisterArgs),
    /// Write a checkpoint of the running node's store (through its loopback admin route).
    Backup {
        /// Path of the node's `node.toml` (its `http_listen` is asked).
        #[arg(long)]
        config: PathBuf,
        /// The checkpoint's directory (must not exist).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Replace a stopped node's store with a copy of a checkpoint.
    Restore {
        /// Path of the node's `node.toml` (its `data_dir` is restored).
        #[arg(long)]
        config: PathBuf,
        /// The checkpoint's directory (copied, left in place).
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// Replace an existing store.
        #[arg(long)]
        force: bool,
    },
}

/// `floe-node config`.
#[derive(clap::Args)]
struct ConfigArgs {
    /// Where to write the configuration.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
    /// The node's name, as it will be registered (default: node-1).
    #[arg(long, value_name = "N")]
    name: Option<String>,
    /// The store's directory (default: `data` next to the file).
    #[arg(long, value_name = "D")]
    data_dir: Option<PathBuf>,
    /// libp2p listen address (default: /ip4/127.0.0.1/tcp/28001).
    #[arg(long, value_name = "ADDR")]
    p2p_listen: Option<String>,
    /// HTTP listen address for /health, /metrics and the admin routes (default:
    /// 127.0.0.1:29001).
    #[arg(long, value_name = "ADDR")]
    http_listen: Option<SocketAddr>,
    /// Ledger RPC URLs (repeat, or list several; default: two local validators).
    #[arg(long, value_name = "URL", num_args = 1..)]
    ledger_rpc: Vec<String>,
    /// The chain's genesis file (default: `genesis.json` next to the file).
    #[arg(long, value_name = "PATH")]
    genesis: Option<PathBuf>,
    /// The node's key file (default: `key.json` next to the file).
    #[arg(long, value_name = "PATH")]
    key_file: Option<PathBuf>,
}

/// `floe-node register`.
#[derive(clap::Args)]
struct RegisterArgs {
    /// Path of the node's `node.toml` (name, key file, genesis, ledger RPC URLs).
    #[arg(long)]
    config: PathBuf,
    /// The owner's wallet file (the JSON key file `floe wallet new` writes; mode 0600).
    #[arg(long, value_name = "WALLET_FILE")]
    owner_key: PathBuf,
    /// WAL the owner stakes with the node (e.g. 1000, or `1500 FROST`).
    #[arg(long, value_name = "WAL")]
    stake: Frost,
    /// Commission on rewards, in basis points (1000 = 10 %).
    #[arg(long, value_name = "N", default_value_t = ops::register::DEFAULT_COMMISSION_BPS)]
    commission_bps: u16,
    /// libp2p address peers dial (default: the configuration's p2p_listen).
    #[arg(long, value_name = "ADDR")]
    network_address: Option<String>,
    /// HTTP address (default: the configuration's http_listen).
    #[arg(long, value_name = "ADDR")]
    http_address: Option<String>,
    /// Storage price vote per MiB and epoch (default: the current price).
    #[arg(long, value_name = "AMOUNT")]
    storage_price_vote: Option<Frost>,
    /// Write price vote per MiB (default: the current price).
    #[arg(long, value_name = "AMOUNT")]
    write_price_vote: Option<Frost>,
    /// Capacity vote, in bytes (1099511627776 = 1 TiB).
    #[arg(long, value_name = "BYTES", default_value_t = ops::register::DEFAULT_CAPACITY_VOTE)]
    capacity_vote: u64,
}

/// A failed command: a stable code, its kind (the exit code) and the message.
struct Failure {
    code: String,
    kind: ErrorKind,
    message: String,
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Local => 1,
            ErrorKind::Rejected => 2,
            ErrorKind::Network => 3,
        }
    }
}

macro_rules! failure_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                Failure { code: e.code().to_owned(), kind: e.kind(), message: e.to_string() }
            }
        }
    )*};
}

failure_from!(
    ops::keygen::KeygenError,
    ops::config_file::ConfigFileError,
    ops::register::RegisterError,
    ops::backup::BackupError,
    ops::restore::RestoreError
);

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure {
            code: "config".into(),
            kind: ErrorKind::Local,
            message: format!("{e:#}"),
        }
    }
}

/// What a command prints: human text, or the JSON document.
struct Report {
    text: String,
    json: serde_json::Value,
}

impl Report {
    fn new(text: String, value: &impl Serialize) -> Report {
        Report {
            text,
            json: serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[allow(clippy::print_stdout)] // The command's output goes to stdout.
fn print(report: Result<Report, Failure>, json: bool) -> ExitCode {
    match report {
        Ok(r) if json => println!("{:#}", r.json),
        Ok(r) => println!("{}", r.text),
        Err(f) => {
            if json {
                let doc = serde_json::json!({"error": {
                    "code": f.code, "message": f.message, "exit_code": f.exit_code(),
                }});
                println!("{doc:#}");
            } else {
                eprintln!("error: {}", f.message);
            }
            return ExitCode::from(f.exit_code());
        }
    }
    ExitCode::SUCCESS
}

fn read_config(path: &Path) -> anyhow::Result<NodeConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let ops = match cli.command {
        Command::Run { config } => {
            floe_runtime::init_tracing("info,libp2p=warn");
            return match run(&config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "storage node failed");
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Ops(ops) => ops,
    };
    floe_runtime::init_tracing("warn");
    let report = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(command(ops)),
        Err(e) => Err(Failure {
            code: "runtime".into(),
            kind: ErrorKind::Local,
            message: format!("cannot start: {e}"),
        }),
    };
    print(report, json)
}

/// `floe-node run`.
fn run(config: &Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let config = read_config(config)?;
        let cancel = floe_runtime::cancel_on_signal().context("listening for signals")?;
        floe_node::server::run(config, cancel).await?;
        tracing::info!("storage node stopped");
        Ok(())
    })
}

/// The operator commands.
async fn command(command: OpsCommand) -> Result<Report, Failure> {
    match command {
        OpsCommand::Keygen { out, force } => {
            let k = ops::keygen::keygen(&out, force)?;
            let text = format!(
                "key file    {}\npublic key  {}\nnode id     {}\npeer id     {}\naccount     {}  \
                 (pays the node's own transactions: fund it)",
                k.key_file.display(),
                k.public_key,
                k.node_id,
                k.peer_id,
                k.account
            );
            Ok(Report::new(text, &k))
        }
        OpsCommand::Config(a) => {
            let values = ops::config_file::ConfigValues {
                name: a.name,
                data_dir: a.data_dir,
                p2p_listen: a.p2p_listen,
                http_listen: a.http_listen,
                ledger_rpc: a.ledger_rpc,
                genesis: a.genesis,
                key_file: a.key_file,
            };
            let c = ops::config_file::write_config(&a.out, &values, a.force)?;
            let text = format!(
                "wrote {}\n  name        {}\n  data_dir    {}\n  genesis     {}\n  key_file    {}\n  \
                 p2p_listen  {}\n  http_listen {}\n  ledger_rpc  {}",
                a.out.display(),
                c.name,
                c.data_dir.display(),
                c.genesis.display(),
                c.key_file.display(),
                c.p2p_listen,
                c.http_listen,
                c.ledger_rpc.join(", ")
            );
            Ok(Report::new(
                text,
                &serde_json::json!({"path": a.out, "config": c}),
            ))
        }
        OpsCommand::Register(a) => {
            let config = read_config(&a.config)?;
            let opts = ops::register::RegisterOptions {
                stake: a.stake,
                commission_bps: a.commission_bps,
                network_address: a.network_address,
                http_address: a.http_address,
                storage_price_vote: a.storage_price_vote,
                write_price_vote: a.write_price_vote,
                capacity_vote: a.capacity_vote,
            };
            let r = ops::register::register(&config, &a.owner_key, &opts).await?;
            let mut text = format!(
                "node {} ({}) registered at block {}, owner {}\nstaked {} at block {}",
                r.node_id, r.name, r.registered_height, r.owner, r.stake, r.height
            );
            if r.node_account_balance == Frost::ZERO {
                text.push_str(&format!(
                    "\nthe node's account {} is empty: fund it, it pays the node's storage \
                     proofs and sync reports",
                    r.node_account
                ));
            }
            Ok(Report::new(text, &r))
        }
        OpsCommand::Backup { config, out } => {
            let config = read_config(&config)?;
            let b = ops::backup::backup(config.http_listen, &out).await?;
            let text = format!(
                "checkpoint {} (ledger height {}, epoch {})",
                b.dir.display(),
                b.ledger_height,
                b.epoch
            );
            Ok(Report::new(text, &b))
        }
        OpsCommand::Restore {
            config,
            from,
            force,
        } => {
            let config = read_config(&config)?;
            let r = ops::restore::restore(&config, &from, force)?;
            let text = format!(
                "restored {} from {} (ledger height {}); on start the node follows the ledger \
                 from block {} and recovers what was certified since",
                r.db.display(),
                r.from.display(),
                r.ledger_height,
                r.ledger_height + 1
            );
            Ok(Report::new(text, &r))
        }
    }
}
