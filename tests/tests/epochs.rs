//! Epoch changes on a live cluster (one validator, storage nodes over loopback, short epochs):
//! stake moves shards between nodes while blobs are written and read, nodes join and leave, a
//! shard's previous holder dies mid-migration, and the economics (prices, rewards, governance)
//! run on the real chain.
//!
//! Fault models in the names: `n4` = 4 genesis nodes of 12 shards (f = 3 shards), `+1` = a node
//! that joins. A node "killed" or "restarted" here is stopped through its cancellation token
//! with its store kept on disk (`kill -9` of real processes is covered by `node/tests/kill9.rs`
//! and the devnet's `kill9_durability`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use floe_client::BlobClient;
use floe_client::blobs::{Persistence, StoreOptions, StoreOutcome};
use floe_common::{BlobId, ConsistencyCheck, Frost, NodeId, ShardIndex};
use floe_ledger::LedgerClient;
use floe_node::core::NodeCore;
use floe_tests::{ClusterOptions, TestCluster, WAL, data, eventually, faults, holds_every_sliver};
use rand::{Rng as _, SeedableRng as _};
use tokio::task::JoinHandle;

/// Shards per node in the current committee.
async fn shard_map(ledger: &LedgerClient) -> BTreeMap<NodeId, Vec<ShardIndex>> {
    ledger
        .committee()
        .await
        .expect("committee")
        .members
        .into_iter()
        .map(|m| (m.node_id, m.shards))
        .collect()
}

/// Waits until the committee satisfies `pred` and its shard sync is done.
async fn wait_for_committee(
    ledger: &LedgerClient,
    what: &str,
    pred: impl Fn(&BTreeMap<NodeId, Vec<ShardIndex>>) -> bool,
) -> BTreeMap<NodeId, Vec<ShardIndex>> {
    let pred = &pred;
    eventually(Duration::from_secs(90), what, || async move {
        let sys = ledger.system().await.expect("system");
        sys.epoch_state == "normal" && pred(&shard_map(ledger).await)
    })
    .await;
    shard_map(ledger).await
}

fn store_opts() -> StoreOptions {
    StoreOptions {
        epochs: 30,
        persistence: Persistence::Permanent,
        ..StoreOptions::default()
    }
}

async fn store(client: &BlobClient, bytes: &[u8]) -> BlobId {
    match client.store(bytes, &store_opts()).await.expect("store") {
        StoreOutcome::NewlyCreated { blob_id, .. }
        | StoreOutcome::AlreadyCertified { blob_id, .. } => blob_id,
    }
}

/// A list shared with the load task.
type Shared<T> = Arc<Mutex<Vec<T>>>;

/// A writer and reader running against the cluster: stores blobs of random sizes and reads back
/// random earlier ones, recording every failure.
struct Load {
    stop: Arc<AtomicBool>,
    blobs: Shared<(BlobId, Vec<u8>)>,
    reads: Arc<AtomicUsize>,
    failures: Shared<String>,
    task: JoinHandle<()>,
}

impl Load {
    async fn start(cluster: &TestCluster, seed: u64) -> Load {
        // Its own wallet: the test's staking transactions must not race it for nonces.
        let key = floe_common::KeyPair::from_seed([seed as u8; 32]);
        let wallet = cluster
            .floe()
            .await
            .with_wallet(floe_client::Wallet::from_key(key.clone()));
        wallet.faucet(None).await.expect("faucet");
        let client = BlobClient::connect(cluster.ledger(), key, Default::default())
            .await
            .expect("client");
        let stop = Arc::new(AtomicBool::new(false));
        let blobs: Shared<(BlobId, Vec<u8>)> = Arc::default();
        let reads = Arc::new(AtomicUsize::new(0));
        let failures: Shared<String> = Arc::default();
        let (s, b, r, f) = (stop.clone(), blobs.clone(), reads.clone(), failures.clone());
        let task = tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut i = 0u64;
            while !s.load(Ordering::Relaxed) {
                i += 1;
                let bytes = data(rng.gen_range(1..48 * 1024), seed * 1000 + i);
                match client.store(&bytes, &store_opts()).await {
                    Ok(StoreOutcome::NewlyCreated { blob_id, .. })
                    | Ok(StoreOutcome::AlreadyCertified { blob_id, .. }) => {
                        b.lock().unwrap().push((blob_id, bytes));
                    }
                    Err(e) => f.lock().unwrap().push(format!("store: {e}")),
                }
                let pick = {
                    let all = b.lock().unwrap();
                    (!all.is_empty()).then(|| all[rng.gen_range(0..all.len())].clone())
                };
                if let Some((id, expected)) = pick {
                    match client.read(id, ConsistencyCheck::Default).await {
                        Ok(out) if out.data == expected => {
                            r.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => f.lock().unwrap().push(format!("read {id}: wrong bytes")),
                        Err(e) => f.lock().unwrap().push(format!("read {id}: {e}")),
                    }
                }
            }
        });
        Load {
            stop,
            blobs,
            reads,
            failures,
            task,
        }
    }

    fn stored(&self) -> Vec<(BlobId, Vec<u8>)> {
        self.blobs.lock().unwrap().clone()
    }

    async fn finish(self) -> (Vec<(BlobId, Vec<u8>)>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("load task");
        let failures = self.failures.lock().unwrap().clone();
        assert!(failures.is_empty(), "the load saw failures: {failures:#?}");
        let blobs = self.blobs.lock().unwrap().clone();
        (blobs, self.reads.load(Ordering::Relaxed))
    }
}

fn ids(blobs: &[(BlobId, Vec<u8>)]) -> Vec<BlobId> {
    blobs.iter().map(|(id, _)| *id).collect()
}

/// `core` holds both slivers of its pairs of every blob in `blobs` (trivially if it holds no
/// shard).
fn holds_own(core: &NodeCore, blobs: &[BlobId]) -> bool {
    core.shards().is_empty() || holds_every_sliver(core, blobs)
}

/// `core` sees the shards `committee` assigns it, and [`holds_own`].
fn holds_assigned(
    core: &NodeCore,
    committee: &BTreeMap<NodeId, Vec<ShardIndex>>,
    blobs: &[BlobId],
) -> bool {
    let mut mine = core.shards();
    mine.sort_unstable();
    let mut assigned = committee.get(&core.node_id()).cloned().unwrap_or_default();
    assigned.sort_unstable();
    mine == assigned && holds_own(core, blobs)
}

/// [`holds_own`], and every stored sliver is on a shard it holds (handed-over shards were
/// dropped).
fn holds_exactly_own(core: &NodeCore, blobs: &[BlobId]) -> bool {
    let own = core.shards().len() as u64;
    holds_own(core, blobs) && core.storage().stats().slivers == 2 * own * blobs.len() as u64
}

async fn read_all(client: &BlobClient, blobs: &[(BlobId, Vec<u8>)]) {
    for (id, expected) in blobs {
        let out = client
            .read(*id, ConsistencyCheck::Strict)
            .await
            .unwrap_or_else(|e| panic!("read {id}: {e}"));
        assert!(out.data == *expected, "blob {id} read back different bytes");
    }
}

fn node_cores(cluster: &TestCluster) -> Vec<Arc<NodeCore>> {
    cluster
        .nodes
        .iter()
        .filter_map(|n| n.core().cloned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_stake_moves_shards_under_load_across_three_epoch_changes() {
    let cluster = TestCluster::start(ClusterOptions {
        nodes: 4,
        shards: 12,
        epoch_ms: 4_000,
        ..ClusterOptions::default()
    })
    .await;
    let ledger = cluster.ledger();
    let floe = cluster.floe().await;
    let load = Load::start(&cluster, 1).await;
    let mut committee = shard_map(&ledger).await;
    let start_epoch = ledger.system().await.expect("system").epoch;
    for (node, amount) in [("node-4", 3_000), ("node-1", 6_000), ("node-2", 12_000)] {
        let before_ids = ids(&load.stored());
        let gainer = cluster
            .nodes
            .iter()
            .find(|n| n.config.name == node)
            .expect("node")
            .node_id();
        let had = committee.get(&gainer).map_or(0, Vec::len);
        floe.stake(node, Frost(amount * WAL)).await.expect("stake");
        let after = wait_for_committee(&ledger, "the staked node gains shards", |c| {
            c.get(&gainer).map_or(0, Vec::len) > had
        })
        .await;
        // Every member holds its (new) shards of every blob certified before the change.
        let cores = node_cores(&cluster);
        eventually(
            Duration::from_secs(30),
            "new holders hold their shards",
            || async { cores.iter().all(|c| holds_assigned(c, &after, &before_ids)) },
        )
        .await;
        drop(cores);
        committee = after;
    }
    let (blobs, reads) = load.finish().await;
    let end_epoch = ledger.system().await.expect("system").epoch;
    assert!(
        end_epoch.0 >= start_epoch.0 + 3,
        "{start_epoch} -> {end_epoch}"
    );
    assert!(
        blobs.len() >= 5 && reads >= 5,
        "load too small: {} stored, {reads} read",
        blobs.len()
    );
    let client = cluster.client().await;
    read_all(&client, &blobs).await;
    // Slivers moved from node to node (not all recovered), and the old holders dropped theirs.
    let cores = node_cores(&cluster);
    let pulled: u64 = cores
        .iter()
        .map(|c| c.metrics().shard_slivers_received.get())
        .sum();
    assert!(pulled > 0, "no sliver was pulled from a previous holder");
    let all = ids(&blobs);
    eventually(
        Duration::from_secs(30),
        "every node holds exactly its shards",
        || async {
            cores
                .iter()
                .all(|c| holds_assigned(c, &committee, &all) && holds_exactly_own(c, &all))
        },
    )
    .await;
    drop(cores);
    cluster.shutdown().await;
}

/// Four genesis nodes of 12 shards with `epoch_ms` epochs, and a standby node 5.
async fn cluster_with_standby(epoch_ms: u64) -> TestCluster {
    TestCluster::start(ClusterOptions {
        nodes: 4,
        shards: 12,
        epoch_ms,
        standby: 1,
        ..ClusterOptions::default()
    })
    .await
}

/// Stores blobs of the given sizes; returns them with their ids.
async fn store_all(client: &BlobClient, sizes: &[usize], seed: u64) -> Vec<(BlobId, Vec<u8>)> {
    let mut blobs = Vec::new();
    for (i, len) in sizes.iter().enumerate() {
        let bytes = data(*len, seed + i as u64);
        blobs.push((store(client, &bytes).await, bytes));
    }
    blobs
}

/// Node 5 registers, starts and gets stake; node 1's stake is requested back: at the next
/// selection node 5 replaces node 1. Returns (joiner, leaver).
async fn replace_node_1_with_node_5(
    cluster: &mut TestCluster,
    floe: &floe_client::Floe,
) -> (NodeId, NodeId) {
    let joiner = cluster.register_node(4).await;
    cluster.start_node(4).await;
    floe.stake("node-5", Frost(1_000 * WAL))
        .await
        .expect("stake");
    let request = floe
        .withdraw_from("node-1")
        .await
        .expect("withdrawal request");
    assert!(request.withdrawn.is_empty() && !request.pending.is_empty());
    (joiner, cluster.nodes[0].node_id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_plus1_a_node_joins_and_another_leaves() {
    let mut cluster = cluster_with_standby(4_000).await;
    let ledger = cluster.ledger();
    let floe = cluster.floe().await;
    let client = cluster.client().await;
    let blobs = store_all(&client, &[1, 1_000, 40_000, 100_000], 50).await;
    let (joiner, leaver) = replace_node_1_with_node_5(&mut cluster, &floe).await;
    let after = wait_for_committee(&ledger, "node 5 replaces node 1", |c| {
        c.contains_key(&joiner) && !c.contains_key(&leaver)
    })
    .await;
    assert_eq!(after.get(&joiner).map(Vec::len), Some(3), "{after:?}");

    let all = ids(&blobs);
    let joined = cluster.nodes[4].core().expect("running").clone();
    // The ledger's sync may be done before the joiner is (the nodes that gained nothing are a
    // quorum): it still pulls its shards.
    eventually(
        Duration::from_secs(30),
        "the joiner holds its shards",
        || async { holds_assigned(&joined, &after, &all) && holds_exactly_own(&joined, &all) },
    )
    .await;
    assert!(joined.metrics().shard_slivers_received.get() > 0);
    read_all(&client, &blobs).await;
    // The leaver drops everything once the sync is done.
    let left = cluster.nodes[0].core().expect("running").clone();
    eventually(
        Duration::from_secs(20),
        "the leaver drops its slivers",
        || async { left.storage().stats().slivers == 0 },
    )
    .await;
    drop((joined, left));
    // Its stake comes back (principal plus rewards) once it handed its shards over.
    let balance = |a| {
        let ledger = ledger.clone();
        async move { ledger.account(&a).await.expect("account").balance }
    };
    let user = floe.address().expect("wallet");
    let before_balance = balance(user).await;
    let returned = Arc::new(Mutex::new(Frost(0)));
    eventually(
        Duration::from_secs(30),
        "the leaver's stake is withdrawn",
        || async {
            match floe.withdraw_from("node-1").await {
                Ok(r) if !r.withdrawn.is_empty() => {
                    *returned.lock().unwrap() = Frost(r.withdrawn.iter().map(|w| w.amount.0).sum());
                    true
                }
                _ => false,
            }
        },
    )
    .await;
    let returned = *returned.lock().unwrap();
    assert!(returned.0 >= 1_000 * WAL, "returned {returned}");
    assert!(balance(user).await.0 > before_balance.0);
    cluster.shutdown().await;
}

/// A cluster in which node 5 replaces node 1, with node 1 (the previous holder of node 5's
/// shards) hanging from the mid-epoch selection until half a second after the epoch change, so
/// node 5's pull is in flight. Returns the cluster, the stored blobs, node 1's pause switch
/// (still on) and (joiner, leaver).
async fn change_with_hung_previous_holder(
    epoch_ms: u64,
    sizes: &[usize],
    seed: u64,
) -> (
    TestCluster,
    Vec<(BlobId, Vec<u8>)>,
    Arc<faults::Pause>,
    (NodeId, NodeId),
) {
    change_with_previous_holder_holding(epoch_ms, sizes, seed, faults::pausable()).await
}

/// Like [`change_with_hung_previous_holder`], with node 1 holding what `pausable` selects.
async fn change_with_previous_holder_holding(
    epoch_ms: u64,
    sizes: &[usize],
    seed: u64,
    (hook, pause): (floe_node::server::HandlerHook, Arc<faults::Pause>),
) -> (
    TestCluster,
    Vec<(BlobId, Vec<u8>)>,
    Arc<faults::Pause>,
    (NodeId, NodeId),
) {
    let mut cluster = cluster_with_standby(epoch_ms).await;
    cluster.stop_node(0).await;
    cluster.start_node_with(0, Some(hook)).await;
    let ledger = cluster.ledger();
    let floe = cluster.floe().await;
    let client = cluster.client().await;
    let blobs = store_all(&client, sizes, seed).await;
    let before = shard_map(&ledger).await;
    let nodes = replace_node_1_with_node_5(&mut cluster, &floe).await;
    eventually(
        Duration::from_secs(30),
        "the next committee is selected",
        || async {
            let sys = ledger.system().await.expect("system");
            sys.epoch_state == "next_committee_selected"
        },
    )
    .await;
    pause.pause();
    eventually(Duration::from_secs(30), "the epoch changes", || async {
        shard_map(&ledger).await != before
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    (cluster, blobs, pause, nodes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_plus1_previous_holder_killed_mid_migration() {
    // Node 1 hangs across the change and is then killed: its shards' new holder finds the
    // previous holder gone mid-migration.
    let (mut cluster, blobs, _pause, (joiner, leaver)) =
        change_with_hung_previous_holder(4_000, &[10, 30_000, 70_000], 70).await;
    let ledger = cluster.ledger();
    let client = cluster.client().await;
    cluster.stop_node(0).await;
    let after = wait_for_committee(&ledger, "node 5 replaces node 1", |c| {
        c.contains_key(&joiner) && !c.contains_key(&leaver)
    })
    .await;
    assert_eq!(after.get(&joiner).map(Vec::len), Some(3), "{after:?}");
    let joined = cluster.nodes[4].core().expect("running").clone();
    let all = ids(&blobs);
    eventually(
        Duration::from_secs(60),
        "the joiner recovers its shards",
        || async { holds_every_sliver(&joined, &all) },
    )
    .await;
    let m = joined.metrics();
    assert!(
        m.shard_sync_fallbacks.get() > 0,
        "the pull did not fail over"
    );
    assert!(m.slivers_recovered.get() > 0, "nothing was recovered");
    drop(joined);
    read_all(&client, &blobs).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_plus1_gainer_restarts_mid_migration_and_resumes_the_pull() {
    // Node 1 hangs across the change, so node 5's pull is in flight when node 5 stops; node 1
    // then recovers and node 5 restarts. Longer epochs: all of it within the epoch of the
    // change.
    let (mut cluster, blobs, pause, (joiner, _)) =
        change_with_hung_previous_holder(10_000, &[20, 25_000, 60_000], 90).await;
    let ledger = cluster.ledger();
    let client = cluster.client().await;
    let epoch = ledger.system().await.expect("system").epoch;
    cluster.stop_node(4).await;
    pause.resume();
    cluster.start_node(4).await;
    let joined = cluster.nodes[4].core().expect("running").clone();
    let all = ids(&blobs);
    eventually(
        Duration::from_secs(30),
        "the joiner holds its shards",
        || async { !joined.shards().is_empty() && holds_every_sliver(&joined, &all) },
    )
    .await;
    assert_eq!(
        ledger.system().await.expect("system").epoch,
        epoch,
        "the restart and the pull fell in the epoch of the change"
    );
    let m = joined.metrics();
    assert!(
        m.shard_slivers_received.get() > 0,
        "the restarted node pulled its shards"
    );
    assert_eq!(m.shard_sync_fallbacks.get(), 0);
    eventually(
        Duration::from_secs(10),
        "the restarted node reports",
        || async { m.epoch_syncs_reported.get() == 1 },
    )
    .await;
    assert!(
        joined
            .storage()
            .epoch_record()
            .unwrap()
            .is_some_and(|r| r.epoch == epoch)
    );
    drop(joined);
    let after = shard_map(&ledger).await;
    assert_eq!(after.get(&joiner).map(Vec::len), Some(3), "{after:?}");
    read_all(&client, &blobs).await;
    cluster.shutdown().await;
}

/// `/floe/sync-shard/1` during a real change: node 5 takes node 1's shards, and node 1 holds
/// node 5's own pull so the change stays syncing. Node 1 then refuses an outsider, a forged
/// signature, another network, another epoch, a shard the requester does not hold, and a shard
/// it did not hold before the change, each with its own reason; the new holder asking for its
/// gained shard is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_shard_sync_is_served_only_to_a_new_holder() {
    use floe_common::messages::{ProtocolMessage, SignedMessage, SyncShardRequest};
    use floe_common::{Epoch, KeyPair, SliverAxis};
    use floe_node_protocol::p2p::{CallError, P2p, Request};
    use floe_node_protocol::protocol::{self, NodeError, SyncRefusal};

    /// Pages the test asks for (node 5's own pull asks for more).
    const TEST_PAGE: u64 = 10;
    let holds_pull = faults::pausable_for(Box::new(|_, request| match request {
        Request::SyncShard(signed) => {
            ProtocolMessage::<SyncShardRequest>::from_bytes(&signed.serialized)
                .is_ok_and(|m| m.body.count != TEST_PAGE)
        }
        _ => false,
    }));
    let (cluster, _blobs, pause, (joiner, leaver)) =
        change_with_previous_holder_holding(10_000, &[20_000, 40_000], 110, holds_pull).await;
    let ledger = cluster.ledger();
    let committee = shard_map(&ledger).await;
    assert!(committee.contains_key(&joiner) && !committee.contains_key(&leaver));
    let gained = committee[&joiner][0];
    let stayer = cluster.nodes[1].node_id();
    let others_shard = committee[&stayer][0];
    let server = cluster.nodes[0].core().expect("running").clone();
    let epoch = ledger.system().await.expect("system").epoch;
    eventually(Duration::from_secs(10), "node 1 applies the change", || {
        let server = server.clone();
        async move { server.epoch() == epoch }
    })
    .await;
    let config = *server.config();
    let addr: libp2p::Multiaddr = cluster.nodes[0].config.p2p_listen.parse().expect("addr");
    let peer = floe_node_protocol::network::peer_id_of(server.key());
    let chain = server.chain_id().to_owned();
    drop(server);
    let ask_on = |chain: &str, key: KeyPair, signer: KeyPair, shard, epoch: Epoch| {
        let addr = addr.clone();
        let request = ProtocolMessage::new(
            chain,
            epoch,
            SyncShardRequest {
                shard,
                axis: SliverAxis::Primary,
                start: BlobId([0; 32]),
                count: TEST_PAGE,
            },
        );
        async move {
            let cancel = tokio_util::sync::CancellationToken::new();
            let (p2p, _, _task) =
                P2p::start(&key, &protocol::limits(&config), None, cancel.clone())
                    .await
                    .expect("swarm");
            let signed = SignedMessage::sign(&signer, &request);
            let answer = p2p.sync_shard(peer, vec![addr], signed).await;
            cancel.cancel();
            answer
        }
    };
    let ask = |key, signer, shard, epoch| ask_on(&chain, key, signer, shard, epoch);
    let new_holder = cluster.nodes[4].key.clone();
    let member = cluster.nodes[1].key.clone();
    let outsider = KeyPair::generate(&mut rand::rngs::OsRng);
    let refused = |answer: Result<_, CallError>| match answer {
        Err(CallError::Node(NodeError::NotSyncing(reason))) => Some(reason),
        _ => None,
    };

    let r = refused(ask(outsider.clone(), outsider, gained, epoch).await);
    assert_eq!(r, Some(SyncRefusal::NotAMember), "outsider");
    let r = refused(ask(new_holder.clone(), member.clone(), gained, epoch).await);
    assert!(
        matches!(r, Some(SyncRefusal::BadSignature(_))),
        "forged signature: {r:?}"
    );
    let r = refused(
        ask_on(
            "another-network",
            new_holder.clone(),
            new_holder.clone(),
            gained,
            epoch,
        )
        .await,
    );
    assert_eq!(
        r,
        Some(SyncRefusal::WrongChain("another-network".into())),
        "another network"
    );
    let next = Epoch(epoch.0 + 1);
    let r = refused(ask(new_holder.clone(), new_holder.clone(), gained, next).await);
    assert_eq!(
        r,
        Some(SyncRefusal::WrongEpoch {
            requested: next,
            current: epoch
        }),
        "another epoch"
    );
    let r = refused(ask(new_holder.clone(), new_holder.clone(), others_shard, epoch).await);
    assert_eq!(
        r,
        Some(SyncRefusal::RequesterLacksShard(others_shard)),
        "shard not held by the requester"
    );
    let r = refused(ask(member.clone(), member, others_shard, epoch).await);
    assert_eq!(
        r,
        Some(SyncRefusal::NotPreviousHolder(others_shard)),
        "shard the server did not hold before the change"
    );
    let served = ask(new_holder.clone(), new_holder, gained, epoch)
        .await
        .expect("the new holder is served");
    assert!(!served.slivers.is_empty(), "the gained shard's slivers");
    assert!(pause.stalled() > 0, "node 5's pull was held");
    pause.resume();
    cluster.shutdown().await;
}
