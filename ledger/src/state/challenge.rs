//! Storage challenges: each epoch, every member of the committee proves that it holds random
//! symbols of its slivers; a member that does not forfeits the epoch's rewards.
//!
//! Rules (the draws and the proof format are [`floe_common::challenge`]'s):
//!
//! 1. **Start.** The block that changes the epoch to `E` (the first block at or after `E`'s
//!    scheduled start) records, after the committee of `E` takes office:
//!    - the **snapshot**: the ids of the blobs that are certified, not invalid and live in `E`
//!      (`max_certified_end_epoch > E`; deleted objects no longer count), ascending. A draw's
//!      `blob_rank` is an index into it, so finding the blob is one array read. Its Merkle
//!      root ([`floe_common::challenge::snapshot_root`]) is in the round and its event, so a
//!      node learns the blob of a rank from any server and checks it;
//!    - the **seed** `BLAKE3("floe/challenge-seed/v1" ‖ block hash ‖ E u32 LE)` of that block
//!      ([`challenge_seed`]);
//!    - `k = challenges_per_node` and the window's end `closes_ms = min(start of E +
//!      challenge_window_ms, start of E+1)` (block time).
//!
//!    Event `ChallengesStarted`. With `k = 0` no round is recorded and every member is paid
//!    as before; epoch 0, which no change started, has no round either.
//! 2. **Proofs.** `SubmitStorageProofs { epoch, first, proofs }` from the account of a
//!    member's protocol key, in a block with time `< closes_ms`: the ledger draws the member's
//!    `k` challenges ([`floe_common::challenge::challenges`] over the seed, the snapshot's
//!    size, the member's shards in `E`'s committee and the shard count) and checks `proofs[i]`
//!    against draw `first + i` and the snapshot's blob of its rank ([`StorageProof::verify`]);
//!    each proof's encoding may not exceed [`StorageProof::max_encoded_len`]. Proofs may come
//!    in several transactions (a transaction holds at most 1 MiB): `first` must be the number
//!    of draws already accepted (`progress`). When the last draw is accepted the member has
//!    *passed* (event `StorageProved`). Refusals, each paying the fee with nothing else kept:
//!    `wrong_epoch`, `no_challenges` (no round in this epoch), `not_committee_member`,
//!    `challenge_window_closed`, `already_proved`, `proof_out_of_order` (`first` is not the
//!    next unproved draw: a replay or a duplicate), `wrong_proof_count` (none, or more than
//!    the draws left), `proof_failed` (with the index and the reason). A refused submission
//!    records nothing, so a member may try again within the window.
//! 3. **Settlement**, at the first block at or after `closes_ms` (or the epoch change, if it
//!    comes first): a member with no draw (no live blob, or no shard) passes; every other
//!    member that did not pass has *failed*. Event `ChallengeResults { epoch, passed, failed }`.
//! 4. **Forfeiture**, at the change from `E`: a failed member's reward `⌊T·wᵢ/n⌋` is not paid
//!    to its pool; it goes to the escrow of the next epoch, like the rounding leftover
//!    (`RewardsPaid.forfeited`). Supply is unchanged, and no member of `E` gains from another's
//!    failure. When a late block pays several epochs at one change, the results of `E` apply
//!    to every epoch it pays.
//!
//! **Seed.** A block hash is deterministic (every validator executes the same block) and is
//! known to nobody before the block is proposed; a commit certificate is not (each validator
//! may hold a different quorum of precommits), so it cannot feed the state. The proposer of the
//! epoch's first block could grind its hash (choosing transactions or the timestamp); that
//! helps only a proposer colluding with a node, and a beacon that no single party can bias
//! (a certificate carried in the next block, or a threshold signature) can replace the hash
//! without changing the rest.
//!
//! **Snapshot cost.** The snapshot holds 32 bytes per live blob (32 MiB per million blobs),
//! rebuilt in one pass over the blob index at each epoch change and stored in 2 MiB chunks.
//! An order-statistics tree over the live blobs would avoid the copy and make rank lookups
//! `O(log n)`, but it must be kept in step with every certification, extension, deletion,
//! invalidation and expiry, and it would have to be versioned to answer ranks *as of the
//! epoch's start*; the copy is simple, exact, and `O(1)` per draw.

use std::collections::{BTreeMap, BTreeSet};

use floe_common::challenge::{Challenge, StorageProof, challenges, snapshot_root};
use floe_common::{BlobId, Digest, EncodingConfig, Epoch, NodeId, codec};

use super::events::{EpochEvent, Event};
use super::objects::ChallengeRound;
use super::overlay::Overlay;
use super::persist::Key;
use super::{BlockContext, State};
use crate::block::BlockHash;
use crate::error::TxError;
use crate::tx::Address;

/// Domain separation of the seed.
const SEED_DOMAIN: &[u8] = b"floe/challenge-seed/v1";

/// The seed of epoch `epoch`'s challenges, from the hash of the block that started it.
pub fn challenge_seed(block_hash: &BlockHash, epoch: Epoch) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(SEED_DOMAIN);
    h.update(&block_hash.0);
    h.update(&epoch.0.to_le_bytes());
    Digest(*h.finalize().as_bytes())
}

impl State {
    /// The current epoch's challenge round, if any.
    pub fn challenge_round(&self) -> Option<&ChallengeRound> {
        self.challenge.as_ref()
    }

    /// The live blobs at the current epoch's start, ascending (rank → blob id).
    pub fn challenge_blobs(&self) -> &[BlobId] {
        &self.challenge_blobs
    }

    /// The last settled round before the current one (its results stay readable after the
    /// next round starts).
    pub fn last_challenge_round(&self) -> Option<&ChallengeRound> {
        self.challenge_last.as_ref()
    }

    /// The draws of `node` in the current round, each with the blob of its rank (empty without
    /// a round, or for a node with nothing to prove).
    pub fn challenge_draws(&self, node: &NodeId) -> Vec<(BlobId, Challenge)> {
        let Some(r) = &self.challenge else {
            return Vec::new();
        };
        challenges(
            &r.seed,
            node,
            r.k,
            r.live_blobs,
            self.shards_of(node),
            self.system.n_shards,
        )
        .into_iter()
        .filter_map(|c| {
            let blob = self
                .challenge_blobs
                .get(usize::try_from(c.blob_rank).ok()?)?;
            Some((*blob, c))
        })
        .collect()
    }

    /// Step 1 of the module docs, for the epoch that just started (its committee in office).
    pub(super) fn start_challenges(&mut self, ctx: &BlockContext) {
        let epoch = self.system.epoch;
        let old_chunks = self.challenge_chunks();
        let k = self.system.params.challenges_per_node;
        if let Some(done) = self.challenge.take().filter(|r| r.settled) {
            self.challenge_last = Some(done);
            self.dirty.insert(Key::ChallengeLast);
        }
        if k == 0 {
            self.challenge = None;
            self.challenge_blobs = Vec::new();
        } else {
            self.challenge_blobs = self
                .blobs
                .iter()
                .filter(|(_, info)| {
                    !info.is_invalid() && info.max_certified_end_epoch.is_some_and(|e| e > epoch)
                })
                .map(|(id, _)| *id)
                .collect();
            let seed = challenge_seed(&ctx.block_hash, epoch);
            let closes_ms = self
                .system
                .epoch_start_ms
                .saturating_add(self.system.params.challenge_window_ms)
                .min(self.system.next_epoch_at_ms());
            let live_blobs = self.challenge_blobs.len() as u64;
            let snapshot_root = snapshot_root(&self.challenge_blobs);
            self.challenge = Some(ChallengeRound {
                epoch,
                seed,
                seed_height: ctx.height,
                k,
                live_blobs,
                snapshot_root,
                closes_ms,
                passed: BTreeSet::new(),
                progress: BTreeMap::new(),
                failed: BTreeSet::new(),
                settled: false,
            });
            tracing::debug!(
                epoch = epoch.0,
                k,
                live_blobs,
                closes_ms,
                "storage challenges drawn"
            );
            self.block_events
                .push(Event::Epoch(EpochEvent::ChallengesStarted {
                    epoch,
                    seed,
                    k,
                    live_blobs,
                    snapshot_root,
                    closes_ms,
                }));
        }
        self.dirty.insert(Key::ChallengeRound);
        for c in 0..old_chunks.max(self.challenge_chunks()) {
            self.dirty.insert(Key::ChallengeBlobs(c));
        }
    }

    /// Step 3 of the module docs, once the window closed at block time `t` or the epoch ends;
    /// a no-op otherwise and when already settled.
    pub(super) fn settle_challenges(&mut self, t: u64) {
        let Some(r) = self.challenge.as_mut() else {
            return;
        };
        if r.settled || (t < r.closes_ms && t < self.system.next_epoch_at_ms()) {
            return;
        }
        for (node, shards) in &self.committee.shards {
            let nothing_to_prove = r.k == 0 || r.live_blobs == 0 || shards.is_empty();
            if nothing_to_prove {
                r.passed.insert(*node);
            } else if !r.passed.contains(node) {
                r.failed.insert(*node);
            }
        }
        r.settled = true;
        let (epoch, passed, failed) = (
            r.epoch,
            r.passed.iter().copied().collect::<Vec<_>>(),
            r.failed.iter().copied().collect::<Vec<_>>(),
        );
        tracing::info!(
            epoch = epoch.0,
            passed = passed.len(),
            failed = failed.len(),
            "storage challenges settled"
        );
        self.block_events
            .push(Event::Epoch(EpochEvent::ChallengeResults {
                epoch,
                passed,
                failed,
            }));
        self.dirty.insert(Key::ChallengeRound);
    }

    /// The members of the ending committee that forfeit its rewards (settled results of the
    /// ending epoch; none without a round).
    pub(super) fn forfeiting(&self) -> BTreeSet<NodeId> {
        match &self.challenge {
            Some(r) if r.settled && r.epoch == self.committee.committee.epoch() => r.failed.clone(),
            _ => BTreeSet::new(),
        }
    }
}

/// `SubmitStorageProofs` (step 2 of the module docs).
pub(super) fn submit_proofs(
    o: &mut Overlay<'_>,
    sender: Address,
    epoch: Epoch,
    first: u16,
    proofs: &[StorageProof],
) -> Result<(), TxError> {
    o.check_epoch(epoch)?;
    let mut round = o
        .challenge_round()
        .filter(|r| r.epoch == epoch)
        .ok_or(TxError::NoChallenges { epoch })?;
    let node = o
        .committee()
        .members()
        .iter()
        .find(|m| Address::of(&m.public_key) == sender)
        .map(|m| m.node_id)
        .ok_or(TxError::NotCommitteeMember)?;
    if round.settled || o.time_ms >= round.closes_ms {
        return Err(TxError::ChallengeWindowClosed {
            epoch,
            closes_ms: round.closes_ms,
        });
    }
    if round.passed.contains(&node) {
        return Err(TxError::AlreadyProved(node));
    }
    let n_shards = o.system.n_shards;
    let draws = challenges(
        &round.seed,
        &node,
        round.k,
        round.live_blobs,
        o.shards_of(&node),
        n_shards,
    );
    let done = round.progress.get(&node).copied().unwrap_or(0);
    if first != done {
        return Err(TxError::ProofOutOfOrder {
            expected: u64::from(done),
            got: u64::from(first),
        });
    }
    let left = draws.len() - usize::from(done).min(draws.len());
    if proofs.len() > left || (proofs.is_empty() && left > 0) {
        return Err(TxError::WrongProofCount {
            expected: left as u64,
            got: proofs.len() as u64,
        });
    }
    let config = EncodingConfig::new(n_shards).map_err(|e| TxError::InvalidField {
        field: "n_shards".into(),
        reason: e.to_string(),
    })?;
    let max = StorageProof::max_encoded_len(&config);
    for (i, (proof, draw)) in proofs.iter().zip(&draws[usize::from(done)..]).enumerate() {
        let failed = |reason: String| TxError::ProofFailed {
            index: (usize::from(done) + i) as u64,
            reason,
        };
        let size = codec::encode(proof).len();
        if size > max {
            return Err(failed(format!("{size} bytes, at most {max}")));
        }
        let blob = o
            .challenge_blob(draw.blob_rank)
            .ok_or_else(|| failed(format!("no blob of rank {}", draw.blob_rank)))?;
        proof
            .verify(&config, &blob, draw)
            .map_err(|e| failed(e.to_string()))?;
    }
    let done = usize::from(done) + proofs.len();
    if done < draws.len() {
        round.progress.insert(node, done as u16);
        o.put_challenge_round(round);
        return Ok(());
    }
    round.progress.remove(&node);
    round.passed.insert(node);
    o.put_challenge_round(round);
    o.events.push(Event::Epoch(EpochEvent::StorageProved {
        epoch,
        node,
        proofs: draws.len() as u16,
    }));
    Ok(())
}
