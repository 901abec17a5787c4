//! A Byzantine validator floods the others with signed proposal parts (`v4b1`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use floe_common::{Frost, KeyPair, Signature};
use floe_ledger::consensus::app::{FloodHook, FloodPart};
use floe_ledger::consensus::parts::MAX_EARLY_BYTES;
use floe_ledger::validator::ValidatorHooks;
use floe_ledger::{Address, Block, SignedTransaction, TxKind};
use floe_ledger_types::block::tx_root;

use crate::harness::{CHAIN, user};
use crate::in_process::InProcessCluster;

/// Distinct invalid blocks for the current height per round.
const INVALID_PER_ROUND: u64 = 8;
/// Transactions in each invalid block; the last one's signature is wrong.
const TXS_PER_INVALID: u64 = 1_000;
/// Future-height parts per round.
const FUTURE_PER_ROUND: u64 = 50;
/// Transactions in each future-height part.
const TXS_PER_FUTURE: usize = 100;
/// How far ahead the future parts reach.
const FUTURE_HEIGHTS: u64 = 1_000;

/// Validator 0 streams, at every round, eight distinct blocks for the current height, each
/// with a valid header and 1,000 transactions of which the last carries a wrong signature, and
/// 50 signed parts of 100 transactions for heights up to 1,000 ahead (each round in a different
/// one of its proposer rounds, so no two are the same slot; thousands in all). The honest three keep finalising with a median
/// block interval under one second; they hold early parts in memory only, within
/// [`MAX_EARLY_BYTES`], and their stores grow by a bounded amount: no part reaches the disk
/// before its round, at most one block per (height, round, proposer) is stored and checked,
/// and a block whose signature batch fails costs one batch check, not a thousand single ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adv_byzantine_proposer_floods_parts() {
    let attacker = KeyPair::from_seed([91; 32]);
    let mut txs: Vec<SignedTransaction> = (0..TXS_PER_INVALID)
        .map(|nonce| {
            let tx = floe_ledger::Transaction {
                sender: Address::of(&attacker.public()),
                nonce,
                fee: Frost(1),
                kind: TxKind::Transfer {
                    to: Address::of(&user(1).public()),
                    amount: Frost(1),
                },
            };
            SignedTransaction::sign(&attacker, tx, CHAIN)
        })
        .collect();
    txs.last_mut().unwrap().signature = Signature([7; 64]);
    let txs = Arc::new(txs);
    let (bad_root, future_root) = (tx_root(&txs), tx_root(&txs[..TXS_PER_FUTURE]));

    let calls = Arc::new(AtomicU32::new(0));
    let (future_sent, invalid_sent) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let flood: FloodHook = {
        let (calls, future_sent, invalid_sent) =
            (calls.clone(), future_sent.clone(), invalid_sent.clone());
        Arc::new(move |_round, template| {
            let call = calls.fetch_add(1, Ordering::Relaxed);
            let mut parts = Vec::new();
            for i in 0..INVALID_PER_ROUND {
                let mut header = template.clone();
                header.tx_root = bad_root;
                header.timestamp_ms += i;
                parts.push(FloodPart {
                    height: header.height,
                    nth: 0,
                    block: Block {
                        header,
                        txs: txs.as_ref().clone(),
                    },
                });
            }
            for k in 0..FUTURE_PER_ROUND {
                let mut header = template.clone();
                header.height += 1 + (u64::from(call) * FUTURE_PER_ROUND + k) % FUTURE_HEIGHTS;
                header.tx_root = future_root;
                parts.push(FloodPart {
                    height: header.height,
                    nth: call % 16,
                    block: Block {
                        header,
                        txs: txs[..TXS_PER_FUTURE].to_vec(),
                    },
                });
            }
            invalid_sent.fetch_add(INVALID_PER_ROUND, Ordering::Relaxed);
            future_sent.fetch_add(FUTURE_PER_ROUND, Ordering::Relaxed);
            parts
        })
    };
    let gauges: Vec<Arc<AtomicUsize>> = (0..4).map(|_| Arc::default()).collect();
    let hooks = (0..4)
        .map(|v| ValidatorHooks {
            flood: (v == 0).then(|| flood.clone()),
            early_bytes: Some(gauges[v].clone()),
            ..ValidatorHooks::default()
        })
        .collect();
    let c = InProcessCluster::start("v4b1-flood", hooks).await;
    while future_sent.load(Ordering::Relaxed) < FUTURE_PER_ROUND * 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Watch an honest validator for 20 s of attack.
    let disk_before: Vec<u64> = (1..4).map(|v| dir_size(c.data_dir(v))).collect();
    let started = Instant::now();
    let (mut last, mut last_at) = (c.height(1).await, Instant::now());
    let (mut intervals, mut early_max) = (Vec::new(), 0usize);
    while started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        for g in &gauges[1..] {
            early_max = early_max.max(g.load(Ordering::Relaxed));
        }
        let h = c.height(1).await;
        if h > last {
            let per_block = last_at.elapsed() / u32::try_from(h - last).unwrap();
            intervals.extend(std::iter::repeat_n(per_block, (h - last) as usize));
            (last, last_at) = (h, Instant::now());
        }
    }
    let growth: Vec<u64> = (1..4)
        .map(|v| dir_size(c.data_dir(v)).saturating_sub(disk_before[v - 1]))
        .collect();
    intervals.sort();
    let p50 = intervals.get(intervals.len() / 2).copied();
    eprintln!(
        "flood: {} future and {} invalid parts sent, {} blocks in 20 s, p50 interval {p50:?}, \
         early parts held at most {early_max} bytes, store growth {growth:?} bytes",
        future_sent.load(Ordering::Relaxed),
        invalid_sent.load(Ordering::Relaxed),
        intervals.len(),
    );
    assert!(
        future_sent.load(Ordering::Relaxed) >= FUTURE_HEIGHTS,
        "the attack ran"
    );
    assert!(intervals.len() >= 10, "finality went on: {intervals:?}");
    assert!(
        p50.unwrap() < Duration::from_secs(1),
        "median block interval {p50:?} under the flood"
    );
    assert!(early_max <= MAX_EARLY_BYTES, "early parts within bounds");
    for (v, g) in growth.iter().enumerate() {
        assert!(
            *g < 64 << 20,
            "validator {}: store grew {g} bytes in 20 s",
            v + 1
        );
    }
    // The honest ones agree on what they finalised.
    let h = c.height(1).await;
    for v in 2..4 {
        c.wait_height(v, h, Duration::from_secs(30)).await;
    }
    let hashes: Vec<_> = block_hashes(&c, h).await;
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");
    c.stop().await;
}

async fn block_hashes(c: &InProcessCluster, h: u64) -> Vec<floe_ledger::BlockHash> {
    let mut out = Vec::new();
    for v in 1..4 {
        let rec = c.client(v).block(h).await.unwrap().unwrap();
        out.push(rec.block.hash());
    }
    out
}

/// Bytes of the files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
