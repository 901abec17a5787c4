//! `floe bench quilt` at Walrus's shard count: 100 storage nodes over 1,000 shards in one
//! process, 1,000 files of 10 KiB as one quilt against some of them stored as separate blobs.
//! At 1,000 shards a blob's metadata is 1,000 pairs of hashes on every node, which is what a
//! quilt saves. Slow: ignored by default; run with
//! `cargo test -p floe-cli --test scale_quilt -- --ignored --nocapture` (one JSON line).

use floe_cli::bench;
use floe_tests::{ClusterOptions, TestCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes: run on its own with --ignored"]
async fn n100_shards1000_quilt_against_blobs() {
    let cluster = TestCluster::start(ClusterOptions {
        nodes: 100,
        shards: 1000,
        challenges_per_node: 0,
        ..ClusterOptions::default()
    })
    .await;
    cluster.wait_nodes_synced().await;
    let client = cluster.client().await;
    let b = bench::bench_quilt(&client, 1000, 10 * 1024, 10, 2, 5)
        .await
        .expect("bench");
    println!("{}", serde_json::to_string(&b).unwrap());
    assert!(b.ratios.ledger_txs >= 100.0, "{b:?}");
    assert!(b.ratios.frost >= 50.0, "{b:?}");
    assert!(b.patch_read.fetched_bytes < 64 * 1024, "{b:?}");
    cluster.shutdown().await;
}
