//! What a validator records for each committed block, as the RPC serves it: transaction
//! outcomes, the block record with its commit certificate, and event positions.
//!
//! # Certified results
//!
//! A block's commit certificate signs its header, which binds the transactions (`tx_root`) and
//! the state before the block (`app_hash`). The block's *results* (outcomes, their events, the
//! block events) are bound by the next header: `app_hash` of block `h + 1` is
//! [`app_hash_after`] of block `h`, which hashes the previous app hash, the height, the digest of
//! the block's state changes and its results. A record carries the changes' digest, so anyone
//! holding record `h` and the certified header of `h + 1` recomputes the hash and checks every
//! result of `h` ([`BlockRecord::prove_results`]) without trusting the server that sent them.
//! Storage nodes and clients apply a block's results only once the next block proves them.

use floe_common::hash::Digest;
use serde::{Deserialize, Serialize};

use crate::block::{Block, BlockHash, BlockHeader};
use crate::cert::CommitCertificate;
use crate::error::TxFailure;
use crate::events::{Effects, Event};
use crate::tx::TxDigest;

/// What a transaction did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxStatus {
    /// Applied.
    Success(Effects),
    /// Did not succeed: nothing of it applied but, if it failed in execution, its fee and
    /// nonce ([`TxFailure::fee_charged`]).
    Failure(TxFailure),
}

/// A transaction's outcome in its block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxOutcome {
    /// The transaction.
    pub digest: TxDigest,
    /// What happened.
    pub status: TxStatus,
}

/// A committed block as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRecord {
    /// The block.
    pub block: Block,
    /// The engine's commit certificate.
    pub certificate: CommitCertificate,
    /// One outcome per transaction, in block order.
    pub outcomes: Vec<TxOutcome>,
    /// State digest after this block (the next block's `app_hash`).
    pub app_hash: Digest,
    /// Block events: what the epoch state machine did at the start of this block (committee
    /// selection, epoch change, rewards, …), before any transaction. Committed by `app_hash`.
    pub system_events: Vec<Event>,
    /// Digest of the block's state changes (BLAKE3 of their BCS), committed by `app_hash`.
    pub changes_digest: Digest,
}

/// The results of a block do not match the next block's certified header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultsError {
    /// The "next" header is not the next block's.
    #[error("header {got_height} (parent {got_parent}) does not follow block {height} ({hash})")]
    NotNext {
        /// This block's height.
        height: u64,
        /// This block's hash.
        hash: BlockHash,
        /// The other header's height.
        got_height: u64,
        /// The other header's parent.
        got_parent: BlockHash,
    },
    /// Outcomes, events, block events or the changes' digest were altered.
    #[error("the results of block {0} do not hash to the next header's app hash")]
    Mismatch(u64),
}

/// The state digest after a block: what the next block's header carries as `app_hash`.
pub fn app_hash_after(
    prev: &Digest,
    height: u64,
    changes_digest: &Digest,
    outcomes: &[TxOutcome],
    system_events: &[Event],
) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(b"floe/app");
    h.update(&prev.0);
    h.update(&height.to_le_bytes());
    h.update(&changes_digest.0);
    h.update(blake3::hash(&floe_common::codec::encode(&outcomes)).as_bytes());
    h.update(blake3::hash(&floe_common::codec::encode(&system_events)).as_bytes());
    Digest(*h.finalize().as_bytes())
}

impl BlockRecord {
    /// Checks this record's results (outcomes, events, block events, changes digest and the
    /// stated `app_hash`) against `next`, the certified header of the following block. The
    /// caller has verified `next`'s commit certificate (and this block's).
    pub fn prove_results(&self, next: &BlockHeader) -> Result<(), ResultsError> {
        let header = &self.block.header;
        let hash = header.hash();
        if next.height != header.height.saturating_add(1) || next.parent_hash != hash {
            return Err(ResultsError::NotNext {
                height: header.height,
                hash,
                got_height: next.height,
                got_parent: next.parent_hash,
            });
        }
        let computed = app_hash_after(
            &header.app_hash,
            header.height,
            &self.changes_digest,
            &self.outcomes,
            &self.system_events,
        );
        if computed != next.app_hash || self.app_hash != next.app_hash {
            return Err(ResultsError::Mismatch(header.height));
        }
        Ok(())
    }
}

/// A stable position in the event log: events of block `height`, from `index` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventCursor {
    /// Block height.
    pub height: u64,
    /// Index of the event within the block.
    pub index: u32,
}

impl EventCursor {
    /// The position right after this one.
    pub fn next(&self) -> EventCursor {
        EventCursor {
            height: self.height,
            index: self.index.saturating_add(1),
        }
    }
}

impl std::fmt::Display for EventCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.height, self.index)
    }
}

/// A cursor text that is not `height:index`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event cursor {0:?}: expected height:index")]
pub struct CursorParseError(pub String);

impl std::str::FromStr for EventCursor {
    type Err = CursorParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CursorParseError(s.to_owned());
        let (h, i) = s.split_once(':').ok_or_else(bad)?;
        Ok(EventCursor {
            height: h.parse().map_err(|_| bad())?,
            index: i.parse().map_err(|_| bad())?,
        })
    }
}

/// One event with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Position.
    pub cursor: EventCursor,
    /// The transaction that emitted it; `None` for a block event (epoch state machine).
    pub tx: Option<TxDigest>,
    /// The event.
    pub event: Event,
}

/// A committed transaction with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedTx {
    /// Block height.
    pub height: u64,
    /// Index in the block.
    pub index: u32,
    /// Outcome.
    pub outcome: TxOutcome,
}
