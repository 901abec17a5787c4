//! Access policies of private blobs: `CreatePolicy`, `UpdateAllowlist`, `PayForAccess`, and
//! the evaluation a key server runs against the state.

use floe_common::{Epoch, Frost, ObjectId};
use floe_ledger::policy::{
    Denial, LedgerClock, MAX_ALLOWLIST, MAX_POLICY_DEPTH, PolicyRule, Unlock, access_object_id,
    evaluate,
};
use floe_ledger::{Address, Event, Object, TxKind};

use crate::support::*;

fn create(net: &mut Net, user: usize, rule: PolicyRule) -> ObjectId {
    let fx = net.exec(user, TxKind::CreatePolicy { rule }).unwrap();
    assert_eq!(fx.created.len(), 1);
    fx.created[0]
}

fn allows(net: &Net, policy: &ObjectId, reader: &Address) -> Result<(), Denial> {
    let clock = LedgerClock {
        epoch: net.state.epoch(),
        time_ms: net.time_ms,
    };
    evaluate(policy, reader, clock, &|id| net.state.object(id).cloned())
}

fn user(i: usize) -> Address {
    addr(&user_key(i))
}

#[test]
fn allowlist_add_and_remove_change_who_is_allowed() {
    let mut net = Net::new();
    let list = create(
        &mut net,
        0,
        PolicyRule::Allowlist {
            members: [user(1)].into(),
        },
    );
    assert_eq!(allows(&net, &list, &user(0)), Ok(()), "the owner reads");
    assert_eq!(allows(&net, &list, &user(1)), Ok(()));
    assert!(matches!(
        allows(&net, &list, &user(2)),
        Err(Denial::NotListed { .. })
    ));
    let fx = net
        .exec(
            0,
            TxKind::UpdateAllowlist {
                policy: list,
                add: vec![user(2)],
                remove: vec![user(1)],
            },
        )
        .unwrap();
    assert_eq!(
        fx.events,
        vec![Event::AllowlistUpdated {
            policy: list,
            version: 1,
            members: 1
        }]
    );
    assert_eq!(allows(&net, &list, &user(2)), Ok(()));
    assert!(allows(&net, &list, &user(1)).is_err(), "removed");

    // Only the owner edits it; only an allowlist is edited.
    let edit = TxKind::UpdateAllowlist {
        policy: list,
        add: vec![user(3)],
        remove: vec![],
    };
    net.reject(2, edit, "not_owner");
    let owner_only = create(&mut net, 0, PolicyRule::Owner);
    let edit = TxKind::UpdateAllowlist {
        policy: owner_only,
        add: vec![user(3)],
        remove: vec![],
    };
    net.reject(0, edit, "wrong_object_type");
    let edit = TxKind::UpdateAllowlist {
        policy: ObjectId([7; 32]),
        add: vec![],
        remove: vec![],
    };
    net.reject(0, edit, "unknown_object");
    let too_many = (0..=MAX_ALLOWLIST as u32)
        .map(|i| {
            let mut a = [0u8; 32];
            a[..4].copy_from_slice(&i.to_le_bytes());
            Address(a)
        })
        .collect::<Vec<_>>();
    let edit = TxKind::UpdateAllowlist {
        policy: list,
        add: too_many[..MAX_ALLOWLIST / 2 + 1].to_vec(),
        remove: vec![],
    };
    net.exec(0, edit).unwrap();
    let edit = TxKind::UpdateAllowlist {
        policy: list,
        add: too_many[MAX_ALLOWLIST / 2..].to_vec(),
        remove: vec![],
    };
    net.reject(0, edit, "invalid_policy");
    net.state.check_supply().unwrap();
}

#[test]
fn owner_and_timelock_by_epoch_and_by_block_time() {
    let mut net = Net::new();
    let owner = create(&mut net, 0, PolicyRule::Owner);
    assert_eq!(allows(&net, &owner, &user(0)), Ok(()));
    assert_eq!(
        allows(&net, &owner, &user(1)),
        Err(Denial::NotOwner {
            policy: owner,
            owner: user(0)
        })
    );
    let at = net.state.epoch().0 + 2;
    let by_epoch = create(
        &mut net,
        0,
        PolicyRule::Timelock {
            unlock: Unlock::Epoch(Epoch(at)),
        },
    );
    let opens = net.time_ms + 5_000;
    let by_time = create(
        &mut net,
        0,
        PolicyRule::Timelock {
            unlock: Unlock::TimeMs(opens),
        },
    );
    for p in [by_epoch, by_time] {
        assert!(matches!(
            allows(&net, &p, &user(0)),
            Err(Denial::Locked { .. })
        ));
    }
    net.block_at(opens);
    assert_eq!(allows(&net, &by_time, &user(3)), Ok(()));
    assert!(allows(&net, &by_epoch, &user(3)).is_err());
    net.advance_epochs(2);
    assert_eq!(net.state.epoch(), Epoch(at));
    assert_eq!(allows(&net, &by_epoch, &user(3)), Ok(()));
}

#[test]
fn paid_access_pays_the_owner_and_ends_after_its_epochs() {
    let mut net = Net::new();
    let price = Frost(5_000);
    let paid = create(&mut net, 0, PolicyRule::Paid { price, epochs: 2 });
    let (owner, reader) = (user(0), user(1));
    assert!(matches!(
        allows(&net, &paid, &reader),
        Err(Denial::NotPaid { ended: None, .. })
    ));
    // A price above the reader's limit is refused, and nothing moves.
    let pay = |max: u64| TxKind::PayForAccess {
        policy: paid,
        max_price: Frost(max),
    };
    net.reject(1, pay(4_999), "price_above_limit");

    let (owner_before, reader_before) = (net.balance(&owner), net.balance(&reader));
    let start = net.state.epoch();
    let fx = net.exec(1, pay(5_000)).unwrap();
    let until = Epoch(start.0 + 2);
    assert_eq!(
        fx.events,
        vec![Event::AccessPaid {
            policy: paid,
            reader,
            until,
            price
        }]
    );
    assert_eq!(net.balance(&owner), Frost(owner_before.0 + price.0));
    assert_eq!(
        net.balance(&reader),
        Frost(reader_before.0 - price.0 - MIN_FEE.0)
    );
    let access = access_object_id(&paid, &reader);
    assert!(matches!(net.state.object(&access), Some(Object::Access(a)) if a.until == until));
    assert!(
        net.state
            .objects_owned_by(&reader)
            .iter()
            .any(|(id, _)| *id == access)
    );
    assert_eq!(allows(&net, &paid, &reader), Ok(()));
    net.advance_epochs(1);
    assert_eq!(allows(&net, &paid, &reader), Ok(()));
    net.advance_epochs(1);
    assert_eq!(
        allows(&net, &paid, &reader),
        Err(Denial::NotPaid {
            policy: paid,
            reader,
            ended: Some(until),
            price
        })
    );
    // Paying again starts from now; paying during a running access extends it.
    net.exec(1, pay(5_000)).unwrap();
    net.exec(1, pay(5_000)).unwrap();
    let now = net.state.epoch();
    assert!(
        matches!(net.state.object(&access), Some(Object::Access(a)) if a.until == Epoch(now.0 + 4))
    );
    net.state.check_supply().unwrap();

    // Not a paid policy; a reader who cannot pay.
    let owner_only = create(&mut net, 0, PolicyRule::Owner);
    net.reject(
        1,
        TxKind::PayForAccess {
            policy: owner_only,
            max_price: Frost(1),
        },
        "wrong_object_type",
    );
    let dear = create(
        &mut net,
        0,
        PolicyRule::Paid {
            price: Frost(u64::MAX / 2),
            epochs: 1,
        },
    );
    net.reject(
        1,
        TxKind::PayForAccess {
            policy: dear,
            max_price: Frost(u64::MAX),
        },
        "insufficient_balance",
    );
}

#[test]
fn compositions_need_existing_policies_and_bounded_depth() {
    let mut net = Net::new();
    let list = create(
        &mut net,
        0,
        PolicyRule::Allowlist {
            members: [user(1), user(2)].into(),
        },
    );
    let paid = create(
        &mut net,
        0,
        PolicyRule::Paid {
            price: Frost(10),
            epochs: 3,
        },
    );
    // Another account's policies may be composed: a policy is a public rule.
    let lock = create(
        &mut net,
        3,
        PolicyRule::Timelock {
            unlock: Unlock::Epoch(Epoch(50)),
        },
    );
    let both = create(
        &mut net,
        0,
        PolicyRule::And {
            left: list,
            right: paid,
        },
    );
    let either = create(
        &mut net,
        0,
        PolicyRule::Or {
            left: both,
            right: lock,
        },
    );
    assert!(matches!(
        allows(&net, &either, &user(1)),
        Err(Denial::OrRefused { .. })
    ));
    net.exec(
        1,
        TxKind::PayForAccess {
            policy: paid,
            max_price: Frost(10),
        },
    )
    .unwrap();
    assert_eq!(allows(&net, &both, &user(1)), Ok(()));
    assert_eq!(allows(&net, &either, &user(1)), Ok(()));
    assert!(allows(&net, &either, &user(2)).is_err(), "listed, not paid");

    let and = |left, right| TxKind::CreatePolicy {
        rule: PolicyRule::And { left, right },
    };
    net.reject(0, and(list, ObjectId([9; 32])), "unknown_object");
    net.reject(0, and(list, list), "invalid_policy");
    // A blob object is not a policy.
    let (blob_object, _) = net.stored(0, 1, false, 3);
    net.reject(0, and(list, blob_object), "wrong_object_type");
    // Depth: a chain of compositions stops at the limit.
    let mut top = both; // depth 2
    for _ in 2..MAX_POLICY_DEPTH {
        top = create(
            &mut net,
            0,
            PolicyRule::Or {
                left: top,
                right: lock,
            },
        );
    }
    net.reject(0, and(top, lock), "invalid_policy");

    // Leaf rules that do not validate.
    for rule in [
        PolicyRule::Paid {
            price: Frost::ZERO,
            epochs: 1,
        },
        PolicyRule::Paid {
            price: Frost(1),
            epochs: 0,
        },
        PolicyRule::Paid {
            price: Frost(1),
            epochs: 10_000,
        },
        PolicyRule::Allowlist {
            members: (0..=MAX_ALLOWLIST as u32)
                .map(|i| {
                    let mut a = [1u8; 32];
                    a[..4].copy_from_slice(&i.to_le_bytes());
                    Address(a)
                })
                .collect(),
        },
    ] {
        net.reject(0, TxKind::CreatePolicy { rule }, "invalid_policy");
    }
    net.state.check_supply().unwrap();
}
