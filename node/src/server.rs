//! A running storage node: the wiring of store, ledger follower, committee tracking, libp2p
//! service, blob sync, shard migration, garbage collection and the HTTP endpoint, each a task
//! under one cancellation token.
//!
//! [`run`] returns when the token fires (after every task stopped) or when a task fails (after
//! stopping the others); no task is left detached.

use std::sync::Arc;
use std::time::Duration;

use floe_common::KeyPair;
use floe_common::{EncodingConfig, Epoch, Frost};
use floe_ledger_types::{Genesis, LedgerClient};
use libp2p::Multiaddr;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::committee::{CommitteeView, Committees};
use crate::config::NodeConfig;
use crate::core::NodeCore;
use crate::follower::Follower;
use crate::ledger_tx::NodeAccount;
use crate::metrics::Metrics;
use crate::p2p::{Handler, P2p, Served, Server};
use crate::service::Service;
use crate::storage::{EpochRecord, Storage, StorageOptions};
use crate::{challenge, gc, http, migration, protocol, sync};

/// The node could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum NodeRunError {
    /// Bad configuration, genesis or key.
    #[error("configuration: {what}: {source}")]
    Config {
        /// What was being loaded or checked.
        what: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The key file is unreadable, invalid, or readable by group or others
    /// ([`floe_runtime::SecretFileError::Exposed`]: refused, the key must be taken as leaked).
    #[error("key file: {0}")]
    KeyFile(#[from] floe_runtime::SecretFileError),
    /// The ledger's committee and the genesis disagree on the shard count (wrong genesis file).
    #[error("the ledger's committee has {ledger} shards, the genesis {genesis}")]
    ShardCountMismatch {
        /// The ledger's.
        ledger: u16,
        /// The genesis file's.
        genesis: u16,
    },
    /// Cancelled before the ledger answered.
    #[error("cancelled before the ledger answered")]
    CancelledAtStart,
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    /// The network could not start.
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
    /// The ledger follower stopped.
    #[error(transparent)]
    Follower(#[from] crate::follower::FollowerError),
    /// The HTTP endpoint failed.
    #[error("http: {0}")]
    Http(#[from] std::io::Error),
    /// A task stopped before the node was cancelled.
    #[error("task {0} stopped")]
    TaskStopped(&'static str),
    /// A task panicked or was aborted.
    #[error("task {0} failed: {1}")]
    Task(&'static str, #[source] tokio::task::JoinError),
}

/// A configuration error about `what`.
fn config_error(
    what: impl Into<String>,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> NodeRunError {
    NodeRunError::Config {
        what: what.into(),
        source: source.into(),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, NodeRunError> {
    let bytes =
        std::fs::read(path).map_err(|e| config_error(format!("reading {}", path.display()), e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| config_error(format!("parsing {}", path.display()), e))
}

/// Loads the genesis and the node key named by `config`. A key file group or others can read
/// is refused ([`NodeRunError::KeyFile`]).
pub fn load(config: &NodeConfig) -> Result<(Genesis, KeyPair), NodeRunError> {
    let genesis = load_genesis(config)?;
    let key = floe_runtime::read_key_file(&config.key_file)?;
    Ok((genesis, key))
}

/// Loads the genesis named by `config`.
pub fn load_genesis(config: &NodeConfig) -> Result<Genesis, NodeRunError> {
    read_json(&config.genesis)
}

/// The encoding configuration of `genesis`' shard count.
pub fn encoding_of(genesis: &Genesis) -> Result<EncodingConfig, NodeRunError> {
    EncodingConfig::new(genesis.n_shards).map_err(|e| config_error("genesis shard count", e))
}

/// How often the committee is re-read from the ledger after a failed read.
const COMMITTEE_RETRY: Duration = Duration::from_secs(1);
/// The follower's request timeout (its long polls get their wait on top): a validator that
/// stops answering (cut off by a partition) is left for the next one within this, so the node
/// keeps seeing registrations while one validator is unreachable.
const FOLLOWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads the current committee, retrying until it succeeds or `cancel` fires.
async fn fetch_committee(
    client: &LedgerClient,
    cancel: &CancellationToken,
) -> Option<CommitteeView> {
    loop {
        match client.committee().await {
            Ok(resp) => match CommitteeView::from_response(&resp) {
                Ok(view) => return Some(view),
                Err(e) => tracing::error!(error = %e, "ledger served a bad committee"),
            },
            Err(e) => tracing::warn!(error = %e, "cannot read the committee yet"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return None,
            _ = tokio::time::sleep(COMMITTEE_RETRY) => {}
        }
    }
}

/// Reads the committee of `epoch` once; checks it against the verified epoch record when that
/// record describes it.
async fn fetch_committee_at(
    client: &LedgerClient,
    epoch: Epoch,
    record: Option<&EpochRecord>,
) -> Option<CommitteeView> {
    let view = match client.committee_at(epoch).await {
        Ok(None) => {
            tracing::warn!(%epoch, "the ledger no longer serves that epoch's committee");
            return None;
        }
        Ok(Some(resp)) => match CommitteeView::from_response(&resp) {
            Ok(view) => view,
            Err(e) => {
                tracing::error!(%epoch, error = %e, "ledger served a bad committee");
                return None;
            }
        },
        Err(e) => {
            tracing::warn!(%epoch, error = %e, "cannot read the committee");
            return None;
        }
    };
    if view.epoch() != epoch {
        tracing::error!(%epoch, served = %view.epoch(), "ledger served another epoch's committee");
        return None;
    }
    if let Some(r) = record.filter(|r| r.epoch == epoch)
        && !view.matches(&r.members)
    {
        let left = client.fail_over();
        tracing::error!(%epoch, validator = left.as_deref().unwrap_or("-"), "ledger served a committee that differs from the verified epoch change; failing over");
        return None;
    }
    Some(view)
}

/// Keeps the committees current as the node follows the ledger: the current one when the
/// epoch moves past it, and the previous one while an epoch change syncs shards or hands them
/// over.
async fn track_committee(
    core: Arc<NodeCore>,
    client: LedgerClient,
    tx: watch::Sender<Arc<Committees>>,
    cancel: CancellationToken,
) {
    let mut tip = core.tip_watch();
    loop {
        let t = *tip.borrow_and_update();
        let record = core.storage().epoch_record().ok().flatten();
        let have = tx.borrow().clone();
        let mut next = (*have).clone();
        let mut failed = false;
        if t.epoch > have.current.epoch() {
            match fetch_committee_at(&client, t.epoch, record.as_ref()).await {
                Some(view) => next.current = Arc::new(view),
                None => failed = true,
            }
        }
        // The previous committee matters while the change syncs, and to a previous holder
        // until every gaining node reported (it keeps serving what it hands over).
        let want_previous = record
            .as_ref()
            .filter(|r| r.epoch == t.epoch && (t.sync_pending || !r.handover_done()))
            .map(|r| r.previous_epoch);
        if want_previous != have.previous.as_ref().map(|p| p.epoch()) {
            match want_previous {
                None => next.previous = None,
                Some(e) => match fetch_committee_at(&client, e, None).await {
                    Some(view) => next.previous = Some(Arc::new(view)),
                    None => failed = true,
                },
            }
        }
        let changed = !Arc::ptr_eq(&next.current, &have.current)
            || next.previous.as_ref().map(|p| p.epoch())
                != have.previous.as_ref().map(|p| p.epoch());
        if changed {
            tracing::info!(
                epoch = %next.current.epoch(),
                previous = ?next.previous.as_ref().map(|p| p.epoch().0),
                "committees updated"
            );
            tx.send_replace(Arc::new(next));
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            r = tip.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(COMMITTEE_RETRY), if failed => {}
        }
    }
}

/// A started node (for tests and embedding): its address and shared state.
pub struct RunningNode {
    /// The bound libp2p address.
    pub p2p_addr: Multiaddr,
    /// The bound HTTP address.
    pub http_addr: std::net::SocketAddr,
    /// Shared state.
    pub core: Arc<NodeCore>,
    tasks: JoinSet<(&'static str, Result<(), NodeRunError>)>,
    cancel: CancellationToken,
}

impl RunningNode {
    /// Waits until `cancel` fires or a task fails; stops every task before returning.
    pub async fn wait(mut self) -> Result<(), NodeRunError> {
        let mut result = Ok(());
        while let Some(done) = self.tasks.join_next().await {
            let failure = match done {
                Ok((_, Ok(()))) => None,
                Ok((name, Err(e))) => Some((name, e)),
                Err(e) => Some(("task", NodeRunError::Task("task", e))),
            };
            if let Some((name, e)) = failure {
                tracing::error!(task = name, error = %e, "node task failed; stopping");
                self.cancel.cancel();
                if result.is_ok() {
                    result = Err(e);
                }
            } else if !self.cancel.is_cancelled() {
                // A task that ends on its own before shutdown is a failure of the node.
                self.cancel.cancel();
            }
        }
        result
    }
}

/// Wraps the node's protocol handler before it serves: fault injection for tests (a Byzantine
/// node that corrupts what it serves). Honest nodes pass `None`.
pub type HandlerHook = Box<dyn FnOnce(Arc<dyn Handler>) -> Arc<dyn Handler> + Send>;

/// Starts a node; the returned [`RunningNode`] runs until `cancel` fires.
pub async fn start(
    config: NodeConfig,
    cancel: CancellationToken,
) -> Result<RunningNode, NodeRunError> {
    start_with(config, cancel, None).await
}

/// [`start`] with an optional [`HandlerHook`].
pub async fn start_with(
    config: NodeConfig,
    cancel: CancellationToken,
    hook: Option<HandlerHook>,
) -> Result<RunningNode, NodeRunError> {
    let (genesis, key) = load(&config)?;
    let encoding = encoding_of(&genesis)?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| config_error(format!("creating {}", config.data_dir.display()), e))?;
    let storage = Arc::new(Storage::open(
        &config.data_dir.join("db"),
        encoding,
        StorageOptions {
            sync_writes: config.sync_writes,
            min_free_bytes: config.disk.min_free_bytes,
        },
    )?);
    let validators = genesis
        .validator_set()
        .map_err(|e| config_error("genesis validators", e))?;
    let client = LedgerClient::new(config.ledger_rpc.clone());
    let committee = fetch_committee(&client, &cancel)
        .await
        .ok_or(NodeRunError::CancelledAtStart)?;
    if committee.n_shards() != genesis.n_shards {
        return Err(NodeRunError::ShardCountMismatch {
            ledger: committee.n_shards(),
            genesis: genesis.n_shards,
        });
    }
    let (committee_tx, committee_rx) = watch::channel(Arc::new(Committees::new(committee)));
    let metrics = Arc::new(Metrics::default());
    // The follower has its own client: leaving a validator that served a bad record must not
    // move the other readers, and the reverse.
    let follower = Follower::new(
        LedgerClient::new(config.ledger_rpc.clone()).with_request_timeout(FOLLOWER_TIMEOUT),
        genesis.chain_id.clone(),
        validators,
        storage.clone(),
    )
    .count_rejections_in(metrics.ledger_records_rejected.clone());
    let core = Arc::new(NodeCore::new(
        genesis.chain_id.clone(),
        key.clone(),
        storage,
        follower.tip(),
        committee_rx,
        metrics.clone(),
        Duration::from_millis(config.inbound.max_confirmation_wait_ms),
        config.inbound.long_polls(),
    ));
    let (p2p, p2p_addr, p2p_task) =
        start_p2p(&config, &key, &encoding, &core, hook, cancel.clone()).await?;
    let p2p_addr = p2p_addr.expect("a server listens");
    let listener = tokio::net::TcpListener::bind(config.http_listen).await?;
    let http_addr = listener.local_addr()?;
    tracing::info!(
        name = %config.name,
        node_id = %core.node_id(),
        peer_id = %p2p.local_peer_id(),
        %p2p_addr,
        %http_addr,
        shards = core.shards().len(),
        "storage node started"
    );

    let services = Services {
        follower,
        p2p,
        p2p_task,
        http: listener,
        client,
        committee_tx,
    };
    let chain = (genesis.chain_id.as_str(), genesis.params.min_fee);
    let tasks = services.spawn(&config, chain, &core, &cancel);
    Ok(RunningNode {
        p2p_addr,
        http_addr,
        core,
        tasks,
        cancel,
    })
}

/// Starts the swarm serving the node protocols on `config.p2p_listen`, with the handler
/// wrapped by `hook` (fault injection in tests) and every answer counted in the metrics.
async fn start_p2p(
    config: &NodeConfig,
    key: &KeyPair,
    encoding: &EncodingConfig,
    core: &Arc<NodeCore>,
    hook: Option<HandlerHook>,
    cancel: CancellationToken,
) -> Result<(P2p, Option<Multiaddr>, tokio::task::JoinHandle<()>), NodeRunError> {
    let listen: Multiaddr = config
        .p2p_listen
        .parse()
        .map_err(|e| config_error(format!("p2p_listen {:?}", config.p2p_listen), e))?;
    let observer_metrics = core.metrics().clone();
    let mut handler: Arc<dyn Handler> = Arc::new(Service::new(core.clone()));
    if let Some(hook) = hook {
        handler = hook(handler);
    }
    let started = P2p::start(
        key,
        &protocol::limits(encoding),
        Some(Server {
            listen,
            handler,
            limits: config.inbound.limits(),
            observer: Some(Arc::new(move |s: Served| {
                observer_metrics.request(s.protocol, s.result, s.elapsed)
            })),
        }),
        cancel,
    )
    .await?;
    Ok(started)
}

/// What the node's long-lived tasks need, before they are spawned.
struct Services {
    follower: Follower,
    p2p: P2p,
    p2p_task: tokio::task::JoinHandle<()>,
    http: tokio::net::TcpListener,
    client: LedgerClient,
    committee_tx: watch::Sender<Arc<Committees>>,
}

impl Services {
    /// Spawns the follower, the swarm's watcher, the HTTP endpoint, committee tracking, shard
    /// migration, blob sync and GC, each under `cancel`, each reporting how it ended.
    fn spawn(
        self,
        config: &NodeConfig,
        (chain_id, min_fee): (&str, Frost),
        core: &Arc<NodeCore>,
        cancel: &CancellationToken,
    ) -> JoinSet<(&'static str, Result<(), NodeRunError>)> {
        let Services {
            follower,
            p2p,
            p2p_task,
            http: listener,
            client,
            committee_tx,
        } = self;
        let mut tasks = JoinSet::new();
        let c = cancel.clone();
        tasks.spawn(async move { ("follower", follower.run(c).await.map_err(Into::into)) });
        let c = cancel.clone();
        tasks.spawn(async move {
            let r = p2p_task.await;
            if !c.is_cancelled() {
                return ("p2p", Err(NodeRunError::TaskStopped("p2p")));
            }
            ("p2p", r.map_err(|e| NodeRunError::Task("p2p", e)))
        });
        let c = cancel.clone();
        let h = http::serve(listener, core.clone(), config.name.clone(), c);
        tasks.spawn(async move { ("http", h.await.map_err(Into::into)) });
        let c = cancel.clone();
        let (cc, cl) = (core.clone(), client.clone());
        tasks.spawn(async move {
            track_committee(cc, cl, committee_tx, c).await;
            ("committee", Ok(()))
        });
        let c = cancel.clone();
        let account = NodeAccount::new(client, chain_id, min_fee);
        let migrator = migration::ShardMigration::new(core.clone(), p2p.clone(), account.clone());
        tasks.spawn(async move {
            migrator.run(c).await;
            ("migration", Ok(()))
        });
        let c = cancel.clone();
        let prover = challenge::Prover::new(
            core.clone(),
            LedgerClient::new(config.ledger_rpc.clone()),
            account.clone(),
            config.recovery.enabled,
        );
        tasks.spawn(async move {
            prover.run(c).await;
            ("challenges", Ok(()))
        });
        let c = cancel.clone();
        let syncer = sync::BlobSync::new(core.clone(), p2p, account, config.recovery.clone());
        tasks.spawn(async move {
            syncer.run(c).await;
            ("sync", Ok(()))
        });
        let c = cancel.clone();
        let collector = gc::Collector::new(core.clone());
        tasks.spawn(async move {
            collector.run(c).await;
            ("gc", Ok(()))
        });
        tasks
    }
}

/// Runs a node until `cancel` fires or a task fails.
pub async fn run(config: NodeConfig, cancel: CancellationToken) -> Result<(), NodeRunError> {
    start(config, cancel).await?.wait().await
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use floe_runtime::SecretFileError;

    use super::*;

    #[tokio::test]
    async fn adv_world_readable_key_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut config: NodeConfig = toml::from_str(include_str!("../node.example.toml")).unwrap();
        config.data_dir = dir.path().join("data");
        config.genesis = dir.path().join("genesis.json");
        config.key_file = dir.path().join("key.json");
        let genesis = Genesis::builder("floe-key-test", 4).build();
        std::fs::write(&config.genesis, serde_json::to_vec(&genesis).unwrap()).unwrap();
        let key = KeyPair::from_seed([3; 32]);
        floe_runtime::write_key_file(&config.key_file, &key).unwrap();
        assert_eq!(load(&config).unwrap().1.public(), key.public());

        // Readable by others: the node does not start, and says which file and why.
        std::fs::set_permissions(&config.key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        // (Cancelled from the start, so that a node that did not refuse returns at once.)
        let cancel = CancellationToken::new();
        cancel.cancel();
        let err = tokio::time::timeout(Duration::from_secs(30), start(config.clone(), cancel))
            .await
            .expect("start returns")
            .err()
            .expect("a world-readable key is refused");
        let text = err.to_string();
        match err {
            NodeRunError::KeyFile(SecretFileError::Exposed { path, mode }) => {
                assert_eq!((path, mode), (config.key_file.clone(), 0o644));
            }
            other => panic!("{other:?}"),
        }
        assert!(text.contains("key.json") && text.contains("0644"), "{text}");
        assert!(!config.data_dir.exists(), "nothing was started");
    }
}
