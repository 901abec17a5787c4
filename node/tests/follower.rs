//! The ledger follower against a real in-process ledger served over HTTP, with blocks committed
//! by real validator precommit signatures.

use std::sync::Arc;
use std::time::Duration;

use floe_common::hash::Digest;
use floe_common::messages::BlobPersistence;
use floe_common::{BlobId, EncodingConfig, Epoch, Frost, KeyPair, ObjectId};
use floe_ledger::rpc::{RpcConfig, serve};
use floe_ledger::service::Ledger;
use floe_ledger::store::LedgerStore;
use floe_ledger::{
    Address, Genesis, GenesisNode, LedgerClient, SignedTransaction, Transaction, TxKind,
    ValidatorInfo, ValidatorSet,
};
use floe_node::{BlobState, Follower, FollowerError, Storage, StorageOptions};
use prometheus_client::metrics::counter::Counter;
use tokio_util::sync::CancellationToken;

const CHAIN: &str = "floe-follower-test";
const MIN_FEE: Frost = Frost(10);
const N_SHARDS: u16 = 10;

fn validator_key(i: usize) -> KeyPair {
    KeyPair::from_seed([i as u8 + 200; 32])
}

fn user_key() -> KeyPair {
    KeyPair::from_seed([1; 32])
}

fn node_key(i: usize) -> KeyPair {
    KeyPair::from_seed([i as u8 + 100; 32])
}

fn addr(k: &KeyPair) -> Address {
    Address::of(&k.public())
}

fn genesis() -> Genesis {
    let mut g = Genesis::builder(CHAIN, N_SHARDS)
        .time_ms(1_000_000)
        .params(|p| {
            p.epoch_duration_ms = 60_000;
            p.max_epochs_ahead = 10;
            p.min_fee = MIN_FEE;
            p.max_shards_per_node = 100;
        })
        .account(addr(&user_key()), Frost(1_000_000_000_000));
    for i in 0..4 {
        g = g.validator(format!("validator-{i}"), validator_key(i).public(), 1);
    }
    for i in 0..2 {
        g = g.node(GenesisNode {
            commission_bps: 500,
            ..GenesisNode::new(
                format!("node-{i}"),
                node_key(i).public(),
                addr(&user_key()),
                Frost(1_000_000_000),
                format!("/ip4/127.0.0.1/tcp/{}", 9000 + i),
                format!("http://127.0.0.1:{}", 8000 + i),
            )
        });
    }
    g.build()
}

fn signed(nonce: u64, kind: TxKind) -> SignedTransaction {
    let key = user_key();
    SignedTransaction::sign(
        &key,
        Transaction {
            sender: addr(&key),
            nonce,
            fee: MIN_FEE,
            kind,
        },
        CHAIN,
    )
}

/// Commits the next block from the mempool with precommits of validators 0, 1 and 2.
fn make_block(ledger: &Ledger) -> u64 {
    let keys: Vec<KeyPair> = (0..3).map(validator_key).collect();
    let refs: Vec<&KeyPair> = keys.iter().collect();
    floe_ledger::testkit::commit_next_block(ledger, &refs)
        .expect("commit")
        .block
        .height()
}

fn submit(ledger: &Ledger, txs: &[SignedTransaction]) {
    for r in ledger.submit(txs) {
        r.expect("admitted");
    }
}

/// A ledger served on 127.0.0.1.
struct Served {
    ledger: Arc<Ledger>,
    url: String,
    cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Served {
    async fn start() -> Served {
        let dir = tempfile::tempdir().unwrap();
        let g = genesis();
        let store = LedgerStore::open(dir.path(), g.digest()).unwrap();
        let ledger = Arc::new(Ledger::open(store, g).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let cancel = CancellationToken::new();
        tokio::spawn(serve(
            listener,
            ledger.clone(),
            RpcConfig::default(),
            cancel.clone(),
        ));
        Served {
            ledger,
            url,
            cancel,
            _dir: dir,
        }
    }

    fn client(&self) -> LedgerClient {
        LedgerClient::new(vec![self.url.clone()])
    }

    /// A follower that does not long-poll (tests make blocks by hand).
    fn follower(&self, storage: Arc<Storage>) -> Follower {
        Follower::new(
            self.client(),
            CHAIN,
            self.ledger.validators().clone(),
            storage,
        )
        .with_long_poll(Duration::ZERO)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn open_storage(dir: &std::path::Path) -> Arc<Storage> {
    let config = EncodingConfig::new(N_SHARDS).unwrap();
    Arc::new(Storage::open(dir, config, StorageOptions::default()).unwrap())
}

/// A permanent blob: reserve + register transactions (nonces 0, 1); its id and object.
fn reserve_and_register(salt: u8) -> (Vec<SignedTransaction>, BlobId, ObjectId) {
    let r = floe_ledger::testkit::reserve_and_register(
        signed,
        0,
        1000,
        Digest([salt; 32]),
        16 << 20,
        3,
    );
    (r.txs.to_vec(), r.blob_id, r.blob_object)
}

/// A certify transaction with a storage-confirmation certificate of the whole genesis committee.
fn certify(nonce: u64, blob_id: BlobId, blob_object: ObjectId) -> SignedTransaction {
    let committee = genesis().committee().unwrap().committee;
    let keys: Vec<KeyPair> = (0..2).map(node_key).collect();
    let certificate = floe_ledger::testkit::confirmation_certificate(
        CHAIN,
        &committee,
        &keys,
        Epoch(0),
        blob_id,
        BlobPersistence::Permanent,
        usize::MAX,
    )
    .expect("quorum");
    signed(
        nonce,
        TxKind::CertifyBlob {
            blob_object,
            certificate,
        },
    )
}

#[tokio::test]
async fn follows_registration_and_certification_and_resumes_after_reopen() {
    let served = Served::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (txs, blob_id, object) = reserve_and_register(7);
    {
        let storage = open_storage(dir.path());
        let follower = served.follower(storage.clone());
        // Nothing committed yet.
        assert_eq!(follower.step().await.unwrap(), 0);
        assert_eq!(storage.ledger_height().unwrap(), None);

        submit(&served.ledger, &txs);
        let h = make_block(&served.ledger);
        // Block 1 is certified, but its results wait for block 2's header to prove them.
        assert_eq!(follower.step().await.unwrap(), 0);
        assert_eq!(storage.ledger_height().unwrap(), None);
        assert_eq!(storage.blob_state(&blob_id).unwrap(), None);
        make_block(&served.ledger); // an empty block
        assert_eq!(follower.step().await.unwrap(), 1);
        assert_eq!(storage.ledger_height().unwrap(), Some(h));
        let s = storage.blob_state(&blob_id).unwrap().expect("registered");
        assert_eq!(
            s,
            BlobState {
                registered_permanent: 1,
                end_epoch: Epoch(3),
                permanent_end_epoch: Epoch(3),
                ..BlobState::default()
            }
        );

        submit(&served.ledger, &[certify(2, blob_id, object)]);
        make_block(&served.ledger);
        make_block(&served.ledger);
        // Blocks 2 and 3 are proven by 3 and 4.
        assert_eq!(follower.step().await.unwrap(), 2);
        assert_eq!(storage.ledger_height().unwrap(), Some(3));
        let s = storage.blob_state(&blob_id).unwrap().unwrap();
        assert_eq!((s.registered_permanent, s.certified_permanent), (1, 1));
        assert_eq!(s.certified_epoch, Some(Epoch(0)));
        assert_eq!(s.end_epoch, Epoch(3));
        assert!(s.is_certified() && !s.invalid);
        // The node agrees with the ledger's own view.
        let ledger_view = served
            .client()
            .blob_status(&blob_id)
            .await
            .unwrap()
            .unwrap();
        let json = serde_json::to_value(&ledger_view).unwrap();
        assert_eq!(json["certified_permanent"], 1);
    }
    // Reopen: cursor and state survive; the next step starts after the cursor.
    let storage = open_storage(dir.path());
    assert_eq!(storage.ledger_height().unwrap(), Some(3));
    let s = storage.blob_state(&blob_id).unwrap().unwrap();
    assert_eq!(s.certified_permanent, 1);
    let follower = served.follower(storage.clone());
    assert_eq!(follower.next_height().unwrap(), 4);
    // Block 4 is committed but not proven yet.
    assert_eq!(follower.step().await.unwrap(), 0);
    make_block(&served.ledger);
    assert_eq!(follower.step().await.unwrap(), 1);
    assert_eq!(storage.ledger_height().unwrap(), Some(4));
}

#[tokio::test]
async fn refuses_blocks_not_certified_by_the_trusted_validators() {
    let served = Served::start().await;
    let dir = tempfile::tempdir().unwrap();
    let storage = open_storage(dir.path());
    let (txs, blob_id, _) = reserve_and_register(8);
    submit(&served.ledger, &txs);
    make_block(&served.ledger);
    // A validator set of other keys: the served certificate does not verify against it.
    let forged = ValidatorSet::new(
        (0..4)
            .map(|i| ValidatorInfo {
                name: format!("other-{i}"),
                public_key: validator_key(i + 20).public(),
                power: 1,
            })
            .collect(),
    )
    .unwrap();
    let rejected = Counter::default();
    let follower = Follower::new(served.client(), CHAIN, forged, storage.clone())
        .with_long_poll(Duration::ZERO)
        .count_rejections_in(rejected.clone());
    let err = follower.step().await.unwrap_err();
    assert!(
        matches!(err, FollowerError::Verification { height: 1, .. }),
        "{err}"
    );
    assert!(err.is_rejection());
    assert_eq!(storage.ledger_height().unwrap(), None);
    assert_eq!(storage.blob_state(&blob_id).unwrap(), None);
    // `run` rejects the record, counts it and goes on (it does not stop on a bad server).
    let cancel = CancellationToken::new();
    let task = tokio::spawn(follower.run(cancel.clone()));
    wait_until(|| rejected.get() >= 1).await;
    assert!(
        !task.is_finished(),
        "a rejection does not stop the follower"
    );
    cancel.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(storage.ledger_height().unwrap(), None);
    // Another chain id is refused too.
    let follower = Follower::new(
        served.client(),
        "other-chain",
        served.ledger.validators().clone(),
        storage.clone(),
    );
    assert!(matches!(
        follower.step().await,
        Err(FollowerError::Verification { .. })
    ));
    assert_eq!(storage.ledger_height().unwrap(), None);
}

#[tokio::test]
async fn run_follows_new_blocks_and_stops_on_cancel() {
    let served = Served::start().await;
    let dir = tempfile::tempdir().unwrap();
    let storage = open_storage(dir.path());
    let cancel = CancellationToken::new();
    let task = tokio::spawn(served.follower(storage.clone()).run(cancel.clone()));
    let (txs, blob_id, _) = reserve_and_register(9);
    submit(&served.ledger, &txs);
    make_block(&served.ledger);
    make_block(&served.ledger); // proves block 1's results
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while storage.blob_state(&blob_id).unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "follower caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(storage.ledger_height().unwrap(), Some(1));
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("stops promptly")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn run_retries_while_the_ledger_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open_storage(dir.path());
    // Nothing listens here.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = LedgerClient::new(vec![format!("http://127.0.0.1:{port}")]);
    let served = Served::start().await;
    let follower = Follower::new(
        client,
        CHAIN,
        served.ledger.validators().clone(),
        storage.clone(),
    );
    assert!(matches!(follower.step().await, Err(FollowerError::Rpc(_))));
    let cancel = CancellationToken::new();
    let task = tokio::spawn(follower.run(cancel.clone()));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!task.is_finished(), "transient errors are retried");
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("stops promptly")
        .unwrap()
        .unwrap();
    assert_eq!(storage.ledger_height().unwrap(), None);
}

/// Waits (up to 10 s) until `done` holds.
async fn wait_until(mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The minimum fee a node pays comes from the RPC, which it does not trust: it pays at most
/// `MAX_FEE_MULTIPLE` times the genesis minimum and refuses to sign above that.
#[tokio::test]
async fn adv_rpc_inflated_fee_is_capped() {
    use floe_node::ledger_tx::{LedgerTxError, MAX_FEE_MULTIPLE, NodeAccount};
    let served = Served::start().await;
    let kind = || TxKind::Transfer {
        to: addr(&user_key()),
        amount: Frost(1),
    };
    // A node whose genesis says the minimum is a hundredth of what the server reports.
    let account = NodeAccount::new(
        served.client(),
        CHAIN,
        Frost(MIN_FEE.0 / MAX_FEE_MULTIPLE / 10),
    );
    let err = account.submit(&user_key(), kind()).await.unwrap_err();
    assert!(
        matches!(err, LedgerTxError::FeeAboveCap { asked, .. } if asked == MIN_FEE),
        "{err}"
    );
    assert_eq!(served.ledger.mempool_len(), 0, "nothing was sent");
    // With the true genesis minimum the same transaction goes through.
    let account = NodeAccount::new(served.client(), CHAIN, MIN_FEE);
    let ledger = served.ledger.clone();
    let maker = tokio::spawn(async move {
        while ledger.mempool_len() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        make_block(&ledger);
    });
    account
        .submit(&user_key(), kind())
        .await
        .expect("committed");
    maker.await.unwrap();
}
