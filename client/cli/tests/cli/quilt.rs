//! The `floe` binary's quilt commands: `store-quilt --dir`, `list-patches`, `read-quilt` by
//! identifier, patch id and tag; an empty directory and a patch id of another quilt refused.

use std::path::Path;

use floe_tests::{ClusterOptions, TestCluster};

use super::data::{client_config, floe, ok_json};

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cli_quilt_store_list_and_read() {
    let net = TestCluster::start(ClusterOptions {
        shards: 40,
        ..ClusterOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = client_config(dir.path(), &net, 2);
    let site = dir.path().join("site");
    let html = b"<html>hello</html>".to_vec();
    let big: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 256) as u8).collect();
    write(&site.join("index.html"), &html);
    write(&site.join("img/big.bin"), &big);
    write(&site.join("empty.txt"), b"");
    let site_arg = site.to_str().unwrap();

    let stored = ok_json(
        &floe(
            &config,
            &[
                "--json",
                "store-quilt",
                "--dir",
                site_arg,
                "--tag",
                "site=demo",
            ],
        )
        .await,
        "store-quilt",
    );
    let quilt_id = stored["quilt"]["blob_id"].as_str().unwrap().to_owned();
    let patches = stored["patches"].as_array().unwrap();
    let ids: Vec<&str> = patches
        .iter()
        .map(|p| p["identifier"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["empty.txt", "img/big.bin", "index.html"]);

    let listed = ok_json(
        &floe(&config, &["--json", "list-patches", &quilt_id]).await,
        "list-patches",
    );
    let listed = listed["patches"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[2]["content_type"], "text/html");
    assert_eq!(listed[1]["tags"]["site"], "demo");
    assert_eq!(listed[1]["patch_id"], patches[1]["patch_id"]);

    // All patches into a directory, byte-exact.
    let out = dir.path().join("out");
    let read = ok_json(
        &floe(
            &config,
            &[
                "--json",
                "read-quilt",
                &quilt_id,
                "-o",
                out.to_str().unwrap(),
            ],
        )
        .await,
        "read-quilt -o",
    );
    assert_eq!(read["patches"].as_array().unwrap().len(), 3);
    assert_eq!(std::fs::read(out.join("img/big.bin")).unwrap(), big);
    assert_eq!(std::fs::read(out.join("index.html")).unwrap(), html);
    assert_eq!(std::fs::read(out.join("empty.txt")).unwrap(), b"");

    // One by identifier to stdout; one by patch id; by tag.
    let one = floe(&config, &["read-quilt", &quilt_id, "img/big.bin"]).await;
    assert_eq!(one.code, 0, "{}", one.stderr);
    assert_eq!(one.stdout, big);
    let pid = patches[2]["patch_id"].as_str().unwrap();
    let by_id = ok_json(
        &floe(&config, &["--json", "read-quilt", "--patch", pid]).await,
        "read-quilt --patch",
    );
    assert_eq!(by_id["patches"][0]["identifier"], "index.html");
    let tagged = ok_json(
        &floe(
            &config,
            &["--json", "read-quilt", &quilt_id, "--tag", "site=demo"],
        )
        .await,
        "read-quilt --tag",
    );
    assert_eq!(tagged["patches"].as_array().unwrap().len(), 3);
    let none = ok_json(
        &floe(
            &config,
            &["--json", "read-quilt", &quilt_id, "--tag", "site=other"],
        )
        .await,
        "read-quilt --tag (none)",
    );
    assert_eq!(none["patches"].as_array().unwrap().len(), 0);

    // Unknown identifier: not found (exit 2).
    let unknown = floe(&config, &["--json", "read-quilt", &quilt_id, "nope"]).await;
    assert_eq!(
        unknown.code,
        2,
        "{}",
        String::from_utf8_lossy(&unknown.stdout)
    );
    net.shutdown().await;
}

/// An empty directory is a typed error before anything is paid (no network needed).
#[tokio::test]
async fn adv_cli_quilt_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(empty.join("sub")).unwrap();
    let out = floe(
        &dir.path().join("missing.yaml"),
        &["--json", "store-quilt", "--dir", empty.to_str().unwrap()],
    )
    .await;
    assert_eq!(out.code, 1);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "empty_quilt", "{doc}");
}

/// A patch id of another quilt than the one named is refused before anything is read.
#[tokio::test]
async fn adv_cli_quilt_patch_of_another_quilt() {
    let dir = tempfile::tempdir().unwrap();
    let quilt_a = floe_common::BlobId([1; 32]);
    let patch_of_b = floe_common::quilt::QuiltPatchId {
        quilt_id: floe_common::BlobId([2; 32]),
        start_symbol: 3,
        end_symbol: 4,
    };
    let out = floe(
        &dir.path().join("missing.yaml"),
        &[
            "--json",
            "read-quilt",
            &quilt_a.to_string(),
            "--patch",
            &patch_of_b.to_string(),
        ],
    )
    .await;
    assert_eq!(out.code, 1);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "bad_patch_id", "{doc}");
}
