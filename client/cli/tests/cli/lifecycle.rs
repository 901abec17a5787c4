//! The `floe` binary's blob-lifecycle commands on one cluster with short (20 s) epochs:
//! `store --share`, `fund-shared-blob`, `extend --shared` (and running out of funds), what a
//! shared blob refuses, `transfer-blob` (the new owner deletes it), `delete` by object, blob id
//! and file, `store` with `--end-epoch` and `--earliest-expiry-time` (and their typed errors),
//! and `burn-blobs` (a live permanent blob refused, `--all-expired`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use floe_common::crypto::KeyFile;
use floe_common::{KeyPair, ObjectId};
use floe_ledger_types::{Address, LedgerClient, Object};
use floe_tests::{ClusterOptions, TestCluster};
use serde_json::Value;

use super::data::{Out, floe, ok_json};

const EPOCH_MS: u64 = 20_000;

/// Runs `floe --json ARGS` and expects exit code `code`; returns the JSON document.
async fn run(config: &Path, args: &[&str], code: i32) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out: Out = floe(config, &all).await;
    if code == 0 {
        return ok_json(&out, &args.join(" "));
    }
    assert_eq!(
        out.code,
        code,
        "{args:?}: stdout {} stderr {}",
        String::from_utf8_lossy(&out.stdout),
        out.stderr
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn error_code(doc: &Value) -> &str {
    doc["error"]["code"].as_str().unwrap_or("")
}

/// A config for `key` in its own folder.
fn config_for(dir: &Path, name: &str, key: &KeyPair, rpc: &str) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("wallet.json"),
        serde_json::to_vec(&KeyFile::of(key)).unwrap(),
    )
    .unwrap();
    let config = folder.join("client.yaml");
    std::fs::write(
        &config,
        format!("ledger_rpc:\n  - {rpc}\nwallet: wallet.json\ndefault_epochs: 3\n"),
    )
    .unwrap();
    config
}

/// A file of `len` bytes, distinct per `seed`.
fn file(dir: &Path, seed: u8, len: usize) -> String {
    let path = dir.join(format!("f{seed}.bin"));
    let data: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
        .collect();
    std::fs::write(&path, data).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Stores `path` with `extra` arguments; returns (blob object, blob id, end epoch, the
/// epoch the store was priced in).
async fn store(config: &Path, path: &str, extra: &[&str]) -> (String, String, u32, u32) {
    let mut args = vec!["store", path];
    args.extend_from_slice(extra);
    let doc = run(config, &args, 0).await;
    let blob = &doc["blobs"][0];
    assert_eq!(blob["result"], "newly_created", "{doc}");
    (
        blob["blob_object"].as_str().unwrap().to_owned(),
        blob["blob_id"].as_str().unwrap().to_owned(),
        blob["end_epoch"].as_u64().unwrap() as u32,
        doc["epoch"].as_u64().unwrap() as u32,
    )
}

async fn object(ledger: &LedgerClient, id: &str) -> Option<Object> {
    let id: ObjectId = id.parse().unwrap();
    ledger.object(&id).await.unwrap().map(|o| o.object)
}

/// Waits for the epoch after `epoch` to start; returns the new epoch.
async fn next_epoch(ledger: &LedgerClient, epoch: u32) -> u32 {
    let deadline = std::time::Instant::now() + Duration::from_millis(3 * EPOCH_MS);
    loop {
        let now = ledger.system().await.unwrap().epoch.0;
        if now > epoch {
            return now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "epoch {epoch} never ended"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cli_blob_lifecycle() {
    let net = TestCluster::start(ClusterOptions {
        epoch_ms: EPOCH_MS,
        ..ClusterOptions::default()
    })
    .await;
    let ledger = net.ledger();
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), "user", &net.user, &net.rpc_url);
    let me = Address::of(&net.user.public());
    let me_hex = me.to_string();

    // Two blobs for one epoch, burned once they expire (at the end).
    let (old_perm, _, _, e1) = store(
        &config,
        &file(dir.path(), 1, 3_000),
        &["--epochs", "1", "--permanent"],
    )
    .await;
    let (old_del, _, _, e2) = store(&config, &file(dir.path(), 2, 3_000), &["--epochs", "1"]).await;

    // A shared blob: stored, then shared; funded; extended from its funds.
    let doc = run(
        &config,
        &[
            "store",
            &file(dir.path(), 3, 5_000),
            "--epochs",
            "2",
            "--share",
        ],
        0,
    )
    .await;
    let shared = doc["blobs"][0]["blob_object"].as_str().unwrap().to_owned();
    assert_eq!(doc["shared"][0], shared.as_str());
    let Some(Object::SharedBlob(s)) = object(&ledger, &shared).await else {
        panic!("not shared");
    };
    assert_eq!((s.blob.owner, s.funds.0), (Address::SHARED, 0));
    let end = s.blob.end_epoch.0;
    // Ten FROST do not pay for an epoch: a typed refusal, and nothing changes.
    let funded = run(
        &config,
        &[
            "fund-shared-blob",
            "--object",
            &shared,
            "--amount",
            "10 FROST",
        ],
        0,
    )
    .await;
    assert_eq!(funded["funds"], 10);
    let short = run(
        &config,
        &["extend", "--shared", "--object", &shared, "--epochs", "2"],
        2,
    )
    .await;
    assert_eq!(error_code(&short), "insufficient_shared_funds");
    run(
        &config,
        &["fund-shared-blob", "--object", &shared, "--amount", "1"],
        0,
    )
    .await;
    let extended = run(
        &config,
        &["extend", "--shared", "--object", &shared, "--epochs", "2"],
        0,
    )
    .await;
    let paid = extended["paid_from_funds"].as_u64().unwrap();
    assert!(paid > 0);
    assert_eq!(extended["funds"].as_u64().unwrap(), 1_000_000_010 - paid);
    assert_eq!(extended["end_epoch"].as_u64().unwrap() as u32, end + 2);
    // Nobody may delete, burn or give away a shared blob.
    for args in [
        vec!["delete", "--object", &shared],
        vec!["burn-blobs", "--object", &shared],
        vec!["transfer-blob", "--object", &shared, "--to", &me_hex],
    ] {
        let refused = run(&config, &args, 2).await;
        assert_eq!(error_code(&refused), "blob_shared", "{args:?}");
    }
    // Funding wants a shared blob.
    let (owned, _, _, _) = store(&config, &file(dir.path(), 14, 1_000), &[]).await;
    let refused = run(
        &config,
        &["fund-shared-blob", "--object", &owned, "--amount", "1"],
        2,
    )
    .await;
    assert_eq!(error_code(&refused), "wrong_object_type");

    // A transfer: the new owner holds the object and may delete it; the old one may not.
    let friend = KeyPair::from_seed([9; 32]);
    let friend_addr = Address::of(&friend.public());
    let friend_config = config_for(dir.path(), "friend", &friend, &net.rpc_url);
    run(
        &config,
        &[
            "wallet",
            "transfer",
            "--to",
            &friend_addr.to_string(),
            "--amount",
            "1",
        ],
        0,
    )
    .await;
    let (given, _, _, _) = store(&config, &file(dir.path(), 4, 2_000), &[]).await;
    let moved = run(
        &config,
        &[
            "transfer-blob",
            "--object",
            &given,
            "--to",
            &friend_addr.to_string(),
        ],
        0,
    )
    .await;
    assert_eq!(moved["to"], friend_addr.to_string().as_str());
    assert_eq!(object(&ledger, &given).await.unwrap().owner(), friend_addr);
    let mine = run(&config, &["list-blobs"], 0).await;
    assert!(
        mine["blobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["object_id"] != given.as_str())
    );
    let again = run(
        &config,
        &["transfer-blob", "--object", &given, "--to", &me_hex],
        2,
    )
    .await;
    assert_eq!(error_code(&again), "not_owner");
    let theirs = run(&friend_config, &["delete", "--object", &given], 0).await;
    let storage = theirs["deleted"][0]["storage_object"].as_str().unwrap();
    assert_eq!(object(&ledger, storage).await.unwrap().owner(), friend_addr);

    // Delete several: by object, by blob id and by file, in one command.
    let (a, _, _, _) = store(&config, &file(dir.path(), 5, 1_000), &[]).await;
    let (b, _, _, _) = store(&config, &file(dir.path(), 6, 1_000), &[]).await;
    let (c, c_blob, _, _) = store(&config, &file(dir.path(), 7, 1_000), &[]).await;
    let d_file = file(dir.path(), 8, 1_000);
    let (d, _, _, _) = store(&config, &d_file, &[]).await;
    let deleted = run(
        &config,
        &[
            "delete",
            "--object",
            &a,
            "--object",
            &b,
            "--blob-id",
            &c_blob,
            "--file",
            &d_file,
        ],
        0,
    )
    .await;
    let ids: Vec<&str> = deleted["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["object_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a.as_str(), b.as_str(), c.as_str(), d.as_str()]);
    for id in [&a, &b, &c, &d] {
        assert!(object(&ledger, id).await.is_none());
    }
    // A blob id with no live deletable object of the wallet (deleted, or permanent).
    let none = run(&config, &["delete", "--blob-id", &c_blob], 2).await;
    assert_eq!(error_code(&none), "no_deletable_object");
    let perm_file = file(dir.path(), 9, 1_000);
    let (live_perm, _, _, _) = store(&config, &perm_file, &["--permanent", "--epochs", "5"]).await;
    let none = run(&config, &["delete", "--file", &perm_file], 2).await;
    assert_eq!(error_code(&none), "no_deletable_object");

    // Lifetimes, resolved right after an epoch starts (so the store runs in the same epoch).
    let epoch = next_epoch(&ledger, ledger.system().await.unwrap().epoch.0).await;
    let system = ledger.system().await.unwrap();
    let (_, _, end, priced) = store(
        &config,
        &file(dir.path(), 10, 1_000),
        &["--end-epoch", &(epoch + 3).to_string()],
    )
    .await;
    assert_eq!((priced, end), (epoch, epoch + 3));
    // Epoch `epoch + 3` starts two epochs after the next one: one ms later needs one more.
    let at_ms = system.next_epoch_at_ms + 2 * EPOCH_MS;
    let at = humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + Duration::from_millis(at_ms))
        .to_string();
    let (_, _, end, priced) = store(
        &config,
        &file(dir.path(), 11, 1_000),
        &["--earliest-expiry-time", &at],
    )
    .await;
    assert_eq!((priced, end), (epoch, epoch + 3));
    let dry = run(
        &config,
        &[
            "store",
            &file(dir.path(), 12, 1_000),
            "--dry-run",
            "--earliest-expiry-time",
            &(at_ms + 1).to_string(),
        ],
        0,
    )
    .await;
    assert_eq!(dry["blobs"][0]["epochs"], 4, "{dry}");
    let some = file(dir.path(), 13, 100);
    for (args, code) in [
        (vec!["--end-epoch", "0"], "end_epoch_passed"),
        (
            vec!["--earliest-expiry-time", "2001-02-03T04:05:06Z"],
            "expiry_in_past",
        ),
        (
            vec!["--earliest-expiry-time", "2200-01-01T00:00:00+01:00"],
            "expiry_too_far",
        ),
        (vec!["--end-epoch", "100000"], "epochs"),
    ] {
        let mut all = vec!["store", some.as_str()];
        all.extend(args);
        let doc = run(&config, &all, 1).await;
        assert_eq!(error_code(&doc), code, "{all:?}");
    }
    // The three ways are alternatives.
    let both = floe(
        &config,
        &["store", &some, "--epochs", "2", "--end-epoch", "9"],
    )
    .await;
    assert_eq!(both.code, 1, "{}", both.stderr);

    // Burning: a live permanent blob is refused; then every expired blob object goes.
    assert!(epoch > e1.max(e2), "the one-epoch blobs have expired");
    let refused = run(
        &config,
        &["burn-blobs", "--object", &live_perm, "--object", &old_perm],
        2,
    )
    .await;
    assert_eq!(error_code(&refused), "permanent_not_expired");
    assert!(object(&ledger, &old_perm).await.is_some(), "all or none");
    let burned = run(&config, &["burn-blobs", "--all-expired"], 0).await;
    let burned: Vec<&str> = burned["burned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["object_id"].as_str().unwrap())
        .collect();
    assert!(
        burned.contains(&old_perm.as_str()) && burned.contains(&old_del.as_str()),
        "{burned:?}"
    );
    assert!(object(&ledger, &old_perm).await.is_none());
    assert!(object(&ledger, &live_perm).await.is_some());
    let nothing = run(&config, &["burn-blobs", "--all-expired"], 0).await;
    assert!(nothing["burned"].as_array().unwrap().is_empty());
    net.shutdown().await;
}
