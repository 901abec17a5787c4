//! The ledger follower: applies the ledger's committed blocks, in order, to the node's per-blob
//! state ([`crate::blob_state`]).
//!
//! Protocol rule: **a node applies only blocks whose commit certificate verifies against the
//! genesis validator set.** Blocks are fetched with [`LedgerClient::verified_block`], which
//! recomputes the block hash, checks chain id, height and transaction root, and checks that more
//! than two thirds of the trusted validators' power precommitted it; so following one validator
//! does not mean trusting it. The transaction outcomes (and so the events) are additionally
//! checked to name the block's transactions, in order.
//!
//! Epochs come from the blocks' system events: `EpochChanged` sets the epoch, records the new
//! committee's shards and the shard moves ([`EpochRecord`]) and marks the change as syncing;
//! `ShardsSynced` adds the reporting member to the record; `SyncDone` (a system event, or an
//! event of the `EpochSyncDone` transaction that reached the quorum) ends the sync.
//!
//! Each block is applied atomically: the changed blob states and the new cursor
//! (`ledger_height`, the last fully applied block) go into one RocksDB write batch
//! ([`Storage::apply_block_events`]). A restart resumes at `ledger_height + 1`, and a crash
//! never leaves a block half applied.
//!
//! [`Follower::run`] follows until cancelled:
//! - when caught up it long-polls for the next block (the validator answers when it commits, or
//!   after [`LONG_POLL`]), so a registration is seen within milliseconds of its commit and an
//!   upload does not wait on the node; a server that answers a long poll early is asked again
//!   after [`POLL_INTERVAL`];
//! - transient RPC errors are logged and retried with exponential backoff (capped at
//!   [`MAX_BACKOFF`]);
//! - a verification failure or a storage error stops it with a typed [`FollowerError`] and
//!   nothing of the offending block applied.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use floe_common::BlobId;
use floe_ledger_types::{BlockRecord, TxStatus};
use floe_ledger_types::{CertError, ClientError, EpochEvent, Event, LedgerClient, ValidatorSet};
use floe_runtime::Backoff;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::blob_state::{BlobState, apply_event, event_blob_id};
use crate::storage::{EpochRecord, LedgerTip, Storage, StorageError};

/// How long a caught-up follower's request for the next block may wait for it to commit.
pub const LONG_POLL: Duration = Duration::from_secs(5);
/// How often a caught-up follower asks for the next block when long polls end early.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// First retry delay after a transient RPC error.
pub const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Largest retry delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Retries of the ledger RPC: from [`MIN_BACKOFF`], doubling, jittered, up to [`MAX_BACKOFF`].
const RPC_RETRY: Backoff = Backoff::new(MIN_BACKOFF, MAX_BACKOFF);
/// Most blocks one [`Follower::step`] applies.
pub const MAX_BLOCKS_PER_STEP: u64 = 256;

/// Following the ledger failed.
#[derive(Debug, thiserror::Error)]
pub enum FollowerError {
    /// A served block's commit certificate (or chain id, height, transaction root) does not
    /// verify against the trusted validator set; nothing of it was applied.
    #[error("block {height} failed verification: {source}")]
    Verification {
        /// The block height.
        height: u64,
        /// Why.
        source: CertError,
    },
    /// A verified block's outcomes do not match its transactions.
    #[error("block {height} is inconsistent: {reason}")]
    Inconsistent {
        /// The block height.
        height: u64,
        /// What is wrong.
        reason: String,
    },
    /// The ledger RPC failed (transient: [`Follower::run`] retries).
    #[error("ledger rpc: {0}")]
    Rpc(ClientError),
    /// The node's store failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

/// Follows a ledger into a node's [`Storage`].
pub struct Follower {
    client: LedgerClient,
    chain_id: String,
    validators: ValidatorSet,
    storage: Arc<Storage>,
    tip: watch::Sender<LedgerTip>,
}

impl Follower {
    /// A follower of chain `chain_id` trusting `validators` (the genesis validator set).
    pub fn new(
        client: LedgerClient,
        chain_id: impl Into<String>,
        validators: ValidatorSet,
        storage: Arc<Storage>,
    ) -> Self {
        let tip = watch::Sender::new(storage.ledger_tip().unwrap_or_default());
        Follower {
            client,
            chain_id: chain_id.into(),
            validators,
            storage,
            tip,
        }
    }

    /// The last applied block, updated after each block is durably applied.
    pub fn tip(&self) -> watch::Receiver<LedgerTip> {
        self.tip.subscribe()
    }

    /// The next block height to apply.
    pub fn next_height(&self) -> Result<u64, StorageError> {
        Ok(self.storage.ledger_height()?.map_or(1, |h| h + 1))
    }

    /// Applies the available blocks after the stored cursor (at most
    /// [`MAX_BLOCKS_PER_STEP`]); returns how many were applied.
    pub async fn step(&self) -> Result<u64, FollowerError> {
        let mut applied = 0;
        while applied < MAX_BLOCKS_PER_STEP {
            let height = self.next_height()?;
            // Only the first request may wait: later ones stop a catch-up at the tip.
            let wait = if applied == 0 {
                LONG_POLL
            } else {
                Duration::ZERO
            };
            let record = match self
                .client
                .verified_block_wait(height, &self.chain_id, &self.validators, wait)
                .await
            {
                Ok(Some(record)) => record,
                Ok(None) => break,
                Err(ClientError::Verification(source)) => {
                    return Err(FollowerError::Verification { height, source });
                }
                Err(e) => return Err(FollowerError::Rpc(e)),
            };
            self.apply(height, &record)?;
            applied += 1;
        }
        Ok(applied)
    }

    /// Folds the events of `record`'s successful transactions into blob states and commits
    /// them with the cursor.
    fn apply(&self, height: u64, record: &BlockRecord) -> Result<(), FollowerError> {
        let txs = &record.block.txs;
        if record.outcomes.len() != txs.len() {
            return Err(FollowerError::Inconsistent {
                height,
                reason: format!("{} outcomes for {} txs", record.outcomes.len(), txs.len()),
            });
        }
        let mut updates: BTreeMap<BlobId, Option<BlobState>> = BTreeMap::new();
        let mut certified = Vec::new();
        for (i, (outcome, tx)) in record.outcomes.iter().zip(txs).enumerate() {
            if outcome.digest != tx.digest() {
                return Err(FollowerError::Inconsistent {
                    height,
                    reason: format!("outcome {i} is not of transaction {i}"),
                });
            }
            let TxStatus::Success(effects) = &outcome.status else {
                continue;
            };
            for event in &effects.events {
                let Some(blob_id) = event_blob_id(event) else {
                    continue;
                };
                if matches!(event, Event::BlobCertified { .. }) {
                    certified.push(blob_id);
                }
                let current = match updates.remove(&blob_id) {
                    Some(s) => s,
                    None => self.storage.blob_state(&blob_id)?,
                };
                updates.insert(blob_id, apply_event(current, event));
            }
        }
        let updates: Vec<_> = updates.into_iter().collect();
        let previous = *self.tip.borrow();
        let (mut epoch, mut sync_pending) = (previous.epoch, previous.sync_pending);
        let mut epoch_record: Option<EpochRecord> = None;
        let mut record_changed = false;
        // System events first, in the order the ledger ran them (a change and its completion
        // in the same block leave nothing pending), then the successful transactions' events.
        let tx_events = record.outcomes.iter().flat_map(|o| match &o.status {
            TxStatus::Success(effects) => effects.events.as_slice(),
            TxStatus::Failure(_) => &[],
        });
        for event in record.system_events.iter().chain(tx_events) {
            let Event::Epoch(e) = event else { continue };
            match e {
                EpochEvent::EpochChanged {
                    epoch: new,
                    members,
                    moves,
                    previous_epoch,
                    ..
                } => {
                    epoch = *new;
                    sync_pending = true;
                    epoch_record = Some(EpochRecord {
                        epoch: *new,
                        previous_epoch: *previous_epoch,
                        members: members.clone(),
                        moves: moves.clone(),
                        synced: Vec::new(),
                    });
                    record_changed = true;
                }
                EpochEvent::ShardsSynced { epoch: e, node, .. } if *e == epoch => {
                    if epoch_record.is_none() {
                        epoch_record = self.storage.epoch_record()?;
                    }
                    if let Some(r) = epoch_record.as_mut().filter(|r| r.epoch == *e) {
                        r.synced.push(*node);
                        record_changed = true;
                    }
                }
                EpochEvent::SyncDone { epoch: e } if *e == epoch => sync_pending = false,
                _ => {}
            }
        }
        let tip = LedgerTip {
            height,
            timestamp_ms: record.block.header.timestamp_ms,
            epoch,
            sync_pending,
        };
        let change = epoch_record.filter(|_| record_changed);
        self.storage
            .apply_block_events(tip, &updates, &certified, change.as_ref())?;
        if let Some(c) = change.as_ref().filter(|c| c.epoch != previous.epoch) {
            tracing::info!(epoch = %c.epoch, moves = c.moves.len(), "epoch changed");
        }
        tracing::debug!(height, blobs = updates.len(), "applied ledger block");
        self.tip.send_replace(tip);
        Ok(())
    }

    /// Follows the ledger until `cancel` fires (`Ok`) or a block fails verification or the
    /// store fails (`Err`). RPC errors are retried with capped backoff.
    pub async fn run(self, cancel: CancellationToken) -> Result<(), FollowerError> {
        let mut delays = RPC_RETRY.delays();
        loop {
            let started = tokio::time::Instant::now();
            let result = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                r = self.step() => r,
            };
            let wait = match result {
                Ok(n) => {
                    delays.reset();
                    // Nothing new after a full long poll: ask again at once.
                    if n > 0 || started.elapsed() >= LONG_POLL / 2 {
                        continue;
                    }
                    POLL_INTERVAL
                }
                Err(FollowerError::Rpc(e)) => {
                    let wait = delays.next_delay().unwrap_or(MAX_BACKOFF);
                    tracing::warn!(error = %e, retry_in = ?wait, "ledger rpc failed");
                    wait
                }
                Err(e) => {
                    tracing::error!(error = %e, "ledger follower stopped");
                    return Err(e);
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
