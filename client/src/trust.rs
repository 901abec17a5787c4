//! What a client accepts from ledger servers it does not trust.
//!
//! A client signs with its wallet; the ledger RPC tells it the chain id to sign for and the
//! minimum fee to pay. A server lying about either could get a signature meant for another
//! network, or drain the wallet through fees. So:
//! - when the configuration names the chain ([`LedgerTrust::chain_id`]), connecting to a
//!   server of another chain fails with [`TrustError::WrongChain`];
//! - no transaction is signed with a fee above [`LedgerTrust::max_fee`]
//!   ([`TrustError::FeeAboveCap`]), whatever minimum the server reports;
//! - when the client knows the chain's validators ([`LedgerTrust::from_genesis`]), what it
//!   decides from the ledger is proven against their signatures: a store is skipped as
//!   "already certified" only when a certified block holds the certification it relies on
//!   ([`LedgerClient::proven_certification`](floe_ledger_types::LedgerClient::proven_certification)).
//!   Without them, the client believes the server's word for it.

use floe_common::Frost;
use floe_ledger_types::{Genesis, ValidatorSet};

/// The most a client pays per transaction unless configured otherwise: 0.001 WAL, a thousand
/// times the default minimum fee.
pub const DEFAULT_MAX_FEE: Frost = Frost(1_000_000);

/// The client's side of trust in the ledger servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerTrust {
    /// The chain the client signs for; `None` accepts the servers' chain id.
    pub chain_id: Option<String>,
    /// The highest fee the client signs.
    pub max_fee: Frost,
    /// The chain's validators, when known: ledger claims the client acts on are proven against
    /// their signatures.
    pub validators: Option<ValidatorSet>,
}

impl Default for LedgerTrust {
    fn default() -> Self {
        LedgerTrust {
            chain_id: None,
            max_fee: DEFAULT_MAX_FEE,
            validators: None,
        }
    }
}

/// A ledger server asked for something the client does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// The server is of another chain than the configured one.
    #[error("the ledger serves chain {served:?}, not the configured {expected:?}")]
    WrongChain {
        /// The configured chain id.
        expected: String,
        /// The server's.
        served: String,
    },
    /// The server's minimum fee is above the client's cap.
    #[error("the ledger asks a fee of {asked}, above the cap of {cap}")]
    FeeAboveCap {
        /// The fee asked.
        asked: Frost,
        /// The cap.
        cap: Frost,
    },
    /// A proof was asked for, but the client knows no validators to check it against.
    #[error("no genesis configured: ledger claims cannot be proven")]
    NoProofRoot,
}

impl LedgerTrust {
    /// Trusts `genesis`: its chain id is pinned and its validators prove ledger claims.
    pub fn from_genesis(genesis: &Genesis) -> Result<LedgerTrust, floe_ledger_types::CertError> {
        Ok(LedgerTrust {
            chain_id: Some(genesis.chain_id.clone()),
            max_fee: DEFAULT_MAX_FEE,
            validators: Some(genesis.validator_set()?),
        })
    }

    /// The chain id and validators to prove claims with, when both are known.
    pub fn proof_root(&self) -> Option<(&str, &ValidatorSet)> {
        Some((self.chain_id.as_deref()?, self.validators.as_ref()?))
    }

    /// Checks the chain id a server reports.
    pub fn check_chain(&self, served: &str) -> Result<(), TrustError> {
        match &self.chain_id {
            Some(expected) if expected != served => Err(TrustError::WrongChain {
                expected: expected.clone(),
                served: served.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// The fee to sign: `asked`, if within the cap.
    pub fn fee(&self, asked: Frost) -> Result<Frost, TrustError> {
        if asked > self.max_fee {
            return Err(TrustError::FeeAboveCap {
                asked,
                cap: self.max_fee,
            });
        }
        Ok(asked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_and_fee_checks() {
        let open = LedgerTrust::default();
        assert_eq!(open.check_chain("any"), Ok(()));
        let pinned = LedgerTrust {
            chain_id: Some("floe-main".into()),
            max_fee: Frost(100),
            validators: None,
        };
        assert_eq!(pinned.check_chain("floe-main"), Ok(()));
        assert!(matches!(
            pinned.check_chain("floe-test"),
            Err(TrustError::WrongChain { .. })
        ));
        assert_eq!(pinned.fee(Frost(100)), Ok(Frost(100)));
        assert_eq!(
            pinned.fee(Frost(101)),
            Err(TrustError::FeeAboveCap {
                asked: Frost(101),
                cap: Frost(100)
            })
        );
    }
}
