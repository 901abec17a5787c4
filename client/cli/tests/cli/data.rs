//! The built `floe` binary's data commands against a real validator and real storage nodes in
//! this process: `store` (with `--dry-run`), `read` to a file and to stdout (binary safe),
//! `bench read`, and the exit code of an unknown blob.

use std::path::Path;
use std::time::Duration;

use floe_common::crypto::KeyFile;
use floe_common::{Frost, KeyPair};
use floe_ledger::localnet::{self, free_port};
use floe_ledger::{Address, Genesis, GenesisNode, Params};
use floe_node::NodeConfig;
use floe_node::config::{InboundConfig, RecoveryConfig};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::support::{addr, wal};

const SHARDS: u16 = 12;

/// A validator and four storage nodes; everything stops when `cancel` fires.
struct DataNet {
    url: String,
    user: KeyPair,
    cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

impl DataNet {
    async fn start() -> DataNet {
        let dir = tempfile::tempdir().unwrap();
        let user = KeyPair::from_seed([77; 32]);
        let keys: Vec<KeyPair> = (0..4u8)
            .map(|i| KeyPair::from_seed([150 + i; 32]))
            .collect();
        let ports: Vec<(u16, u16)> = (0..4)
            .map(|_| (free_port().unwrap(), free_port().unwrap()))
            .collect();
        let genesis = Genesis {
            chain_id: "floe-client-data-test".into(),
            genesis_time_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64,
            params: Params {
                epoch_duration_ms: 3_600_000,
                max_epochs_ahead: 100,
                storage_price_per_mib_epoch: Frost(1_000),
                write_price_per_mib: Frost(500),
                min_fee: Frost(1_000),
                max_shards_per_node: SHARDS,
                active_set_size: floe_ledger_types::genesis::DEFAULT_ACTIVE_SET_SIZE,
            },
            validators: Vec::new(),
            accounts: vec![(addr(&user), wal(1_000))],
            storage_nodes: keys
                .iter()
                .enumerate()
                .map(|(i, k)| GenesisNode {
                    name: format!("node-{}", i + 1),
                    public_key: k.public(),
                    network_address: format!("/ip4/127.0.0.1/tcp/{}", ports[i].0),
                    http_address: format!("127.0.0.1:{}", ports[i].1),
                    commission_bps: 1_000,
                    stake: wal(1_000),
                    owner: Address::of(&user.public()),
                    storage_price_vote: Frost(1_000),
                    write_price_vote: Frost(500),
                    capacity_vote: 1 << 40,
                })
                .collect(),
            n_shards: SHARDS,
            faucet: None,
        };
        let (_genesis, validators) = localnet::write(dir.path(), genesis, 1, Some(7), 100).unwrap();
        let v = validators.into_iter().next().unwrap();
        let url = v.rpc_url.clone();
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        tokio::spawn(async move {
            if let Err(e) = floe_ledger::validator::run(v.config, token).await {
                eprintln!("validator stopped: {e}");
            }
        });
        for (i, key) in keys.iter().enumerate() {
            let ndir = dir.path().join(format!("node-{}", i + 1));
            std::fs::create_dir_all(&ndir).unwrap();
            let key_file = ndir.join("key.json");
            std::fs::write(&key_file, serde_json::to_vec(&KeyFile::of(key)).unwrap()).unwrap();
            let config = NodeConfig {
                name: format!("node-{}", i + 1),
                data_dir: ndir.join("data"),
                genesis: dir.path().join("genesis.json"),
                key_file,
                p2p_listen: format!("/ip4/127.0.0.1/tcp/{}", ports[i].0),
                http_listen: format!("127.0.0.1:{}", ports[i].1).parse().unwrap(),
                ledger_rpc: vec![url.clone()],
                sync_writes: false,
                recovery: RecoveryConfig::default(),
                inbound: InboundConfig::default(),
            };
            let running = floe_node::server::start_with(config, cancel.clone(), None)
                .await
                .unwrap();
            tokio::spawn(async move {
                let _ = running.wait().await;
            });
        }
        DataNet {
            url,
            user,
            cancel,
            _dir: dir,
        }
    }
}

impl Drop for DataNet {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

struct Out {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

async fn floe(config: &Path, args: &[&str]) -> Out {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_floe"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("run floe");
    Out {
        code: out.status.code().expect("exit code"),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok_json(out: &Out, what: &str) -> Value {
    assert_eq!(
        out.code,
        0,
        "{what}: stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        out.stderr
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cli_store_and_read_with_the_binary() {
    let net = DataNet::start().await;
    let dir = tempfile::tempdir().unwrap();
    let wallet = dir.path().join("wallet.json");
    std::fs::write(
        &wallet,
        serde_json::to_vec(&KeyFile::of(&net.user)).unwrap(),
    )
    .unwrap();
    let config = dir.path().join("client.yaml");
    std::fs::write(
        &config,
        format!(
            "ledger_rpc:\n  - {}\nwallet: wallet.json\ndefault_epochs: 2\n",
            net.url
        ),
    )
    .unwrap();
    // Every byte value, so that a text-mode or newline mangling would show.
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let file = dir.path().join("blob.bin");
    std::fs::write(&file, &bytes).unwrap();
    let file_arg = file.to_str().unwrap();

    // Nodes follow the ledger from its first blocks; give them a moment to connect.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let dry = ok_json(
        &floe(&config, &["--json", "store", file_arg, "--dry-run"]).await,
        "dry run",
    );
    assert_eq!(dry["dry_run"], true);
    let dry_blob = &dry["blobs"][0];
    let price = dry_blob["price"]["total"].as_u64().unwrap();
    assert!(price > 0);
    assert_eq!(dry_blob["epochs"], 2, "the config's default_epochs");

    let stored = ok_json(
        &floe(&config, &["--json", "store", file_arg, "--permanent"]).await,
        "store",
    );
    let blob = &stored["blobs"][0];
    assert_eq!(blob["result"], "newly_created", "{stored}");
    assert_eq!(blob["persistence"], "permanent");
    assert_eq!(blob["blob_id"], dry_blob["blob_id"]);
    assert_eq!(blob["cost"].as_u64(), Some(price));
    let blob_id = blob["blob_id"].as_str().unwrap().to_owned();

    // Into a file, and to stdout: byte-exact.
    let out_file = dir.path().join("out.bin");
    let read = ok_json(
        &floe(
            &config,
            &["--json", "read", &blob_id, "-o", out_file.to_str().unwrap()],
        )
        .await,
        "read -o",
    );
    assert_eq!(read["blob"]["size"], 300_000);
    assert_eq!(std::fs::read(&out_file).unwrap(), bytes);
    let raw = floe(&config, &["read", &blob_id, "--strict-consistency-check"]).await;
    assert_eq!(raw.code, 0, "{}", raw.stderr);
    assert!(
        raw.stdout == bytes,
        "stdout carries exactly the blob's bytes"
    );

    // Storing it again pays nothing.
    let again = ok_json(
        &floe(&config, &["--json", "store", file_arg]).await,
        "again",
    );
    assert_eq!(again["blobs"][0]["result"], "already_certified");

    // bench read: one JSON line.
    let bench = floe(&config, &["bench", "read", &blob_id]).await;
    assert_eq!(bench.code, 0, "{}", bench.stderr);
    let text = String::from_utf8(bench.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    let line: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(line["size"], 300_000);
    assert!(line["phases_ms"]["slivers"].is_u64());

    // An unknown blob: exit 2 with a typed code.
    let unknown = floe_common::BlobId([5; 32]).to_string();
    let missing = floe(&config, &["--json", "read", &unknown]).await;
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    let doc: Value = serde_json::from_slice(&missing.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "unknown_blob");
    // A missing file: exit 1 before anything is paid.
    let nothing = floe(&config, &["store", "/nonexistent/file"]).await;
    assert_eq!(nothing.code, 1);
    assert!(
        nothing.stderr.contains("cannot read /nonexistent/file"),
        "{}",
        nothing.stderr
    );
}
