//! `floe daemon`'s publisher giving away (`send_object_to`) or sharing (`share=true`) the blob
//! objects it creates, on `PUT /v1/blobs` and `PUT /v1/quilts`, against a real cluster over
//! real sockets; and a publisher token that names the recipient (`adv_…`).

use std::sync::Arc;

use floe_cli::daemon::DaemonOptions;
use floe_cli::daemon::auth::{JwtAuth, JwtOptions, Publisher};
use floe_common::{Frost, KeyPair, ObjectId};
use floe_ledger_types::{Address, Object};
use floe_tests::{ClusterOptions, TestCluster, data};
use reqwest::StatusCode;
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[path = "support/daemon.rs"]
mod support;

use support::{balance, json_of, reason};

async fn start(cluster: &TestCluster, publisher: Publisher) -> (String, CancellationToken) {
    let options = DaemonOptions {
        publisher,
        ..DaemonOptions::default()
    };
    let (addr, stop) = support::serve(cluster, &options).await;
    (format!("http://{addr}"), stop)
}

async fn object(cluster: &TestCluster, id: &str) -> Object {
    let id: ObjectId = id.parse().unwrap();
    cluster.ledger().object(&id).await.unwrap().unwrap().object
}

fn recipient(seed: u8) -> Address {
    Address::of(&KeyPair::from_seed([seed; 32]).public())
}

const BOUNDARY: &str = "floe-post-store-5e1d";

fn quilt_body(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, data) in files {
        b.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        b.extend_from_slice(data);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn publisher_sends_and_shares_what_it_stores() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let (url, stop) = start(&cluster, Publisher::Open).await;
    let http = reqwest::Client::new();
    let to = recipient(77);
    let publisher = Address::of(&cluster.user.public());

    // A blob sent to another address: the answer says so and the ledger agrees.
    let bytes = data(5_000, 1);
    let resp = http
        .put(format!("{url}/v1/blobs?epochs=2&send_object_to=0x{to}"))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let doc = json_of(resp).await;
    let created = &doc["newlyCreated"];
    assert_eq!(created["sentTo"], to.to_string().as_str(), "{doc}");
    assert!(created.get("sharedBlobObject").is_none(), "{doc}");
    let id = created["blobObject"]["id"].as_str().unwrap().to_owned();
    let mut sent = vec![id.clone()];
    match object(&cluster, &id).await {
        Object::Blob(b) => {
            assert_eq!(b.owner, to);
            assert!(b.is_certified());
        }
        o => panic!("{o:?}"),
    }
    // The same bytes again: already certified, so no object is created, sent or shared.
    let resp = http
        .put(format!("{url}/v1/blobs?epochs=1&send_object_to={to}"))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    let doc = json_of(resp).await;
    assert!(doc["alreadyCertified"].is_object(), "{doc}");
    assert!(doc.to_string().find("sentTo").is_none(), "{doc}");

    // A shared blob: it keeps its id, has no owner and is read by object id like any blob.
    let shared_bytes = data(6_000, 2);
    let resp = http
        .put(format!("{url}/v1/blobs?epochs=2&share=true"))
        .body(shared_bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let doc = json_of(resp).await;
    let created = &doc["newlyCreated"];
    let id = created["blobObject"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["sharedBlobObject"], id.as_str(), "{doc}");
    match object(&cluster, &id).await {
        Object::SharedBlob(s) => {
            assert_eq!((s.blob.owner, s.funds), (Address::SHARED, Frost::ZERO));
        }
        o => panic!("{o:?}"),
    }
    let read = http
        .get(format!("{url}/v1/blobs/by-object-id/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.bytes().await.unwrap(), shared_bytes);

    // A quilt sent to another address.
    let to_quilt = recipient(78);
    let resp = http
        .put(format!(
            "{url}/v1/quilts?epochs=2&send_object_to={to_quilt}"
        ))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(quilt_body(&[("a.txt", b"alpha"), ("b.txt", b"beta")]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let doc = json_of(resp).await;
    let created = &doc["blobStoreResult"]["newlyCreated"];
    assert_eq!(created["sentTo"], to_quilt.to_string().as_str(), "{doc}");
    let id = created["blobObject"]["id"].as_str().unwrap();
    assert_eq!(object(&cluster, id).await.owner(), to_quilt);
    sent.push(id.to_owned());
    // Neither is the publisher's any more.
    let owned = cluster.ledger().account(&publisher).await.unwrap().objects;
    assert!(
        owned
            .iter()
            .all(|o| !sent.contains(&o.object_id.to_string()))
    );

    // Bad requests cost nothing: not an address, the shared-object address, both actions.
    let before = balance(&cluster).await;
    for (query, why) in [
        ("send_object_to=0x01".to_owned(), "INVALID_SEND_OBJECT_TO"),
        (
            format!("send_object_to={}", Address::SHARED),
            "INVALID_SEND_OBJECT_TO",
        ),
        (
            format!("send_object_to={to}&share=true"),
            "CONFLICTING_POST_STORE",
        ),
    ] {
        let resp = http
            .put(format!("{url}/v1/blobs?{query}"))
            .body(data(100, 9))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reason(&json_of(resp).await), why, "{query}");
    }
    assert_eq!(balance(&cluster).await, before);
    stop.cancel();
    cluster.shutdown().await;
}

/// A publisher token that names a recipient (`send_object_to` claim) stores only for a
/// request that sends the new blob object there: a request naming another address, or none,
/// is refused before its body is read and spends nothing; the matching one stores and sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adv_publisher_recipient_token() {
    use jsonwebtoken::{EncodingKey, Header, encode};

    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let auth = JwtAuth::new("0x5ec7e7", JwtOptions::default()).unwrap();
    let (url, stop) = start(&cluster, Publisher::Authenticated(Arc::new(auth))).await;
    let http = reqwest::Client::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (alice, mallory) = (recipient(81), recipient(82));
    let token = encode(
        &Header::default(),
        &json!({"exp": now + 120, "jti": "for-alice", "send_object_to": alice.to_string()}),
        &EncodingKey::from_secret(&[0x5e, 0xc7, 0xe7]),
    )
    .unwrap();
    let put = |query: String| {
        http.put(format!("{url}/v1/blobs?epochs=1{query}"))
            .bearer_auth(&token)
            .body(data(4_000, 5))
            .send()
    };
    let before = balance(&cluster).await;
    for query in [format!("&send_object_to={mallory}"), String::new()] {
        let resp = put(query.clone()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{query:?}");
        assert_eq!(reason(&json_of(resp).await), "TOKEN_RECIPIENT_MISMATCH");
    }
    assert_eq!(balance(&cluster).await, before, "refusals spent nothing");
    let resp = put(format!("&send_object_to=0x{alice}")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let doc = json_of(resp).await;
    let id = doc["newlyCreated"]["blobObject"]["id"].as_str().unwrap();
    assert_eq!(object(&cluster, id).await.owner(), alice);
    stop.cancel();
    cluster.shutdown().await;
}
