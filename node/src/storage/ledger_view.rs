//! The node's view of the ledger: per-blob states folded from events (`blobs`), the last block
//! applied (its [`LedgerTip`]) and the latest epoch change ([`EpochRecord`]).
//!
//! The follower writes a block's blob-state updates, the blobs it certified (into the sync
//! queue), its epoch change if any, and the new tip in one write batch: after a crash the
//! cursor, the blob states, the sync queue and the epoch record always agree, and following
//! resumes at the next block. The tip's height is the follower's cursor; it is stored once.

use floe_common::{BlobId, Digest, Epoch, NodeId};
use floe_ledger_types::{MemberShards, ShardMove};
use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};

use super::schema::{BLOBS, CHALLENGE_RECORD, EPOCH_RECORD, LEDGER_TIP, PENDING};
use super::{Storage, StorageError};
use crate::blob_state::BlobState;

/// The last ledger block the node applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerTip {
    /// Its height (0: none yet).
    pub height: u64,
    /// Its block time (ms since the Unix epoch).
    pub timestamp_ms: u64,
    /// The ledger's epoch after it (from the ledger's `EpochChanged` events; the epoch length
    /// can change by governance, so it is never computed from time).
    pub epoch: Epoch,
    /// Whether the change to `epoch` is still syncing shards (the ledger's `EpochChanged` came,
    /// its `SyncDone` not yet): the previous committee still serves older blobs.
    pub sync_pending: bool,
}

/// The latest epoch change, from the ledger's verified `EpochChanged` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The new epoch.
    pub epoch: Epoch,
    /// The epoch of the committee the moved shards come from.
    pub previous_epoch: Epoch,
    /// The new committee's members and shards.
    pub members: Vec<MemberShards>,
    /// Shards that change holder.
    pub moves: Vec<ShardMove>,
    /// Members whose `EpochSyncDone` the ledger counted in this epoch (`ShardsSynced`).
    pub synced: Vec<NodeId>,
}

/// The latest storage challenge round, from the ledger's verified `ChallengesStarted` event,
/// and its results once the ledger settled it (`ChallengeResults`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRecord {
    /// The challenged epoch.
    pub epoch: Epoch,
    /// The draws' seed.
    pub seed: Digest,
    /// Draws per member.
    pub k: u16,
    /// Blobs in the round's snapshot.
    pub live_blobs: u64,
    /// Merkle root over the snapshot's blob ids, by rank.
    pub snapshot_root: Digest,
    /// Proofs count in blocks before this time (ms).
    pub closes_ms: u64,
    /// Members whose proofs the ledger accepted (`StorageProved`).
    pub proved: Vec<NodeId>,
    /// The latest settled results: this round's once settled, until then the previous
    /// round's (a round settles in the block that starts the next one, so they are kept
    /// across it).
    pub settled: Option<SettledRound>,
}

/// The results of a settled challenge round (`ChallengeResults`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettledRound {
    /// The round's epoch.
    pub epoch: Epoch,
    /// Members that proved or had nothing to prove.
    pub passed: Vec<NodeId>,
    /// Members that did not prove: they forfeit the epoch's rewards.
    pub failed: Vec<NodeId>,
}

impl ChallengeRecord {
    /// Whether this round's results are in.
    pub fn is_settled(&self) -> bool {
        self.settled.as_ref().is_some_and(|s| s.epoch == self.epoch)
    }
}

impl EpochRecord {
    /// Whether every node that gains a shard reported it synced: until then a previous holder
    /// keeps serving (and storing) the shards it hands over, even after the ledger's
    /// `SyncDone` (which needs only a quorum).
    pub fn handover_done(&self) -> bool {
        self.moves.iter().all(|m| self.synced.contains(&m.to))
    }
}

impl Storage {
    /// The node's state of a blob id, built from ledger events.
    pub fn blob_state(&self, blob_id: &BlobId) -> Result<Option<BlobState>, StorageError> {
        BLOBS.get(self, blob_id)
    }

    /// Blob states from `start` on (inclusive), at most `limit`, in blob id order.
    pub fn blob_states(
        &self,
        start: &BlobId,
        limit: usize,
    ) -> Result<Vec<(BlobId, BlobState)>, StorageError> {
        BLOBS.range(self, start, limit)
    }

    /// The last ledger block whose events are applied (`None` before the first).
    pub fn ledger_height(&self) -> Result<Option<u64>, StorageError> {
        Ok(LEDGER_TIP.get(self)?.map(|tip| tip.height))
    }

    /// The last applied ledger block's height and time (default before the first).
    pub fn ledger_tip(&self) -> Result<LedgerTip, StorageError> {
        Ok(LEDGER_TIP.get(self)?.unwrap_or_default())
    }

    /// The latest storage challenge round followed, if any.
    pub fn challenge_record(&self) -> Result<Option<ChallengeRecord>, StorageError> {
        CHALLENGE_RECORD.get(self)
    }

    /// The latest epoch change followed, if any.
    pub fn epoch_record(&self) -> Result<Option<EpochRecord>, StorageError> {
        EPOCH_RECORD.get(self)
    }

    /// Writes the blob states changed by ledger block `tip` (`None` deletes), queues the blobs
    /// it certified for sync, records the block's epoch change if any, and moves the ledger
    /// cursor to `tip`, atomically; with them the block's changed challenge round, if any.
    pub fn apply_block_events(
        &self,
        tip: LedgerTip,
        updates: &[(BlobId, Option<BlobState>)],
        certified: &[BlobId],
        epoch_change: Option<&EpochRecord>,
        challenge: Option<&ChallengeRecord>,
    ) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        if let Some(record) = epoch_change {
            EPOCH_RECORD.put(self, &mut batch, record);
        }
        if let Some(record) = challenge {
            CHALLENGE_RECORD.put(self, &mut batch, record);
        }
        for id in certified {
            PENDING.put(self, &mut batch, id, &());
        }
        for (id, state) in updates {
            match state {
                Some(s) => {
                    BLOBS.put(self, &mut batch, id, s);
                }
                None => BLOBS.delete(self, &mut batch, id),
            }
        }
        LEDGER_TIP.put(self, &mut batch, &tip);
        self.write(batch)
    }
}
