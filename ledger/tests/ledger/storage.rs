use floe_common::{Epoch, Frost, ObjectId};
use floe_ledger::{Event, TxKind};

use crate::support::*;

#[test]
fn reserve_prices_by_mib_and_epochs() {
    let mut net = Net::new();
    let a = addr(&user_key(0));
    let before = net.balance(&a);
    let fx = net
        .exec(
            0,
            TxKind::ReserveSpace {
                encoded_size: 2 * MIB + 1,
                epochs_ahead: 4,
            },
        )
        .unwrap();
    let cost = Frost(STORAGE_PRICE.0 * 3 * 4);
    assert_eq!(net.balance(&a), Frost(before.0 - cost.0 - MIN_FEE.0));
    assert_eq!(net.state.system().escrow_total(), cost);
    let id = fx.created[0];
    assert!(matches!(fx.events[0], Event::StorageReserved { cost: c, .. } if c == cost));
    let s = net.storage(&id);
    assert_eq!(
        (s.start_epoch, s.end_epoch, s.size, s.owner),
        (Epoch(0), Epoch(4), 2 * MIB + 1, a)
    );
    assert_eq!(net.state.objects_owned_by(&a).len(), 4); // + genesis stakes of nodes 0, 4, 8
    for (epochs, code) in [
        (0, "epochs_out_of_range"),
        (MAX_AHEAD + 1, "epochs_out_of_range"),
    ] {
        net.reject(
            0,
            TxKind::ReserveSpace {
                encoded_size: MIB,
                epochs_ahead: epochs,
            },
            code,
        );
    }
    net.reject(
        0,
        TxKind::ReserveSpace {
            encoded_size: 0,
            epochs_ahead: 1,
        },
        "zero_amount",
    );
    let big = TxKind::ReserveSpace {
        encoded_size: u64::MAX,
        epochs_ahead: 10,
    };
    net.reject(0, big.clone(), "insufficient_balance");
    let mut g = genesis();
    g.params.storage_price_per_mib_epoch = Frost(u64::MAX / 4);
    let mut net = Net::from_genesis(&g);
    net.reject(0, big, "overflow");
}

#[test]
fn split_and_fuse() {
    let mut net = Net::new();
    let s = net.reserve(0, 10 * MIB, 6);
    // By epoch: [0,2) stays, [2,6) is new.
    let fx = net
        .exec(
            0,
            TxKind::SplitStorageByEpoch {
                storage: s,
                split_epoch: Epoch(2),
            },
        )
        .unwrap();
    let late = fx.created[0];
    assert_eq!(fx.mutated, vec![s]);
    assert_eq!(
        (net.storage(&s).end_epoch, net.storage(&late).start_epoch),
        (Epoch(2), Epoch(2))
    );
    for at in [0, 2, 7] {
        net.reject(
            0,
            TxKind::SplitStorageByEpoch {
                storage: s,
                split_epoch: Epoch(at),
            },
            "invalid_split",
        );
    }
    // By size.
    let fx = net
        .exec(
            0,
            TxKind::SplitStorageBySize {
                storage: late,
                size: 3 * MIB,
            },
        )
        .unwrap();
    let rest = fx.created[0];
    assert_eq!(
        (net.storage(&late).size, net.storage(&rest).size),
        (3 * MIB, 7 * MIB)
    );
    for size in [0, 3 * MIB] {
        net.reject(
            0,
            TxKind::SplitStorageBySize {
                storage: late,
                size,
            },
            "invalid_split",
        );
    }
    // Same period: sizes add.
    let fx = net
        .exec(
            0,
            TxKind::FuseStorage {
                first: late,
                second: rest,
            },
        )
        .unwrap();
    assert_eq!(fx.deleted, vec![rest]);
    assert_eq!(net.storage(&late).size, 10 * MIB);
    assert!(net.state.object(&rest).is_none());
    // Same size, adjacent periods: epochs join (in either order).
    net.exec(
        0,
        TxKind::FuseStorage {
            first: late,
            second: s,
        },
    )
    .unwrap();
    let j = net.storage(&late);
    assert_eq!(
        (j.start_epoch, j.end_epoch, j.size),
        (Epoch(0), Epoch(6), 10 * MIB)
    );
    let other = net.reserve(0, MIB, 3);
    net.reject(
        0,
        TxKind::FuseStorage {
            first: late,
            second: other,
        },
        "incompatible_storage",
    );
    net.reject(
        0,
        TxKind::FuseStorage {
            first: late,
            second: late,
        },
        "incompatible_storage",
    );
    // Ownership and types.
    net.reject(
        1,
        TxKind::SplitStorageBySize {
            storage: late,
            size: 1,
        },
        "not_owner",
    );
    net.reject(
        0,
        TxKind::SplitStorageBySize {
            storage: ObjectId([9; 32]),
            size: 1,
        },
        "unknown_object",
    );
    let staked = net
        .state
        .objects_owned_by(&addr(&user_key(0)))
        .into_iter()
        .find(|(_, o)| o.type_name() == "staked_wal")
        .unwrap()
        .0;
    net.reject(
        0,
        TxKind::SplitStorageBySize {
            storage: staked,
            size: 1,
        },
        "wrong_object_type",
    );
    net.state.check_supply().unwrap();
}
