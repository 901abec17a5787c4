//! Private blobs on a real cluster of four validators (each a key server, threshold 3) and
//! four storage nodes, driven through the `floe` binary: encrypted stores, reads by allowed
//! and refused wallets, allowlist edits, time locks, paid access, a stopped key server, what
//! nodes and the aggregator hold (ciphertext only), and hostile key requests and ciphertexts.

use std::path::{Path, PathBuf};

use floe_client::private::KeyServerSet;
use floe_common::privacy::{KeyRequest, KeyShare, combine};
use floe_common::{KeyPair, codec};
use floe_tests::{ClusterOptions, TestCluster};
use serde_json::Value;

use super::data::{Out, client_config, client_config_for, floe, ok_json};

/// A marker that must never appear in what nodes store or the aggregator serves.
const MARKER: &[u8] = b"FLOE-PRIVATE-PLAINTEXT-MARKER";

fn secret_file(dir: &Path, name: &str, len: usize) -> (PathBuf, Vec<u8>) {
    let data: Vec<u8> = MARKER.iter().copied().cycle().take(len).collect();
    let path = dir.join(name);
    std::fs::write(&path, &data).unwrap();
    (path, data)
}

/// A second wallet's configuration (funded by the first), and its address.
async fn second_wallet(dir: &Path, net: &TestCluster, seed: u8) -> (PathBuf, String) {
    let key = KeyPair::from_seed([seed; 32]);
    let config = client_config_for(dir, net, &key, 3);
    let address = floe_ledger_types::Address::of(&key.public());
    net.floe()
        .await
        .transfer(address, floe_common::Frost(100 * floe_tests::WAL))
        .await
        .unwrap();
    (config, address.to_string())
}

fn err_of(out: &Out) -> (i32, Value) {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.code, v["error"].clone())
}

async fn create_policy(config: &Path, args: &[&str]) -> String {
    let mut all = vec!["--json", "policy", "create"];
    all.extend_from_slice(args);
    let out = ok_json(&floe(config, &all).await, "policy create");
    out["policy"].as_str().unwrap().to_owned()
}

async fn store_encrypted(config: &Path, file: &Path, policy: &str) -> String {
    let out = ok_json(
        &floe(
            config,
            &[
                "--json",
                "store",
                file.to_str().unwrap(),
                "--encrypt",
                "--policy",
                policy,
            ],
        )
        .await,
        "store --encrypt",
    );
    assert_eq!(out["encrypted_policy"], policy);
    out["blobs"][0]["blob_id"].as_str().unwrap().to_owned()
}

/// Reads `blob` as `config` into `dir/name`; the output and the file's bytes if it worked.
async fn read_as(config: &Path, blob: &str, out: &Path) -> (Out, Option<Vec<u8>>) {
    let _ = std::fs::remove_file(out);
    let o = floe(
        config,
        &["--json", "read", blob, "-o", out.to_str().unwrap()],
    )
    .await;
    let bytes = (o.code == 0).then(|| std::fs::read(out).unwrap());
    (o, bytes)
}

fn assert_denied(out: &Out, policy: &str) {
    let (code, err) = err_of(out);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err["code"], "access_denied", "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(message.contains(policy), "{message}");
}

/// Every file under `dir` (recursively): whether any contains `needle`.
fn any_file_contains(dir: &Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                return true;
            }
        }
    }
    false
}

/// Stores `bytes` as an ordinary blob from `file` and reads it into `out`: the read must fail
/// as `bad_ciphertext` (exit 2) and leave no `out`. Returns the error.
async fn store_and_read_bad_ciphertext(
    config: &Path,
    file: &Path,
    bytes: &[u8],
    out: &Path,
) -> Value {
    std::fs::write(file, bytes).unwrap();
    let stored = ok_json(
        &floe(config, &["--json", "store", file.to_str().unwrap()]).await,
        "store",
    );
    let blob = stored["blobs"][0]["blob_id"].as_str().unwrap().to_owned();
    let (o, _) = read_as(config, &blob, out).await;
    let (code, err) = err_of(&o);
    assert_eq!(
        (code, err["code"].as_str()),
        (2, Some("bad_ciphertext")),
        "{err}"
    );
    assert!(!out.exists());
    err
}

fn four_validators() -> ClusterOptions {
    ClusterOptions {
        validators: 4,
        ..ClusterOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn privacy_allowlist() {
    let mut net = TestCluster::start(four_validators()).await;
    net.wait_nodes_synced().await;
    let dir = tempfile::tempdir().unwrap();
    let owner = client_config(dir.path(), &net, 3);
    let (reader, reader_addr) = second_wallet(&dir.path().join("reader"), &net, 77).await;
    // Four segments of 1 MiB (the last one short): they decrypt in parallel as they stream.
    let (file, plain) = secret_file(dir.path(), "secret.bin", 3_300_000);
    let policy = create_policy(&owner, &["allowlist"]).await;
    let blob = store_encrypted(&owner, &file, &policy).await;
    let out = dir.path().join("out.bin");

    // The owner reads it back byte-exact.
    let (o, bytes) = read_as(&owner, &blob, &out).await;
    assert_eq!(bytes.as_deref(), Some(&plain[..]), "{}", o.stderr);
    // A reader not on the list: access denied, naming the policy; no output file left.
    let (o, _) = read_as(&reader, &blob, &out).await;
    assert_denied(&o, &policy);
    assert!(!out.exists(), "no ciphertext left under the output name");

    // Added: the reader decrypts, with f = 1 of the 3f + 1 key servers stopped.
    ok_json(
        &floe(&owner, &["--json", "policy", "add", &policy, &reader_addr]).await,
        "policy add",
    );
    net.stop_validator(3).await;
    let (o, bytes) = read_as(&reader, &blob, &out).await;
    assert_eq!(bytes.as_deref(), Some(&plain[..]), "{}", o.stderr);

    // Removed: no new shares.
    ok_json(
        &floe(
            &owner,
            &["--json", "policy", "remove", &policy, &reader_addr],
        )
        .await,
        "policy remove",
    );
    let (o, _) = read_as(&reader, &blob, &out).await;
    assert_denied(&o, &policy);
    let shown = ok_json(
        &floe(&owner, &["--json", "policy", "show", &policy]).await,
        "policy show",
    );
    assert_eq!(shown["version"], 2);
    assert_eq!(shown["rule"]["allowlist"]["members"], Value::Array(vec![]));
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn privacy_timelock() {
    let net = TestCluster::start(four_validators()).await;
    net.wait_nodes_synced().await;
    let dir = tempfile::tempdir().unwrap();
    let owner = client_config(dir.path(), &net, 3);
    let (reader, _) = second_wallet(&dir.path().join("reader"), &net, 78).await;
    let out = dir.path().join("out.bin");

    // Refused before the time, for everyone (the owner too); decrypted after it.
    let (file, plain) = secret_file(dir.path(), "capsule.bin", 50_000);
    let opens = floe_tests::now_ms() + 20_000;
    let lock = create_policy(&owner, &["timelock", "--at", &opens.to_string()]).await;
    let blob = store_encrypted(&owner, &file, &lock).await;
    let (o, _) = read_as(&reader, &blob, &out).await;
    assert_denied(&o, &lock);
    let (o, _) = read_as(&owner, &blob, &out).await;
    assert_denied(&o, &lock);
    assert!(
        floe_tests::now_ms() < opens,
        "the refusals came before the time"
    );
    while floe_tests::now_ms() < opens + 500 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (o, bytes) = read_as(&reader, &blob, &out).await;
    assert_eq!(bytes.as_deref(), Some(&plain[..]), "{}", o.stderr);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn privacy_paid() {
    let net = TestCluster::start(ClusterOptions {
        epoch_ms: 6_000,
        ..four_validators()
    })
    .await;
    net.wait_nodes_synced().await;
    let dir = tempfile::tempdir().unwrap();
    let owner = client_config(dir.path(), &net, 20);
    let (reader, reader_addr) = second_wallet(&dir.path().join("reader"), &net, 79).await;
    let out = dir.path().join("out.bin");

    // The reader pays, the owner's balance grows by the price, access ends after its epochs.
    let price = 5_000_000u64; // 0.005 WAL
    let paid = create_policy(&owner, &["paid", "--price", "0.005", "--epochs", "2"]).await;
    let (file, plain) = secret_file(dir.path(), "paid.bin", 70_000);
    let blob = store_encrypted(&owner, &file, &paid).await;
    let (o, _) = read_as(&reader, &blob, &out).await;
    assert_denied(&o, &paid);
    let owner_addr = floe_ledger_types::Address::of(&net.user.public());
    let sdk = net.floe().await;
    let before = sdk.balance_of(&owner_addr).await.unwrap();
    let receipt = ok_json(
        &floe(&reader, &["--json", "policy", "pay", &paid]).await,
        "policy pay",
    );
    let after = sdk.balance_of(&owner_addr).await.unwrap();
    assert_eq!(after.0 - before.0, price, "the owner is paid the price");
    let until = receipt["until"].as_u64().unwrap();
    let (o, bytes) = read_as(&reader, &blob, &out).await;
    assert_eq!(bytes.as_deref(), Some(&plain[..]), "{}", o.stderr);
    // Access ends when epoch `until` starts.
    floe_tests::eventually(
        std::time::Duration::from_secs(30),
        "access ends",
        || async { u64::from(sdk.system().await.unwrap().epoch.0) >= until },
    )
    .await;
    let (o, _) = read_as(&reader, &blob, &out).await;
    assert_denied(&o, &paid);
    let shown = ok_json(
        &floe(&reader, &["--json", "policy", "show", &paid]).await,
        "policy show",
    );
    assert_eq!(shown["access"]["reader"], reader_addr.as_str());
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adv_key_requests_and_ciphertexts() {
    let net = TestCluster::start(ClusterOptions::default()).await;
    net.wait_nodes_synced().await;
    let dir = tempfile::tempdir().unwrap();
    let owner = client_config(dir.path(), &net, 3);
    let http = reqwest::Client::new();
    let url = format!("{}/v1/keys/share", net.rpc_url);
    let post = |body: Vec<u8>| {
        let req = http.post(&url).body(body);
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            (status, v["code"].as_str().unwrap_or("").to_owned())
        }
    };
    // Garbage, truncated, oversized: typed refusals, and the validator keeps answering.
    assert_eq!(post(vec![0xff; 300]).await, (400, "malformed".into()));
    assert_eq!(post(vec![]).await, (400, "malformed".into()));
    // Over the limit, but small enough to sit in the socket's buffer: the server's early 413
    // cannot cut the upload short (a broken pipe instead of the answer).
    let oversized = floe_common::privacy::request::MAX_SIGNED_KEY_REQUEST_LEN + 1024;
    let (status, _) = post(vec![0; oversized]).await;
    assert_eq!(status, 413);
    // A request for a policy that does not exist, and a forged one.
    let sdk = net.floe().await;
    let epoch = sdk.system().await.unwrap().epoch;
    let (_, signed) = KeyRequest::new_signed(
        &mut rand::rngs::OsRng,
        &net.user,
        sdk.chain_id(),
        epoch,
        floe_common::ObjectId([3; 32]),
        floe_common::privacy::BlobNonce([4; 32]),
        floe_tests::now_ms(),
    );
    assert_eq!(
        post(codec::encode(&signed)).await,
        (403, "access_denied".into())
    );
    let mut forged = signed.clone();
    forged.signature = KeyPair::from_seed([5; 32]).sign_raw(&signed.serialized);
    assert_eq!(
        post(codec::encode(&forged)).await,
        (401, "bad_signature".into())
    );
    assert!(
        net.ledger().health().await.is_ok(),
        "the validator still answers"
    );

    // A blob that starts like a sealed one but has a malformed header: a typed error, and no
    // output file.
    let mut fake = floe_common::privacy::MAGIC.to_vec();
    fake.extend_from_slice(&[0xab; 500]);
    let file = dir.path().join("fake.bin");
    let out = dir.path().join("out.bin");
    store_and_read_bad_ciphertext(&owner, &file, &fake, &out).await;

    // A sealed blob whose first two segments were swapped: each segment authenticates only
    // at its own position, so the streamed read fails as bad_ciphertext and leaves no file
    // (a prefix of plaintext is never kept under the output name).
    let policy = create_policy(&owner, &["owner"]).await;
    let (plain_file, _) = secret_file(dir.path(), "two-segments.bin", 2_500_000);
    let keys = KeyServerSet::fetch(sdk.ledger(), sdk.chain_id())
        .await
        .unwrap();
    let mut sealed = Vec::new();
    keys.seal_file(
        &plain_file,
        &mut sealed,
        &plain_file,
        policy.parse().unwrap(),
    )
    .unwrap();
    let (head, rest) = sealed.split_at(floe_common::privacy::HEADER_LEN);
    let seg = floe_client::private::SEGMENT_SIZE as usize + 16;
    let swapped = [head, &rest[seg..2 * seg], &rest[..seg], &rest[2 * seg..]].concat();
    assert_eq!(swapped.len(), sealed.len());
    let file = dir.path().join("swapped.bin");
    let err = store_and_read_bad_ciphertext(&owner, &file, &swapped, &out).await;
    assert!(
        err["message"].as_str().unwrap().contains("segment 0"),
        "{err}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // Storing with a policy that does not exist is refused before anything is paid.
    let before = sdk
        .balance_of(&floe_ledger_types::Address::of(&net.user.public()))
        .await
        .unwrap();
    let o = floe(
        &owner,
        &[
            "--json",
            "store",
            file.to_str().unwrap(),
            "--encrypt",
            "--policy",
            &floe_common::ObjectId([3; 32]).to_string(),
        ],
    )
    .await;
    let (code, err) = err_of(&o);
    assert_eq!(
        (code, err["code"].as_str()),
        (2, Some("unknown_object")),
        "{err}"
    );
    let after = sdk
        .balance_of(&floe_ledger_types::Address::of(&net.user.public()))
        .await
        .unwrap();
    assert_eq!(before, after, "nothing paid");
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn privacy_no_single_server_decrypts() {
    let net = TestCluster::start(four_validators()).await;
    net.wait_nodes_synced().await;
    let dir = tempfile::tempdir().unwrap();
    let owner = client_config(dir.path(), &net, 3);
    let policy = create_policy(&owner, &["owner"]).await;
    let (file, plain) = secret_file(dir.path(), "secret.bin", 200_000);
    let blob = store_encrypted(&owner, &file, &policy).await;

    // t − 1 = 2 verified shares: combining them as if they were enough gives a key that
    // fails the check against the master public key.
    let sdk = net.floe().await;
    let keys = KeyServerSet::fetch(sdk.ledger(), sdk.chain_id())
        .await
        .unwrap();
    let client = net.client().await;
    let blob_id: floe_common::BlobId = blob.parse().unwrap();
    let sealed = client
        .read(blob_id, floe_common::ConsistencyCheck::Default)
        .await
        .unwrap()
        .data;
    let header = floe_client::private::sealed_header(&sealed)
        .unwrap()
        .unwrap();
    let id = header.identity(sdk.chain_id());
    let epoch = sdk.system().await.unwrap().epoch;
    let (eph, signed) = KeyRequest::new_signed(
        &mut rand::rngs::OsRng,
        &net.user,
        sdk.chain_id(),
        epoch,
        header.policy,
        header.nonce,
        floe_tests::now_ms(),
    );
    let request = codec::encode(&signed);
    let mut shares: Vec<KeyShare> = Vec::new();
    for s in &keys.servers.servers[..2] {
        let ledger = floe_ledger_types::LedgerClient::new(vec![s.url.clone()]);
        let bytes = ledger.key_share(&request).await.unwrap();
        let enc = floe_common::privacy::EncryptedShare::decode(&bytes).unwrap();
        shares.push(eph.open_verified(&enc, &id, &s.public).unwrap());
    }
    assert!(combine(&shares, 3).is_err(), "two shares are not three");
    let forged = combine(&shares, 2).unwrap();
    assert!(forged.verify(&id, &keys.servers.master).is_err());
    let wrong = floe_common::privacy::decapsulate(&forged, &header.encapsulation, &id);
    assert!(floe_common::privacy::open(&wrong, &sealed).is_err());
    // With the full set of t shares (the third server), the key opens the blob.
    let third = &keys.servers.servers[2];
    let ledger = floe_ledger_types::LedgerClient::new(vec![third.url.clone()]);
    let replay = ledger.key_share(&request).await;
    assert_eq!(
        replay.as_ref().err().and_then(|e| e.code()),
        None,
        "a different server has not seen the request"
    );
    let enc = floe_common::privacy::EncryptedShare::decode(&replay.unwrap()).unwrap();
    shares.push(eph.open_verified(&enc, &id, &third.public).unwrap());
    let key = combine(&shares, 3).unwrap();
    key.verify(&id, &keys.servers.master).unwrap();
    let data_key = floe_common::privacy::decapsulate(&key, &header.encapsulation, &id);
    assert_eq!(
        floe_common::privacy::open(&data_key, &sealed).unwrap(),
        plain
    );
    // The same request again at a server that answered: replayed.
    let again = floe_ledger_types::LedgerClient::new(vec![keys.servers.servers[0].url.clone()]);
    let e = again.key_share(&request).await.unwrap_err();
    assert_eq!(e.code(), Some("replayed"));

    // Nodes hold only ciphertext: the marker is nowhere in their stores, while a plain blob
    // with another marker is (the scan would see plaintext).
    assert!(!any_file_contains(net.dir.path(), MARKER));
    assert!(!sealed.windows(MARKER.len()).any(|w| w == MARKER));
    let public_marker = b"FLOE-PUBLIC-PLAINTEXT-MARKER";
    let public: Vec<u8> = public_marker
        .iter()
        .copied()
        .cycle()
        .take(100_000)
        .collect();
    let pfile = dir.path().join("public.bin");
    std::fs::write(&pfile, &public).unwrap();
    let plain_store = ok_json(
        &floe(&owner, &["--json", "store", pfile.to_str().unwrap()]).await,
        "plain store",
    );
    let public_blob = plain_store["blobs"][0]["blob_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(any_file_contains(net.dir.path(), public_marker));

    // The aggregator serves the ciphertext, marked, and never the plaintext.
    let (addr, stop) =
        super::daemon_support::serve(&net, &floe_cli::daemon::DaemonOptions::default()).await;
    let resp = reqwest::get(format!("http://{addr}/v1/blobs/{blob}"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()
            .get("x-floe-encrypted")
            .map(|v| v.to_str().unwrap()),
        Some("floe/sealed/v1")
    );
    let body = resp.bytes().await.unwrap();
    assert_eq!(&body[..], &sealed[..]);
    // A range from the middle is marked too; a public blob is not.
    let resp = reqwest::Client::new()
        .get(format!("http://{addr}/v1/blobs/{blob}"))
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert!(resp.headers().get("x-floe-encrypted").is_some());
    assert_eq!(&resp.bytes().await.unwrap()[..], &sealed[1000..2000]);
    let resp = reqwest::get(format!("http://{addr}/v1/blobs/{public_blob}"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-floe-encrypted").is_none());
    stop.cancel();
    net.shutdown().await;
}
