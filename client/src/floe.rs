//! [`Floe`]: the SDK's handle on the ledger. It wraps a [`LedgerClient`] (with failover between
//! validators), the chain id and minimum fee (fetched once from `/v1/system`), and optionally a
//! [`Wallet`].
//!
//! Every transaction goes through [`Floe::execute`]: it reads the account's nonce, builds the
//! transaction with the minimum fee, signs it for the chain, submits it and waits for finality.
//! A rejection comes back as [`FloeError::LedgerRejected`] naming the step and carrying the
//! ledger's code (a rejected transaction charges nothing). A stale nonce (another transaction of
//! the same wallet got in first) or a raised minimum fee is retried a bounded number of times.
//! Transactions of one handle are submitted one at a time, so concurrent callers sharing a
//! handle never race each other for nonces.
//!
//! Operations are `impl Floe` blocks in private submodules by topic: `coin` (balance, transfer,
//! faucet), `staking` (resolve a node by id or name, stake, withdraw), `blobs` (list, extend,
//! delete), `policy` (access policies of private blobs) and `info` (network info, the
//! certificate committee).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use floe_common::{BlobId, Frost, ObjectId};
use floe_ledger_types::TxStatus;
use floe_ledger_types::client::ClientError;
use floe_ledger_types::rpc::{
    AccountResponse, BlobStatus, CommitteeResponse, NodeInfo, ObjectResponse, ProvenCertification,
    SystemInfo,
};
use floe_ledger_types::{Address, Effects, LedgerClient, SignedTransaction, Transaction, TxDigest};
use floe_ledger_types::{TxError, TxFailure, TxKind};

use crate::trust::LedgerTrust;
use floe_runtime::Backoff;
use serde::Serialize;

use crate::config::ClientConfig;
use crate::error::FloeError;
use crate::wallet::Wallet;

mod blobs;
mod coin;
mod governance;
mod info;
mod policy;
mod staking;

pub use blobs::OwnedBlob;
pub use governance::{NodeVotesReceipt, ProposalReceipt, VoteReceipt};
pub use info::{
    CommitteeNode, NetworkInfo, certificate_committee_of, epoch_start_ms, next_epoch_ms,
};
pub use policy::{AccessReceipt, PolicyView};
pub use staking::{
    NodeRegistration, OwnedStake, PendingWithdrawal, StakeReceipt, WithdrawReport, Withdrawal,
};

/// Default wait for a transaction to become final.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);
/// Most submissions of one transaction when its nonce or fee turns out stale.
pub const MAX_ATTEMPTS: u32 = 5;
/// Pauses before resubmitting after a nonce conflict: from 200 ms, doubling, jittered.
const SUBMIT_RETRY: Backoff =
    Backoff::new(Duration::from_millis(200), Duration::from_secs(2)).times(MAX_ATTEMPTS as usize);

/// A committed, successful transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// The operation.
    pub step: &'static str,
    /// The transaction digest.
    pub digest: TxDigest,
    /// The block it was committed in.
    pub height: u64,
    /// What it did (fee, created/mutated/deleted objects, events).
    pub effects: Effects,
}

impl Receipt {
    /// The first object the transaction created (`what` names it in the error otherwise).
    pub fn created(&self, what: &'static str) -> Result<ObjectId, FloeError> {
        self.effects
            .created
            .first()
            .copied()
            .ok_or(FloeError::MissingEffect {
                step: self.step,
                what,
            })
    }
}

/// A handle on the ledger, optionally with a wallet to sign transactions.
#[derive(Debug)]
pub struct Floe {
    ledger: LedgerClient,
    chain_id: String,
    min_fee: AtomicU64,
    trust: LedgerTrust,
    wallet: Option<Wallet>,
    wait: Duration,
    /// Held while a transaction is submitted and awaited (one nonce in flight per handle).
    submit_lock: tokio::sync::Mutex<()>,
}

impl Floe {
    /// Connects to the validators at `urls` (any of them; failover is automatic) without a
    /// wallet: queries work, transactions fail with [`FloeError::NoWallet`].
    pub async fn connect(urls: Vec<String>) -> Result<Floe, FloeError> {
        Self::with_client(LedgerClient::new(urls)).await
    }

    /// Connects with an existing client (fetches the chain id and minimum fee), accepting the
    /// servers' chain id and capping fees at the default.
    pub async fn with_client(ledger: LedgerClient) -> Result<Floe, FloeError> {
        Self::with_trust(ledger, LedgerTrust::default()).await
    }

    /// Connects with an existing client, refusing servers of another chain than `trust`'s and
    /// never signing a fee above its cap.
    pub async fn with_trust(ledger: LedgerClient, trust: LedgerTrust) -> Result<Floe, FloeError> {
        let system = ledger
            .system()
            .await
            .map_err(|e| FloeError::from_client("connect", ledger.urls(), e))?;
        trust
            .check_chain(&system.chain_id)
            .map_err(|e| FloeError::Trust {
                step: "connect",
                source: e,
            })?;
        tracing::debug!(chain_id = %system.chain_id, min_fee = %system.min_fee, "connected to the ledger");
        Ok(Floe {
            ledger,
            chain_id: system.chain_id,
            min_fee: AtomicU64::new(system.min_fee.0),
            trust,
            wallet: None,
            wait: DEFAULT_WAIT,
            submit_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Loads the configuration's wallet (before touching the network) and connects to its
    /// validators, with its chain id and fee cap.
    pub async fn from_config(config: &ClientConfig) -> Result<Floe, FloeError> {
        let wallet = Wallet::load(&config.wallet)?;
        let ledger = LedgerClient::new(config.ledger_rpc.clone());
        Ok(Self::with_trust(ledger, config.trust()?)
            .await?
            .with_wallet(wallet))
    }

    /// This handle, signing with `wallet`.
    pub fn with_wallet(mut self, wallet: Wallet) -> Floe {
        self.wallet = Some(wallet);
        self
    }

    /// This handle, waiting up to `wait` (at most 120 s, the ledger's limit) for each
    /// transaction to become final.
    pub fn with_wait(mut self, wait: Duration) -> Floe {
        self.wait = wait;
        self
    }

    /// The ledger client (for queries the SDK does not wrap).
    pub fn ledger(&self) -> &LedgerClient {
        &self.ledger
    }

    /// The chain id transactions are signed for.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// The fee put on transactions (the ledger's minimum, refreshed when it rises).
    pub fn min_fee(&self) -> Frost {
        Frost(self.min_fee.load(Ordering::Relaxed))
    }

    /// The wallet, if one is loaded.
    pub fn wallet(&self) -> Option<&Wallet> {
        self.wallet.as_ref()
    }

    /// The wallet's address ([`FloeError::NoWallet`] without one).
    pub fn address(&self) -> Result<Address, FloeError> {
        self.signer("address").map(Wallet::address)
    }

    fn signer(&self, step: &'static str) -> Result<&Wallet, FloeError> {
        self.wallet.as_ref().ok_or(FloeError::NoWallet { step })
    }

    /// Maps a client error of `step`.
    pub(crate) fn err(&self, step: &'static str, e: ClientError) -> FloeError {
        FloeError::from_client(step, self.ledger.urls(), e)
    }

    /// Signs `kind` with the wallet, submits it with the account's next nonce and the minimum
    /// fee, and waits for it to be final. `step` names the operation in errors and logs.
    ///
    /// Retries (up to [`MAX_ATTEMPTS`] submissions) when the nonce was taken by another
    /// transaction of the same account or the minimum fee rose; any other rejection is returned
    /// as [`FloeError::LedgerRejected`]. A finality timeout is [`FloeError::Timeout`] with the
    /// digest: the transaction may still be committed, so it is not resubmitted.
    pub async fn execute(&self, step: &'static str, kind: TxKind) -> Result<Receipt, FloeError> {
        let wallet = self.signer(step)?;
        let sender = wallet.address();
        let _guard = self.submit_lock.lock().await;
        let mut last = None;
        let mut delays = SUBMIT_RETRY.delays();
        for attempt in 1..=MAX_ATTEMPTS {
            if attempt > 1 {
                let wait = delays.next_delay().unwrap_or(Duration::from_secs(2));
                tokio::time::sleep(wait).await;
            }
            let nonce = self
                .ledger
                .account(&sender)
                .await
                .map_err(|e| self.err(step, e))?
                .nonce;
            let fee = self
                .trust
                .fee(self.min_fee())
                .map_err(|e| FloeError::Trust { step, source: e })?;
            let tx = Transaction {
                sender,
                nonce,
                fee,
                kind: kind.clone(),
            };
            let signed = SignedTransaction::sign(wallet.key(), tx, &self.chain_id);
            let digest = signed.digest();
            tracing::debug!(step, %digest, nonce, attempt, "submitting transaction");
            let error = match self.ledger.submit_and_wait(&signed, self.wait).await {
                Ok(committed) => match committed.outcome.status {
                    TxStatus::Success(effects) => {
                        tracing::info!(step, %digest, height = committed.height, "transaction final");
                        return Ok(Receipt {
                            step,
                            digest,
                            height: committed.height,
                            effects,
                        });
                    }
                    TxStatus::Failure(TxFailure { error: e, .. }) => {
                        if !self.retryable_failure(&e) {
                            return Err(FloeError::rejected(step, e));
                        }
                        FloeError::rejected(step, e)
                    }
                },
                Err(ClientError::Timeout) => {
                    return Err(FloeError::Timeout {
                        step,
                        digest: Some(digest),
                        waited: self.wait,
                    });
                }
                Err(e) => {
                    if !self.retryable_refusal(&e).await {
                        return Err(self.err(step, e));
                    }
                    self.err(step, e)
                }
            };
            tracing::debug!(step, %digest, attempt, error = %error, "retrying with a fresh nonce");
            last = Some(error);
        }
        Err(last.expect("at least one attempt"))
    }

    /// Whether an execution failure is a stale nonce or fee (updating the fee).
    fn retryable_failure(&self, e: &TxError) -> bool {
        match e {
            TxError::NonceTooLow { .. } | TxError::NonceTooHigh { .. } => true,
            TxError::FeeTooLow { min, .. } => {
                self.min_fee.fetch_max(min.0, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    /// Whether a refusal at admission is a stale nonce, a full mempool or a stale fee
    /// (refreshing the fee).
    async fn retryable_refusal(&self, e: &ClientError) -> bool {
        match e.code() {
            Some(
                "nonce_too_low" | "nonce_too_high" | "nonce_taken" | "mempool_full"
                | "sender_limit",
            ) => true,
            Some("fee_too_low") => match self.ledger.system().await {
                Ok(s) => {
                    self.min_fee.fetch_max(s.min_fee.0, Ordering::Relaxed);
                    true
                }
                Err(_) => false,
            },
            _ => false,
        }
    }

    /// System parameters, prices, epoch and tip.
    pub async fn system(&self) -> Result<SystemInfo, FloeError> {
        self.ledger
            .system()
            .await
            .map_err(|e| self.err("system", e))
    }

    /// The current storage committee.
    pub async fn committee(&self) -> Result<CommitteeResponse, FloeError> {
        self.ledger
            .committee()
            .await
            .map_err(|e| self.err("committee", e))
    }

    /// All registered storage nodes.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, FloeError> {
        self.ledger.nodes().await.map_err(|e| self.err("nodes", e))
    }

    /// An account's balance, nonce and objects (zero and empty for an unknown address).
    pub async fn account(&self, address: &Address) -> Result<AccountResponse, FloeError> {
        self.ledger
            .account(address)
            .await
            .map_err(|e| self.err("account", e))
    }

    /// One object (`None` if it does not exist).
    pub async fn object(&self, id: &ObjectId) -> Result<Option<ObjectResponse>, FloeError> {
        self.ledger
            .object(id)
            .await
            .map_err(|e| self.err("object", e))
    }

    /// A blob's certification proven by a certified block (see
    /// [`LedgerClient::proven_certification`]): `None` if the ledger says it is not certified.
    /// Needs the chain's validators ([`LedgerTrust::from_genesis`], or `genesis` in the
    /// configuration); a claim that does not prove is an error with code `unproven`.
    pub async fn proven_certification(
        &self,
        id: &BlobId,
    ) -> Result<Option<ProvenCertification>, FloeError> {
        let (chain_id, validators) = self.trust.proof_root().ok_or(FloeError::Trust {
            step: "prove",
            source: crate::trust::TrustError::NoProofRoot,
        })?;
        self.ledger
            .proven_certification(id, chain_id, validators)
            .await
            .map_err(|e| self.err("prove", e))
    }

    /// Whether this handle can prove ledger claims (it knows the chain's validators).
    pub fn can_prove(&self) -> bool {
        self.trust.proof_root().is_some()
    }

    /// The ledger's status of a blob id (`None` if it was never registered, or all its blob
    /// objects were deleted).
    pub async fn blob_status(&self, id: &BlobId) -> Result<Option<BlobStatus>, FloeError> {
        self.ledger
            .blob_status(id)
            .await
            .map_err(|e| self.err("blob_status", e))
    }
}
