//! One validator's ledger as the rest of the process sees it: the committed chain, the store,
//! the mempool, and a watch of the tip for long-polls. The consensus loop writes through
//! [`Ledger::commit`]; the RPC reads and submits.

use std::sync::{Mutex, RwLock};

use tokio::sync::watch;

use crate::TxError;
use crate::block::Block;
use crate::cert::{CommitCertificate, ValidatorSet};
use crate::chain::{Chain, ChainError};
use crate::genesis::Genesis;
use crate::mempool::{Admission, Mempool, MempoolConfig, MempoolError};
use crate::state::State;
use crate::store::{BlockRecord, ChainTip, LedgerStore, LedgerStoreError};
use crate::tx::{SignedTransaction, TxDigest, VerifiedTransaction};
use floe_ledger_types::CommittedTx;

/// A submitted transaction was refused before reaching a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// Malformed, badly signed, or from the wrong sender.
    #[error(transparent)]
    Invalid(#[from] TxError),
    /// Not admitted to the mempool.
    #[error(transparent)]
    Mempool(#[from] MempoolError),
}

impl SubmitError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            SubmitError::Invalid(e) => e.code(),
            SubmitError::Mempool(e) => e.code(),
        }
    }
}

/// The validator's ledger.
pub struct Ledger {
    store: LedgerStore,
    chain: RwLock<Chain>,
    mempool: Mutex<Mempool>,
    tip: watch::Sender<ChainTip>,
    chain_id: String,
    validators: ValidatorSet,
    genesis: Genesis,
    metrics: crate::metrics::LedgerMetrics,
}

impl Ledger {
    /// Opens the ledger stored in `store` for `genesis`, with the default mempool bounds.
    pub fn open(store: LedgerStore, genesis: Genesis) -> Result<Ledger, ChainError> {
        Self::open_with(store, genesis, MempoolConfig::default())
    }

    /// Opens the ledger stored in `store` for `genesis`, with `mempool`'s bounds.
    pub fn open_with(
        store: LedgerStore,
        genesis: Genesis,
        mempool: MempoolConfig,
    ) -> Result<Ledger, ChainError> {
        let chain = Chain::open(&store, genesis.clone())?;
        let (tip, _) = watch::channel(chain.tip());
        Ok(Ledger {
            chain_id: genesis.chain_id.clone(),
            validators: chain.validators().clone(),
            genesis,
            store,
            chain: RwLock::new(chain),
            mempool: Mutex::new(Mempool::new(mempool)),
            tip,
            metrics: crate::metrics::LedgerMetrics::default(),
        })
    }

    /// The validator's metrics.
    pub fn metrics(&self) -> &crate::metrics::LedgerMetrics {
        &self.metrics
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// The genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The validator set.
    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }

    /// The store (blocks, events, transaction index).
    pub fn store(&self) -> &LedgerStore {
        &self.store
    }

    /// The last committed block.
    pub fn tip(&self) -> ChainTip {
        *self.tip.borrow()
    }

    /// Notified at every commit.
    pub fn subscribe(&self) -> watch::Receiver<ChainTip> {
        self.tip.subscribe()
    }

    /// Runs `f` on the committed state.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        let chain = self.chain.read().unwrap_or_else(|e| e.into_inner());
        f(chain.state())
    }

    /// Runs `f` on the chain (validation needs the tip and the state).
    pub fn with_chain<R>(&self, f: impl FnOnce(&Chain) -> R) -> R {
        let chain = self.chain.read().unwrap_or_else(|e| e.into_inner());
        f(&chain)
    }

    /// Admits transactions; one result per input, in order. The cheap admission rules
    /// (fee, nonce, balance, bounds) run first, so a flood of unfunded or underpaying
    /// transactions is refused before any signature is verified; the survivors are verified
    /// in one batch and admitted (the rules are checked again under the pool's lock).
    pub fn submit(
        &self,
        txs: &[SignedTransaction],
    ) -> Vec<Result<(TxDigest, Admission), SubmitError>> {
        let mut results: Vec<Option<Result<(TxDigest, Admission), SubmitError>>> =
            vec![None; txs.len()];
        let mut survivors = Vec::new();
        {
            let chain = self.chain.read().unwrap_or_else(|e| e.into_inner());
            let pool = self.mempool.lock().unwrap_or_else(|e| e.into_inner());
            for (i, tx) in txs.iter().enumerate() {
                let digest = tx.digest();
                if pool.contains(&digest) {
                    results[i] = Some(Ok((digest, Admission::Duplicate)));
                } else if let Err(e) = pool.admissible(&tx.tx, chain.state()) {
                    results[i] = Some(Err(e.into()));
                } else {
                    survivors.push(i);
                }
            }
        }
        let batch: Vec<SignedTransaction> = survivors.iter().map(|&i| txs[i].clone()).collect();
        let verified = SignedTransaction::verify_batch(&batch, &self.chain_id);
        let chain = self.chain.read().unwrap_or_else(|e| e.into_inner());
        let mut pool = self.mempool.lock().unwrap_or_else(|e| e.into_inner());
        for (&i, r) in survivors.iter().zip(verified) {
            results[i] = Some((|| {
                let tx = r?;
                let digest = tx.digest();
                if let Ok(Some((height, _))) = self.store.tx_location(&digest) {
                    return Err(MempoolError::AlreadyCommitted(height).into());
                }
                let admission = pool.insert(tx, chain.state())?;
                Ok((digest, admission))
            })());
        }
        self.metrics.mempool(pool.len(), pool.bytes());
        drop(pool);
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or(Err(SubmitError::Mempool(MempoolError::Full {
                    what: "no admission result".into(),
                })))
            })
            .collect()
    }

    /// Transactions for the next block.
    pub fn reap(&self, max_txs: usize, max_bytes: usize) -> Vec<VerifiedTransaction> {
        let chain = self.chain.read().unwrap_or_else(|e| e.into_inner());
        let pool = self.mempool.lock().unwrap_or_else(|e| e.into_inner());
        pool.reap(chain.state(), max_txs, max_bytes)
    }

    /// Pending transactions.
    pub fn mempool_len(&self) -> usize {
        self.mempool.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether `digest` is waiting in the mempool.
    pub fn is_pending(&self, digest: &TxDigest) -> bool {
        self.mempool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(digest)
    }

    /// Executes and durably commits a decided block, then wakes long-polls.
    pub fn commit(
        &self,
        block: &Block,
        verified: Option<Vec<VerifiedTransaction>>,
        certificate: CommitCertificate,
    ) -> Result<BlockRecord, ChainError> {
        let mut chain = self.chain.write().unwrap_or_else(|e| e.into_inner());
        let previous = chain.tip();
        let previous_timestamp = (previous.height > 0).then_some(previous.timestamp_ms);
        let record = chain.commit(&self.store, block, verified, certificate)?;
        let digests: Vec<TxDigest> = record.outcomes.iter().map(|o| o.digest).collect();
        let mut pool = self.mempool.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        for d in &digests {
            if let Some(admitted) = pool.admitted_at(d) {
                self.metrics.finalized(now.duration_since(admitted));
            }
        }
        pool.evict(&digests, chain.state());
        self.metrics.mempool(pool.len(), pool.bytes());
        drop(pool);
        let tip = chain.tip();
        drop(chain);
        self.metrics.committed(&record, previous_timestamp);
        self.tip.send_replace(tip);
        Ok(record)
    }

    /// A committed transaction.
    pub fn transaction(&self, digest: &TxDigest) -> Result<Option<CommittedTx>, LedgerStoreError> {
        let Some((height, index)) = self.store.tx_location(digest)? else {
            return Ok(None);
        };
        let Some(record) = self.store.block(height)? else {
            return Ok(None);
        };
        Ok(record
            .outcomes
            .into_iter()
            .nth(index as usize)
            .map(|outcome| CommittedTx {
                height,
                index,
                outcome,
            }))
    }
}
