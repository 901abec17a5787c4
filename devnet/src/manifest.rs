//! The network description (`devnet.json`) and its generation: keys, genesis and one
//! configuration file per validator and storage node.
//!
//! Layout of a devnet folder:
//!
//! ```text
//! devnet.json                 this description (written last: its presence means "complete")
//! genesis.json                the chain's genesis
//! wallet.json                 the client wallet (owns the nodes' stake, 10,000,000 WAL)
//! client.yaml                 the client configuration (written by `up` once the network is ready)
//! validator-N/                key.json, config.toml, data/
//! node-N/                     key.json, config.toml, data/
//! logs/NAME.log               stdout and stderr of each process (appended across restarts)
//! run/NAME.pid, run/up.pid    pids of the running processes and of the `up` supervisor
//! ```
//!
//! Every key (validators, nodes, wallet) is drawn from the OS random number generator, and the
//! chain id from a separate draw, so nothing public (the chain id, a block, the genesis) tells
//! anything about a key. Key files and `devnet.json` are written with mode `0600`
//! ([`floe_runtime::secret`]); validators and nodes refuse key files others can read.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use floe_common::{Frost, KeyPair};
use floe_ledger::localnet::{self, LocalValidator};
use floe_ledger::{Address, Genesis, GenesisNode, GenesisValidator, validator};
use floe_node::NodeConfig;
use floe_node::config::{InboundConfig, RecoveryConfig};
use serde::{Deserialize, Serialize};

use crate::error::DevnetError;
use crate::limits;

/// Name of the network description inside a devnet folder.
pub const MANIFEST_FILE: &str = "devnet.json";
/// Version of the `devnet.json` format this crate writes and reads (2: no key seed).
pub const FORMAT_VERSION: u32 = 2;
/// WAL in the client wallet at genesis.
pub const WALLET_WAL: u64 = 10_000_000;
/// WAL in each storage node's own account at genesis (pays the fees of its transactions).
pub const NODE_ACCOUNT_WAL: u64 = 1_000;
/// WAL staked on each storage node at genesis (owned by the client wallet).
pub const NODE_STAKE_WAL: u64 = 100_000;

/// The shape of a new devnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevnetOptions {
    /// Validators, with equal voting power.
    pub validators: usize,
    /// Storage nodes, with equal stake (`node-1` … `node-N`).
    pub nodes: usize,
    /// Shards of the network.
    pub shards: u16,
    /// Epoch length in seconds of block time.
    pub epoch_secs: u64,
    /// Target time between blocks (ms).
    pub block_time_ms: u64,
    /// Where each process runs: validators first, then nodes, one host each. Empty (the
    /// default): every process on 127.0.0.1 in this machine's network namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<Host>,
}

/// A process's place when the network is spread over machines, or over network namespaces
/// that stand in for them: it listens on `addr` there, and its peers reach it at `addr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// The network namespace (a name under `/var/run/netns`, as `ip netns` makes them) the
    /// process runs in; `None` for a process on a machine of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// The process's address in it.
    pub addr: Ipv4Addr,
}

impl Default for DevnetOptions {
    /// 4 validators, 10 nodes, 100 shards, one-hour epochs, 200 ms blocks.
    fn default() -> Self {
        Self {
            validators: 4,
            nodes: 10,
            shards: 100,
            epoch_secs: 3600,
            block_time_ms: 200,
            hosts: Vec::new(),
        }
    }
}

impl DevnetOptions {
    /// Checks the options before anything is written.
    pub fn validate(&self) -> Result<(), DevnetError> {
        let bad = |s: &str| Err(DevnetError::Options(s.to_owned()));
        if self.validators == 0 || self.validators > 100 {
            return bad("--validators must be in 1..=100");
        }
        if self.nodes == 0 || self.nodes > 1000 {
            return bad("--nodes must be in 1..=1000");
        }
        if usize::from(self.shards) < self.nodes {
            return bad("--shards must be at least --nodes (every node holds a shard)");
        }
        if self.epoch_secs == 0 || self.epoch_secs > 365 * 24 * 3600 {
            return bad("--epoch-secs must be in 1..=31536000");
        }
        if self.block_time_ms == 0 || self.block_time_ms > 60_000 {
            return bad("--block-time-ms must be in 1..=60000");
        }
        if !self.hosts.is_empty() && self.hosts.len() != self.validators + self.nodes {
            return bad("hosts: one per process (validators, then nodes), or none");
        }
        Ok(())
    }

    /// The address process `i` (validators first, then nodes) listens on.
    fn addr(&self, i: usize) -> Ipv4Addr {
        self.hosts.get(i).map_or(Ipv4Addr::LOCALHOST, |h| h.addr)
    }

    /// The network namespace process `i` runs in, if the devnet is spread over them.
    fn netns(&self, i: usize) -> Option<String> {
        self.hosts.get(i).and_then(|h| h.netns.clone())
    }
}

/// What a process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessKind {
    /// A ledger validator (`floe-devnet validator --config …`).
    Validator,
    /// A storage node (`floe-devnet node --config …`).
    Node,
}

impl ProcessKind {
    /// The hidden subcommand of `floe-devnet` that runs this kind of process.
    pub fn subcommand(self) -> &'static str {
        match self {
            ProcessKind::Validator => "validator",
            ProcessKind::Node => "node",
        }
    }
}

impl std::fmt::Display for ProcessKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.subcommand())
    }
}

/// One process of the devnet. Paths are relative to the devnet folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessSpec {
    /// Unique name: `validator-N` or `node-N`.
    pub name: String,
    /// Validator or storage node.
    pub kind: ProcessKind,
    /// Its configuration file (TOML).
    pub config: PathBuf,
    /// Its key file.
    pub key_file: PathBuf,
    /// Its data folder (RocksDB).
    pub data_dir: PathBuf,
    /// libp2p listen address.
    pub p2p_listen: String,
    /// HTTP listen address: the RPC of a validator, `/health` and `/metrics` of a node.
    pub http_listen: SocketAddr,
    /// The network namespace it runs in (`ip netns exec`), if the devnet is spread over them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
}

impl ProcessSpec {
    /// Base URL of its HTTP endpoint.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_listen)
    }

    /// The TCP port of `p2p_listen`, if it names one.
    pub fn p2p_port(&self) -> Option<u16> {
        tcp_port(&self.p2p_listen)
    }
}

/// The contents of `devnet.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT_VERSION`].
    pub format: u32,
    /// The chain id (`floe-devnet-` and 16 random hex digits, drawn apart from every key).
    pub chain_id: String,
    /// The absolute folder the devnet was generated in (its configs hold absolute paths).
    pub root: PathBuf,
    /// When it was generated (ms since the Unix epoch); also the genesis time.
    pub created_ms: u64,
    /// The shape it was generated with.
    pub options: DevnetOptions,
    /// The genesis file.
    pub genesis: PathBuf,
    /// The client wallet's key file.
    pub wallet: PathBuf,
    /// The client configuration written by `up`.
    pub client_config: PathBuf,
    /// Validators, then storage nodes.
    pub processes: Vec<ProcessSpec>,
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn tcp_port(multiaddr: &str) -> Option<u16> {
    let mut parts = multiaddr.split('/');
    parts.find(|p| *p == "tcp")?;
    parts.next()?.parse().ok()
}

/// A fresh key from the OS random number generator. (Validator keys come from
/// [`localnet::write`] without a seed, which draws them the same way.)
fn fresh_key() -> KeyPair {
    KeyPair::generate(&mut rand::rngs::OsRng)
}

/// A fresh chain id, `floe-devnet-<16 hex digits>`, from its own draw of the OS random number
/// generator: it reveals nothing about any key.
fn fresh_chain_id() -> String {
    use rand::RngCore as _;
    format!("floe-devnet-{:016x}", rand::rngs::OsRng.next_u64())
}

fn wal(n: u64) -> Frost {
    Frost::from_wal(n).expect("constant WAL amounts fit in u64")
}

/// Picks free loopback ports, never the same one twice, below the kernel's ephemeral range
/// when there is room: a devnet keeps its ports across restarts, and a port from the ephemeral
/// range may meanwhile be taken as the source port of some outgoing connection.
struct Ports {
    taken: BTreeSet<u16>,
    /// Inclusive range to draw from; `None`: ask the kernel ([`localnet::free_port`]).
    range: Option<(u16, u16)>,
}

impl Ports {
    fn new() -> Self {
        let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok());
        let range = match ephemeral_low {
            Some(low) if low > 12_000 => Some((10_000, low - 1)),
            _ => None,
        };
        Self {
            taken: BTreeSet::new(),
            range,
        }
    }

    fn pick(&mut self) -> std::io::Result<u16> {
        use rand::Rng as _;
        for _ in 0..1000 {
            let port = match self.range {
                Some((lo, hi)) => rand::thread_rng().gen_range(lo..=hi),
                None => localnet::free_port()?,
            };
            if !self.taken.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
                self.taken.insert(port);
                return Ok(port);
            }
        }
        Err(std::io::Error::other("no free port found"))
    }
}

/// Gives the validators written by [`localnet::write`] (which takes ports from the kernel on
/// 127.0.0.1) ports from `ports` on their hosts' addresses, and rewrites their
/// configurations.
fn reassign_ports(
    validators: &mut [LocalValidator],
    ports: &mut Ports,
    opts: &DevnetOptions,
) -> Result<(), DevnetError> {
    let picked: Vec<(Ipv4Addr, u16, u16)> = validators
        .iter()
        .enumerate()
        .map(|(i, _)| Ok((opts.addr(i), ports.pick()?, ports.pick()?)))
        .collect::<std::io::Result<_>>()
        .map_err(DevnetError::io("127.0.0.1"))?;
    let others = |i: usize| picked.iter().enumerate().filter(move |(j, _)| *j != i);
    for (i, v) in validators.iter_mut().enumerate() {
        let (ip, p2p, rpc) = picked[i];
        v.config.p2p_listen = format!("/ip4/{ip}/tcp/{p2p}");
        v.config.p2p_peers = others(i)
            .map(|(_, (a, p, _))| format!("/ip4/{a}/tcp/{p}"))
            .collect();
        v.config.rpc_listen = SocketAddr::from((ip, rpc));
        v.config.rpc_peers = others(i)
            .map(|(_, (a, _, r))| format!("http://{a}:{r}"))
            .collect();
        v.rpc_url = format!("http://{ip}:{rpc}");
        let text = toml::to_string(&v.config).map_err(DevnetError::parse(&v.config_path))?;
        write_file(&v.config_path, text.as_bytes(), false)?;
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically; `secret` files are created readable by the owner only
/// ([`floe_runtime::secret::write_secret`]).
pub(crate) fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<(), DevnetError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if secret {
        return Ok(floe_runtime::secret::write_secret(path, bytes)?);
    }
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .map_err(DevnetError::io(&tmp))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(DevnetError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(DevnetError::io(path))
}

/// Reads a JSON file.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, DevnetError> {
    let bytes = std::fs::read(path).map_err(DevnetError::io(path))?;
    serde_json::from_slice(&bytes).map_err(DevnetError::parse(path))
}

/// Reads a key file (refused if group or others can read it).
pub(crate) fn read_key(path: &Path) -> Result<KeyPair, DevnetError> {
    Ok(floe_runtime::read_key_file(path)?)
}

fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_owned()
}

/// The genesis of a new devnet, without validators (added by [`localnet::write`]): a devnet
/// chain with the faucet and per-node shard cap of [`crate::limits`].
fn genesis(
    opts: &DevnetOptions,
    chain_id: String,
    created_ms: u64,
    wallet: &KeyPair,
    nodes: &[(KeyPair, Ipv4Addr, u16, u16)],
) -> Genesis {
    let owner = Address::of(&wallet.public());
    let storage_price = Frost(100_000);
    let write_price = Frost(20_000);
    let mut g = Genesis::builder(chain_id, opts.shards)
        .time_ms(created_ms)
        .params(|p| {
            p.epoch_duration_ms = opts.epoch_secs * 1000;
            p.storage_price_per_mib_epoch = storage_price;
            p.write_price_per_mib = write_price;
            p.max_shards_per_node = limits::max_shards_per_node(opts);
        })
        .account(owner, wal(WALLET_WAL))
        .devnet()
        .faucet(limits::faucet(opts));
    for (k, _, _, _) in nodes {
        g = g.account(Address::of(&k.public()), wal(NODE_ACCOUNT_WAL));
    }
    for (i, (k, ip, p2p, http)) in nodes.iter().enumerate() {
        g = g.node(GenesisNode {
            storage_price_vote: storage_price,
            write_price_vote: write_price,
            ..GenesisNode::new(
                format!("node-{}", i + 1),
                k.public(),
                owner,
                wal(NODE_STAKE_WAL),
                format!("/ip4/{ip}/tcp/{p2p}"),
                format!("http://{ip}:{http}"),
            )
        });
    }
    g.build()
}

/// Generates a devnet in the absolute folder `root`: keys, genesis, validator and node
/// configurations and the wallet, then `devnet.json`. Ports are picked free on 127.0.0.1;
/// addresses are 127.0.0.1, or the processes' hosts ([`DevnetOptions::hosts`]).
pub(crate) fn generate(root: &Path, opts: &DevnetOptions) -> Result<Manifest, DevnetError> {
    opts.validate()?;
    let chain_id = fresh_chain_id();
    let created_ms = now_ms();
    let wallet = fresh_key();
    let mut ports = Ports::new();
    let nodes: Vec<(KeyPair, Ipv4Addr, u16, u16)> = (0..opts.nodes)
        .map(|i| {
            let ip = opts.addr(opts.validators + i);
            Ok((fresh_key(), ip, ports.pick()?, ports.pick()?))
        })
        .collect::<std::io::Result<_>>()
        .map_err(DevnetError::io(root))?;
    let genesis = genesis(opts, chain_id.clone(), created_ms, &wallet, &nodes);
    // Check the genesis before writing anything (a placeholder validator stands in).
    let mut probe = genesis.clone();
    probe.validators = vec![GenesisValidator {
        name: "probe".into(),
        public_key: wallet.public(),
        voting_power: 1,
    }];
    probe.validate()?;

    let (mut genesis, mut validators) =
        localnet::write(root, genesis, opts.validators, None, opts.block_time_ms)
            .map_err(DevnetError::io(root))?;
    reassign_ports(&mut validators, &mut ports, opts)?;
    let genesis_path = root.join("genesis.json");
    // The key servers are the validators, at their new RPC ports.
    if let Some(k) = &mut genesis.key_servers {
        for (server, v) in k.servers.iter_mut().zip(&validators) {
            server.url = v.rpc_url.clone();
        }
        let text =
            serde_json::to_vec_pretty(&genesis).map_err(DevnetError::parse(&genesis_path))?;
        write_file(&genesis_path, &text, false)?;
    }
    genesis.validate()?;

    let mut processes: Vec<ProcessSpec> = validators
        .iter()
        .enumerate()
        .map(|(i, v)| ProcessSpec {
            name: v.config.name.clone(),
            kind: ProcessKind::Validator,
            config: relative(root, &v.config_path),
            key_file: relative(root, &v.config.key_file),
            data_dir: relative(root, &v.config.data_dir),
            p2p_listen: v.config.p2p_listen.clone(),
            http_listen: v.config.rpc_listen,
            netns: opts.netns(i),
        })
        .collect();
    let rpc_urls: Vec<String> = validators.iter().map(|v| v.rpc_url.clone()).collect();
    for (i, (key, ip, p2p, http)) in nodes.iter().enumerate() {
        let name = format!("node-{}", i + 1);
        let dir = root.join(&name);
        std::fs::create_dir_all(&dir).map_err(DevnetError::io(&dir))?;
        let key_file = dir.join("key.json");
        write_secret_key(&key_file, key)?;
        // Each node starts with a different validator, to spread the load.
        let mut ledger_rpc = rpc_urls.clone();
        ledger_rpc.rotate_left(i % rpc_urls.len());
        let config = NodeConfig {
            name: name.clone(),
            data_dir: dir.join("data"),
            genesis: genesis_path.clone(),
            key_file: key_file.clone(),
            p2p_listen: format!("/ip4/{ip}/tcp/{p2p}"),
            http_listen: SocketAddr::from((*ip, *http)),
            ledger_rpc,
            sync_writes: false,
            recovery: RecoveryConfig::default(),
            inbound: InboundConfig::default(),
            disk: Default::default(),
        };
        let config_path = dir.join("config.toml");
        let text = toml::to_string(&config).map_err(DevnetError::parse(&config_path))?;
        write_file(&config_path, text.as_bytes(), false)?;
        processes.push(ProcessSpec {
            name,
            kind: ProcessKind::Node,
            config: relative(root, &config_path),
            key_file: relative(root, &key_file),
            data_dir: relative(root, &config.data_dir),
            p2p_listen: config.p2p_listen,
            http_listen: config.http_listen,
            netns: opts.netns(opts.validators + i),
        });
    }
    let wallet_path = root.join("wallet.json");
    write_secret_key(&wallet_path, &wallet)?;

    let manifest = Manifest {
        format: FORMAT_VERSION,
        chain_id,
        root: root.to_owned(),
        created_ms,
        options: opts.clone(),
        genesis: PathBuf::from("genesis.json"),
        wallet: PathBuf::from("wallet.json"),
        client_config: PathBuf::from("client.yaml"),
        processes,
    };
    // Owner-only like the keys: it maps every process, path and port of the network.
    let text = serde_json::to_string_pretty(&manifest).map_err(DevnetError::parse(root))?;
    write_file(&root.join(MANIFEST_FILE), text.as_bytes(), true)?;
    tracing::debug!(root = %root.display(), chain_id = %manifest.chain_id, "devnet generated");
    Ok(manifest)
}

fn write_secret_key(path: &Path, key: &KeyPair) -> Result<(), DevnetError> {
    Ok(floe_runtime::write_key_file(path, key)?)
}

/// Reads and checks `devnet.json` of the absolute folder `root`.
pub(crate) fn load(root: &Path) -> Result<Manifest, DevnetError> {
    let path = root.join(MANIFEST_FILE);
    if !path.is_file() {
        return Err(DevnetError::NotFound(root.to_owned()));
    }
    // The format first: an older description need not parse as this one.
    #[derive(Deserialize)]
    struct Format {
        format: u32,
    }
    let Format { format } = read_json(&path)?;
    if format != FORMAT_VERSION {
        return Err(DevnetError::Parse {
            path,
            reason: format!(
                "format {format} is not the supported {FORMAT_VERSION} (format 1 derived every \
                 key from a seed its chain id published); remove the folder to start a new devnet"
            ),
        });
    }
    let manifest: Manifest = read_json(&path)?;
    if manifest.root != root {
        return Err(DevnetError::Moved {
            was: manifest.root,
            now: root.to_owned(),
        });
    }
    Ok(manifest)
}

/// Reads a validator's configuration file.
pub fn read_validator_config(path: &Path) -> Result<validator::ValidatorConfig, DevnetError> {
    let text = std::fs::read_to_string(path).map_err(DevnetError::io(path))?;
    toml::from_str(&text).map_err(DevnetError::parse(path))
}

/// Reads a storage node's configuration file.
pub fn read_node_config(path: &Path) -> Result<NodeConfig, DevnetError> {
    let text = std::fs::read_to_string(path).map_err(DevnetError::io(path))?;
    toml::from_str(&text).map_err(DevnetError::parse(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_from_multiaddrs() {
        assert_eq!(tcp_port("/ip4/127.0.0.1/tcp/4001"), Some(4001));
        assert_eq!(tcp_port("/ip4/127.0.0.1/udp/4001"), None);
    }

    #[test]
    fn options_are_checked() {
        assert!(DevnetOptions::default().validate().is_ok());
        let bad = [
            DevnetOptions {
                validators: 0,
                ..DevnetOptions::default()
            },
            DevnetOptions {
                nodes: 0,
                ..DevnetOptions::default()
            },
            DevnetOptions {
                nodes: 20,
                shards: 10,
                ..DevnetOptions::default()
            },
            DevnetOptions {
                epoch_secs: 0,
                ..DevnetOptions::default()
            },
        ];
        for o in bad {
            assert!(
                matches!(o.validate(), Err(DevnetError::Options(_))),
                "{o:?}"
            );
        }
    }
}
