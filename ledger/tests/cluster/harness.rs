//! Starts `floe-ledger` validator processes on free local ports.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use floe_common::{Frost, KeyPair};
use floe_ledger::localnet::{self, LocalValidator};
use floe_ledger::{
    Address, Genesis, LedgerClient, SignedTransaction, Transaction, TxKind, ValidatorSet,
};

pub const CHAIN: &str = "floe-cluster-test";
pub const FUNDS: u64 = 1_000_000_000_000;

pub fn user(i: u8) -> KeyPair {
    KeyPair::from_seed([i + 1; 32])
}

/// Clusters of this binary run one at a time (12 processes on two cores would only measure
/// the scheduler).
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct Cluster {
    _serial: tokio::sync::MutexGuard<'static, ()>,
    _dir: tempfile::TempDir,
    nodes: Vec<LocalValidator>,
    children: Vec<Option<Child>>,
    pub validators: ValidatorSet,
}

pub fn genesis() -> Genesis {
    let mut g = Genesis::builder(CHAIN, 10).params(|p| {
        p.storage_price_per_mib_epoch = Frost(1);
        p.write_price_per_mib = Frost(1);
        p.min_fee = Frost(1);
        p.max_shards_per_node = 100;
    });
    for i in 0..4 {
        g = g.account(Address::of(&user(i).public()), Frost(FUNDS));
    }
    for i in 0..4u8 {
        g = g.node(floe_ledger::GenesisNode {
            commission_bps: 0,
            storage_price_vote: Frost(1),
            write_price_vote: Frost(1),
            ..floe_ledger::GenesisNode::new(
                format!("node-{}", i + 1),
                KeyPair::from_seed([i + 100; 32]).public(),
                Address::of(&user(0).public()),
                Frost(1_000),
                "/ip4/127.0.0.1/tcp/1",
                "http://127.0.0.1:1",
            )
        });
    }
    g.build()
}

impl Cluster {
    pub async fn start(name: &str, n: usize) -> Cluster {
        let serial = SERIAL.lock().await;
        let dir = tempfile::Builder::new().prefix(name).tempdir().unwrap();
        let seed = name
            .bytes()
            .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
        let (genesis, nodes) = localnet::write(dir.path(), genesis(), n, Some(seed), 100).unwrap();
        let validators = genesis.validator_set().unwrap();
        let mut c = Cluster {
            _serial: serial,
            _dir: dir,
            nodes,
            children: Vec::new(),
            validators,
        };
        for i in 0..n {
            let child = c.spawn(i);
            c.children.push(Some(child));
        }
        c
    }

    fn spawn(&self, i: usize) -> Child {
        let log =
            std::fs::File::create(self.nodes[i].config.data_dir.with_extension("log")).unwrap();
        Command::new(env!("CARGO_BIN_EXE_floe-ledger"))
            .arg("run")
            .arg("--config")
            .arg(&self.nodes[i].config_path)
            .env("RUST_BACKTRACE", "0")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn floe-ledger")
    }

    pub fn client(&self, i: usize) -> LedgerClient {
        LedgerClient::new(vec![self.nodes[i].rpc_url.clone()])
    }

    /// Validator `i`'s `GET /metrics` text.
    pub async fn metrics(&self, i: usize) -> String {
        reqwest::get(format!("{}/metrics", self.nodes[i].rpc_url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub fn sign(&self, key: &KeyPair, nonce: u64, kind: TxKind) -> SignedTransaction {
        let tx = Transaction {
            sender: Address::of(&key.public()),
            nonce,
            fee: Frost(1),
            kind,
        };
        SignedTransaction::sign(key, tx, CHAIN)
    }

    /// SIGKILL.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.children[i] = Some(self.spawn(i));
    }

    pub async fn height(&self, i: usize) -> Option<u64> {
        self.client(i).health().await.ok().map(|h| h.height)
    }

    pub async fn max_height(&self) -> u64 {
        let mut m = 0;
        for i in 0..self.nodes.len() {
            if self.children[i].is_some() {
                m = m.max(self.height(i).await.unwrap_or(0));
            }
        }
        m
    }

    pub async fn wait_height(&self, i: usize, h: u64, timeout: Duration) {
        let start = Instant::now();
        loop {
            if self.height(i).await.is_some_and(|x| x >= h) {
                return;
            }
            if start.elapsed() > timeout {
                self.dump_logs();
                panic!(
                    "validator {i} did not reach height {h} in {timeout:?} (at {:?})",
                    self.height(i).await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_height_all(&self, h: u64, timeout: Duration) {
        for i in 0..self.nodes.len() {
            if self.children[i].is_some() {
                self.wait_height(i, h, timeout).await;
            }
        }
    }

    fn dump_logs(&self) {
        for n in &self.nodes {
            let path = n.config.data_dir.with_extension("log");
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| {
                    !l.contains("arc_malachitebft_network")
                        && !l.contains("arc_malachitebft_discovery")
                        && !l.starts_with(" - ")
                })
                .collect();
            eprintln!("--- {} ---", n.config.name);
            for l in lines.iter().take(15) {
                eprintln!("{l}");
            }
            eprintln!("...");
            for l in lines.iter().skip(15).rev().take(15).rev() {
                eprintln!("{l}");
            }
        }
    }

    pub async fn stop_all(&mut self) {
        for c in self.children.iter_mut().flatten() {
            // SIGTERM for a clean stop.
            let _ = Command::new("kill").arg(c.id().to_string()).status();
        }
        for c in self.children.iter_mut() {
            if let Some(mut child) = c.take() {
                let deadline = Instant::now() + Duration::from_secs(10);
                while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in self.children.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
