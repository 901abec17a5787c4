//! Floe's cross-crate integration and fault-tolerance tests, and the [`TestCluster`] harness.
//!
//! A [`TestCluster`] runs a real ledger validator (Malachite consensus, RocksDB, HTTP RPC) and
//! real storage nodes (RocksDB, libp2p over loopback TCP, HTTP), in this process, each under
//! its own cancellation token so that a test can stop, restart or make Byzantine any node.
//! Nothing is mocked: every byte crosses a real socket and every signature is checked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use floe_client::{BlobClient, BlobOptions};
use floe_common::crypto::KeyFile;
use floe_common::{Frost, KeyPair, NodeId};
use floe_ledger::localnet::{self, free_port};
use floe_ledger::validator::ValidatorConfig;
use floe_ledger::{Address, FaucetParams, Genesis, GenesisNode, LedgerClient, Params};
use floe_node::config::{InboundConfig, RecoveryConfig};
use floe_node::core::NodeCore;
use floe_node::server::{HandlerHook, RunningNode};
use floe_node::{NodeConfig, server};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// 1 WAL in FROST.
pub const WAL: u64 = 1_000_000_000;

/// Shape of a test cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Storage nodes (equal stake).
    pub nodes: usize,
    /// Shards.
    pub shards: u16,
    /// Epoch length (ms).
    pub epoch_ms: u64,
    /// Block time (ms).
    pub block_time_ms: u64,
    /// Recovery grace period of the nodes (ms).
    pub grace_ms: u64,
    /// Extra nodes, after the genesis ones: funded and configured but neither registered nor
    /// started ([`TestCluster::register_node`] registers one).
    pub standby: usize,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            nodes: 4,
            shards: 12,
            epoch_ms: 3_600_000,
            block_time_ms: 100,
            grace_ms: 300,
            standby: 0,
        }
    }
}

/// A node of the cluster.
pub struct TestNode {
    /// Its configuration.
    pub config: NodeConfig,
    /// Its key.
    pub key: KeyPair,
    running: Option<(
        CancellationToken,
        JoinHandle<()>,
        Arc<NodeCore>,
        std::net::SocketAddr,
    )>,
}

impl TestNode {
    /// The node id.
    pub fn node_id(&self) -> NodeId {
        floe_ledger::node_id_of(&self.key.public())
    }

    /// Its shared state while running.
    pub fn core(&self) -> Option<&Arc<NodeCore>> {
        self.running.as_ref().map(|r| &r.2)
    }

    /// Its HTTP address while running.
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.running.as_ref().map(|r| r.3)
    }
}

/// A validator and storage nodes, in process, over real sockets.
pub struct TestCluster {
    /// The temporary directory holding every store.
    pub dir: tempfile::TempDir,
    /// The genesis.
    pub genesis: Genesis,
    /// The validator's RPC URL.
    pub rpc_url: String,
    /// The funded user wallet.
    pub user: KeyPair,
    /// The nodes.
    pub nodes: Vec<TestNode>,
    validator: (CancellationToken, JoinHandle<()>),
}

fn write_json<T: serde::Serialize>(path: &std::path::Path, value: &T) {
    std::fs::write(path, serde_json::to_vec_pretty(value).expect("json")).expect("write");
}

impl TestCluster {
    /// Starts a validator and `opts.nodes` nodes and waits until every node follows the ledger.
    pub async fn start(opts: ClusterOptions) -> TestCluster {
        // `RUST_LOG=floe_node=debug cargo test … -- --nocapture` shows the cluster's logs.
        if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let user = KeyPair::from_seed([42; 32]);
        let all = opts.nodes + opts.standby;
        let node_keys: Vec<KeyPair> = (0..all)
            .map(|i| KeyPair::from_seed([100 + i as u8; 32]))
            .collect();
        let ports: Vec<(u16, u16)> = (0..all)
            .map(|_| (free_port().expect("port"), free_port().expect("port")))
            .collect();
        let mut accounts = vec![(Address::of(&user.public()), Frost(10_000_000 * WAL))];
        accounts.extend(
            node_keys
                .iter()
                .map(|k| (Address::of(&k.public()), Frost(1_000 * WAL))),
        );
        let genesis = Genesis {
            chain_id: "floe-test".into(),
            genesis_time_ms: now_ms(),
            params: Params {
                epoch_duration_ms: opts.epoch_ms,
                max_epochs_ahead: 100,
                storage_price_per_mib_epoch: Frost(1_000),
                write_price_per_mib: Frost(500),
                min_fee: Frost(1_000),
                max_shards_per_node: opts.shards,
                active_set_size: floe_ledger_types::genesis::DEFAULT_ACTIVE_SET_SIZE,
            },
            validators: Vec::new(),
            accounts,
            storage_nodes: node_keys
                .iter()
                .take(opts.nodes)
                .enumerate()
                .map(|(i, k)| GenesisNode {
                    name: format!("node-{}", i + 1),
                    public_key: k.public(),
                    network_address: format!("/ip4/127.0.0.1/tcp/{}", ports[i].0),
                    http_address: format!("127.0.0.1:{}", ports[i].1),
                    commission_bps: 1_000,
                    stake: Frost(1_000 * WAL),
                    owner: Address::of(&user.public()),
                    storage_price_vote: Frost(1_000),
                    write_price_vote: Frost(500),
                    capacity_vote: 1 << 40,
                })
                .collect(),
            n_shards: opts.shards,
            faucet: Some(FaucetParams {
                max_per_call: Frost(1_000 * WAL),
            }),
        };
        let (genesis, validators) =
            localnet::write(dir.path(), genesis, 1, Some(7), opts.block_time_ms).expect("localnet");
        let v: ValidatorConfig = validators[0].config.clone();
        let rpc_url = validators[0].rpc_url.clone();
        let vcancel = CancellationToken::new();
        let c = vcancel.clone();
        let vtask = tokio::spawn(async move {
            if let Err(e) = floe_ledger::validator::run(v, c).await {
                panic!("validator failed: {e}");
            }
        });
        let mut nodes = Vec::new();
        for (i, key) in node_keys.into_iter().enumerate() {
            let ndir = dir.path().join(format!("node-{}", i + 1));
            std::fs::create_dir_all(&ndir).expect("mkdir");
            let key_file = ndir.join("key.json");
            write_json(&key_file, &KeyFile::of(&key));
            let config = NodeConfig {
                name: format!("node-{}", i + 1),
                data_dir: ndir.join("data"),
                genesis: dir.path().join("genesis.json"),
                key_file,
                p2p_listen: format!("/ip4/127.0.0.1/tcp/{}", ports[i].0),
                http_listen: format!("127.0.0.1:{}", ports[i].1).parse().expect("addr"),
                ledger_rpc: vec![rpc_url.clone()],
                sync_writes: false,
                recovery: RecoveryConfig {
                    grace_ms: opts.grace_ms,
                    initial_backoff_ms: 200,
                    max_backoff_ms: 2_000,
                    ..RecoveryConfig::default()
                },
                inbound: InboundConfig::default(),
            };
            nodes.push(TestNode {
                config,
                key,
                running: None,
            });
        }
        let mut cluster = TestCluster {
            dir,
            genesis,
            rpc_url,
            user,
            nodes,
            validator: (vcancel, vtask),
        };
        for i in 0..opts.nodes {
            cluster.start_node(i).await;
        }
        cluster
    }

    /// A ledger handle paying from the user wallet (which owns every genesis node and stake).
    pub async fn floe(&self) -> floe_client::Floe {
        floe_client::Floe::connect(vec![self.rpc_url.clone()])
            .await
            .expect("ledger answers")
            .with_wallet(floe_client::Wallet::from_key(self.user.clone()))
    }

    /// Registers node `i` (a standby node) on the ledger, owned by the user wallet.
    pub async fn register_node(&self, i: usize) -> NodeId {
        let n = &self.nodes[i];
        let http = n.config.http_listen.to_string();
        self.floe()
            .await
            .register_node(floe_client::floe::NodeRegistration {
                name: n.config.name.clone(),
                public_key: n.key.public(),
                network_address: n.config.p2p_listen.clone(),
                http_address: http,
                commission_bps: 1_000,
                storage_price_vote: Frost(1_000),
                write_price_vote: Frost(500),
                capacity_vote: 1 << 40,
            })
            .await
            .expect("node registers")
    }

    /// A ledger client.
    pub fn ledger(&self) -> LedgerClient {
        LedgerClient::new(vec![self.rpc_url.clone()])
    }

    /// A blob client paying from the user wallet.
    pub async fn client(&self) -> BlobClient {
        self.client_with(BlobOptions::default()).await
    }

    /// A blob client with options.
    pub async fn client_with(&self, options: BlobOptions) -> BlobClient {
        BlobClient::connect(self.ledger(), self.user.clone(), options)
            .await
            .expect("client connects")
    }

    /// Starts (or restarts) node `i`.
    pub async fn start_node(&mut self, i: usize) {
        self.start_node_with(i, None).await;
    }

    /// Starts node `i` with its protocol handler wrapped by `hook` (fault injection).
    pub async fn start_node_with(&mut self, i: usize, hook: Option<HandlerHook>) {
        assert!(self.nodes[i].running.is_none(), "node {i} already runs");
        let cancel = CancellationToken::new();
        let running: RunningNode =
            server::start_with(self.nodes[i].config.clone(), cancel.clone(), hook)
                .await
                .expect("node starts");
        let core = running.core.clone();
        let http = running.http_addr;
        let name = self.nodes[i].config.name.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = running.wait().await {
                panic!("{name} failed: {e}");
            }
        });
        self.nodes[i].running = Some((cancel, task, core, http));
    }

    /// Stops node `i` (its store stays on disk).
    pub async fn stop_node(&mut self, i: usize) {
        if let Some((cancel, task, core, _)) = self.nodes[i].running.take() {
            cancel.cancel();
            task.await.expect("node task");
            // Wait until every handle on the store is gone, so a restart can reopen it.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while Arc::strong_count(&core) > 1 || Arc::strong_count(core.storage()) > 1 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "node {i}'s state is still referenced after stopping (core {}, storage {}); \
                     drop test handles first",
                    Arc::strong_count(&core),
                    Arc::strong_count(core.storage())
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            drop(core);
        }
    }

    /// The data directory of node `i`.
    pub fn node_dir(&self, i: usize) -> PathBuf {
        self.nodes[i].config.data_dir.clone()
    }

    /// Waits until every running node has applied the ledger up to the validator's tip.
    pub async fn wait_nodes_synced(&self) {
        let tip = self.ledger().system().await.expect("system").tip_height;
        wait_for(Duration::from_secs(20), || {
            self.nodes
                .iter()
                .filter_map(TestNode::core)
                .all(|c| c.health().ledger_height >= tip)
        })
        .await
        .expect("nodes follow the ledger");
    }

    /// Stops everything.
    pub async fn shutdown(mut self) {
        for i in 0..self.nodes.len() {
            self.stop_node(i).await;
        }
        self.validator.0.cancel();
        let _ = self.validator.1.await;
    }
}

/// Whether `core`'s node holds every sliver of `blobs` it should (through its status API).
pub fn holds_every_sliver(core: &NodeCore, blobs: &[floe_common::BlobId]) -> bool {
    blobs.iter().all(|id| {
        let s = core.blob_status(id).expect("status");
        s.slivers_expected > 0 && s.slivers_stored == s.slivers_expected
    })
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// Polls `cond` every 50 ms until it holds or `timeout` passes.
pub async fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if cond() {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("condition not met within {timeout:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Deterministic test data.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut v = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

/// Fault injection: wrappers around a node's protocol handler.
pub mod faults {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use floe_node::server::HandlerHook;
    use floe_node_protocol::p2p::{Handler, Request, Response};
    use libp2p::PeerId;

    /// A Byzantine node: serves every sliver and recovery symbol with a flipped byte, and
    /// otherwise behaves (it stores, confirms and answers metadata honestly).
    pub struct Liar(pub Arc<dyn Handler>);

    #[async_trait::async_trait]
    impl Handler for Liar {
        async fn handle(&self, peer: PeerId, request: Request) -> Response {
            match self.0.handle(peer, request).await {
                Response::GetSliver(Ok(mut s)) => {
                    if let Some(b) = s.data.first_mut() {
                        *b ^= 0xff;
                    }
                    Response::GetSliver(Ok(s))
                }
                Response::Recovery(Ok(mut r)) => {
                    for sym in &mut r.symbols {
                        if let Some(b) = sym.data.first_mut() {
                            *b ^= 0xff;
                        }
                    }
                    Response::Recovery(Ok(r))
                }
                other => other,
            }
        }
    }

    /// The hook that makes a node a [`Liar`].
    pub fn liar() -> HandlerHook {
        Box::new(|h| Arc::new(Liar(h)) as Arc<dyn Handler>)
    }

    /// A node that can be paused: while paused it accepts requests and never answers (a hung
    /// process), so callers see timeouts, not refusals.
    pub struct Pausable {
        inner: Arc<dyn Handler>,
        paused: Arc<AtomicBool>,
    }

    #[async_trait::async_trait]
    impl Handler for Pausable {
        async fn handle(&self, peer: PeerId, request: Request) -> Response {
            while self.paused.load(Ordering::Relaxed) {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            self.inner.handle(peer, request).await
        }
    }

    /// A hook making a node [`Pausable`], and its switch.
    pub fn pausable() -> (HandlerHook, Arc<AtomicBool>) {
        let paused = Arc::new(AtomicBool::new(false));
        let p = paused.clone();
        (
            Box::new(move |inner| Arc::new(Pausable { inner, paused: p }) as Arc<dyn Handler>),
            paused,
        )
    }
}
