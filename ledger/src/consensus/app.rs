//! The application side of the engine: answers every [`AppMsg`] (see the table in
//! `docs/ledger-consensus-notes.md` §3).
//!
//! Rules this loop keeps:
//! - every message gets a reply, even on error (the engine waits for it);
//! - a block body is written to disk before this validator proposes or votes for it, and a
//!   decided block is committed (synced) before `Decided` is answered;
//! - a proposer asked again for the same (height, round) returns the same block;
//! - a part for a future height is kept unvalidated and checked when that height starts.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use malachitebft_app_channel::app::engine::host::{Next, SyncedValueOutcome};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate as EngineCert, HeightParams, LinearTimeouts, Round, Validity,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{LocallyProposedValue, ProposedValue};
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use tokio_util::sync::CancellationToken;

use super::codec::{to_engine_cert, to_floe_cert};
use super::context::{FloeContext, Height, ProposalPart, ValidatorSet};
use super::parts::{EarlyParts, Placement, placement};
use crate::block::{Block, BlockHash, BlockHeader, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, tx_root};
use crate::cert::ValidatorAddress;
use crate::service::Ledger;
use crate::store::RoundProposal;
use crate::tx::{SignedTransaction, VerifiedTransaction};
use floe_common::KeyPair;

/// How blocks are paced and how long each step waits.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    /// Target time between blocks (the engine holds `Finalized` until it has passed).
    pub block_time: Duration,
    /// The engine's round timeouts.
    pub timeouts: LinearTimeouts,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            block_time: Duration::from_millis(200),
            timeouts: LinearTimeouts {
                propose: Duration::from_millis(800),
                propose_delta: Duration::from_millis(200),
                prevote: Duration::from_millis(300),
                prevote_delta: Duration::from_millis(100),
                precommit: Duration::from_millis(300),
                precommit_delta: Duration::from_millis(100),
                rebroadcast: Duration::from_secs(2),
                max_timeout: Duration::from_secs(5),
            },
        }
    }
}

/// Most blocks served to a syncing peer in one answer.
const MAX_SYNC_BATCH: u64 = 50;
/// Encoded bytes a proposer leaves for the header and framing.
const BLOCK_SLACK: usize = 64 << 10;

/// Rewrites the transactions of a block this validator proposes, before the header is built
/// (fault injection for tests: a Byzantine proposer). Called with the height.
pub type ProposeHook = Arc<dyn Fn(u64, &mut Vec<SignedTransaction>) + Send + Sync>;

/// A part a Byzantine validator streams besides its proposals (tests): `block` at `height`, in
/// the `nth` round (from the current one at the current height, from 0 at a later one) that
/// this validator proposes, signed as its proposal.
#[derive(Debug, Clone)]
pub struct FloodPart {
    /// The height.
    pub height: u64,
    /// Which of this validator's proposer rounds.
    pub nth: u32,
    /// The block.
    pub block: Block,
}

/// Called at the start of every round with the round and the header an honest block of the
/// current height would carry (empty `tx_root`); the parts it returns are signed and published
/// (fault injection for tests: a flooding proposer).
pub type FloodHook = Arc<dyn Fn(u32, &BlockHeader) -> Vec<FloodPart> + Send + Sync>;

/// The loop's state.
pub struct App {
    ledger: Arc<Ledger>,
    key: KeyPair,
    address: ValidatorAddress,
    validators: ValidatorSet,
    pacing: Pacing,
    /// Transactions verified while validating a block, by block hash (saves re-verifying at
    /// commit).
    verified: HashMap<BlockHash, Vec<VerifiedTransaction>>,
    /// Whether the last `Decided` committed.
    committed: bool,
    /// Rewrites own proposals (tests only).
    propose_hook: Option<ProposeHook>,
    /// Streams extra parts (tests only).
    flood_hook: Option<FloodHook>,
    /// The engine's current height and round.
    current: (u64, u32),
    /// Authenticated parts waiting for their round ([`parts`](super::parts)).
    early: EarlyParts,
    /// Where the bytes of early parts are reported (tests and diagnostics).
    early_bytes: Arc<AtomicUsize>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn round_u32(r: Round) -> u32 {
    r.as_u32().unwrap_or(0)
}

impl App {
    /// The loop for the validator holding `key`.
    pub fn new(ledger: Arc<Ledger>, key: KeyPair, pacing: Pacing) -> Self {
        let validators = ValidatorSet::from(ledger.validators());
        App {
            address: ValidatorAddress::of(&key.public()),
            ledger,
            key,
            validators,
            pacing,
            verified: HashMap::new(),
            committed: true,
            propose_hook: None,
            flood_hook: None,
            current: (0, 0),
            early: EarlyParts::default(),
            early_bytes: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Streams `hook`'s parts at every round (a flooding proposer, for tests).
    pub fn with_flood_hook(mut self, hook: Option<FloodHook>) -> Self {
        self.flood_hook = hook;
        self
    }

    /// Reports the bytes of early parts held in memory to `gauge`.
    pub fn report_early_bytes(mut self, gauge: Arc<AtomicUsize>) -> Self {
        self.early_bytes = gauge;
        self
    }

    /// Rewrites this validator's proposals with `hook` (a Byzantine proposer, for tests).
    pub fn with_propose_hook(mut self, hook: Option<ProposeHook>) -> Self {
        self.propose_hook = hook;
        self
    }

    fn params(&self) -> HeightParams<FloeContext> {
        HeightParams::new(
            self.validators.clone(),
            self.pacing.timeouts,
            Some(self.pacing.block_time),
        )
    }

    fn next_height(&self) -> Height {
        Height(self.ledger.tip().height + 1)
    }

    /// Runs until the engine closes its channel or `cancel` fires.
    pub async fn run(
        mut self,
        mut channels: Channels<FloeContext>,
        cancel: CancellationToken,
    ) -> Result<(), AppError> {
        loop {
            let msg = tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                msg = channels.consensus.recv() => msg,
            };
            let Some(msg) = msg else {
                return Err(AppError::EngineStopped);
            };
            self.handle(msg, &channels).await?;
        }
    }

    async fn handle(
        &mut self,
        msg: AppMsg<FloeContext>,
        channels: &Channels<FloeContext>,
    ) -> Result<(), AppError> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let height = self.next_height();
                self.current = (height.0, 0);
                tracing::info!(%height, "consensus ready");
                let _ = reply.send((height, self.params()));
            }
            AppMsg::StartedRound {
                height,
                round,
                reply_value,
                ..
            } => {
                self.current = (height.0, round_u32(round));
                self.ledger.metrics().round(round_u32(round));
                self.store_due_parts();
                let values = self.stored_proposals(height, round);
                let _ = reply_value.send(values);
                self.flood(channels, height.0, round_u32(round)).await;
            }
            AppMsg::GetValue {
                height,
                round,
                reply,
                ..
            } => {
                let (hash, part) = self.propose(height, round)?;
                let _ = reply.send(LocallyProposedValue::new(height, round, hash));
                self.publish(channels, part).await;
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                use malachitebft_app_channel::app::consensus::VoteExtensionError;
                let verdicts = extensions
                    .into_iter()
                    .map(|(a, _)| (a, Err(VoteExtensionError::InvalidVoteExtension)))
                    .collect();
                let _ = reply.send(verdicts);
            }
            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                value_id,
                ..
            } => {
                if let Some(block) = self.body(&value_id) {
                    let part = self.sign_part(height.0, round, valid_round, block);
                    self.publish(channels, part).await;
                }
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let min = if self.ledger.tip().height == 0 {
                    Height(0)
                } else {
                    Height(1)
                };
                let _ = reply.send(min);
            }
            AppMsg::ReceivedProposalPart { part, reply, .. } => {
                let value = match part.content {
                    StreamContent::Data(part) => self.received_part(&part),
                    StreamContent::Fin => None,
                };
                let _ = reply.send(value);
            }
            AppMsg::Decided {
                certificate, reply, ..
            } => {
                self.committed = self.commit(&certificate);
                let _ = reply.send(());
            }
            AppMsg::Finalized { reply, .. } => {
                let next = if self.committed {
                    Next::Start(self.next_height(), self.params())
                } else {
                    Next::Restart(self.next_height(), self.params())
                };
                let _ = reply.send(next);
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let _ = reply.send(self.decided_values(range.start().0, range.end().0));
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let _ = reply.send(self.synced_value(height, round, proposer, &value_bytes));
            }
        }
        Ok(())
    }

    fn body(&self, hash: &BlockHash) -> Option<Block> {
        match self.ledger.store().proposal(hash) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(block = %hash, error = %e, "reading proposal body failed");
                None
            }
        }
    }

    /// Builds (or re-returns) this validator's block for (height, round).
    fn propose(
        &mut self,
        height: Height,
        round: Round,
    ) -> Result<(BlockHash, ProposalPart), AppError> {
        let r = round_u32(round);
        let own = self
            .ledger
            .store()
            .round_proposals(height.0, r)?
            .into_iter()
            .find(|p| p.proposer == self.address);
        if let Some(p) = own
            && let Some(block) = self.body(&p.block_hash)
        {
            let part = self.sign_part(height.0, round, Round::Nil, block);
            return Ok((p.block_hash, part));
        }
        let tip = self.ledger.tip();
        let txs = self
            .ledger
            .reap(MAX_BLOCK_TXS, MAX_BLOCK_BYTES - BLOCK_SLACK);
        let mut signed = txs.iter().map(|t| t.signed().clone()).collect::<Vec<_>>();
        if let Some(hook) = &self.propose_hook {
            hook(height.0, &mut signed);
        }
        let header = BlockHeader {
            chain_id: self.ledger.chain_id().to_owned(),
            height: height.0,
            parent_hash: tip.block_hash,
            timestamp_ms: now_ms().max(tip.timestamp_ms + 1),
            proposer: self.address,
            tx_root: tx_root(&signed),
            app_hash: tip.app_hash,
        };
        let block = Block {
            header,
            txs: signed,
        };
        let hash = block.hash();
        self.ledger.store().put_proposal(
            height.0,
            r,
            &RoundProposal {
                proposer: self.address,
                pol_round: -1,
                block_hash: hash,
            },
            &block,
        )?;
        tracing::debug!(%height, round = r, txs = block.txs.len(), block = %hash, "proposing");
        // A rewritten body is validated again at commit.
        if txs.len() == block.txs.len() && self.propose_hook.is_none() {
            self.verified.insert(hash, txs);
        }
        let part = self.sign_part(height.0, round, Round::Nil, block);
        Ok((hash, part))
    }

    fn sign_part(&self, height: u64, round: Round, pol_round: Round, block: Block) -> ProposalPart {
        let mut part = ProposalPart {
            height,
            round: round.as_i64(),
            pol_round: pol_round.as_i64(),
            proposer: self.address,
            block,
            signature: floe_common::Signature([0; 64]),
        };
        part.signature = self.key.sign_raw(&part.sign_bytes(self.ledger.chain_id()));
        part
    }

    async fn publish(&self, channels: &Channels<FloeContext>, part: ProposalPart) {
        let mut id = Vec::with_capacity(16);
        id.extend_from_slice(&part.height.to_be_bytes());
        id.extend_from_slice(&part.round.to_be_bytes());
        let stream_id = StreamId::new(Bytes::from(id));
        let msgs = [
            StreamMessage::new(stream_id.clone(), 0, StreamContent::Data(part)),
            StreamMessage::new(stream_id, 1, StreamContent::Fin),
        ];
        for m in msgs {
            if channels
                .network
                .send(NetworkMsg::PublishProposalPart(m))
                .await
                .is_err()
            {
                tracing::warn!("network channel closed; proposal part not published");
            }
        }
    }

    /// Checks a block at the current height and returns the engine's view of it.
    fn check(
        &mut self,
        height: Height,
        round: Round,
        valid_round: Round,
        proposer: ValidatorAddress,
        block: &Block,
    ) -> ProposedValue<FloeContext> {
        let hash = block.hash();
        let validity = match self
            .ledger
            .with_chain(|c| c.validate(self.ledger.store(), block, Some(now_ms())))
        {
            Ok(txs) => {
                self.verified.insert(hash, txs);
                Validity::Valid
            }
            Err(e) => {
                tracing::warn!(%height, block = %hash, error = %e, "invalid block");
                Validity::Invalid
            }
        };
        ProposedValue {
            height,
            round,
            valid_round,
            proposer,
            value: hash,
            validity,
        }
    }

    fn received_part(&mut self, part: &ProposalPart) -> Option<ProposedValue<FloeContext>> {
        let round = u32::try_from(part.round).ok()?;
        let place = placement(self.current, part.height, round);
        if matches!(place, Placement::Past | Placement::TooFar) {
            tracing::debug!(
                height = part.height,
                round,
                ?place,
                "dropping proposal part"
            );
            return None;
        }
        if !self.authentic(part) {
            tracing::warn!(height = part.height, proposer = %part.proposer, "dropping unauthenticated proposal part");
            return None;
        }
        if place == Placement::Early {
            let size = bcs::serialized_size(part).unwrap_or(usize::MAX);
            if !self.early.insert(part.clone(), size) {
                tracing::debug!(height = part.height, round, "early proposal part not kept");
            }
            self.early_bytes
                .store(self.early.bytes(), Ordering::Relaxed);
            return None;
        }
        if !self.store_part(part) {
            return None;
        }
        let pol_round = match part.pol_round {
            -1 => Round::Nil,
            r => Round::new(u32::try_from(r).ok()?),
        };
        Some(self.check(
            Height(part.height),
            Round::new(round),
            pol_round,
            part.proposer,
            &part.block,
        ))
    }

    /// Whether `part` is signed by the proposer of its `(height, round)` and carries a block
    /// of its height.
    fn authentic(&self, part: &ProposalPart) -> bool {
        let Ok(round) = u32::try_from(part.round) else {
            return false;
        };
        let expected = self.ledger.validators().proposer(part.height, round);
        part.proposer == expected.address()
            && part.block.height() == part.height
            && expected
                .public_key
                .verify(&part.sign_bytes(self.ledger.chain_id()), &part.signature)
                .is_ok()
    }

    /// Stores an authenticated part's block unless its slot already holds one; `false` when
    /// nothing new was stored (a repeat, or an equivocation, which is dropped).
    fn store_part(&self, part: &ProposalPart) -> bool {
        let round = u32::try_from(part.round).unwrap_or(u32::MAX);
        let hash = part.block.hash();
        let store = self.ledger.store();
        match store.round_proposals(part.height, round) {
            Ok(notes) => {
                if let Some(n) = notes.iter().find(|n| n.proposer == part.proposer) {
                    if n.block_hash != hash {
                        tracing::warn!(height = part.height, round, proposer = %part.proposer, "dropping a second block for one proposer slot");
                    }
                    return false;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "reading stored proposals failed");
                return false;
            }
        }
        let note = RoundProposal {
            proposer: part.proposer,
            pol_round: part.pol_round,
            block_hash: hash,
        };
        if let Err(e) = store.put_proposal(part.height, round, &note, &part.block) {
            tracing::error!(error = %e, "storing proposal failed");
            return false;
        }
        true
    }

    /// Moves the early parts whose round has come (the current height, up to one round past
    /// the current one) to the store, where [`App::stored_proposals`] finds them.
    fn store_due_parts(&mut self) {
        let (height, round) = self.current;
        for part in self.early.take_due(height, round.saturating_add(1)) {
            self.store_part(&part);
        }
        self.early_bytes
            .store(self.early.bytes(), Ordering::Relaxed);
    }

    /// Publishes the flood hook's parts for `(height, round)`, signed as this validator's.
    async fn flood(&self, channels: &Channels<FloeContext>, height: u64, round: u32) {
        let Some(hook) = &self.flood_hook else {
            return;
        };
        let tip = self.ledger.tip();
        let template = BlockHeader {
            chain_id: self.ledger.chain_id().to_owned(),
            height,
            parent_hash: tip.block_hash,
            timestamp_ms: now_ms().max(tip.timestamp_ms + 1),
            proposer: self.address,
            tx_root: tx_root(&[]),
            app_hash: tip.app_hash,
        };
        for p in hook(round, &template) {
            let first = if p.height == height { round } else { 0 };
            let mine = (first..first.saturating_add(64)).filter(|r| {
                self.ledger.validators().proposer(p.height, *r).address() == self.address
            });
            let Some(r) = mine.clone().nth(p.nth as usize) else {
                continue;
            };
            let part = self.sign_part(p.height, Round::new(r), Round::Nil, p.block);
            self.publish(channels, part).await;
        }
    }

    fn stored_proposals(
        &mut self,
        height: Height,
        round: Round,
    ) -> Vec<ProposedValue<FloeContext>> {
        if height != self.next_height() {
            return Vec::new();
        }
        let notes = match self
            .ledger
            .store()
            .round_proposals(height.0, round_u32(round))
        {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "reading stored proposals failed");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for note in notes {
            if let Some(block) = self.body(&note.block_hash) {
                let valid_round = match note.pol_round {
                    r if r >= 0 => Round::new(r as u32),
                    _ => Round::Nil,
                };
                out.push(self.check(height, round, valid_round, note.proposer, &block));
            }
        }
        out
    }

    fn commit(&mut self, certificate: &EngineCert<FloeContext>) -> bool {
        let hash = certificate.value_id;
        let Some(block) = self.body(&hash) else {
            tracing::error!(height = %certificate.height, block = %hash, "decided block body missing");
            return false;
        };
        let Some(cert) = to_floe_cert(certificate) else {
            tracing::error!("decided certificate has no round");
            return false;
        };
        let verified = self.verified.remove(&hash);
        match self.ledger.commit(&block, verified, cert) {
            Ok(record) => {
                let failed = record
                    .outcomes
                    .iter()
                    .filter(|o| matches!(o.status, crate::store::TxStatus::Failure(_)))
                    .count();
                tracing::info!(
                    height = block.height(),
                    block = %hash,
                    txs = record.outcomes.len(),
                    failed,
                    "committed"
                );
                // Verified bodies of other proposals at this height are moot now.
                self.verified.clear();
                true
            }
            Err(e) => {
                tracing::error!(height = block.height(), error = %e, "commit failed");
                false
            }
        }
    }

    fn decided_values(&self, start: u64, end: u64) -> Vec<RawDecidedValue<FloeContext>> {
        let tip = self.ledger.tip().height;
        let start = start.max(1);
        let end = end.min(tip).min(start.saturating_add(MAX_SYNC_BATCH - 1));
        let mut out = Vec::new();
        for h in start..=end {
            match self.ledger.store().block(h) {
                Ok(Some(record)) => out.push(RawDecidedValue::new(
                    Bytes::from(record.block.to_bytes()),
                    to_engine_cert(&record.certificate),
                )),
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(height = h, error = %e, "reading block for sync failed");
                    break;
                }
            }
        }
        out
    }

    fn synced_value(
        &mut self,
        height: Height,
        round: Round,
        proposer: ValidatorAddress,
        bytes: &[u8],
    ) -> SyncedValueOutcome<FloeContext> {
        let Ok(block) = Block::from_bytes(bytes) else {
            return SyncedValueOutcome::PeerFault;
        };
        if block.height() != height.0 {
            return SyncedValueOutcome::PeerFault;
        }
        let note = RoundProposal {
            proposer,
            pol_round: -1,
            block_hash: block.hash(),
        };
        if let Err(e) = self
            .ledger
            .store()
            .put_proposal(height.0, round_u32(round), &note, &block)
        {
            tracing::error!(error = %e, "storing synced block failed");
            return SyncedValueOutcome::LocalTransientError;
        }
        let value = self.check(height, round, Round::Nil, proposer, &block);
        if value.validity.is_invalid() {
            tracing::error!(%height, "a certified block is invalid here: state diverged");
        }
        SyncedValueOutcome::Verdict(value)
    }
}

/// The loop stopped.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The engine stopped (one of its actors failed).
    #[error("consensus engine stopped")]
    EngineStopped,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::LedgerStoreError),
}
