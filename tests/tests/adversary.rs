//! Hostile infrastructure around honest storage nodes. Every test is named `adv_…` after the
//! attack it survives.

use floe_client::blobs::{ConnectError, StoreOptions, StoreOutcome};
use floe_client::{BlobClient, BlobOptions, Floe, LedgerTrust, TrustError, Wallet};
use floe_common::{ConsistencyCheck, Epoch, Frost, KeyPair};
use floe_ledger::{Address, LedgerClient};
use floe_tests::byzantine_rpc::{FORGED_END_EPOCH, FORGED_EPOCH, Forgery};
use floe_tests::{ByzantineRpc, ClusterOptions, TestCluster, data, holds_every_sliver};

/// Every node lists a Byzantine RPC server first: it serves real blocks with valid commit
/// certificates but forged results (certifications dropped, every blob invalidated, a jump to
/// epoch 1,000,000). The nodes check each block's results against the next certified header,
/// refuse the forgeries, leave that server for the honest validator, and go on: no blob is
/// invalidated or deleted, the epoch stays put, and every blob stored through them is held in
/// full and reads back byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adv_byzantine_rpc_forged_results() {
    let cluster = TestCluster::start(ClusterOptions {
        byzantine_rpc: true,
        ..ClusterOptions::default()
    })
    .await;
    let client = cluster.client().await;
    let mut stored = Vec::new();
    for i in 0..3u64 {
        let bytes = data(150_000 + i as usize * 1_000, 900 + i);
        let id = client
            .store(&bytes, &StoreOptions::default())
            .await
            .unwrap_or_else(|e| panic!("store {i}: {e}"))
            .blob_id();
        stored.push((id, bytes));
    }
    cluster.wait_nodes_synced().await;
    let rpc = cluster.byzantine_rpc.as_ref().expect("byzantine rpc");
    assert!(rpc.forged() > 0, "the forger served forged records");
    let ids: Vec<_> = stored.iter().map(|(id, _)| *id).collect();
    for node in &cluster.nodes {
        let core = node.core().expect("running");
        let rejected = core.metrics().ledger_records_rejected.get();
        assert!(
            rejected >= 1,
            "{}: no record was rejected",
            node.config.name
        );
        assert_eq!(core.epoch(), Epoch(0), "{}", node.config.name);
        assert_ne!(core.epoch(), FORGED_EPOCH);
        for id in &ids {
            let state = core.storage().blob_state(id).unwrap().expect("known blob");
            assert!(
                state.is_certified() && !state.invalid,
                "{}: {id}",
                node.config.name
            );
        }
        assert!(holds_every_sliver(core, &ids), "{}", node.config.name);
    }
    for (id, bytes) in &stored {
        let read = client.read(*id, ConsistencyCheck::Strict).await.unwrap();
        assert_eq!(&read.data, bytes);
    }
    cluster.shutdown().await;
}

/// The same Byzantine server reports another chain id and a minimum fee of 1,000 WAL. A client
/// configured with its chain refuses to connect through it; a client that is not still never
/// signs a fee above its cap, so nothing is submitted and nothing is paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adv_byzantine_rpc_wrong_chain_and_inflated_fee() {
    let cluster = TestCluster::start(ClusterOptions {
        // One node: the ledger needs a committee; the clients here never reach it.
        nodes: 1,
        byzantine_rpc: true,
        ..ClusterOptions::default()
    })
    .await;
    let proxy = cluster
        .byzantine_rpc
        .as_ref()
        .expect("byzantine rpc")
        .url
        .clone();
    let lying = || LedgerClient::new(vec![proxy.clone()]);
    let pinned = LedgerTrust {
        chain_id: Some(cluster.genesis.chain_id.clone()),
        ..LedgerTrust::default()
    };
    let err = Floe::with_trust(lying(), pinned.clone()).await.unwrap_err();
    assert_eq!(err.code(), "wrong_chain", "{err}");
    let options = BlobOptions {
        trust: pinned.clone(),
        ..BlobOptions::default()
    };
    let err = BlobClient::connect(lying(), cluster.user.clone(), options)
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(err, ConnectError::Trust(TrustError::WrongChain { .. })),
        "{err}"
    );
    // Through the honest validator the same configuration connects.
    Floe::with_trust(cluster.ledger(), pinned)
        .await
        .expect("honest");

    // Unpinned, the client connects but will not sign the inflated fee.
    let user = Address::of(&cluster.user.public());
    let before = cluster.ledger().account(&user).await.unwrap();
    let floe = Floe::with_trust(lying(), LedgerTrust::default())
        .await
        .unwrap()
        .with_wallet(Wallet::from_key(cluster.user.clone()));
    let err = floe
        .transfer(Address::of(&KeyPair::from_seed([9; 32]).public()), Frost(1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "fee_above_cap", "{err}");
    let after = cluster.ledger().account(&user).await.unwrap();
    assert_eq!((after.balance, after.nonce), (before.balance, before.nonce));
    cluster.shutdown().await;
}

/// A Byzantine RPC server claims that every blob is already certified until epoch 1,000, and
/// names a block as evidence. A client that believes it skips the store, and the blob is
/// stored nowhere. A client that knows the chain's genesis fetches the named block with the
/// next certified header, finds no such certification, and stores the blob, which reads back.
/// Through an honest server the same client proves the real certification and skips the
/// second store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adv_byzantine_rpc_forged_certification() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let proxy = ByzantineRpc::start_with(&cluster.rpc_url, Forgery::BLOB_STATUS).await;
    let lying = || LedgerClient::new(vec![proxy.url.clone()]);
    let bytes = data(120_000, 4242);

    let credulous = BlobClient::connect(lying(), cluster.user.clone(), BlobOptions::default())
        .await
        .unwrap();
    let outcome = credulous
        .store(&bytes, &StoreOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(outcome, StoreOutcome::AlreadyCertified { end_epoch, .. } if end_epoch == FORGED_END_EPOCH),
        "{outcome:?}"
    );
    let id = outcome.blob_id();
    assert!(
        cluster.ledger().blob_status(&id).await.unwrap().is_none(),
        "believing the forgery, nothing was stored"
    );

    let trust = LedgerTrust::from_genesis(&cluster.genesis).unwrap();
    let options = || BlobOptions {
        trust: trust.clone(),
        ..BlobOptions::default()
    };
    let careful = BlobClient::connect(lying(), cluster.user.clone(), options())
        .await
        .unwrap();
    let outcome = careful
        .store(&bytes, &StoreOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(outcome, StoreOutcome::NewlyCreated { .. }),
        "{outcome:?}"
    );
    assert!(proxy.forged() >= 2, "the forger answered both clients");
    let status = cluster.ledger().blob_status(&id).await.unwrap().unwrap();
    assert!(status.certified && !status.invalid);
    let read = cluster
        .client()
        .await
        .read(id, ConsistencyCheck::Strict)
        .await
        .unwrap();
    assert_eq!(read.data, bytes);

    // The real certification proves, and the store is skipped on its strength.
    let (chain, validators) = trust.proof_root().unwrap();
    let proven = cluster
        .ledger()
        .proven_certification(&id, chain, validators)
        .await
        .unwrap()
        .expect("certified");
    assert_eq!(Some(proven.object_id), status.evidence.map(|e| e.object_id));
    let again = cluster
        .client_with(options())
        .await
        .store(&bytes, &StoreOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(again, StoreOutcome::AlreadyCertified { end_epoch, .. } if end_epoch == proven.end_epoch),
        "{again:?}"
    );
    cluster.shutdown().await;
}
