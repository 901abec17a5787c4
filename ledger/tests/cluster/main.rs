//! A 4-validator cluster of real `floe-ledger` processes over real sockets: transactions
//! submitted to any validator are final on all; all agree on the state digest; one validator
//! down does not stop finality; it restarts and catches up; two down stop finality until one
//! returns. Scenario names follow the fault model (`v4f1_…`).

mod adversary;
mod harness;
mod in_process;
mod proposer_flood;

use std::time::Duration;

use floe_common::Frost;
use floe_ledger::TxKind;
use harness::{Cluster, user};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_finality_and_agreement() {
    let mut c = Cluster::start("v4-agree", 4).await;
    c.wait_height_all(3, Duration::from_secs(60)).await;
    // Transfers submitted to different validators; each waits for finality.
    let alice = user(0);
    let bob = floe_ledger::Address::of(&user(1).public());
    for nonce in 0..6u64 {
        let tx = c.sign(
            &alice,
            nonce,
            TxKind::Transfer {
                to: bob,
                amount: Frost(1_000),
            },
        );
        let v = (nonce % 4) as usize;
        let done = c
            .client(v)
            .submit_and_wait(&tx, Duration::from_secs(30))
            .await
            .expect("final");
        assert!(matches!(
            done.outcome.status,
            floe_ledger_types::TxStatus::Success(_)
        ));
    }
    let h = c.max_height().await;
    c.wait_height_all(h, Duration::from_secs(30)).await;
    // Every validator has the same block and app hash at h, and the same balance for bob.
    let mut hashes = Vec::new();
    for v in 0..4 {
        let rec = c
            .client(v)
            .verified_block(h, harness::CHAIN, &c.validators)
            .await
            .unwrap()
            .unwrap();
        hashes.push((rec.block.hash(), rec.app_hash));
        let acct = c.client(v).account(&bob).await.unwrap();
        assert_eq!(acct.balance, Frost(harness::FUNDS + 6_000), "validator {v}");
    }
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");
    // Every validator serves its metrics: the height it committed, the round it plays, the
    // transactions it finalised and the block intervals.
    for v in 0..4 {
        let text = c.metrics(v).await;
        let value = |series: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
                .unwrap_or_else(|| panic!("validator {v}: no {series} in\n{text}"))
        };
        assert!(value("floe_ledger_height") >= h as f64, "validator {v}");
        assert!(value("floe_ledger_round") >= 0.0);
        assert!(value("floe_ledger_transactions_total{outcome=\"success\"}") >= 6.0);
        assert!(value("floe_ledger_block_interval_seconds_count") >= 2.0);
    }
    c.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4f1_validator_crash_restart() {
    let mut c = Cluster::start("v4f1", 4).await;
    c.wait_height_all(2, Duration::from_secs(60)).await;
    c.kill(3);
    let alice = user(0);
    let bob = floe_ledger::Address::of(&user(1).public());
    // Three of four keep finalising.
    for nonce in 0..5u64 {
        let tx = c.sign(
            &alice,
            nonce,
            TxKind::Transfer {
                to: bob,
                amount: Frost(7),
            },
        );
        c.client((nonce % 3) as usize)
            .submit_and_wait(&tx, Duration::from_secs(30))
            .await
            .expect("final with one validator down");
    }
    let h = c.max_height().await;
    // Many blocks pass while it is down, then it restarts and syncs.
    c.wait_height(0, h + 10, Duration::from_secs(60)).await;
    c.restart(3);
    let target = c.max_height().await;
    c.wait_height(3, target, Duration::from_secs(90)).await;
    let rec = c
        .client(3)
        .verified_block(target, harness::CHAIN, &c.validators)
        .await
        .unwrap()
        .unwrap();
    let rec0 = c
        .client(0)
        .verified_block(target, harness::CHAIN, &c.validators)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.app_hash, rec0.app_hash);
    assert_eq!(
        c.client(3).account(&bob).await.unwrap().balance,
        Frost(harness::FUNDS + 35)
    );
    // The restarted validator serves the transaction, applied once.
    assert_eq!(
        c.client(3)
            .account(&floe_ledger::Address::of(&alice.public()))
            .await
            .unwrap()
            .nonce,
        5
    );
    c.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4f2_no_quorum_halts_then_resumes() {
    let mut c = Cluster::start("v4f2", 4).await;
    c.wait_height_all(2, Duration::from_secs(60)).await;
    c.kill(2);
    c.kill(3);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stalled = c.max_height().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        c.max_height().await <= stalled + 1,
        "no block may be finalised without a quorum"
    );
    c.restart(3);
    c.wait_height(0, stalled + 3, Duration::from_secs(90)).await;
    c.stop_all().await;
}
