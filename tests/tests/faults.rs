//! The fault-tolerance suite at the production shape: 10 storage nodes, 100 shards (`f` = 33),
//! up to three nodes (30 shards) faulty. Every scenario stores and reads real data and checks
//! it byte for byte. Scenario names give the fault model.

use std::sync::atomic::Ordering;
use std::time::Duration;

use floe_client::blobs::{ReadError, StoreOptions};
use floe_common::encoding::faulty::inconsistent_blob;
use floe_common::{BlobId, ConsistencyCheck, SliverPairIndex};
use floe_node_protocol::committee::CommitteeView;
use floe_tests::{
    ClusterOptions, TestCluster, data, eventually, faults, holds_every_sliver, wait_for,
};

fn n10() -> ClusterOptions {
    ClusterOptions {
        nodes: 10,
        shards: 100,
        ..ClusterOptions::default()
    }
}

fn opts() -> StoreOptions {
    StoreOptions {
        epochs: 2,
        ..StoreOptions::default()
    }
}

/// Waits until every running node holds every sliver of `blobs` it should (through the node's
/// own status API).
async fn wait_all_stored(cluster: &TestCluster, blobs: &[BlobId], timeout: Duration) {
    wait_for(timeout, || {
        cluster
            .nodes
            .iter()
            .filter_map(|n| n.core())
            .all(|core| holds_every_sliver(core, blobs))
    })
    .await
    .expect("every node holds its slivers");
}

/// Stores a stream of blobs, killing nodes 1, 4 and 7 after the second; returns what was
/// stored. Every store must succeed with three nodes (30 shards) down.
async fn store_while_three_crash(cluster: &mut TestCluster) -> Vec<(BlobId, Vec<u8>)> {
    let client = cluster.client().await;
    let mut stored = Vec::new();
    for i in 0..6u64 {
        if i == 2 {
            for n in [1, 4, 7] {
                cluster.stop_node(n).await;
            }
        }
        let bytes = data(200_000 + i as usize * 10_000, i);
        let id = client
            .store(&bytes, &opts())
            .await
            .unwrap_or_else(|e| panic!("store {i} with 3 nodes down: {e}"))
            .blob_id();
        stored.push((id, bytes));
    }
    stored
}

/// Three nodes crash in the middle of a stream of stores; every certified blob reads back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n10f3_crash() {
    let mut cluster = TestCluster::start(n10()).await;
    let stored = store_while_three_crash(&mut cluster).await;
    let client = cluster.client().await;
    for (id, bytes) in &stored {
        for check in [ConsistencyCheck::Default, ConsistencyCheck::Strict] {
            let read = client.read(*id, check).await.unwrap();
            assert_eq!(&read.data, bytes, "read with 3 nodes down");
        }
    }
    cluster.shutdown().await;
}

/// The crashed nodes restart and recover what they missed: afterwards every node holds every
/// sliver it should (through its status API), and reads work with three *other* nodes down.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n10f3_restart_recovery() {
    let mut cluster = TestCluster::start(n10()).await;
    let stored = store_while_three_crash(&mut cluster).await;
    for n in [1, 4, 7] {
        cluster.start_node(n).await;
    }
    let ids: Vec<BlobId> = stored.iter().map(|(id, _)| *id).collect();
    wait_all_stored(&cluster, &ids, Duration::from_secs(90)).await;
    let recovered: u64 = [1, 4, 7]
        .iter()
        .map(|&n| {
            cluster.nodes[n]
                .core()
                .unwrap()
                .metrics()
                .slivers_recovered
                .get()
        })
        .sum();
    // Each restarted node holds 10 shards and missed 4 blobs: 80 slivers each.
    assert_eq!(
        recovered,
        3 * 4 * 20,
        "restarted nodes rebuilt exactly what they missed"
    );
    for n in [0, 2, 3] {
        cluster.stop_node(n).await;
    }
    let client = cluster.client().await;
    for (id, bytes) in &stored {
        let read = client.read(*id, ConsistencyCheck::Strict).await.unwrap();
        assert_eq!(&read.data, bytes);
    }
    cluster.shutdown().await;
}

/// Three nodes serve corrupted slivers and recovery symbols; reads return the right bytes, and
/// a node that lost its data still recovers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n10f3_byzantine_slivers() {
    let mut cluster = TestCluster::start(n10()).await;
    let mut lies = Vec::new();
    for n in [2, 5, 8] {
        cluster.stop_node(n).await;
        let (hook, told) = faults::liar();
        cluster.start_node_with(n, Some(hook)).await;
        lies.push(told);
    }
    let client = cluster.client().await;
    let mut stored = Vec::new();
    for i in 0..3u64 {
        let bytes = data(300_000, 50 + i);
        let id = client.store(&bytes, &opts()).await.unwrap().blob_id();
        stored.push((id, bytes));
    }
    for (id, bytes) in &stored {
        for check in [ConsistencyCheck::Default, ConsistencyCheck::Strict] {
            let read = client.read(*id, check).await.expect("read despite liars");
            assert_eq!(&read.data, bytes, "never wrong bytes");
        }
    }
    // An honest node loses everything; it recovers through the liars' noise.
    cluster.stop_node(0).await;
    std::fs::remove_dir_all(cluster.node_dir(0)).unwrap();
    cluster.start_node(0).await;
    let ids: Vec<BlobId> = stored.iter().map(|(id, _)| *id).collect();
    wait_all_stored(&cluster, &ids, Duration::from_secs(90)).await;
    let told: u64 = lies.iter().map(|l| l.load(Ordering::Relaxed)).sum();
    assert!(
        told > 0,
        "the liars never served a corrupted sliver or symbol"
    );
    eprintln!("corrupted answers served: {told}");
    cluster.shutdown().await;
}

/// A writer uploads a deliberately inconsistent encoding (skipping the node that would notice
/// at once); the blob ends invalidated and reads return "invalid".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n10f3_inconsistent_writer() {
    let cluster = TestCluster::start(n10()).await;
    let client = cluster.client().await;
    let committee =
        CommitteeView::from_response(&cluster.ledger().committee().await.unwrap()).unwrap();
    let config = *committee.encoding();
    let pair = SliverPairIndex(17);
    let enc = inconsistent_blob(&config, &data(500_000, 9), pair).unwrap();
    let id = enc.blob_id();
    let holder = committee.pair_holder(&id, pair).unwrap().node_id;
    client
        .store_encoded(
            enc,
            &StoreOptions {
                skip_nodes: [holder].into(),
                ..opts()
            },
            committee,
            0,
        )
        .await
        .expect("certified");
    let ledger = cluster.ledger();
    eventually(
        Duration::from_secs(60),
        "the blob is invalidated",
        || async { ledger.blob_status(&id).await.unwrap().unwrap().invalid },
    )
    .await;
    assert!(matches!(
        client.read(id, ConsistencyCheck::Default).await,
        Err(ReadError::Invalid(_))
    ));
    wait_for(Duration::from_secs(30), || {
        cluster
            .nodes
            .iter()
            .all(|n| !n.core().unwrap().storage().has_metadata(&id).unwrap())
    })
    .await
    .expect("every node drops the invalid blob");
    cluster.shutdown().await;
}

/// A hung node (accepts connections, never answers) does not stall stores or reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n10f1_paused_node() {
    let mut cluster = TestCluster::start(n10()).await;
    let (hook, pause) = faults::pausable();
    cluster.stop_node(3).await;
    cluster.start_node_with(3, Some(hook)).await;
    pause.pause();
    let client = cluster
        .client_with(floe_client::BlobOptions {
            extra_upload_time: Duration::from_millis(500),
            ..floe_client::BlobOptions::default()
        })
        .await;
    let bytes = data(250_000, 3);
    let t = std::time::Instant::now();
    let id = client.store(&bytes, &opts()).await.unwrap().blob_id();
    let read = client.read(id, ConsistencyCheck::Default).await.unwrap();
    assert_eq!(read.data, bytes);
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "a hung node stalled the client"
    );
    assert!(
        pause.stalled() > 0,
        "the paused node was never asked anything"
    );
    pause.resume();
    cluster.shutdown().await;
}
