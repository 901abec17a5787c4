//! Transactions a storage node sends from its own account (the account of its protocol key,
//! `Address::of(node key)`, which pays the fees): blob invalidations and `EpochSyncDone`.

use std::time::Duration;

use floe_common::KeyPair;
use floe_ledger_types::TxStatus;
use floe_ledger_types::{
    Address, ClientError, LedgerClient, SignedTransaction, Transaction, TxError, TxKind,
};

/// Longest wait for the ledger to finalise a node transaction.
pub const SUBMIT_TIMEOUT: Duration = Duration::from_secs(30);

/// A node transaction did not commit.
#[derive(Debug, thiserror::Error)]
pub enum LedgerTxError {
    /// The ledger RPC failed or timed out (retry later).
    #[error("ledger rpc: {0}")]
    Rpc(#[from] ClientError),
    /// The ledger executed and rejected the transaction.
    #[error("ledger rejected the transaction: {0}")]
    Rejected(TxError),
}

/// Signs `kind` with the node key (next nonce, minimum fee), submits it and waits for its
/// outcome; returns the height it committed at.
pub async fn submit(
    ledger: &LedgerClient,
    key: &KeyPair,
    chain_id: &str,
    kind: TxKind,
) -> Result<u64, LedgerTxError> {
    let sender = Address::of(&key.public());
    let account = ledger.account(&sender).await?;
    let system = ledger.system().await?;
    let tx = SignedTransaction::sign(
        key,
        Transaction {
            sender,
            nonce: account.nonce,
            fee: system.min_fee,
            kind,
        },
        chain_id,
    );
    let committed = ledger.submit_and_wait(&tx, SUBMIT_TIMEOUT).await?;
    match committed.outcome.status {
        TxStatus::Success(_) => Ok(committed.height),
        TxStatus::Failure(e) => Err(LedgerTxError::Rejected(e)),
    }
}
