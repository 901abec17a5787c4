//! `floe daemon`'s quilt routes against a real cluster over real sockets: `PUT /v1/quilts`
//! (multipart, `_metadata` tags), the three reads (by patch id, by quilt id and identifier,
//! the patch list), `Range` within a patch and the patch's headers; bad bodies refused before
//! anything is paid (`adv_…`).

use floe_cli::daemon::DaemonOptions;
use floe_tests::{ClusterOptions, TestCluster, data};
use reqwest::StatusCode;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const MAX_QUILT_BODY: u64 = 512 * 1024;

#[path = "support/daemon.rs"]
mod support;

use support::{balance, json_of, reason};

async fn start(cluster: &TestCluster) -> (String, CancellationToken) {
    let options = DaemonOptions {
        max_quilt_body: MAX_QUILT_BODY,
        ..DaemonOptions::default()
    };
    let (addr, stop) = support::serve(cluster, &options).await;
    (format!("http://{addr}"), stop)
}

fn cluster_options() -> ClusterOptions {
    ClusterOptions {
        shards: 40,
        ..ClusterOptions::default()
    }
}

const BOUNDARY: &str = "floe-test-boundary-7d1f";

/// A `multipart/form-data` body of `(name, content type, data)` fields.
fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, ct, data) in fields {
        b.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n")
                .as_bytes(),
        );
        if let Some(ct) = ct {
            b.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        b.extend_from_slice(b"\r\n");
        b.extend_from_slice(data);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    b
}

async fn put(http: &reqwest::Client, url: &str, body: Vec<u8>) -> reqwest::Response {
    http.put(format!("{url}/v1/quilts?epochs=2"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_daemon_quilt_store_and_reads() {
    let cluster = TestCluster::start(cluster_options()).await;
    let (url, stop) = start(&cluster).await;
    let http = reqwest::Client::new();
    let html = b"<html><body>hello quilt</body></html>".to_vec();
    let logo = data(40_000, 3);
    let meta = json!([{"identifier": "index.html", "tags": {"content-disposition": "inline", "lang": "en"}}]);
    let body = multipart(&[
        ("index.html", Some("text/html"), &html),
        ("img/logo.png", None, &logo),
        ("empty.txt", Some("application/octet-stream"), b""),
        (
            "_metadata",
            Some("application/json"),
            meta.to_string().as_bytes(),
        ),
    ]);
    let resp = put(&http, &url, body).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let doc = json_of(resp).await;
    let quilt_id = doc["blobStoreResult"]["newlyCreated"]["blobObject"]["blobId"]
        .as_str()
        .unwrap_or_else(|| panic!("{doc}"))
        .to_owned();
    let stored = doc["storedQuiltBlobs"].as_array().unwrap();
    let names: Vec<&str> = stored
        .iter()
        .map(|p| p["identifier"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["empty.txt", "img/logo.png", "index.html"]);
    let pid = |name: &str| {
        stored.iter().find(|p| p["identifier"] == name).unwrap()["quiltPatchId"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    // By patch id: the bytes, the content type, the identifier, allowed tags as headers.
    let html_id = pid("index.html");
    let resp = http
        .get(format!("{url}/v1/blobs/by-quilt-patch-id/{html_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "text/html");
    assert_eq!(h["x-quilt-patch-identifier"], "index.html");
    assert_eq!(h["etag"], format!("\"{html_id}\"").as_str());
    assert_eq!(h["content-disposition"], "inline");
    assert!(h.get("lang").is_none());
    assert_eq!(h["content-length"], html.len().to_string().as_str());
    // Active content is sandboxed like any other read.
    assert!(h.get("content-security-policy").is_some());
    assert_eq!(resp.bytes().await.unwrap(), html);

    // Range, relative to the patch.
    let logo_id = pid("img/logo.png");
    let resp = http
        .get(format!("{url}/v1/blobs/by-quilt-patch-id/{logo_id}"))
        .header("Range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        resp.headers()["content-range"],
        format!("bytes 1000-1999/{}", logo.len()).as_str()
    );
    assert_eq!(resp.bytes().await.unwrap(), logo[1000..2000]);
    let resp = http
        .get(format!("{url}/v1/blobs/by-quilt-patch-id/{logo_id}"))
        .header("Range", format!("bytes={}-", logo.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // By quilt id and identifier (a `/` percent-encoded); the empty patch.
    let resp = http
        .get(format!(
            "{url}/v1/blobs/by-quilt-id/{quilt_id}/img%2Flogo.png"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.headers()["x-quilt-patch-identifier"], "img/logo.png");
    assert_eq!(resp.bytes().await.unwrap(), logo);
    let resp = http
        .get(format!("{url}/v1/blobs/by-quilt-id/{quilt_id}/empty.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/plain");
    assert!(resp.bytes().await.unwrap().is_empty());

    // The list.
    let list = json_of(
        http.get(format!("{url}/v1/quilts/{quilt_id}/patches"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[2]["identifier"], "index.html");
    assert_eq!(list[2]["quiltPatchId"], html_id.as_str());
    assert_eq!(list[2]["tags"]["lang"], "en");

    // Unknown identifier, malformed and out-of-range patch ids.
    let resp = http
        .get(format!("{url}/v1/blobs/by-quilt-id/{quilt_id}/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(reason(&json_of(resp).await), "QUILT_PATCH_NOT_FOUND");
    let resp = http
        .get(format!("{url}/v1/blobs/by-quilt-patch-id/{quilt_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(reason(&json_of(resp).await), "INVALID_QUILT_PATCH_ID");
    let mut far: floe_common::quilt::QuiltPatchId = html_id.parse().unwrap();
    far.end_symbol = u32::MAX;
    let resp = http
        .get(format!("{url}/v1/blobs/by-quilt-patch-id/{far}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(reason(&json_of(resp).await), "QUILT_PATCH_NOT_FOUND");
    stop.cancel();
    cluster.shutdown().await;
}

/// Duplicate identifiers, an empty identifier, tags for no field, a body over the quilt
/// limit and a body that is not multipart: each a 4xx, and nothing is paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adv_daemon_quilt_bad_bodies() {
    let cluster = TestCluster::start(cluster_options()).await;
    let (url, stop) = start(&cluster).await;
    let http = reqwest::Client::new();
    let before = balance(&cluster).await;

    let resp = put(
        &http,
        &url,
        multipart(&[("a", None, b"1"), ("b", None, b"2"), ("a", None, b"3")]),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(reason(&json_of(resp).await), "DUPLICATE_IDENTIFIER");

    let resp = put(
        &http,
        &url,
        multipart(&[("a", None, b"1"), ("", None, b"2")]),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(reason(&json_of(resp).await), "INVALID_IDENTIFIER");

    let meta = json!([{"identifier": "ghost", "tags": {"k": "v"}}]).to_string();
    let resp = put(
        &http,
        &url,
        multipart(&[("a", None, b"1"), ("_metadata", None, meta.as_bytes())]),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        reason(&json_of(resp).await),
        "UNKNOWN_QUILT_METADATA_IDENTIFIER"
    );

    let big = vec![7u8; MAX_QUILT_BODY as usize];
    let resp = put(&http, &url, multipart(&[("big", None, &big)])).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let resp = put(&http, &url, multipart(&[])).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(reason(&json_of(resp).await), "EMPTY_QUILT");

    let resp = http
        .put(format!("{url}/v1/quilts"))
        .body("raw bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(reason(&json_of(resp).await), "INVALID_CONTENT_TYPE");

    assert_eq!(balance(&cluster).await, before, "nothing may be charged");
    stop.cancel();
    cluster.shutdown().await;
}
