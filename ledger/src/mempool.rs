//! Transactions waiting for a block: verified, deduplicated, bounded, reaped in nonce order.
//!
//! Admission checks the signature (the caller hands in a [`VerifiedTransaction`]), that the nonce
//! is not already used and not more than [`MAX_NONCE_GAP`] ahead, and the pool's bounds. A block
//! takes, per sender, the run of consecutive nonces starting at the account's current nonce, so
//! a sender's transactions never fail for arriving out of order. Committed and stale
//! transactions are evicted after every block.

use std::collections::{BTreeMap, HashMap};

use crate::state::State;
use crate::tx::{Address, TxDigest, VerifiedTransaction};

/// How far ahead of the account's nonce a pending transaction may be.
pub const MAX_NONCE_GAP: u64 = 10_000;

/// A transaction was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// The pool is full.
    #[error("mempool full ({0} transactions)")]
    Full(usize),
    /// The nonce was already used by a committed transaction.
    #[error("nonce {got} already used (account nonce is {expected})")]
    NonceTooLow {
        /// Transaction nonce.
        got: u64,
        /// Account nonce.
        expected: u64,
    },
    /// The nonce is too far ahead.
    #[error("nonce {got} too far ahead of the account nonce {expected}")]
    NonceTooHigh {
        /// Transaction nonce.
        got: u64,
        /// Account nonce.
        expected: u64,
    },
    /// Another transaction with the same sender and nonce is pending.
    #[error("another transaction with nonce {0} is pending")]
    NonceTaken(u64),
    /// This exact transaction is already in a block (a failed transaction consumes no nonce,
    /// so without this check it could be replayed into block after block).
    #[error("transaction already committed at height {0}")]
    AlreadyCommitted(u64),
}

impl MempoolError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            MempoolError::Full(_) => "mempool_full",
            MempoolError::NonceTooLow { .. } => "nonce_too_low",
            MempoolError::NonceTooHigh { .. } => "nonce_too_high",
            MempoolError::NonceTaken(_) => "nonce_taken",
            MempoolError::AlreadyCommitted(_) => "already_committed",
        }
    }
}

/// The pool.
pub struct Mempool {
    by_digest: HashMap<TxDigest, (Address, u64)>,
    /// Pending transactions with their encoded size (computed once, at admission).
    by_sender: BTreeMap<(Address, u64), (VerifiedTransaction, usize)>,
    capacity: usize,
}

/// Whether [`Mempool::insert`] added the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// New.
    Added,
    /// Already pending.
    Duplicate,
}

impl Mempool {
    /// An empty pool holding at most `capacity` transactions.
    pub fn new(capacity: usize) -> Self {
        Mempool {
            by_digest: HashMap::new(),
            by_sender: BTreeMap::new(),
            capacity,
        }
    }

    /// Pending transactions.
    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }

    /// Whether `digest` is pending.
    pub fn contains(&self, digest: &TxDigest) -> bool {
        self.by_digest.contains_key(digest)
    }

    /// Admits `tx` against the committed `state`.
    pub fn insert(
        &mut self,
        tx: VerifiedTransaction,
        state: &State,
    ) -> Result<Admission, MempoolError> {
        let digest = tx.digest();
        if self.by_digest.contains_key(&digest) {
            return Ok(Admission::Duplicate);
        }
        let sender = tx.tx().sender;
        let nonce = tx.tx().nonce;
        let expected = state.account(&sender).map_or(0, |a| a.nonce);
        if nonce < expected {
            return Err(MempoolError::NonceTooLow {
                got: nonce,
                expected,
            });
        }
        if nonce > expected.saturating_add(MAX_NONCE_GAP) {
            return Err(MempoolError::NonceTooHigh {
                got: nonce,
                expected,
            });
        }
        if self.by_sender.contains_key(&(sender, nonce)) {
            return Err(MempoolError::NonceTaken(nonce));
        }
        if self.by_digest.len() >= self.capacity {
            return Err(MempoolError::Full(self.capacity));
        }
        let size = tx.signed().encode().len();
        self.by_digest.insert(digest, (sender, nonce));
        self.by_sender.insert((sender, nonce), (tx, size));
        Ok(Admission::Added)
    }

    /// Up to `max_txs` transactions of at most `max_bytes` in total, each sender's in nonce
    /// order starting at its account nonce.
    pub fn reap(
        &self,
        state: &State,
        max_txs: usize,
        max_bytes: usize,
    ) -> Vec<VerifiedTransaction> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut current: Option<(Address, u64)> = None;
        for ((sender, nonce), (tx, size)) in &self.by_sender {
            if out.len() >= max_txs {
                break;
            }
            let next = match current {
                Some((s, n)) if s == *sender => n,
                _ => state.account(sender).map_or(0, |a| a.nonce),
            };
            if *nonce != next {
                // A gap (or a stale nonce): skip the rest of this sender for now.
                current = Some((*sender, u64::MAX));
                continue;
            }
            let size = size + 8;
            if bytes + size > max_bytes {
                break;
            }
            bytes += size;
            out.push(tx.clone());
            current = Some((*sender, nonce + 1));
        }
        out
    }

    /// Drops committed transactions and those whose nonce the committed `state` has passed.
    pub fn evict(&mut self, committed: &[TxDigest], state: &State) {
        for d in committed {
            if let Some(key) = self.by_digest.remove(d) {
                self.by_sender.remove(&key);
            }
        }
        let stale: Vec<(Address, u64)> = self
            .by_sender
            .keys()
            .filter(|(sender, nonce)| *nonce < state.account(sender).map_or(0, |a| a.nonce))
            .copied()
            .collect();
        for key in stale {
            if let Some((tx, _)) = self.by_sender.remove(&key) {
                self.by_digest.remove(&tx.digest());
            }
        }
    }
}
