//! The economics on a live chain (one validator and four storage nodes over loopback, 3-second
//! epochs): price votes change what a store is charged, the epoch's payments are paid to its
//! committee by the reward formula, and a governance vote changes the epoch length, which the
//! nodes follow.

use std::time::Duration;

use floe_client::blobs::{Persistence, StoreOptions, StoreOutcome};
use floe_common::{EncodingConfig, Epoch, Frost};
use floe_ledger::{EpochEvent, Event, LedgerClient, ProposalChange, ProposalStatus};
use floe_tests::{ClusterOptions, TestCluster, all_events, data, eventually, wait_for};

const MIB: u64 = 1 << 20;

/// The `RewardsPaid` event of `epoch`, once the epoch ended.
async fn rewards_of(
    ledger: &LedgerClient,
    epoch: Epoch,
) -> Option<(Frost, Vec<floe_ledger::NodeReward>, Frost)> {
    all_events(ledger).await.into_iter().find_map(|e| match e {
        Event::Epoch(EpochEvent::RewardsPaid {
            epoch: e,
            total,
            nodes,
            leftover,
            ..
        }) if e == epoch => Some((total, nodes, leftover)),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_prices_rewards_and_governance_on_a_live_chain() {
    let cluster = TestCluster::start(ClusterOptions {
        nodes: 4,
        shards: 12,
        epoch_ms: 3_000,
        ..ClusterOptions::default()
    })
    .await;
    let ledger = cluster.ledger();
    let floe = cluster.floe().await;

    // Price votes: every node votes new prices; the 2/3 shard-weighted quantile moves.
    let before = ledger.system().await.expect("system");
    assert_eq!(before.storage_price, Frost(1_000));
    for node in ["node-1", "node-2", "node-3", "node-4"] {
        floe.set_node_votes(node, Some(Frost(7_000)), Some(Frost(3_000)), None)
            .await
            .expect("price vote");
    }
    let system = ledger.system().await.expect("system");
    assert_eq!(
        (system.storage_price, system.write_price),
        (Frost(7_000), Frost(3_000))
    );

    // A store is charged the voted prices: the wallet pays storage × units × epochs, the write
    // price × units, and the transaction fees, nothing else.
    let client = cluster.client().await;
    let user = floe.address().expect("wallet");
    // Store early in an epoch so that the payment and the reward check see the same epoch.
    let mut sys = ledger.system().await.expect("system");
    while sys.tip_timestamp_ms > sys.epoch_start_ms + 1_000 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sys = ledger.system().await.expect("system");
    }
    let balance_before = ledger.account(&user).await.expect("account").balance;
    let bytes = data(3 * MIB as usize + 5, 9);
    let epochs = 2;
    let outcome = client
        .store(
            &bytes,
            &StoreOptions {
                epochs,
                persistence: Persistence::Permanent,
                ..StoreOptions::default()
            },
        )
        .await
        .expect("store");
    let StoreOutcome::NewlyCreated { end_epoch, .. } = outcome else {
        panic!("expected a new blob, got {outcome:?}");
    };
    let paid_in = Epoch(end_epoch.0 - epochs);
    let balance_after = ledger.account(&user).await.expect("account").balance;
    let config = EncodingConfig::new(12).unwrap();
    let units = config
        .encoded_length(bytes.len() as u64)
        .unwrap()
        .div_ceil(MIB);
    let storage_cost = 7_000 * units * u64::from(epochs);
    let write_cost = 3_000 * units;
    let spent = balance_before.0 - balance_after.0;
    let fees = spent
        .checked_sub(storage_cost + write_cost)
        .expect("paid at least the voted prices");
    let min_fee = system.min_fee.0;
    assert!(
        fees % min_fee == 0 && (1..=4).contains(&(fees / min_fee)),
        "paid {spent}: storage {storage_cost} + write {write_cost} + fees {fees}"
    );

    // Rewards: at the end of the epoch the store paid into, its escrow goes to that epoch's
    // committee, ⌊total × shards / n⌋ per node, commission ⌊reward × 10%⌋, leftover carried.
    let committee = ledger.committee_at(paid_in).await.expect("committee");
    let weights: std::collections::BTreeMap<_, _> = committee
        .expect("committee of the paying epoch")
        .members
        .into_iter()
        .map(|m| (m.node_id, u64::from(m.weight)))
        .collect();
    eventually(
        Duration::from_secs(20),
        "rewards paid for the epoch",
        || async { rewards_of(&ledger, paid_in).await.is_some() },
    )
    .await;
    let (total, nodes, leftover) = rewards_of(&ledger, paid_in)
        .await
        .expect("rewards paid for the epoch");
    let carried = match paid_in.0.checked_sub(1) {
        Some(prev) => rewards_of(&ledger, Epoch(prev)).await.map_or(0, |r| r.2.0),
        None => 0,
    };
    assert_eq!(
        total.0,
        7_000 * units + write_cost + carried,
        "the epoch's escrow is its share of the storage payment, the write payment and the carry"
    );
    assert_eq!(nodes.len(), weights.len());
    let mut sum = 0;
    for r in &nodes {
        let expected = total.0 * weights[&r.node] / 12;
        assert_eq!(r.reward.0, expected, "reward of {}", r.node);
        assert_eq!(
            r.commission.0,
            expected * 1_000 / 10_000,
            "commission of {}",
            r.node
        );
        sum += r.reward.0;
    }
    assert_eq!(sum + leftover.0, total.0);

    // Governance: the owner of every committee node proposes and votes a longer epoch; it
    // applies from the next epoch, and the nodes follow the ledger's epochs.
    let proposal = floe
        .propose(ProposalChange::EpochDurationMs(6_000), None)
        .await
        .expect("propose");
    let vote = floe.vote(proposal.proposal, true).await.expect("vote");
    let executed_in = match vote.status {
        ProposalStatus::Executed { epoch } => epoch,
        other => panic!("the vote did not execute the proposal: {other:?}"),
    };
    let sys = ledger.system().await.expect("system");
    assert_eq!(sys.next_epoch_duration_ms, 6_000);
    eventually(
        Duration::from_secs(30),
        "the epoch after the vote",
        || async { ledger.system().await.expect("system").epoch.0 > executed_in.0 },
    )
    .await;
    let sys = ledger.system().await.expect("system");
    assert_eq!(sys.epoch_duration_ms, 6_000);
    assert_eq!(sys.next_epoch_at_ms - sys.epoch_start_ms, 6_000);
    let epoch = sys.epoch;
    let cores: Vec<_> = cluster
        .nodes
        .iter()
        .filter_map(|n| n.core().cloned())
        .collect();
    wait_for(Duration::from_secs(10), || {
        cores.iter().all(|c| c.epoch() >= epoch)
    })
    .await
    .expect("the nodes follow the ledger's epochs");
    drop(cores);
    cluster.shutdown().await;
}
