//! The built `floe` binary against a real validator: `--json` output parsed, exit codes checked.

use std::path::{Path, PathBuf};

use floe_common::EncodingConfig;
use serde_json::Value;

use crate::support::{FUNDS, MIN_FEE, N_SHARDS, Net, addr, user, wal};

/// One run of `floe`: exit code, stdout, stderr.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The single JSON document on stdout.
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

async fn floe(args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_floe"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("run floe");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// `floe --config CONFIG --json ARGS…`, expecting exit code `code`.
async fn json(config: &Path, args: &[&str], code: i32) -> Value {
    let mut all = vec!["--config", config.to_str().unwrap(), "--json"];
    all.extend_from_slice(args);
    let run = floe(&all).await;
    assert_eq!(
        run.code, code,
        "floe {all:?}: stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    run.json()
}

fn write_config(dir: &Path, url: &str) -> PathBuf {
    let path = dir.join("client.yaml");
    std::fs::write(
        &path,
        format!("ledger_rpc:\n  - {url}\nwallet: wallet.json\ndefault_epochs: 1\n"),
    )
    .unwrap();
    path
}

fn frost(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an amount: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_json_end_to_end() {
    let net = Net::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &net.url);

    // Wallet: create (relative to the config's folder), refuse to overwrite, address.
    let new = json(&config, &["wallet", "new"], 0).await;
    let address = new["address"].as_str().unwrap().to_owned();
    assert!(dir.path().join("wallet.json").exists());
    let again = json(&config, &["wallet", "new"], 1).await;
    assert_eq!(again["error"]["code"], "wallet");
    let shown = json(&config, &["wallet", "address"], 0).await;
    assert_eq!(shown["address"], address.as_str());

    // Faucet, then balance.
    let faucet = json(&config, &["wallet", "faucet", "--amount", "50"], 0).await;
    assert_eq!(frost(&faucet["amount"]), wal(50).0);
    let expected = wal(50).0 - MIN_FEE.0;
    assert_eq!(frost(&faucet["balance"]), expected);
    let balance = json(&config, &["wallet", "balance"], 0).await;
    assert_eq!(frost(&balance["balance"]), expected);
    assert_eq!(balance["address"], address.as_str());

    // Transfer with decimals.
    let to = addr(&user(6)).to_string();
    let sent = json(
        &config,
        &["wallet", "transfer", "--to", &to, "--amount", "1.5"],
        0,
    )
    .await;
    assert_eq!(frost(&sent["amount"]), 1_500_000_000);
    let expected = expected - 1_500_000_000 - MIN_FEE.0;
    assert_eq!(frost(&sent["balance"]), expected);
    let theirs = json(&config, &["wallet", "balance", "--address", &to], 0).await;
    assert_eq!(frost(&theirs["balance"]), wal(FUNDS).0 + 1_500_000_000);

    // Too much: exit 2, typed code, a message with both amounts, nothing charged.
    let refused = json(
        &config,
        &["wallet", "transfer", "--to", &to, "--amount", "1000"],
        2,
    )
    .await;
    assert_eq!(refused["error"]["code"], "insufficient_balance");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("needs 1000 WAL") && message.contains("balance 48.499998 WAL"),
        "{message}"
    );
    assert!(
        refused["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("floe wallet faucet")
    );
    let balance = json(&config, &["wallet", "balance"], 0).await;
    assert_eq!(frost(&balance["balance"]), expected);

    // Info.
    let info = json(&config, &["info"], 0).await;
    assert_eq!(info["system"]["n_shards"], N_SHARDS);
    assert_eq!(info["committee"].as_array().unwrap().len(), 4);
    assert_eq!(info["committee"][0]["name"], "node-1");
    assert!(frost(&info["next_epoch_ms"]) > frost(&info["system"]["genesis_time_ms"]));
    assert_eq!(
        frost(&info["max_blob_size"]),
        floe_common::EncodingConfig::new(N_SHARDS)
            .unwrap()
            .max_blob_size()
    );
    // Epoch 0 has no storage challenge round yet.
    assert!(info["challenges"]["current"].is_null() && info["challenges"]["last"].is_null());

    // Stake by name; unknown node.
    let staked = json(&config, &["stake", "--node", "node-2", "--amount", "2"], 0).await;
    assert_eq!(staked["node_name"], "node-2");
    assert_eq!(frost(&staked["amount"]), wal(2).0);
    let balance = json(&config, &["wallet", "balance"], 0).await;
    assert_eq!(frost(&balance["staked"]), wal(2).0);
    assert_eq!(balance["stakes"].as_array().unwrap().len(), 1);
    let unknown = json(&config, &["stake", "--node", "nope", "--amount", "1"], 2).await;
    assert_eq!(unknown["error"]["code"], "unknown_node");
    assert!(
        unknown["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("node-1, node-2")
    );
    // Withdraw: a stake that has not activated yet (hour-long epochs) is paid back at once.
    let withdraw = json(&config, &["withdraw", "--node", "node-2"], 0).await;
    assert_eq!(frost(&withdraw["withdrawn"][0]["amount"]), wal(2).0);
    assert!(withdraw["pending"].as_array().unwrap().is_empty());
    assert_eq!(info["epoch_state"], "normal");
    assert_eq!(info["committee"][0]["commission"], 500);
    assert!(frost(&info["capacity"]) > 0);
    assert_eq!(info["next_epoch_at"], info["next_epoch_ms"]);

    // Blob id: from the ledger's shard count, equal to encode_blob's.
    let file = dir.path().join("data.bin");
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 31 % 256) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    let id = json(&config, &["blob-id", file.to_str().unwrap()], 0).await;
    let expected_id = floe_common::encode_blob(&EncodingConfig::new(N_SHARDS).unwrap(), &data)
        .unwrap()
        .blob_id()
        .to_string();
    assert_eq!(id["blob_id"], expected_id.as_str());
    assert_eq!(id["n_shards"], N_SHARDS);
    assert_eq!(id["n_shards_source"], "ledger");
    assert_eq!(id["unencoded_length"], 20_000);

    // Never registered: not found, exit 2. No blobs yet.
    let status = json(&config, &["blob-status", &expected_id], 2).await;
    assert_eq!(status["error"]["code"], "unknown_blob");
    let listed = json(&config, &["list-blobs"], 0).await;
    assert_eq!(listed["address"], address.as_str());
    assert!(listed["blobs"].as_array().unwrap().is_empty());

    // Extend/delete of an object that does not exist: rejected, exit 2.
    let zero = format!("0x{}", "00".repeat(32));
    let extend = json(&config, &["extend", "--object", &zero, "--epochs", "1"], 2).await;
    assert_eq!(extend["error"]["code"], "unknown_object");
    let delete = json(&config, &["delete", "--object", &zero], 2).await;
    assert_eq!(delete["error"]["code"], "unknown_object");

    // Human output.
    let run = floe(&["--config", config.to_str().unwrap(), "info"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("Committee (epoch 0, 4 nodes)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("node-3"));
    assert!(
        run.stdout.contains("Max blob size:")
            && run.stdout.contains("CHALLENGES (NOW/LAST)")
            && run.stdout.contains("Storage challenges: none this epoch"),
        "{}",
        run.stdout
    );
    let run = floe(&["--config", config.to_str().unwrap(), "wallet", "balance"]).await;
    assert!(
        run.stdout.contains("Balance: 48.499995 WAL"),
        "{}",
        run.stdout
    );
    net.stop().await;
}

#[tokio::test]
async fn cli_exit_codes_for_usage_config_and_network() {
    let dir = tempfile::tempdir().unwrap();
    // Unknown command and bad arguments: 1.
    assert_eq!(floe(&["frobnicate"]).await.code, 1);
    assert_eq!(
        floe(&["wallet", "transfer", "--to", "zz", "--amount", "1"])
            .await
            .code,
        1
    );
    assert_eq!(floe(&["--help"]).await.code, 0);
    let help = floe(&["--help"]).await.stdout;
    assert!(help.contains("Exit codes:"), "{help}");

    // Missing config: 1, with a JSON error on stdout.
    let missing = dir.path().join("missing.yaml");
    let err = json(&missing, &["info"], 1).await;
    assert_eq!(err["error"]["code"], "config");
    assert_eq!(err["error"]["exit_code"], 1);
    // Invalid config: 1.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "ledger_rpc: [http://x]\nwallet: w.json\nbogus: 1\n").unwrap();
    assert_eq!(json(&bad, &["info"], 1).await["error"]["code"], "config");

    // Nobody listening: 3. Missing wallet: 1 (checked before the network).
    let port = floe_ledger::localnet::free_port().unwrap();
    let config = write_config(dir.path(), &format!("http://127.0.0.1:{port}"));
    let err = json(&config, &["info"], 3).await;
    assert_eq!(err["error"]["code"], "unreachable");
    // A blob id may start with '-' and is still an argument, not an option.
    let dashed = floe_common::BlobId([0xfb; 32]).to_string();
    assert!(dashed.starts_with('-'));
    let err = json(&config, &["blob-status", &dashed], 3).await;
    assert_eq!(err["error"]["code"], "unreachable");
    let err = json(&config, &["wallet", "balance"], 1).await;
    assert_eq!(err["error"]["code"], "wallet");
    // An unauthenticated publisher on a public address is refused before anything starts.
    let err = json(&config, &["daemon", "--bind", "0.0.0.0:0"], 1).await;
    assert_eq!(err["error"]["code"], "open_publisher", "{err}");
    let err = json(
        &config,
        &[
            "daemon",
            "--jwt-decode-secret",
            "s",
            "--jwt-algorithm",
            "HS999",
        ],
        1,
    )
    .await;
    assert_eq!(err["error"]["code"], "jwt", "{err}");
    // blob-id works offline with --shards, and from the config's n_shards when unreachable.
    let file = dir.path().join("f");
    std::fs::write(&file, b"hello").unwrap();
    let id = json(
        &config,
        &["blob-id", file.to_str().unwrap(), "--shards", "7"],
        0,
    )
    .await;
    assert_eq!(id["n_shards_source"], "argument");
    assert_eq!(
        json(&config, &["blob-id", file.to_str().unwrap()], 3).await["error"]["code"],
        "unreachable"
    );
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}n_shards: 7\n")).unwrap();
    let from_config = json(&config, &["blob-id", file.to_str().unwrap()], 0).await;
    assert_eq!(from_config["n_shards_source"], "config");
    assert_eq!(from_config["blob_id"], id["blob_id"]);
}
