//! Byzantine validators against honest ones (`v4b1`: four validators, one Byzantine). Each
//! test is named `adv_…` after the attack it survives.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use floe_common::{Frost, KeyPair};
use floe_ledger::validator::ValidatorHooks;
use floe_ledger::{Address, SignedTransaction, TxKind};
use floe_ledger_types::TxStatus;

use crate::harness::{CHAIN, user};
use crate::in_process::InProcessCluster;

fn sign(key: &KeyPair, nonce: u64, kind: TxKind) -> SignedTransaction {
    let tx = floe_ledger::Transaction {
        sender: Address::of(&key.public()),
        nonce,
        fee: Frost(1),
        kind,
    };
    SignedTransaction::sign(key, tx, CHAIN)
}

/// A Byzantine proposer adds a transaction from an unfunded account to its blocks. The first
/// time it commits as refused (no funds for its fee: nothing charged, nonce not consumed).
/// Once the account is funded, the proposer keeps putting the same signed transaction in its
/// blocks, which would now spend the account's money without its owner's consent. The honest
/// validators refuse those blocks (the transaction is already committed), so the chain goes on
/// without them and the account keeps its funds and its nonce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adv_proposer_replays_failed_tx() {
    let poor = KeyPair::from_seed([77; 32]);
    let poor_addr = Address::of(&poor.public());
    let victim_tx = sign(
        &poor,
        0,
        TxKind::Transfer {
            to: Address::of(&user(1).public()),
            amount: Frost(5),
        },
    );
    let digest = victim_tx.digest();
    let injected = Arc::new(AtomicU64::new(0));
    let payload = Arc::new(Mutex::new(victim_tx));
    let (count, tx) = (injected.clone(), payload.clone());
    let byzantine = ValidatorHooks {
        propose: Some(Arc::new(
            move |_height, txs: &mut Vec<SignedTransaction>| {
                let t = tx.lock().unwrap().clone();
                if !txs.iter().any(|x| x.digest() == t.digest()) {
                    txs.push(t);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            },
        )),
        ..ValidatorHooks::default()
    };
    let mut hooks = vec![ValidatorHooks::default(); 4];
    hooks[0] = byzantine;
    let c = InProcessCluster::start("v4b1-replay", hooks).await;
    let honest = c.client(1);

    // The first inclusion commits, refused at execution.
    let first = loop {
        if let Some(t) = honest.transaction(&digest, None).await.unwrap() {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    match &first.outcome.status {
        TxStatus::Failure(f) => {
            assert_eq!(f.code(), "insufficient_balance");
            assert_eq!(f.fee_charged, None, "refused: nothing charged");
        }
        s => panic!("{s:?}"),
    }
    // Fund the account.
    let fund = sign(
        &user(0),
        0,
        TxKind::Transfer {
            to: poor_addr,
            amount: Frost(1_000),
        },
    );
    let funded = honest
        .submit_and_wait(&fund, Duration::from_secs(30))
        .await
        .expect("funding is final");
    assert!(matches!(funded.outcome.status, TxStatus::Success(_)));

    // The Byzantine validator proposes the replay several more times; the chain goes on.
    let (tries, height) = (injected.load(Ordering::Relaxed), c.height(1).await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while injected.load(Ordering::Relaxed) < tries + 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Byzantine validator stopped proposing"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.wait_height(1, height + 8, Duration::from_secs(60)).await;
    for v in 1..4 {
        let account = c.client(v).account(&poor_addr).await.unwrap();
        assert_eq!(account.balance, Frost(1_000), "validator {v}: funds kept");
        assert_eq!(account.nonce, 0, "validator {v}: nonce kept");
        let committed = c
            .client(v)
            .transaction(&digest, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (committed.height, committed.index),
            (first.height, first.index),
            "validator {v}: committed once"
        );
    }
    c.stop().await;
}

/// Twenty unfunded keys send 1,000 transactions each (future nonces), and a funded key streams
/// zero-fee transactions, over and over. Admission refuses all of it before verifying a
/// signature (fees not covered, fee below the minimum), nothing of it reaches a pool, and a
/// funded transfer submitted during the flood is final within 2 s (median of three).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adv_mempool_flood_unfunded() {
    let c = InProcessCluster::start("v4-flood", vec![ValidatorHooks::default(); 4]).await;
    let to = Address::of(&user(1).public());
    let transfer = |amount| TxKind::Transfer {
        to,
        amount: Frost(amount),
    };
    let unfunded: Vec<Vec<SignedTransaction>> = (0..20u8)
        .map(|k| {
            let key = KeyPair::from_seed([150 + k; 32]);
            (0..1_000).map(|n| sign(&key, n, transfer(1))).collect()
        })
        .collect();
    let spammer = user(2);
    let zero_fee: Vec<SignedTransaction> = (0..500)
        .map(|n| {
            let tx = floe_ledger::Transaction {
                sender: Address::of(&spammer.public()),
                nonce: n,
                fee: Frost(0),
                kind: transfer(1),
            };
            SignedTransaction::sign(&spammer, tx, CHAIN)
        })
        .collect();

    let stop = tokio_util::sync::CancellationToken::new();
    let rounds = Arc::new(AtomicU64::new(0));
    let refused: Arc<Mutex<std::collections::BTreeMap<String, u64>>> = Arc::default();
    let flooders: Vec<_> = (0..4)
        .map(|v| {
            let (client, stop, rounds, refused) =
                (c.client(v), stop.clone(), rounds.clone(), refused.clone());
            let (unfunded, zero_fee) = (unfunded.clone(), zero_fee.clone());
            tokio::spawn(async move {
                while !stop.is_cancelled() {
                    for batch in unfunded.iter().chain([&zero_fee]) {
                        let results = client.submit_batch(batch).await.expect("batch answered");
                        let mut r = refused.lock().unwrap();
                        for item in results {
                            let code = item.error.map_or("admitted".into(), |e| e.code);
                            *r.entry(code).or_default() += 1;
                        }
                    }
                    rounds.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    while rounds.load(Ordering::Relaxed) < 4 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut latencies = Vec::new();
    for nonce in 0..3 {
        let tx = sign(&user(0), nonce, transfer(10));
        let started = std::time::Instant::now();
        let done = c
            .client(nonce as usize % 4)
            .submit_and_wait(&tx, Duration::from_secs(30))
            .await
            .expect("final during the flood");
        latencies.push(started.elapsed());
        assert!(matches!(done.outcome.status, TxStatus::Success(_)));
    }
    let mut pools = Vec::new();
    for v in 0..4 {
        pools.push(c.client(v).health().await.unwrap().mempool);
    }
    stop.cancel();
    for f in flooders {
        f.await.unwrap();
    }
    let refused = refused.lock().unwrap().clone();
    eprintln!("flood results {refused:?}; transfer latencies {latencies:?}; pools {pools:?}");
    assert_eq!(
        refused.get("admitted"),
        None,
        "nothing of the flood is admitted"
    );
    assert!(
        refused
            .get("fees_not_covered")
            .is_some_and(|&n| n >= 80_000)
    );
    assert!(refused.get("fee_too_low").is_some_and(|&n| n >= 2_000));
    assert!(
        pools.iter().all(|&p| p <= 3),
        "pools hold only honest transactions: {pools:?}"
    );
    latencies.sort();
    assert!(
        latencies[1] < Duration::from_secs(2),
        "median finality during the flood: {:?}",
        latencies[1]
    );
    c.stop().await;
}
