//! The operator commands of `floe-node` against a real cluster, through the same library
//! functions the commands call: registering a node from its owner's wallet, and backing up a
//! running node then restoring it. Scenario names give the fault model: `n4` = 4 nodes (12
//! shards).

use std::time::Duration;

use floe_client::blobs::StoreOptions;
use floe_common::{BlobId, Frost, KeyPair};
use floe_ledger::Address;
use floe_node::Storage;
use floe_node::ops::ErrorKind;
use floe_node::ops::backup::backup;
use floe_node::ops::register::{RegisterError, RegisterOptions, register};
use floe_node::ops::restore::{RestoreError, restore};
use floe_tests::{ClusterOptions, TestCluster, WAL, data, eventually, holds_every_sliver};

fn opts() -> StoreOptions {
    StoreOptions {
        epochs: 2,
        ..StoreOptions::default()
    }
}

/// Waits until node `i` holds every sliver of `blobs` it should.
async fn wait_holds(cluster: &TestCluster, i: usize, blobs: &[BlobId], what: &str) {
    eventually(Duration::from_secs(60), what, || async {
        cluster.nodes[i]
            .core()
            .is_some_and(|core| holds_every_sliver(core, blobs))
    })
    .await;
}

/// Node 2 is checkpointed through its loopback admin route while it runs; blob B is stored
/// after. Node 2 is stopped and its store replaced by the checkpoint, which knows nothing of
/// B. On start the follower replays the blocks after the checkpoint's cursor, B's
/// certification queues it for sync, and the node recovers exactly B's slivers from its
/// peers; A comes from the checkpoint. While the node runs, restoring is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_restore_checkpoint_then_catch_up() {
    let mut cluster = TestCluster::start(ClusterOptions::default()).await;
    let client = cluster.client().await;
    let node = 1;
    let a = client
        .store(&data(150_000, 1), &opts())
        .await
        .unwrap()
        .blob_id();
    wait_holds(&cluster, node, &[a], "node 2 holds A").await;

    let http = cluster.nodes[node].http_addr().expect("node 2 runs");
    let checkpoint = cluster.dir.path().join("backups/node-2");
    let made = backup(http, &checkpoint)
        .await
        .expect("checkpoint through the admin route");
    assert_eq!(made.dir, checkpoint);
    assert!(made.ledger_height > 0, "the node had followed the ledger");

    let b = client
        .store(&data(170_000, 2), &opts())
        .await
        .unwrap()
        .blob_id();
    wait_holds(&cluster, node, &[b], "node 2 holds B before it stops").await;

    // Running: the store is locked, nothing is replaced.
    let config = cluster.nodes[node].config.clone();
    match restore(&config, &checkpoint, true) {
        Err(e @ RestoreError::NodeRunning { .. }) => assert_eq!(e.kind(), ErrorKind::Local),
        other => panic!("restore while running: {other:?}"),
    }
    cluster.stop_node(node).await;
    assert!(matches!(
        restore(&config, &checkpoint, false),
        Err(RestoreError::TargetExists { .. })
    ));
    let restored = restore(&config, &checkpoint, true).expect("restore");
    assert!(restored.replaced);
    assert_eq!(restored.ledger_height, made.ledger_height);
    assert!(checkpoint.join("CURRENT").is_file(), "the checkpoint stays");
    {
        let encoding = floe_node::server::encoding_of(&cluster.genesis).unwrap();
        let st = Storage::open_read_only(&restored.db, encoding).unwrap();
        assert_eq!(st.ledger_tip().unwrap().height, made.ledger_height);
        assert!(st.has_metadata(&a).unwrap(), "A is in the checkpoint");
        assert!(
            !st.has_metadata(&b).unwrap(),
            "B is not: it was stored after"
        );
        assert!(
            st.blob_state(&b).unwrap().is_none(),
            "B is unknown at the cursor"
        );
    }

    cluster.start_node(node).await;
    wait_holds(&cluster, node, &[a, b], "restored node 2 holds A and B").await;
    let core = cluster.nodes[node].core().unwrap();
    assert!(
        core.health().ledger_height > made.ledger_height,
        "replayed past the checkpoint"
    );
    let held = core.shards().len() as u64;
    assert!(held > 0);
    assert_eq!(
        core.metrics().slivers_recovered.get(),
        2 * held,
        "B's slivers (both axes of each held shard) came through recovery, A's from the checkpoint"
    );
    let ledger = cluster.ledger();
    let tip = ledger.system().await.unwrap().tip_height;
    assert!(tip > made.ledger_height);
    cluster.shutdown().await;
}

/// A standby node is registered and staked from its owner's wallet file; registering it again,
/// a wallet without funds and a wallet that cannot be read are typed refusals that sign
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_register_node_then_refusals() {
    let cluster = TestCluster::start(ClusterOptions {
        standby: 1,
        ..ClusterOptions::default()
    })
    .await;
    let wallet = cluster.dir.path().join("owner-wallet.json");
    floe_runtime::write_key_file(&wallet, &cluster.user).unwrap();
    let config = cluster.nodes[4].config.clone();
    let stake = Frost(250 * WAL);
    let registered = register(&config, &wallet, &RegisterOptions::staking(stake))
        .await
        .expect("registers");
    assert_eq!(registered.node_id, cluster.nodes[4].node_id());
    assert_eq!(registered.owner, Address::of(&cluster.user.public()));
    assert!(registered.height > registered.registered_height);
    let ledger = cluster.ledger();
    let node = ledger
        .node(&registered.node_id)
        .await
        .unwrap()
        .expect("on the ledger");
    assert_eq!(node.node.name, config.name);
    assert_eq!(node.node.owner, registered.owner);
    assert_eq!(node.node.network_address, config.p2p_listen);
    assert_eq!(node.node.total_stake, stake);
    assert_eq!(registered.node_account_balance, Frost(1_000 * WAL));

    // Again: already registered, refused before anything is signed.
    let nonce = ledger.account(&registered.owner).await.unwrap().nonce;
    let err = register(&config, &wallet, &RegisterOptions::staking(stake))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegisterError::AlreadyRegistered { .. }),
        "{err}"
    );
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::Rejected, "already_registered")
    );
    assert_eq!(
        ledger.account(&registered.owner).await.unwrap().nonce,
        nonce
    );

    // Another node under a taken name, and an owner without funds.
    let mut other = config.clone();
    other.key_file = cluster.dir.path().join("other-key.json");
    floe_runtime::write_key_file(&other.key_file, &KeyPair::from_seed([77; 32])).unwrap();
    let err = register(&other, &wallet, &RegisterOptions::staking(stake))
        .await
        .unwrap_err();
    assert!(matches!(err, RegisterError::NameTaken { .. }), "{err}");
    other.name = "node-other".into();
    let poor = cluster.dir.path().join("poor-wallet.json");
    floe_runtime::write_key_file(&poor, &KeyPair::from_seed([78; 32])).unwrap();
    let err = register(&other, &poor, &RegisterOptions::staking(stake))
        .await
        .unwrap_err();
    match &err {
        RegisterError::InsufficientFunds {
            needed, available, ..
        } => {
            assert_eq!(*available, Frost::ZERO);
            assert!(*needed > stake);
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::Rejected, "insufficient_funds")
    );
    assert!(
        ledger
            .nodes()
            .await
            .unwrap()
            .iter()
            .all(|n| n.node.name != "node-other")
    );
    cluster.shutdown().await;
}
