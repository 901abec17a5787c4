//! `floe`: the Floe command line.
//!
//! ```text
//! floe [--config PATH] [--json] <command>
//!   wallet new [--path P]             create a wallet (never overwrites)
//!   wallet address                    the wallet's address
//!   wallet balance [--address A]      balance and stakes
//!   wallet transfer --to A --amount X pay X WAL
//!   wallet faucet [--amount X]        mint WAL on a devnet
//!   info                              epoch, prices, shards, committee
//!   stake --node NODE --amount X      stake with a node (id or name)
//!   withdraw --node NODE              request, or complete, the withdrawal of your stake
//!   blob-id FILE [--shards N]         a file's blob id, offline
//!   blob-status BLOB_ID               the ledger's status of a blob id
//!   list-blobs                        your blob objects
//!   extend --object ID --epochs N     extend a certified blob object
//!   delete --object ID                delete a deletable blob object
//! ```
//!
//! The configuration is `--config PATH`, else `$XDG_CONFIG_HOME/floe/client.yaml` or
//! `~/.config/floe/client.yaml` (see `client.example.yaml`). Amounts are WAL with up to nine
//! decimals (`1.5`, `1.5 WAL`) or FROST with a suffix (`1500 FROST`); 1 WAL = 10^9 FROST.
//!
//! Output: human text on stdout, or with `--json` exactly one JSON document on stdout (amounts
//! as integer FROST, ids in their text forms, like the ledger's RPC). Errors go to stderr as
//! text, or with `--json` to stdout as `{"error": {"code", "message", "hint", "exit_code"}}`.
//! Logs go to stderr (`RUST_LOG=debug` for more).
//!
//! Exit codes (stable, for scripts) are [`EXIT_CODES`]: 0 success; 1 usage or local error;
//! 2 the ledger said no (rejected transaction, nothing charged; or not found); 3 network
//! (unreachable, timed out, or an unexpected answer; retrying later may help).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use floe_common::{BlobId, Frost, ObjectId};
use floe_ledger::Address;

mod commands;
mod fail;
mod render;

use fail::{CliError, Exit};

/// The exit codes, as `--help` shows them.
const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  usage or local error: bad arguments, unreadable config, wallet or file
  2  the ledger said no: transaction rejected (nothing charged), or not found
  3  network: no validator reachable, timed out (a submitted transaction may
     still commit), or an unexpected answer; retrying later may help";

#[derive(Parser)]
#[command(
    name = "floe",
    version,
    about = "Floe decentralized blob storage: wallet, staking and blobs on the ledger",
    after_help = EXIT_CODES,
)]
struct Cli {
    /// Client configuration (default: ~/.config/floe/client.yaml).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Print exactly one JSON document on stdout (amounts in FROST).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create, inspect and use the wallet.
    #[command(subcommand)]
    Wallet(WalletCommand),
    /// Network parameters, prices, epoch timing and the storage committee.
    Info,
    /// Stake WAL with a storage node.
    Stake {
        /// The node's id (hex) or name.
        #[arg(long)]
        node: String,
        /// WAL to stake (e.g. 2.5).
        #[arg(long, value_name = "WAL")]
        amount: Frost,
    },
    /// Withdraw your stake with a storage node. The first run requests the withdrawal; run it
    /// again in a later epoch to get the WAL back.
    Withdraw {
        /// The node's id (hex) or name.
        #[arg(long)]
        node: String,
    },
    /// Compute a file's blob id without storing it.
    BlobId(BlobIdArgs),
    /// The ledger's status of a blob id.
    BlobStatus {
        /// The blob id (URL-safe base64; it may start with `-`).
        #[arg(allow_hyphen_values = true)]
        blob_id: BlobId,
    },
    /// List the wallet's blob objects.
    ListBlobs,
    /// Extend a certified blob object's lifetime, paying the current storage price.
    Extend {
        /// The blob object id (from `floe list-blobs`).
        #[arg(long, value_name = "ID")]
        object: ObjectId,
        /// Epochs to add.
        #[arg(long, value_name = "N")]
        epochs: u32,
    },
    /// Delete a deletable blob object; its remaining storage comes back to the wallet.
    Delete {
        /// The blob object id (from `floe list-blobs`).
        #[arg(long, value_name = "ID")]
        object: ObjectId,
    },
}

#[derive(Subcommand)]
enum WalletCommand {
    /// Create a new wallet (a random key, file mode 0600; never overwrites).
    New {
        /// Where to write it (default: the config's `wallet`).
        #[arg(long, value_name = "PATH")]
        path: Option<PathBuf>,
    },
    /// Print the wallet's address.
    Address,
    /// Show the balance and stakes.
    Balance {
        /// Another account's address (default: the wallet's).
        #[arg(long)]
        address: Option<Address>,
    },
    /// Send WAL to another address.
    Transfer {
        /// The recipient's address (hex).
        #[arg(long)]
        to: Address,
        /// WAL to send (e.g. 1.5).
        #[arg(long, value_name = "WAL")]
        amount: Frost,
    },
    /// Get WAL from the faucet (devnets only).
    Faucet {
        /// WAL to ask for (default: the most the faucet gives per call).
        #[arg(long, value_name = "WAL")]
        amount: Option<Frost>,
    },
}

/// `floe blob-id`.
#[derive(Args)]
struct BlobIdArgs {
    /// The file.
    file: PathBuf,
    /// The network's shard count. Default: the ledger's, else the config's `n_shards`; the
    /// blob id depends on it.
    #[arg(long, value_name = "N")]
    shards: Option<u16>,
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind as K;
            let _ = e.print();
            return match e.kind() {
                K::DisplayHelp | K::DisplayVersion => ExitCode::SUCCESS,
                _ => Exit::Usage.into(),
            };
        }
    };
    init_tracing();
    let json = cli.json;
    let result = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(commands::run(cli)),
        Err(e) => Err(CliError::local("runtime", format!("cannot start: {e}"))),
    };
    match result {
        Ok(report) => {
            report.print(json);
            ExitCode::SUCCESS
        }
        Err(e) => {
            e.print(json);
            e.exit.into()
        }
    }
}
