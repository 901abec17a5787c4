//! Shared blobs: `ShareBlob`, `FundSharedBlob`, `ExtendSharedBlob`, and what nobody may do to
//! a shared blob.

use floe_common::{BlobPersistence, Epoch, Frost, ObjectId};
use floe_ledger::{Address, Event, Object, TxKind};

use crate::support::*;

fn share(blob_object: ObjectId, amount: u64) -> TxKind {
    TxKind::ShareBlob {
        blob_object,
        amount: Frost(amount),
    }
}

fn fund(shared: ObjectId, amount: u64) -> TxKind {
    TxKind::FundSharedBlob {
        shared,
        amount: Frost(amount),
    }
}

fn extend(shared: ObjectId, epochs_ahead: u32) -> TxKind {
    TxKind::ExtendSharedBlob {
        shared,
        epochs_ahead,
    }
}

#[test]
fn share_fund_and_extend_from_the_funds() {
    let mut net = Net::new();
    let (obj, blob_id) = net.stored(0, 1, false, 3);
    let a = addr(&user_key(0));
    let before = net.balance(&a);
    let fx = net.exec(0, share(obj, 2_500)).unwrap();
    assert_eq!((fx.created.len(), fx.mutated.clone()), (0, vec![obj]));
    assert_eq!(
        fx.events,
        vec![Event::BlobShared {
            blob_id,
            object_id: obj,
            by: a,
            funds: Frost(2_500)
        }]
    );
    assert_eq!(net.balance(&a), Frost(before.0 - 2_500 - MIN_FEE.0));
    let s = net.shared(&obj);
    assert_eq!((s.funds, s.blob.owner), (Frost(2_500), Address::SHARED));
    assert_eq!(s.blob.end_epoch, Epoch(3));
    // Nobody owns it: it is listed under the shared owner, not the sharer.
    assert!(
        net.state
            .objects_owned_by(&Address::SHARED)
            .iter()
            .any(|(id, o)| *id == obj && o.type_name() == "shared_blob")
    );
    assert!(
        net.state
            .objects_owned_by(&a)
            .iter()
            .all(|(id, _)| *id != obj)
    );
    net.state.check_supply().unwrap();

    // Anyone funds it.
    let fx = net.exec(1, fund(obj, 1_000)).unwrap();
    assert_eq!(
        fx.events,
        vec![Event::SharedBlobFunded {
            object_id: obj,
            by: addr(&user_key(1)),
            amount: Frost(1_000),
            funds: Frost(3_500)
        }]
    );
    // Anyone extends it from its funds: 3 epochs × 1 MiB × the storage price.
    let payer = addr(&user_key(2));
    let paid_before = net.balance(&payer);
    let escrow = net.state.system().escrow_total();
    let fx = net.exec(2, extend(obj, 3)).unwrap();
    assert_eq!(
        fx.events,
        vec![
            Event::BlobExtended {
                blob_id,
                object_id: obj,
                end_epoch: Epoch(6),
                deletable: false
            },
            Event::SharedBlobSpent {
                object_id: obj,
                amount: Frost(3 * STORAGE_PRICE.0),
                funds: Frost(500)
            }
        ]
    );
    assert_eq!(net.balance(&payer), Frost(paid_before.0 - MIN_FEE.0));
    assert_eq!(
        net.state.system().escrow_total(),
        Frost(escrow.0 + 3 * STORAGE_PRICE.0)
    );
    let s = net.shared(&obj);
    assert_eq!((s.funds, s.blob.end_epoch), (Frost(500), Epoch(6)));
    let info = net.state.blob_status(&blob_id).unwrap();
    assert_eq!(info.max_certified_end_epoch, Some(Epoch(6)));
    // The extension's block proves the new end epoch.
    let evidence = net.state.blob_evidence(&blob_id).unwrap();
    assert_eq!(
        (evidence.object_id, evidence.height, evidence.end_epoch),
        (obj, net.height, Epoch(6))
    );
    // An ordinary extension of a shared blob is paid by its sender.
    let before = net.balance(&payer);
    net.exec(
        2,
        TxKind::ExtendBlob {
            blob_object: obj,
            epochs_ahead: 1,
        },
    )
    .unwrap();
    assert_eq!(
        net.balance(&payer),
        Frost(before.0 - STORAGE_PRICE.0 - MIN_FEE.0)
    );
    assert_eq!(net.shared(&obj).funds, Frost(500));
    net.state.check_supply().unwrap();
}

#[test]
fn share_refusals() {
    let mut net = Net::new();
    let (pending, _) = net.register(0, 1, false, 3);
    net.reject(0, share(pending, 0), "not_certified");
    let (obj, blob_id) = net.stored(0, 2, true, 3);
    net.reject(1, share(obj, 0), "not_owner");
    net.reject(0, share(ObjectId([3; 32]), 0), "unknown_object");
    let storage = net.reserve(0, MIB, 2);
    net.reject(0, share(storage, 0), "wrong_object_type");
    net.reject(0, share(obj, USER_FUNDS.0 * 2), "insufficient_balance");
    // Shared without funds (a deletable blob too): it can no longer be deleted.
    net.exec(0, share(obj, 0)).unwrap();
    assert_eq!(net.shared(&obj).funds, Frost::ZERO);
    net.reject(0, share(obj, 0), "blob_shared");
    let (old, _) = net.stored(0, 3, false, 1);
    net.advance_epochs(1);
    net.reject(0, share(old, 0), "blob_expired");
    // Invalid blobs are not shared.
    let (bad, bad_id) = net.stored(0, 4, false, 3);
    let cert = net.invalid_cert(bad_id, &VALIDITY);
    net.exec(
        1,
        TxKind::InvalidateBlob {
            blob_id: bad_id,
            certificate: cert,
        },
    )
    .unwrap();
    net.reject(0, share(bad, 0), "blob_invalid");
    // Invalidation reaches shared blobs too.
    let cert = net.invalid_cert(blob_id, &VALIDITY);
    net.exec(
        1,
        TxKind::InvalidateBlob {
            blob_id,
            certificate: cert,
        },
    )
    .unwrap();
    assert!(net.shared(&obj).blob.invalid);
    net.reject(1, fund(obj, 10), "blob_invalid");
}

#[test]
fn fund_and_extend_refusals() {
    let mut net = Net::new();
    let (obj, _) = net.stored(0, 1, false, 2);
    let (owned, _) = net.stored(0, 2, false, 2);
    net.exec(0, share(obj, 1_500)).unwrap();
    net.reject(1, fund(obj, 0), "zero_amount");
    net.reject(1, fund(owned, 10), "wrong_object_type");
    net.reject(1, fund(ObjectId([3; 32]), 10), "unknown_object");
    net.reject(1, fund(obj, USER_FUNDS.0 * 2), "insufficient_balance");
    // Two epochs cost 2 000, the funds hold 1 500.
    let e = net.reject(1, extend(obj, 2), "insufficient_shared_funds");
    assert!(e.to_string().contains("2000"), "{e}");
    net.reject(1, extend(obj, 0), "epochs_out_of_range");
    net.reject(1, extend(obj, MAX_AHEAD), "epochs_out_of_range");
    net.reject(1, extend(owned, 1), "wrong_object_type");
    net.reject(1, extend(ObjectId([3; 32]), 1), "unknown_object");
    net.exec(1, extend(obj, 1)).unwrap();
    assert_eq!(net.shared(&obj).funds, Frost(500));
    net.advance_epochs(3);
    net.reject(1, fund(obj, 10), "blob_expired");
    net.reject(1, extend(obj, 1), "blob_expired");
    net.state.check_supply().unwrap();
}

/// Nobody owns a shared blob: not even the account that shared it may delete, burn, transfer
/// it or change its attributes, and its funds leave it only into the escrow of the epochs an
/// extension adds.
#[test]
fn adv_shared_blob_has_no_owner() {
    let mut net = Net::new();
    let (obj, blob_id) = net.stored(0, 1, true, 4);
    net.exec(0, share(obj, 10_000)).unwrap();
    for user in [0, 1] {
        net.reject(user, TxKind::DeleteBlob { blob_object: obj }, "blob_shared");
        net.reject(
            user,
            TxKind::BurnBlobs {
                blob_objects: vec![obj],
            },
            "blob_shared",
        );
        net.reject(
            user,
            TxKind::TransferBlob {
                blob_object: obj,
                to: addr(&user_key(user)),
            },
            "blob_shared",
        );
        net.reject(
            user,
            TxKind::SetBlobAttribute {
                blob_object: obj,
                key: "content-type".into(),
                value: "text/html".into(),
            },
            "blob_shared",
        );
    }
    // A certificate cannot certify it again either.
    let cert = net.confirmation(blob_id, BlobPersistence::Deletable(obj), &QUORUM);
    net.reject(
        1,
        TxKind::CertifyBlob {
            blob_object: obj,
            certificate: cert,
        },
        "blob_shared",
    );
    // It stays until it expires, with its funds.
    net.advance_epochs(4);
    net.reject(0, TxKind::DeleteBlob { blob_object: obj }, "blob_shared");
    match net.state.object(&obj) {
        Some(Object::SharedBlob(s)) => assert_eq!(s.funds, Frost(10_000)),
        o => panic!("{o:?}"),
    }
    net.state.check_supply().unwrap();
}

/// An extension beyond the funds is refused whole: the funds are not overdrawn, the sender's
/// balance is not tapped, and no epoch is added.
#[test]
fn adv_shared_extension_cannot_overdraw() {
    let mut net = Net::new();
    let (obj, _) = net.stored(0, 1, false, 2);
    net.exec(0, share(obj, STORAGE_PRICE.0 - 1)).unwrap();
    net.reject(1, extend(obj, 1), "insufficient_shared_funds");
    let s = net.shared(&obj);
    assert_eq!(
        (s.funds, s.blob.end_epoch),
        (Frost(STORAGE_PRICE.0 - 1), Epoch(2))
    );
    net.exec(1, fund(obj, 1)).unwrap();
    net.exec(1, extend(obj, 1)).unwrap();
    let s = net.shared(&obj);
    assert_eq!((s.funds, s.blob.end_epoch), (Frost::ZERO, Epoch(3)));
    net.state.check_supply().unwrap();
}
