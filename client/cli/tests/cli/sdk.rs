//! The SDK against a real validator: wallet, faucet, transfers, typed rejections, staking by
//! name and id, withdrawal across an epoch change, blob objects (list, extend, delete), nonce
//! races.

use std::time::Duration;

use floe_client::{ErrorKind, Floe, FloeError, Wallet};
use floe_common::messages::BlobPersistence;
use floe_common::{EncodingConfig, EncodingType, Frost};
use floe_ledger::{Object, TxError, TxKind};

use crate::support::{FUNDS, MIN_FEE, N_SHARDS, Net, addr, node_key, user, wal};

async fn floe_for(net: &Net, wallet: Wallet) -> Floe {
    Floe::connect(vec![net.url.clone()])
        .await
        .expect("connect")
        .with_wallet(wallet)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_faucet_transfer_and_typed_rejections() {
    let net = Net::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wallet.json");
    let created = Wallet::create(&path).unwrap();
    let wallet = Wallet::load(&path).unwrap();
    assert_eq!(wallet.address(), created.address());
    let floe = floe_for(&net, wallet).await;
    assert_eq!(floe.chain_id(), crate::support::CHAIN);
    assert_eq!(floe.min_fee(), MIN_FEE);
    assert_eq!(floe.balance().await.unwrap(), Frost::ZERO);

    // Faucet: the default amount is the per-call maximum; the fee comes out of it.
    let (minted, receipt) = floe.faucet(None).await.unwrap();
    assert_eq!(minted, wal(100));
    assert_eq!(receipt.step, "faucet");
    assert_eq!(receipt.effects.fee_charged, MIN_FEE);
    let balance = floe.balance().await.unwrap();
    assert_eq!(balance, Frost(wal(100).0 - MIN_FEE.0));

    // Over the faucet's limit: typed, nothing charged.
    let err = floe.faucet(Some(wal(101))).await.unwrap_err();
    assert_eq!(err.code(), "faucet_limit");
    assert_eq!(floe.balance().await.unwrap(), balance);

    // Transfer to a funded genesis account: both balances move, the sender pays the fee.
    let other = addr(&user(0));
    let receipt = floe.transfer(other, wal(30)).await.unwrap();
    assert!(receipt.height > 0);
    let after = floe.balance().await.unwrap();
    assert_eq!(after, Frost(balance.0 - wal(30).0 - MIN_FEE.0));
    assert_eq!(
        floe.balance_of(&other).await.unwrap(),
        Frost(wal(FUNDS).0 + wal(30).0)
    );

    // Insufficient funds: a typed rejection naming the step, and nothing charged.
    let nonce = floe.account(&floe.address().unwrap()).await.unwrap().nonce;
    let err = floe.transfer(other, wal(500)).await.unwrap_err();
    match &err {
        FloeError::LedgerRejected {
            step, code, error, ..
        } => {
            assert_eq!(*step, "transfer");
            assert_eq!(code, "insufficient_balance");
            assert!(matches!(
                error.as_deref(),
                Some(TxError::InsufficientBalance { needed, available })
                    if *needed == Frost(wal(500).0 + MIN_FEE.0) && *available == after
            ));
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(floe.balance().await.unwrap(), after, "nothing charged");
    let account = floe.account(&floe.address().unwrap()).await.unwrap();
    assert_eq!(
        account.nonce, nonce,
        "refused before signing: no nonce used"
    );

    // A read-only handle cannot sign.
    let reader = Floe::connect(vec![net.url.clone()]).await.unwrap();
    assert!(matches!(
        reader.transfer(other, wal(1)).await,
        Err(FloeError::NoWallet { step: "transfer" })
    ));
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transactions_of_one_wallet_get_distinct_nonces() {
    let net = Net::start().await;
    let key = user(1);
    let to = addr(&user(2));
    // Two handles on one wallet race for the same nonce; the loser retries with a fresh one.
    let a = floe_for(&net, Wallet::from_key(key.clone())).await;
    let b = floe_for(&net, Wallet::from_key(key.clone())).await;
    let (ra, rb) = tokio::join!(a.transfer(to, wal(1)), b.transfer(to, wal(2)));
    ra.unwrap();
    rb.unwrap();
    // One handle shared by concurrent callers submits one at a time.
    let (rc, rd) = tokio::join!(a.transfer(to, wal(3)), a.transfer(to, wal(4)));
    rc.unwrap();
    rd.unwrap();
    assert_eq!(
        a.balance_of(&to).await.unwrap(),
        Frost(wal(FUNDS).0 + wal(10).0)
    );
    assert_eq!(a.account(&addr(&key)).await.unwrap().nonce, 4);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stake_by_name_and_id_then_withdraw_after_the_epoch() {
    // Two-second epochs, so a withdrawal can complete within the test.
    let net = Net::start_with_epochs(2_000).await;
    let floe = floe_for(&net, Wallet::from_key(user(3))).await;
    let nodes = floe.nodes().await.unwrap();
    assert_eq!(nodes.len(), 4);
    let node3 = nodes.iter().find(|n| n.node.name == "node-3").unwrap();

    let by_name = floe.stake("node-2", wal(5)).await.unwrap();
    assert_eq!(by_name.node_name, "node-2");
    let by_id = floe
        .stake(&node3.node.node_id.to_string(), wal(7))
        .await
        .unwrap();
    assert_eq!(by_id.node_id, node3.node.node_id);
    assert_eq!(by_id.node_name, "node-3");
    // Names also match ignoring case.
    assert_eq!(
        floe.resolve_node("NODE-4").await.unwrap().node.name,
        "node-4"
    );
    let stakes = floe.stakes().await.unwrap();
    assert_eq!(stakes.len(), 2);
    assert!(
        stakes
            .iter()
            .any(|s| s.object_id == by_name.staked_object && s.stake.amount == wal(5))
    );
    let node3_after = floe.resolve_node("node-3").await.unwrap();
    assert_eq!(node3_after.node.total_stake.0, wal(1_000).0 + wal(7).0);
    let balance = floe.balance().await.unwrap();
    assert_eq!(balance.0, wal(FUNDS).0 - wal(12).0 - 2 * MIN_FEE.0);

    // Unknown nodes and nodes without our stake are typed errors.
    match floe.stake("node-9", wal(1)).await.unwrap_err() {
        FloeError::UnknownNode { node, known } => {
            assert_eq!(node, "node-9");
            assert_eq!(known, ["node-1", "node-2", "node-3", "node-4"]);
        }
        other => panic!("expected UnknownNode, got {other:?}"),
    }
    let zero_id = format!("0x{}", "00".repeat(32));
    assert!(matches!(
        floe.stake(&zero_id, wal(1)).await,
        Err(FloeError::UnknownNode { .. })
    ));
    assert!(matches!(
        floe.withdraw_from("node-1").await,
        Err(FloeError::NoStake { node }) if node == "node-1"
    ));
    assert_eq!(floe.balance().await.unwrap(), balance, "nothing charged");

    // The stake activates at an epoch boundary.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let s = floe.stakes().await.unwrap();
        let s = s
            .iter()
            .find(|s| s.object_id == by_name.staked_object)
            .unwrap();
        if s.stake.status == floe_ledger::StakeStatus::Active {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stake never activated"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Withdraw: the first call requests, a call in a later epoch pays back.
    let first = floe.withdraw_from("node-2").await.unwrap();
    assert!(first.withdrawn.is_empty());
    let pending = &first.pending[0];
    assert!(pending.requested_now);
    assert_eq!(pending.object_id, by_name.staked_object);
    assert!(pending.withdrawable_from > pending.requested_epoch);
    let before = floe.balance().await.unwrap();
    // After the epoch in which it leaves the pool (during that epoch's shard sync the stake of a
    // node handing shards over may be locked), the next call pays it back.
    let w = pending.withdrawable_from;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while floe.system().await.unwrap().epoch <= w {
        assert!(std::time::Instant::now() < deadline, "epoch never advanced");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let done = floe.withdraw_from("node-2").await.unwrap();
    assert!(done.pending.is_empty());
    assert_eq!(done.withdrawn[0].amount, wal(5));
    assert_eq!(
        floe.balance().await.unwrap().0,
        before.0 + wal(5).0 - MIN_FEE.0,
        "principal back, minus the withdrawal's fee"
    );
    assert_eq!(floe.stakes().await.unwrap().len(), 1);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_objects_register_list_extend_delete() {
    let net = Net::start().await;
    let floe = floe_for(&net, Wallet::from_key(user(4))).await;
    let system = floe.system().await.unwrap();
    assert_eq!(system.n_shards, N_SHARDS);

    // Register a real encoded blob (what the store path will do) through `execute`.
    let data: Vec<u8> = (0..5_000u32).map(|i| (i % 253) as u8).collect();
    let config = EncodingConfig::new(system.n_shards).unwrap();
    let encoded = floe_common::encode_blob(&config, &data).unwrap();
    let blob_id = encoded.blob_id();
    assert_eq!(
        floe_client::blob_id_of(&data, system.n_shards)
            .unwrap()
            .blob_id,
        blob_id
    );
    let reserve = floe
        .execute(
            "reserve",
            TxKind::ReserveSpace {
                encoded_size: config.encoded_length(data.len() as u64).unwrap(),
                epochs_ahead: 3,
            },
        )
        .await
        .unwrap();
    let storage = reserve.effects.created[0];
    let register = floe
        .execute(
            "register",
            TxKind::RegisterBlob {
                storage,
                blob_id,
                root_hash: encoded.metadata.metadata().root(),
                unencoded_length: data.len() as u64,
                encoding_type: EncodingType::RedStuffRs2,
                deletable: true,
            },
        )
        .await
        .unwrap();
    let object = register.effects.created[0];

    let blobs = floe.list_blobs().await.unwrap();
    assert_eq!(blobs.len(), 1);
    assert_eq!(blobs[0].object_id, object);
    assert_eq!(blobs[0].blob.blob_id, blob_id);
    let status = floe.blob_status(&blob_id).await.unwrap().unwrap();
    assert!(status.deletable && !status.certified);

    // Extending an uncertified blob is refused, typed.
    let err = floe.extend_blob(object, 2).await.unwrap_err();
    assert_eq!(err.code(), "not_certified");
    assert!(matches!(err.tx_error(), Some(TxError::NotCertified(o)) if *o == object));

    // Certify with the storage nodes' confirmations, then extend.
    let committee = floe.certificate_committee().await.unwrap();
    let keys: Vec<_> = (0..4).map(node_key).collect();
    let epoch = committee.epoch();
    let certificate = floe_ledger::testkit::confirmation_certificate(
        crate::support::CHAIN,
        &committee,
        &keys,
        epoch,
        blob_id,
        BlobPersistence::Deletable(object),
        4,
    )
    .unwrap();
    floe.execute(
        "certify",
        TxKind::CertifyBlob {
            blob_object: object,
            certificate,
        },
    )
    .await
    .unwrap();
    let end = floe.list_blobs().await.unwrap()[0].blob.end_epoch;
    floe.extend_blob(object, 2).await.unwrap();
    let extended = floe.list_blobs().await.unwrap();
    assert_eq!(extended[0].blob.end_epoch.0, end.0 + 2);

    // Someone else cannot delete it; the owner can, and gets the storage back.
    let stranger = floe_for(&net, Wallet::from_key(user(5))).await;
    assert_eq!(
        stranger.delete_blob(object).await.unwrap_err().code(),
        "not_owner"
    );
    let deleted = floe.delete_blob(object).await.unwrap();
    let returned = deleted.effects.created[0];
    assert!(floe.list_blobs().await.unwrap().is_empty());
    assert!(floe.blob_status(&blob_id).await.unwrap().is_none());
    let account = floe.account(&floe.address().unwrap()).await.unwrap();
    assert!(
        account
            .objects
            .iter()
            .any(|o| o.object_id == returned && matches!(o.object, Object::Storage(_)))
    );
    net.stop().await;
}

#[tokio::test]
async fn unreachable_ledger_is_a_network_error() {
    let port = floe_ledger::localnet::free_port().unwrap();
    let err = Floe::connect(vec![format!("http://127.0.0.1:{port}")])
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        FloeError::Unreachable {
            step: "connect",
            ..
        }
    ));
    assert_eq!(err.kind(), ErrorKind::Network);
}
