//! Storage nodes under pressure. Every test is named `adv_…` after what it survives.
//!
//! * `adv_node_disk_full`: one node's store lives on a small tmpfs that fills up. The node
//!   degrades instead of stopping: it refuses new data with `storage_full`, keeps serving what it
//!   holds, keeps following the ledger, shows it in its metrics, and takes writes again by
//!   itself once the file system grows, without a restart; nothing stored is lost.
//!   `adv_node_disk_full_without_margin` does the same with the margin off, so RocksDB itself
//!   hits `ENOSPC`.
//!
//! Mounting a tmpfs needs root (CI runs as root). A test that cannot mount fails with the
//! reason; it never passes without having run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use floe_client::blobs::{StoreOptions, StoreOutcome};
use floe_common::{BlobId, ConsistencyCheck};
use floe_node::core::NodeCore;
use floe_node_protocol::protocol::{GET_SLIVER, GetSliverRequest, PUT_METADATA};
use floe_tests::{ClusterOptions, TestCluster, data, eventually, holds_every_sliver};

/// A tmpfs mounted for one test, unmounted when dropped (also when the test fails).
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `mib` MiB at `dir`, or fails the test saying why.
    fn mount(dir: &Path, mib: u64) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("mount point");
        run_mount(&[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={mib}m"),
            "tmpfs",
            dir.to_str().expect("utf-8 path"),
        ]);
        Tmpfs {
            dir: dir.to_owned(),
        }
    }

    /// Grows (or shrinks) the mounted file system to `mib` MiB, keeping its files.
    fn resize(&self, mib: u64) {
        run_mount(&[
            "-o",
            &format!("remount,size={mib}m"),
            self.dir.to_str().expect("utf-8 path"),
        ]);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Files may still be open (a failed test's node): detach it anyway.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

fn run_mount(args: &[&str]) {
    let out = Command::new("mount")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run mount {args:?}: {e} (this test needs root)"));
    assert!(
        out.status.success(),
        "mount {args:?} failed: {} (this test needs root to mount a tmpfs; CI runs as root)",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// `/metrics` of the node whose HTTP endpoint is `addr`.
async fn metrics_text(addr: std::net::SocketAddr) -> String {
    reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("metrics endpoint")
        .text()
        .await
        .expect("metrics body")
}

/// Checks, through the node's own protocol answers, that it serves every sliver it holds of
/// `blob`, each verifying against the blob's metadata.
fn serves_verified_slivers(core: &NodeCore, blob: &BlobId) {
    let config = *core.config();
    let metadata = core
        .get_metadata(blob)
        .expect("metadata served")
        .verify(*blob, &config)
        .expect("metadata matches the blob id");
    for pair in core.own_pairs(blob) {
        for axis in [
            floe_common::SliverAxis::Primary,
            floe_common::SliverAxis::Secondary,
        ] {
            let sliver = core
                .get_sliver(&GetSliverRequest {
                    blob_id: *blob,
                    pair,
                    axis,
                })
                .unwrap_or_else(|e| panic!("{blob} {pair} {axis}: {e}"));
            sliver
                .verify(&config, &metadata)
                .unwrap_or_else(|e| panic!("{blob} {pair} {axis} does not verify: {e}"));
        }
    }
}

/// Blob size: about 2 MiB of slivers per node at 4 nodes of 12 shards.
const BLOB: usize = 2_500_000;
/// The tmpfs (MiB).
const TMPFS_MIB: u64 = 64;

/// The node keeps 24 MiB free: it refuses new data before RocksDB ever sees `ENOSPC`, and
/// keeps following the ledger while full.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adv_node_disk_full() {
    fill_and_free(24).await;
}

/// No margin: RocksDB itself runs out of space and stops taking writes. The node still does
/// not stop: writes are answered `storage_full`, the ledger follower pauses on the block it
/// cannot persist, and once space returns RocksDB resumes and so does everything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adv_node_disk_full_without_margin() {
    fill_and_free(0).await;
}

/// Fills node 0's tmpfs with stores, checks the node degrades (see the module docs), grows
/// the tmpfs and checks the node takes writes again and lost nothing.
async fn fill_and_free(margin_mib: u64) {
    let root = tempfile::tempdir().expect("tempdir");
    let tmpfs = Tmpfs::mount(&root.path().join("tmpfs"), TMPFS_MIB);
    let mut cluster = TestCluster::start(ClusterOptions::default()).await;
    // Node 0 moves onto the tmpfs (a fresh store: it follows the ledger from the start).
    cluster.stop_node(0).await;
    cluster.nodes[0].config.data_dir = tmpfs.dir.join("data");
    cluster.nodes[0].config.disk.min_free_bytes = margin_mib << 20;
    cluster.start_node(0).await;
    cluster.wait_nodes_synced().await;
    let core = cluster.nodes[0].core().expect("running").clone();
    let http = cluster.nodes[0].http_addr().expect("running");
    let client = cluster.client().await;

    // Store until node 0 is full. Every store succeeds: the others certify without it.
    let mut stored: Vec<(BlobId, Vec<u8>)> = Vec::new();
    let mut seed = 0;
    while !core.storage().space().full {
        assert!(
            stored.len() < 40,
            "node 0 never filled up: {:?}",
            core.storage().space()
        );
        seed += 1;
        let bytes = data(BLOB, seed);
        let outcome = client
            .store(&bytes, &StoreOptions::default())
            .await
            .unwrap_or_else(|e| panic!("store {seed}: {e}"));
        stored.push((outcome.blob_id(), bytes));
    }
    let space = core.storage().space();
    eprintln!(
        "node 0 full after {} blobs: {:?} ({} slivers stored)",
        stored.len(),
        space,
        core.storage().stats().slivers
    );
    let held_before_full: Vec<BlobId> = stored
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| holds_every_sliver(&core, std::slice::from_ref(id)))
        .collect();
    assert!(
        held_before_full.len() >= stored.len() - 1,
        "node 0 took the blobs before it filled up"
    );

    // While full: stores still succeed (certified by the other nodes); node 0 refuses them
    // with `storage_full` and confirms nothing.
    let mut refused_while_full = Vec::new();
    for _ in 0..2 {
        seed += 1;
        let bytes = data(BLOB, seed);
        let outcome = client
            .store(&bytes, &StoreOptions::default())
            .await
            .unwrap_or_else(|e| panic!("store while node 0 is full: {e}"));
        let StoreOutcome::NewlyCreated {
            confirmed_shards, ..
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        assert!(
            confirmed_shards <= 12 - core.shards().len() as u32,
            "node 0 did not confirm"
        );
        let status = core.blob_status(&outcome.blob_id()).unwrap();
        assert!(
            status.slivers_stored < status.slivers_expected || !status.registered,
            "node 0 stored nothing new: {status:?}"
        );
        refused_while_full.push(outcome.blob_id());
        stored.push((outcome.blob_id(), bytes));
    }
    if margin_mib > 0 {
        // Refused up front, each with a typed answer; the ledger view goes on.
        assert!(core.metrics().requests(PUT_METADATA, "storage_full") >= 2);
        cluster.wait_nodes_synced().await;
    }
    let text = metrics_text(http).await;
    assert!(text.contains("floe_node_storage_full 1\n"), "{text}");
    let refused = text
        .lines()
        .find_map(|l| l.strip_prefix("floe_node_writes_refused_full_total "))
        .expect("refusal counter")
        .parse::<u64>()
        .unwrap();
    assert!(refused >= 1, "{refused}");

    // Still serving: every sliver it held is served and verifies; every blob reads back.
    let served_before = core.metrics().requests(GET_SLIVER, "ok");
    for id in &held_before_full {
        serves_verified_slivers(&core, id);
    }
    for (id, bytes) in &stored {
        let read = client.read(*id, ConsistencyCheck::Strict).await.unwrap();
        assert_eq!(&read.data, bytes, "{id}");
    }
    assert!(core.metrics().requests(GET_SLIVER, "ok") > served_before);

    // Space returns (the volume grows): node 0 takes writes again, without a restart.
    tmpfs.resize(TMPFS_MIB * 4);
    // Without a margin, RocksDB resumes by itself within seconds and the follower catches up.
    cluster.wait_nodes_synced().await;
    seed += 1;
    let bytes = data(BLOB, seed);
    let outcome = client
        .store(&bytes, &StoreOptions::default())
        .await
        .expect("store after space returned");
    let StoreOutcome::NewlyCreated {
        confirmed_shards, ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(confirmed_shards, 12, "node 0 confirmed again");
    assert!(holds_every_sliver(&core, &[outcome.blob_id()]));
    stored.push((outcome.blob_id(), bytes));
    assert!(!core.storage().space().full);
    let text = metrics_text(http).await;
    assert!(text.contains("floe_node_storage_full 0\n"), "{text}");

    // Nothing was lost: node 0 recovers what it refused while full, holds everything, and
    // every blob reads back byte for byte.
    let all: Vec<BlobId> = stored.iter().map(|(id, _)| *id).collect();
    eventually(
        Duration::from_secs(60),
        "node 0 recovers the blobs it refused while full",
        || async { holds_every_sliver(&core, &all) },
    )
    .await;
    for id in &all {
        serves_verified_slivers(&core, id);
    }
    for (id, bytes) in &stored {
        let read = client.read(*id, ConsistencyCheck::Strict).await.unwrap();
        assert_eq!(&read.data, bytes, "{id}");
    }
    assert!(!refused_while_full.is_empty());
    drop((core, client));
    cluster.shutdown().await;
    drop(tmpfs);
}
