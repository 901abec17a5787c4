//! Errors as the user sees them: what failed, what to do, and a stable exit code.

#![allow(clippy::print_stdout)] // The `--json` error document goes to stdout.

use std::path::Path;
use std::process::ExitCode;

use floe_client::blobs::{
    ConnectError, QuiltReadError, QuiltStoreError, ReadError, StoreError, UploadError,
};
use floe_client::config::ClientConfigError;
use floe_client::files::FilesError;
use floe_client::{ErrorKind, FloeError, TrustError, WalletError};
use floe_ledger_types::TxError;

/// The process exit codes (see `EXIT_CODES` in `main.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: bad arguments, unreadable config, wallet or file.
    Usage = 1,
    /// 2: the ledger rejected a transaction, or something was not found.
    Rejected = 2,
    /// 3: no validator reachable, timed out, or an unexpected answer.
    Network = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// A failed command.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub exit: Exit,
    /// A stable snake-case code (the ledger's code for rejections).
    pub code: String,
    /// What failed.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl CliError {
    pub fn new(exit: Exit, code: &str, message: impl Into<String>) -> Self {
        CliError {
            exit,
            code: code.to_owned(),
            message: message.into(),
            hint: None,
        }
    }

    /// A usage or local error.
    pub fn local(code: &str, message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, code, message)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prints the error: text on stderr, or the JSON document on stdout.
    pub fn print(&self, json: bool) {
        if json {
            let doc = serde_json::json!({
                "error": {
                    "code": self.code,
                    "message": self.message,
                    "hint": self.hint,
                    "exit_code": self.exit as u8,
                }
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&doc).expect("JSON values serialize")
            );
        } else {
            eprintln!("error: {}", self.message);
            if let Some(hint) = &self.hint {
                eprintln!("  hint: {hint}");
            }
        }
    }

    /// A configuration that could not be loaded from `path`.
    pub fn config(e: &ClientConfigError, path: &Path) -> Self {
        let hint = match e {
            ClientConfigError::Read { source, .. }
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                format!(
                    "no configuration at {}: pass --config PATH, or create it (see \
                     client/client.example.yaml; `floe-devnet up` writes one)",
                    path.display()
                )
            }
            _ => "fix the file (fields are documented in client/client.example.yaml)".to_owned(),
        };
        Self::local("config", e.to_string()).hint(hint)
    }

    /// A wallet that could not be created or loaded.
    pub fn wallet(e: &WalletError) -> Self {
        let err = Self::local("wallet", e.to_string());
        match e {
            WalletError::NotFound { .. } => err.hint(
                "create one with `floe wallet new`, or point `wallet:` in the config at yours",
            ),
            WalletError::Exists { .. } => {
                err.hint("choose another path with --path, or keep using the existing wallet")
            }
            _ => err,
        }
    }
}

/// Context that makes messages concrete.
#[derive(Debug, Default, Clone)]
pub struct Context {
    /// The config file, for hints.
    pub config: Option<String>,
    /// The wallet's address, for funding hints.
    pub address: Option<String>,
}

/// Turns an SDK error into what the user sees.
pub fn from_floe(e: &FloeError, ctx: &Context) -> CliError {
    let exit = match e.kind() {
        ErrorKind::Rejected => Exit::Rejected,
        ErrorKind::Network => Exit::Network,
        ErrorKind::Local => Exit::Usage,
    };
    let code = e.code().to_owned();
    let fund = || {
        let to = ctx.address.as_deref().unwrap_or("your address");
        format!("get WAL with `floe wallet faucet` (devnets) or a transfer to {to}")
    };
    let config = ctx.config.as_deref().unwrap_or("the config");
    let (message, hint) = match e {
        FloeError::Wallet(w) => return CliError::wallet(w),
        FloeError::Config(c) => return CliError::config(c, std::path::Path::new(config)),
        FloeError::NoWallet { .. } => (
            e.to_string(),
            Some("create one with `floe wallet new`".to_owned()),
        ),
        FloeError::Unreachable { urls, source, .. } => (
            if urls.len() > 1 {
                format!(
                    "cannot reach any of the validators {}; last error: {source}",
                    urls.join(", ")
                )
            } else {
                format!("cannot reach the ledger: {source}")
            },
            Some(format!(
                "is the network running? check `ledger_rpc` in {config}"
            )),
        ),
        FloeError::Timeout {
            digest: Some(d), ..
        } => (
            e.to_string(),
            Some(format!(
                "transaction {d} may still be committed: check `floe wallet balance` or \
                 `floe list-blobs` before retrying"
            )),
        ),
        FloeError::Timeout { .. }
        | FloeError::Ledger { .. }
        | FloeError::MissingEffect { .. }
        | FloeError::InvalidCommittee(_) => (e.to_string(), Some("retry in a moment".to_owned())),
        FloeError::UnknownNode { node, known } => (
            format!("unknown storage node {node:?}"),
            Some(if known.is_empty() {
                "no storage nodes are registered".to_owned()
            } else {
                format!(
                    "give a node id or one of the names: {} (see `floe info`)",
                    known.join(", ")
                )
            }),
        ),
        FloeError::NoStake { node } => (
            format!("this wallet has no stake with {node}"),
            Some("`floe wallet balance` lists your stakes".to_owned()),
        ),
        FloeError::LedgerRejected {
            step,
            message,
            error,
            ..
        } => rejection(step, &code, message, error.as_deref(), fund),
        FloeError::Trust { source, .. } => return from_trust(source, config),
    };
    CliError {
        exit,
        code,
        message,
        hint,
    }
}

/// The message and hint of a ledger rejection.
fn rejection(
    step: &str,
    code: &str,
    message: &str,
    error: Option<&TxError>,
    fund: impl Fn() -> String,
) -> (String, Option<String>) {
    let hint = |s: &str| Some(s.to_owned());
    let (message, hint) = match (code, error) {
        (_, Some(TxError::InsufficientBalance { needed, available })) => (
            format!("insufficient funds for {step}: balance {available}, needs {needed}"),
            Some(fund()),
        ),
        ("insufficient_balance", None) => (
            format!("insufficient funds for {step}: {message}"),
            Some(fund()),
        ),
        (_, Some(TxError::FaucetLimit { asked, max })) => (
            format!("the faucet gives at most {max} per call (asked for {asked})"),
            Some(format!("run `floe wallet faucet --amount {}`", wal(*max))),
        ),
        (_, Some(TxError::FaucetAccountCap { asked, drawn, max })) => (
            format!(
                "the faucet gives one account at most {max}; this wallet drew {drawn} (asked for {asked})"
            ),
            hint("ask the network's operator to send this wallet WAL"),
        ),
        (
            _,
            Some(TxError::FaucetEpochCap {
                asked, minted, max, ..
            }),
        ) => (
            format!(
                "the faucet mints at most {max} per epoch; it minted {minted} in this one (asked for {asked})"
            ),
            hint("try again in the next epoch (`floe info` shows when it starts)"),
        ),
        (_, Some(TxError::FaucetTotalCap { asked, minted, max })) => (
            format!(
                "the faucet mints at most {max} on this network; it minted {minted} (asked for {asked})"
            ),
            hint("ask the network's operator to send this wallet WAL"),
        ),
        ("faucet_disabled", _) => (
            "this network has no faucet".to_owned(),
            Some(fund().replace("`floe wallet faucet` (devnets) or ", "")),
        ),
        ("unknown_object", _) => (
            format!("{step} failed: {message}"),
            hint("check the object id; `floe list-blobs` lists your blob objects"),
        ),
        ("wrong_object_type", _) => (
            format!("{step} failed: {message}"),
            hint("give a blob object id (from `floe list-blobs`), not a blob id"),
        ),
        ("not_owner", _) => (
            format!("{step} failed: {message}"),
            hint("only the owner can do this; `floe list-blobs` lists your blob objects"),
        ),
        ("not_deletable", _) => (
            format!("{step} failed: {message}"),
            hint("only blobs stored as deletable can be deleted; permanent ones expire"),
        ),
        ("not_certified", _) => (
            format!("{step} failed: {message}"),
            hint("only certified blobs can be extended; wait until the store has finished"),
        ),
        ("blob_shared", _) => (
            format!("{step} failed: {message}"),
            hint(
                "a shared blob has no owner: anyone may fund it (`floe fund-shared-blob`) and extend it (`floe extend --shared`), nobody may delete, burn or transfer it",
            ),
        ),
        ("insufficient_shared_funds", _) => (
            format!("{step} failed: {message}"),
            hint(
                "add WAL with `floe fund-shared-blob`, extend for fewer epochs, or pay from the wallet with `floe extend` (without --shared)",
            ),
        ),
        ("permanent_not_expired", _) => (
            format!("{step} failed: {message}"),
            hint(
                "a permanent blob can be burned once it expires; burn only expired ones with `floe burn-blobs --all-expired`",
            ),
        ),
        ("blob_expired", _) => (
            format!("{step} failed: {message}"),
            hint("an expired blob can no longer be extended or deleted"),
        ),
        (_, Some(TxError::EpochsOutOfRange { max, .. })) => (
            format!("{step} failed: {message}"),
            Some(format!(
                "storage can end at most {max} epochs after the current one (`floe info`)"
            )),
        ),
        ("withdrawal_too_early", _) => (
            format!("{step} failed: {message}"),
            hint("run `floe withdraw` again in the next epoch (`floe info` shows when)"),
        ),
        ("stake_locked", _) => (
            format!("{step} failed: {message}"),
            hint(
                "the node is handing its shards over; run `floe withdraw` again once `floe info` shows the epoch state `normal`",
            ),
        ),
        ("capacity_exceeded", _) => (
            format!("{step} failed: {message}"),
            hint(
                "the network's voted capacity is full for those epochs; store for fewer epochs or later (`floe info` shows the capacity)",
            ),
        ),
        ("not_committee_member", _) => (
            format!("{step} failed: {message}"),
            hint(
                "only the owner or the key of a current committee node can propose or vote (`floe info` lists the committee)",
            ),
        ),
        ("not_authorized", _) => (
            format!("{step} failed: {message}"),
            hint("use the wallet of the node's owner (or its node key)"),
        ),
        ("proposal_closed" | "unknown_proposal", _) => (
            format!("{step} failed: {message}"),
            hint("`floe proposals` lists the proposals and their status"),
        ),
        ("invalid_proposal", _) => (format!("{step} failed: {message}"), None),
        ("zero_amount", _) => (format!("{step} failed: {message}"), None),
        ("nonce_too_low" | "nonce_too_high" | "nonce_taken", _) => (
            format!("{step} failed: {message}"),
            hint("another client is using this wallet at the same time; retry"),
        ),
        _ => (format!("{step} rejected by the ledger: {message}"), None),
    };
    (
        message,
        hint.or_else(|| Some("nothing was charged".to_owned())),
    )
}

/// An amount in WAL without the unit (for command suggestions).
fn wal(f: floe_common::Frost) -> String {
    f.to_string().trim_end_matches(" WAL").to_owned()
}

/// Not found (exit 2).
pub fn not_found(code: &str, message: impl Into<String>) -> CliError {
    CliError::new(Exit::Rejected, code, message)
}

/// The network could not be reached for blob data.
pub fn from_connect(e: &ConnectError, ctx: &Context) -> CliError {
    let config = ctx.config.as_deref().unwrap_or("the config");
    if let ConnectError::Trust(t) = e {
        return from_trust(t, config);
    }
    CliError::new(Exit::Network, "unreachable", e.to_string()).hint(format!(
        "is the network running? check `ledger_rpc` in {config}"
    ))
}

/// A ledger server refused for trust reasons (another chain, a fee above the cap).
fn from_trust(e: &TrustError, config: &str) -> CliError {
    match e {
        TrustError::WrongChain { .. } => {
            CliError::new(Exit::Rejected, "wrong_chain", e.to_string()).hint(format!(
                "`ledger_rpc` in {config} points at another network than its `chain_id`"
            ))
        }
        TrustError::FeeAboveCap { .. } => {
            CliError::new(Exit::Rejected, "fee_above_cap", e.to_string()).hint(format!(
                "raise `max_fee` in {config} if this network's fee really is that high"
            ))
        }
        TrustError::NoProofRoot => CliError::local("no_proof_root", e.to_string()).hint(format!(
            "name the chain's genesis file as `genesis` in {config}"
        )),
    }
}

/// A failed store.
pub fn from_store(e: &StoreError, ctx: &Context) -> CliError {
    let fund = || {
        let to = ctx.address.as_deref().unwrap_or("your address");
        format!("get WAL with `floe wallet faucet` (devnets) or a transfer to {to}")
    };
    match e {
        StoreError::Trust { source, .. } => {
            from_trust(source, ctx.config.as_deref().unwrap_or("the config"))
        }
        StoreError::Encode(m) => CliError::local("encoding", format!("cannot encode: {m}"))
            .hint("the blob is larger than this network can store; split it"),
        StoreError::Connect(c) => from_connect(c, ctx),
        StoreError::Rejected {
            step,
            code,
            message,
        } => {
            let (message, hint) = rejection(step, code, message, None, fund);
            let mut err = CliError::new(Exit::Rejected, code, message);
            err.hint = hint;
            err
        }
        StoreError::Ledger { .. }
        | StoreError::NotFinal { .. }
        | StoreError::MissingEvent { .. } => {
            CliError::new(Exit::Network, "ledger_error", e.to_string())
                .hint("retry in a moment; storing the same file again reuses what was paid")
        }
        StoreError::Invalid(_) => CliError::new(Exit::Rejected, "invalid_blob", e.to_string())
            .hint("this content was once stored inconsistently and its blob id is marked invalid"),
        StoreError::Upload(UploadError::NotEnoughConfirmations { .. }) => {
            CliError::new(Exit::Network, "not_enough_confirmations", e.to_string()).hint(
                "too few storage nodes are up; retry later (storing the same file again reuses \
                 the registration already paid for)",
            )
        }
    }
}

/// A failed read.
pub fn from_read(e: &ReadError, ctx: &Context) -> CliError {
    match e {
        ReadError::Connect(c) => from_connect(c, ctx),
        ReadError::NotFound(id) => not_found(
            "unknown_blob",
            format!("blob {id} is not stored on this network"),
        )
        .hint("it was never stored, or all its blob objects were deleted; check the blob id"),
        ReadError::NotCertified(id) => not_found(
            "not_certified",
            format!("blob {id} is registered but not certified yet"),
        )
        .hint("its upload has not finished (retry later) or was abandoned"),
        ReadError::Invalid(id) => not_found(
            "invalid_blob",
            format!(
                "blob {id} is invalid: its writer encoded it inconsistently, so it has no content"
            ),
        ),
        ReadError::NoMetadata(_) | ReadError::NotEnoughSlivers { .. } => {
            CliError::new(Exit::Network, "unavailable", e.to_string())
                .hint("too few storage nodes answered; retry later")
        }
        ReadError::TooLarge { .. } => CliError::local("too_large", e.to_string()),
        ReadError::Decode(_) => CliError::new(Exit::Network, "decode", e.to_string())
            .hint("retry, or try --strict-consistency-check; report this if it persists"),
    }
}

/// A failed quilt store.
pub fn from_quilt_store(e: &QuiltStoreError, ctx: &Context) -> CliError {
    match e {
        QuiltStoreError::Format(f) => {
            CliError::local("invalid_quilt", e.to_string()).hint(match f {
                floe_common::quilt::QuiltError::TooManyPatches { .. } => {
                    "split the files over several quilts"
                }
                _ => "fix the files or their identifiers; nothing was paid",
            })
        }
        QuiltStoreError::Store(s) => from_store(s, ctx),
    }
}

/// A failed quilt or patch read.
pub fn from_quilt_read(e: &QuiltReadError, ctx: &Context) -> CliError {
    match e {
        QuiltReadError::Read(r) => from_read(r, ctx),
        QuiltReadError::NotAQuilt { .. } => {
            not_found("not_a_quilt", e.to_string()).hint("read it as a blob with `floe read`")
        }
        QuiltReadError::UnknownIdentifier { quilt_id, .. } => {
            not_found("unknown_patch", e.to_string()).hint(format!(
                "list the identifiers with `floe list-patches {quilt_id}`"
            ))
        }
        QuiltReadError::WrongQuilt { .. }
        | QuiltReadError::OutOfRange { .. }
        | QuiltReadError::BadPatch { .. } => CliError::local("bad_patch_id", e.to_string())
            .hint("check the patch id (`floe list-patches QUILT_ID` lists them)"),
    }
}

/// A failed file store or read.
pub fn from_files(e: &FilesError, ctx: &Context) -> CliError {
    match e {
        FilesError::ReadFile { .. } => CliError::local("read", e.to_string()),
        FilesError::WriteFile { .. } => CliError::local("write", e.to_string()),
        FilesError::TooManyEpochs { max, .. } => {
            CliError::local("epochs", e.to_string()).hint(format!(
                "store for at most {max} epochs ahead: --epochs N with N ≤ {max}, or --epochs max"
            ))
        }
        FilesError::EndEpochNotAhead { current, .. } => {
            CliError::local("end_epoch_passed", e.to_string()).hint(format!(
                "pass an --end-epoch after the current epoch {current} (`floe info`)"
            ))
        }
        FilesError::ExpiryInPast { .. } => CliError::local("expiry_in_past", e.to_string())
            .hint("pass an --earliest-expiry-time in the future"),
        FilesError::ExpiryTooFar { latest_ms, max, .. } => {
            CliError::local("expiry_too_far", e.to_string()).hint(format!(
                "storage bought now ends at the latest at {} ({max} epochs ahead, --epochs max)",
                crate::render::time_utc(*latest_ms)
            ))
        }
        FilesError::Encode(m) => CliError::local("encoding", format!("cannot encode: {m}"))
            .hint("the blob is larger than this network can store; split it"),
        FilesError::EncodeTask(_) => CliError::local("encoding", e.to_string()),
        FilesError::Ledger(c) => {
            let config = ctx.config.as_deref().unwrap_or("the config");
            let code = match c {
                floe_ledger_types::ClientError::Transport(_) => "unreachable",
                floe_ledger_types::ClientError::Timeout => "timeout",
                _ => "ledger_error",
            };
            CliError::new(Exit::Network, code, format!("ledger: {c}")).hint(format!(
                "is the network running? check `ledger_rpc` in {config}"
            ))
        }
        FilesError::Store(s) => from_store(s, ctx),
        FilesError::Read(r) => from_read(r, ctx),
        FilesError::ChunkMismatch(_) => CliError::new(Exit::Rejected, "bad_chunked_file", e.to_string())
            .hint("the manifest or a chunk is not what was stored; read the chunks with `floe read CHUNK_ID`"),
    }
}

impl From<FloeError> for CliError {
    fn from(e: FloeError) -> Self {
        from_floe(&e, &Context::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use floe_common::Frost;

    #[test]
    fn insufficient_funds_says_what_and_what_to_do() {
        let e = FloeError::LedgerRejected {
            step: "transfer",
            code: "insufficient_balance".into(),
            message: "x".into(),
            error: Some(Box::new(TxError::InsufficientBalance {
                needed: Frost::from_wal(5).unwrap(),
                available: Frost::from_wal(3).unwrap(),
            })),
        };
        let ctx = Context {
            config: None,
            address: Some("abcd".into()),
        };
        let c = from_floe(&e, &ctx);
        assert_eq!(c.exit, Exit::Rejected);
        assert_eq!(c.code, "insufficient_balance");
        assert_eq!(
            c.message,
            "insufficient funds for transfer: balance 3 WAL, needs 5 WAL"
        );
        assert!(c.hint.unwrap().contains("floe wallet faucet"));
    }

    #[test]
    fn network_errors_exit_3() {
        let e = FloeError::Unreachable {
            step: "info",
            urls: vec!["http://127.0.0.1:1".into()],
            source: floe_ledger_types::TransportError::NoUrls,
        };
        let c = from_floe(&e, &Context::default());
        assert_eq!(c.exit, Exit::Network);
        assert_eq!(c.message, "cannot reach the ledger: no validator URLs");
        assert!(c.hint.unwrap().contains("ledger_rpc"));
    }
}
