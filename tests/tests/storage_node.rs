//! Storage nodes against a real ledger validator, over real sockets: the sliver protocols,
//! confirmations, recovery of a node that was down, Byzantine helpers, inconsistent writers and
//! garbage collection. Scenario names give the fault model: `n4` = 4 nodes (12 shards, `f` = 3
//! shards), `f1` = one node faulty.

use std::collections::HashSet;
use std::time::Duration;

use floe_client::blobs::{Persistence, ReadError, StoreOptions, StoreOutcome};
use floe_common::encoding::faulty::inconsistent_blob;
use floe_common::{
    BlobPersistence, ConsistencyCheck, EncodingConfig, Frost, SliverAxis, SliverPairIndex,
    encode_blob,
};
use floe_ledger::{Address, SignedTransaction, Transaction, TxKind};
use floe_node_protocol::committee::CommitteeView;
use floe_node_protocol::p2p::{CallError, P2p, Request};
use floe_node_protocol::protocol::{self, ConfirmationRequest, NodeError, PutSliverRequest};
use floe_tests::{
    ClusterOptions, TestCluster, data, eventually, faults, holds_every_sliver, wait_for,
};
use tokio_util::sync::CancellationToken;

fn opts() -> StoreOptions {
    StoreOptions {
        epochs: 3,
        ..StoreOptions::default()
    }
}

async fn committee(c: &TestCluster) -> CommitteeView {
    CommitteeView::from_response(&c.ledger().committee().await.unwrap()).unwrap()
}

/// A bare protocol client (for requests the SDK never makes on its own).
async fn raw_p2p(config: &EncodingConfig) -> (P2p, CancellationToken) {
    let cancel = CancellationToken::new();
    let key = floe_common::KeyPair::generate(&mut rand::rngs::OsRng);
    let (p2p, _, _) = P2p::start(&key, &protocol::limits(config), None, cancel.clone())
        .await
        .unwrap();
    (p2p, cancel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_store_read_round_trip() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let client = cluster.client().await;
    for (len, seed) in [(0usize, 1u64), (1, 2), (100_000, 3), (1 << 20, 4)] {
        let bytes = data(len, seed);
        let stored = client.store(&bytes, &opts()).await.expect("store");
        let StoreOutcome::NewlyCreated {
            blob_id,
            confirmed_shards,
            ..
        } = stored
        else {
            panic!("expected a new blob, got {stored:?}");
        };
        assert!(confirmed_shards >= 9, "quorum of 12 shards is 9");
        for check in [ConsistencyCheck::Default, ConsistencyCheck::Strict] {
            let read = client.read(blob_id, check).await.expect("read");
            assert_eq!(read.data, bytes, "{len} bytes read back");
        }
        // Storing the same bytes again reuses the certified blob and pays nothing.
        let again = client.store(&bytes, &opts()).await.unwrap();
        assert!(matches!(again, StoreOutcome::AlreadyCertified { .. }));
    }
    // Unknown blob ids are a typed "not found".
    let unknown = floe_common::BlobId([9; 32]);
    assert!(matches!(
        client.read(unknown, ConsistencyCheck::Default).await,
        Err(ReadError::NotFound(_))
    ));
    // Every confirmation was signed after an fsync of the write-ahead log (the nodes write
    // without per-write syncs here); one fsync serves a whole blob's slivers.
    for node in &cluster.nodes {
        let core = node.core().expect("running");
        let (syncs, slivers) = (core.storage().wal_syncs(), core.storage().stats().slivers);
        assert!(
            (1..slivers).contains(&syncs),
            "{}: {syncs} fsyncs for {slivers} slivers",
            node.config.name
        );
    }
    cluster.shutdown().await;
}

/// A node signs a confirmation only when every sliver of every shard it holds for the blob is
/// stored, and refuses writes it must not accept, with typed errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_confirmation_needs_every_sliver() {
    let cluster = TestCluster::start(ClusterOptions {
        grace_ms: 600_000, // the skipped node must not recover on its own here
        ..ClusterOptions::default()
    })
    .await;
    let client = cluster.client().await;
    let committee = committee(&cluster).await;
    let config = *committee.encoding();
    let skipped = cluster.nodes[0].node_id();
    let bytes = data(50_000, 11);
    let outcome = client
        .store(
            &bytes,
            &StoreOptions {
                skip_nodes: HashSet::from([skipped]),
                ..opts()
            },
        )
        .await
        .expect("quorum without node-1");
    let blob_id = outcome.blob_id();
    let enc = encode_blob(&config, &bytes).unwrap();
    let member = committee.member(&skipped).unwrap().clone();
    let (p2p, _stop) = raw_p2p(&config).await;
    let call = |client: &P2p, r: Request| {
        let (peer, addrs) = (member.peer_id, member.addrs.clone());
        let client = client.clone();
        async move { client.call(peer, addrs, r).await }
    };
    let confirm = move || ConfirmationRequest {
        blob_id,
        persistence: BlobPersistence::Permanent,
        wait_ms: 0,
    };
    let refused = p2p
        .confirmation(member.peer_id, member.addrs.clone(), confirm())
        .await;
    let pairs = committee.pairs_on(&blob_id, &member.shards);
    assert_eq!(
        refused,
        Err(CallError::Node(NodeError::NotStored {
            blob_id,
            missing: 2 * pairs.len() as u32
        }))
    );
    // Slivers before metadata are refused.
    let put = |pair: SliverPairIndex, axis: SliverAxis| {
        Request::PutSliver(PutSliverRequest {
            blob_id,
            pair,
            sliver: enc.pairs[pair.as_usize()].sliver(axis).clone().into(),
        })
    };
    let r = call(&p2p, put(pairs[0], SliverAxis::Primary))
        .await
        .unwrap();
    assert_eq!(r.error(), Some(&NodeError::MetadataMissing(blob_id)));
    p2p.put_metadata(
        member.peer_id,
        member.addrs.clone(),
        enc.metadata.metadata().clone(),
    )
    .await
    .unwrap();
    // A pair on another node's shard is refused.
    let foreign = (0..config.n_shards())
        .map(SliverPairIndex)
        .find(|p| !pairs.contains(p))
        .unwrap();
    let r = call(&p2p, put(foreign, SliverAxis::Primary)).await.unwrap();
    assert!(matches!(r.error(), Some(NodeError::ShardNotHeld { .. })));
    // A corrupted sliver is refused and not stored.
    let mut bad = enc.pairs[pairs[0].as_usize()].primary.clone();
    bad.data[0] ^= 1;
    let r = p2p
        .put_sliver(
            member.peer_id,
            member.addrs.clone(),
            PutSliverRequest {
                blob_id,
                pair: pairs[0],
                sliver: bad.into(),
            },
        )
        .await;
    assert!(matches!(
        r,
        Err(CallError::Node(NodeError::BadSliver { .. }))
    ));
    // All but one sliver: still refused, naming what is missing.
    let mut all: Vec<_> = pairs
        .iter()
        .flat_map(|p| [(*p, SliverAxis::Primary), (*p, SliverAxis::Secondary)])
        .collect();
    let last = all.pop().unwrap();
    for (pair, axis) in all {
        let r = call(&p2p, put(pair, axis)).await.unwrap();
        assert!(r.error().is_none(), "{r:?}");
    }
    let refused = p2p
        .confirmation(member.peer_id, member.addrs.clone(), confirm())
        .await;
    assert_eq!(
        refused,
        Err(CallError::Node(NodeError::NotStored {
            blob_id,
            missing: 1
        }))
    );
    // A long-polled confirmation is answered as soon as the last sliver lands.
    let waiting = {
        let (p2p, m) = (p2p.clone(), member.clone());
        tokio::spawn(async move {
            p2p.confirmation(
                m.peer_id,
                m.addrs,
                ConfirmationRequest {
                    wait_ms: 10_000,
                    ..confirm()
                },
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = call(&p2p, put(last.0, last.1)).await.unwrap();
    assert!(r.error().is_none());
    let signed = waiting.await.unwrap().expect("confirmed once complete");
    let msg = signed
        .verify(&member.public_key)
        .expect("signed by the node");
    assert_eq!(msg.body.blob_id, blob_id);
    // A deletable confirmation for an object that is not registered is refused.
    let r = p2p
        .confirmation(
            member.peer_id,
            member.addrs.clone(),
            ConfirmationRequest {
                persistence: BlobPersistence::Deletable(floe_common::ObjectId([5; 32])),
                ..confirm()
            },
        )
        .await;
    assert!(matches!(
        r,
        Err(CallError::Node(NodeError::PersistenceNotRegistered { .. }))
    ));
    cluster.shutdown().await;
}

/// A node that was down while blobs were written recovers its slivers after restart, through
/// recovery symbols — about one sliver pair of traffic per pair — even though another node
/// serves corrupted slivers and symbols; reads stay correct throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4f1_restart_recovery_with_byzantine_helper() {
    let mut cluster = TestCluster::start(ClusterOptions::default()).await;
    cluster.stop_node(0).await;
    cluster.stop_node(1).await;
    cluster.start_node_with(1, Some(faults::liar().0)).await;
    let client = cluster.client().await;
    let mut blobs = Vec::new();
    for seed in 0..2u64 {
        let bytes = data(1 << 20, 100 + seed);
        let id = client
            .store(&bytes, &opts())
            .await
            .expect("store")
            .blob_id();
        // Reads skip the liar's slivers (they fail verification).
        let read = client.read(id, ConsistencyCheck::Default).await.unwrap();
        assert_eq!(read.data, bytes);
        blobs.push((id, bytes));
    }
    // The honest optimistic path is measured with honest helpers only: restart the liar
    // honestly first, recover node-1, then check node-1's traffic.
    cluster.stop_node(1).await;
    cluster.start_node(1).await;
    cluster.start_node(0).await;
    let core = cluster.nodes[0].core().unwrap().clone();
    let ids: Vec<_> = blobs.iter().map(|(id, _)| *id).collect();
    wait_for(Duration::from_secs(60), || holds_every_sliver(&core, &ids))
        .await
        .expect("node-1 recovers every sliver");
    let config = *core.config();
    let metrics = core.metrics();
    let recovered = metrics.slivers_recovered.get();
    let pairs = recovered / 2;
    assert_eq!(
        recovered,
        2 * 3 * blobs.len() as u64,
        "3 shards × 2 slivers × 2 blobs"
    );
    let pair_bytes = (config.sliver_size(SliverAxis::Primary, 1 << 20).unwrap()
        + config.sliver_size(SliverAxis::Secondary, 1 << 20).unwrap()) as u64;
    let received = metrics.recovery_bytes_received.get();
    let per_pair = received as f64 / (pairs * pair_bytes) as f64;
    eprintln!(
        "recovery traffic: {received} bytes for {pairs} pairs of {pair_bytes} bytes = {per_pair:.3}× per pair"
    );
    assert!(
        per_pair <= 1.5,
        "recovery traffic {per_pair:.3}× a sliver pair"
    );
    // Below one pair because recovered secondary slivers serve as local sources for the primary
    // ones; it cannot be far below.
    assert!(per_pair >= 0.5, "implausibly little traffic: {per_pair}");
    // The recovered slivers are the encoding's.
    for (id, bytes) in &blobs {
        let enc = encode_blob(&config, bytes).unwrap();
        for pair in core.own_pairs(id) {
            for axis in [SliverAxis::Primary, SliverAxis::Secondary] {
                let s = core.storage().sliver(id, pair, axis).unwrap().unwrap();
                assert_eq!(&s, enc.pairs[pair.as_usize()].sliver(axis));
            }
        }
    }

    drop(core);
    // Now node-1 loses its data again while node-2 lies: recovery must still succeed (the
    // optimistic attempt fails the hash check, the proven one drops the bad symbols).
    cluster.stop_node(0).await;
    std::fs::remove_dir_all(cluster.node_dir(0)).unwrap();
    cluster.stop_node(1).await;
    cluster.start_node_with(1, Some(faults::liar().0)).await;
    cluster.start_node(0).await;
    let core = cluster.nodes[0].core().unwrap().clone();
    let ids: Vec<_> = blobs.iter().map(|(id, _)| *id).collect();
    wait_for(Duration::from_secs(60), || holds_every_sliver(&core, &ids))
        .await
        .expect("node-1 recovers despite a lying helper");
    drop(core);
    for (id, bytes) in &blobs {
        let read = client.read(*id, ConsistencyCheck::Strict).await.unwrap();
        assert_eq!(&read.data, bytes);
    }
    cluster.shutdown().await;
}

/// A writer uploads an inconsistent encoding and skips the node holding the altered pair; that
/// node's recovery proves the inconsistency, the committee attests, the ledger invalidates the
/// blob, every node drops its data and reads answer "invalid".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_inconsistent_writer_is_invalidated() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let client = cluster.client().await;
    let committee = committee(&cluster).await;
    let config = *committee.encoding();
    let bytes = data(200_000, 77);
    let consistent_id = encode_blob(&config, &bytes).unwrap().blob_id();
    let pair = SliverPairIndex(2);
    let enc = inconsistent_blob(&config, &bytes, pair).unwrap();
    let blob_id = enc.blob_id();
    assert_ne!(blob_id, consistent_id);
    let holder = committee.pair_holder(&blob_id, pair).unwrap().node_id;
    let outcome = client
        .store_encoded(
            enc,
            &StoreOptions {
                skip_nodes: HashSet::from([holder]),
                ..opts()
            },
            committee.clone(),
            0,
        )
        .await
        .expect("the cheating writer gets its blob certified");
    assert_eq!(outcome.blob_id(), blob_id);
    let ledger = cluster.ledger();
    eventually(
        Duration::from_secs(60),
        "the blob is invalidated",
        || async { ledger.blob_status(&blob_id).await.unwrap().unwrap().invalid },
    )
    .await;
    wait_for(Duration::from_secs(30), || {
        cluster.nodes.iter().all(|n| {
            let core = n.core().unwrap();
            !core.storage().has_metadata(&blob_id).unwrap()
                && core.blob_status(&blob_id).unwrap().invalid
        })
    })
    .await
    .expect("every node drops the invalid blob");
    assert!(matches!(
        client.read(blob_id, ConsistencyCheck::Default).await,
        Err(ReadError::Invalid(_))
    ));
    let found = cluster
        .nodes
        .iter()
        .map(|n| n.core().unwrap().metrics().inconsistencies_found.get())
        .sum::<u64>();
    assert!(found >= 1);
    cluster.shutdown().await;
}

/// Expired and deleted blobs are garbage-collected on every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_expired_and_deleted_blobs_are_collected() {
    let cluster = TestCluster::start(ClusterOptions {
        epoch_ms: 3_000,
        ..ClusterOptions::default()
    })
    .await;
    let client = cluster.client().await;
    let short = client
        .store(
            &data(30_000, 1),
            &StoreOptions {
                epochs: 1,
                ..StoreOptions::default()
            },
        )
        .await
        .unwrap();
    let deletable = client
        .store(
            &data(30_000, 2),
            &StoreOptions {
                epochs: 20,
                persistence: Persistence::Deletable,
                ..StoreOptions::default()
            },
        )
        .await
        .unwrap();
    let kept = client
        .store(
            &data(30_000, 3),
            &StoreOptions {
                epochs: 20,
                ..StoreOptions::default()
            },
        )
        .await
        .unwrap();
    let StoreOutcome::NewlyCreated { blob_object, .. } = deletable else {
        panic!("new blob expected");
    };
    // Delete the deletable blob object.
    let ledger = cluster.ledger();
    let sender = Address::of(&cluster.user.public());
    let account = ledger.account(&sender).await.unwrap();
    let tx = SignedTransaction::sign(
        &cluster.user,
        Transaction {
            sender,
            nonce: account.nonce,
            fee: Frost(1_000),
            kind: TxKind::DeleteBlob { blob_object },
        },
        &cluster.genesis.chain_id,
    );
    ledger
        .submit_and_wait(&tx, Duration::from_secs(20))
        .await
        .unwrap();
    let gone = |id: floe_common::BlobId| {
        cluster
            .nodes
            .iter()
            .all(|n| !n.core().unwrap().storage().has_metadata(&id).unwrap())
    };
    wait_for(Duration::from_secs(20), || {
        gone(short.blob_id()) && gone(deletable.blob_id())
    })
    .await
    .expect("expired and deleted blobs are collected");
    assert!(!gone(kept.blob_id()), "a live blob was collected");
    // The nodes' epoch is the ledger's (from its verified `EpochChanged` events), not a clock.
    let ledger_epoch = cluster.ledger().system().await.unwrap().epoch;
    assert!(ledger_epoch.0 >= 1, "the 3 s epochs advanced");
    wait_for(Duration::from_secs(10), || {
        cluster
            .nodes
            .iter()
            .all(|n| n.core().unwrap().epoch() >= ledger_epoch)
    })
    .await
    .expect("nodes follow the ledger's epoch");
    let read = client
        .read(kept.blob_id(), ConsistencyCheck::Default)
        .await
        .unwrap();
    assert_eq!(read.data, data(30_000, 3));
    cluster.shutdown().await;
}

/// At 100 shards a node that missed a 1 MiB blob recovers its ten sliver pairs with at most
/// 1.5× their size in recovery traffic (symbols, any proofs, and the metadata).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n10f1_recovery_traffic_at_100_shards() {
    let mut cluster = TestCluster::start(ClusterOptions {
        nodes: 10,
        shards: 100,
        ..ClusterOptions::default()
    })
    .await;
    cluster.stop_node(0).await;
    let client = cluster.client().await;
    let bytes = data(1 << 20, 1000);
    let id = client
        .store(&bytes, &opts())
        .await
        .expect("store")
        .blob_id();
    cluster.start_node(0).await;
    let core = cluster.nodes[0].core().unwrap().clone();
    wait_for(Duration::from_secs(120), || {
        holds_every_sliver(&core, &[id])
    })
    .await
    .expect("node-1 recovers");
    let config = *core.config();
    let pairs = core.own_pairs(&id).len() as u64;
    let pair_bytes = (config.sliver_size(SliverAxis::Primary, 1 << 20).unwrap()
        + config.sliver_size(SliverAxis::Secondary, 1 << 20).unwrap()) as u64;
    let received = core.metrics().recovery_bytes_received.get();
    let per_pair = received as f64 / (pairs * pair_bytes) as f64;
    eprintln!(
        "100 shards: {received} bytes for {pairs} pairs of {pair_bytes} bytes = {per_pair:.3}× per pair"
    );
    assert_eq!(pairs, 10);
    assert!(
        per_pair <= 1.5,
        "recovery traffic {per_pair:.3}× a sliver pair"
    );
    drop(core);
    let read = client.read(id, ConsistencyCheck::Default).await.unwrap();
    assert_eq!(read.data, bytes);
    cluster.shutdown().await;
}

/// Storage challenges answered from each node's store: every node proves every draw over the
/// live blobs from its own slivers, and each proof verifies against the blob id alone. A node
/// whose slivers of a blob are gone (a lazy node) cannot prove a draw on that blob.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_storage_challenges_from_the_store() {
    use floe_common::challenge::challenges;

    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let client = cluster.client().await;
    let mut ids = Vec::new();
    for i in 0..3u64 {
        let bytes = data(30_000 + i as usize * 7_000, 90 + i);
        ids.push(client.store(&bytes, &opts()).await.unwrap().blob_id());
    }
    ids.sort();
    wait_for(Duration::from_secs(20), || {
        cluster
            .nodes
            .iter()
            .filter_map(|n| n.core())
            .all(|core| holds_every_sliver(core, &ids))
    })
    .await
    .expect("every node holds its slivers");
    let config = EncodingConfig::new(cluster.genesis.n_shards).unwrap();
    let seed = floe_common::Digest([0xc4; 32]);
    for node in &cluster.nodes {
        let core = node.core().unwrap();
        let shards: Vec<_> = core.served_shards().into_iter().collect();
        let draws = challenges(&seed, &node.node_id(), 20, ids.len() as u64, &shards, 12);
        assert_eq!(draws.len(), 20);
        for c in &draws {
            let blob_id = ids[c.blob_rank as usize];
            let proof = core.prove_challenge(&blob_id, c).unwrap();
            proof.verify(&config, &blob_id, c).unwrap();
        }
    }

    // Node 0 drops every sliver of the first blob: draws on that blob fail, others still pass.
    let core = cluster.nodes[0].core().unwrap();
    core.storage().delete_slivers_except(&ids[0], &[]).unwrap();
    let shards: Vec<_> = core.served_shards().into_iter().collect();
    let draws = challenges(&seed, &cluster.nodes[0].node_id(), 40, 3, &shards, 12);
    let (mut failed, mut passed) = (0, 0);
    for c in &draws {
        let blob_id = ids[c.blob_rank as usize];
        match core.prove_challenge(&blob_id, c) {
            Ok(proof) => {
                assert_ne!(c.blob_rank, 0, "a proof without the sliver");
                proof.verify(&config, &blob_id, c).unwrap();
                passed += 1;
            }
            Err(NodeError::NotFound) => {
                assert_eq!(c.blob_rank, 0);
                failed += 1;
            }
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert!(failed > 0 && passed > 0, "{failed} failed, {passed} passed");
    cluster.shutdown().await;
}
