//! Storage challenges, the node's side: proving the symbols the ledger draws, from the node's
//! own store ([`floe_common::challenge`] has the draws and the proof format; the ledger's
//! `state::challenge` module the round, the window and the forfeiture).
//!
//! Protocol, as the [`Prover`] runs it:
//!
//! 1. **Round.** The follower stores the round of the latest verified `ChallengesStarted`
//!    event ([`ChallengeRecord`]: seed, `k`, snapshot size and root, window). Nothing of it
//!    comes from an unverified answer.
//! 2. **Draws.** The node computes its own draws ([`challenges`]) from the round and its shards
//!    in the epoch's committee (from the verified `EpochChanged` event).
//! 3. **Blobs.** For the drawn ranks it asks a ledger server for the snapshot's blob ids, each
//!    with a Merkle path ([`RankedBlob`]), and checks them against the round's
//!    `snapshot_root`. A server that answers wrongly is left for the next one.
//! 4. **Proofs.** Each proof is made from what is stored and verified: the blob's metadata
//!    (checked against its id when read back) and the challenged sliver, whose expanded hash
//!    must equal the one in the metadata ([`NodeCore::prove_challenge`]). A sliver the node
//!    lacks is queued for recovery (unless recovery is off) and the round is tried again after a
//!    backoff, until the window closes.
//! 5. **Submission.** The proofs go to the ledger in draw order, as few transactions as fit
//!    [`MAX_PROOFS_TX_BYTES`] each (`first` = draws already accepted). `already_proved` means
//!    done; `proof_out_of_order` (a transaction that committed while its answer was lost)
//!    resumes from the ledger's count; `challenge_window_closed` ends the round.
//!
//! Metrics: proofs accepted, symbols that could not be proved, and the settled results of each
//! round (`floe_node_challenge_rounds_{passed,failed}_total`).

use std::sync::Arc;
use std::time::Duration;

use floe_common::challenge::{Challenge, RankedBlob, StorageProof, challenged_sliver, challenges};
use floe_common::{BlobId, Epoch, ShardIndex, SliverAxis, codec};
use floe_ledger_types::{LedgerClient, MAX_PROOFS_TX_BYTES, TxError, TxKind};
use floe_runtime::Backoff;
use tokio_util::sync::CancellationToken;

use crate::core::NodeCore;
use crate::ledger_tx::{LedgerTxError, NodeAccount};
use crate::protocol::{NodeError, NodeResult};
use crate::storage::ChallengeRecord;

/// Room left in a proofs transaction for everything but the proofs.
const TX_OVERHEAD: usize = 4096;
/// Retries of a round that could not be proved yet: from 1 s, doubling, up to 30 s.
const ROUND_RETRY: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
/// How often the prover looks at the round when no block arrives.
const RECHECK: Duration = Duration::from_secs(2);

impl NodeCore {
    /// Proves `challenge` for `blob_id` from this node's store. CPU-bound (one sliver
    /// expansion): call it off the async threads.
    pub fn prove_challenge(
        &self,
        blob_id: &BlobId,
        challenge: &Challenge,
    ) -> NodeResult<StorageProof> {
        let n_shards = self.config.n_shards();
        let (pair, _) = challenged_sliver(challenge, blob_id, n_shards);
        let metadata = self.verified_metadata(blob_id)?;
        let sliver = self
            .storage
            .sliver(blob_id, pair, challenge.axis)?
            .ok_or(NodeError::NotFound)?;
        StorageProof::prove(&self.config, &metadata, pair, &sliver, challenge.symbol).map_err(
            |e| {
                let axis: SliverAxis = challenge.axis;
                tracing::warn!(%blob_id, %pair, %axis, error = %e, "cannot prove a challenge from the stored sliver");
                NodeError::Internal(format!("stored sliver of pair {pair}: {e}"))
            },
        )
    }
}

/// Why a round could not be proved yet (it is retried until the window closes).
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// No ledger server answered the snapshot's blobs correctly.
    #[error("snapshot blobs: {0}")]
    Snapshot(String),
    /// A challenged symbol could not be proved from the store.
    #[error("blob {blob_id}: {error}")]
    Symbol {
        /// The challenged blob.
        blob_id: BlobId,
        /// Why.
        error: NodeError,
    },
    /// The ledger did not take the proofs.
    #[error(transparent)]
    Submit(#[from] LedgerTxError),
    /// A proving task failed.
    #[error("proving task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// How a round ended for this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoundEnd {
    /// The ledger accepted every proof (or there was nothing to prove).
    Proved,
    /// The window closed first.
    Closed,
}

/// Answers the storage challenges of each round (see the module docs).
pub struct Prover {
    core: Arc<NodeCore>,
    ledger: LedgerClient,
    account: NodeAccount,
    recover: bool,
}

impl Prover {
    /// A prover for `core`, reading snapshots through `ledger` and submitting through
    /// `account`; `recover` queues a challenged sliver the node lacks for recovery.
    pub fn new(
        core: Arc<NodeCore>,
        ledger: LedgerClient,
        account: NodeAccount,
        recover: bool,
    ) -> Self {
        Self {
            core,
            ledger,
            account,
            recover,
        }
    }

    /// Proves each round until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) {
        let mut tip = self.core.tip_watch();
        // The epoch whose round is done (proved, closed or nothing to prove), and the last
        // round whose results were counted.
        let mut done: Option<Epoch> = None;
        let mut counted: Option<Epoch> = None;
        let mut retry = ROUND_RETRY.delays();
        let mut next_try = tokio::time::Instant::now();
        loop {
            let record = match self.core.storage().challenge_record() {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the challenge round");
                    None
                }
            };
            if let Some(r) = &record {
                self.count_results(r, &mut counted);
                let m = self.core.metrics();
                m.set_challenge_round(r.epoch, r.proved.contains(&self.core.node_id()));
            }
            let pending = record.filter(|r| {
                done != Some(r.epoch)
                    && r.epoch == self.core.epoch()
                    && !r.is_settled()
                    && !r.proved.contains(&self.core.node_id())
            });
            if let Some(round) = pending.filter(|_| tokio::time::Instant::now() >= next_try) {
                match self.prove_round(&round).await {
                    Ok(end) => {
                        tracing::info!(epoch = %round.epoch, ?end, "storage challenge round done");
                        done = Some(round.epoch);
                        retry = ROUND_RETRY.delays();
                    }
                    Err(e) => {
                        let wait = retry.next_delay().unwrap_or(RECHECK);
                        tracing::warn!(epoch = %round.epoch, error = %e, retry_in_ms = wait.as_millis() as u64, "storage challenges not proved yet");
                        next_try = tokio::time::Instant::now() + wait;
                    }
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = tip.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(RECHECK) => {}
            }
        }
    }

    /// Counts a settled round's result for this node once.
    fn count_results(&self, r: &ChallengeRecord, counted: &mut Option<Epoch>) {
        let Some(s) = &r.settled else {
            return;
        };
        if *counted == Some(s.epoch) {
            return;
        }
        *counted = Some(s.epoch);
        let (passed, failed) = (&s.passed, &s.failed);
        let me = self.core.node_id();
        let m = self.core.metrics();
        if passed.contains(&me) {
            m.challenge_rounds_passed.inc();
        } else if failed.contains(&me) {
            m.challenge_rounds_failed.inc();
            tracing::warn!(epoch = %s.epoch, "this node failed its storage challenges: the epoch's rewards are forfeited");
        }
    }

    /// This node's shards in the round's committee: from the verified epoch change.
    fn shards(&self, epoch: Epoch) -> Vec<ShardIndex> {
        let me = self.core.node_id();
        match self.core.storage().epoch_record() {
            Ok(Some(rec)) if rec.epoch == epoch => rec
                .members
                .iter()
                .find(|m| m.node == me)
                .map(|m| m.shards.clone())
                .unwrap_or_default(),
            _ => self.core.shards(),
        }
    }

    async fn prove_round(&self, round: &ChallengeRecord) -> Result<RoundEnd, ProveError> {
        let core = &self.core;
        let draws = challenges(
            &round.seed,
            &core.node_id(),
            round.k,
            round.live_blobs,
            &self.shards(round.epoch),
            core.config().n_shards(),
        );
        if draws.is_empty() {
            return Ok(RoundEnd::Proved);
        }
        let blobs = self.snapshot_blobs(round, &draws).await?;
        // Every draw is tried, so that one attempt queues every lost sliver for recovery.
        let mut proofs = Vec::with_capacity(draws.len());
        let mut failure = None;
        for (draw, blob_id) in draws.iter().zip(blobs) {
            let (c, d) = (core.clone(), *draw);
            match tokio::task::spawn_blocking(move || c.prove_challenge(&blob_id, &d)).await? {
                Ok(p) => proofs.push(p),
                Err(error) => {
                    core.metrics().challenge_prove_failures.inc();
                    if self.recover && matches!(error, NodeError::NotFound) {
                        // The sync loop rebuilds the node's slivers of a queued blob.
                        if let Err(e) = core.storage().add_pending(&[blob_id]) {
                            tracing::warn!(%blob_id, error = %e, "cannot queue a challenged blob for recovery");
                        }
                    }
                    failure.get_or_insert(ProveError::Symbol { blob_id, error });
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        self.submit(round, proofs).await
    }

    /// The blob of each draw's rank, checked against the round's snapshot root; a server that
    /// answers wrongly is left for the next one (every configured server is tried once).
    async fn snapshot_blobs(
        &self,
        round: &ChallengeRecord,
        draws: &[Challenge],
    ) -> Result<Vec<BlobId>, ProveError> {
        let ranks: Vec<u64> = draws.iter().map(|d| d.blob_rank).collect();
        let mut last = String::new();
        for _ in 0..self.ledger.urls().len().max(1) {
            match self.ledger.challenge_blobs(&ranks).await {
                Ok(r) if r.epoch != round.epoch => {
                    last = format!("the server is at epoch {}'s round", r.epoch);
                    // Behind or ahead: another server may be at the round's epoch.
                    self.ledger.fail_over();
                }
                Ok(r) => match check_ranked(round, &ranks, &r.blobs) {
                    Ok(ids) => return Ok(ids),
                    Err(e) => {
                        tracing::warn!(server = ?self.ledger.current_url(), error = %e, "a ledger server answered wrong challenge blobs; leaving it");
                        last = e;
                        self.ledger.fail_over();
                    }
                },
                Err(e) => {
                    last = e.to_string();
                    self.ledger.fail_over();
                }
            }
        }
        Err(ProveError::Snapshot(last))
    }

    /// Submits `proofs` in draw order, in as few transactions as fit.
    async fn submit(
        &self,
        round: &ChallengeRecord,
        proofs: Vec<StorageProof>,
    ) -> Result<RoundEnd, ProveError> {
        let mut first = 0usize;
        while first < proofs.len() {
            let end = batch_end(&proofs, first);
            let kind = TxKind::SubmitStorageProofs {
                epoch: round.epoch,
                first: first as u16,
                proofs: proofs[first..end].to_vec(),
            };
            match self.account.submit(self.core.key(), kind).await {
                Ok(_) => {
                    self.core
                        .metrics()
                        .challenge_proofs_submitted
                        .inc_by((end - first) as u64);
                    first = end;
                }
                Err(LedgerTxError::Rejected(TxError::AlreadyProved(_))) => {
                    return Ok(RoundEnd::Proved);
                }
                Err(LedgerTxError::Rejected(TxError::ProofOutOfOrder { expected, .. }))
                    if (expected as usize) < proofs.len() && expected as usize != first =>
                {
                    first = expected as usize;
                }
                Err(LedgerTxError::Rejected(TxError::ChallengeWindowClosed { .. })) => {
                    return Ok(RoundEnd::Closed);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(RoundEnd::Proved)
    }
}

/// Checks the served entries: one per rank asked, in order, each on the round's snapshot.
fn check_ranked(
    round: &ChallengeRecord,
    ranks: &[u64],
    entries: &[RankedBlob],
) -> Result<Vec<BlobId>, String> {
    if entries.len() != ranks.len() {
        return Err(format!(
            "{} entries for {} ranks",
            entries.len(),
            ranks.len()
        ));
    }
    ranks
        .iter()
        .zip(entries)
        .map(|(rank, e)| {
            if e.rank != *rank {
                return Err(format!("rank {} answered for rank {rank}", e.rank));
            }
            e.verify(&round.snapshot_root, round.live_blobs)
                .map_err(|err| format!("blob {} at rank {rank}: {err}", e.blob_id))?;
            Ok(e.blob_id)
        })
        .collect()
}

/// The end of the batch of proofs starting at `first` that fits one transaction (at least one
/// proof: a single proof always fits, [`StorageProof::max_encoded_len`] is far below the cap).
fn batch_end(proofs: &[StorageProof], first: usize) -> usize {
    let mut bytes = TX_OVERHEAD;
    let mut end = first;
    while end < proofs.len() {
        bytes += codec::encode(&proofs[end]).len();
        if bytes > MAX_PROOFS_TX_BYTES && end > first {
            break;
        }
        end += 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use floe_common::challenge::{snapshot_root, snapshot_tree};
    use floe_common::{Digest, EncodingConfig, SliverPairIndex};

    use super::*;

    #[test]
    fn batches_fit_a_transaction_and_keep_draw_order() {
        let config = EncodingConfig::new(10).unwrap();
        let enc = floe_common::encoding::encode_blob(&config, &[7; 2000]).unwrap();
        let mut proof = StorageProof::prove(
            &config,
            &enc.metadata,
            SliverPairIndex(0),
            &enc.pairs[0].primary,
            0,
        )
        .unwrap();
        // Small proofs: all in one transaction.
        let small = vec![proof.clone(); 20];
        assert_eq!(batch_end(&small, 0), 20);
        // 60 KB symbols: 16 per megabyte, so 40 take three transactions.
        proof.data = vec![1; 60_000];
        let big = vec![proof; 40];
        let (mut first, mut cuts) = (0, Vec::new());
        while first < big.len() {
            let end = batch_end(&big, first);
            let bytes: usize = big[first..end].iter().map(|p| codec::encode(p).len()).sum();
            assert!(bytes + TX_OVERHEAD <= MAX_PROOFS_TX_BYTES, "{bytes}");
            cuts.push(end);
            first = end;
        }
        assert_eq!(cuts.len(), 3, "{cuts:?}");
        assert_eq!(*cuts.last().unwrap(), 40);
    }

    #[test]
    fn adv_wrong_snapshot_answers_are_refused() {
        let blobs: Vec<BlobId> = (0..5u8).map(|i| BlobId([i; 32])).collect();
        let tree = snapshot_tree(&blobs);
        let round = ChallengeRecord {
            epoch: Epoch(3),
            seed: Digest([1; 32]),
            k: 2,
            live_blobs: 5,
            snapshot_root: snapshot_root(&blobs),
            closes_ms: 0,
            proved: Vec::new(),
            settled: None,
        };
        let entry = |rank| RankedBlob::from_tree(&tree, &blobs, rank).unwrap();
        assert_eq!(
            check_ranked(&round, &[1, 4], &[entry(1), entry(4)]).unwrap(),
            vec![blobs[1], blobs[4]]
        );
        // Another blob at the rank (a server steering the node to a blob it lost).
        let mut swapped = entry(1);
        swapped.blob_id = blobs[2];
        assert!(check_ranked(&round, &[1], &[swapped]).is_err());
        // The right entry for another rank, too few entries.
        assert!(check_ranked(&round, &[1], &[entry(2)]).is_err());
        assert!(check_ranked(&round, &[1, 4], &[entry(1)]).is_err());
        // A snapshot of another size (the path no longer fits).
        let other = ChallengeRecord {
            live_blobs: 9,
            ..round
        };
        assert!(check_ranked(&other, &[1], &[entry(1)]).is_err());
    }
}
