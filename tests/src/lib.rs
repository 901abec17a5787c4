//! Floe's cross-crate integration and fault-tolerance tests, and the [`TestCluster`] harness.
//!
//! A [`TestCluster`] runs a real ledger validator (Malachite consensus, RocksDB, HTTP RPC) and
//! real storage nodes (RocksDB, libp2p over loopback TCP, HTTP), in this process, each under
//! its own cancellation token so that a test can stop, restart or make Byzantine any node.
//! Nothing is mocked: every byte crosses a real socket and every signature is checked.
//!
//! [`browser`] drives a headless Chromium for tests of what browsers see; [`netns`] puts hosts
//! in network namespaces of their own, with latency, loss and partitions.

pub mod browser;
pub mod netns;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use floe_client::{BlobClient, BlobOptions};
use floe_common::{Frost, KeyPair, NodeId};
use floe_ledger::localnet::{self, free_port};
use floe_ledger::validator::ValidatorConfig;
use floe_ledger::{Address, FaucetParams, Genesis, GenesisNode, LedgerClient};
use floe_node::config::{InboundConfig, RecoveryConfig};
use floe_node::core::NodeCore;
use floe_node::server::{HandlerHook, RunningNode};
use floe_node::{NodeConfig, server};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub mod byzantine_rpc;
pub use byzantine_rpc::ByzantineRpc;

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
    /// Puts a [`ByzantineRpc`] in front of the validator and lists it first in every node's
    /// ledger RPC URLs (the honest validator second).
    pub byzantine_rpc: bool,
    /// Storage challenges per node and epoch (0: none).
    pub challenges_per_node: u16,
    /// Ledger validators (each also a key server of private blobs).
    pub validators: usize,
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
            byzantine_rpc: false,
            challenges_per_node: floe_ledger_types::DEFAULT_CHALLENGES_PER_NODE,
            validators: 1,
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

/// Validators and storage nodes, in process, over real sockets.
pub struct TestCluster {
    /// The temporary directory holding every store.
    pub dir: tempfile::TempDir,
    /// The genesis.
    pub genesis: Genesis,
    /// The first validator's RPC URL.
    pub rpc_url: String,
    /// The funded user wallet.
    pub user: KeyPair,
    /// The nodes.
    pub nodes: Vec<TestNode>,
    /// The Byzantine RPC proxy the nodes ask first, if the options asked for one.
    pub byzantine_rpc: Option<ByzantineRpc>,
    /// The validators.
    pub validators: Vec<TestValidator>,
}

/// A validator of the cluster (also a key server of private blobs).
pub struct TestValidator {
    /// Its configuration.
    pub config: ValidatorConfig,
    /// Its RPC base URL.
    pub rpc_url: String,
    running: Option<(CancellationToken, JoinHandle<()>)>,
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
        let owner = Address::of(&user.public());
        let mut genesis = Genesis::builder("floe-test", opts.shards)
            .time_ms(now_ms())
            .params(|p| {
                p.epoch_duration_ms = opts.epoch_ms;
                p.challenges_per_node = opts.challenges_per_node;
            })
            .account(owner, Frost(10_000_000 * WAL))
            .devnet()
            .faucet(FaucetParams {
                max_per_call: Frost(1_000 * WAL),
                max_per_account: Frost(10_000 * WAL),
                max_per_epoch: Frost(100_000 * WAL),
                max_total: Frost(1_000_000 * WAL),
            });
        for k in &node_keys {
            genesis = genesis.account(Address::of(&k.public()), Frost(1_000 * WAL));
        }
        for (i, k) in node_keys.iter().take(opts.nodes).enumerate() {
            genesis = genesis.node(GenesisNode::new(
                format!("node-{}", i + 1),
                k.public(),
                owner,
                Frost(1_000 * WAL),
                format!("/ip4/127.0.0.1/tcp/{}", ports[i].0),
                format!("127.0.0.1:{}", ports[i].1),
            ));
        }
        let genesis = genesis.build();
        let (genesis, local) = localnet::write(
            dir.path(),
            genesis,
            opts.validators.max(1),
            Some(7),
            opts.block_time_ms,
        )
        .expect("localnet");
        let rpc_url = local[0].rpc_url.clone();
        let validator_urls: Vec<String> = local.iter().map(|v| v.rpc_url.clone()).collect();
        let validators = local
            .into_iter()
            .map(|v| TestValidator {
                config: v.config,
                rpc_url: v.rpc_url,
                running: None,
            })
            .collect();
        let byzantine_rpc = match opts.byzantine_rpc {
            true => Some(ByzantineRpc::start(&rpc_url).await),
            false => None,
        };
        let ledger_rpc: Vec<String> = byzantine_rpc
            .iter()
            .map(|b| b.url.clone())
            .chain(validator_urls)
            .collect();
        let mut nodes = Vec::new();
        for (i, key) in node_keys.into_iter().enumerate() {
            let ndir = dir.path().join(format!("node-{}", i + 1));
            std::fs::create_dir_all(&ndir).expect("mkdir");
            let key_file = ndir.join("key.json");
            floe_runtime::write_key_file(&key_file, &key).expect("key file");
            let config = NodeConfig {
                name: format!("node-{}", i + 1),
                data_dir: ndir.join("data"),
                genesis: dir.path().join("genesis.json"),
                key_file,
                p2p_listen: format!("/ip4/127.0.0.1/tcp/{}", ports[i].0),
                http_listen: format!("127.0.0.1:{}", ports[i].1).parse().expect("addr"),
                ledger_rpc: ledger_rpc.clone(),
                sync_writes: false,
                recovery: RecoveryConfig {
                    grace_ms: opts.grace_ms,
                    initial_backoff_ms: 200,
                    max_backoff_ms: 2_000,
                    ..RecoveryConfig::default()
                },
                // Every node is on 127.0.0.1: the per-address limits must admit the whole
                // committee (a real network has one address per node).
                inbound: InboundConfig {
                    max_connections_per_ip: InboundConfig::default()
                        .max_connections_per_ip
                        .max(4 * all),
                    ip_requests_per_second: InboundConfig::default()
                        .ip_requests_per_second
                        .max(200 * all as u32),
                    ip_request_burst: InboundConfig::default()
                        .ip_request_burst
                        .max(400 * all as u32),
                    ..InboundConfig::default()
                },
                disk: Default::default(),
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
            byzantine_rpc,
            validators,
        };
        for i in 0..cluster.validators.len() {
            cluster.start_validator(i);
        }
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
        for i in 0..self.validators.len() {
            self.stop_validator(i).await;
        }
    }

    /// Starts validator `i` (from its stores, if it ran before).
    pub fn start_validator(&mut self, i: usize) {
        let v = &mut self.validators[i];
        if v.running.is_some() {
            return;
        }
        let cancel = CancellationToken::new();
        let (config, c) = (v.config.clone(), cancel.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = floe_ledger::validator::run(config, c).await {
                panic!("validator failed: {e}");
            }
        });
        v.running = Some((cancel, task));
    }

    /// Stops validator `i` (and its key server) and waits until it has.
    pub async fn stop_validator(&mut self, i: usize) {
        if let Some((cancel, task)) = self.validators[i].running.take() {
            cancel.cancel();
            let _ = task.await;
        }
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

/// Polls the async `cond` every 100 ms until it holds; panics naming `what` if `timeout`
/// passes first.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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

/// Every ledger event so far, in order.
pub async fn all_events(ledger: &LedgerClient) -> Vec<floe_ledger::Event> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = ledger.events(after, 1000, None).await.expect("events");
        if page.events.is_empty() {
            return out;
        }
        out.extend(page.events.into_iter().map(|r| r.event));
        after = Some(page.next);
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
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use floe_node::server::HandlerHook;
    use floe_node_protocol::p2p::{Class, Handler, Origin, Request, Response};
    use libp2p::PeerId;

    /// A Byzantine node: serves every sliver and recovery symbol with a flipped byte, and
    /// otherwise behaves (it stores, confirms and answers metadata honestly). It counts the
    /// answers it corrupted, so a test can show the lies were told.
    pub struct Liar {
        inner: Arc<dyn Handler>,
        lies: Arc<AtomicU64>,
    }

    #[async_trait::async_trait]
    impl Handler for Liar {
        async fn handle(&self, from: Origin, request: Request) -> Response {
            let response = match self.inner.handle(from, request).await {
                Response::GetSliver(Ok(mut s)) if !s.data.is_empty() => {
                    s.data[0] ^= 0xff;
                    Response::GetSliver(Ok(s))
                }
                Response::Recovery(Ok(mut r)) if r.symbols.iter().any(|s| !s.data.is_empty()) => {
                    for sym in &mut r.symbols {
                        if let Some(b) = sym.data.first_mut() {
                            *b ^= 0xff;
                        }
                    }
                    Response::Recovery(Ok(r))
                }
                honest => return honest,
            };
            self.lies.fetch_add(1, Ordering::Relaxed);
            response
        }

        fn class(&self, from: &Origin, request: &Request) -> Class {
            self.inner.class(from, request)
        }
    }

    /// The hook that makes a node a [`Liar`], and the count of answers it corrupted.
    pub fn liar() -> (HandlerHook, Arc<AtomicU64>) {
        let lies = Arc::new(AtomicU64::new(0));
        let count = lies.clone();
        let hook: HandlerHook =
            Box::new(move |inner| Arc::new(Liar { inner, lies }) as Arc<dyn Handler>);
        (hook, count)
    }

    /// The switch of a [`Pausable`] node and what it held back.
    #[derive(Debug, Default)]
    pub struct Pause {
        /// While set, matching requests are held (never answered until it is cleared).
        pub paused: AtomicBool,
        /// Requests that arrived while paused and were held.
        pub stalled: AtomicU64,
    }

    impl Pause {
        /// Holds matching requests from now on.
        pub fn pause(&self) {
            self.paused.store(true, Ordering::Relaxed);
        }

        /// Answers held and new requests again.
        pub fn resume(&self) {
            self.paused.store(false, Ordering::Relaxed);
        }

        /// Requests held so far.
        pub fn stalled(&self) -> u64 {
            self.stalled.load(Ordering::Relaxed)
        }
    }

    /// Which requests a [`Pausable`] node holds while paused.
    pub type PauseFilter = Box<dyn Fn(&PeerId, &Request) -> bool + Send + Sync>;

    /// A node that can be paused: while paused it accepts the requests its filter selects and
    /// never answers them (a hung process), so callers see timeouts, not refusals.
    pub struct Pausable {
        inner: Arc<dyn Handler>,
        pause: Arc<Pause>,
        filter: PauseFilter,
    }

    #[async_trait::async_trait]
    impl Handler for Pausable {
        async fn handle(&self, from: Origin, request: Request) -> Response {
            if self.pause.paused.load(Ordering::Relaxed) && (self.filter)(&from.peer, &request) {
                self.pause.stalled.fetch_add(1, Ordering::Relaxed);
                while self.pause.paused.load(Ordering::Relaxed) {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
            self.inner.handle(from, request).await
        }

        fn class(&self, from: &Origin, request: &Request) -> Class {
            self.inner.class(from, request)
        }
    }

    /// A hook making a node [`Pausable`] for every request, and its switch.
    pub fn pausable() -> (HandlerHook, Arc<Pause>) {
        pausable_for(Box::new(|_, _| true))
    }

    /// A hook making a node [`Pausable`] for the requests `filter` selects, and its switch.
    pub fn pausable_for(filter: PauseFilter) -> (HandlerHook, Arc<Pause>) {
        let pause = Arc::new(Pause::default());
        let p = pause.clone();
        let hook: HandlerHook = Box::new(move |inner| {
            Arc::new(Pausable {
                inner,
                pause: p,
                filter,
            }) as Arc<dyn Handler>
        });
        (hook, pause)
    }
}
