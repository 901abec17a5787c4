//! Walrus scale on one machine: 100 storage nodes over 1,000 shards in one process (each with
//! its own RocksDB, libp2p identity and listeners, sharing the async runtime): stores and reads
//! of 1 MiB and 64 MiB, then with a third of the nodes stopped a store that still certifies and
//! a byte-exact read; restarted, those nodes recover what they missed. Figures as one JSON line.
//!
//! Slow (minutes) and heavy (several GB): ignored by default; run with
//! `cargo test --release -p floe-tests --test scale -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use floe_client::blobs::StoreOptions;
use floe_common::ConsistencyCheck;
use floe_tests::{ClusterOptions, TestCluster, data};

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes and gigabytes: run on its own with --ignored"]
async fn n100_shards1000_store_read_with_33_stopped() {
    let t = Instant::now();
    let mut cluster = TestCluster::start(ClusterOptions {
        nodes: 100,
        shards: 1000,
        challenges_per_node: 0,
        ..ClusterOptions::default()
    })
    .await;
    cluster.wait_nodes_synced().await;
    let start_s = t.elapsed().as_secs_f64();
    let rss_idle = rss_bytes();
    let client = cluster.client().await;
    let opts = StoreOptions {
        epochs: 2,
        ..StoreOptions::default()
    };
    let mut figures = serde_json::Map::new();
    for (name, len) in [("1mib", 1usize << 20), ("64mib", 64 << 20)] {
        let bytes = data(len, len as u64);
        let t = Instant::now();
        let id = client.store(&bytes, &opts).await.expect("store").blob_id();
        let store_ms = t.elapsed().as_millis() as u64;
        let t = Instant::now();
        let read = client
            .read(id, ConsistencyCheck::Default)
            .await
            .expect("read");
        let read_ms = t.elapsed().as_millis() as u64;
        assert!(read.data == bytes, "byte-exact");
        figures.insert(
            name.into(),
            serde_json::json!({ "store_ms": store_ms, "read_ms": read_ms }),
        );
    }
    // A third of the nodes stopped: a store still certifies (67 nodes hold 670 of the 1000
    // shards, above the 667 a certificate needs) and reads back byte-exact.
    for i in 0..33 {
        cluster.stop_node(i).await;
    }
    let bytes = data(4 << 20, 77);
    let t = Instant::now();
    let id = client
        .store(&bytes, &opts)
        .await
        .expect("store with 33 stopped")
        .blob_id();
    let degraded_store_ms = t.elapsed().as_millis() as u64;
    let t = Instant::now();
    let read = client
        .read(id, ConsistencyCheck::Default)
        .await
        .expect("read with 33 stopped");
    assert!(read.data == bytes);
    let degraded_read_ms = t.elapsed().as_millis() as u64;
    // Restarted, they recover what they missed from their peers' symbols.
    let t = Instant::now();
    for i in 0..33 {
        cluster.start_node(i).await;
    }
    let cores: Vec<_> = (0..33)
        .filter_map(|i| cluster.nodes[i].core().cloned())
        .collect();
    floe_tests::wait_for(Duration::from_secs(600), || {
        cores
            .iter()
            .all(|c| floe_tests::holds_every_sliver(c, &[id]))
    })
    .await
    .expect("the restarted nodes recover the blob they missed");
    let recovery_ms = t.elapsed().as_millis() as u64;
    let recovered_bytes: u64 = cores
        .iter()
        .map(|c| c.metrics().recovery_bytes_received.get())
        .sum();
    drop(cores);
    println!(
        "{}",
        serde_json::json!({
            "nodes": 100,
            "shards": 1000,
            "start_s": (start_s * 10.0).round() / 10.0,
            "rss_bytes_idle": rss_idle,
            "rss_bytes_per_node_idle": rss_idle / 100,
            "reads": figures,
            "store_4mib_with_33_stopped_ms": degraded_store_ms,
            "read_4mib_with_33_stopped_ms": degraded_read_ms,
            "recovery_33_nodes_ms": recovery_ms,
            "recovery_bytes_per_node": recovered_bytes / 33,
            "sliver_pair_bytes_4mib": floe_common::EncodingConfig::new(1000)
                .map(|c| {
                    c.sliver_size(floe_common::SliverAxis::Primary, 4 << 20).unwrap_or(0)
                        + c.sliver_size(floe_common::SliverAxis::Secondary, 4 << 20).unwrap_or(0)
                })
                .unwrap_or(0),
        })
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    cluster.shutdown().await;
}
