//! What the daemon's integration tests share: a daemon over a cluster's client on a free
//! loopback port, the JSON of an answer, its error reason, and the publisher's balance.
//! Included by `#[path]` from each test file, so each uses only part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use floe_cli::daemon::{self, DaemonOptions};
use floe_common::Frost;
use floe_ledger_types::Address;
use floe_tests::TestCluster;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Serves `floe daemon`'s routes with `options` over a client of `cluster`'s user, until the
/// returned token is cancelled.
pub async fn serve(
    cluster: &TestCluster,
    options: &DaemonOptions,
) -> (SocketAddr, CancellationToken) {
    let client = Arc::new(cluster.client().await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(daemon::serve(
        listener,
        daemon::router(client, options),
        stop.clone(),
    ));
    (addr, stop)
}

/// An answer's body as JSON (panics with the text otherwise).
pub async fn json_of(resp: reqwest::Response) -> Value {
    let text = resp.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The `reason` of a Walrus-style error document.
pub fn reason(doc: &Value) -> &str {
    doc["error"]["details"][0]["reason"].as_str().unwrap_or("")
}

/// The balance of the account the daemon's publisher pays from.
pub async fn balance(cluster: &TestCluster) -> Frost {
    cluster
        .ledger()
        .account(&Address::of(&cluster.user.public()))
        .await
        .unwrap()
        .balance
}
