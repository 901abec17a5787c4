//! A blob object's later life: transfers (`TransferBlob`) and burns (`BurnBlobs`).

use floe_common::{Epoch, ObjectId};
use floe_ledger::{Address, Event, MAX_BURN_BLOBS, TxKind};

use crate::support::*;

fn transfer(blob_object: ObjectId, to: usize) -> TxKind {
    TxKind::TransferBlob {
        blob_object,
        to: addr(&user_key(to)),
    }
}

fn burn(ids: &[ObjectId]) -> TxKind {
    TxKind::BurnBlobs {
        blob_objects: ids.to_vec(),
    }
}

fn owned_by(net: &Net, user: usize) -> Vec<ObjectId> {
    net.state
        .objects_owned_by(&addr(&user_key(user)))
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

#[test]
fn transfer_gives_the_blob_object_and_its_rights() {
    let mut net = Net::new();
    let (obj, blob_id) = net.stored(0, 1, true, 5);
    let (a, b) = (addr(&user_key(0)), addr(&user_key(1)));
    let fx = net.exec(0, transfer(obj, 1)).unwrap();
    assert_eq!(fx.mutated, vec![obj]);
    assert_eq!(
        fx.events,
        vec![Event::BlobTransferred {
            blob_id,
            object_id: obj,
            from: a,
            to: b
        }]
    );
    let blob = net.blob(&obj);
    assert_eq!(blob.owner, b);
    // Everything else stays: certification, end epoch, the index entry.
    assert_eq!(
        (blob.certified_epoch, blob.end_epoch),
        (Some(Epoch(0)), Epoch(5))
    );
    assert!(
        net.state
            .blob_status(&blob_id)
            .unwrap()
            .objects
            .contains(&obj)
    );
    assert!(owned_by(&net, 1).contains(&obj) && !owned_by(&net, 0).contains(&obj));
    assert!(net.state.owner_index_is_consistent());
    // The old owner lost its rights, the new one has them.
    net.reject(0, transfer(obj, 0), "not_owner");
    net.reject(0, TxKind::DeleteBlob { blob_object: obj }, "not_owner");
    net.exec(
        1,
        TxKind::SetBlobAttribute {
            blob_object: obj,
            key: "content-type".into(),
            value: "text/plain".into(),
        },
    )
    .unwrap();
    let fx = net
        .exec(1, TxKind::DeleteBlob { blob_object: obj })
        .unwrap();
    // The remaining storage goes to the new owner.
    assert_eq!(net.storage(&fx.created[0]).owner, b);
    net.state.check_supply().unwrap();
}

#[test]
fn transfer_any_owned_blob_object_and_refusals() {
    let mut net = Net::new();
    // Registered but not certified, and expired: both may be given away.
    let (pending, _) = net.register(0, 1, false, 2);
    net.exec(0, transfer(pending, 2)).unwrap();
    let (old, _) = net.stored(0, 2, false, 1);
    net.advance_epochs(1);
    net.exec(0, transfer(old, 3)).unwrap();
    assert_eq!(net.blob(&old).owner, addr(&user_key(3)));
    // Refusals.
    let (obj, _) = net.stored(0, 3, false, 4);
    net.reject(1, transfer(obj, 1), "not_owner");
    net.reject(0, transfer(ObjectId([5; 32]), 1), "unknown_object");
    let storage = net.reserve(0, MIB, 2);
    net.reject(0, transfer(storage, 1), "wrong_object_type");
    net.reject(
        0,
        TxKind::TransferBlob {
            blob_object: obj,
            to: Address::SHARED,
        },
        "invalid_field",
    );
    // Giving it to oneself changes nothing but is allowed.
    net.exec(0, transfer(obj, 0)).unwrap();
    assert_eq!(net.blob(&obj).owner, addr(&user_key(0)));
}

#[test]
fn burn_drops_expired_and_deletes_live_deletable_blobs() {
    let mut net = Net::new();
    let me = addr(&user_key(0));
    let (old_perm, perm_id) = net.stored(0, 1, false, 1);
    let (old_del, del_id) = net.stored(0, 2, true, 1);
    let (uncertified, unc_id) = net.register(0, 3, false, 1);
    let (live_del, live_id) = net.stored(0, 4, true, 5);
    net.advance_epochs(2);
    let escrow = net.state.system().escrow_total();
    let fx = net
        .exec(0, burn(&[old_perm, old_del, uncertified, live_del]))
        .unwrap();
    let mut gone = vec![old_perm, old_del, uncertified, live_del];
    gone.sort();
    assert_eq!(fx.deleted, gone);
    let burned = |blob_id, object_id, deletable, was_certified| Event::BlobBurned {
        blob_id,
        object_id,
        end_epoch: Epoch(1),
        deletable,
        was_certified,
        epoch: Epoch(2),
    };
    assert_eq!(
        fx.events,
        vec![
            burned(perm_id, old_perm, false, true),
            burned(del_id, old_del, true, true),
            burned(unc_id, uncertified, false, false),
            Event::BlobDeleted {
                blob_id: live_id,
                object_id: live_del,
                end_epoch: Epoch(5),
                was_certified: true,
                epoch: Epoch(2),
            },
        ]
    );
    // Only the live deletable blob returned storage; nothing was refunded.
    assert_eq!(fx.created.len(), 1);
    let s = net.storage(&fx.created[0]);
    assert_eq!(
        (s.owner, s.start_epoch, s.end_epoch),
        (me, Epoch(2), Epoch(5))
    );
    assert_eq!(net.state.system().escrow_total(), escrow);
    for id in [perm_id, del_id, unc_id, live_id] {
        assert!(net.state.blob_status(&id).is_none());
    }
    assert!(owned_by(&net, 0).iter().all(|o| !gone.contains(o)));
    net.state.check_supply().unwrap();
}

#[test]
fn burn_refusals() {
    let mut net = Net::new();
    let (perm, _) = net.stored(0, 1, false, 5);
    let (old, _) = net.stored(0, 2, false, 1);
    let (theirs, _) = net.stored(1, 3, false, 1);
    net.advance_epochs(1);
    net.reject(0, burn(&[perm]), "permanent_not_expired");
    net.reject(0, burn(&[]), "invalid_field");
    net.reject(0, burn(&[old, old]), "invalid_field");
    net.reject(0, burn(&[theirs]), "not_owner");
    net.reject(0, burn(&[ObjectId([4; 32])]), "unknown_object");
    let storage = net.reserve(0, MIB, 2);
    net.reject(0, burn(&[storage]), "wrong_object_type");
    let many: Vec<ObjectId> = (0..=MAX_BURN_BLOBS as u64)
        .map(|i| ObjectId(*blake3::hash(&i.to_le_bytes()).as_bytes()))
        .collect();
    net.reject(0, burn(&many), "too_large");
    // An invalidated permanent blob is over before its end epoch: it may be burned.
    let (bad, bad_id) = net.stored(0, 4, false, 5);
    let cert = net.invalid_cert(bad_id, &VALIDITY);
    net.exec(
        2,
        TxKind::InvalidateBlob {
            blob_id: bad_id,
            certificate: cert,
        },
    )
    .unwrap();
    net.exec(0, burn(&[bad, old])).unwrap();
    // The invalidation is remembered without objects.
    let info = net.state.blob_status(&bad_id).unwrap();
    assert!(info.is_invalid() && info.objects.is_empty());
}

/// A burn is all or nothing: one live permanent blob in the list, and the expired blobs before
/// it stay (the refusal costs only the fee).
#[test]
fn adv_burn_all_or_nothing() {
    let mut net = Net::new();
    let (old, old_id) = net.stored(0, 1, false, 1);
    let (perm, _) = net.stored(0, 2, false, 5);
    net.advance_epochs(1);
    let e = net.reject(0, burn(&[old, perm]), "permanent_not_expired");
    assert!(e.to_string().contains(&perm.to_string()), "{e}");
    assert!(net.state.object(&old).is_some() && net.state.object(&perm).is_some());
    assert_eq!(
        net.state.blob_status(&old_id).unwrap().registered_permanent,
        1
    );
    // A transfer of someone else's blob is refused too.
    net.reject(1, transfer(perm, 1), "not_owner");
    assert_eq!(net.blob(&perm).owner, addr(&user_key(0)));
}

/// Burning (deleting) the longer-lived copy of a blob id recomputes what the index says of the
/// blob's availability: it must not keep claiming the burned copy's end epoch.
#[test]
fn adv_burn_recomputes_availability() {
    let mut net = Net::new();
    let (short, blob_id) = net.stored(0, 1, false, 2);
    let storage = net.reserve(1, MIB, 8);
    let long = net
        .exec(1, Net::register_kind(storage, 1000, 1, true))
        .unwrap()
        .created[0];
    net.certify(1, long, blob_id, true);
    let info = net.state.blob_status(&blob_id).unwrap();
    assert_eq!(info.max_certified_end_epoch, Some(Epoch(8)));
    net.exec(1, burn(&[long])).unwrap();
    let info = net.state.blob_status(&blob_id).unwrap();
    assert_eq!(info.max_certified_end_epoch, Some(Epoch(2)));
    assert_eq!(
        (info.registered_deletable, info.certified_deletable),
        (0, 0)
    );
    assert_eq!(net.state.blob_evidence(&blob_id).unwrap().object_id, short);
    // Then the permanent copy expires and is burned: nothing is left of the blob id.
    net.advance_epochs(2);
    net.exec(0, burn(&[short])).unwrap();
    assert!(net.state.blob_status(&blob_id).is_none());
    net.state.check_supply().unwrap();
}
