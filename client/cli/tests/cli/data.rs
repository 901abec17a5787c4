//! The built `floe` binary's data commands against a real validator and real storage nodes in
//! this process: `store` (with `--dry-run`), `read` to a file and to stdout (binary safe),
//! `bench read`, and the exit code of an unknown blob.

use std::path::Path;

use floe_common::crypto::KeyFile;
use floe_tests::{ClusterOptions, TestCluster};
use serde_json::Value;

pub(crate) struct Out {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

pub(crate) async fn floe(config: &Path, args: &[&str]) -> Out {
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

/// A client config in `dir` for `net`'s ledger, with its user's wallet.
pub(crate) fn client_config(
    dir: &Path,
    net: &floe_tests::TestCluster,
    default_epochs: u32,
) -> std::path::PathBuf {
    client_config_for(dir, net, &net.user, default_epochs)
}

/// [`client_config`] with `key`'s wallet.
pub(crate) fn client_config_for(
    dir: &Path,
    net: &floe_tests::TestCluster,
    key: &floe_common::KeyPair,
    default_epochs: u32,
) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("wallet.json"),
        serde_json::to_vec(&floe_common::crypto::KeyFile::of(key)).unwrap(),
    )
    .unwrap();
    let config = dir.join("client.yaml");
    std::fs::write(
        &config,
        format!(
            "ledger_rpc:\n  - {}\nwallet: wallet.json\ndefault_epochs: {default_epochs}\n",
            net.rpc_url
        ),
    )
    .unwrap();
    config
}

pub(crate) fn ok_json(out: &Out, what: &str) -> Value {
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
    // A validator and four storage nodes of 12 shards.
    let net = TestCluster::start(ClusterOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let wallet = dir.path().join("wallet.json");
    std::fs::write(
        &wallet,
        serde_json::to_vec(&KeyFile::of(&net.user)).unwrap(),
    )
    .unwrap();
    // With the genesis: the client proves the certification it relies on.
    std::fs::write(
        dir.path().join("genesis.json"),
        serde_json::to_vec(&net.genesis).unwrap(),
    )
    .unwrap();
    let config = dir.path().join("client.yaml");
    std::fs::write(
        &config,
        format!(
            "ledger_rpc:\n  - {}\nwallet: wallet.json\ndefault_epochs: 2\ngenesis: genesis.json\n",
            net.rpc_url
        ),
    )
    .unwrap();
    // Every byte value, so that a text-mode or newline mangling would show.
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let file = dir.path().join("blob.bin");
    std::fs::write(&file, &bytes).unwrap();
    let file_arg = file.to_str().unwrap();

    // Nodes follow the ledger from its first blocks.
    net.wait_nodes_synced().await;

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
    // Its status comes with the proof, checked against the genesis validators.
    let status = ok_json(
        &floe(&config, &["--json", "blob-status", &blob_id]).await,
        "blob-status",
    );
    assert_eq!(status["certified"], true);
    let proof = &status["proof"];
    assert_eq!(proof["blob_id"], blob_id.as_str(), "{status}");
    assert_eq!(proof["end_epoch"], status["max_certified_end_epoch"]);
    assert!(proof["height"].as_u64().unwrap() >= 1);
    assert_eq!(status["evidence"]["height"], proof["height"]);

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
    net.shutdown().await;
}
