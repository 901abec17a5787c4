//! The SDK's error: which step failed, and whether the ledger said no, could not be reached, or
//! did not finish in time.

use std::time::Duration;

use floe_ledger_types::client::{ClientError, TransportError};
use floe_ledger_types::{TxDigest, TxError};

use crate::trust::TrustError;
use crate::wallet::WalletError;

/// What kind of failure an error is, for callers that branch on it (the CLI's exit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The ledger answered no: a rejected transaction, an unknown node, nothing to withdraw.
    /// Retrying the same request will fail the same way.
    Rejected,
    /// The ledger could not be reached, did not answer in time, or answered unexpectedly.
    /// Retrying later may succeed.
    Network,
    /// A local problem: no wallet, an unreadable key file.
    Local,
}

/// An SDK operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FloeError {
    /// The ledger refused a transaction at admission (nothing happened), rejected it at
    /// execution (it paid its fee and consumed its nonce, nothing else), or refused a query.
    #[error("{step}: rejected by the ledger: {message} [{code}]")]
    LedgerRejected {
        /// The operation (`transfer`, `stake`, `extend`, …).
        step: &'static str,
        /// The ledger's stable error code (`insufficient_balance`, `unknown_object`, …).
        code: String,
        /// The ledger's message.
        message: String,
        /// The typed rejection, when the transaction reached execution (or the SDK knew the
        /// answer without asking).
        error: Option<Box<TxError>>,
    },
    /// No validator answered.
    #[error("{step}: cannot reach the ledger at {}: {source}", urls.join(", "))]
    Unreachable {
        /// The operation.
        step: &'static str,
        /// The validator URLs tried.
        urls: Vec<String>,
        /// The last connection error.
        #[source]
        source: TransportError,
    },
    /// A request or a transaction's finality wait timed out. A submitted transaction may still
    /// be committed later.
    #[error("{step}: timed out after {waited:?}{}", digest.map(|d| format!(" waiting for transaction {d}; it may still be committed")).unwrap_or_default())]
    Timeout {
        /// The operation.
        step: &'static str,
        /// The transaction, if one was submitted.
        digest: Option<TxDigest>,
        /// How long the wait was.
        waited: Duration,
    },
    /// The ledger answered in an unexpected way (a server error, an undecodable response).
    #[error("{step}: unexpected answer from the ledger: {source}")]
    Ledger {
        /// The operation.
        step: &'static str,
        /// The client error.
        source: ClientError,
    },
    /// A successful transaction's effects lack what the operation relies on.
    #[error("{step}: the ledger's effects lack {what}")]
    MissingEffect {
        /// The operation.
        step: &'static str,
        /// What is missing.
        what: &'static str,
    },
    /// The ledger's committee does not form a valid certificate committee.
    #[error("invalid committee: {0}")]
    InvalidCommittee(#[source] floe_common::CertificateError),
    /// No registered storage node has this id or name.
    #[error("unknown storage node {node:?}")]
    UnknownNode {
        /// The id or name given.
        node: String,
        /// The names of the registered nodes.
        known: Vec<String>,
    },
    /// The wallet has no stake with the node.
    #[error("no stake with storage node {node}")]
    NoStake {
        /// The node's name.
        node: String,
    },
    /// The operation signs a transaction but no wallet was loaded.
    #[error("{step}: no wallet loaded")]
    NoWallet {
        /// The operation.
        step: &'static str,
    },
    /// The wallet could not be loaded.
    #[error(transparent)]
    Wallet(#[from] WalletError),
    /// The configuration's trust settings (its genesis file) could not be used.
    #[error(transparent)]
    Config(#[from] crate::config::ClientConfigError),
    /// A ledger server asked for something this client does not accept (another chain, a fee
    /// above the cap); nothing was signed.
    #[error("{step}: {source}")]
    Trust {
        /// The operation.
        step: &'static str,
        /// What was refused.
        source: TrustError,
    },
}

impl FloeError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            FloeError::LedgerRejected { .. }
            | FloeError::UnknownNode { .. }
            | FloeError::NoStake { .. } => ErrorKind::Rejected,
            FloeError::Unreachable { .. }
            | FloeError::Timeout { .. }
            | FloeError::Ledger { .. }
            | FloeError::MissingEffect { .. }
            | FloeError::InvalidCommittee(_) => ErrorKind::Network,
            FloeError::NoWallet { .. } | FloeError::Wallet(_) | FloeError::Config(_) => {
                ErrorKind::Local
            }
            FloeError::Trust { .. } => ErrorKind::Rejected,
        }
    }

    /// A stable snake-case code: the ledger's code for [`FloeError::LedgerRejected`], else one
    /// of `unreachable`, `timeout`, `ledger_error`, `unknown_node`, `no_stake`, `no_wallet`,
    /// `wallet`, `config`, `wrong_chain`, `fee_above_cap`.
    pub fn code(&self) -> &str {
        match self {
            FloeError::LedgerRejected { code, .. } => code,
            FloeError::Unreachable { .. } => "unreachable",
            FloeError::Timeout { .. } => "timeout",
            FloeError::Ledger {
                source:
                    ClientError::Evidence(_) | ClientError::Results(_) | ClientError::Verification(_),
                ..
            } => "unproven",
            FloeError::Ledger { .. }
            | FloeError::MissingEffect { .. }
            | FloeError::InvalidCommittee(_) => "ledger_error",
            FloeError::UnknownNode { .. } => "unknown_node",
            FloeError::NoStake { .. } => "no_stake",
            FloeError::NoWallet { .. } => "no_wallet",
            FloeError::Wallet(_) => "wallet",
            FloeError::Config(_) => "config",
            FloeError::Trust {
                source: TrustError::WrongChain { .. },
                ..
            } => "wrong_chain",
            FloeError::Trust {
                source: TrustError::FeeAboveCap { .. },
                ..
            } => "fee_above_cap",
            FloeError::Trust {
                source: TrustError::NoProofRoot,
                ..
            } => "no_proof_root",
        }
    }

    /// The typed ledger rejection, if there is one.
    pub fn tx_error(&self) -> Option<&TxError> {
        match self {
            FloeError::LedgerRejected { error, .. } => error.as_deref(),
            _ => None,
        }
    }

    /// A rejection of `step` with the ledger's typed error.
    pub(crate) fn rejected(step: &'static str, error: TxError) -> Self {
        FloeError::LedgerRejected {
            step,
            code: error.code().to_owned(),
            message: error.to_string(),
            error: Some(Box::new(error)),
        }
    }

    /// Maps a client error of `step` against the validators at `urls`.
    pub(crate) fn from_client(step: &'static str, urls: &[String], e: ClientError) -> Self {
        match e {
            ClientError::Transport(source) => FloeError::Unreachable {
                step,
                urls: urls.to_vec(),
                source,
            },
            ClientError::Timeout => FloeError::Timeout {
                step,
                digest: None,
                waited: Duration::ZERO,
            },
            ClientError::Http {
                status,
                code,
                message,
            } if (400..500).contains(&status) => FloeError::LedgerRejected {
                step,
                code,
                message,
                error: None,
            },
            source => FloeError::Ledger { step, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use floe_common::Frost;

    #[test]
    fn kinds_and_codes() {
        let e = FloeError::rejected(
            "transfer",
            TxError::InsufficientBalance {
                needed: Frost(5),
                available: Frost(3),
            },
        );
        assert_eq!(e.kind(), ErrorKind::Rejected);
        assert_eq!(e.code(), "insufficient_balance");
        assert!(
            e.to_string()
                .starts_with("transfer: rejected by the ledger")
        );
        let urls = vec!["http://a".to_owned()];
        let e = FloeError::from_client(
            "info",
            &urls,
            ClientError::Transport(TransportError::NoUrls),
        );
        assert_eq!(e.kind(), ErrorKind::Network);
        assert_eq!(e.code(), "unreachable");
        assert!(e.to_string().contains("http://a"), "{e}");
        let e = FloeError::from_client(
            "info",
            &urls,
            ClientError::Http {
                status: 500,
                code: "internal".into(),
                message: "boom".into(),
            },
        );
        assert_eq!(e.code(), "ledger_error");
        let e = FloeError::from_client(
            "stake",
            &urls,
            ClientError::Http {
                status: 409,
                code: "nonce_taken".into(),
                message: "pending".into(),
            },
        );
        assert_eq!(e.code(), "nonce_taken");
        assert_eq!(e.kind(), ErrorKind::Rejected);
        assert_eq!(FloeError::NoWallet { step: "x" }.kind(), ErrorKind::Local);
    }
}
