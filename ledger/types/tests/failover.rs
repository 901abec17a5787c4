//! The client leaves a validator that stops answering: after a timed-out request, the next
//! request goes to the next validator (a validator cut off by a partition keeps its TCP
//! connections "open" and silent, so only a timeout shows it).

use std::time::Duration;

use floe_ledger_types::rpc::HealthResponse;
use floe_ledger_types::{BlockHash, ClientError, LedgerClient};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// Accepts connections and never answers, holding them open.
async fn black_hole() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    url
}

/// Answers every request with `health` as JSON.
async fn healthy(health: HealthResponse) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let body = serde_json::to_string(&health).unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(body.as_bytes()).await;
            });
        }
    });
    url
}

#[tokio::test]
async fn a_timed_out_validator_is_left_for_the_next_request() {
    let hole = black_hole().await;
    let good = healthy(HealthResponse {
        chain_id: "floe-test".into(),
        height: 7,
        block_hash: BlockHash([1; 32]),
        mempool: 0,
        validators: 2,
    })
    .await;
    let client = LedgerClient::new(vec![hole.clone(), good.clone()])
        .with_request_timeout(Duration::from_millis(300));
    assert_eq!(client.current_url(), Some(hole.as_str()));
    let first = client.health().await;
    assert!(matches!(first, Err(ClientError::Timeout)), "{first:?}");
    assert_eq!(
        client.current_url(),
        Some(good.as_str()),
        "the silent validator was left"
    );
    assert_eq!(client.health().await.unwrap().height, 7);
}
