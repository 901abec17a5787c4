//! Writes the files of a local validator network: keys, genesis and one config per validator.
//! Used by the benchmark, the cluster tests and the devnet.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use floe_common::KeyPair;
use floe_common::privacy::{KeyServerSecret, deal};
use floe_ledger_types::{KeyServerInfo, KeyServers};

use crate::genesis::{Genesis, GenesisValidator};
use crate::validator::ValidatorConfig;

/// The files of one local validator.
#[derive(Debug, Clone)]
pub struct LocalValidator {
    /// Its configuration.
    pub config: ValidatorConfig,
    /// Where the configuration was written.
    pub config_path: PathBuf,
    /// Its RPC base URL.
    pub rpc_url: String,
}

/// A port that was free a moment ago on 127.0.0.1.
///
/// Drawn at random *below* the kernel's ephemeral range when there is room: a port handed out
/// by the kernel (`:0`) comes from that range, and until the caller binds it, the kernel may
/// give it to an outgoing connection as its source port (many tests dial while others start).
///
/// A port is handed out at most once per process: clusters started concurrently in one test
/// binary pick their ports before binding them, so two of them could otherwise be given the
/// same free port (and a node restarted on its port would find it taken).
pub fn free_port() -> std::io::Result<u16> {
    use rand::Rng as _;
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok());
    if let Some(low) = ephemeral_low.filter(|&l| l > 12_000) {
        for _ in 0..1000 {
            let port = rand::thread_rng().gen_range(10_000..low);
            if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
                given.insert(port);
                return Ok(port);
            }
        }
    }
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if given.insert(port) {
            return Ok(port);
        }
    }
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Generates `n` validator keys, adds them to `genesis` with equal power, deals the key
/// servers of private blobs to them ([`key_server_threshold`] of `n`), and writes
/// `genesis.json`, `validator-i/key.json`, `validator-i/key-share.json` and
/// `validator-i/config.toml` under `dir`. Ports are picked free on 127.0.0.1.
///
/// Keys come from the OS random number generator when `seed` is `None`, as every real network
/// must. `Some(seed)` derives them from the seed for reproducible tests: anyone who knows the
/// seed knows the keys, so a seeded network is for tests only. Key files are written with mode
/// `0600` ([`floe_runtime::write_key_file`]); validators refuse key files others can read.
pub fn write(
    dir: &Path,
    mut genesis: Genesis,
    n: usize,
    seed: Option<u64>,
    block_time_ms: u64,
) -> std::io::Result<(Genesis, Vec<LocalValidator>)> {
    std::fs::create_dir_all(dir)?;
    let keys: Vec<KeyPair> = (0..n)
        .map(|i| match seed {
            Some(s) => {
                let mut b = [0u8; 32];
                b[..8].copy_from_slice(&s.to_le_bytes());
                b[8..16].copy_from_slice(&(i as u64).to_le_bytes());
                b[16] = 0x56;
                KeyPair::from_seed(b)
            }
            None => KeyPair::generate(&mut rand::rngs::OsRng),
        })
        .collect();
    genesis.validators = keys
        .iter()
        .enumerate()
        .map(|(i, k)| GenesisValidator {
            name: format!("validator-{}", i + 1),
            public_key: k.public(),
            voting_power: 1,
        })
        .collect();
    let ports: Vec<(u16, u16)> = (0..n)
        .map(|_| Ok((free_port()?, free_port()?)))
        .collect::<std::io::Result<_>>()?;
    let rpc_urls: Vec<String> = ports
        .iter()
        .map(|(_, r)| format!("http://127.0.0.1:{r}"))
        .collect();
    let shares = deal_key_servers(&mut genesis, &rpc_urls, seed)?;
    let genesis_path = dir.join("genesis.json");
    write_json(&genesis_path, &genesis)?;
    let mut out = Vec::with_capacity(n);
    for (i, key) in keys.iter().enumerate() {
        let name = format!("validator-{}", i + 1);
        let vdir = dir.join(&name);
        std::fs::create_dir_all(&vdir)?;
        let key_file = vdir.join("key.json");
        floe_runtime::write_key_file(&key_file, key).map_err(std::io::Error::other)?;
        let key_share_file = vdir.join("key-share.json");
        let share = serde_json::to_vec_pretty(&shares[i]).map_err(std::io::Error::other)?;
        floe_runtime::secret::write_secret(&key_share_file, &share)
            .map_err(std::io::Error::other)?;
        let (p2p, rpc) = ports[i];
        let config = ValidatorConfig {
            name: name.clone(),
            data_dir: vdir.join("data"),
            genesis: genesis_path.clone(),
            key_file,
            p2p_listen: format!("/ip4/127.0.0.1/tcp/{p2p}"),
            p2p_peers: ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (p, _))| format!("/ip4/127.0.0.1/tcp/{p}"))
                .collect(),
            rpc_listen: SocketAddr::from(([127, 0, 0, 1], rpc)),
            rpc_peers: ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (_, r))| format!("http://127.0.0.1:{r}"))
                .collect(),
            block_time_ms,
            mempool: crate::mempool::MempoolConfig::default(),
            key_share_file: Some(key_share_file),
        };
        let config_path = vdir.join("config.toml");
        let text = toml::to_string(&config).map_err(std::io::Error::other)?;
        std::fs::write(&config_path, text)?;
        out.push(LocalValidator {
            rpc_url: rpc_urls[i].clone(),
            config,
            config_path,
        });
    }
    Ok((genesis, out))
}

/// The key-server threshold of `n` validators: `2f + 1` of `3f + 1` (keys stay available with
/// `f` servers down, and secret unless more than `2f` collude).
pub fn key_server_threshold(n: usize) -> u16 {
    let f = n.saturating_sub(1) / 3;
    u16::try_from(2 * f + 1).unwrap_or(u16::MAX)
}

/// Deals the key servers of private blobs to the genesis's validators (a trusted dealer, fine
/// for local networks: see `floe_common::privacy::deal`), served at `urls`; returns each
/// validator's secret share. The dealer's randomness comes from `seed` for seeded networks.
fn deal_key_servers(
    genesis: &mut Genesis,
    urls: &[String],
    seed: Option<u64>,
) -> std::io::Result<Vec<KeyServerSecret>> {
    use rand::SeedableRng as _;
    let n = u16::try_from(genesis.validators.len()).map_err(std::io::Error::other)?;
    let t = key_server_threshold(usize::from(n));
    let dealt = match seed {
        Some(s) => deal(
            &mut rand::rngs::StdRng::seed_from_u64(s ^ 0x6b65_7973),
            n,
            t,
        ),
        None => deal(&mut rand::rngs::OsRng, n, t),
    };
    let (master, secrets, publics) = dealt.map_err(std::io::Error::other)?;
    genesis.key_servers = Some(KeyServers {
        master,
        threshold: t,
        servers: genesis
            .validators
            .iter()
            .zip(publics)
            .zip(urls)
            .map(|((v, public), url)| KeyServerInfo {
                validator: v.name.clone(),
                public,
                url: url.clone(),
            })
            .collect(),
    });
    Ok(secrets)
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    std::fs::write(path, text)
}
