//! Transactions waiting for a block: verified, deduplicated, bounded, reaped in nonce order.
//!
//! # Admission (every rule is checked against the committed state)
//!
//! A transaction (its signature already verified by the caller, [`VerifiedTransaction`]) is
//! admitted only if:
//! - its fee is at least the chain's `min_fee` (`fee_too_low`);
//! - its nonce is not used and at most [`MAX_NONCE_GAP`] ahead (`nonce_too_low`,
//!   `nonce_too_high`), and no other pending transaction holds it (`nonce_taken`);
//! - the sender's balance covers the fees of all its pending transactions plus this one
//!   (`fees_not_covered`). A faucet call, which pays its fee from what it mints, is the one
//!   exception, and only at the account's next nonce with nothing else pending, on a chain
//!   with a faucet (`faucet_disabled`);
//! - storage proofs (the one kind up to 1 MiB) come from the key account of a member of the
//!   current committee (`not_committee_member`), so nobody else buys a megabyte of block
//!   space for one fee;
//! - the sender has fewer than [`MempoolConfig::max_per_sender`] transactions pending
//!   (`sender_limit`), and the pool is under [`MempoolConfig::capacity`] transactions and
//!   [`MempoolConfig::max_bytes`] encoded bytes (`mempool_full`).
//!
//! So filling the pool costs money: every pending transaction is backed by its fee, and a
//! transaction that fails in execution still pays it (see `crate::state::apply`).
//!
//! # Eviction
//!
//! After every block: committed transactions, transactions whose nonce the state has passed,
//! transactions older than [`MempoolConfig::ttl_ms`], and, for a sender whose balance no
//! longer covers its pending fees, its highest nonces until it does.
//!
//! A block takes, per sender, the run of consecutive nonces starting at the account's current
//! nonce, so a sender's transactions never fail for arriving out of order.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use floe_common::Frost;
use serde::{Deserialize, Serialize};

use crate::state::State;
use crate::tx::{Address, Transaction, TxDigest, TxKind, VerifiedTransaction};

/// How far ahead of the account's nonce a pending transaction may be.
pub const MAX_NONCE_GAP: u64 = 10_000;

/// The mempool's bounds (validator configuration, `[mempool]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MempoolConfig {
    /// Most pending transactions.
    pub capacity: usize,
    /// Most pending bytes (encoded transactions).
    pub max_bytes: usize,
    /// Most pending transactions of one sender.
    pub max_per_sender: usize,
    /// How long a transaction may wait for a block before it is dropped, in milliseconds.
    pub ttl_ms: u64,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            capacity: 200_000,
            max_bytes: 128 << 20,
            max_per_sender: 1_024,
            ttl_ms: 600_000,
        }
    }
}

/// A transaction was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// The pool holds as many transactions or bytes as it may.
    #[error("mempool full ({what})")]
    Full {
        /// Which bound: transactions or bytes.
        what: String,
    },
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
    /// This exact transaction is already in a block.
    #[error("transaction already committed at height {0}")]
    AlreadyCommitted(u64),
    /// The fee is below the chain's minimum.
    #[error("fee {fee} is below the minimum {min}")]
    FeeTooLow {
        /// Offered.
        fee: Frost,
        /// The chain's minimum.
        min: Frost,
    },
    /// The sender's balance does not cover the fees of its pending transactions and this one.
    #[error("balance {available} does not cover pending fees of {needed}")]
    FeesNotCovered {
        /// Fees of the pending transactions plus this one.
        needed: Frost,
        /// The sender's balance.
        available: Frost,
    },
    /// The sender has as many transactions pending as it may.
    #[error("{0} transactions of this sender are already pending")]
    SenderLimit(usize),
    /// A faucet call on a chain without a faucet.
    #[error("this chain has no faucet")]
    FaucetDisabled,
    /// Storage proofs from an account that is not a current committee member's key.
    #[error("only a current committee member's key account submits storage proofs")]
    NotCommitteeMember,
}

impl MempoolError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            MempoolError::Full { .. } => "mempool_full",
            MempoolError::NonceTooLow { .. } => "nonce_too_low",
            MempoolError::NonceTooHigh { .. } => "nonce_too_high",
            MempoolError::NonceTaken(_) => "nonce_taken",
            MempoolError::AlreadyCommitted(_) => "already_committed",
            MempoolError::FeeTooLow { .. } => "fee_too_low",
            MempoolError::FeesNotCovered { .. } => "fees_not_covered",
            MempoolError::SenderLimit(_) => "sender_limit",
            MempoolError::FaucetDisabled => "faucet_disabled",
            MempoolError::NotCommitteeMember => "not_committee_member",
        }
    }
}

/// A pending transaction.
struct Pending {
    tx: VerifiedTransaction,
    /// Encoded size, computed once at admission.
    size: usize,
    admitted: Instant,
}

/// What one sender has pending.
#[derive(Debug, Default, Clone, Copy)]
struct SenderLoad {
    count: usize,
    fees: u128,
}

/// The pool.
pub struct Mempool {
    by_digest: HashMap<TxDigest, (Address, u64)>,
    by_sender: BTreeMap<(Address, u64), Pending>,
    load: HashMap<Address, SenderLoad>,
    bytes: usize,
    config: MempoolConfig,
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
    /// An empty pool with `config`'s bounds.
    pub fn new(config: MempoolConfig) -> Self {
        Mempool {
            by_digest: HashMap::new(),
            by_sender: BTreeMap::new(),
            load: HashMap::new(),
            bytes: 0,
            config,
        }
    }

    /// Pending transactions.
    /// When the transaction `digest` was admitted, if it is pending.
    pub fn admitted_at(&self, digest: &TxDigest) -> Option<Instant> {
        let key = self.by_digest.get(digest)?;
        self.by_sender.get(key).map(|p| p.admitted)
    }

    /// Pending transactions.
    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }

    /// Encoded bytes pending.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `digest` is pending.
    pub fn contains(&self, digest: &TxDigest) -> bool {
        self.by_digest.contains_key(digest)
    }

    /// Checks the admission rules for `t` against the committed `state`, without its
    /// signature: cheap, so a flood is refused before any signature is verified.
    pub fn admissible(&self, t: &Transaction, state: &State) -> Result<(), MempoolError> {
        let (sender, nonce, fee) = (t.sender, t.nonce, t.fee);
        let min = state.system().params.min_fee;
        if fee < min {
            return Err(MempoolError::FeeTooLow { fee, min });
        }
        let (expected, balance) = state
            .account(&sender)
            .map_or((0, Frost::ZERO), |a| (a.nonce, a.balance));
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
        if matches!(t.kind, TxKind::SubmitStorageProofs { .. })
            && !state
                .committee()
                .members()
                .iter()
                .any(|m| Address::of(&m.public_key) == sender)
        {
            return Err(MempoolError::NotCommitteeMember);
        }
        let load = self.load.get(&sender).copied().unwrap_or_default();
        if load.count >= self.config.max_per_sender {
            return Err(MempoolError::SenderLimit(load.count));
        }
        let needed = load.fees + u128::from(fee.0);
        if needed > u128::from(balance.0) {
            let first_faucet_call =
                matches!(t.kind, TxKind::Faucet { .. }) && nonce == expected && load.count == 0;
            if !first_faucet_call {
                return Err(MempoolError::FeesNotCovered {
                    needed: Frost(u64::try_from(needed).unwrap_or(u64::MAX)),
                    available: balance,
                });
            }
            if state.system().faucet.is_none() {
                return Err(MempoolError::FaucetDisabled);
            }
        }
        if self.by_digest.len() >= self.config.capacity {
            return Err(MempoolError::Full {
                what: format!("{} transactions", self.config.capacity),
            });
        }
        Ok(())
    }

    /// Admits `tx` against the committed `state` (rules in the module docs).
    pub fn insert(
        &mut self,
        tx: VerifiedTransaction,
        state: &State,
    ) -> Result<Admission, MempoolError> {
        let digest = tx.digest();
        if self.by_digest.contains_key(&digest) {
            return Ok(Admission::Duplicate);
        }
        self.admissible(tx.tx(), state)?;
        let (sender, nonce, fee) = (tx.tx().sender, tx.tx().nonce, tx.tx().fee);
        let size = tx.signed().encode().len();
        if self.bytes + size > self.config.max_bytes {
            return Err(MempoolError::Full {
                what: format!("{} bytes", self.config.max_bytes),
            });
        }
        self.by_digest.insert(digest, (sender, nonce));
        self.by_sender.insert(
            (sender, nonce),
            Pending {
                tx,
                size,
                admitted: Instant::now(),
            },
        );
        let l = self.load.entry(sender).or_default();
        l.count += 1;
        l.fees += u128::from(fee.0);
        self.bytes += size;
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
        for ((sender, nonce), p) in &self.by_sender {
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
            let size = p.size + 8;
            if bytes + size > max_bytes {
                break;
            }
            bytes += size;
            out.push(p.tx.clone());
            current = Some((*sender, nonce + 1));
        }
        out
    }

    /// Removes one pending transaction.
    fn remove(&mut self, key: &(Address, u64)) {
        let Some(p) = self.by_sender.remove(key) else {
            return;
        };
        self.by_digest.remove(&p.tx.digest());
        self.bytes -= p.size;
        if let Some(l) = self.load.get_mut(&key.0) {
            l.count -= 1;
            l.fees -= u128::from(p.tx.tx().fee.0);
            if l.count == 0 {
                self.load.remove(&key.0);
            }
        }
    }

    /// Drops committed transactions, those whose nonce the committed `state` has passed,
    /// those older than the time to live, and the highest nonces of each sender whose
    /// balance no longer covers its pending fees.
    pub fn evict(&mut self, committed: &[TxDigest], state: &State) {
        for d in committed {
            if let Some(key) = self.by_digest.get(d).copied() {
                self.remove(&key);
            }
        }
        let ttl = Duration::from_millis(self.config.ttl_ms);
        let now = Instant::now();
        let mut doomed: Vec<(Address, u64)> = Vec::new();
        // Per sender, in nonce order: stale and expired ones go; the rest must be covered by
        // the balance, or the highest nonces go too.
        let mut kept: Vec<Kept> = Vec::new();
        let mut sender: Option<Address> = None;
        for ((a, nonce), p) in &self.by_sender {
            if sender != Some(*a) {
                uncovered(state, &mut kept, &mut doomed);
                sender = Some(*a);
            }
            let expected = state.account(a).map_or(0, |acct| acct.nonce);
            if *nonce < expected || now.duration_since(p.admitted) > ttl {
                doomed.push((*a, *nonce));
            } else {
                kept.push(Kept {
                    key: (*a, *nonce),
                    fee: p.tx.tx().fee.0,
                    faucet: matches!(p.tx.tx().kind, TxKind::Faucet { .. }),
                });
            }
        }
        uncovered(state, &mut kept, &mut doomed);
        for key in doomed {
            self.remove(&key);
        }
    }
}

/// A pending transaction that survived the nonce and age checks of [`Mempool::evict`].
struct Kept {
    key: (Address, u64),
    fee: u64,
    faucet: bool,
}

/// Moves the highest nonces of one sender's `kept` transactions to `doomed` until the
/// sender's balance covers the rest's fees (a lone faucet call stays: it pays from what it
/// mints). Empties `kept`.
fn uncovered(state: &State, kept: &mut Vec<Kept>, doomed: &mut Vec<(Address, u64)>) {
    let Some(first) = kept.first() else {
        return;
    };
    let balance = state.account(&first.key.0).map_or(0, |a| a.balance.0);
    let mut fees: u128 = kept.iter().map(|k| u128::from(k.fee)).sum();
    while fees > u128::from(balance) {
        if kept.len() == 1 && kept[0].faucet {
            break;
        }
        let Some(k) = kept.pop() else { break };
        fees -= u128::from(k.fee);
        doomed.push(k.key);
    }
    kept.clear();
}

#[cfg(test)]
mod tests {
    use floe_common::KeyPair;

    use super::*;
    use crate::genesis::{Genesis, GenesisNode};
    use crate::tx::{SignedTransaction, Transaction};

    const CHAIN: &str = "floe-mempool-test";
    const MIN_FEE: Frost = Frost(10);

    fn key(i: u8) -> KeyPair {
        KeyPair::from_seed([i; 32])
    }

    fn addr(i: u8) -> Address {
        Address::of(&key(i).public())
    }

    /// Account 1 holds 100 fees' worth, account 2 a fortune; a faucet exists.
    fn state(faucet: bool) -> State {
        let mut g = Genesis::builder(CHAIN, 10)
            .params(|p| p.min_fee = MIN_FEE)
            .account(addr(1), Frost(100 * MIN_FEE.0))
            .account(addr(2), Frost(1 << 50))
            .validator("v", key(50).public(), 1)
            .node(GenesisNode::new(
                "n",
                key(60).public(),
                addr(2),
                Frost(1_000_000),
                "/ip4/127.0.0.1/tcp/1",
                "http://127.0.0.1:1",
            ));
        if faucet {
            g = g.devnet().faucet(crate::genesis::FaucetParams {
                max_per_call: Frost(1_000_000),
                max_per_account: Frost(1_000_000),
                max_per_epoch: Frost(1_000_000),
                max_total: Frost(1_000_000),
            });
        }
        State::from_genesis(&g.build()).unwrap()
    }

    fn tx(signer: u8, nonce: u64, fee: Frost, kind: TxKind) -> VerifiedTransaction {
        let k = key(signer);
        let t = Transaction {
            sender: Address::of(&k.public()),
            nonce,
            fee,
            kind,
        };
        SignedTransaction::sign(&k, t, CHAIN).verify(CHAIN).unwrap()
    }

    fn transfer(signer: u8, nonce: u64) -> VerifiedTransaction {
        tx(
            signer,
            nonce,
            MIN_FEE,
            TxKind::Transfer {
                to: addr(9),
                amount: Frost(1),
            },
        )
    }

    fn code(r: Result<Admission, MempoolError>) -> &'static str {
        r.map_or_else(|e| e.code(), |_| "admitted")
    }

    #[test]
    fn adv_storage_proofs_only_from_committee_members() {
        let s = state(true);
        let mut pool = Mempool::new(MempoolConfig::default());
        let proofs = |signer| {
            tx(
                signer,
                0,
                MIN_FEE,
                TxKind::SubmitStorageProofs {
                    epoch: floe_common::Epoch(0),
                    first: 0,
                    proofs: Vec::new(),
                },
            )
        };
        // A funded account that is no member's key cannot queue a (up to 1 MiB) proof.
        assert_eq!(code(pool.insert(proofs(2), &s)), "not_committee_member");
        // The member's key account passes that rule (and then needs its fee like anyone).
        assert_eq!(code(pool.insert(proofs(60), &s)), "fees_not_covered");
    }

    #[test]
    fn fees_must_be_at_least_the_minimum_and_covered_by_the_balance() {
        let s = state(true);
        let mut pool = Mempool::new(MempoolConfig::default());
        let low = tx(
            2,
            0,
            Frost(MIN_FEE.0 - 1),
            TxKind::Faucet { amount: Frost(1) },
        );
        assert_eq!(code(pool.insert(low, &s)), "fee_too_low");
        // Account 1 covers exactly 100 pending fees.
        for n in 0..100 {
            assert_eq!(code(pool.insert(transfer(1, n), &s)), "admitted");
        }
        assert_eq!(code(pool.insert(transfer(1, 100), &s)), "fees_not_covered");
        // An unfunded account may have one faucet call at its next nonce, and nothing else.
        let faucet = |n| tx(3, n, MIN_FEE, TxKind::Faucet { amount: Frost(100) });
        assert_eq!(code(pool.insert(transfer(3, 0), &s)), "fees_not_covered");
        assert_eq!(code(pool.insert(faucet(1), &s)), "fees_not_covered");
        assert_eq!(code(pool.insert(faucet(0), &s)), "admitted");
        assert_eq!(code(pool.insert(faucet(1), &s)), "fees_not_covered");
        // Without a faucet, not even that.
        let mut pool = Mempool::new(MempoolConfig::default());
        assert_eq!(
            code(pool.insert(faucet(0), &state(false))),
            "faucet_disabled"
        );
    }

    #[test]
    fn per_sender_transaction_and_byte_bounds() {
        let s = state(true);
        let config = MempoolConfig {
            max_per_sender: 5,
            ..MempoolConfig::default()
        };
        let mut pool = Mempool::new(config);
        for n in 0..5 {
            assert_eq!(code(pool.insert(transfer(2, n), &s)), "admitted");
        }
        assert_eq!(code(pool.insert(transfer(2, 5), &s)), "sender_limit");
        assert_eq!(code(pool.insert(transfer(1, 0), &s)), "admitted");

        let size = transfer(2, 0).signed().encode().len();
        let mut pool = Mempool::new(MempoolConfig {
            max_bytes: 3 * size,
            ..MempoolConfig::default()
        });
        for n in 0..3 {
            assert_eq!(code(pool.insert(transfer(2, n), &s)), "admitted");
        }
        assert_eq!(pool.bytes(), 3 * size);
        assert_eq!(code(pool.insert(transfer(2, 3), &s)), "mempool_full");
        let mut pool = Mempool::new(MempoolConfig {
            capacity: 2,
            ..MempoolConfig::default()
        });
        pool.insert(transfer(2, 0), &s).unwrap();
        pool.insert(transfer(2, 1), &s).unwrap();
        assert_eq!(code(pool.insert(transfer(1, 0), &s)), "mempool_full");
    }

    #[test]
    fn eviction_by_age_and_by_uncovered_fees() {
        let s = state(true);
        let mut pool = Mempool::new(MempoolConfig {
            ttl_ms: 0,
            ..MempoolConfig::default()
        });
        pool.insert(transfer(2, 0), &s).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        pool.evict(&[], &s);
        assert!(pool.is_empty(), "expired");
        assert_eq!((pool.bytes(), pool.load.len()), (0, 0));

        // Account 1's balance falls to 3 fees: its highest nonces go.
        let mut pool = Mempool::new(MempoolConfig::default());
        for n in 0..10 {
            pool.insert(transfer(1, n), &s).unwrap();
        }
        let poorer = {
            let mut g = Genesis::builder(CHAIN, 10)
                .params(|p| p.min_fee = MIN_FEE)
                .account(addr(1), Frost(3 * MIN_FEE.0))
                .account(addr(2), Frost(1 << 50))
                .validator("v", key(50).public(), 1);
            g = g.node(GenesisNode::new(
                "n",
                key(60).public(),
                addr(2),
                Frost(1_000_000),
                "/ip4/127.0.0.1/tcp/1",
                "http://127.0.0.1:1",
            ));
            State::from_genesis(&g.build()).unwrap()
        };
        pool.evict(&[], &poorer);
        assert_eq!(pool.len(), 3);
        let kept: Vec<u64> = pool.by_sender.keys().map(|(_, n)| *n).collect();
        assert_eq!(kept, vec![0, 1, 2]);
        assert_eq!(pool.load[&addr(1)].count, 3);
    }
}
