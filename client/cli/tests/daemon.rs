//! `floe daemon` (the HTTP publisher and aggregator) against a real cluster, over real sockets:
//! PUT then GET byte-exact, reuse of a certified blob, `Range` (206 / 416), unknown and malformed
//! ids, the body limit (413), the concurrency limit (429), blob attributes as headers
//! (`by-object-id`), bad or conflicting options, and the OpenAPI document. (Sending and sharing
//! what the publisher stores: `daemon_post_store.rs`.)

use std::sync::Arc;
use std::time::Duration;

use floe_cli::daemon::{self, DaemonOptions};
use floe_client::{Floe, Wallet};
use floe_common::ObjectId;
use floe_tests::{ClusterOptions, TestCluster, data};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_util::sync::CancellationToken;

const MAX_BODY: u64 = 256 * 1024;

struct Daemon {
    url: String,
    addr: std::net::SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start_daemon(cluster: &TestCluster) -> Daemon {
    start_daemon_with(
        cluster,
        DaemonOptions {
            max_body: MAX_BODY,
            max_concurrent: 1,
            ..DaemonOptions::default()
        },
    )
    .await
}

async fn start_daemon_with(cluster: &TestCluster, options: DaemonOptions) -> Daemon {
    let client = Arc::new(cluster.client().await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(daemon::serve(
        listener,
        daemon::router(client, &options),
        stop.clone(),
    ));
    Daemon {
        url: format!("http://{addr}"),
        addr,
        stop,
        task,
    }
}

#[path = "support/daemon.rs"]
mod support;

use support::{json_of, reason};

/// Browser-facing headers, `HEAD`, `/status` and `/metrics` (see `floe_cli::daemon::web`).
async fn web_ready(
    cluster: &TestCluster,
    d: &Daemon,
    http: &reqwest::Client,
    floe: &Floe,
    object_id: ObjectId,
    bytes: &[u8],
) {
    let blob_id = floe_client::blob_id_of(bytes, cluster.genesis.n_shards)
        .unwrap()
        .blob_id;
    let blob_url = format!("{}/v1/blobs/{blob_id}", d.url);
    let by_object = format!("{}/v1/blobs/by-object-id/{object_id}", d.url);
    let origin = "https://site.example";

    // A read by blob id: immutable, no sniffing, readable cross-origin.
    let resp = http
        .get(&blob_url)
        .header("Origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers();
    assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(
        h["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("content-range")
    );
    assert!(h.get("content-security-policy").is_none());
    // HEAD: the same head, no body.
    let resp = http.head(&blob_url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["etag"], format!("\"{blob_id}\"").as_str());
    assert_eq!(
        resp.headers()["content-length"],
        bytes.len().to_string().as_str()
    );
    assert!(resp.bytes().await.unwrap().is_empty());
    let resp = http.head(&by_object).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // Preflights: reads allowed, the publisher never.
    let preflight = |method: &'static str| {
        http.request(reqwest::Method::OPTIONS, &blob_url)
            .header("Origin", origin)
            .header("Access-Control-Request-Method", method)
            .send()
    };
    let resp = preflight("GET").await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert!(
        resp.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
    let resp = preflight("PUT").await.unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    // A cross-origin PUT gets no CORS grant either.
    let resp = http
        .put(format!("{}/v1/blobs", d.url))
        .header("Origin", origin)
        .body(vec![1u8; 10])
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    // Errors are not cached.
    let resp = http
        .get(format!(
            "{}/v1/blobs/{}",
            d.url,
            floe_common::BlobId([3; 32])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    // HTML from a blob attribute is sandboxed; by object id is cached briefly.
    floe.set_blob_attribute(object_id, "content-type", "text/html; charset=utf-8")
        .await
        .unwrap();
    let resp = http.get(&by_object).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(resp.headers()["content-security-policy"], "sandbox");
    assert_eq!(resp.headers()["cache-control"], "public, max-age=60");
    // An operator serving its own sites may allow active content and name its origin.
    let own = start_daemon_with(
        cluster,
        DaemonOptions {
            cors_allow_origin: Some(origin.to_owned()),
            allow_active_content: true,
            ..DaemonOptions::default()
        },
    )
    .await;
    let resp = http
        .get(format!("{}/v1/blobs/by-object-id/{object_id}", own.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("content-security-policy").is_none());
    assert_eq!(resp.headers()["access-control-allow-origin"], origin);
    own.stop.cancel();
    own.task.await.unwrap().unwrap();

    // Status: ok, with the chain and the epoch.
    let resp = http.get(format!("{}/status", d.url)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let status = json_of(resp).await;
    assert_eq!(status["status"], "ok");
    assert_eq!(status["chainId"], cluster.genesis.chain_id.as_str());
    assert!(status["epoch"].is_u64(), "{status}");
    assert_eq!(status["readsInFlight"], 0);
    // Metrics: the reads above, by route template and status, with bytes and latency.
    let text = http
        .get(format!("{}/metrics", d.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ok_reads = text
        .lines()
        .find(|l| {
            l.starts_with("floe_daemon_requests_total{")
                && l.contains("route=\"/v1/blobs/{blob_id}\"")
                && l.contains("method=\"GET\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no counter for ok reads:\n{text}"));
    let count: f64 = ok_reads.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 2.0, "{ok_reads}");
    assert!(
        text.contains("floe_daemon_requests_total{route=\"/v1/blobs/{blob_id}\",method=\"GET\",status=\"404\"}"),
        "{text}"
    );
    let bytes_line = text
        .lines()
        .find(|l| l.starts_with("floe_daemon_response_bytes_total{route=\"/v1/blobs/{blob_id}\"}"))
        .expect("bytes counter");
    let sent: f64 = bytes_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(sent >= 2.0 * bytes.len() as f64, "{bytes_line}");
    assert!(text.contains("floe_daemon_request_seconds_bucket{"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_daemon_publisher_and_aggregator() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let d = start_daemon(&cluster).await;
    let http = reqwest::Client::new();
    let n_shards = cluster.genesis.n_shards;

    // PUT a blob: newlyCreated with the blob object's fields in camelCase.
    let bytes = data(100_000, 7);
    let expected_id = floe_client::blob_id_of(&bytes, n_shards).unwrap().blob_id;
    let resp = http
        .put(format!("{}/v1/blobs?epochs=2&deletable=true", d.url))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let doc = json_of(resp).await;
    let created = &doc["newlyCreated"];
    let object = &created["blobObject"];
    assert_eq!(object["blobId"], expected_id.to_string(), "{doc}");
    assert_eq!(object["size"], 100_000);
    assert_eq!(object["encodingType"], "RS2");
    assert_eq!(object["deletable"], true);
    assert!(object["certifiedEpoch"].is_u64(), "certified: {doc}");
    let registered = object["registeredEpoch"].as_u64().unwrap();
    assert_eq!(object["storage"]["startEpoch"].as_u64(), Some(registered));
    assert_eq!(object["storage"]["endEpoch"].as_u64(), Some(registered + 2));
    let encoded = created["resourceOperation"]["registerFromScratch"]["encodedLength"]
        .as_u64()
        .unwrap();
    assert_eq!(object["storage"]["storageSize"].as_u64(), Some(encoded));
    assert_eq!(
        created["resourceOperation"]["registerFromScratch"]["epochsAhead"],
        2
    );
    assert!(created["cost"].as_u64().unwrap() > 0);
    let object_id: ObjectId = object["id"].as_str().unwrap().parse().unwrap();
    let blob_url = format!("{}/v1/blobs/{expected_id}", d.url);

    // GET: byte-exact, with an ETag and Accept-Ranges.
    let resp = http.get(&blob_url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    assert_eq!(resp.headers()["accept-ranges"], "bytes");
    assert_eq!(
        resp.headers()["etag"].to_str().unwrap(),
        format!("\"{expected_id}\"")
    );
    assert_eq!(resp.bytes().await.unwrap(), bytes);

    // The same bytes again: alreadyCertified, naming the certified object; nothing is paid.
    let resp = http
        .put(format!("{}/v1/blobs?epochs=1", d.url))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let doc = json_of(resp).await;
    let already = &doc["alreadyCertified"];
    assert_eq!(already["blobId"], expected_id.to_string(), "{doc}");
    assert_eq!(already["endEpoch"].as_u64(), Some(registered + 2));
    assert_eq!(already["object"], object_id.to_string());

    // Range: 206 with the right bytes and Content-Range; suffix ranges too.
    for (range, want, content_range) in [
        ("bytes=10-109", 10..110, "bytes 10-109/100000"),
        ("bytes=99990-", 99_990..100_000, "bytes 99990-99999/100000"),
        ("bytes=-5", 99_995..100_000, "bytes 99995-99999/100000"),
        ("bytes=0-0", 0..1, "bytes 0-0/100000"),
    ] {
        let resp = http
            .get(&blob_url)
            .header("Range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(resp.headers()["content-range"], content_range);
        assert_eq!(resp.bytes().await.unwrap(), bytes[want], "{range}");
    }
    // Outside the blob: 416 with `bytes */LEN`; malformed: 416.
    let resp = http
        .get(&blob_url)
        .header("Range", "bytes=100000-")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(resp.headers()["content-range"], "bytes */100000");
    assert_eq!(reason(&json_of(resp).await), "RANGE_NOT_SATISFIABLE");
    for bad in ["bytes=5-1", "bytes=0-1,5-6", "lines=1-2"] {
        let resp = http
            .get(&blob_url)
            .header("Range", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{bad}");
    }
    // The byte-range route.
    let resp = http
        .get(format!("{blob_url}/byte-range?start=5&length=10"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap(), bytes[5..15]);
    let resp = http
        .get(format!("{blob_url}/byte-range?start=99999&length=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // Unknown and malformed ids, conflicting options.
    let unknown = floe_common::BlobId([9; 32]);
    let resp = http
        .get(format!("{}/v1/blobs/{unknown}", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let doc = json_of(resp).await;
    assert_eq!(doc["error"]["code"], 404);
    assert_eq!(doc["error"]["status"], "NOT_FOUND");
    assert_eq!(reason(&doc), "BLOB_NOT_FOUND");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&unknown.to_string())
    );
    let resp = http
        .get(format!("{}/v1/blobs/not-a-blob-id", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = http
        .get(format!(
            "{blob_url}?strict_consistency_check=true&skip_consistency_check=true"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = http
        .get(format!("{blob_url}?strict_consistency_check=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap(), bytes);

    // Publisher options Floe cannot honour, or that contradict each other: 400.
    for query in [
        "send_object_to=0x01",
        "send_object_to=0x0000000000000000000000000000000000000000000000000000000000000001&share=true",
        "deletable=true&permanent=true",
        "epochs=0",
        "encoding_type=RS1",
    ] {
        let resp = http
            .put(format!("{}/v1/blobs?{query}", d.url))
            .body(vec![1u8; 10])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{query}");
        let doc = json_of(resp).await;
        assert!(!reason(&doc).is_empty(), "{query}: {doc}");
    }

    // Over the body limit: 413 before anything is stored.
    let resp = http
        .put(format!("{}/v1/blobs", d.url))
        .body(vec![0u8; MAX_BODY as usize + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reason(&json_of(resp).await), "BLOB_TOO_LARGE");

    // by-object-id: the blob object's allowed attributes become headers.
    let floe = Floe::connect(vec![cluster.rpc_url.clone()])
        .await
        .unwrap()
        .with_wallet(Wallet::from_key(cluster.user.clone()));
    floe.set_blob_attribute(object_id, "content-type", "text/plain; charset=utf-8")
        .await
        .unwrap();
    floe.set_blob_attribute(object_id, "x-not-allowed", "secret")
        .await
        .unwrap();
    let by_object = format!("{}/v1/blobs/by-object-id/{object_id}", d.url);
    let resp = http.get(&by_object).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert!(resp.headers().get("x-not-allowed").is_none());
    assert_eq!(resp.bytes().await.unwrap(), bytes);
    // By blob id too: the content type the blob's objects agree on.
    let resp = http.get(&blob_url).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert!(resp.headers().get("x-not-allowed").is_none());
    let resp = http
        .get(&by_object)
        .header("Range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.bytes().await.unwrap(), bytes[0..4]);
    let resp = http
        .get(format!(
            "{}/v1/blobs/by-object-id/{}",
            d.url,
            ObjectId([7; 32])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(reason(&json_of(resp).await), "OBJECT_NOT_FOUND");

    web_ready(&cluster, &d, &http, &floe, object_id, &bytes).await;

    // An empty blob, permanent.
    let resp = http
        .put(format!("{}/v1/blobs?permanent=true", d.url))
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let doc = json_of(resp).await;
    assert_eq!(doc["newlyCreated"]["blobObject"]["size"], 0, "{doc}");
    assert_eq!(doc["newlyCreated"]["blobObject"]["deletable"], false);
    let empty_id = doc["newlyCreated"]["blobObject"]["blobId"]
        .as_str()
        .unwrap();
    let resp = http
        .get(format!("{}/v1/blobs/{empty_id}", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.unwrap().is_empty());

    // The concurrency limit (1 store): a PUT whose body is still arriving holds the only slot,
    // so another PUT gets 429 with Retry-After, before its body is read.
    // The slow PUT must be the one holding the slot: if it was answered at once (the slot was
    // busy with an earlier store), open it again.
    let slow = loop {
        let mut slow = tokio::net::TcpStream::connect(d.addr).await.unwrap();
        slow.write_all(
            b"PUT /v1/blobs HTTP/1.1\r\nHost: floe\r\nContent-Length: 1000\r\n\r\n0123456789",
        )
        .await
        .unwrap();
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(300), slow.read(&mut buf)).await {
            Err(_) => break slow, // no answer: it holds the slot, waiting for its body
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let resp = http
            .put(format!("{}/v1/blobs", d.url))
            .body(vec![3u8; 100])
            .send()
            .await
            .unwrap();
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(resp.headers()["retry-after"], "1");
            assert_eq!(reason(&json_of(resp).await), "TOO_MANY_REQUESTS");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no 429 while the slot is held (got {})",
            resp.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(slow);

    // The OpenAPI document, as generated from the routes.
    let resp = http.get(format!("{}/v1/api", d.url)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), daemon::openapi_yaml());
    // Every documented operation is served: none falls through to the daemon's `no such
    // route`, whatever else it answers to a placeholder request.
    let doc = daemon::openapi();
    for (path, item) in &doc.paths.paths {
        let url = format!(
            "{}{}",
            d.url,
            path.replace("{blob_id}", "AAAA")
                .replace("{object_id}", "0x00")
        );
        let methods = [
            (item.get.is_some(), reqwest::Method::GET),
            (item.put.is_some(), reqwest::Method::PUT),
        ];
        for (_, method) in methods.into_iter().filter(|(documented, _)| *documented) {
            let resp = http.request(method.clone(), &url).send().await.unwrap();
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            assert!(
                !(status == StatusCode::NOT_FOUND && body.contains("no such route")),
                "{method} {path} is documented but not served"
            );
        }
    }
    let unknown = http
        .get(format!("{}/v1/nothing", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(unknown.text().await.unwrap().contains("no such route"));

    drop(http);
    d.stop.cancel();
    d.task.await.unwrap().unwrap();
    cluster.shutdown().await;
}

/// A publisher that requires tokens refuses, before reading the body and without spending
/// anything: no token, a malformed or badly signed token, an expired one, a token whose epoch
/// or size cap the request exceeds, and a token used a second time. A valid token stores once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adv_publisher_unauthenticated() {
    use floe_cli::daemon::auth::{JwtAuth, JwtOptions, Publisher};
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let auth = JwtAuth::new("0x5ec7e7", JwtOptions::default()).unwrap();
    let d = start_daemon_with(
        &cluster,
        DaemonOptions {
            publisher: Publisher::Authenticated(Arc::new(auth)),
            ..DaemonOptions::default()
        },
    )
    .await;
    let http = reqwest::Client::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sign = |key: &[u8], claims: Value| {
        encode(&Header::default(), &claims, &EncodingKey::from_secret(key)).unwrap()
    };
    let key = [0x5e, 0xc7, 0xe7];
    let user = floe_ledger_types::Address::of(&cluster.user.public());
    let balance = || async { cluster.ledger().account(&user).await.unwrap().balance };
    let put = |token: Option<String>, epochs: u32, body: Vec<u8>| {
        let mut req = http
            .put(format!("{}/v1/blobs?epochs={epochs}", d.url))
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let bytes = data(20_000, 31);
    let before = balance().await;
    let refused = [
        (None, 1, StatusCode::UNAUTHORIZED, "MISSING_TOKEN"),
        (
            Some("not.a.jwt".to_owned()),
            1,
            StatusCode::UNAUTHORIZED,
            "INVALID_TOKEN",
        ),
        (
            Some(sign(b"wrong key", json!({"exp": now + 60, "jti": "w"}))),
            1,
            StatusCode::UNAUTHORIZED,
            "INVALID_TOKEN",
        ),
        (
            Some(sign(&key, json!({"exp": now - 5, "jti": "x"}))),
            1,
            StatusCode::UNAUTHORIZED,
            "INVALID_TOKEN",
        ),
        (
            Some(sign(
                &key,
                json!({"exp": now + 60, "jti": "e", "max_epochs": 2}),
            )),
            3,
            StatusCode::FORBIDDEN,
            "TOKEN_EPOCHS_EXCEEDED",
        ),
        (
            Some(sign(
                &key,
                json!({"exp": now + 60, "jti": "s", "max_size": 1000}),
            )),
            1,
            StatusCode::FORBIDDEN,
            "TOKEN_SIZE_EXCEEDED",
        ),
    ];
    for (token, epochs, status, why) in refused {
        let resp = put(token, epochs, bytes.clone()).await.unwrap();
        assert_eq!(resp.status(), status, "{why}");
        assert_eq!(reason(&json_of(resp).await), why);
    }
    assert_eq!(
        balance().await,
        before,
        "nothing was spent on refused requests"
    );

    // A valid token stores once; its replay is refused and spends nothing.
    let good = sign(
        &key,
        json!({"exp": now + 60, "jti": "once", "max_epochs": 2, "max_size": 100_000}),
    );
    let resp = put(Some(good.clone()), 2, bytes.clone()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(json_of(resp).await["newlyCreated"].is_object());
    let after_store = balance().await;
    assert!(after_store < before, "the valid store paid");
    let resp = put(Some(good), 2, data(20_000, 32)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(reason(&json_of(resp).await), "TOKEN_REPLAYED");
    assert_eq!(balance().await, after_store, "the replay spent nothing");

    // Hammering without a token is rate-limited per client address, before any check.
    let limited = start_daemon_with(
        &cluster,
        DaemonOptions {
            publisher: Publisher::Authenticated(Arc::new(
                JwtAuth::new("0x5ec7e7", JwtOptions::default()).unwrap(),
            )),
            publisher_rate: Some(floe_cli::daemon::rate::Rate {
                per_minute: 6,
                burst: 2,
            }),
            ..DaemonOptions::default()
        },
    )
    .await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let resp = http
            .put(format!("{}/v1/blobs", limited.url))
            .body(vec![1u8; 10])
            .send()
            .await
            .unwrap();
        let retry = resp.headers().get("retry-after").cloned();
        seen.push((
            resp.status(),
            reason(&json_of(resp).await).to_owned(),
            retry,
        ));
    }
    assert_eq!(seen[0].0, StatusCode::UNAUTHORIZED);
    assert_eq!(seen[1].0, StatusCode::UNAUTHORIZED);
    assert_eq!(seen[2].0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(seen[2].1, "RATE_LIMITED");
    assert!(seen[2].2.is_some(), "Retry-After");
    assert_eq!(balance().await, after_store, "nothing spent");
    // A read over the aggregator's size limit is refused from the metadata.
    let resp = http
        .get(format!(
            "{}/v1/blobs/{}",
            limited.url,
            floe_client::blob_id_of(&bytes, cluster.genesis.n_shards)
                .unwrap()
                .blob_id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "no read limit here");
    limited.stop.cancel();
    limited.task.await.unwrap().unwrap();

    // An aggregator-only daemon stores nothing.
    let reader = start_daemon_with(
        &cluster,
        DaemonOptions {
            publisher: Publisher::Off,
            max_read_blob_size: Some(10_000),
            ..DaemonOptions::default()
        },
    )
    .await;
    let id = floe_client::blob_id_of(&bytes, cluster.genesis.n_shards)
        .unwrap()
        .blob_id;
    let resp = http
        .get(format!("{}/v1/blobs/{id}", reader.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reason(&json_of(resp).await), "BLOB_TOO_LARGE");
    let resp = http
        .put(format!("{}/v1/blobs", reader.url))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(reason(&json_of(resp).await), "PUBLISHER_DISABLED");
    reader.stop.cancel();
    reader.task.await.unwrap().unwrap();
    d.stop.cancel();
    d.task.await.unwrap().unwrap();
    cluster.shutdown().await;
}

/// Opens a GET of `path` from `addr` that reads the response head and then stops reading.
async fn stalled_get(addr: std::net::SocketAddr, path: &str) -> (tokio::net::TcpStream, usize) {
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: floe\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = vec![0u8; 4096];
    let n = stalled.read(&mut head).await.unwrap();
    let text = String::from_utf8_lossy(&head[..n]).into_owned();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    (stalled, n)
}

/// A reader that stops reading mid-body holds its read slot only until the stall timeout: the
/// daemon then drops the connection, and the slot (and the rows buffered for it) are free for
/// others. While the body is being sent the slot is held: a second read is refused with 429.
/// A client that takes its per-client share of reads is refused more (429), while another
/// address is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adv_aggregator_stalled_and_greedy_readers() {
    // 100 shards: blobs up to 146 MiB (12 shards take 3.5 MiB at most).
    let cluster = TestCluster::start(ClusterOptions {
        shards: 100,
        ..ClusterOptions::default()
    })
    .await;
    let client = Arc::new(cluster.client().await);
    // Larger than the loopback socket buffers, so a reader that stops reading blocks writes.
    let bytes = data(32 << 20, 41);
    let stored = client
        .store(
            &bytes,
            &floe_client::blobs::StoreOptions {
                epochs: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let blob_id = stored.blob_id();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let options = DaemonOptions {
        max_concurrent_reads: 1,
        ..DaemonOptions::default()
    };
    let task = tokio::spawn(daemon::serve_with_stall(
        listener,
        daemon::router(client, &options),
        stop.clone(),
        Duration::from_secs(2),
    ));
    let url = format!("http://{addr}/v1/blobs/{blob_id}");

    // The stalled reader: sends the request, reads the head and a few bytes, then nothing.
    let path = format!("/v1/blobs/{blob_id}");
    let (mut stalled, n) = stalled_get(addr, &path).await;

    // While its body is being sent, the only read slot is taken.
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    let resp = http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);

    // Once the stall timeout drops the stalled connection, reads are served again.
    let body = loop {
        let resp = http.get(&url).send().await.unwrap();
        if resp.status() == StatusCode::OK {
            break resp.bytes().await.unwrap();
        }
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the stalled reader still holds the read slot after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(body == bytes, "the next reader gets the blob byte-exact");

    // The stalled reader's connection was dropped: it never gets the whole body.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stalled.read_to_end(&mut rest)).await;
    assert!(
        n + rest.len() < bytes.len(),
        "the stalled reader got the whole body"
    );
    stop.cancel();
    task.await.unwrap().unwrap();

    // One read per client address: a second from 127.0.0.1 is refused, 127.0.0.2 is served.
    let options = DaemonOptions {
        max_reads_per_client: Some(1),
        ..DaemonOptions::default()
    };
    let d = start_daemon_with(&cluster, options).await;
    let (greedy, _) = stalled_get(d.addr, &path).await;
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap()
    };
    let url = format!("{}{path}", d.url);
    let resp = from([127, 0, 0, 1]).get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reason(&json_of(resp).await), "TOO_MANY_READS_FROM_CLIENT");
    let resp = from([127, 0, 0, 2]).get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.unwrap() == bytes);
    drop(greedy);
    d.stop.cancel();
    d.task.await.unwrap().unwrap();
    cluster.shutdown().await;
}
