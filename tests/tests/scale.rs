//! Walrus scale on one machine: 100 storage nodes over 1,000 shards in one process (each with
//! its own RocksDB, libp2p identity and listeners, sharing the async runtime): stores and reads
//! of 1 MiB and 64 MiB, then with a third of the nodes stopped a store that still certifies and
//! a byte-exact read; restarted, those nodes recover what they missed. Then one node loses its
//! whole store (deleted, as after a disk loss) and recovers every sliver of its shards from its
//! peers' symbols: time and bytes received against the bytes it holds. Figures as one JSON
//! line.
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

/// One scenario at a time: each runs 100 or more nodes on this machine's cores, and two at
/// once slow each other past their epochs.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Bytes of one sliver pair (primary and secondary) of a blob of `len` bytes at 1,000 shards.
fn pair_bytes(len: usize) -> usize {
    let config = floe_common::EncodingConfig::new(1000).expect("1000 shards");
    [
        floe_common::SliverAxis::Primary,
        floe_common::SliverAxis::Secondary,
    ]
    .into_iter()
    .map(|axis| config.sliver_size(axis, len as u64).unwrap_or(0))
    .sum()
}

/// User and system CPU time of this process so far, in seconds (`/proc/self/stat`).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    // `/proc` counts in USER_HZ, which Linux fixes at 100 for user space.
    ticks / 100.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes and gigabytes: run on its own with --ignored"]
async fn n100_shards1000_store_read_with_33_stopped() {
    let _serial = SERIAL.lock().await;
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
    // Idle CPU: the process's CPU time over 10 s with nothing stored or read (followers long
    // polling, libp2p keep-alives, timers).
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle_cpu_pct = (cpu_seconds() - cpu0) / t0.elapsed().as_secs_f64() * 100.0;
    let client = cluster.client().await;
    let opts = StoreOptions {
        epochs: 2,
        ..StoreOptions::default()
    };
    let mut figures = serde_json::Map::new();
    let mut stored = Vec::new();
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
        stored.push((id, len));
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
    stored.push((id, bytes.len()));

    // One node wiped: it replays the ledger and recovers every sliver of its shards.
    let wiped = 50;
    cluster.stop_node(wiped).await;
    std::fs::remove_dir_all(cluster.node_dir(wiped)).expect("wipe the node's store");
    let t = Instant::now();
    cluster.start_node(wiped).await;
    let core = cluster.nodes[wiped].core().cloned().expect("running");
    let ids: Vec<_> = stored.iter().map(|(id, _)| *id).collect();
    floe_tests::wait_for(Duration::from_secs(900), || {
        floe_tests::holds_every_sliver(&core, &ids)
    })
    .await
    .expect("the wiped node recovers every sliver of its shards");
    let wipe_recovery_ms = t.elapsed().as_millis() as u64;
    let wipe_recovery_bytes = core.metrics().recovery_bytes_received.get();
    let shards = cluster.ledger().committee().await.map_or(0, |c| {
        c.members
            .iter()
            .find(|m| m.node_id == cluster.nodes[wiped].node_id())
            .map_or(0, |m| m.shards.len())
    });
    let held: usize = stored
        .iter()
        .map(|(_, len)| shards * pair_bytes(*len))
        .sum();
    let blob_bytes: usize = stored.iter().map(|(_, len)| len).sum();
    assert!(
        (wipe_recovery_bytes as usize) < blob_bytes,
        "recovery fetched {wipe_recovery_bytes} bytes, more than the blobs ({blob_bytes})"
    );
    drop(core);
    println!(
        "{}",
        serde_json::json!({
            "nodes": 100,
            "shards": 1000,
            "start_s": (start_s * 10.0).round() / 10.0,
            "rss_bytes_idle": rss_idle,
            "rss_bytes_per_node_idle": rss_idle / 100,
            "idle_cpu_pct_of_one_core": (idle_cpu_pct * 10.0).round() / 10.0,
            "idle_cpu_pct_per_node": (idle_cpu_pct * 100.0).round() / 10_000.0,
            "reads": figures,
            "store_4mib_with_33_stopped_ms": degraded_store_ms,
            "read_4mib_with_33_stopped_ms": degraded_read_ms,
            "recovery_33_nodes_ms": recovery_ms,
            "recovery_bytes_per_node": recovered_bytes / 33,
            "wiped_node": {
                "shards": shards,
                "blobs": stored.len(),
                "blob_bytes": blob_bytes,
                "sliver_bytes_held": held,
                "recovery_ms": wipe_recovery_ms,
                "recovery_bytes_received": wipe_recovery_bytes,
            },
            "sliver_pair_bytes_4mib": pair_bytes(4 << 20),
        })
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    cluster.shutdown().await;
}

/// An epoch change at scale that moves a tenth of the shards: 10 standby nodes register and
/// get stake (a tenth of the total), and at the next committee selection they take about 100
/// of the 1,000 shards from the 100 nodes. Figures: time from the epoch change until every
/// gainer reported its shards synced, and the bytes moved, against the slivers those shards
/// hold. One JSON line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes and gigabytes: run on its own with --ignored"]
async fn n100_shards1000_epoch_change_moves_a_tenth_of_the_shards() {
    let _serial = SERIAL.lock().await;
    let mut cluster = TestCluster::start(ClusterOptions {
        nodes: 100,
        standby: 10,
        shards: 1000,
        epoch_ms: 45_000,
        challenges_per_node: 0,
        ..ClusterOptions::default()
    })
    .await;
    cluster.wait_nodes_synced().await;
    let ledger = cluster.ledger();
    let floe = cluster.floe().await;
    let client = cluster.client().await;
    let opts = StoreOptions {
        epochs: 20,
        ..StoreOptions::default()
    };
    let mut blobs = Vec::new();
    for (len, seed) in [(1usize << 20, 1u64), (64 << 20, 2)] {
        let bytes = data(len, seed);
        let id = client.store(&bytes, &opts).await.expect("store").blob_id();
        blobs.push((id, bytes));
    }
    // A tenth of the stake: 100 nodes hold 1,000 WAL each; ten newcomers 1,112 each.
    let start_epoch = ledger.system().await.expect("system").epoch;
    for i in 100..110 {
        cluster.register_node(i).await;
        cluster.start_node(i).await;
        floe.stake(
            &format!("node-{}", i + 1),
            floe_common::Frost(1_112 * floe_tests::WAL),
        )
        .await
        .expect("stake");
    }
    let newcomers: Vec<_> = (100..110).map(|i| cluster.nodes[i].node_id()).collect();
    // Wait for the epoch change that brings them in.
    let changed = loop {
        let committee = ledger.committee().await.expect("committee");
        let gained: usize = committee
            .members
            .iter()
            .filter(|m| newcomers.contains(&m.node_id))
            .map(|m| m.shards.len())
            .sum();
        if gained > 0 {
            break (Instant::now(), committee.epoch, gained);
        }
        let epoch = ledger.system().await.expect("system").epoch;
        assert!(
            epoch.get() <= start_epoch.get() + 3,
            "no committee with the newcomers three epochs after staking"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (t, epoch, moved_shards) = changed;
    let cores: Vec<_> = (100..110)
        .filter_map(|i| cluster.nodes[i].core().cloned())
        .collect();
    floe_tests::wait_for(Duration::from_secs(600), || {
        cores
            .iter()
            .all(|c| c.metrics().epoch_syncs_reported.get() >= 1)
    })
    .await
    .expect("every gainer reports its shards synced");
    let reported_ms = t.elapsed().as_millis() as u64;
    let ids: Vec<_> = blobs.iter().map(|(id, _)| *id).collect();
    floe_tests::wait_for(Duration::from_secs(600), || {
        cores
            .iter()
            .all(|c| floe_tests::holds_every_sliver(c, &ids))
    })
    .await
    .expect("every gainer holds its new shards' slivers");
    let all_cores: Vec<_> = cluster
        .nodes
        .iter()
        .filter_map(|n| n.core().cloned())
        .collect();
    let moved_bytes: u64 = all_cores
        .iter()
        .map(|c| c.metrics().shard_bytes_received.get())
        .sum();
    let held: usize = blobs
        .iter()
        .map(|(_, b)| moved_shards * pair_bytes(b.len()))
        .sum();
    for (id, bytes) in &blobs {
        let read = client
            .read(*id, ConsistencyCheck::Default)
            .await
            .expect("read after the move");
        assert!(read.data == *bytes, "byte-exact after the move");
    }
    println!(
        "{}",
        serde_json::json!({
            "nodes": 110,
            "shards": 1000,
            "epoch": epoch.get(),
            "shards_moved": moved_shards,
            "every_gainer_reported_ms": reported_ms,
            "bytes_moved": moved_bytes,
            "sliver_bytes_of_moved_shards": held,
        })
    );
    drop((cores, all_cores));
    cluster.shutdown().await;
}
