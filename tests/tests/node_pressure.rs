//! Storage nodes under pressure. Every test is named `adv_…` after what it survives.
//!
//! * `adv_node_disk_full`: one node's store lives on a small tmpfs that fills up. The node
//!   degrades instead of stopping: it refuses new data with `storage_full`, keeps serving what it
//!   holds, keeps following the ledger, shows it in its metrics, and takes writes again by
//!   itself once the file system grows, without a restart; nothing stored is lost.
//!   `adv_node_disk_full_without_margin` does the same with the margin off, so RocksDB itself
//!   hits `ENOSPC`.
//!
//! * `adv_node_slot_exhaustion`: eight fresh identities, each over its own real connection,
//!   keep 64 confirmation long polls open (for unregistered blob ids and for a registered blob
//!   the node lacks) and hammer `get_sliver`. An honest store and read through the attacked
//!   node still finish, and an honest `get_sliver` is answered within a second.
//!
//! Mounting a tmpfs needs root (CI runs as root). A test that cannot mount fails with the
//! reason; it never passes without having run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use floe_client::blobs::{StoreOptions, StoreOutcome};
use floe_common::{BlobId, BlobPersistence, ConsistencyCheck, KeyPair, SliverAxis};
use floe_node::core::NodeCore;
use floe_node_protocol::p2p::{CallError, P2p};
use floe_node_protocol::protocol::{
    self, CONFIRMATION, ConfirmationRequest, GET_SLIVER, GetSliverRequest, NodeError, PUT_METADATA,
};
use floe_tests::{ClusterOptions, TestCluster, data, eventually, holds_every_sliver};
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use libp2p::{Multiaddr, PeerId};

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

/// What the attackers got.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    busy: AtomicU64,
    other: AtomicU64,
}

impl Tally {
    fn count<T>(&self, r: &Result<T, CallError>) {
        let c = match r {
            Ok(_) => &self.ok,
            Err(CallError::Node(NodeError::Busy)) => &self.busy,
            Err(_) => &self.other,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> (u64, u64, u64) {
        (
            self.ok.load(Ordering::Relaxed),
            self.busy.load(Ordering::Relaxed),
            self.other.load(Ordering::Relaxed),
        )
    }
}

/// Long polls each attacker keeps open, and `get_sliver` requests it keeps in flight (half for
/// a stored sliver, half for a blob the node does not have, which it answers faster).
const LONG_POLLS: usize = 64;
const HAMMER: usize = 32;
const ATTACKERS: usize = 8;

/// One attacker: a fresh identity with its own connection, keeping [`LONG_POLLS`] confirmation
/// requests open (every other one for an unregistered blob id, the rest for a registered blob
/// the node lacks) and [`HAMMER`] `get_sliver` requests in flight, until `stop`.
#[allow(clippy::too_many_arguments)]
async fn attack(
    p2p: P2p,
    target: (PeerId, Vec<Multiaddr>),
    lacking: BlobId,
    sliver: GetSliverRequest,
    stop: Arc<AtomicBool>,
    polls: Arc<Tally>,
    gets: Arc<Tally>,
    seed: u8,
) {
    let (peer, addrs) = target;
    let poll = |i: usize| {
        let (p2p, addrs, polls) = (p2p.clone(), addrs.clone(), polls.clone());
        async move {
            let blob_id = if i.is_multiple_of(2) {
                BlobId([seed.wrapping_add(i as u8) | 1; 32])
            } else {
                lacking
            };
            let r = p2p
                .confirmation(
                    peer,
                    addrs,
                    ConfirmationRequest {
                        blob_id,
                        persistence: BlobPersistence::Permanent,
                        wait_ms: 30_000,
                    },
                )
                .await;
            polls.count(&r);
            i
        }
    };
    let get = |i: usize| {
        let (p2p, addrs, gets) = (p2p.clone(), addrs.clone(), gets.clone());
        let req = match i % 2 {
            0 => sliver,
            _ => GetSliverRequest {
                blob_id: BlobId([seed.wrapping_add(i as u8) | 1; 32]),
                ..sliver
            },
        };
        async move {
            let r = p2p.get_sliver(peer, addrs, req).await;
            gets.count(&r);
            i
        }
    };
    let mut open: FuturesUnordered<_> = (0..LONG_POLLS).map(poll).collect();
    let mut hammer: FuturesUnordered<_> = (0..HAMMER).map(get).collect();
    while !stop.load(Ordering::Relaxed) {
        tokio::select! {
            Some(i) = open.next() => open.push(poll(i)),
            Some(i) = hammer.next() => hammer.push(get(i)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adv_node_slot_exhaustion() {
    let cluster = TestCluster::start(ClusterOptions {
        // Node 0 must not recover the blob it was skipped for while the test runs.
        grace_ms: 600_000,
        ..ClusterOptions::default()
    })
    .await;
    // Node 0 keeps the default limits but a lower per-peer rate, so that eight attackers on
    // two shared cores can exceed it and the test shows it refusing them.
    let mut cluster = cluster;
    cluster.stop_node(0).await;
    cluster.nodes[0].config.inbound.peer_requests_per_second = 50;
    cluster.nodes[0].config.inbound.peer_request_burst = 100;
    cluster.start_node(0).await;
    let client = cluster.client().await;
    let core = cluster.nodes[0].core().expect("running").clone();
    let known_bytes = data(200_000, 1);
    let known = client
        .store(&known_bytes, &StoreOptions::default())
        .await
        .expect("store")
        .blob_id();
    let lacking = client
        .store(
            &data(100_000, 2),
            &StoreOptions {
                skip_nodes: HashSet::from([cluster.nodes[0].node_id()]),
                ..StoreOptions::default()
            },
        )
        .await
        .expect("store without node 0")
        .blob_id();
    cluster.wait_nodes_synced().await;
    assert!(core.blob_status(&lacking).unwrap().registered);
    assert!(!holds_every_sliver(&core, &[lacking]));
    let target = (
        floe_node_protocol::network::peer_id_of(&cluster.nodes[0].key),
        vec![
            cluster.nodes[0]
                .config
                .p2p_listen
                .parse::<Multiaddr>()
                .unwrap(),
        ],
    );
    let sliver = GetSliverRequest {
        blob_id: known,
        pair: core.own_pairs(&known)[0],
        axis: SliverAxis::Primary,
    };
    let limits = protocol::limits(core.config());

    // The attack: eight fresh identities, each over its own connection.
    let cancel = tokio_util::sync::CancellationToken::new();
    let stop = Arc::new(AtomicBool::new(false));
    let (polls, gets) = (Arc::new(Tally::default()), Arc::new(Tally::default()));
    let mut attackers = Vec::new();
    for i in 0..ATTACKERS {
        let key = KeyPair::generate(&mut rand::rngs::OsRng);
        let (p2p, _, _) = P2p::start(&key, &limits, None, cancel.clone())
            .await
            .expect("attacker swarm");
        attackers.push(tokio::spawn(attack(
            p2p,
            target.clone(),
            lacking,
            sliver,
            stop.clone(),
            polls.clone(),
            gets.clone(),
            i as u8 * 16,
        )));
    }
    // Let it take hold: every long poll open, the hammer going.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let waiting = core.metrics().render(&core.gauges());
    let long_polls: u64 = waiting
        .lines()
        .find_map(|l| l.strip_prefix("floe_node_long_polls "))
        .expect("long poll gauge")
        .parse()
        .unwrap();

    // An honest reader with a fresh identity: every get_sliver answered, each within a second.
    let (honest, _, _) = P2p::start(
        &KeyPair::generate(&mut rand::rngs::OsRng),
        &limits,
        None,
        cancel.clone(),
    )
    .await
    .unwrap();
    let mut latencies = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let got = honest
            .get_sliver(target.0, target.1.clone(), sliver)
            .await
            .expect("an honest get_sliver is answered with the sliver");
        latencies.push(t.elapsed());
        assert_eq!(got.index, sliver.pair.sliver_index(SliverAxis::Primary, 12));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let slowest = latencies.iter().max().copied().unwrap();

    // An honest store and read finish, and the attacked node took its slivers directly.
    let t = Instant::now();
    let bytes = data(300_000, 3);
    let stored = client
        .store(&bytes, &StoreOptions::default())
        .await
        .expect("an honest store under attack");
    let store_time = t.elapsed();
    assert!(
        holds_every_sliver(&core, &[stored.blob_id()]),
        "the attacked node stored the honest writer's slivers"
    );
    let t = Instant::now();
    for (id, b) in [(stored.blob_id(), &bytes), (known, &known_bytes)] {
        let read = client.read(id, ConsistencyCheck::Strict).await.unwrap();
        assert_eq!(&read.data, b);
    }
    let read_time = t.elapsed();

    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        a.abort();
    }
    cancel.cancel();
    let (p, g) = (polls.get(), gets.get());
    eprintln!(
        "honest get_sliver under attack: slowest {slowest:?} of {latencies:?}; store {store_time:?}, reads {read_time:?}; \
         long polls waiting at once {long_polls}; attackers' confirmations ok/busy/other {p:?}, get_sliver ok/busy/other {g:?}; \
         node 0 answered confirmations busy {} times, get_sliver busy {} times",
        core.metrics().requests(CONFIRMATION, "busy"),
        core.metrics().requests(GET_SLIVER, "busy"),
    );
    assert!(
        slowest < Duration::from_secs(1),
        "an honest get_sliver took {slowest:?}"
    );
    let limits = cluster.nodes[0].config.inbound.clone();
    assert!(
        long_polls as usize <= limits.max_long_polls_per_ip.min(limits.max_long_polls),
        "{long_polls} long polls waited at once"
    );
    assert!(
        g.1 > 0 && p.1 > 0,
        "the flood was refused busy: get_sliver {g:?}, confirmations {p:?}"
    );
    assert_eq!(p.0, 0, "no attacker got a confirmation");
    drop(core);
    cluster.shutdown().await;
}
