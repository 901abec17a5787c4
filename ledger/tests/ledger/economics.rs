//! Epochs, committee changes, prices, capacity, rewards, governance and WAL conservation.

use std::collections::BTreeSet;

use floe_common::{Epoch, Frost, KeyPair, NodeId, ShardIndex};
use floe_ledger::{
    EpochEvent, EpochState, Event, Object, ProposalChange, ProposalStatus, StakeStatus, TxKind,
    node_id_of,
};
use proptest::prelude::*;

use crate::support::*;

fn nid(i: usize) -> NodeId {
    node_id_of(&node_key(i).public())
}

fn shards(net: &Net, i: usize) -> BTreeSet<ShardIndex> {
    net.state.shards_of(&nid(i)).iter().copied().collect()
}

fn mid(net: &Net) -> u64 {
    net.state.system().mid_epoch_ms()
}

fn boundary(net: &Net) -> u64 {
    net.state.system().next_epoch_at_ms()
}

fn epoch_events(events: &[Event]) -> Vec<&EpochEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Epoch(x) => Some(x),
            _ => None,
        })
        .collect()
}

fn stake(net: &mut Net, user: usize, node: NodeId, amount: u64) -> floe_common::ObjectId {
    net.exec(
        user,
        TxKind::Stake {
            node,
            amount: Frost(amount),
        },
    )
    .unwrap()
    .created[0]
}

fn staked(net: &Net, id: &floe_common::ObjectId) -> floe_ledger::StakedWal {
    match net.state.object(id) {
        Some(Object::StakedWal(s)) => s.clone(),
        o => panic!("not a stake: {o:?}"),
    }
}

fn register_node(net: &mut Net, owner: usize, key: usize) -> NodeId {
    net.exec(
        owner,
        TxKind::RegisterNode {
            name: format!("new-{key}"),
            public_key: node_key(key).public(),
            network_address: "/ip4/10.0.0.1/tcp/9000".into(),
            http_address: "http://10.0.0.1:8000".into(),
            commission_bps: 1000,
            storage_price_vote: STORAGE_PRICE,
            write_price_vote: WRITE_PRICE,
            capacity_vote: 1 << 40,
        },
    )
    .unwrap();
    nid(key)
}

#[test]
fn epochs_advance_and_the_committee_reforms_at_mid_epoch_with_minimal_movement() {
    let mut net = Net::new();
    let s = net.state.system().clone();
    assert_eq!(s.epoch_state, EpochState::Normal);
    assert_eq!(s.epoch_start_ms, GENESIS_MS);
    assert_eq!(s.next_epoch_at_ms(), GENESIS_MS + EPOCH_MS);
    let before: Vec<BTreeSet<ShardIndex>> = (0..10).map(|i| shards(&net, i)).collect();
    // Before mid-epoch: the stake activates at epoch 1 and counts for its committee.
    let id = stake(&mut net, 3, nid(5), NODE_STAKE.0);
    assert_eq!(staked(&net, &id).activation_epoch, Epoch(1));
    assert!(net.block_at(mid(&net) - 1).is_empty());
    let events = net.block_at(mid(&net));
    let [
        EpochEvent::NextCommitteeSelected {
            epoch,
            members,
            moves,
        },
    ] = &epoch_events(&events)[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!(*epoch, Epoch(1));
    assert_eq!(
        net.state.system().epoch_state,
        EpochState::NextCommitteeSelected
    );
    let next = net.state.next_committee().unwrap().clone();
    // Node 5 (double stake) gains; every other node keeps a subset of its shards.
    assert!(next.shards[&nid(5)].len() > 10);
    for i in (0..10).filter(|&i| i != 5) {
        let now: BTreeSet<_> = next.shards[&nid(i)].iter().copied().collect();
        assert!(now.is_subset(&before[i]), "node {i} got new shards");
        assert!(!now.is_empty());
    }
    assert!(before[5].iter().all(|s| next.shards[&nid(5)].contains(s)));
    assert!(moves.iter().all(|m| m.to == nid(5) && m.from != nid(5)));
    assert_eq!(moves.len(), next.shards[&nid(5)].len() - 10);
    assert_eq!(members.len(), 10);
    // Staking after the selection activates one epoch later.
    let late = stake(&mut net, 3, nid(6), 1_000);
    assert_eq!(staked(&net, &late).activation_epoch, Epoch(2));
    // The boundary: the committee switches; nodes gaining nothing are synced, a quorum.
    let events = net.block_at(boundary(&net));
    let ev = epoch_events(&events);
    assert!(matches!(
        ev[0],
        EpochEvent::EpochChanged { epoch: Epoch(1), start_ms, next_epoch_at_ms, previous_epoch: Epoch(0), .. }
            if *start_ms == GENESIS_MS + EPOCH_MS && *next_epoch_at_ms == GENESIS_MS + 2 * EPOCH_MS
    ));
    assert_eq!(ev[1], &EpochEvent::SyncDone { epoch: Epoch(1) });
    assert_eq!(net.state.epoch(), Epoch(1));
    assert_eq!(net.state.committee().epoch(), Epoch(1));
    assert_eq!(net.state.shard_assignment(), &next.shards);
    assert_eq!(
        net.state.previous_committee().unwrap().committee.epoch(),
        Epoch(0)
    );
    assert_eq!(staked(&net, &id).status, StakeStatus::Active);
    assert_eq!(staked(&net, &late).status, StakeStatus::Pending);
    // Unchanged stake: the next selection moves nothing.
    let events = net.block_at(mid(&net));
    match epoch_events(&events)[..] {
        [EpochEvent::NextCommitteeSelected { moves, .. }] => assert!(moves.is_empty()),
        _ => panic!("{events:?}"),
    }
    net.state.check_supply().unwrap();
}

#[test]
fn epoch_sync_done_from_a_quorum_ends_the_sync_phase() {
    let mut net = Net::new();
    net.fund_node_keys();
    // Three new nodes with 10 WAL-units each take 3/4 of the stake.
    let new: Vec<NodeId> = (10..13).map(|k| register_node(&mut net, 1, k)).collect();
    for (i, k) in (10..13).enumerate() {
        net.exec(
            0,
            TxKind::Transfer {
                to: addr(&node_key(k)),
                amount: Frost(1_000_000),
            },
        )
        .unwrap();
        stake(&mut net, 2, new[i], 10 * NODE_STAKE.0);
    }
    net.reject_key(
        &node_key(0),
        TxKind::EpochSyncDone { epoch: Epoch(0) },
        "not_syncing",
    );
    net.block_at(mid(&net));
    let events = net.block_at(boundary(&net));
    let ev = epoch_events(&events);
    let EpochEvent::EpochChanged { moves, members, .. } = ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(ev.len(), 1, "no SyncDone yet");
    assert_eq!(members.len(), 13);
    // D'Hondt gives the new nodes 26-27 shards each; the old nodes keep the rest.
    let k: Vec<usize> = new.iter().map(|n| net.state.shards_of(n).len()).collect();
    for (n, k) in new.iter().zip(&k) {
        assert!((26..=27).contains(k));
        assert_eq!(moves.iter().filter(|m| m.to == *n).count(), *k);
    }
    let old_weight = 100 - k.iter().sum::<usize>();
    let EpochState::Sync { weight, .. } = net.state.system().epoch_state.clone() else {
        panic!()
    };
    assert_eq!(usize::from(weight), old_weight);
    let e = Epoch(1);
    // Refusals: not a member, wrong epoch, a member already counted.
    net.reject(
        0,
        TxKind::EpochSyncDone { epoch: e },
        "not_committee_member",
    );
    net.reject_key(
        &node_key(10),
        TxKind::EpochSyncDone { epoch: Epoch(0) },
        "wrong_epoch",
    );
    net.reject_key(
        &node_key(0),
        TxKind::EpochSyncDone { epoch: e },
        "already_synced",
    );
    let fx = net
        .exec_key(&node_key(10), TxKind::EpochSyncDone { epoch: e })
        .unwrap();
    assert_eq!(
        fx.events,
        vec![Event::Epoch(EpochEvent::ShardsSynced {
            epoch: e,
            node: new[0],
            synced_weight: (old_weight + k[0]) as u16
        })]
    );
    net.reject_key(
        &node_key(10),
        TxKind::EpochSyncDone { epoch: e },
        "already_synced",
    );
    let fx = net
        .exec_key(&node_key(11), TxKind::EpochSyncDone { epoch: e })
        .unwrap();
    assert_eq!(
        fx.events[1],
        Event::Epoch(EpochEvent::SyncDone { epoch: e })
    );
    assert_eq!(net.state.system().epoch_state, EpochState::Normal);
    // A gainer that finishes after the quorum is still recorded (its previous holders learn
    // the handover is complete), once.
    let fx = net
        .exec_key(&node_key(12), TxKind::EpochSyncDone { epoch: e })
        .unwrap();
    assert_eq!(
        fx.events,
        vec![Event::Epoch(EpochEvent::ShardsSynced {
            epoch: e,
            node: new[2],
            synced_weight: 100
        })]
    );
    assert_eq!(net.state.system().epoch_state, EpochState::Normal);
    net.reject_key(
        &node_key(12),
        TxKind::EpochSyncDone { epoch: e },
        "already_synced",
    );
    net.state.check_supply().unwrap();
}

#[test]
fn an_unfinished_sync_keeps_the_committee_and_the_epochs_going() {
    let mut net = Net::new();
    let new = register_node(&mut net, 1, 10);
    stake(&mut net, 2, new, 30 * NODE_STAKE.0);
    net.block_at(mid(&net));
    net.block_at(boundary(&net));
    assert!(matches!(
        net.state.system().epoch_state,
        EpochState::Sync { .. }
    ));
    let assignment = net.state.shard_assignment().clone();
    // No selection while syncing; at the boundary the same committee continues and the reads
    // stay with epoch 0's committee.
    assert!(epoch_events(&net.block_at(mid(&net))).is_empty());
    let events = net.block_at(boundary(&net));
    match epoch_events(&events)[..] {
        [
            EpochEvent::EpochChanged {
                epoch: Epoch(2),
                previous_epoch: Epoch(0),
                moves,
                ..
            },
        ] => {
            assert!(!moves.is_empty())
        }
        _ => panic!("{events:?}"),
    }
    assert_eq!(net.state.shard_assignment(), &assignment);
    assert!(matches!(
        net.state.system().epoch_state,
        EpochState::Sync { .. }
    ));
}

#[test]
fn a_price_vote_changes_the_price_charged() {
    let mut net = Net::new();
    let vote = |node: usize, price: u64| TxKind::SetNodeVotes {
        node: nid(node),
        storage_price: Frost(price),
        write_price: WRITE_PRICE,
        capacity: 1 << 40,
    };
    net.reject(1, vote(0, 2_000), "not_authorized");
    // Nodes 0, 4, 8 (owner: user 0) vote 2000: 30 of 100 shards, the price stays.
    for n in [0, 4, 8] {
        net.exec(0, vote(n, 2_000)).unwrap();
    }
    assert_eq!(net.state.system().storage_price, STORAGE_PRICE);
    // Node 1 by its own key: now only 60 shards voted 1000 or less → 2000.
    net.fund_node_keys();
    let fx = net.exec_key(&node_key(1), vote(1, 2_000)).unwrap();
    assert!(fx.events.contains(&Event::PricesUpdated {
        storage_price: Frost(2_000),
        write_price: WRITE_PRICE,
        capacity: net.state.system().capacity,
    }));
    let a = addr(&user_key(3));
    let before = net.balance(&a);
    let fx = net
        .exec(
            3,
            TxKind::ReserveSpace {
                encoded_size: MIB,
                epochs_ahead: 3,
            },
        )
        .unwrap();
    assert!(matches!(
        fx.events[0],
        Event::StorageReserved {
            cost: Frost(6_000),
            ..
        }
    ));
    assert_eq!(net.balance(&a), Frost(before.0 - 6_000 - MIN_FEE.0));
}

#[test]
fn new_storage_is_refused_beyond_the_voted_capacity() {
    let mut net = Net::new();
    // 7 nodes (70 shards) vote 10 MiB each: the network total is 10 MiB × 100 / 10 = 100 MiB.
    for n in 0..7 {
        net.exec(
            n % 4,
            TxKind::SetNodeVotes {
                node: nid(n),
                storage_price: STORAGE_PRICE,
                write_price: WRITE_PRICE,
                capacity: 10 * MIB,
            },
        )
        .unwrap();
    }
    assert_eq!(net.state.system().capacity, 100 * MIB);
    net.reserve(0, 60 * MIB, 2);
    let err = net.reject(
        1,
        TxKind::ReserveSpace {
            encoded_size: 50 * MIB,
            epochs_ahead: 1,
        },
        "capacity_exceeded",
    );
    assert_eq!(
        err,
        floe_ledger::TxError::CapacityExceeded {
            epoch: Epoch(0),
            needed: 50 * MIB,
            available: 40 * MIB
        }
    );
    net.reserve(1, 40 * MIB, 1);
    // Epoch 2 is free: storage starting now but reaching it is refused only where full.
    net.reject(
        2,
        TxKind::ReserveSpace {
            encoded_size: MIB,
            epochs_ahead: 3,
        },
        "capacity_exceeded",
    );
    net.advance_epochs(2);
    net.reserve(2, 100 * MIB, 1);
    assert_eq!(net.state.system().used_capacity(Epoch(2)), 100 * MIB);
    net.state.check_supply().unwrap();
}

#[test]
fn rewards_follow_the_formula_and_withdraw_returns_principal_plus_share() {
    let mut net = Net::new();
    net.fund_node_keys();
    // Epoch 0: a staker joins node 5; 20 000 FROST are escrowed for epoch 0, 10 000 for 1.
    let id = stake(&mut net, 3, nid(5), NODE_STAKE.0);
    net.reserve(0, 10 * MIB, 1);
    net.reserve(0, 10 * MIB, 2);
    let escrow = |net: &Net, e: u32| {
        net.state
            .system()
            .epoch_accounts
            .get(&Epoch(e))
            .map_or(0, |a| a.rewards.0)
    };
    assert_eq!((escrow(&net, 0), escrow(&net, 1)), (20_000, 10_000));
    net.block_at(mid(&net));
    let events = net.block_at(boundary(&net));
    // Epoch 0: 10 nodes × 10 shards: 2000 each, commission 5 % = 100.
    let paid = events
        .iter()
        .find_map(|e| match e {
            Event::Epoch(EpochEvent::RewardsPaid {
                epoch,
                total,
                nodes,
                leftover,
                forfeited,
            }) => {
                assert_eq!(*forfeited, Frost::ZERO);
                Some((*epoch, *total, nodes.clone(), *leftover))
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(
        (paid.0, paid.1, paid.3),
        (Epoch(0), Frost(20_000), Frost::ZERO)
    );
    assert!(
        paid.2
            .iter()
            .all(|r| r.reward == Frost(2_000) && r.commission == Frost(100))
    );
    let pool = net.state.node(&nid(5)).unwrap().pool.clone();
    assert_eq!(pool.commission_locked, Frost(100));
    // The staker's shares were bought after the rewards, at rate (1e9 + 1900) / 1e9.
    let w0 = NODE_STAKE.0 + 1_900;
    let shares = (u128::from(NODE_STAKE.0) * u128::from(NODE_STAKE.0) / u128::from(w0)) as u64;
    let s = staked(&net, &id);
    assert_eq!((s.status, s.shares), (StakeStatus::Active, shares));
    assert_eq!(pool.active_wal, Frost(w0 + NODE_STAKE.0));
    assert_eq!(pool.shares, NODE_STAKE.0 + shares);
    // Epoch 1: node 5 holds more shards; the staker asks to leave before mid-epoch (W = 2).
    let w5 = net.state.shards_of(&nid(5)).len() as u64;
    assert!(w5 > 10);
    net.exec(3, TxKind::RequestWithdrawal { staked: id })
        .unwrap();
    assert_eq!(staked(&net, &id).withdraw_epoch, Some(Epoch(2)));
    net.block_at(mid(&net));
    let events = net.block_at(boundary(&net));
    let reward5 = 10_000 * w5 / 100;
    let commission5 = reward5 * 500 / 10_000;
    let paid: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Epoch(EpochEvent::RewardsPaid { nodes, .. }) => Some(nodes.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let r5 = paid.iter().find(|r| r.node == nid(5)).unwrap();
    assert_eq!((r5.reward.0, r5.commission.0), (reward5, commission5));
    // Withdrawal value: shares × pool WAL / pool shares, after epoch 1's rewards.
    let wal = u128::from(w0 + NODE_STAKE.0 + reward5 - commission5);
    let value = (u128::from(shares) * wal / u128::from(NODE_STAKE.0 + shares)) as u64;
    let s = staked(&net, &id);
    assert_eq!(s.status, StakeStatus::Withdrawable);
    assert_eq!(s.amount.0 + s.rewards.0, value);
    assert!(s.rewards.0 > 0 && s.amount == NODE_STAKE);
    // Node 5 shrinks back: its stake is locked until the sync completes.
    net.reject(3, TxKind::Withdraw { staked: id }, "stake_locked");
    net.sync_all();
    let a = addr(&user_key(3));
    let before = net.balance(&a);
    let fx = net.exec(3, TxKind::Withdraw { staked: id }).unwrap();
    assert_eq!(
        fx.events,
        vec![Event::Withdrawn {
            staked: id,
            owner: a,
            amount: NODE_STAKE,
            rewards: s.rewards
        }]
    );
    assert_eq!(net.balance(&a), Frost(before.0 + value - MIN_FEE.0));
    // Commission: epoch 0's 100 is collectable now (one change later), epoch 1's is locked.
    let owner = addr(&user_key(1));
    let before = net.balance(&owner);
    let fx = net
        .exec(1, TxKind::CollectCommission { node: nid(5) })
        .unwrap();
    assert!(matches!(
        fx.events[0],
        Event::CommissionCollected {
            amount: Frost(100),
            ..
        }
    ));
    assert_eq!(net.balance(&owner), Frost(before.0 + 100 - MIN_FEE.0));
    assert_eq!(
        net.state.node(&nid(5)).unwrap().pool.commission_locked,
        Frost(commission5)
    );
    net.reject(1, TxKind::CollectCommission { node: nid(5) }, "zero_amount");
    net.reject(
        2,
        TxKind::CollectCommission { node: nid(5) },
        "not_authorized",
    );
    net.state.check_supply().unwrap();
}

fn propose(net: &mut Net, user: usize, change: ProposalChange, deadline: u32) -> u64 {
    let fx = net
        .exec(
            user,
            TxKind::Propose {
                change,
                deadline_epoch: Epoch(deadline),
            },
        )
        .unwrap();
    match fx.events[0] {
        Event::ProposalCreated { id, .. } => id,
        _ => panic!(),
    }
}

fn vote(net: &mut Net, user: usize, proposal: u64, approve: bool) -> Vec<Event> {
    net.exec(user, TxKind::Vote { proposal, approve })
        .unwrap()
        .events
}

#[test]
fn governance_changes_the_epoch_length_from_the_next_epoch() {
    let mut net = Net::new();
    // Users control: 0 → nodes 0, 4, 8; 1 → 1, 5, 9; 2 → 2, 6; 3 → 3, 7.
    let outsider = KeyPair::from_seed([77; 32]);
    net.exec(
        0,
        TxKind::Transfer {
            to: addr(&outsider),
            amount: Frost(1_000_000),
        },
    )
    .unwrap();
    net.reject_key(
        &outsider,
        TxKind::Propose {
            change: ProposalChange::MinFee(Frost(1)),
            deadline_epoch: Epoch(1),
        },
        "not_committee_member",
    );
    for (change, deadline) in [
        (ProposalChange::EpochDurationMs(0), 1),
        (ProposalChange::MinFee(Frost(1)), 17),
        (ProposalChange::MaxShardsPerNode(0), 1),
    ] {
        net.reject(
            0,
            TxKind::Propose {
                change,
                deadline_epoch: Epoch(deadline),
            },
            "invalid_proposal",
        );
    }
    let id = propose(
        &mut net,
        0,
        ProposalChange::EpochDurationMs(2 * EPOCH_MS),
        1,
    );
    assert!(matches!(
        vote(&mut net, 0, id, true)[..],
        [Event::ProposalVoted {
            approve_weight: 30,
            ..
        }]
    ));
    vote(&mut net, 1, id, true);
    let events = vote(&mut net, 2, id, true);
    assert!(matches!(
        events[..],
        [
            Event::ProposalVoted {
                approve_weight: 80,
                ..
            },
            Event::ProposalExecuted { .. }
        ]
    ));
    assert_eq!(
        net.state.proposal(id).unwrap().status,
        ProposalStatus::Executed { epoch: Epoch(0) }
    );
    net.reject(
        3,
        TxKind::Vote {
            proposal: id,
            approve: true,
        },
        "proposal_closed",
    );
    net.reject(
        3,
        TxKind::Vote {
            proposal: 9,
            approve: true,
        },
        "unknown_proposal",
    );
    // The current epoch keeps its length; the next one is twice as long.
    assert_eq!(net.state.system().params.epoch_duration_ms, 2 * EPOCH_MS);
    assert_eq!(boundary(&net), GENESIS_MS + EPOCH_MS);
    net.block_at(GENESIS_MS + EPOCH_MS);
    assert_eq!(net.state.epoch(), Epoch(1));
    assert_eq!(boundary(&net), GENESIS_MS + 3 * EPOCH_MS);
    assert_eq!(mid(&net), GENESIS_MS + 2 * EPOCH_MS);
    net.block_at(GENESIS_MS + 3 * EPOCH_MS - 1);
    assert_eq!(net.state.epoch(), Epoch(1));
    net.block_at(GENESIS_MS + 3 * EPOCH_MS);
    assert_eq!(net.state.epoch(), Epoch(2));
}

#[test]
fn expired_and_rejected_proposals_do_nothing() {
    let mut net = Net::new();
    let id = propose(&mut net, 0, ProposalChange::MinFee(Frost(1)), 0);
    vote(&mut net, 0, id, true);
    let events = net.block_at(boundary(&net));
    assert!(events.contains(&Event::ProposalExpired { id }));
    assert_eq!(
        net.state.proposal(id).unwrap().status,
        ProposalStatus::Expired { epoch: Epoch(1) }
    );
    net.reject(
        1,
        TxKind::Vote {
            proposal: id,
            approve: true,
        },
        "proposal_closed",
    );
    assert_eq!(net.state.system().params.min_fee, MIN_FEE);
    // 60 shards against: quorum is out of reach.
    let id = propose(&mut net, 0, ProposalChange::MaxEpochsAhead(3), 3);
    vote(&mut net, 0, id, false);
    let events = vote(&mut net, 1, id, false);
    assert_eq!(events[1], Event::ProposalRejected { id });
    assert_eq!(net.state.system().params.max_epochs_ahead, MAX_AHEAD);
}

#[test]
fn governance_slashes_an_operators_commission() {
    let mut net = Net::new();
    net.reserve(0, 10 * MIB, 3);
    net.advance_epochs(1);
    net.advance_epochs(1);
    // Node 3 has earned 50 (epoch 0, collectable) + 50 (epoch 1, locked).
    let pool = net.state.node(&nid(3)).unwrap().pool.clone();
    assert_eq!(
        (pool.commission, pool.commission_locked),
        (Frost(50), Frost(50))
    );
    let supply = net.state.system().total_supply;
    let id = propose(&mut net, 0, ProposalChange::SlashCommission(nid(3)), 3);
    vote(&mut net, 0, id, true);
    vote(&mut net, 1, id, true);
    let events = vote(&mut net, 2, id, true);
    assert!(events.contains(&Event::CommissionSlashed {
        node: nid(3),
        amount: Frost(100)
    }));
    let pool = net.state.node(&nid(3)).unwrap().pool.clone();
    assert_eq!(
        (pool.commission, pool.commission_locked),
        (Frost::ZERO, Frost::ZERO)
    );
    assert_eq!(net.state.system().total_supply, Frost(supply.0 - 100));
    assert_eq!(net.state.system().total_burned, Frost(100));
    net.reject(3, TxKind::CollectCommission { node: nid(3) }, "zero_amount");
    net.state.check_supply().unwrap();
}

#[derive(Debug, Clone)]
enum Op {
    Faucet(usize, u64),
    Transfer(usize, usize, u64),
    Reserve(usize, u64, u32),
    Stake(usize, usize, u64),
    RequestWithdrawal(usize, usize),
    Withdraw(usize, usize),
    Votes(usize, u64, u64),
    Collect(usize),
    Sync(usize),
    Time(u64),
    Slash(usize),
    /// Stores (registers and certifies) a real encoded blob.
    Store(usize, u8),
    /// A node proves its storage challenges (honestly, or with one symbol byte changed).
    Prove(usize, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4usize, 1..FAUCET_MAX.0).prop_map(|(u, a)| Op::Faucet(u, a)),
        (0..4usize, 0..4usize, 0..1_000_000u64).prop_map(|(a, b, x)| Op::Transfer(a, b, x)),
        (0..4usize, 1..64 * MIB, 1..=MAX_AHEAD).prop_map(|(u, s, e)| Op::Reserve(u, s, e)),
        (0..4usize, 0..10usize, 1..3 * NODE_STAKE.0).prop_map(|(u, n, a)| Op::Stake(u, n, a)),
        (0..4usize, 0..8usize).prop_map(|(u, i)| Op::RequestWithdrawal(u, i)),
        (0..4usize, 0..8usize).prop_map(|(u, i)| Op::Withdraw(u, i)),
        (0..10usize, 1..5_000u64, 1..1u64 << 40).prop_map(|(n, p, c)| Op::Votes(n, p, c)),
        (0..10usize).prop_map(Op::Collect),
        (0..10usize).prop_map(Op::Sync),
        (1..3 * EPOCH_MS).prop_map(Op::Time),
        (0..10usize).prop_map(Op::Slash),
        (0..4usize, any::<u8>()).prop_map(|(u, s)| Op::Store(u, s)),
        (0..10usize, any::<bool>()).prop_map(|(n, h)| Op::Prove(n, h)),
    ]
}

fn stakes_of(net: &Net, user: usize) -> Vec<floe_common::ObjectId> {
    net.state
        .objects_owned_by(&addr(&user_key(user)))
        .into_iter()
        .filter(|(_, o)| matches!(o, Object::StakedWal(_)))
        .map(|(id, _)| id)
        .collect()
}

fn run(net: &mut Net, blobs: &mut Vec<floe_common::EncodedBlob>, op: &Op) {
    let _ = match *op {
        Op::Store(u, seed) => {
            if blobs.len() < 6
                && let Some(b) = crate::challenges::try_store_blob(net, u, seed, 1500, 3)
            {
                blobs.push(b);
            }
            return;
        }
        Op::Prove(n, honest) => {
            if net.state.challenge_round().is_none() {
                return;
            }
            let mut proofs = crate::challenges::honest_proofs(net, n, blobs);
            if !honest && let Some(p) = proofs.first_mut() {
                p.data[0] ^= 1;
            }
            let kind = crate::challenges::submit_kind(net, proofs);
            net.exec_key(&node_key(n), kind)
        }
        Op::Faucet(u, a) => net.exec(u, TxKind::Faucet { amount: Frost(a) }),
        Op::Transfer(a, b, x) => net.exec(
            a,
            TxKind::Transfer {
                to: addr(&user_key(b)),
                amount: Frost(x),
            },
        ),
        Op::Reserve(u, s, e) => net.exec(
            u,
            TxKind::ReserveSpace {
                encoded_size: s,
                epochs_ahead: e,
            },
        ),
        Op::Stake(u, n, a) => net.exec(
            u,
            TxKind::Stake {
                node: nid(n),
                amount: Frost(a),
            },
        ),
        Op::RequestWithdrawal(u, i) | Op::Withdraw(u, i) => {
            let s = stakes_of(net, u);
            if s.is_empty() {
                return;
            }
            let staked = s[i % s.len()];
            let kind = if matches!(op, Op::Withdraw(..)) {
                TxKind::Withdraw { staked }
            } else {
                TxKind::RequestWithdrawal { staked }
            };
            net.exec(u, kind)
        }
        Op::Votes(n, p, c) => net.exec(
            n % 4,
            TxKind::SetNodeVotes {
                node: nid(n),
                storage_price: Frost(p),
                write_price: Frost(p / 2),
                capacity: c,
            },
        ),
        Op::Collect(n) => net.exec(n % 4, TxKind::CollectCommission { node: nid(n) }),
        Op::Sync(n) => {
            let epoch = net.state.epoch();
            net.exec_key(&node_key(n), TxKind::EpochSyncDone { epoch })
        }
        Op::Time(ms) => {
            net.block_at(net.time_ms + ms);
            return;
        }
        Op::Slash(n) => {
            let Ok(fx) = net.exec(
                0,
                TxKind::Propose {
                    change: ProposalChange::SlashCommission(nid(n)),
                    deadline_epoch: net.state.epoch(),
                },
            ) else {
                return;
            };
            let Event::ProposalCreated { id, .. } = fx.events[0] else {
                return;
            };
            for u in 0..3 {
                let _ = net.exec(
                    u,
                    TxKind::Vote {
                        proposal: id,
                        approve: true,
                    },
                );
            }
            return;
        }
    };
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn wal_is_conserved(ops in proptest::collection::vec(op(), 1..60)) {
        // Storage challenges on, so that proofs, settlement and forfeiture are covered too.
        let mut net = Net::from_genesis(&crate::challenges::challenge_genesis(3, EPOCH_MS / 2));
        net.fund_node_keys();
        let mut blobs = Vec::new();
        let minted_before = net.state.system().total_supply;
        let mut minted = 0u64;
        let mut burned = 0u64;
        for op in &ops {
            let supply = net.state.system().total_supply;
            let b = net.state.system().total_burned;
            run(&mut net, &mut blobs, op);
            let s = net.state.system();
            if let Op::Faucet(..) = op {
                minted += s.total_supply.0 + (s.total_burned.0 - b.0) - supply.0;
            }
            burned = s.total_burned.0;
            prop_assert!(net.state.check_supply().is_ok(), "{op:?}: {:?}", net.state.check_supply());
        }
        // Supply = genesis + mints − burns.
        prop_assert_eq!(net.state.system().total_supply.0, minted_before.0 + minted - burned);
    }
}
