use std::collections::BTreeMap;

use floe_common::{Frost, ShardIndex};
use floe_ledger::{ApportionError, GenesisError, State, node_id_of};

use crate::support::*;

#[test]
fn genesis_committee_is_apportioned_by_stake() {
    let g = genesis();
    g.validate().unwrap();
    let c = g.committee().unwrap();
    assert_eq!(c.committee.members().len(), 10);
    assert!(c.committee.members().iter().all(|m| m.weight == 10));
    let ids: Vec<_> = c.committee.members().iter().map(|m| m.node_id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "members in node-id order");
    let mut next = 0u16;
    for id in &ids {
        let shards = &c.shards[id];
        assert_eq!(
            shards,
            &(next..next + 10).map(ShardIndex).collect::<Vec<_>>()
        );
        next += 10;
    }
    // Unequal stakes, with the cap.
    let mut g = genesis();
    g.storage_nodes[3].stake = Frost(NODE_STAKE.0 * 20);
    g.params.max_shards_per_node = 25;
    let c = g.committee().unwrap();
    let big = node_id_of(&node_key(3).public());
    assert_eq!(
        c.committee.members()[c.committee.index_of(&big).unwrap()].weight,
        25
    );
    assert_eq!(c.shards[&big].len(), 25);
    // Deterministic in input order.
    let mut r = g.clone();
    r.storage_nodes.reverse();
    assert_eq!(r.committee().unwrap(), c);
}

#[test]
fn state_exposes_committee_and_shards() {
    let net = Net::new();
    let id = node_id_of(&node_key(0).public());
    assert_eq!(net.state.shards_of(&id).len(), 10);
    assert_eq!(net.state.shard_assignment().len(), 10);
    assert_eq!(net.state.nodes().count(), 10);
    assert_eq!(net.state.node(&id).unwrap().total_stake, NODE_STAKE);
    assert_eq!(net.state.chain_id(), CHAIN);
    net.state.check_supply().unwrap();
}

#[test]
fn genesis_validation_errors() {
    let check = |f: &dyn Fn(&mut floe_ledger::Genesis), want: &dyn Fn(&GenesisError) -> bool| {
        let mut g = genesis();
        f(&mut g);
        let e = g.validate().unwrap_err();
        assert!(want(&e), "{e:?}");
        assert!(State::from_genesis(&g).is_err());
    };
    check(&|g| g.validators.clear(), &|e| {
        matches!(e, GenesisError::NoValidators)
    });
    check(&|g| g.validators[1].voting_power = 0, &|e| {
        matches!(e, GenesisError::ZeroVotingPower(_))
    });
    check(
        &|g| g.validators[1].public_key = g.validators[0].public_key,
        &|e| matches!(e, GenesisError::Duplicate(_)),
    );
    check(
        &|g| g.validators[1].name = g.validators[0].name.clone(),
        &|e| matches!(e, GenesisError::Duplicate(_)),
    );
    check(&|g| g.storage_nodes[1].name = "node-0".into(), &|e| {
        matches!(e, GenesisError::Duplicate(_))
    });
    check(
        &|g| g.storage_nodes[1].public_key = node_key(0).public(),
        &|e| matches!(e, GenesisError::Duplicate(_)),
    );
    check(&|g| g.accounts.push(g.accounts[0]), &|e| {
        matches!(e, GenesisError::Duplicate(_))
    });
    check(&|g| g.n_shards = 3, &|e| {
        matches!(e, GenesisError::ShardCount(3))
    });
    check(&|g| g.storage_nodes.clear(), &|e| {
        matches!(e, GenesisError::Apportion(ApportionError::NoStake))
    });
    check(
        &|g| {
            g.storage_nodes
                .iter_mut()
                .for_each(|n| n.stake = Frost::ZERO)
        },
        &|e| matches!(e, GenesisError::Apportion(ApportionError::NoStake)),
    );
    check(&|g| g.params.max_shards_per_node = 9, &|e| {
        matches!(e, GenesisError::Apportion(ApportionError::CapTooLow { .. }))
    });
    check(&|g| g.params.epoch_duration_ms = 0, &|e| {
        matches!(e, GenesisError::Invalid { .. })
    });
    check(&|g| g.chain_id.clear(), &|e| {
        matches!(e, GenesisError::Invalid { .. })
    });
    check(&|g| g.storage_nodes[0].commission_bps = 10_001, &|e| {
        matches!(e, GenesisError::Invalid { .. })
    });
    check(&|g| g.accounts[0].1 = Frost(u64::MAX), &|e| {
        matches!(e, GenesisError::Overflow)
    });
    // The faucet: a devnet's only, with caps in order, and its total mintable.
    check(&|g| g.devnet = false, &|e| {
        matches!(e, GenesisError::FaucetNotDevnet)
    });
    let faucet = |change: fn(&mut floe_ledger::FaucetParams)| {
        move |g: &mut floe_ledger::Genesis| change(g.faucet.as_mut().unwrap())
    };
    let bad_faucet =
        |e: &GenesisError| matches!(e, GenesisError::Invalid { field, .. } if field == "faucet");
    check(&faucet(|f| f.max_per_call = Frost::ZERO), &bad_faucet);
    check(
        &faucet(|f| f.max_per_call = Frost(f.max_per_account.0 + 1)),
        &bad_faucet,
    );
    check(
        &faucet(|f| f.max_per_epoch = Frost(f.max_total.0 + 1)),
        &bad_faucet,
    );
    check(&faucet(|f| f.max_total = Frost(u64::MAX)), &|e| {
        matches!(e, GenesisError::Overflow)
    });
}

#[test]
fn genesis_json_and_digest() {
    let g = genesis();
    let json = serde_json::to_string_pretty(&g).unwrap();
    let back: floe_ledger::Genesis = serde_json::from_str(&json).unwrap();
    assert_eq!(back, g);
    assert_eq!(back.digest(), g.digest());
    let mut other = g.clone();
    other.chain_id = "other".into();
    assert_ne!(other.digest(), g.digest());
    let bad = json.replacen("\"min_fee\"", "\"surprise\": 1, \"min_fee\"", 1);
    assert!(serde_json::from_str::<floe_ledger::Genesis>(&bad).is_err());
}

#[test]
fn genesis_changes_rebuild_the_state() {
    let mut state = State::from_genesis(&genesis()).unwrap();
    let changes = state.take_changes();
    assert_eq!(changes.len(), state.entries().len());
    assert!(changes.windows(2).all(|w| w[0].0 < w[1].0));
    let rebuilt = State::from_entries(changes.into_iter().map(|(k, v)| (k, v.unwrap()))).unwrap();
    assert!(rebuilt == state);
    assert_eq!(rebuilt.digest(), state.digest());
    assert!(state.take_changes().is_empty());
    let mut store: BTreeMap<Vec<u8>, Vec<u8>> = state.entries().into_iter().collect();
    store.remove(&vec![6u8]);
    assert!(State::from_entries(store).is_err());
    assert!(State::from_entries([(vec![9u8], vec![])]).is_err());
}
