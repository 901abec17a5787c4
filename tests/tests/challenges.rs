//! Storage challenges on a live chain (one validator, four storage nodes over loopback, short
//! epochs): honest nodes prove every round and are paid by the reward formula; a node that lost
//! slivers and does not recover them fails and forfeits the epoch's rewards while the others
//! are unaffected; and the draws are unknown before the block that seeds them, with proofs for
//! anything but the drawn symbols refused.

use std::collections::BTreeMap;
use std::time::Duration;

use floe_client::blobs::{Persistence, StoreOptions};
use floe_common::challenge::{StorageProof, challenged_sliver, challenges};
use floe_common::encoding::encode_blob;
use floe_common::quilt::QuiltFile;
use floe_common::{BlobId, EncodedBlob, EncodingConfig, Epoch, Frost, NodeId};
use floe_ledger::state::challenge::challenge_seed;
use floe_ledger::{EpochEvent, Event, LedgerClient, NodeReward, TxKind};
use floe_node::ledger_tx::{LedgerTxError, NodeAccount};
use floe_node::{Storage, StorageOptions};
use floe_tests::{ClusterOptions, TestCluster, all_events, data, eventually};

const SHARDS: u16 = 12;

/// The settled results of `epoch`'s round: (passed, failed).
fn results_of(events: &[Event], epoch: Epoch) -> Option<(Vec<NodeId>, Vec<NodeId>)> {
    events.iter().find_map(|e| match e {
        Event::Epoch(EpochEvent::ChallengeResults {
            epoch: e,
            passed,
            failed,
        }) if *e == epoch => Some((passed.clone(), failed.clone())),
        _ => None,
    })
}

/// Snapshot size of `epoch`'s round.
fn live_blobs_of(events: &[Event], epoch: Epoch) -> Option<u64> {
    events.iter().find_map(|e| match e {
        Event::Epoch(EpochEvent::ChallengesStarted {
            epoch: e,
            live_blobs,
            ..
        }) if *e == epoch => Some(*live_blobs),
        _ => None,
    })
}

/// The `RewardsPaid` of `epoch`: (total, per node, forfeited).
fn rewards_of(events: &[Event], epoch: Epoch) -> Option<(Frost, Vec<NodeReward>, Frost)> {
    events.iter().find_map(|e| match e {
        Event::Epoch(EpochEvent::RewardsPaid {
            epoch: e,
            total,
            nodes,
            forfeited,
            ..
        }) if *e == epoch => Some((*total, nodes.clone(), *forfeited)),
        _ => None,
    })
}

/// Nodes that proved in `epoch` (`StorageProved`).
fn provers_of(events: &[Event], epoch: Epoch) -> Vec<NodeId> {
    let mut v: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Epoch(EpochEvent::StorageProved { epoch: e, node, .. }) if *e == epoch => {
                Some(*node)
            }
            _ => None,
        })
        .collect();
    v.sort();
    v
}

/// Shard weight per node of the current committee.
async fn weights(ledger: &LedgerClient) -> BTreeMap<NodeId, u64> {
    ledger
        .committee()
        .await
        .expect("committee")
        .members
        .into_iter()
        .map(|m| (m.node_id, u64::from(m.weight)))
        .collect()
}

/// Stores a few blobs of every size class, a tiny one and a quilt included; returns their ids
/// and bytes.
async fn store_blobs(cluster: &TestCluster, count: usize) -> Vec<(BlobId, Vec<u8>)> {
    let client = cluster.client().await;
    let opts = StoreOptions {
        epochs: 50,
        persistence: Persistence::Permanent,
        ..StoreOptions::default()
    };
    let mut out = Vec::new();
    for i in 0..count {
        let bytes = data([10, 3_000, 100_000, 700_000][i % 4] + i, i as u64);
        let id = client.store(&bytes, &opts).await.expect("store").blob_id();
        out.push((id, bytes));
    }
    let files = (0..5)
        .map(|i| QuiltFile {
            identifier: format!("file-{i}.txt"),
            data: data(2_000 + i, 100 + i as u64),
            ..QuiltFile::default()
        })
        .collect();
    let quilt = client.store_quilt(files, &opts).await.expect("quilt");
    out.push((quilt.store.blob_id(), Vec::new()));
    out
}

async fn epoch(ledger: &LedgerClient) -> Epoch {
    ledger.system().await.expect("system").epoch
}

/// Waits for the settled results of `epoch` and the rewards paid for it.
async fn settled(ledger: &LedgerClient, epoch: Epoch) -> Vec<Event> {
    eventually(
        Duration::from_secs(60),
        &format!("epoch {epoch} settled and paid"),
        || async {
            let events = all_events(ledger).await;
            results_of(&events, epoch).is_some() && rewards_of(&events, epoch).is_some()
        },
    )
    .await;
    all_events(ledger).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn challenges_honest_nodes_pass() {
    let cluster = TestCluster::start(ClusterOptions {
        epoch_ms: 3_000,
        ..ClusterOptions::default()
    })
    .await;
    let ledger = cluster.ledger();
    let stored = store_blobs(&cluster, 4).await;
    let weights = weights(&ledger).await;
    let all: Vec<NodeId> = weights.keys().copied().collect();
    // Rounds drawn after the stores: their snapshots hold every blob.
    let first = Epoch(epoch(&ledger).await.0 + 1);
    for e in first.0..first.0 + 3 {
        let e = Epoch(e);
        let events = settled(&ledger, e).await;
        assert_eq!(live_blobs_of(&events, e), Some(stored.len() as u64));
        let (passed, failed) = results_of(&events, e).unwrap();
        assert_eq!((passed, failed), (all.clone(), vec![]), "epoch {e}");
        // Everyone proved (each holds shards and there are live blobs): nobody passed by
        // having nothing to prove.
        assert_eq!(provers_of(&events, e), all, "epoch {e}");
        // Paid by the formula, nothing forfeited.
        let (total, nodes, forfeited) = rewards_of(&events, e).unwrap();
        assert_eq!(forfeited, Frost::ZERO);
        assert_eq!(nodes.len(), all.len());
        for r in &nodes {
            assert_eq!(
                r.reward.0,
                total.0 * weights[&r.node] / u64::from(SHARDS),
                "reward of {} in epoch {e}",
                r.node
            );
        }
    }
    // The nodes' metrics count the rounds and the proofs.
    for node in &cluster.nodes {
        let m = node.core().expect("running").metrics();
        // The node's view trails the ledger by a block.
        eventually(Duration::from_secs(10), "the rounds counted", || async {
            m.challenge_rounds_passed.get() >= 3
        })
        .await;
        assert_eq!(m.challenge_rounds_failed.get(), 0);
        assert!(m.challenge_proofs_submitted.get() >= 30);
        let text = reqwest::get(format!("http://{}/metrics", node.http_addr().unwrap()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            text.contains("floe_node_challenge_rounds_passed_total")
                && text.contains("floe_node_challenge_epoch "),
            "{text}"
        );
    }
    cluster.shutdown().await;
}

/// Deletes stopped node `i`'s slivers of `blobs` (all of them, both axes).
fn lose_slivers(cluster: &TestCluster, i: usize, blobs: &[(BlobId, Vec<u8>)]) {
    let config = &cluster.nodes[i].config;
    let storage = Storage::open(
        &config.data_dir.join("db"),
        EncodingConfig::new(SHARDS).unwrap(),
        StorageOptions::default(),
    )
    .expect("open the stopped node's store");
    let before = storage.stats().slivers;
    let mut deleted = 0;
    for (id, _) in blobs {
        deleted += storage.delete_slivers_except(id, &[]).unwrap().0;
    }
    // 3 of the 10 blobs: 30% of the node's slivers (every blob has one pair per shard).
    assert!(
        deleted * 10 >= before * 3 - before / 10,
        "deleted {deleted} of {before} slivers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn challenges_lazy_node_forfeits() {
    let mut cluster = TestCluster::start(ClusterOptions {
        epoch_ms: 6_000,
        challenges_per_node: 20,
        ..ClusterOptions::default()
    })
    .await;
    let ledger = cluster.ledger();
    let stored = store_blobs(&cluster, 9).await;
    let weights = weights(&ledger).await;
    let lazy = cluster.nodes[3].node_id();

    // The fault: node 4 loses its slivers of 3 of the 10 blobs (30%) and stops recovering.
    // Node 3 loses the same but recovers: a node may rebuild what it lost inside the window
    // (its completeness check at the epoch change and its prover both queue what it lacks).
    for (i, recovers) in [(3, false), (2, true)] {
        cluster.stop_node(i).await;
        lose_slivers(&cluster, i, &stored[..3]);
        cluster.nodes[i].config.recovery.enabled = recovers;
        cluster.start_node(i).await;
    }

    // A round that starts after the lazy node is back: each of its 20 draws falls on a lost
    // blob with probability 3/10, so it passes with probability 0.7^20 < 0.1%.
    let e = Epoch(epoch(&ledger).await.0 + 1);
    let events = settled(&ledger, e).await;
    let (passed, failed) = results_of(&events, e).unwrap();
    assert_eq!(failed, vec![lazy], "epoch {e}");
    let honest: Vec<NodeId> = weights.keys().copied().filter(|n| *n != lazy).collect();
    assert_eq!(passed, honest);
    assert_eq!(provers_of(&events, e), honest);
    // The lazy node's reward is forfeited (carried to the next epoch); the others are paid by
    // the formula, as if nothing happened.
    let (total, nodes, forfeited) = rewards_of(&events, e).unwrap();
    assert_eq!(forfeited.0, total.0 * weights[&lazy] / u64::from(SHARDS));
    assert!(nodes.iter().all(|r| r.node != lazy));
    assert_eq!(nodes.len(), honest.len());
    for r in &nodes {
        assert_eq!(r.reward.0, total.0 * weights[&r.node] / u64::from(SHARDS));
    }
    // The node that recovered was challenged on what it lost, rebuilt it and proved.
    let m = cluster.nodes[2].core().unwrap().metrics();
    assert!(m.challenge_prove_failures.get() > 0 && m.slivers_recovered.get() > 0);
    // The lazy one tried: the missing symbols are counted, and so is the failed round.
    let m = cluster.nodes[3].core().unwrap().metrics();
    assert!(m.challenge_prove_failures.get() > 0);
    eventually(
        Duration::from_secs(10),
        "the failed round counted",
        || async { m.challenge_rounds_failed.get() >= 1 },
    )
    .await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn challenges_cannot_precompute() {
    let mut cluster = TestCluster::start(ClusterOptions {
        epoch_ms: 6_000,
        ..ClusterOptions::default()
    })
    .await;
    let ledger = cluster.ledger();
    let client = cluster.client().await;
    let opts = StoreOptions {
        epochs: 50,
        persistence: Persistence::Permanent,
        ..StoreOptions::default()
    };
    let config = EncodingConfig::new(SHARDS).unwrap();
    let mut blobs: BTreeMap<BlobId, EncodedBlob> = BTreeMap::new();
    for i in 0..3 {
        let bytes = data(20_000 + i * 1000, 7 + i as u64);
        let id = client.store(&bytes, &opts).await.expect("store").blob_id();
        blobs.insert(id, encode_blob(&config, &bytes).unwrap());
    }
    // Node 4 is stopped: the test proves for it, from the blobs' bytes.
    cluster.stop_node(3).await;
    let key = cluster.nodes[3].key.clone();
    let node = cluster.nodes[3].node_id();

    // A fresh round over the three blobs, early in its epoch.
    let stored_in = epoch(&ledger).await;
    eventually(
        Duration::from_secs(30),
        "a round after the stores",
        || async {
            let c = ledger.challenges().await.expect("challenges");
            let sys = ledger.system().await.expect("system");
            c.current
                .is_some_and(|r| r.epoch > stored_in && r.live_blobs == 3)
                && sys.tip_timestamp_ms < sys.epoch_start_ms + 2_000
        },
    )
    .await;
    let round = ledger.challenges().await.unwrap().current.unwrap();
    let previous_seed = ledger.challenges().await.unwrap().last.map(|r| r.seed);

    // The seed is the hash of the epoch's first block, which did not exist before the epoch:
    // the block before it is older than the epoch's start.
    let seed_block = ledger.block(round.seed_height).await.unwrap().unwrap();
    let before = ledger.block(round.seed_height - 1).await.unwrap().unwrap();
    let sys = ledger.system().await.unwrap();
    assert_eq!(
        round.seed,
        challenge_seed(&seed_block.block.hash(), round.epoch)
    );
    assert!(seed_block.block.header.timestamp_ms >= sys.epoch_start_ms);
    assert!(before.block.header.timestamp_ms < sys.epoch_start_ms);
    assert_ne!(
        previous_seed,
        Some(round.seed),
        "every round has its own seed"
    );

    // The node's draws, and the blob of each rank, checked against the round's root.
    let shards = ledger
        .committee()
        .await
        .unwrap()
        .members
        .into_iter()
        .find(|m| m.node_id == node)
        .unwrap()
        .shards;
    let draws = challenges(
        &round.seed,
        &node,
        round.k,
        round.live_blobs,
        &shards,
        SHARDS,
    );
    assert_eq!(draws.len(), usize::from(round.k));
    let ranks: Vec<u64> = draws.iter().map(|d| d.blob_rank).collect();
    let answer = ledger.challenge_blobs(&ranks).await.unwrap();
    assert_eq!(answer.snapshot_root, round.snapshot_root);
    for e in &answer.blobs {
        e.verify(&round.snapshot_root, round.live_blobs).unwrap();
    }
    let beyond = ledger
        .challenge_blobs(&[round.live_blobs])
        .await
        .unwrap_err();
    assert_eq!(beyond.code(), Some("unknown_rank"), "{beyond}");
    let prove = |blob_id: &BlobId, d: &floe_common::challenge::Challenge| {
        let enc = &blobs[blob_id];
        let (pair, _) = challenged_sliver(d, blob_id, SHARDS);
        let sliver = enc.pairs[pair.as_usize()].sliver(d.axis);
        StorageProof::prove(&config, &enc.metadata, pair, sliver, d.symbol).unwrap()
    };
    let honest: Vec<StorageProof> = draws
        .iter()
        .zip(&answer.blobs)
        .map(|(d, e)| prove(&e.blob_id, d))
        .collect();

    let chain = ledger.genesis().await.unwrap();
    let account = NodeAccount::new(ledger.clone(), chain.chain_id, chain.params.min_fee);
    let sender = floe_ledger::Address::of(&key.public());
    let submit = |proofs: Vec<StorageProof>| TxKind::SubmitStorageProofs {
        epoch: round.epoch,
        first: 0,
        proofs,
    };
    let refused = |r: Result<u64, LedgerTxError>| match r {
        Err(LedgerTxError::Rejected(e)) => e.code(),
        other => panic!("expected a refusal, got {other:?}"),
    };
    // Another symbol of the drawn sliver.
    let mut other_symbol = draws[0];
    other_symbol.symbol = (other_symbol.symbol + 1) % SHARDS;
    let mut proofs = honest.clone();
    proofs[0] = prove(&answer.blobs[0].blob_id, &other_symbol);
    let balance = ledger.account(&sender).await.unwrap().balance;
    assert_eq!(
        refused(account.submit(&key, submit(proofs)).await),
        "proof_failed"
    );
    assert_eq!(
        ledger.account(&sender).await.unwrap().balance.0,
        balance.0 - chain.params.min_fee.0,
        "a refusal costs the fee and nothing else"
    );
    // The same draw answered from another blob.
    let other_blob = *blobs
        .keys()
        .find(|b| **b != answer.blobs[0].blob_id)
        .unwrap();
    let mut proofs = honest.clone();
    proofs[0] = prove(&other_blob, &draws[0]);
    assert_eq!(
        refused(account.submit(&key, submit(proofs)).await),
        "proof_failed"
    );
    // The proofs of the draws, in order: accepted once.
    account.submit(&key, submit(honest.clone())).await.unwrap();
    assert_eq!(
        refused(account.submit(&key, submit(honest)).await),
        "already_proved"
    );
    let events = settled(&ledger, round.epoch).await;
    let (passed, _) = results_of(&events, round.epoch).unwrap();
    assert!(passed.contains(&node));
    assert!(provers_of(&events, round.epoch).contains(&node));
    cluster.shutdown().await;
}
