use floe_common::{Epoch, Frost, KeyPair, NodeId, PublicKey};
use floe_ledger::{Event, Object, TxKind, node_id_of};

use crate::support::*;

fn register(name: &str, key: PublicKey) -> TxKind {
    TxKind::RegisterNode {
        name: name.into(),
        public_key: key,
        network_address: "/ip4/10.0.0.1/tcp/9000".into(),
        http_address: "http://10.0.0.1:8000".into(),
        commission_bps: 1000,
        storage_price_vote: Frost(1),
        write_price_vote: Frost(2),
        capacity_vote: 3,
    }
}

#[test]
fn register_node_and_rejections() {
    let mut net = Net::new();
    let key = KeyPair::from_seed([42; 32]).public();
    let fx = net.exec(1, register("new-node", key)).unwrap();
    let id = node_id_of(&key);
    assert_eq!(
        fx.events,
        vec![Event::NodeRegistered {
            node: id,
            name: "new-node".into(),
            owner: addr(&user_key(1))
        }]
    );
    let n = net.state.node(&id).unwrap();
    assert_eq!(
        (n.total_stake, n.commission_bps, n.votes.capacity),
        (Frost::ZERO, 1000, 3)
    );
    // The committee is fixed at genesis.
    assert!(net.state.committee().index_of(&id).is_none());
    net.reject(2, register("other-name", key), "duplicate_node");
    net.reject(
        2,
        register("new-node", KeyPair::from_seed([43; 32]).public()),
        "duplicate_node",
    );
    net.reject(
        2,
        register("node-3", KeyPair::from_seed([43; 32]).public()),
        "duplicate_node",
    );
    let fresh = KeyPair::from_seed([44; 32]).public();
    net.reject(2, register("", fresh), "invalid_field");
    net.reject(2, register(&"n".repeat(65), fresh), "too_large");
    let mut k = register("x", fresh);
    if let TxKind::RegisterNode { commission_bps, .. } = &mut k {
        *commission_bps = 10_001;
    }
    net.reject(2, k, "invalid_commission");
    let mut k = register("x", fresh);
    if let TxKind::RegisterNode { http_address, .. } = &mut k {
        *http_address = "h".repeat(257);
    }
    net.reject(2, k, "too_large");
    let bad = (0..=255u8)
        .map(|i| PublicKey([i; 32]))
        .find(|k| !k.is_valid())
        .unwrap();
    net.reject(2, register("x", bad), "invalid_public_key");
}

fn staked_objects(net: &Net, user: usize) -> Vec<floe_common::ObjectId> {
    net.state
        .objects_owned_by(&addr(&user_key(user)))
        .into_iter()
        .filter(|(_, o)| matches!(o, Object::StakedWal(_)))
        .map(|(id, _)| id)
        .collect()
}

#[test]
fn stake_request_and_withdraw() {
    let mut net = Net::new();
    let node = node_id_of(&node_key(5).public());
    let user = addr(&user_key(3));
    let before = net.balance(&user);
    let fx = net
        .exec(
            3,
            TxKind::Stake {
                node,
                amount: Frost(5_000),
            },
        )
        .unwrap();
    assert_eq!(
        fx.events,
        vec![Event::StakeChanged {
            node,
            total: Frost(NODE_STAKE.0 + 5_000)
        }]
    );
    let staked = fx.created[0];
    match net.state.object(&staked) {
        Some(Object::StakedWal(s)) => {
            assert_eq!(
                (s.owner, s.node, s.amount, s.activation_epoch),
                (user, node, Frost(5_000), Epoch(1))
            );
            assert_eq!(s.rewards, Frost::ZERO);
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(
        net.state.system().total_staked,
        Frost(10 * NODE_STAKE.0 + 5_000)
    );
    net.state.check_supply().unwrap();
    net.reject(
        3,
        TxKind::Stake {
            node: NodeId([1; 32]),
            amount: Frost(1),
        },
        "unknown_node",
    );
    net.reject(
        3,
        TxKind::Stake {
            node,
            amount: Frost::ZERO,
        },
        "zero_amount",
    );
    net.reject(
        3,
        TxKind::Stake {
            node,
            amount: USER_FUNDS,
        },
        "insufficient_balance",
    );

    net.reject(3, TxKind::Withdraw { staked }, "withdrawal_not_requested");
    net.reject(2, TxKind::RequestWithdrawal { staked }, "not_owner");
    let fx = net.exec(3, TxKind::RequestWithdrawal { staked }).unwrap();
    assert_eq!(
        fx.events,
        vec![Event::StakeChanged {
            node,
            total: NODE_STAKE
        }]
    );
    net.reject(
        3,
        TxKind::RequestWithdrawal { staked },
        "withdrawal_already_requested",
    );
    // A stake that never activated is withdrawable at once.
    let fx = net.exec(3, TxKind::Withdraw { staked }).unwrap();
    assert_eq!(fx.deleted, vec![staked]);
    assert_eq!(
        fx.events,
        vec![Event::Withdrawn {
            staked,
            owner: user,
            amount: Frost(5_000),
            rewards: Frost::ZERO
        }]
    );
    // Three successes and five failures, each paying its fee.
    assert_eq!(net.balance(&user), Frost(before.0 - 8 * MIN_FEE.0));
    net.reject(3, TxKind::Withdraw { staked }, "unknown_object");
    net.state.check_supply().unwrap();
}

#[test]
fn genesis_stake_can_be_withdrawn() {
    let mut net = Net::new();
    let staked = staked_objects(&net, 1);
    assert_eq!(staked.len(), 3); // nodes 1, 5, 9
    net.exec(1, TxKind::RequestWithdrawal { staked: staked[0] })
        .unwrap();
    net.reject(
        1,
        TxKind::Withdraw { staked: staked[0] },
        "withdrawal_too_early",
    );
    net.advance_epochs(1);
    // Node 1 left the committee: its stake is locked until the new holders of its shards
    // report them synced.
    net.reject(1, TxKind::Withdraw { staked: staked[0] }, "stake_locked");
    net.fund_node_keys();
    // Everyone reports except one new holder of a shard node 1 had: the sync is done (a
    // quorum), but node 1 is still handing that shard over, so its stake stays locked.
    let leaver = net.state.previous_committee().unwrap().shards.clone();
    let (leaver_id, leaver_shards) = leaver
        .iter()
        .find(|(id, _)| net.state.shards_of(id).is_empty())
        .map(|(id, s)| (*id, s.clone()))
        .expect("a node left the committee");
    let gainer = net
        .state
        .committee()
        .members()
        .iter()
        .find(|m| {
            m.node_id != leaver_id && net.state.shards_of(&m.node_id).contains(&leaver_shards[0])
        })
        .cloned()
        .unwrap();
    let epoch = net.state.epoch();
    for m in net.state.committee().members().to_vec() {
        if m.node_id == gainer.node_id || net.state.system().epoch_synced.contains(&m.node_id) {
            continue;
        }
        let key = (0..20)
            .map(node_key)
            .find(|k| k.public() == m.public_key)
            .unwrap();
        net.exec_key(&key, TxKind::EpochSyncDone { epoch }).unwrap();
    }
    assert_eq!(
        net.state.system().epoch_state,
        floe_ledger::EpochState::Normal
    );
    net.reject(1, TxKind::Withdraw { staked: staked[0] }, "stake_locked");
    net.sync_all();
    let before = net.balance(&addr(&user_key(1)));
    net.exec(1, TxKind::Withdraw { staked: staked[0] }).unwrap();
    assert_eq!(
        net.balance(&addr(&user_key(1))),
        Frost(before.0 + NODE_STAKE.0 - MIN_FEE.0)
    );
    net.state.check_supply().unwrap();
}
