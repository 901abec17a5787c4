//! What a validator records for each committed block, as the RPC serves it: transaction
//! outcomes, the block record with its commit certificate, and event positions.

use floe_common::hash::Digest;
use serde::{Deserialize, Serialize};

use crate::block::Block;
use crate::cert::CommitCertificate;
use crate::error::TxError;
use crate::events::{Effects, Event};
use crate::tx::TxDigest;

/// What a transaction did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxStatus {
    /// Applied.
    Success(Effects),
    /// Rejected with no effect on state (not even the fee or nonce).
    Failure(TxError),
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
    #[serde(default)]
    pub system_events: Vec<Event>,
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
