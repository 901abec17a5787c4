//! The chain a validator has committed: state, tip and the rules a block must follow.
//!
//! Block validity (checked before voting; a block that breaks one is voted `Invalid`):
//! right chain id and height, parent hash = our tip, timestamp after the parent's and at most
//! [`MAX_CLOCK_DRIFT_MS`] ahead of our clock, proposer a validator (that the signed proposal
//! comes from the round's proposer is the engine's check; a block built in one round can be
//! decided in a later one), `tx_root` over the transactions, `app_hash` = our state digest, at
//! most [`MAX_BLOCK_TXS`] transactions and [`MAX_BLOCK_BYTES`], and every transaction signature
//! valid, and no transaction replayed: none already committed (by digest) and none reusing a
//! nonce its sender has used, before the block or earlier in it. A transaction that is well
//! signed but fails *execution* does not make the block invalid: it is recorded as failed by
//! the same deterministic [`apply`] (having paid its fee and consumed its nonce, unless an
//! admission check refused it).
//!
//! The state digest chains: `app_hash(h) = BLAKE3(app_hash(h−1) ‖ h ‖ BLAKE3(state changes of h)
//! ‖ BLAKE3(outcomes of h) ‖ BLAKE3(block events of h))`, starting from a digest of the genesis state. Two validators with
//! equal digests applied the same changes in the same order from the same genesis.

use std::collections::HashSet;

use floe_common::codec;
use floe_common::hash::Digest;

use crate::block::{Block, BlockHash, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, tx_root};
use crate::cert::{CommitCertificate, ValidatorAddress, ValidatorSet};
use crate::genesis::{Genesis, GenesisError};
use crate::record::app_hash_after;
use crate::state::{BlockContext, State, apply};
use crate::store::{BlockRecord, ChainTip, LedgerStore, LedgerStoreError, TxOutcome, TxStatus};
use crate::tx::VerifiedTransaction;

/// How far ahead of the local clock a block's timestamp may be.
pub const MAX_CLOCK_DRIFT_MS: u64 = 2_000;

/// A block broke a validity rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// Another chain.
    #[error("block is for chain {0}")]
    WrongChain(String),
    /// Not the next height.
    #[error("block height {got}, expected {expected}")]
    WrongHeight {
        /// Block height.
        got: u64,
        /// Next height.
        expected: u64,
    },
    /// Does not extend our tip.
    #[error("parent {got} is not our tip {expected}")]
    WrongParent {
        /// Claimed parent.
        got: BlockHash,
        /// Our tip.
        expected: BlockHash,
    },
    /// Timestamp not after the parent's, or too far in the future.
    #[error("timestamp {got} outside ({parent}, {max}]")]
    BadTimestamp {
        /// Block timestamp.
        got: u64,
        /// Parent timestamp.
        parent: u64,
        /// Latest acceptable.
        max: u64,
    },
    /// Not built by a validator. (Which validator may propose in which round is the engine's
    /// check on the signed proposal; a block built in one round can be decided in a later one.)
    #[error("proposer {0} is not a validator")]
    UnknownProposer(ValidatorAddress),
    /// `tx_root` does not match the transactions.
    #[error("transaction root mismatch")]
    TxRoot,
    /// `app_hash` differs from our state digest (nondeterminism or a lying proposer).
    #[error("app hash {got} differs from ours {expected}")]
    AppHash {
        /// Claimed.
        got: Digest,
        /// Ours.
        expected: Digest,
    },
    /// Too many transactions or bytes.
    #[error("block too large: {txs} transactions, {bytes} bytes")]
    TooLarge {
        /// Transactions.
        txs: usize,
        /// Encoded bytes.
        bytes: usize,
    },
    /// A transaction's sender or size is wrong (`index` names it), or the block's signatures
    /// do not verify as a batch (`index` is `None`: a batch that fails is not searched).
    #[error("transaction {} is not validly signed: {reason}", index.map_or("of the batch".to_owned(), |i| i.to_string()))]
    BadTransaction {
        /// Index in the block, when known.
        index: Option<usize>,
        /// Why.
        reason: String,
    },
    /// A transaction whose nonce the sender's account has already used (before the block, or
    /// by an earlier transaction of the block with the same nonce).
    #[error("transaction {index} reuses nonce {nonce} (account nonce {account_nonce})")]
    StaleNonce {
        /// Index in the block.
        index: usize,
        /// Its nonce.
        nonce: u64,
        /// The sender's nonce before the block.
        account_nonce: u64,
    },
    /// A transaction already committed in an earlier block (a replay).
    #[error("transaction {index} was already committed at height {height}")]
    Replayed {
        /// Index in the block.
        index: usize,
        /// Where it committed.
        height: u64,
    },
    /// The transaction index could not be read, so the block cannot be checked.
    #[error("cannot check the block against the transaction index: {0}")]
    Unverifiable(String),
}

/// Opening or committing failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// Store failure.
    #[error(transparent)]
    Store(#[from] LedgerStoreError),
    /// Invalid genesis.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// Invalid validator set in the genesis.
    #[error(transparent)]
    Validators(#[from] crate::cert::CertError),
    /// A decided block breaks the rules: this validator's state diverged.
    #[error("decided block {height} is invalid here: {source}")]
    Diverged {
        /// Height.
        height: u64,
        /// The broken rule.
        source: BlockError,
    },
}

/// The committed chain: state, tip, validator set.
pub struct Chain {
    genesis: Genesis,
    validators: ValidatorSet,
    state: State,
    tip: ChainTip,
}

fn genesis_app_hash(genesis: &Genesis, state: &State) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(b"floe/app/genesis");
    h.update(&genesis.digest());
    h.update(&state.digest());
    Digest(*h.finalize().as_bytes())
}

impl Chain {
    /// Loads the chain from `store`, initialising it from `genesis` on first start.
    pub fn open(store: &LedgerStore, genesis: Genesis) -> Result<Chain, ChainError> {
        genesis.validate()?;
        let validators = genesis.validator_set()?;
        let (state, tip) = match (store.load_state()?, store.tip()?) {
            (Some(state), Some(tip)) => (state, tip),
            _ => {
                // The genesis entries stay pending in the state's change set and are written
                // with the first block's batch.
                let state = State::from_genesis(&genesis)?;
                let app_hash = genesis_app_hash(&genesis, &state);
                let tip = ChainTip {
                    height: 0,
                    block_hash: BlockHash::GENESIS_PARENT,
                    timestamp_ms: genesis.genesis_time_ms,
                    app_hash,
                };
                (state, tip)
            }
        };
        Ok(Chain {
            genesis,
            validators,
            state,
            tip,
        })
    }

    /// The genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.genesis.chain_id
    }

    /// The validator set.
    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }

    /// The state after the tip.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The last committed block.
    pub fn tip(&self) -> ChainTip {
        self.tip
    }

    /// Checks every validity rule for a block, verifying transaction signatures (batch) and
    /// looking transactions up in `store`'s index. Returns the verified transactions for
    /// [`Chain::commit`].
    pub fn validate(
        &self,
        store: &LedgerStore,
        block: &Block,
        now_ms: Option<u64>,
    ) -> Result<Vec<VerifiedTransaction>, BlockError> {
        let h = &block.header;
        if h.chain_id != self.genesis.chain_id {
            return Err(BlockError::WrongChain(h.chain_id.clone()));
        }
        if h.height != self.tip.height + 1 {
            return Err(BlockError::WrongHeight {
                got: h.height,
                expected: self.tip.height + 1,
            });
        }
        if h.parent_hash != self.tip.block_hash {
            return Err(BlockError::WrongParent {
                got: h.parent_hash,
                expected: self.tip.block_hash,
            });
        }
        let max = now_ms.map_or(u64::MAX, |now| now.saturating_add(MAX_CLOCK_DRIFT_MS));
        if h.timestamp_ms <= self.tip.timestamp_ms || h.timestamp_ms > max {
            return Err(BlockError::BadTimestamp {
                got: h.timestamp_ms,
                parent: self.tip.timestamp_ms,
                max,
            });
        }
        if self.validators.get(&h.proposer).is_none() {
            return Err(BlockError::UnknownProposer(h.proposer));
        }
        if h.app_hash != self.tip.app_hash {
            return Err(BlockError::AppHash {
                got: h.app_hash,
                expected: self.tip.app_hash,
            });
        }
        let bytes = bcs::serialized_size(block).unwrap_or(usize::MAX);
        if block.txs.len() > MAX_BLOCK_TXS || bytes > MAX_BLOCK_BYTES {
            return Err(BlockError::TooLarge {
                txs: block.txs.len(),
                bytes,
            });
        }
        if tx_root(&block.txs) != h.tx_root {
            return Err(BlockError::TxRoot);
        }
        self.check_replays(store, block)?;
        crate::tx::SignedTransaction::verify_all(&block.txs, self.chain_id()).map_err(
            |(index, e)| BlockError::BadTransaction {
                index,
                reason: e.to_string(),
            },
        )
    }

    /// No transaction of `block` was committed before (its digest is not in the index) or
    /// uses a nonce its sender has used (before the block or earlier in it). So a proposer
    /// cannot replay a transaction, not even one that was refused without consuming its nonce.
    fn check_replays(&self, store: &LedgerStore, block: &Block) -> Result<(), BlockError> {
        let mut used: HashSet<(crate::tx::Address, u64)> = HashSet::new();
        for (index, tx) in block.txs.iter().enumerate() {
            let (sender, nonce) = (tx.tx.sender, tx.tx.nonce);
            let account_nonce = self.state.account(&sender).map_or(0, |a| a.nonce);
            if nonce < account_nonce || !used.insert((sender, nonce)) {
                return Err(BlockError::StaleNonce {
                    index,
                    nonce,
                    account_nonce,
                });
            }
            match store.tx_location(&tx.digest()) {
                Ok(None) => {}
                Ok(Some((height, _))) => return Err(BlockError::Replayed { index, height }),
                Err(e) => return Err(BlockError::Unverifiable(e.to_string())),
            }
        }
        Ok(())
    }

    /// Executes a decided block and commits it durably with its certificate. `verified` are
    /// the block's transactions as [`Chain::validate`] returned them, if still at hand.
    pub fn commit(
        &mut self,
        store: &LedgerStore,
        block: &Block,
        verified: Option<Vec<VerifiedTransaction>>,
        certificate: CommitCertificate,
    ) -> Result<BlockRecord, ChainError> {
        let height = block.height();
        let verified = match verified {
            Some(v) if v.len() == block.txs.len() => v,
            _ => self
                .validate(store, block, None)
                .map_err(|source| ChainError::Diverged { height, source })?,
        };
        let mut outcomes = Vec::with_capacity(verified.len());
        let block_hash = block.hash();
        for (i, tx) in verified.iter().enumerate() {
            let ctx = BlockContext {
                height,
                timestamp_ms: block.header.timestamp_ms,
                tx_index: i as u32,
                block_hash,
            };
            if i == 0 {
                self.state.begin_block(&ctx);
            }
            let status = match apply(&mut self.state, tx, &ctx) {
                Ok(effects) => TxStatus::Success(effects),
                Err(failure) => TxStatus::Failure(failure),
            };
            outcomes.push(TxOutcome {
                digest: tx.digest(),
                status,
            });
        }
        if verified.is_empty() {
            self.state.begin_block(&BlockContext {
                height,
                timestamp_ms: block.header.timestamp_ms,
                tx_index: 0,
                block_hash,
            });
        }
        let system_events = self.state.take_block_events();
        let changes = self.state.take_changes();
        let changes_digest = Digest(*blake3::hash(&codec::encode(&changes)).as_bytes());
        let app_hash = app_hash_after(
            &self.tip.app_hash,
            height,
            &changes_digest,
            &outcomes,
            &system_events,
        );
        let record = BlockRecord {
            block: block.clone(),
            certificate,
            outcomes,
            app_hash,
            system_events,
            changes_digest,
        };
        let tip = ChainTip {
            height,
            block_hash,
            timestamp_ms: block.header.timestamp_ms,
            app_hash,
        };
        store.commit(&record, &changes, &tip)?;
        self.tip = tip;
        Ok(record)
    }
}
