//! A real single-validator network in this process: `floe_ledger::validator::run` (Malachite
//! consensus, RocksDB, the HTTP RPC) on free local ports, finalising a block every 100 ms.

use std::time::{Duration, Instant};

use floe_common::{Frost, KeyPair};
use floe_ledger::localnet;
use floe_ledger::{Address, FaucetParams, Genesis, GenesisNode, LedgerClient};
use tokio_util::sync::CancellationToken;

pub const CHAIN: &str = "floe-client-test";
pub const N_SHARDS: u16 = 10;
pub const MIN_FEE: Frost = Frost(1_000);

pub fn wal(n: u64) -> Frost {
    Frost::from_wal(n).unwrap()
}

/// A funded genesis account (each test uses its own).
pub fn user(i: u8) -> KeyPair {
    KeyPair::from_seed([i + 1; 32])
}

/// The storage node keys (`node-1` … `node-4`).
pub fn node_key(i: u8) -> KeyPair {
    KeyPair::from_seed([i + 100; 32])
}

pub fn addr(k: &KeyPair) -> Address {
    Address::of(&k.public())
}

/// Funds of each `user(i)`.
pub const FUNDS: u64 = 1_000;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn genesis(epoch_ms: u64) -> Genesis {
    // The operator owns the genesis stakes, so users' accounts hold only their own objects.
    let operator = addr(&KeyPair::from_seed([99; 32]));
    let mut g = Genesis::builder(CHAIN, N_SHARDS)
        .time_ms(now_ms())
        .params(|p| {
            p.epoch_duration_ms = epoch_ms;
            p.max_epochs_ahead = 1000;
            p.min_fee = MIN_FEE;
            p.max_shards_per_node = 100;
        })
        .devnet()
        .faucet(FaucetParams {
            max_per_call: wal(100),
            max_per_account: wal(10_000),
            max_per_epoch: wal(100_000),
            max_total: wal(1_000_000),
        });
    for i in 0..8 {
        g = g.account(addr(&user(i)), wal(FUNDS));
    }
    for i in 0..4u8 {
        g = g.node(GenesisNode {
            commission_bps: 500,
            ..GenesisNode::new(
                format!("node-{}", i + 1),
                node_key(i).public(),
                operator,
                wal(1_000),
                format!("/ip4/127.0.0.1/tcp/{}", 9000 + u16::from(i)),
                format!("http://127.0.0.1:{}", 8000 + u16::from(i)),
            )
        });
    }
    g.build()
}

/// A running validator; stopped by [`Net::stop`] (or, less cleanly, on drop).
pub struct Net {
    pub url: String,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Net {
    /// A validator with hour-long epochs.
    pub async fn start() -> Net {
        Self::start_with_epochs(3_600_000).await
    }

    /// A validator whose epochs last `epoch_ms`.
    pub async fn start_with_epochs(epoch_ms: u64) -> Net {
        let dir = tempfile::Builder::new()
            .prefix("floe-client-test")
            .tempdir()
            .unwrap();
        let (_genesis, validators) =
            localnet::write(&dir.path().join("net"), genesis(epoch_ms), 1, Some(7), 100).unwrap();
        let v = validators.into_iter().next().unwrap();
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = floe_ledger::validator::run(v.config, token).await {
                eprintln!("validator stopped: {e}");
            }
        });
        let net = Net {
            url: v.rpc_url,
            cancel,
            task: Some(task),
            _dir: dir,
        };
        net.wait_height(1, Duration::from_secs(30)).await;
        net
    }

    pub fn client(&self) -> LedgerClient {
        LedgerClient::new(vec![self.url.clone()])
    }

    pub async fn wait_height(&self, h: u64, timeout: Duration) {
        let start = Instant::now();
        let client = self.client();
        loop {
            if client.health().await.is_ok_and(|x| x.height >= h) {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "validator did not reach height {h} in {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
