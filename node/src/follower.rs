//! The ledger follower: applies the ledger's committed blocks, in order, to the node's per-blob
//! state ([`crate::blob_state`]).
//!
//! Protocol rules (following one validator never means trusting it):
//!
//! - **A node applies only certified blocks.** Blocks are fetched with
//!   [`LedgerClient::verified_block`], which recomputes the block hash, checks chain id, height
//!   and transaction root, and checks that more than two thirds of the trusted (genesis)
//!   validators' power precommitted it.
//! - **A node applies a block's results only once the next block proves them.** Outcomes,
//!   their events and the block events are not signed by block `h`'s certificate; block
//!   `h + 1`'s certified header commits to them through its `app_hash`
//!   ([`BlockRecord::prove_results`]). So the follower holds block `h` until `h + 1` is
//!   committed and verified, then checks `h`'s results and applies them: the node's view trails
//!   the ledger by one block. The outcomes are also checked to name the block's transactions, in
//!   order.
//! - **A record that fails any check is never applied, and its server is left.** The follower
//!   logs it, counts it (`floe_node_ledger_records_rejected_total`), fails over to the next
//!   validator of its configuration and goes on; it does not stop.
//!
//! Storage challenge rounds come from `ChallengesStarted` (the round: seed, `k`, snapshot size
//! and root, window), `StorageProved` (a member proved) and `ChallengeResults` (the settled
//! results); the latest round is stored as a [`ChallengeRecord`] with the block.
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
//!   after [`LONG_POLL`]), so a registration is seen within milliseconds of the commit of the
//!   block after it (one block time, as blocks are made even when empty) and an upload does not
//!   wait on the node; a server that answers a long poll early is asked again
//!   after [`POLL_INTERVAL`];
//! - transient RPC errors are logged and retried with exponential backoff (capped at
//!   [`MAX_BACKOFF`]);
//! - a record that fails verification is rejected as above;
//! - a block the store cannot persist because the disk is full ([`StorageError::Full`]) is
//!   not applied and not skipped: the follower pauses (same backoff) and applies it again
//!   once space is freed, while the node goes on serving reads;
//! - only another storage error stops it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use floe_common::BlobId;
use floe_ledger_types::{BlockRecord, ResultsError, TxStatus};
use floe_ledger_types::{CertError, ClientError, EpochEvent, Event, LedgerClient, ValidatorSet};
use floe_runtime::Backoff;
use prometheus_client::metrics::counter::Counter;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::blob_state::{BlobState, apply_event, event_blob_id};
use crate::storage::{
    ChallengeRecord, EpochRecord, LedgerTip, SettledRound, Storage, StorageError,
};

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
    /// A block's results (outcomes, events, block events) are not the ones the next certified
    /// header commits to.
    #[error("block {height}'s results are not proven: {source}")]
    Results {
        /// The block height.
        height: u64,
        /// Why.
        source: ResultsError,
    },
    /// The ledger RPC failed (transient: [`Follower::run`] retries).
    #[error("ledger rpc: {0}")]
    Rpc(ClientError),
    /// The node's store failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

impl FollowerError {
    /// Whether the served data failed a check (the server is left, the follower goes on).
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            FollowerError::Verification { .. }
                | FollowerError::Inconsistent { .. }
                | FollowerError::Results { .. }
        )
    }
}

/// Follows a ledger into a node's [`Storage`].
pub struct Follower {
    client: LedgerClient,
    chain_id: String,
    validators: ValidatorSet,
    storage: Arc<Storage>,
    tip: watch::Sender<LedgerTip>,
    /// The next block to apply, certified but waiting for the block after it to prove its
    /// results.
    held: Mutex<Option<BlockRecord>>,
    /// Records refused (and servers left).
    rejections: Counter,
    /// How long a caught-up request may wait for the next block.
    long_poll: Duration,
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
            held: Mutex::new(None),
            rejections: Counter::default(),
            long_poll: LONG_POLL,
        }
    }

    /// Sets how long a caught-up request waits for the next block to commit ([`LONG_POLL`] by
    /// default; zero asks and returns at once).
    pub fn with_long_poll(mut self, wait: Duration) -> Self {
        self.long_poll = wait;
        self
    }

    /// Counts rejected records in `counter` (the node's metric).
    pub fn count_rejections_in(mut self, counter: Counter) -> Self {
        self.rejections = counter;
        self
    }

    /// Records rejected so far.
    pub fn rejections(&self) -> u64 {
        self.rejections.get()
    }

    /// The last applied block, updated after each block is durably applied.
    pub fn tip(&self) -> watch::Receiver<LedgerTip> {
        self.tip.subscribe()
    }

    /// The next block height to apply.
    pub fn next_height(&self) -> Result<u64, StorageError> {
        Ok(self.storage.ledger_height()?.map_or(1, |h| h + 1))
    }

    /// Applies the available blocks after the stored cursor whose results are proven (at most
    /// [`MAX_BLOCKS_PER_STEP`]); returns how many were applied.
    pub async fn step(&self) -> Result<u64, FollowerError> {
        let mut applied = 0;
        while applied < MAX_BLOCKS_PER_STEP {
            let height = self.next_height()?;
            // Only the first step's requests may wait: later ones stop a catch-up at the tip.
            let wait = if applied == 0 {
                self.long_poll
            } else {
                Duration::ZERO
            };
            let held = self.take_held(height);
            let record = match held {
                Some(r) => r,
                None => match self.fetch(height, wait).await? {
                    Some(r) => r,
                    None => break,
                },
            };
            let Some(next) = self.fetch(height + 1, wait).await? else {
                self.hold(record);
                break;
            };
            record
                .prove_results(&next.block.header)
                .map_err(|source| FollowerError::Results { height, source })?;
            self.apply(height, &record)?;
            self.hold(next);
            applied += 1;
        }
        Ok(applied)
    }

    /// Block `height`, its certificate verified (`None` if not committed yet).
    async fn fetch(
        &self,
        height: u64,
        wait: Duration,
    ) -> Result<Option<BlockRecord>, FollowerError> {
        match self
            .client
            .verified_block_wait(height, &self.chain_id, &self.validators, wait)
            .await
        {
            Ok(r) => Ok(r),
            Err(ClientError::Verification(source)) => {
                Err(FollowerError::Verification { height, source })
            }
            Err(e) => Err(FollowerError::Rpc(e)),
        }
    }

    /// The held record, if it is block `height`.
    fn take_held(&self, height: u64) -> Option<BlockRecord> {
        self.lock_held()
            .take()
            .filter(|r| r.block.height() == height)
    }

    fn hold(&self, record: BlockRecord) {
        *self.lock_held() = Some(record);
    }

    fn lock_held(&self) -> std::sync::MutexGuard<'_, Option<BlockRecord>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Leaves the server that sent a record failing a check: nothing of it is kept, and the
    /// next request goes to the next validator.
    fn reject(&self, error: &FollowerError) {
        self.lock_held().take();
        self.rejections.inc();
        let left = self.client.fail_over();
        tracing::warn!(error = %error, validator = left.as_deref().unwrap_or("-"), next = self.client.current_url().unwrap_or("-"), "ledger record rejected; failing over");
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
        let mut challenge: Option<ChallengeRecord> = None;
        let mut challenge_changed = false;
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
                EpochEvent::ChallengesStarted {
                    epoch: e,
                    seed,
                    k,
                    live_blobs,
                    snapshot_root,
                    closes_ms,
                } => {
                    let settled = match challenge.take() {
                        Some(r) => r.settled,
                        None => self.storage.challenge_record()?.and_then(|r| r.settled),
                    };
                    challenge = Some(ChallengeRecord {
                        epoch: *e,
                        seed: *seed,
                        k: *k,
                        live_blobs: *live_blobs,
                        snapshot_root: *snapshot_root,
                        closes_ms: *closes_ms,
                        proved: Vec::new(),
                        settled,
                    });
                    challenge_changed = true;
                }
                EpochEvent::StorageProved { epoch: e, node, .. } => {
                    if challenge.is_none() {
                        challenge = self.storage.challenge_record()?;
                    }
                    if let Some(r) = challenge.as_mut().filter(|r| r.epoch == *e) {
                        r.proved.push(*node);
                        challenge_changed = true;
                    }
                }
                EpochEvent::ChallengeResults {
                    epoch: e,
                    passed,
                    failed,
                } => {
                    if challenge.is_none() {
                        challenge = self.storage.challenge_record()?;
                    }
                    if let Some(r) = challenge.as_mut() {
                        r.settled = Some(SettledRound {
                            epoch: *e,
                            passed: passed.clone(),
                            failed: failed.clone(),
                        });
                        challenge_changed = true;
                    }
                }
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
        let challenge = challenge.filter(|_| challenge_changed);
        self.storage.apply_block_events(
            tip,
            &updates,
            &certified,
            change.as_ref(),
            challenge.as_ref(),
        )?;
        if let Some(c) = change.as_ref().filter(|c| c.epoch != previous.epoch) {
            tracing::info!(epoch = %c.epoch, moves = c.moves.len(), "epoch changed");
        }
        tracing::debug!(height, blobs = updates.len(), "applied ledger block");
        self.tip.send_replace(tip);
        Ok(())
    }

    /// Follows the ledger until `cancel` fires (`Ok`) or the store fails (`Err`). RPC errors
    /// are retried with capped backoff; records failing a check are rejected (see the module
    /// docs) and following goes on at once from the next validator.
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
                    let long_polled =
                        !self.long_poll.is_zero() && started.elapsed() >= self.long_poll / 2;
                    if n > 0 || long_polled {
                        continue;
                    }
                    POLL_INTERVAL
                }
                Err(FollowerError::Rpc(e)) => {
                    let wait = delays.next_delay().unwrap_or(MAX_BACKOFF);
                    tracing::warn!(error = %e, retry_in = ?wait, "ledger rpc failed");
                    wait
                }
                // A full disk: the block is not applied (its batch was refused whole), so the
                // cursor has not moved; pause and apply it again once space is freed.
                Err(FollowerError::Storage(e @ StorageError::Full { .. })) => {
                    let wait = delays.next_delay().unwrap_or(MAX_BACKOFF);
                    tracing::warn!(error = %e, retry_in = ?wait, "cannot persist the next ledger block; paused");
                    wait
                }
                Err(e) if e.is_rejection() => {
                    self.reject(&e);
                    // Every validator may be serving bad records (or this node's genesis is
                    // wrong): back off so the node does not spin.
                    delays.next_delay().unwrap_or(MAX_BACKOFF)
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
