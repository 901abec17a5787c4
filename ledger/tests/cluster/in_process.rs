//! Validators run as tasks of the test process, so that a test can make one of them
//! Byzantine through [`ValidatorHooks`]. Everything else is as in production: Malachite over
//! libp2p on loopback, RocksDB stores, the HTTP RPC.

use std::time::{Duration, Instant};

use floe_ledger::LedgerClient;
use floe_ledger::localnet::{self, LocalValidator};
use floe_ledger::validator::{ValidatorHooks, run_with};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::harness::{SERIAL, genesis};

pub struct InProcessCluster {
    _serial: tokio::sync::MutexGuard<'static, ()>,
    _dir: tempfile::TempDir,
    nodes: Vec<LocalValidator>,
    tasks: Vec<(CancellationToken, JoinHandle<()>)>,
}

impl InProcessCluster {
    /// Starts `hooks.len()` validators, validator `i` with `hooks[i]`.
    pub async fn start(name: &str, hooks: Vec<ValidatorHooks>) -> InProcessCluster {
        let serial = SERIAL.lock().await;
        let dir = tempfile::Builder::new().prefix(name).tempdir().unwrap();
        let (_, nodes) = localnet::write(dir.path(), genesis(), hooks.len(), None, 100).unwrap();
        let tasks = nodes
            .iter()
            .zip(hooks)
            .map(|(v, hooks)| {
                let cancel = CancellationToken::new();
                let (config, c) = (v.config.clone(), cancel.clone());
                let task = tokio::spawn(async move {
                    if let Err(e) = run_with(config, c, hooks).await {
                        panic!("validator failed: {e}");
                    }
                });
                (cancel, task)
            })
            .collect();
        let cluster = InProcessCluster {
            _serial: serial,
            _dir: dir,
            nodes,
            tasks,
        };
        for i in 0..cluster.nodes.len() {
            cluster.wait_height(i, 1, Duration::from_secs(60)).await;
        }
        cluster
    }

    pub fn client(&self, i: usize) -> LedgerClient {
        LedgerClient::new(vec![self.nodes[i].rpc_url.clone()])
    }

    /// Validator `i`'s data directory.
    pub fn data_dir(&self, i: usize) -> &std::path::Path {
        &self.nodes[i].config.data_dir
    }

    pub async fn height(&self, i: usize) -> u64 {
        self.client(i).health().await.map_or(0, |h| h.height)
    }

    /// Waits until validator `i` committed height `h`.
    pub async fn wait_height(&self, i: usize, h: u64, timeout: Duration) {
        let start = Instant::now();
        while self.height(i).await < h {
            assert!(
                start.elapsed() < timeout,
                "validator {i} did not reach height {h} in {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn stop(self) {
        for (cancel, _) in &self.tasks {
            cancel.cancel();
        }
        for (_, task) in self.tasks {
            task.await.expect("validator task");
        }
    }
}
