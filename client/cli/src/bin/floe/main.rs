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
//!   proposals                         governance proposals
//!   propose (--epoch-secs N|--max-epochs-ahead N|--min-fee X|--active-set-size N|
//!            --max-shards-per-node N|--challenges-per-node K|--challenge-window-secs N|
//!            --slash-commission NODE) [--deadline-epoch E]
//!                                     propose a change (committee node owners/keys)
//!   vote --proposal ID --approve|--reject
//!                                     vote with the committee nodes you control
//!   vote-prices --node NODE [--storage-price X] [--write-price X] [--capacity BYTES]
//!                                     set a node's price and capacity votes
//!   collect-commission --node NODE    pay a node's collectable commission to its owner
//!   blob-id FILE [--shards N]         a file's blob id, offline
//!   blob-status BLOB_ID               the ledger's status of a blob id
//!   list-blobs                        your blob objects
//!   extend --object ID --epochs N [--shared]
//!                                     extend a certified blob object (a shared one from its funds)
//!   delete --object ID… | --blob-id ID… | --file PATH…
//!                                     delete deletable blob objects
//!   transfer-blob --object ID --to ADDR
//!                                     give a blob object to another account
//!   fund-shared-blob --object ID --amount X
//!                                     add WAL to a shared blob's funds
//!   burn-blobs --object ID… | --all-expired
//!                                     remove blob objects you no longer want
//!   store FILE… [--epochs N|max|--end-epoch E|--earliest-expiry-time T] [--permanent|--deletable]
//!         [--dry-run] [--force] [--content-type [TYPE]] [--share]
//!                                     store files (pay, upload, certify)
//!   read BLOB_ID [-o FILE] [--strict-consistency-check|--skip-consistency-check]
//!                                     read a blob (to stdout without -o)
//!   store-quilt FILE…|--dir DIR [--tag K=V…] [--epochs N|max|--end-epoch E|…] [--permanent|--deletable]
//!                                     store many files as one quilt (one blob)
//!   read-quilt QUILT_ID [IDENTIFIER…] | --patch PATCH_ID… | --tag K=V… [-o DIR]
//!                                     read patches of a quilt (all without a selection)
//!   list-patches QUILT_ID             a quilt's patches: identifiers, patch ids, tags
//!   bench encode --size B --shards N  single-thread encode throughput (one JSON line)
//!   bench store --size B              a timed store of random bytes (one JSON line)
//!   bench read BLOB_ID                a timed read (one JSON line)
//!   attr get OBJECT [KEY] | set OBJECT KEY VALUE | rm OBJECT KEY
//!                                     a blob object's attributes (content-type, …)
//!   site publish DIR [--name NAME] [--epochs N|max]
//!                                     publish a directory as a website (quilts + a site record)
//!   site update DIR SITE              store only changed files, update the site in one transaction
//!   site list | show SITE | delete SITE
//!                                     the wallet's sites; one site's files and rules; delete one
//!   name claim NAME [--site SITE] [--epochs N] | renew NAME --epochs N | transfer NAME --to ADDR |
//!        point NAME [--site SITE] | show NAME
//!                                     human-readable site names on the ledger
//!   bench quilt --files N --size B [--individual M]
//!                                     a quilt against separate blobs (one JSON line)
//!   daemon [--bind A] [--max-body B] [--max-quilt-body B] [--max-concurrent N] [--cors-allow-origin O]
//!          [--allow-active-content] [--jwt-decode-secret S] [--aggregator-only]
//!          [--publisher-rate N] [--max-read-blob-size B]
//!                                     HTTP publisher and aggregator (Walrus routes)
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
use floe_client::files::Epochs;
use floe_common::{BlobId, Frost, ObjectId};
use floe_ledger_types::Address;

mod commands;
mod fail;
mod progress;
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
    about = "Floe decentralized blob storage: wallet, staking, storing and reading blobs, and an HTTP daemon",
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
    /// List governance proposals (open and closed).
    Proposals,
    /// Propose a parameter change or a commission slash (owner or key of a committee node).
    Propose(ProposeArgs),
    /// Vote on a proposal with the shard weight of every committee node the wallet controls.
    Vote {
        /// The proposal id (from `floe proposals`).
        #[arg(long, value_name = "ID")]
        proposal: u64,
        /// Approve the proposal.
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        approve: bool,
        /// Reject the proposal.
        #[arg(long)]
        reject: bool,
    },
    /// Set a storage node's price and capacity votes (owner or node key); omitted votes keep
    /// their value. Prices follow the 2/3 shard-weighted quantile of the committee's votes.
    VotePrices {
        /// The node's id (hex) or name.
        #[arg(long)]
        node: String,
        /// Storage price vote per MiB per epoch (e.g. `100000 FROST`).
        #[arg(long, value_name = "WAL")]
        storage_price: Option<Frost>,
        /// Write price vote per MiB (e.g. `20000 FROST`).
        #[arg(long, value_name = "WAL")]
        write_price: Option<Frost>,
        /// Capacity vote: bytes this node can store.
        #[arg(long, value_name = "BYTES")]
        capacity: Option<u64>,
    },
    /// Pay a node's collectable commission to its owner (the wallet).
    CollectCommission {
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
    /// Extend a certified blob object's lifetime at the current storage price: paid by the
    /// wallet, or with --shared from a shared blob's funds.
    Extend {
        /// The blob object id (from `floe list-blobs`), or a shared blob's.
        #[arg(long, value_name = "ID")]
        object: ObjectId,
        /// Epochs to add.
        #[arg(long, value_name = "N")]
        epochs: u32,
        /// The object is a shared blob: pay from its funds (the wallet pays only the fee).
        #[arg(long)]
        shared: bool,
    },
    /// Delete deletable blob objects of the wallet; their remaining storage comes back to it.
    Delete(DeleteArgs),
    /// Give one of the wallet's blob objects to another account.
    TransferBlob {
        /// The blob object id (from `floe list-blobs`).
        #[arg(long, value_name = "ID")]
        object: ObjectId,
        /// The new owner's address (hex).
        #[arg(long, value_name = "ADDR")]
        to: Address,
    },
    /// Add WAL to a shared blob's funds, which pay its extensions (`floe extend --shared`).
    FundSharedBlob {
        /// The shared blob's object id.
        #[arg(long, value_name = "ID")]
        object: ObjectId,
        /// WAL to add (e.g. 0.5).
        #[arg(long, value_name = "WAL")]
        amount: Frost,
    },
    /// Remove blob objects the wallet no longer wants: expired ones go, live deletable ones
    /// are deleted (their storage comes back), live permanent ones cannot be burned.
    BurnBlobs(BurnArgs),
    /// Store files: encode, pay and register, upload to the storage nodes, certify.
    Store(StoreArgs),
    /// Read a blob: to stdout (binary safe), or to a file with -o.
    Read(ReadArgs),
    /// Store many files as one quilt (one blob); each is read on its own by patch id or
    /// identifier.
    StoreQuilt(StoreQuiltArgs),
    /// Read patches of a quilt: by identifier, by patch id, by tag, or all of them.
    ReadQuilt(ReadQuiltArgs),
    /// List a quilt's patches: identifiers, patch ids, content types and tags.
    ListPatches {
        /// The quilt's blob id.
        #[arg(allow_hyphen_values = true)]
        quilt_id: BlobId,
    },
    /// A blob object's attributes (e.g. `content-type`, served by `floe daemon` as headers).
    #[command(subcommand)]
    Attr(AttrCommand),
    /// Websites: publish a directory, update it, list, show and delete sites.
    #[command(subcommand)]
    Site(SiteCommand),
    /// Site names: claim, renew, transfer, point at a site, show.
    #[command(subcommand)]
    Name(NameCommand),
    /// Access policies of private blobs: create, edit an allowlist, show, pay for access.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Measure encoding, storing and reading; each prints one JSON line.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run the HTTP publisher and aggregator (Walrus's routes) until Ctrl-C.
    Daemon(DaemonArgs),
}

/// `floe propose`: exactly one change.
#[derive(Args)]
#[group(id = "change", required = true, multiple = false)]
struct ProposeArgs {
    /// New epoch length in seconds (applies from the epoch after the one it passes in).
    #[arg(long, value_name = "N", group = "change")]
    epoch_secs: Option<u64>,
    /// New `max_epochs_ahead`.
    #[arg(long, value_name = "N", group = "change")]
    max_epochs_ahead: Option<u32>,
    /// New minimum transaction fee.
    #[arg(long, value_name = "WAL", group = "change")]
    min_fee: Option<Frost>,
    /// New committee size cap.
    #[arg(long, value_name = "N", group = "change")]
    active_set_size: Option<u16>,
    /// New per-node shard cap.
    #[arg(long, value_name = "N", group = "change")]
    max_shards_per_node: Option<u16>,
    /// New storage challenges per node and epoch (0 turns them off).
    #[arg(long, value_name = "K", group = "change")]
    challenges_per_node: Option<u16>,
    /// New storage challenge window, in seconds after an epoch's start.
    #[arg(long, value_name = "N", group = "change")]
    challenge_window_secs: Option<u64>,
    /// Burn the uncollected commission of this node (id or name).
    #[arg(long, value_name = "NODE", group = "change")]
    slash_commission: Option<String>,
    /// Last epoch in which votes count (default: the next epoch).
    #[arg(long, value_name = "E")]
    deadline_epoch: Option<u32>,
}

/// How long a store keeps what it stores, and whether it may be deleted early.
#[derive(Args)]
struct Lifetime {
    /// Epochs ahead to store for, or `max` (default: the config's `default_epochs`).
    #[arg(long, value_name = "N|max")]
    epochs: Option<Epochs>,
    /// Store until this epoch starts (the end epoch, after the current one).
    #[arg(long, value_name = "E", conflicts_with = "epochs")]
    end_epoch: Option<u32>,
    /// Store at least until this time: RFC 3339 (`2030-01-02T03:04:05Z`) or Unix
    /// milliseconds. The fewest epochs that last that long are bought.
    #[arg(
        long,
        value_name = "TIME",
        value_parser = parse_time,
        conflicts_with_all = ["epochs", "end_epoch"]
    )]
    earliest_expiry_time: Option<u64>,
    /// Store permanently: it cannot be deleted before it expires.
    #[arg(long, conflicts_with = "deletable")]
    permanent: bool,
    /// Store deletable (the default).
    #[arg(long)]
    deletable: bool,
}

impl Lifetime {
    /// The duration asked for, if any (else the config's default applies).
    fn duration(&self) -> Option<Epochs> {
        self.epochs
            .or(self
                .end_epoch
                .map(|e| Epochs::EndEpoch(floe_common::Epoch(e))))
            .or(self.earliest_expiry_time.map(Epochs::ExpiresAfter))
    }
}

/// A point in time: RFC 3339 text (`Z` or a `±HH:MM` offset), or milliseconds since the Unix
/// epoch. Returns milliseconds since the Unix epoch.
fn parse_time(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<u64>() {
        return Ok(ms);
    }
    let bad = |why: String| {
        format!("{s:?} is neither RFC 3339 (2030-01-02T03:04:05Z) nor Unix milliseconds: {why}")
    };
    // humantime reads UTC only: take a numeric offset off and apply it afterwards.
    let (utc, offset_ms) = match s.len().checked_sub(6).map(|i| s.split_at(i)) {
        Some((rest, off)) if rest.len() > 10 && (off.starts_with('+') || off.starts_with('-')) => {
            let (h, m) = off[1..]
                .split_once(':')
                .ok_or_else(|| bad("bad offset".into()))?;
            let minutes = h.parse::<i64>().map_err(|e| bad(e.to_string()))? * 60
                + m.parse::<i64>().map_err(|e| bad(e.to_string()))?;
            let sign = if off.starts_with('-') { -1 } else { 1 };
            (rest, sign * minutes * 60_000)
        }
        _ => (s, 0),
    };
    let t = humantime::parse_rfc3339_weak(utc).map_err(|e| bad(e.to_string()))?;
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| format!("{s:?} is before 1970"))?
        .as_millis() as i64;
    u64::try_from(ms - offset_ms).map_err(|_| format!("{s:?} is before 1970"))
}

/// `floe delete`: the blob objects to delete, given directly or found in the wallet.
#[derive(Args)]
#[group(id = "targets", required = true, multiple = true)]
struct DeleteArgs {
    /// A blob object id (repeatable; from `floe list-blobs`).
    #[arg(long = "object", value_name = "ID", group = "targets")]
    objects: Vec<ObjectId>,
    /// Every live deletable blob object of this blob id in the wallet (repeatable).
    #[arg(
        long = "blob-id",
        value_name = "BLOB_ID",
        allow_hyphen_values = true,
        group = "targets"
    )]
    blob_ids: Vec<BlobId>,
    /// Every live deletable blob object of this file's blob id in the wallet (repeatable).
    #[arg(long = "file", value_name = "PATH", group = "targets")]
    files: Vec<PathBuf>,
}

/// `floe burn-blobs`.
#[derive(Args)]
#[group(id = "burned", required = true, multiple = false)]
struct BurnArgs {
    /// A blob object id (repeatable; from `floe list-blobs`).
    #[arg(long = "object", value_name = "ID", group = "burned")]
    objects: Vec<ObjectId>,
    /// Every expired blob object of the wallet.
    #[arg(long, group = "burned")]
    all_expired: bool,
}

/// `floe store`.
#[derive(Args)]
struct StoreArgs {
    /// The files.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    lifetime: Lifetime,
    /// Only encode and price: print the blob id, encoded size and price; pay nothing.
    #[arg(long)]
    dry_run: bool,
    /// Store even if the blob is already certified for long enough.
    #[arg(long)]
    force: bool,
    /// Set the new blob object's `content-type` attribute (served by `floe daemon`): the type
    /// given, or guessed from the file name when none is.
    #[arg(long, value_name = "TYPE", num_args = 0..=1, default_missing_value = "")]
    content_type: Option<String>,
    /// Then turn each new blob object into a shared blob: anyone may fund it (`floe
    /// fund-shared-blob`) and extend it from its funds; nobody may delete it.
    #[arg(long, conflicts_with = "dry_run")]
    share: bool,
    /// Encrypt each file before it is stored, so that only readers `--policy` allows can
    /// read it (keys come from the chain's key servers; nodes see only ciphertext).
    #[arg(long, requires = "policy", conflicts_with = "dry_run")]
    encrypt: bool,
    /// The access policy of encrypted files (`floe policy create …`).
    #[arg(long, value_name = "POLICY", requires = "encrypt")]
    policy: Option<ObjectId>,
}

/// `floe store-quilt`.
#[derive(Args)]
struct StoreQuiltArgs {
    /// The files (each patch's identifier is its file name).
    #[arg(
        value_name = "FILE",
        required_unless_present = "dir",
        conflicts_with = "dir"
    )]
    files: Vec<PathBuf>,
    /// Store every file under this directory (identifiers: paths relative to it).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// A tag for every patch (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = commands::parse_tag)]
    tags: Vec<(String, String)>,
    #[command(flatten)]
    lifetime: Lifetime,
}

/// `floe read-quilt`.
#[derive(Args)]
struct ReadQuiltArgs {
    /// The quilt's blob id (optional with --patch).
    #[arg(allow_hyphen_values = true, required_unless_present = "patches")]
    quilt_id: Option<BlobId>,
    /// Identifiers of the patches to read (default: all, or those with the --tag tags).
    #[arg(value_name = "IDENTIFIER", conflicts_with_all = ["patches", "tags"])]
    identifiers: Vec<String>,
    /// Read the patch with this patch id (repeatable).
    #[arg(
        long = "patch",
        value_name = "PATCH_ID",
        allow_hyphen_values = true,
        conflicts_with = "tags"
    )]
    patches: Vec<floe_client::blobs::QuiltPatchId>,
    /// Read the patches that have this tag (repeatable: all must match).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = commands::parse_tag)]
    tags: Vec<(String, String)>,
    /// Write the patches into this directory, as their identifiers (default: stdout, one
    /// patch; with --json, base64 in the document).
    #[arg(short, long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// `floe read`.
#[derive(Args)]
struct ReadArgs {
    /// The blob id (URL-safe base64; it may start with `-`).
    #[arg(allow_hyphen_values = true)]
    blob_id: BlobId,
    /// Write the blob to this file (default: stdout).
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Re-encode the whole blob to check its consistency (slower).
    #[arg(long, conflicts_with = "skip_consistency_check")]
    strict_consistency_check: bool,
    /// Skip the consistency check (only for blobs from a trusted writer).
    #[arg(long)]
    skip_consistency_check: bool,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Encode random bytes on one thread: {"size","shards","mib_s","encode_ms"}.
    Encode {
        /// Blob size in bytes.
        #[arg(long, value_name = "BYTES")]
        size: u64,
        /// Shard count.
        #[arg(long, value_name = "N", default_value_t = 100)]
        shards: u16,
    },
    /// Store random bytes on the configured network (pays): size, blob_id, mib_s, phases_ms,
    /// peak_rss_bytes.
    Store {
        /// Blob size in bytes.
        #[arg(long, value_name = "BYTES")]
        size: u64,
        /// Epochs (default: the config's `default_epochs`).
        #[arg(long, value_name = "N")]
        epochs: Option<u32>,
    },
    /// Store `files` random files as one quilt and `individual` as separate blobs, then read
    /// one patch ~20 times: per-file transactions, WAL, stored bytes and time, the ratios,
    /// and the patch read's bytes from nodes and latency.
    Quilt {
        /// Files in the quilt.
        #[arg(long, value_name = "N", default_value_t = 1000)]
        files: usize,
        /// Bytes per file.
        #[arg(long, value_name = "BYTES", default_value_t = 10240)]
        size: usize,
        /// Files stored as separate blobs for comparison (per-file figures extrapolate).
        #[arg(long, value_name = "N", default_value_t = 50)]
        individual: usize,
        /// Epochs (default: the config's `default_epochs`).
        #[arg(long, value_name = "N")]
        epochs: Option<u32>,
        /// Patch reads timed (the median is reported).
        #[arg(long, value_name = "N", default_value_t = 20)]
        reads: usize,
    },
    /// Private blobs: a plain and an encrypted store and read of the same bytes (overheads
    /// in percent), sealing and opening throughput, key retrieval p50/p99 over `--requests`
    /// fresh requests, and one key server's requests per second.
    Private {
        /// Bytes stored each way.
        #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
        size: u64,
        /// Key retrievals timed.
        #[arg(long, default_value_t = 100)]
        requests: usize,
        /// Requests sent to one key server for its throughput.
        #[arg(long, default_value_t = 1000)]
        server_requests: usize,
        /// Store and read rounds (medians are reported).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Epochs (default: the config's `default_epochs`).
        #[arg(long)]
        epochs: Option<u32>,
    },
    /// Read a blob from the configured network: size, blob_id, mib_s, phases_ms,
    /// peak_rss_bytes.
    Read {
        /// The blob id.
        #[arg(allow_hyphen_values = true)]
        blob_id: BlobId,
    },
    /// Read a blob through a running `floe daemon`: time to first byte, one fast client, a
    /// 1 KiB range (latency, bytes fetched from nodes), then many slow readers at once and the
    /// daemon's peak memory.
    Aggregator {
        /// The blob id (certified; a large blob, e.g. 64 MiB, shows the streaming).
        #[arg(allow_hyphen_values = true)]
        blob_id: BlobId,
        /// The daemon.
        #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:31415")]
        url: String,
        /// The daemon's process id, for its peak memory (`/proc/PID/status`).
        #[arg(long, value_name = "PID")]
        pid: Option<u32>,
        /// Slow readers at once.
        #[arg(long, value_name = "N", default_value_t = 50)]
        clients: usize,
        /// Each slow reader's pace, in bytes per second.
        #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
        rate: u64,
    },
}

/// `floe daemon`.
#[derive(Args)]
struct DaemonArgs {
    /// Address to listen on.
    #[arg(long, value_name = "HOST:PORT", default_value = floe_cli::daemon::DEFAULT_BIND)]
    bind: String,
    /// Largest blob a PUT may upload, in bytes (larger bodies get 413).
    #[arg(long, value_name = "BYTES", default_value_t = 10 * 1024 * 1024)]
    max_body: u64,
    /// Largest `PUT /v1/quilts` body, in bytes (larger bodies get 413).
    #[arg(long, value_name = "BYTES", default_value_t = 100 * 1024 * 1024)]
    max_quilt_body: u64,
    /// Stores served at once (more get 429).
    #[arg(long, value_name = "N", default_value_t = 8)]
    max_concurrent: usize,
    /// Reads served at once (more get 429).
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_concurrent_reads: usize,
    /// The origin browsers may read from cross-origin (`*` for any, `none` for no CORS).
    #[arg(long, value_name = "ORIGIN", default_value = "*")]
    cors_allow_origin: String,
    /// Serve HTML, SVG and XML without `Content-Security-Policy: sandbox` (lets stored pages
    /// run script with the daemon's origin: only for a daemon serving its own sites).
    #[arg(long)]
    allow_active_content: bool,
    /// Store only for requests with a JSON Web Token signed with this key (`0x…` hex, or the
    /// text itself; for EdDSA the public key in hex). Claims as Walrus's publisher.
    #[arg(long, value_name = "SECRET")]
    jwt_decode_secret: Option<String>,
    /// The algorithm tokens must be signed with (HS256, HS384, HS512, EdDSA, ES256, RS256, …).
    #[arg(long, value_name = "ALG", default_value = "HS256")]
    jwt_algorithm: String,
    /// Refuse tokens issued (`iat`) more than this many seconds ago (0: check `exp` only).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    jwt_expiring_sec: u64,
    /// Most token ids (`jti`) remembered against replay; stores are refused while it is full.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    jwt_cache_size: usize,
    /// Serve reads only: `PUT` answers 403.
    #[arg(long, conflicts_with_all = ["jwt_decode_secret", "unsafe_open_publisher"])]
    aggregator_only: bool,
    /// Run a publisher without authentication on a non-loopback address (anyone who reaches
    /// it spends the wallet's WAL).
    #[arg(long)]
    unsafe_open_publisher: bool,
    /// Stores per minute per client address, with bursts of up to a sixth of it (at least
    /// 1); 0 for no limit. Default: 60 on a non-loopback address, none on loopback.
    #[arg(long, value_name = "N")]
    publisher_rate: Option<u32>,
    /// Largest blob a read serves, in bytes (413 above it, before any sliver is fetched).
    #[arg(long, value_name = "BYTES")]
    max_read_blob_size: Option<u64>,
    /// Reads one client address may have in flight at once (more get 429); 0 for no limit.
    /// Default: 8 on a non-loopback address, none on loopback.
    #[arg(long, value_name = "N")]
    max_reads_per_client: Option<usize>,
    /// Drop a client connection once a write to it has made no progress for this many seconds
    /// (a reader that stopped reading frees its read slot and buffers).
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    stall_timeout: u64,
}

#[derive(Subcommand)]
enum AttrCommand {
    /// Show an attribute, or all of them.
    Get {
        /// The blob object (from `floe list-blobs`).
        object: ObjectId,
        /// The key (all attributes without it).
        key: Option<String>,
    },
    /// Set (insert or replace) an attribute of one of the wallet's blob objects.
    Set {
        /// The blob object.
        object: ObjectId,
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Remove an attribute of one of the wallet's blob objects.
    Rm {
        /// The blob object.
        object: ObjectId,
        /// The key.
        key: String,
    },
}

#[derive(Subcommand)]
enum SiteCommand {
    /// Store a directory as quilts and record it as a site (`site.yaml` in it sets headers,
    /// routes, redirects and the 404 page).
    Publish {
        /// The directory.
        dir: PathBuf,
        /// Also claim this name for the site (held as long as the files are stored).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        lifetime: Lifetime,
    },
    /// Store only new and changed files, and update the site in one transaction.
    Update {
        /// The directory.
        dir: PathBuf,
        /// The site: its id, its portal label or a name pointing at it.
        site: String,
        #[command(flatten)]
        lifetime: Lifetime,
    },
    /// The wallet's sites.
    List,
    /// A site's files, routes, redirects and 404 page.
    Show {
        /// The site: its id, its portal label or a name pointing at it.
        site: String,
    },
    /// Delete a site (its owner only); names pointing at it then resolve to nothing.
    Delete {
        /// The site: its id, its portal label or a name pointing at it.
        site: String,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Create a policy owned by the wallet.
    #[command(subcommand)]
    Create(PolicyRuleArgs),
    /// Add addresses to an allowlist policy of the wallet.
    Add {
        /// The policy.
        policy: ObjectId,
        /// The addresses.
        #[arg(required = true)]
        addresses: Vec<Address>,
    },
    /// Remove addresses from an allowlist policy of the wallet (they get no new keys).
    Remove {
        /// The policy.
        policy: ObjectId,
        /// The addresses.
        #[arg(required = true)]
        addresses: Vec<Address>,
    },
    /// A policy's rule, owner and version, and the wallet's paid access.
    Show {
        /// The policy.
        policy: ObjectId,
    },
    /// Pay a paid policy's price to its owner for its epochs of access.
    Pay {
        /// The policy.
        policy: ObjectId,
    },
}

#[derive(Subcommand)]
enum PolicyRuleArgs {
    /// Only the owner reads.
    Owner,
    /// The owner and the listed addresses read (edit with `floe policy add|remove`).
    Allowlist {
        /// Initial members.
        addresses: Vec<Address>,
    },
    /// Anyone reads from an epoch or a time on (not even the owner earlier).
    Timelock {
        /// From this epoch.
        #[arg(
            long,
            value_name = "EPOCH",
            conflicts_with = "at",
            required_unless_present = "at"
        )]
        epoch: Option<u32>,
        /// From this time: RFC 3339 or Unix milliseconds (the ledger's block time).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        at: Option<u64>,
    },
    /// The owner, and readers who paid PRICE to the owner, for N epochs per payment.
    Paid {
        /// The price in WAL (e.g. `0.5`; 1 WAL = 10^9 FROST).
        #[arg(long)]
        price: Frost,
        /// Epochs of access per payment.
        #[arg(long, value_name = "N")]
        epochs: u32,
    },
    /// Readers both policies allow.
    And {
        /// A policy.
        left: ObjectId,
        /// Another policy.
        right: ObjectId,
    },
    /// Readers either policy allows.
    Or {
        /// A policy.
        left: ObjectId,
        /// Another policy.
        right: ObjectId,
    },
}

#[derive(Subcommand)]
enum NameCommand {
    /// Claim a free name for some epochs, optionally pointing at a site.
    Claim {
        /// The name (a-z, 0-9 and -, up to 40 characters).
        name: String,
        /// The site it names (id, label or another name).
        #[arg(long)]
        site: Option<String>,
        /// Epochs to hold it (default: the config's `default_epochs`).
        #[arg(long, value_name = "N")]
        epochs: Option<u32>,
    },
    /// Hold a name for more epochs.
    Renew {
        /// The name.
        name: String,
        /// Epochs to add.
        #[arg(long, value_name = "N")]
        epochs: u32,
    },
    /// Give a name to another account.
    Transfer {
        /// The name.
        name: String,
        /// The new owner's address.
        #[arg(long)]
        to: Address,
    },
    /// Point a name at a site, or at nothing without --site.
    Point {
        /// The name.
        name: String,
        /// The site (id, label or another name).
        #[arg(long)]
        site: Option<String>,
    },
    /// Who holds a name, until when, and the site it names.
    Show {
        /// The name.
        name: String,
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
    floe_runtime::init_tracing("warn");
    let json = cli.json;
    // Data commands encode, verify and serve in parallel; the others need one thread.
    let mut builder = match cli.command {
        Command::Store(_)
        | Command::Read(_)
        | Command::StoreQuilt(_)
        | Command::ReadQuilt(_)
        | Command::ListPatches { .. }
        | Command::Bench(_)
        | Command::Daemon(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let result = match builder.enable_all().build() {
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

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("1700000000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Ok(1_000));
        assert_eq!(parse_time("2030-01-02T03:04:05Z"), Ok(1_893_553_445_000));
        assert_eq!(
            parse_time("2030-01-02T03:04:05.250Z"),
            Ok(1_893_553_445_250)
        );
        assert_eq!(
            parse_time("2030-01-02T05:04:05+02:00"),
            Ok(1_893_553_445_000)
        );
        assert_eq!(
            parse_time("2030-01-02T01:04:05-02:00"),
            Ok(1_893_553_445_000)
        );
        assert!(parse_time("tomorrow").is_err());
        assert!(parse_time("2030-13-02T03:04:05Z").is_err());
    }
}
