//! A validator process: the ledger, the Malachite engine, the application loop and the RPC.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use malachitebft_app_channel::app::config::{
    ConsensusConfig, DiscoveryConfig, NodeConfig, P2pConfig, PubSubProtocol, ValuePayload,
    ValueSyncConfig,
};
use malachitebft_app_channel::app::types::Keypair;
use malachitebft_app_channel::{
    ConsensusContext, NetworkContext, NetworkIdentity, RequestContext, SyncContext, WalContext,
    start_engine,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::cert::ValidatorAddress;
use crate::consensus::app::{App, AppError, FloodHook, Pacing, ProposeHook};
use crate::consensus::codec::FloeCodec;
use crate::consensus::context::FloeContext;
use crate::consensus::signing::{FloeSigner, FloeVerifier};
use crate::genesis::Genesis;
use crate::mempool::MempoolConfig;
use crate::service::Ledger;
use crate::store::LedgerStore;
use floe_common::KeyPair;
use floe_common::privacy::KeyServerSecret;

use crate::keyserver::KeyServer;

/// A validator's configuration file (TOML).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorConfig {
    /// Name, e.g. `validator-1`, used in logs and as the consensus engine's moniker.
    /// (Metrics are served at `GET /metrics` on the RPC address.)
    pub name: String,
    /// Directory for the RocksDB store and the consensus WAL.
    pub data_dir: PathBuf,
    /// Genesis file (JSON).
    pub genesis: PathBuf,
    /// Consensus key file (JSON `KeyFile`); the validator's address is its public key. Must be
    /// readable by its owner only (mode `0600`): the validator refuses to start otherwise.
    pub key_file: PathBuf,
    /// libp2p listen address for consensus, e.g. `/ip4/127.0.0.1/tcp/26001`.
    pub p2p_listen: String,
    /// The other validators' libp2p addresses.
    pub p2p_peers: Vec<String>,
    /// HTTP RPC listen address, e.g. `127.0.0.1:27001`.
    pub rpc_listen: SocketAddr,
    /// The other validators' RPC base URLs (transactions are forwarded to them).
    #[serde(default)]
    pub rpc_peers: Vec<String>,
    /// Target time between blocks, in milliseconds.
    #[serde(default = "default_block_time_ms")]
    pub block_time_ms: u64,
    /// Mempool bounds (section `[mempool]`; every field optional).
    #[serde(default)]
    pub mempool: MempoolConfig,
    /// This validator's key-server share for private blobs (JSON `{index, share}`, readable by
    /// its owner only). Required when the genesis lists a key server run by this validator
    /// (by `name`); the share must match the genesis's public share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_share_file: Option<PathBuf>,
}

fn default_block_time_ms() -> u64 {
    200
}

/// Starting or running a validator failed.
#[derive(Debug, thiserror::Error)]
pub enum ValidatorError {
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
    /// The key is not one of the genesis validators'.
    #[error("key {0} is not a validator in the genesis")]
    NotAValidator(ValidatorAddress),
    /// Store or chain failure.
    #[error(transparent)]
    Chain(#[from] crate::chain::ChainError),
    /// Store failure.
    #[error(transparent)]
    Store(#[from] crate::store::LedgerStoreError),
    /// The engine failed to start.
    #[error("consensus engine: {0}")]
    Engine(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The application loop stopped.
    #[error(transparent)]
    App(#[from] AppError),
    /// The RPC server failed.
    #[error("rpc: {0}")]
    Rpc(#[from] std::io::Error),
}

struct EngineConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }
    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }
    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }
    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }
    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

/// A configuration error about `what`.
fn config_error(
    what: impl Into<String>,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> ValidatorError {
    ValidatorError::Config {
        what: what.into(),
        source: source.into(),
    }
}

fn parse_addr(s: &str) -> Result<malachitebft_app_channel::app::net::Multiaddr, ValidatorError> {
    s.parse()
        .map_err(|e| config_error(format!("multiaddr {s:?}"), e))
}

fn engine_config(config: &ValidatorConfig) -> Result<EngineConfig, ValidatorError> {
    let p2p = P2pConfig {
        listen_addr: parse_addr(&config.p2p_listen)?,
        persistent_peers: config
            .p2p_peers
            .iter()
            .map(|p| parse_addr(p))
            .collect::<Result<_, _>>()?,
        persistent_peers_only: false,
        discovery: DiscoveryConfig {
            enabled: false,
            ..DiscoveryConfig::default()
        },
        protocol: PubSubProtocol::Broadcast,
        rpc_max_size: bytesize_mib(12),
        pubsub_max_size: bytesize_mib(4),
        ..P2pConfig::default()
    };
    let consensus = ConsensusConfig {
        enabled: true,
        p2p,
        value_payload: ValuePayload::ProposalAndParts,
        queue_capacity: 100,
        ..ConsensusConfig::default()
    };
    let value_sync = ValueSyncConfig {
        enabled: true,
        status_update_interval: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
        max_response_size: bytesize_mib(10),
        batch_size: 10,
        ..ValueSyncConfig::default()
    };
    Ok(EngineConfig {
        moniker: config.name.clone(),
        consensus,
        value_sync,
    })
}

fn bytesize_mib(n: u64) -> bytesize::ByteSize {
    bytesize::ByteSize::mib(n)
}

/// Loads the genesis and key a configuration names. A key file group or others can read is
/// refused ([`ValidatorError::KeyFile`]).
pub fn load(config: &ValidatorConfig) -> Result<(Genesis, KeyPair), ValidatorError> {
    let genesis: Genesis = read_json(&config.genesis)?;
    let key = floe_runtime::read_key_file(&config.key_file)?;
    Ok((genesis, key))
}

/// The key server this validator runs, if the genesis lists one by its name: its share is
/// read from `key_share_file` (owner-only, like the consensus key) and must match the listed
/// public share.
pub fn key_server(
    config: &ValidatorConfig,
    genesis: &Genesis,
) -> Result<Option<KeyServer>, ValidatorError> {
    let Some(listed) = genesis
        .key_servers
        .as_ref()
        .and_then(|k| k.of_validator(&config.name))
    else {
        return Ok(None);
    };
    let path = config.key_share_file.as_ref().ok_or_else(|| {
        config_error(
            "key_share_file",
            format!("the genesis lists a key server run by {}", config.name),
        )
    })?;
    let text = floe_runtime::secret::read_secret(path)?;
    let secret: KeyServerSecret = serde_json::from_slice(&text)
        .map_err(|e| config_error(format!("parsing {}", path.display()), e))?;
    if secret.public() != listed.public {
        return Err(config_error(
            format!("{}", path.display()),
            "the key share does not match the genesis's public share of this validator",
        ));
    }
    tracing::info!(index = secret.index(), "key server enabled");
    Ok(Some(KeyServer::new(secret, genesis.chain_id.clone())))
}

/// Reads a JSON file into `T`.
pub fn read_json<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
) -> Result<T, ValidatorError> {
    let bytes =
        std::fs::read(path).map_err(|e| config_error(format!("reading {}", path.display()), e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| config_error(format!("parsing {}", path.display()), e))
}

/// Fault injection for tests: what a validator does differently from an honest one.
#[derive(Clone, Default)]
pub struct ValidatorHooks {
    /// Rewrites the transactions of this validator's proposals.
    pub propose: Option<ProposeHook>,
    /// Streams extra signed parts at every round.
    pub flood: Option<FloodHook>,
    /// Receives the bytes of early proposal parts this validator holds in memory.
    pub early_bytes: Option<Arc<std::sync::atomic::AtomicUsize>>,
}

/// Runs a validator until `cancel` fires or a part of it fails.
pub async fn run(config: ValidatorConfig, cancel: CancellationToken) -> Result<(), ValidatorError> {
    run_with(config, cancel, ValidatorHooks::default()).await
}

/// [`run`], with `hooks` making the validator Byzantine in the ways they say (tests).
pub async fn run_with(
    config: ValidatorConfig,
    cancel: CancellationToken,
    hooks: ValidatorHooks,
) -> Result<(), ValidatorError> {
    let (genesis, key) = load(&config)?;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| config_error("creating data dir", e))?;
    let store = LedgerStore::open(&config.data_dir.join("db"), genesis.digest())?;
    let ledger = Arc::new(Ledger::open_with(store, genesis, config.mempool)?);
    let address = ValidatorAddress::of(&key.public());
    if ledger.validators().get(&address).is_none() {
        return Err(ValidatorError::NotAValidator(address));
    }
    tracing::info!(name = %config.name, %address, height = ledger.tip().height, "starting validator");

    let ctx = FloeContext::new(ledger.chain_id());
    let keypair =
        Keypair::ed25519_from_bytes(key.seed()).map_err(|e| config_error("network key", e))?;
    let identity = NetworkIdentity::new(config.name.clone(), keypair, Some(address.to_string()));
    let (channels, engine) = start_engine(
        ctx,
        engine_config(&config)?,
        WalContext::new(config.data_dir.join("wal").join("consensus.wal"), FloeCodec),
        NetworkContext::new(identity, FloeCodec),
        ConsensusContext::new_validator(
            address,
            Box::new(FloeVerifier::new(ledger.chain_id())),
            Box::new(FloeSigner::new(key.clone(), ledger.chain_id())),
        ),
        SyncContext::new(FloeCodec),
        RequestContext::new(100),
    )
    .await
    .map_err(|e| ValidatorError::Engine(e.into()))?;

    let pacing = Pacing {
        block_time: Duration::from_millis(config.block_time_ms),
        ..Pacing::default()
    };
    let mut app = App::new(ledger.clone(), key, pacing)
        .with_propose_hook(hooks.propose)
        .with_flood_hook(hooks.flood);
    if let Some(gauge) = hooks.early_bytes {
        app = app.report_early_bytes(gauge);
    }
    let key_server = key_server(&config, ledger.genesis())?.map(Arc::new);
    let listener = tokio::net::TcpListener::bind(config.rpc_listen).await?;
    let rpc_cancel = cancel.child_token();
    let rpc = crate::rpc::serve(
        listener,
        ledger.clone(),
        crate::rpc::RpcConfig {
            peers: config.rpc_peers.clone(),
            key_server,
            ..crate::rpc::RpcConfig::default()
        },
        rpc_cancel.clone(),
    );
    let result = tokio::select! {
        r = app.run(channels, cancel.clone()) => r.map_err(ValidatorError::from),
        r = rpc => r.map_err(ValidatorError::from),
    };
    rpc_cancel.cancel();
    engine.actor.stop(Some("shutdown".into()));
    let _ = tokio::time::timeout(Duration::from_secs(5), engine.handle).await;
    tracing::info!(name = %config.name, "validator stopped");
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let text = include_str!("../validator.example.toml");
        let config: ValidatorConfig = toml::from_str(text).expect("example config parses");
        assert_eq!(config.name, "validator-1");
        assert_eq!(config.p2p_peers.len(), 3);
        assert_eq!(config.rpc_peers.len(), 3);
        assert!(config.key_share_file.is_some());
        assert_eq!(
            config.mempool,
            MempoolConfig::default(),
            "the example shows the defaults"
        );
        assert!(engine_config(&config).is_ok());
        // Round trip: what `localnet` writes is what `run` reads.
        let again: ValidatorConfig = toml::from_str(&toml::to_string(&config).unwrap()).unwrap();
        assert_eq!(again, config);
    }

    #[tokio::test]
    async fn adv_world_readable_key_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let mut config: ValidatorConfig =
            toml::from_str(include_str!("../validator.example.toml")).unwrap();
        config.data_dir = dir.path().join("data");
        config.genesis = dir.path().join("genesis.json");
        config.key_file = dir.path().join("key.json");
        let key = KeyPair::from_seed([3; 32]);
        let genesis = Genesis::builder("floe-key-test", 4)
            .validator("validator-1", key.public(), 1)
            .build();
        std::fs::write(&config.genesis, serde_json::to_vec(&genesis).unwrap()).unwrap();
        floe_runtime::write_key_file(&config.key_file, &key).unwrap();
        assert_eq!(load(&config).unwrap().1.public(), key.public());

        // Readable by others: the validator does not start, and says which file and why.
        std::fs::set_permissions(&config.key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        // (Cancelled from the start, so that a validator that did not refuse returns at once.)
        let cancel = CancellationToken::new();
        cancel.cancel();
        let err = tokio::time::timeout(Duration::from_secs(30), run(config.clone(), cancel))
            .await
            .expect("run returns")
            .expect_err("a world-readable key is refused");
        let text = err.to_string();
        match err {
            ValidatorError::KeyFile(floe_runtime::SecretFileError::Exposed { path, mode }) => {
                assert_eq!((path, mode), (config.key_file.clone(), 0o644));
            }
            other => panic!("{other:?}"),
        }
        assert!(text.contains("key.json") && text.contains("0644"), "{text}");
        assert!(!config.data_dir.exists(), "nothing was started");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let text = format!("{}\nextra = 1\n", include_str!("../validator.example.toml"));
        assert!(toml::from_str::<ValidatorConfig>(&text).is_err());
    }
}
