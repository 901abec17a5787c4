//! The RPC server and typed client against a real ledger on RocksDB, over real sockets.

mod support;

use std::time::Duration;

use floe_common::{BlobId, Frost};
use floe_ledger::store::{EventCursor, TxStatus};
use floe_ledger::{ClientError, Event, LedgerClient, TxKind};
use floe_ledger_types::ResultsError;
use floe_ledger_types::cert::CertError;
use floe_ledger_types::client::verify_record;
use floe_ledger_types::rpc::{AdmissionStatus, ErrorBody, SubmitResponse};
use support::*;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);

fn transfer(to: u8, amount: u64) -> TxKind {
    TxKind::Transfer {
        to: floe_ledger::Address([to; 32]),
        amount: Frost(amount),
    }
}

/// Posts raw bytes to `/v1/transactions` and returns (status, error body or None).
async fn post_raw(url: &str, content_type: &str, body: Vec<u8>) -> (u16, Option<ErrorBody>) {
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/transactions"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    (status, serde_json::from_slice(&bytes).ok())
}

async fn wait_until(mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "condition not met");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn submit_bcs_and_json_then_commit() {
    let node = Node::start_alone().await;
    let client = node.client();
    let user = user_key(0);

    let tx0 = signed(&user, 0, transfer(9, 1_000));
    let d0 = client.submit(&tx0).await.unwrap();
    assert_eq!(d0, tx0.digest());
    // Resubmitting is a duplicate, not an error.
    let (status, _) = post_raw(&node.url, "application/octet-stream", tx0.encode()).await;
    assert_eq!(status, 200);

    let tx1 = signed(&user, 1, transfer(9, 2_000));
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/transactions", node.url))
        .json(&tx1)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let r: SubmitResponse = resp.json().await.unwrap();
    assert_eq!(r.digest, tx1.digest());
    assert_eq!(r.admission, AdmissionStatus::Added);
    assert_eq!(client.health().await.unwrap().mempool, 2);

    // Not committed yet: 404 with pending = true.
    assert!(client.transaction(&d0, None).await.unwrap().is_none());
    let resp = reqwest::get(format!("{}/v1/transactions/{d0}", node.url))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let e: ErrorBody = resp.json().await.unwrap();
    assert_eq!(e.code, "unknown_transaction");
    assert_eq!(e.pending, Some(true));

    let record = make_block(&node.ledger);
    assert_eq!(record.outcomes.len(), 2);
    for (i, d) in [d0, tx1.digest()].iter().enumerate() {
        let c = client
            .transaction(d, None)
            .await
            .unwrap()
            .expect("committed");
        assert_eq!((c.height, c.index), (1, i as u32));
        match c.outcome.status {
            TxStatus::Success(effects) => {
                assert_eq!(effects.digest, *d);
                assert_eq!(effects.fee_charged, MIN_FEE);
                assert!(matches!(effects.events[0], Event::Transfer { .. }));
            }
            TxStatus::Failure(e) => panic!("failed: {e}"),
        }
    }
    let acct = client.account(&addr(&user)).await.unwrap();
    assert_eq!(acct.nonce, 2);
    assert_eq!(acct.balance, Frost(FUNDS.0 - 3_000 - 2 * MIN_FEE.0));
    let payee = client
        .account(&floe_ledger::Address([9; 32]))
        .await
        .unwrap();
    assert_eq!(payee.balance, Frost(3_000));
    // Unknown account: zero.
    let nobody = client
        .account(&floe_ledger::Address([77; 32]))
        .await
        .unwrap();
    assert_eq!((nobody.balance, nobody.nonce), (Frost::ZERO, 0));
    assert!(nobody.objects.is_empty());

    // Replaying a used nonce: 409 nonce_too_low.
    let replay = signed(&user, 0, transfer(9, 5));
    let err = client.submit(&replay).await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert_eq!(err.code(), Some("nonce_too_low"));
    // Resubmitting a committed transaction with wait returns its status.
    let c = client.submit_and_wait(&tx0, WAIT).await.unwrap();
    assert_eq!(c.outcome.digest, d0);
    node.stop().await;
}

#[tokio::test]
async fn insufficient_balance_is_a_committed_failure_that_pays_its_fee() {
    let node = Node::start_alone().await;
    let client = node.client();
    let user = user_key(0);
    let tx = signed(&user, 0, transfer(9, FUNDS.0 + 1));
    let waiter = {
        let url = node.url.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            LedgerClient::new(vec![url])
                .submit_and_wait(&tx, WAIT)
                .await
        })
    };
    let ledger = node.ledger.clone();
    wait_until(|| ledger.mempool_len() == 1).await;
    make_block(&node.ledger);
    let c = waiter.await.unwrap().unwrap();
    match c.outcome.status {
        TxStatus::Failure(e) => assert_eq!(e.code(), "insufficient_balance"),
        TxStatus::Success(_) => panic!("overdraft succeeded"),
    }
    // JSON shape: failure {code, message}.
    let v: serde_json::Value =
        reqwest::get(format!("{}/v1/transactions/{}", node.url, tx.digest()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(v["status"]["failure"]["code"], "insufficient_balance");
    assert!(v["status"]["failure"]["message"].is_string());
    assert_eq!(v["status"]["failure"]["fee_charged"], MIN_FEE.0);
    // It failed in execution: it paid its fee and consumed its nonce.
    let acct = client.account(&addr(&user)).await.unwrap();
    assert_eq!((acct.balance, acct.nonce), (Frost(FUNDS.0 - MIN_FEE.0), 1));
    // So it cannot be submitted again.
    let err = client.submit(&tx).await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert_eq!(err.code(), Some("nonce_too_low"));
    assert_eq!(node.ledger.mempool_len(), 0);
    node.stop().await;
}

#[tokio::test]
async fn rejected_and_malformed_submissions() {
    let node = Node::start_alone().await;
    let client = node.client();
    let user = user_key(0);

    let mut bad = signed(&user, 0, transfer(9, 1));
    bad.signature = signed(&user, 0, transfer(9, 2)).signature;
    let err = client.submit(&bad).await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(422), Some("bad_signature"))
    );

    let mut wrong_sender = signed(&user, 0, transfer(9, 1));
    wrong_sender.public_key = user_key(1).public();
    let err = client.submit(&wrong_sender).await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(422), Some("wrong_sender"))
    );

    // Two different transactions with one nonce: 409 nonce_taken.
    client
        .submit(&signed(&user, 0, transfer(9, 1)))
        .await
        .unwrap();
    let err = client
        .submit(&signed(&user, 0, transfer(9, 2)))
        .await
        .unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(409), Some("nonce_taken")));

    let (status, body) = post_raw(&node.url, "application/octet-stream", vec![0; 2 << 20]).await;
    assert_eq!(status, 413);
    assert_eq!(body.unwrap().code, "body_too_large");
    let (status, body) = post_raw(&node.url, "application/octet-stream", vec![1, 2, 3]).await;
    assert_eq!(status, 400);
    assert_eq!(body.unwrap().code, "malformed");
    let (status, body) = post_raw(&node.url, "application/json", b"{\"tx\": 1".to_vec()).await;
    assert_eq!(status, 400);
    assert_eq!(body.unwrap().code, "malformed");
    let (status, body) = post_raw(&node.url, "text/plain", b"hello".to_vec()).await;
    assert_eq!(status, 415);
    assert_eq!(body.unwrap().code, "unsupported_media_type");
    // A malformed batch.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/transactions/batch", node.url))
        .body(vec![0xff; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);

    // Malformed path parameters and unknown routes.
    for (path, status, code) in [
        ("/v1/accounts/xyz", 400, "invalid_address"),
        ("/v1/transactions/00", 400, "invalid_digest"),
        ("/v1/blocks/abc", 400, "invalid_height"),
        ("/v1/events?after=5", 400, "invalid_cursor"),
        ("/v1/events?limit=-1", 400, "bad_request"),
        ("/v1/nope", 404, "not_found"),
        ("/v1/blocks/1", 404, "unknown_block"),
        ("/v1/blocks/latest", 404, "unknown_block"),
    ] {
        let resp = reqwest::get(format!("{}{path}", node.url)).await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{path}");
        let e: ErrorBody = resp.json().await.unwrap();
        assert_eq!(e.code, code, "{path}");
    }

    // A wait that runs out.
    let err = client
        .submit_and_wait(
            &signed(&user, 1, transfer(9, 1)),
            Duration::from_millis(100),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Timeout), "{err:?}");
    node.stop().await;
}

#[tokio::test]
async fn chain_queries() {
    let node = Node::start_alone().await;
    let client = node.client();
    let g = genesis();

    let blob = BlobId([5; 32]);
    assert!(client.blob_status(&blob).await.unwrap().is_none());
    let resp = reqwest::get(format!("{}/v1/blobs/{blob}", node.url))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(resp.json::<ErrorBody>().await.unwrap().code, "unknown_blob");

    let nodes = client.nodes().await.unwrap();
    assert_eq!(nodes.len(), 2);
    let one = client.node(&nodes[0].node.node_id).await.unwrap().unwrap();
    assert_eq!(one, nodes[0]);
    assert!(
        client
            .node(&floe_common::NodeId([1; 32]))
            .await
            .unwrap()
            .is_none()
    );

    let committee = client.committee().await.unwrap();
    assert_eq!(committee.n_shards, 10);
    assert_eq!(committee.members.len(), 2);
    let shards: usize = committee.members.iter().map(|m| m.shards.len()).sum();
    assert_eq!(shards, 10);
    assert!(
        committee
            .members
            .iter()
            .all(|m| m.name.starts_with("node-"))
    );
    assert!(
        committee
            .members
            .iter()
            .all(|m| m.weight as usize == m.shards.len())
    );

    let sys = client.system().await.unwrap();
    assert_eq!(sys.chain_id, CHAIN);
    assert_eq!(sys.n_shards, 10);
    assert_eq!(sys.tip_height, 0);
    assert_eq!(sys.min_fee, MIN_FEE);

    let validators = client.validators().await.unwrap();
    assert_eq!(validators.validators().len(), 4);
    assert_eq!(client.genesis().await.unwrap(), g);
    let health = client.health().await.unwrap();
    assert_eq!((health.chain_id.as_str(), health.height), (CHAIN, 0));
    assert_eq!(health.validators, 4);

    // Objects: the genesis stake is owned by user 0.
    let acct = client.account(&addr(&user_key(0))).await.unwrap();
    assert_eq!(acct.objects.len(), 2);
    assert!(acct.objects.iter().all(|o| o.type_name == "staked_wal"));
    let obj = client.object(&acct.objects[0].object_id).await.unwrap();
    assert_eq!(obj.as_ref(), Some(&acct.objects[0]));
    assert!(
        client
            .object(&floe_common::ObjectId([3; 32]))
            .await
            .unwrap()
            .is_none()
    );
    node.stop().await;
}

#[tokio::test]
async fn events_long_poll_and_cursor() {
    let node = Node::start_alone().await;
    let client = node.client();
    let user = user_key(0);

    let page = client.events(None, 100, None).await.unwrap();
    assert!(page.events.is_empty());
    let poll = {
        let url = node.url.clone();
        tokio::spawn(async move {
            LedgerClient::new(vec![url])
                .events(None, 100, Some(WAIT))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    client
        .submit(&signed(&user, 0, TxKind::Faucet { amount: Frost(7) }))
        .await
        .unwrap();
    client
        .submit(&signed(&user, 1, transfer(9, 3)))
        .await
        .unwrap();
    make_block(&node.ledger);
    let page = poll.await.unwrap().unwrap();
    assert_eq!(page.events.len(), 2);
    assert!(matches!(page.events[0].event, Event::Minted { .. }));
    assert!(matches!(page.events[1].event, Event::Transfer { .. }));
    assert_eq!(
        page.next,
        EventCursor {
            height: 1,
            index: 1
        }
    );

    // Paging with limit 1.
    let first = client.events(None, 1, None).await.unwrap();
    assert_eq!(first.events.len(), 1);
    let second = client.events(Some(first.next), 1, None).await.unwrap();
    assert_eq!(second.events, page.events[1..]);

    // Nothing after `next`: an empty page keeps the cursor.
    let empty = client
        .events(Some(page.next), 100, Some(Duration::from_millis(100)))
        .await
        .unwrap();
    assert!(empty.events.is_empty());
    assert_eq!(empty.next, page.next);

    client
        .submit(&signed(&user, 2, transfer(8, 1)))
        .await
        .unwrap();
    make_block(&node.ledger);
    let later = client
        .events(Some(page.next), 100, Some(WAIT))
        .await
        .unwrap();
    assert_eq!(later.events.len(), 1);
    assert_eq!(
        later.next,
        EventCursor {
            height: 2,
            index: 0
        }
    );
    // The cursor's text form.
    let raw: serde_json::Value = reqwest::get(format!("{}/v1/events?after=1:0", node.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["next"], "2:0");
    assert_eq!(raw["events"].as_array().unwrap().len(), 2);
    node.stop().await;
}

#[tokio::test]
async fn transaction_long_poll() {
    let node = Node::start_alone().await;
    let client = node.client();
    let tx = signed(&user_key(0), 0, transfer(9, 1));
    let digest = client.submit(&tx).await.unwrap();
    let poll = {
        let url = node.url.clone();
        tokio::spawn(async move {
            LedgerClient::new(vec![url])
                .transaction(&digest, Some(WAIT))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    make_block(&node.ledger);
    let c = poll.await.unwrap().unwrap().expect("committed");
    assert_eq!(c.outcome.digest, digest);
    // An unknown transaction after a short wait.
    let other = signed(&user_key(0), 5, transfer(9, 1)).digest();
    assert!(
        client
            .transaction(&other, Some(Duration::from_millis(50)))
            .await
            .unwrap()
            .is_none()
    );
    node.stop().await;
}

/// A follower's request for the next height is answered when that block commits; a height
/// further ahead, or one asked without a wait, is answered at once with "not found".
#[tokio::test]
async fn block_long_poll() {
    let node = Node::start_alone().await;
    let client = node.client();
    let validators = client.validators().await.unwrap();
    let poll = {
        let (url, validators) = (node.url.clone(), validators.clone());
        tokio::spawn(async move {
            LedgerClient::new(vec![url])
                .verified_block_wait(1, CHAIN, &validators, WAIT)
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!poll.is_finished(), "height 1 is not committed yet");
    client
        .submit(&signed(&user_key(0), 0, transfer(9, 1)))
        .await
        .unwrap();
    let committed = make_block(&node.ledger);
    let got = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("answered when the block committed")
        .unwrap()
        .unwrap();
    assert_eq!(got, Some(committed));
    let started = std::time::Instant::now();
    assert!(
        client
            .verified_block_wait(5, CHAIN, &validators, WAIT)
            .await
            .unwrap()
            .is_none()
    );
    assert!(client.block(2).await.unwrap().is_none());
    assert!(
        started.elapsed() < WAIT / 2,
        "only the next height is waited for"
    );
    node.stop().await;
}

#[tokio::test]
async fn verified_blocks() {
    let node = Node::start_alone().await;
    let client = node.client();
    client
        .submit(&signed(&user_key(0), 0, transfer(9, 1)))
        .await
        .unwrap();
    let committed = make_block(&node.ledger);
    let validators = client.validators().await.unwrap();
    assert_eq!(&validators, node.ledger.validators());

    let record = client
        .verified_block(1, CHAIN, &validators)
        .await
        .unwrap()
        .expect("block 1");
    assert_eq!(record, committed);
    assert_eq!(
        client.latest_block().await.unwrap(),
        Some(committed.clone())
    );
    assert!(client.block(2).await.unwrap().is_none());
    // JSON form.
    let v: serde_json::Value = reqwest::get(format!("{}/v1/blocks/1", node.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["block"]["header"]["height"], 1);
    assert_eq!(v["outcomes"].as_array().unwrap().len(), 1);

    // Only 2 of 4 precommits.
    let mut weak = record.clone();
    weak.certificate.signatures.truncate(2);
    assert!(matches!(
        verify_record(&weak, 1, CHAIN, &validators),
        Err(CertError::NotEnoughPower {
            signed: 2,
            total: 4
        })
    ));
    // Transactions swapped under a good header and certificate.
    let mut swapped = record.clone();
    swapped.block.txs.clear();
    assert!(matches!(
        verify_record(&swapped, 1, CHAIN, &validators),
        Err(CertError::TxRoot)
    ));
    // A header changed under a good certificate.
    let mut forged = record.clone();
    forged.block.header.timestamp_ms += 1;
    assert!(matches!(
        verify_record(&forged, 1, CHAIN, &validators),
        Err(CertError::WrongBlock { .. })
    ));
    // A certificate with a signature from outside the set.
    let mut outsider = record.clone();
    outsider.certificate = certificate(&record.block, &[0, 1, 2]);
    outsider.certificate.signatures[2].validator =
        floe_ledger::ValidatorAddress::of(&user_key(3).public());
    assert!(matches!(
        verify_record(&outsider, 1, CHAIN, &validators),
        Err(CertError::UnknownValidator(_))
    ));
    // Another chain id.
    assert!(verify_record(&record, 1, "other-chain", &validators).is_err());
    // Asked for height 2, got height 1.
    assert!(matches!(
        verify_record(&record, 2, CHAIN, &validators),
        Err(CertError::WrongHeight { .. })
    ));
    node.stop().await;
}

#[tokio::test]
async fn results_are_proven_by_the_next_header() {
    let node = Node::start_alone().await;
    let client = node.client();
    client
        .submit(&signed(&user_key(0), 0, transfer(9, 1)))
        .await
        .unwrap();
    let record = make_block(&node.ledger);
    let validators = node.ledger.validators().clone();
    // Block 2 is not committed: block 1's results cannot be proven yet.
    assert_eq!(
        client.proven_block(1, CHAIN, &validators).await.unwrap(),
        None
    );
    let next = make_block(&node.ledger);
    let proven = client
        .proven_block(1, CHAIN, &validators)
        .await
        .unwrap()
        .expect("proven");
    assert_eq!(proven, record);
    record.prove_results(&next.block.header).unwrap();

    // Every part of the results is bound: an outcome's status, its events, the block
    // events, the changes' digest and the stated app hash.
    let TxStatus::Success(effects) = &record.outcomes[0].status else {
        panic!("the transfer succeeds")
    };
    assert!(!effects.events.is_empty());
    let mut failed = record.clone();
    failed.outcomes[0].status = TxStatus::Failure(floe_ledger::TxFailure::refused(
        floe_ledger::TxError::FaucetDisabled,
    ));
    let mut no_events = record.clone();
    if let TxStatus::Success(e) = &mut no_events.outcomes[0].status {
        e.events.clear();
    }
    let mut extra_system_event = record.clone();
    extra_system_event
        .system_events
        .push(Event::Epoch(floe_ledger::EpochEvent::SyncDone {
            epoch: floe_common::Epoch(7),
        }));
    let mut changes = record.clone();
    changes.changes_digest.0[0] ^= 1;
    let mut app_hash = record.clone();
    app_hash.app_hash.0[0] ^= 1;
    for (what, forged) in [
        ("status", failed),
        ("events", no_events),
        ("block events", extra_system_event),
        ("changes", changes),
        ("app hash", app_hash),
    ] {
        assert_eq!(
            forged.prove_results(&next.block.header),
            Err(ResultsError::Mismatch(1)),
            "{what}"
        );
    }
    // A header that is not the next one proves nothing.
    let later = make_block(&node.ledger);
    assert!(matches!(
        record.prove_results(&later.block.header),
        Err(ResultsError::NotNext { height: 1, .. })
    ));
    node.stop().await;
}

#[tokio::test]
async fn client_fails_over_to_the_next_url() {
    let node = Node::start_alone().await;
    // Nothing listens on a freshly closed port.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let client = LedgerClient::new(vec![dead.clone(), node.url.clone()]);
    assert_eq!(client.health().await.unwrap().chain_id, CHAIN);
    let only_dead = LedgerClient::new(vec![dead]);
    assert!(matches!(
        only_dead.health().await,
        Err(ClientError::Transport(_))
    ));
    node.stop().await;
}

#[tokio::test]
async fn transactions_are_forwarded_to_peers() {
    let (mut a, la) = Node::bind().await;
    let (mut b, lb) = Node::bind().await;
    a.start(la, vec![b.url.clone()]);
    b.start(lb, vec![a.url.clone()]);
    let user = user_key(0);

    let tx = signed(&user, 0, transfer(9, 1));
    a.client().submit(&tx).await.unwrap();
    let lb = b.ledger.clone();
    wait_until(|| lb.mempool_len() == 1).await;
    assert!(b.ledger.is_pending(&tx.digest()));

    // A batch submitted to B reaches A.
    let batch = vec![
        signed(&user, 1, transfer(9, 1)),
        signed(&user, 2, transfer(9, 1)),
        {
            let mut bad = signed(&user, 3, transfer(9, 1));
            bad.signature = tx.signature;
            bad
        },
    ];
    let results = b.client().submit_batch(&batch).await.unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].admission, Some(AdmissionStatus::Added));
    assert_eq!(results[2].error.as_ref().unwrap().code, "bad_signature");
    let la = a.ledger.clone();
    wait_until(|| la.mempool_len() == 3).await;

    // A commits; the next block made on B from its own mempool agrees.
    let ra = make_block(&a.ledger);
    let rb = make_block(&b.ledger);
    assert_eq!(ra.app_hash, rb.app_hash);
    assert_eq!(ra.outcomes.len(), 3);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn shutdown_ends_long_polls() {
    let node = Node::start_alone().await;
    let poll = {
        let url = node.url.clone();
        tokio::spawn(async move {
            LedgerClient::new(vec![url])
                .events(None, 10, Some(Duration::from_secs(100)))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    node.stop().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    // The poll got its (empty) answer when the server shut down.
    let page = poll.await.unwrap().unwrap();
    assert!(page.events.is_empty());
}

#[tokio::test]
async fn system_reports_epoch_timing_capacity_and_proposals() {
    let node = Node::start_alone().await;
    let client = node.client();
    let sys = client.system().await.unwrap();
    assert_eq!(sys.epoch_state, "normal");
    assert_eq!(sys.sync_weight, None);
    assert_eq!(sys.epoch_start_ms, 1_000_000);
    assert_eq!(sys.mid_epoch_ms, 1_030_000);
    assert_eq!(sys.next_epoch_at_ms, 1_060_000);
    assert_eq!(sys.next_epoch_duration_ms, sys.epoch_duration_ms);
    assert!(sys.capacity > 0);
    assert_eq!((sys.capacity_used, sys.escrow), (0, Frost::ZERO));
    assert_eq!(sys.total_staked, Frost(2_000_000_000));

    let user = user_key(0);
    client
        .submit(&signed(
            &user,
            0,
            TxKind::ReserveSpace {
                encoded_size: 3 << 20,
                epochs_ahead: 2,
            },
        ))
        .await
        .unwrap();
    make_block(&node.ledger);
    // A pending stake (pool maps keyed by epoch) survives the flattened JSON of `/v1/nodes`.
    let node_id = client.nodes().await.unwrap()[0].node.node_id;
    client
        .submit(&signed(
            &user,
            1,
            TxKind::Stake {
                node: node_id,
                amount: Frost(5),
            },
        ))
        .await
        .unwrap();
    make_block(&node.ledger);
    let n = client.node(&node_id).await.unwrap().unwrap();
    assert_eq!(
        n.node.pool.pending_stake.values().map(|f| f.0).sum::<u64>(),
        5
    );
    let sys = client.system().await.unwrap();
    assert_eq!(sys.capacity_used, 3 << 20);
    assert_eq!(sys.escrow, Frost(sys.storage_price.0 * 3 * 2));

    // Committee members carry stake and commission; the epoch query finds the current one.
    let c = client
        .committee_at(floe_common::Epoch(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.role, floe_ledger_types::rpc::CommitteeRole::Current);
    let stakes: u64 = c.members.iter().map(|m| m.stake.0).sum();
    assert_eq!(stakes, 2_000_000_005);
    assert!(c.members.iter().all(|m| m.commission_bps == 500));
    assert_eq!(c, client.committee().await.unwrap());
    assert!(
        client
            .committee_at(floe_common::Epoch(1))
            .await
            .unwrap()
            .is_none()
    );
    assert!(client.proposals().await.unwrap().is_empty());
    assert!(client.proposal(0).await.unwrap().is_none());
    node.stop().await;
}

/// The identity public key: a small-order point.
const IDENTITY_KEY: [u8; 32] = {
    let mut k = [0u8; 32];
    k[0] = 1;
    k
};

/// A "signature" under the identity key that satisfies the plain batch equation for any
/// message: R = B (the base point), s = 1.
fn identity_forgery() -> floe_common::Signature {
    let mut s = [0u8; 64];
    s[..32].copy_from_slice(&[
        0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
        0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
        0x66, 0x66,
    ]);
    s[32] = 1;
    floe_common::Signature(s)
}

/// A weak (small-order) key can neither spend nor register: a forged transfer from the
/// identity key's address is refused even inside a batch (where the plain batch equation would
/// accept it), and a node cannot register with that key.
#[tokio::test]
async fn adv_weak_key_refused() {
    let node = Node::start_alone().await;
    let client = node.client();
    let user = user_key(0);
    let weak = floe_common::PublicKey(IDENTITY_KEY);
    let weak_addr = floe_ledger::Address::of(&weak);
    // Someone funds the weak key's address.
    client
        .submit(&signed(
            &user,
            0,
            TxKind::Transfer {
                to: weak_addr,
                amount: Frost(1_000_000),
            },
        ))
        .await
        .unwrap();
    make_block(&node.ledger);
    assert_eq!(
        client.account(&weak_addr).await.unwrap().balance,
        Frost(1_000_000)
    );

    // The forgery, batched with an honest transaction.
    let forged = floe_ledger::SignedTransaction {
        tx: floe_ledger::Transaction {
            sender: weak_addr,
            nonce: 0,
            fee: MIN_FEE,
            kind: transfer(9, 500_000),
        },
        public_key: weak,
        signature: identity_forgery(),
    };
    let honest = signed(&user, 1, transfer(8, 1));
    let items = client.submit_batch(&[honest, forged]).await.unwrap();
    assert!(
        items[0].error.is_none(),
        "the honest transaction is admitted"
    );
    let refusal = items[1].error.as_ref().expect("the forgery is refused");
    assert_eq!(refusal.code, "bad_signature", "{refusal:?}");
    make_block(&node.ledger);
    assert_eq!(
        client.account(&weak_addr).await.unwrap().balance,
        Frost(1_000_000),
        "nothing was spent from the weak key's address"
    );
    assert_eq!(
        client
            .account(&floe_ledger::Address([9; 32]))
            .await
            .unwrap()
            .balance,
        Frost(0)
    );

    // A node cannot register with the weak key.
    let register = signed(
        &user,
        2,
        TxKind::RegisterNode {
            name: "weak".into(),
            public_key: weak,
            network_address: "/ip4/127.0.0.1/tcp/1".into(),
            http_address: "127.0.0.1:1".into(),
            commission_bps: 0,
            storage_price_vote: Frost(1),
            write_price_vote: Frost(1),
            capacity_vote: 1 << 30,
        },
    );
    let digest = client.submit(&register).await.unwrap();
    make_block(&node.ledger);
    let committed = client.transaction(&digest, None).await.unwrap().unwrap();
    match committed.outcome.status {
        TxStatus::Failure(e) => assert_eq!(e.code(), "invalid_public_key", "{e}"),
        TxStatus::Success(_) => panic!("a node registered with a weak key"),
    }
}

/// One account owns 100,000 objects and a client holds 1,000 long polls open while others
/// fetch that account over and over. Long polls beyond the per-client limit are refused at
/// once (`429`), the account comes a page at a time from the owner index, and health,
/// submission and block fetches stay under a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adv_rpc_abuse() {
    const OBJECTS: u64 = 100_000;
    const BLOCK: u64 = 10_000;
    let (mut node, listener) = Node::bind_with(floe_ledger::mempool::MempoolConfig {
        max_per_sender: OBJECTS as usize,
        ..Default::default()
    })
    .await;
    node.start(listener, Vec::new());
    let owner = user_key(0);
    let genesis_objects = node
        .client()
        .account_objects(&addr(&owner))
        .await
        .unwrap()
        .len();
    let reserve = TxKind::ReserveSpace {
        encoded_size: 1,
        epochs_ahead: 1,
    };
    for first in (0..OBJECTS).step_by(BLOCK as usize) {
        let txs: Vec<_> = (first..first + BLOCK)
            .map(|n| signed(&owner, n, reserve.clone()))
            .collect();
        for r in node.ledger.submit(&txs) {
            r.expect("admitted");
        }
        while node.ledger.mempool_len() > 0 {
            let record = make_block(&node.ledger);
            let ok = |o: &floe_ledger::store::TxOutcome| matches!(o.status, TxStatus::Success(_));
            assert!(record.outcomes.iter().all(ok));
        }
    }
    let client = node.client();
    let page = client.account(&addr(&owner)).await.unwrap();
    assert_eq!(page.objects.len(), 1_000);
    assert!(page.next_cursor.is_some());

    let http = reqwest::Client::new();
    let stop = CancellationToken::new();
    // 1,000 long polls for a transaction that never commits.
    let polls: Vec<_> = (0..1_000u32)
        .map(|i| {
            let url = format!(
                "{}/v1/transactions/{}?wait_ms=60000",
                node.url,
                floe_ledger::TxDigest([i as u8; 32])
            );
            let http = http.clone();
            tokio::spawn(async move { http.get(url).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    // Readers of the big account, as fast as they can.
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (http, stop) = (http.clone(), stop.clone());
            let url = format!("{}/v1/accounts/{}", node.url, addr(&owner));
            tokio::spawn(async move {
                let mut reads = 0u64;
                while !stop.is_cancelled() {
                    let r = http.get(&url).send().await.unwrap();
                    assert!(r.status().is_success());
                    r.bytes().await.unwrap();
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut slowest = Duration::ZERO;
    for n in 0..5u64 {
        let t = std::time::Instant::now();
        client.health().await.unwrap();
        client
            .submit(&signed(&owner, OBJECTS + n, transfer(9, 1)))
            .await
            .unwrap();
        assert!(client.block(1).await.unwrap().is_some());
        slowest = slowest.max(t.elapsed());
        make_block(&node.ledger);
    }
    stop.cancel();
    let mut reads = 0;
    for r in readers {
        reads += r.await.unwrap();
    }
    // The polls still waiting are the admitted ones; the refused ones answered at once.
    let mut refused = 0;
    let mut waiting = 0;
    for p in polls {
        if p.is_finished() {
            if p.await.unwrap().unwrap() == 429 {
                refused += 1;
            }
        } else {
            waiting += 1;
            p.abort();
        }
    }
    eprintln!(
        "slowest health+submit+block round {slowest:?}; {reads} account reads; \
         {refused} long polls refused, {waiting} held"
    );
    assert!(waiting <= 64, "{waiting} long polls held for one client");
    assert!(refused >= 900, "{refused} long polls refused");
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    // Every object is still listed, page by page.
    let all = client.account_objects(&addr(&owner)).await.unwrap();
    assert_eq!(all.len(), OBJECTS as usize + genesis_objects);
    node.stop().await;
}

/// `GET /metrics`: height, block interval, finality, outcomes, the pool and RPC answers.
#[tokio::test]
async fn metrics_count_blocks_outcomes_and_requests() {
    let node = Node::start_alone().await;
    let client = node.client();
    let value = |text: &str, series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    let scrape = || async {
        reqwest::get(format!("{}/metrics", node.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    make_block(&node.ledger);
    let user = user_key(0);
    client
        .submit(&signed(&user, 0, transfer(9, 5)))
        .await
        .unwrap();
    client
        .submit(&signed(&user, 1, transfer(9, FUNDS.0 * 2)))
        .await
        .unwrap();
    let pending = scrape().await;
    assert_eq!(value(&pending, "floe_ledger_mempool_transactions"), 2.0);
    make_block(&node.ledger);
    let text = scrape().await;
    assert_eq!(value(&text, "floe_ledger_height"), 2.0);
    assert_eq!(value(&text, "floe_ledger_mempool_transactions"), 0.0);
    assert_eq!(
        value(&text, "floe_ledger_transactions_total{outcome=\"success\"}"),
        1.0
    );
    assert_eq!(
        value(&text, "floe_ledger_transactions_total{outcome=\"failed\"}"),
        1.0
    );
    assert_eq!(value(&text, "floe_ledger_finality_seconds_count"), 2.0);
    assert_eq!(
        value(&text, "floe_ledger_block_interval_seconds_count"),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "floe_ledger_rpc_requests_total{route=\"/v1/transactions\",status=\"200\"}"
        ),
        2.0
    );
    assert!(text.contains("floe_ledger_rpc_request_seconds_bucket{"));
    node.stop().await;
}

#[tokio::test]
async fn adv_challenge_queries_are_refused() {
    let node = Node::start_alone().await;
    let client = node.client();
    make_block(&node.ledger);
    // Epoch 0 has no round: none to show, no blob to rank.
    let rounds = client.challenges().await.unwrap();
    assert!(rounds.current.is_none() && rounds.last.is_none());
    let err = client.challenge_blobs(&[0]).await.unwrap_err();
    assert_eq!(err.code(), Some("no_challenges"), "{err}");
    // Malformed or oversized rank lists are refused before anything is read.
    let get = |q: String| {
        let url = format!("{}/v1/challenges/blobs{q}", node.url);
        async move {
            let resp = reqwest::get(url).await.unwrap();
            let status = resp.status().as_u16();
            let body: Option<ErrorBody> = serde_json::from_slice(&resp.bytes().await.unwrap()).ok();
            (status, body.map(|b| b.code))
        }
    };
    let many: Vec<String> = (0..65).map(|i| i.to_string()).collect();
    for q in [
        "?ranks=".to_owned(),
        "?ranks=1,x".to_owned(),
        "?ranks=-1".to_owned(),
        "?ranks=99999999999999999999999".to_owned(),
        format!("?ranks={}", many.join(",")),
        "?ranks=1&extra=2".to_owned(),
        String::new(),
    ] {
        let (status, code) = get(q.clone()).await;
        assert_eq!(status, 400, "{q}: {code:?}");
    }
}
