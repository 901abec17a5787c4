//! Transactions a storage node sends from its own account (the account of its protocol key,
//! `Address::of(node key)`, which pays the fees): blob invalidations and `EpochSyncDone`.

use std::time::Duration;

use floe_common::{Frost, KeyPair};
use floe_ledger_types::TxStatus;
use floe_ledger_types::{
    Address, ClientError, LedgerClient, SignedTransaction, Transaction, TxError, TxKind,
};

/// Longest wait for the ledger to finalise a node transaction.
pub const SUBMIT_TIMEOUT: Duration = Duration::from_secs(30);

/// The most a node pays for one transaction, as a multiple of the genesis minimum fee. The
/// current minimum comes from the ledger RPC, which a node does not trust: a server claiming
/// a higher one cannot drain the node's account through fees.
pub const MAX_FEE_MULTIPLE: u64 = 100;

/// A node transaction did not commit.
#[derive(Debug, thiserror::Error)]
pub enum LedgerTxError {
    /// The ledger RPC failed or timed out (retry later).
    #[error("ledger rpc: {0}")]
    Rpc(#[from] ClientError),
    /// The ledger executed and rejected the transaction.
    #[error("ledger rejected the transaction: {0}")]
    Rejected(TxError),
    /// The ledger asks for a fee above the node's cap; nothing was sent.
    #[error("the ledger asks a fee of {asked}, above this node's cap of {cap}")]
    FeeAboveCap {
        /// The minimum fee the RPC reported.
        asked: Frost,
        /// The cap ([`MAX_FEE_MULTIPLE`] × the genesis minimum fee).
        cap: Frost,
    },
}

/// Where a node sends its own transactions: the ledger, its chain id and its fee cap.
#[derive(Clone)]
pub struct NodeAccount {
    ledger: LedgerClient,
    chain_id: String,
    max_fee: Frost,
}

impl NodeAccount {
    /// Transactions for chain `chain_id` through `ledger`, paying at most
    /// [`MAX_FEE_MULTIPLE`] × `genesis_min_fee`.
    pub fn new(ledger: LedgerClient, chain_id: impl Into<String>, genesis_min_fee: Frost) -> Self {
        NodeAccount {
            ledger,
            chain_id: chain_id.into(),
            max_fee: Frost(genesis_min_fee.0.saturating_mul(MAX_FEE_MULTIPLE)),
        }
    }

    /// Signs `kind` with the node key (next nonce, the ledger's minimum fee if within the
    /// cap), submits it and waits for its outcome; returns the height it committed at.
    pub async fn submit(&self, key: &KeyPair, kind: TxKind) -> Result<u64, LedgerTxError> {
        let sender = Address::of(&key.public());
        let account = self.ledger.account(&sender).await?;
        let system = self.ledger.system().await?;
        if system.min_fee > self.max_fee {
            return Err(LedgerTxError::FeeAboveCap {
                asked: system.min_fee,
                cap: self.max_fee,
            });
        }
        let tx = SignedTransaction::sign(
            key,
            Transaction {
                sender,
                nonce: account.nonce,
                fee: system.min_fee,
                kind,
            },
            &self.chain_id,
        );
        let committed = self.ledger.submit_and_wait(&tx, SUBMIT_TIMEOUT).await?;
        match committed.outcome.status {
            TxStatus::Success(_) => Ok(committed.height),
            TxStatus::Failure(f) => Err(LedgerTxError::Rejected(f.error)),
        }
    }
}
