//! A real ledger on a temporary RocksDB served on 127.0.0.1, and a block maker that stands in
//! for the consensus engine.

use std::sync::Arc;
use std::time::Duration;

use floe_common::{Frost, KeyPair};
use floe_ledger::mempool::MempoolConfig;
use floe_ledger::rpc::{RpcConfig, serve};
use floe_ledger::service::Ledger;
use floe_ledger::store::{BlockRecord, LedgerStore};
use floe_ledger::{
    Address, CommitCertificate, FaucetParams, Genesis, GenesisNode, LedgerClient,
    SignedTransaction, Transaction, TxKind,
};
use floe_ledger_types::block::Block;
use tokio_util::sync::CancellationToken;

pub const CHAIN: &str = "floe-rpc-test";
pub const FUNDS: Frost = Frost(1_000_000_000_000);
pub const MIN_FEE: Frost = Frost(10);

pub fn validator_key(i: usize) -> KeyPair {
    KeyPair::from_seed([i as u8 + 200; 32])
}

pub fn user_key(i: usize) -> KeyPair {
    KeyPair::from_seed([i as u8 + 1; 32])
}

pub fn node_key(i: usize) -> KeyPair {
    KeyPair::from_seed([i as u8 + 100; 32])
}

pub fn addr(k: &KeyPair) -> Address {
    Address::of(&k.public())
}

pub fn genesis() -> Genesis {
    let mut g = Genesis::builder(CHAIN, 10)
        .time_ms(1_000_000)
        .params(|p| {
            p.epoch_duration_ms = 60_000;
            p.max_epochs_ahead = 10;
            p.min_fee = MIN_FEE;
            p.max_shards_per_node = 100;
        })
        .account(addr(&user_key(0)), FUNDS)
        .devnet()
        .faucet(FaucetParams {
            max_per_call: Frost(5_000_000_000),
            max_per_account: Frost(50_000_000_000),
            max_per_epoch: Frost(50_000_000_000),
            max_total: Frost(500_000_000_000),
        });
    for i in 0..4 {
        g = g.validator(format!("validator-{i}"), validator_key(i).public(), 1);
    }
    for i in 0..2 {
        g = g.node(GenesisNode {
            commission_bps: 500,
            ..GenesisNode::new(
                format!("node-{i}"),
                node_key(i).public(),
                addr(&user_key(0)),
                Frost(1_000_000_000),
                format!("/ip4/127.0.0.1/tcp/{}", 9000 + i),
                format!("http://127.0.0.1:{}", 8000 + i),
            )
        });
    }
    g.build()
}

/// A signed transaction from `key`.
pub fn signed(key: &KeyPair, nonce: u64, kind: TxKind) -> SignedTransaction {
    SignedTransaction::sign(
        key,
        Transaction {
            sender: addr(key),
            nonce,
            fee: MIN_FEE,
            kind,
        },
        CHAIN,
    )
}

/// A certificate for `block` signed by validators `signers` (indices into the genesis keys).
pub fn certificate(block: &Block, signers: &[usize]) -> CommitCertificate {
    let keys: Vec<KeyPair> = signers.iter().map(|&i| validator_key(i)).collect();
    let refs: Vec<&KeyPair> = keys.iter().collect();
    floe_ledger::testkit::precommit_certificate(CHAIN, block, &refs)
}

/// Builds the next block from the mempool and commits it with 3 of 4 precommits.
pub fn make_block(ledger: &Ledger) -> BlockRecord {
    let keys: Vec<KeyPair> = (0..3).map(validator_key).collect();
    let refs: Vec<&KeyPair> = keys.iter().collect();
    floe_ledger::testkit::commit_next_block(ledger, &refs).expect("commit")
}

/// A ledger served over HTTP.
pub struct Node {
    pub ledger: Arc<Ledger>,
    pub url: String,
    pub cancel: CancellationToken,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Node {
    /// A fresh ledger on a bound listener; serve it with [`Node::start`].
    pub async fn bind() -> (Node, tokio::net::TcpListener) {
        Self::bind_with(MempoolConfig::default()).await
    }

    /// [`Node::bind`] with `mempool`'s bounds.
    pub async fn bind_with(mempool: MempoolConfig) -> (Node, tokio::net::TcpListener) {
        let dir = tempfile::tempdir().unwrap();
        let g = genesis();
        let store = LedgerStore::open(dir.path(), g.digest()).unwrap();
        let ledger = Arc::new(Ledger::open_with(store, g, mempool).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let node = Node {
            ledger,
            url,
            cancel: CancellationToken::new(),
            server: None,
            _dir: dir,
        };
        (node, listener)
    }

    pub fn start(&mut self, listener: tokio::net::TcpListener, peers: Vec<String>) {
        let config = RpcConfig {
            peers,
            ..RpcConfig::default()
        };
        self.server = Some(tokio::spawn(serve(
            listener,
            self.ledger.clone(),
            config,
            self.cancel.clone(),
        )));
    }

    pub async fn start_alone() -> Node {
        let (mut node, listener) = Self::bind().await;
        node.start(listener, Vec::new());
        node
    }

    pub fn client(&self) -> LedgerClient {
        LedgerClient::new(vec![self.url.clone()])
    }

    /// Stops the server and checks it shut down cleanly and promptly.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(10), server)
                .await
                .expect("server stops")
                .expect("server task")
                .expect("server result");
        }
    }
}
