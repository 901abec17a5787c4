//! The operator commands of the `floe-node` binary: output, `--json`, and the exit codes of
//! their typed errors (1 local, 2 refused, 3 network).

use std::path::Path;
use std::process::{Command, Output};

fn floe_node(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_floe-node"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("floe-node runs")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `keygen` writes a key and prints its identity; a second run at the same path exits 1 with
/// the code `exists` and keeps the key.
#[test]
fn keygen_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.json");
    let out = floe_node(&["keygen", "--out", path(&key), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made = json(&out);
    let written = floe_runtime::read_key_file(&key).unwrap();
    assert_eq!(made["public_key"], written.public().to_string());
    assert_eq!(
        made["node_id"],
        floe_ledger_types::node_id_of(&written.public()).to_string()
    );

    let again = floe_node(&["keygen", "--out", path(&key), "--json"]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(json(&again)["error"]["code"], "exists");
    assert_eq!(
        floe_runtime::read_key_file(&key).unwrap().public(),
        written.public()
    );
    let text = floe_node(&["keygen", "--out", path(&key)]);
    assert_eq!(text.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&text.stderr).contains("--force"));
}

/// `config` writes a file the node parses, with the given values; `backup` and `restore` with
/// that configuration fail with their typed errors: no node running (3), no checkpoint (1).
#[test]
fn config_then_backup_and_restore_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("node.toml");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http = closed.local_addr().unwrap().to_string();
    drop(closed);
    let out = floe_node(&[
        "config",
        "--out",
        path(&config),
        "--name",
        "edge-7",
        "--http-listen",
        &http,
        "--ledger-rpc",
        "http://10.0.0.1:27001",
        "http://10.0.0.2:27001",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: floe_node::NodeConfig =
        toml::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(parsed.name, "edge-7");
    assert_eq!(parsed.http_listen.to_string(), http);
    assert_eq!(parsed.ledger_rpc.len(), 2);
    assert_eq!(parsed.data_dir, dir.path().join("data"));

    let backup = dir.path().join("backup");
    let out = floe_node(&[
        "backup",
        "--config",
        path(&config),
        "--out",
        path(&backup),
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(json(&out)["error"]["code"], "node_unreachable");

    // The genesis the configuration names, so that restore gets as far as the checkpoint.
    let genesis = floe_ledger_types::Genesis::builder("floe-cli-test", 4).build();
    std::fs::write(&parsed.genesis, serde_json::to_vec(&genesis).unwrap()).unwrap();
    let out = floe_node(&[
        "restore",
        "--config",
        path(&config),
        "--from",
        path(&backup),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["error"]["code"], "not_a_checkpoint");
}
