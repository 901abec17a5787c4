use floe_common::{BlobId, BlobPersistence, Epoch, Frost, ObjectId};
use floe_ledger::{Event, TxKind};

use crate::support::*;

fn certify_kind(blob_object: ObjectId, certificate: floe_common::Certificate) -> TxKind {
    TxKind::CertifyBlob {
        blob_object,
        certificate,
    }
}

#[test]
fn register_consumes_storage_and_pays_write_price() {
    let mut net = Net::new();
    let a = addr(&user_key(0));
    let storage = net.reserve(0, MIB, 5);
    let before = net.balance(&a);
    let fund = net.state.system().escrow_total();
    let fx = net
        .exec(0, Net::register_kind(storage, 1000, 1, false))
        .unwrap();
    let obj = fx.created[0];
    assert_eq!(fx.deleted, vec![storage]);
    assert!(net.state.object(&storage).is_none());
    // 100 shards: the encoded length of a 1000-byte blob is below 1 MiB → one unit.
    assert_eq!(net.balance(&a), Frost(before.0 - WRITE_PRICE.0 - MIN_FEE.0));
    assert_eq!(
        net.state.system().escrow_total(),
        Frost(fund.0 + WRITE_PRICE.0)
    );
    let (blob_id, _) = blob_fixture(1000, 1);
    assert_eq!(
        fx.events,
        vec![Event::BlobRegistered {
            blob_id,
            object_id: obj,
            epoch: Epoch(0),
            end_epoch: Epoch(5),
            deletable: false,
            size: 1000,
            encoding_type: floe_common::EncodingType::RedStuffRs2,
        }]
    );
    let b = net.blob(&obj);
    assert_eq!(
        (b.owner, b.blob_id, b.end_epoch, b.size, b.certified_epoch),
        (a, blob_id, Epoch(5), MIB, None)
    );
    let info = net.state.blob_status(&blob_id).unwrap();
    assert_eq!(
        (
            info.registered_permanent,
            info.registered_deletable,
            info.certified_permanent
        ),
        (1, 0, 0)
    );
    assert!(info.objects.contains(&obj));
    net.state.check_supply().unwrap();
}

#[test]
fn register_rejections() {
    let mut net = Net::new();
    let storage = net.reserve(0, MIB, 3);
    // Blob id that does not derive from the inputs.
    let mut kind = Net::register_kind(storage, 1000, 1, false);
    if let TxKind::RegisterBlob { blob_id, .. } = &mut kind {
        *blob_id = BlobId([7; 32]);
    }
    net.reject(0, kind, "blob_id_mismatch");
    net.reject(
        0,
        Net::register_kind(storage, 2_000_000, 1, false),
        "storage_too_small",
    );
    net.reject(
        0,
        Net::register_kind(storage, u64::MAX, 1, false),
        "too_large",
    );
    net.reject(1, Net::register_kind(storage, 1000, 1, false), "not_owner");
    net.reject(
        0,
        Net::register_kind(ObjectId([1; 32]), 1000, 1, false),
        "unknown_object",
    );
    let (blob_obj, _) = net.register(0, 2, false, 3);
    net.reject(
        0,
        Net::register_kind(blob_obj, 1000, 1, false),
        "wrong_object_type",
    );
    // Storage that starts later.
    let later = net
        .exec(
            0,
            TxKind::SplitStorageByEpoch {
                storage,
                split_epoch: Epoch(1),
            },
        )
        .unwrap()
        .created[0];
    net.reject(
        0,
        Net::register_kind(later, 1000, 1, false),
        "storage_not_started",
    );
    net.advance_epochs(1);
    net.reject(
        0,
        Net::register_kind(storage, 1000, 1, false),
        "storage_expired",
    );
    net.exec(0, Net::register_kind(later, 1000, 1, false))
        .unwrap();
}

#[test]
fn certify_permanent_and_deletable() {
    let mut net = Net::new();
    let (perm, perm_id) = net.register(0, 1, false, 4);
    let fx = net.certify(0, perm, perm_id, false);
    assert_eq!(
        fx.events,
        vec![Event::BlobCertified {
            blob_id: perm_id,
            object_id: perm,
            end_epoch: Epoch(4),
            deletable: false,
            epoch: Epoch(0)
        }]
    );
    assert_eq!(net.blob(&perm).certified_epoch, Some(Epoch(0)));
    let cert = net.confirmation(perm_id, BlobPersistence::Permanent, &QUORUM);
    net.reject(0, certify_kind(perm, cert), "already_certified");

    // A deletable registration of the same blob id, certified in a later epoch by someone else.
    net.advance_epochs(1);
    let storage = net.reserve(1, MIB, 5);
    let del = net
        .exec(1, Net::register_kind(storage, 1000, 1, true))
        .unwrap()
        .created[0];
    let wrong_obj = net.confirmation(perm_id, BlobPersistence::Deletable(perm), &QUORUM);
    net.reject(2, certify_kind(del, wrong_obj), "wrong_certificate_message");
    let permanent = net.confirmation(perm_id, BlobPersistence::Permanent, &QUORUM);
    net.reject(2, certify_kind(del, permanent), "wrong_certificate_message");
    net.certify(2, del, perm_id, true);
    let info = net.state.blob_status(&perm_id).unwrap();
    assert_eq!(
        (
            info.registered_permanent,
            info.registered_deletable,
            info.certified_permanent,
            info.certified_deletable
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(info.initial_certified_epoch, Some(Epoch(0)));
    assert_eq!(info.max_certified_end_epoch, Some(Epoch(6)));
    net.state.check_supply().unwrap();
}

#[test]
fn certificate_rejections() {
    let mut net = Net::new();
    let (obj, blob_id) = net.register(0, 1, false, 4);
    let p = BlobPersistence::Permanent;
    let below = net.confirmation(blob_id, p, &BELOW_QUORUM);
    let e = net.reject(0, certify_kind(obj, below), "certificate_invalid");
    assert!(e.to_string().contains("below"), "{e}");
    let other = net.confirmation(BlobId([3; 32]), p, &QUORUM);
    net.reject(0, certify_kind(obj, other), "wrong_certificate_message");
    let old = net.cert_of(
        Epoch(1),
        floe_common::StorageConfirmation {
            blob_id,
            persistence: p,
        },
        &QUORUM,
    );
    let e = net.reject(0, certify_kind(obj, old), "certificate_invalid");
    assert!(e.to_string().contains("epoch"), "{e}");
    // A signer outside the committee (bit 10 of a 10-member committee).
    let mut unknown = net.confirmation(blob_id, p, &QUORUM);
    unknown.signers[1] |= 1 << 2;
    unknown.signatures.push(unknown.signatures[0]);
    net.reject(0, certify_kind(obj, unknown), "certificate_invalid");
    // One signature repeated in place of another's.
    let mut dup = net.confirmation(blob_id, p, &QUORUM);
    dup.signatures[1] = dup.signatures[0];
    net.reject(0, certify_kind(obj, dup), "certificate_invalid");
    // More signatures than signers.
    let mut extra = net.confirmation(blob_id, p, &QUORUM);
    extra.signatures.push(extra.signatures[0]);
    net.reject(0, certify_kind(obj, extra), "certificate_invalid");
    // The builder refuses a duplicate signer outright.
    let c = net.state.committee().clone();
    let mut b = floe_common::CertificateBuilder::<floe_common::StorageConfirmation>::new(&c, CHAIN);
    let msg = floe_common::ProtocolMessage::new(
        CHAIN,
        Epoch(0),
        floe_common::StorageConfirmation {
            blob_id,
            persistence: p,
        },
    );
    let i = (0..10)
        .find(|&i| c.members()[0].public_key == node_key(i).public())
        .unwrap();
    let signed = floe_common::SignedMessage::sign(&node_key(i), &msg);
    b.add(0, &signed).unwrap();
    assert!(b.add(0, &signed).is_err());
    // Expired blob.
    net.advance_epochs(4);
    let late = net.confirmation(blob_id, p, &QUORUM);
    net.reject(0, certify_kind(obj, late), "blob_expired");
}

#[test]
fn extend_certified_blobs() {
    let mut net = Net::new();
    let (obj, blob_id) = net.register(0, 1, false, 3);
    net.reject(
        1,
        TxKind::ExtendBlob {
            blob_object: obj,
            epochs_ahead: 1,
        },
        "not_certified",
    );
    net.certify(0, obj, blob_id, false);
    let payer = addr(&user_key(1));
    let before = net.balance(&payer);
    // Anyone may pay for an extension.
    let fx = net
        .exec(
            1,
            TxKind::ExtendBlob {
                blob_object: obj,
                epochs_ahead: 2,
            },
        )
        .unwrap();
    assert_eq!(
        net.balance(&payer),
        Frost(before.0 - 2 * STORAGE_PRICE.0 - MIN_FEE.0)
    );
    assert!(matches!(
        fx.events[0],
        Event::BlobExtended {
            end_epoch: Epoch(5),
            ..
        }
    ));
    assert_eq!(net.blob(&obj).end_epoch, Epoch(5));
    assert_eq!(
        net.state
            .blob_status(&blob_id)
            .unwrap()
            .max_certified_end_epoch,
        Some(Epoch(5))
    );
    net.reject(
        1,
        TxKind::ExtendBlob {
            blob_object: obj,
            epochs_ahead: 6,
        },
        "epochs_out_of_range",
    );
    net.reject(
        1,
        TxKind::ExtendBlob {
            blob_object: obj,
            epochs_ahead: 0,
        },
        "epochs_out_of_range",
    );
    net.exec(
        1,
        TxKind::ExtendBlob {
            blob_object: obj,
            epochs_ahead: 5,
        },
    )
    .unwrap();
    net.advance_epochs(10);
    net.reject(
        1,
        TxKind::ExtendBlob {
            blob_object: obj,
            epochs_ahead: 1,
        },
        "blob_expired",
    );
    net.state.check_supply().unwrap();
}

#[test]
fn delete_returns_storage() {
    let mut net = Net::new();
    let (perm, _) = net.register(0, 1, false, 5);
    net.reject(0, TxKind::DeleteBlob { blob_object: perm }, "not_deletable");
    let (del, blob_id) = net.register(0, 2, true, 5);
    net.certify(0, del, blob_id, true);
    net.reject(1, TxKind::DeleteBlob { blob_object: del }, "not_owner");
    net.advance_epochs(2);
    let fx = net
        .exec(0, TxKind::DeleteBlob { blob_object: del })
        .unwrap();
    assert_eq!(fx.deleted, vec![del]);
    assert_eq!(
        fx.events,
        vec![Event::BlobDeleted {
            blob_id,
            object_id: del,
            end_epoch: Epoch(5),
            was_certified: true,
            epoch: Epoch(2)
        }]
    );
    let s = net.storage(&fx.created[0]);
    assert_eq!(
        (s.start_epoch, s.end_epoch, s.size, s.owner),
        (Epoch(2), Epoch(5), MIB, addr(&user_key(0)))
    );
    assert!(net.state.blob_status(&blob_id).is_none());
    // The storage can be reused.
    net.exec(0, Net::register_kind(fx.created[0], 1000, 2, true))
        .unwrap();
    net.state.check_supply().unwrap();
}

#[test]
fn invalidate_marks_every_object() {
    let mut net = Net::new();
    let (a, blob_id) = net.register(0, 1, false, 5);
    let storage = net.reserve(1, MIB, 5);
    let b = net
        .exec(1, Net::register_kind(storage, 1000, 1, true))
        .unwrap()
        .created[0];
    let below = net.invalid_cert(blob_id, &BELOW_VALIDITY);
    net.reject(
        2,
        TxKind::InvalidateBlob {
            blob_id,
            certificate: below,
        },
        "certificate_invalid",
    );
    let other = net.invalid_cert(BlobId([1; 32]), &VALIDITY);
    net.reject(
        2,
        TxKind::InvalidateBlob {
            blob_id,
            certificate: other,
        },
        "wrong_certificate_message",
    );
    // A storage confirmation is not an invalid-blob message.
    let conf = net.confirmation(blob_id, BlobPersistence::Permanent, &QUORUM);
    net.reject(
        2,
        TxKind::InvalidateBlob {
            blob_id,
            certificate: conf,
        },
        "certificate_invalid",
    );
    let cert = net.invalid_cert(blob_id, &VALIDITY);
    let fx = net
        .exec(
            2,
            TxKind::InvalidateBlob {
                blob_id,
                certificate: cert.clone(),
            },
        )
        .unwrap();
    assert_eq!(
        fx.events,
        vec![Event::BlobInvalidated {
            blob_id,
            epoch: Epoch(0)
        }]
    );
    assert_eq!(fx.mutated, {
        let mut v = vec![a, b];
        v.sort();
        v
    });
    assert!(net.blob(&a).invalid && net.blob(&b).invalid);
    assert_eq!(
        net.state.blob_status(&blob_id).unwrap().invalidated_epoch,
        Some(Epoch(0))
    );
    net.reject(
        2,
        TxKind::InvalidateBlob {
            blob_id,
            certificate: cert,
        },
        "already_invalid",
    );
    let conf = net.confirmation(blob_id, BlobPersistence::Permanent, &QUORUM);
    net.reject(0, certify_kind(a, conf), "blob_invalid");
    let s = net.reserve(0, MIB, 2);
    net.reject(0, Net::register_kind(s, 1000, 1, false), "blob_invalid");
}

#[test]
fn attributes() {
    let mut net = Net::new();
    let (obj, _) = net.register(0, 1, false, 5);
    let set = |k: &str, v: &str| TxKind::SetBlobAttribute {
        blob_object: obj,
        key: k.into(),
        value: v.into(),
    };
    net.exec(0, set("content-type", "text/plain")).unwrap();
    net.exec(0, set("content-type", "image/png")).unwrap();
    assert_eq!(net.blob(&obj).attributes["content-type"], "image/png");
    net.reject(1, set("a", "b"), "not_owner");
    net.reject(0, set("", "b"), "invalid_field");
    net.reject(0, set(&"k".repeat(129), "b"), "too_large");
    net.reject(0, set("k", &"v".repeat(1025)), "too_large");
    for i in 1..32 {
        net.exec(0, set(&format!("k{i}"), "v")).unwrap();
    }
    net.reject(0, set("one-too-many", "v"), "too_many_attributes");
    net.exec(0, set("k1", "replace is fine at the limit"))
        .unwrap();
    let remove = |k: &str| TxKind::RemoveBlobAttribute {
        blob_object: obj,
        key: k.into(),
    };
    net.exec(0, remove("k1")).unwrap();
    net.reject(0, remove("k1"), "unknown_attribute");
    assert_eq!(net.blob(&obj).attributes.len(), 31);
}

/// Storage nodes that reuse their keys on another network: their confirmations signed there
/// do not certify a blob here, and their attestations there do not invalidate one here.
#[test]
fn adv_cross_chain_certificate_refused() {
    let mut net = Net::new();
    let (obj, blob_id) = net.register(0, 1, false, 4);
    let p = BlobPersistence::Permanent;
    let epoch = net.state.epoch();
    let body = floe_common::StorageConfirmation {
        blob_id,
        persistence: p,
    };
    let foreign = net.cert_on("another-network", epoch, body, &QUORUM);
    let e = net.reject(0, certify_kind(obj, foreign), "certificate_invalid");
    assert!(e.to_string().contains("chain"), "{e}");
    let foreign = net.cert_on(
        "another-network",
        epoch,
        floe_common::messages::InvalidBlobIdMsg { blob_id },
        &QUORUM,
    );
    net.reject(
        0,
        TxKind::InvalidateBlob {
            blob_id,
            certificate: foreign,
        },
        "certificate_invalid",
    );
    // The same signers, signing for this network, certify it.
    net.certify(0, obj, blob_id, false);
}
