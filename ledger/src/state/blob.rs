//! Blobs: register, certify, extend, delete, invalidate, attributes, transfer, burn.
//!
//! Rules of the blob object's later life (shared blobs are in `shared`):
//! - **Transfer** (`TransferBlob`): the owner gives any of its blob objects (certified or not,
//!   live or expired) to another account; never to [`Address::SHARED`].
//! - **Burn** (`BurnBlobs`): the owner removes blob objects, all listed or none. An expired (or
//!   invalidated permanent) one is dropped without returning anything (`BlobBurned`); a live
//!   deletable one is deleted (`BlobDeleted`, its remaining storage returns as a storage
//!   object); a live, valid permanent one is refused (`permanent_not_expired`).
//!   Either way the blob id's index forgets the object, so counts stay those of the objects
//!   that exist.

use floe_common::encoding::derive_blob_id;
use floe_common::messages::InvalidBlobIdMsg;
use floe_common::{
    BlobId, BlobPersistence, Certificate, Digest, EncodingConfig, EncodingType, Epoch, Frost,
    ObjectId, StorageConfirmation, Threshold,
};

use super::events::Event;
use super::objects::{BlobIdInfo, BlobObject, Object, StorageResource};
use super::overlay::Overlay;
use super::storage::price;
use crate::error::TxError;
use crate::tx::{
    Address, MAX_ATTRIBUTE_KEY_LEN, MAX_ATTRIBUTE_VALUE_LEN, MAX_ATTRIBUTES, MAX_BURN_BLOBS,
};

/// The arguments of a blob registration.
#[derive(Clone, Copy)]
pub(super) struct Registration {
    pub storage: ObjectId,
    pub blob_id: BlobId,
    pub root_hash: Digest,
    pub unencoded_length: u64,
    pub encoding_type: EncodingType,
    pub deletable: bool,
}

fn bump(n: u32, up: bool) -> Result<u32, TxError> {
    if up {
        n.checked_add(1)
    } else {
        n.checked_sub(1)
    }
    .ok_or_else(|| TxError::overflow("blob count"))
}

pub(super) fn register(
    o: &mut Overlay<'_>,
    sender: Address,
    r: Registration,
) -> Result<(), TxError> {
    let s = o.storage(&r.storage, Some(sender))?;
    let epoch = o.epoch();
    if s.start_epoch > epoch {
        return Err(TxError::StorageNotStarted {
            object: r.storage,
            start_epoch: s.start_epoch,
        });
    }
    if epoch >= s.end_epoch {
        return Err(TxError::StorageExpired {
            object: r.storage,
            end_epoch: s.end_epoch,
        });
    }
    let computed = derive_blob_id(r.encoding_type, r.unencoded_length, &r.root_hash);
    if computed != r.blob_id {
        return Err(TxError::BlobIdMismatch {
            claimed: r.blob_id,
            computed,
        });
    }
    let mut info = o.blob_info(&r.blob_id).unwrap_or_default();
    if info.is_invalid() {
        return Err(TxError::BlobInvalid(r.blob_id));
    }
    let config = EncodingConfig::new(o.system.n_shards)
        .map_err(|e| TxError::overflow(&format!("encoding config: {e}")))?;
    let encoded = config
        .encoded_length(r.unencoded_length)
        .map_err(|_| TxError::too_large("blob", r.unencoded_length, config.max_blob_size()))?;
    if s.size < encoded {
        return Err(TxError::StorageTooSmall {
            size: s.size,
            needed: encoded,
        });
    }
    // The write price goes to the current epoch's committee (which receives the slivers).
    let cost = price(o.system.write_price, encoded, 1)?;
    o.pay_escrow(sender, epoch, epoch.next(), cost)?;
    o.delete_object(r.storage);
    let object_id = o.create_object(Object::Blob(BlobObject {
        owner: sender,
        blob_id: r.blob_id,
        registered_epoch: epoch,
        certified_epoch: None,
        start_epoch: s.start_epoch,
        end_epoch: s.end_epoch,
        size: s.size,
        unencoded_length: r.unencoded_length,
        encoding_type: r.encoding_type,
        deletable: r.deletable,
        invalid: false,
        attributes: Default::default(),
        changed_at: o.height,
    }))?;
    if r.deletable {
        info.registered_deletable = bump(info.registered_deletable, true)?;
    } else {
        info.registered_permanent = bump(info.registered_permanent, true)?;
    }
    info.objects.insert(object_id);
    o.set_blob_info(r.blob_id, Some(info));
    o.events.push(Event::BlobRegistered {
        blob_id: r.blob_id,
        object_id,
        epoch,
        end_epoch: s.end_epoch,
        deletable: r.deletable,
        size: r.unencoded_length,
        encoding_type: r.encoding_type,
    });
    Ok(())
}

/// A blob that is valid, certified (or not, as `certified` says) and not expired.
pub(super) fn live_blob(
    o: &Overlay<'_>,
    id: ObjectId,
    b: &BlobObject,
    certified: bool,
) -> Result<(), TxError> {
    if b.invalid {
        return Err(TxError::BlobInvalid(b.blob_id));
    }
    match (b.is_certified(), certified) {
        (true, false) => return Err(TxError::AlreadyCertified(id)),
        (false, true) => return Err(TxError::NotCertified(id)),
        _ => {}
    }
    if o.epoch() >= b.end_epoch {
        return Err(TxError::BlobExpired {
            object: id,
            end_epoch: b.end_epoch,
        });
    }
    Ok(())
}

fn wrong_message(reason: String) -> TxError {
    TxError::WrongCertificateMessage { reason }
}

pub(super) fn certify(
    o: &mut Overlay<'_>,
    id: ObjectId,
    certificate: &Certificate,
) -> Result<(), TxError> {
    let mut b = o.blob(&id, None)?;
    live_blob(o, id, &b, false)?;
    let epoch = o.epoch();
    let msg = certificate
        .verify::<StorageConfirmation>(o.committee(), o.chain_id(), Threshold::Quorum)
        .map_err(|e| TxError::CertificateInvalid {
            reason: e.to_string(),
        })?;
    if msg.epoch != epoch {
        return Err(wrong_message(format!(
            "epoch {}, current is {epoch}",
            msg.epoch
        )));
    }
    if msg.body.blob_id != b.blob_id {
        return Err(wrong_message(format!(
            "blob id {}, expected {}",
            msg.body.blob_id, b.blob_id
        )));
    }
    let expected = if b.deletable {
        BlobPersistence::Deletable(id)
    } else {
        BlobPersistence::Permanent
    };
    if msg.body.persistence != expected {
        return Err(wrong_message(format!(
            "persistence {:?}, expected {expected:?}",
            msg.body.persistence
        )));
    }
    b.certified_epoch = Some(epoch);
    b.changed_at = o.height;
    let mut info = o.blob_info(&b.blob_id).unwrap_or_default();
    if b.deletable {
        info.certified_deletable = bump(info.certified_deletable, true)?;
    } else {
        info.certified_permanent = bump(info.certified_permanent, true)?;
    }
    info.max_certified_end_epoch = info.max_certified_end_epoch.max(Some(b.end_epoch));
    info.initial_certified_epoch = Some(info.initial_certified_epoch.unwrap_or(epoch).min(epoch));
    o.set_blob_info(b.blob_id, Some(info));
    o.events.push(Event::BlobCertified {
        blob_id: b.blob_id,
        object_id: id,
        end_epoch: b.end_epoch,
        deletable: b.deletable,
        epoch,
    });
    o.put_object(id, Object::Blob(b));
    Ok(())
}

/// Checks an extension of the certified, live blob `b` by `epochs_ahead` epochs at the current
/// storage price, reserves the capacity of the added epochs, moves its end epoch, updates the
/// blob id's index and emits `BlobExtended`. Returns the added epochs `[old end, new end)` and
/// the price per epoch; the caller pays it into their escrow.
pub(super) fn extend_blob(
    o: &mut Overlay<'_>,
    id: ObjectId,
    b: &mut BlobObject,
    epochs_ahead: u32,
) -> Result<(Epoch, Epoch, Frost), TxError> {
    live_blob(o, id, b, true)?;
    let max = o.system.params.max_epochs_ahead;
    let new_end = b
        .end_epoch
        .0
        .checked_add(epochs_ahead)
        .ok_or_else(|| TxError::overflow("epoch"))?;
    let ahead = u64::from(new_end - o.epoch().0);
    if epochs_ahead == 0 || ahead > u64::from(max) {
        return Err(TxError::EpochsOutOfRange { got: ahead, max });
    }
    let new_end = Epoch(new_end);
    let per_epoch = price(o.system.storage_price, b.size, 1)?;
    o.use_capacity(b.end_epoch, new_end, b.size)?;
    let old_end = b.end_epoch;
    b.end_epoch = new_end;
    b.changed_at = o.height;
    let mut info = o.blob_info(&b.blob_id).unwrap_or_default();
    info.max_certified_end_epoch = info.max_certified_end_epoch.max(Some(b.end_epoch));
    o.set_blob_info(b.blob_id, Some(info));
    o.events.push(Event::BlobExtended {
        blob_id: b.blob_id,
        object_id: id,
        end_epoch: b.end_epoch,
        deletable: b.deletable,
    });
    Ok((old_end, new_end, per_epoch))
}

/// `ExtendBlob`: `payer` pays. Any certified live blob may be extended, shared ones too.
pub(super) fn extend(
    o: &mut Overlay<'_>,
    payer: Address,
    id: ObjectId,
    epochs_ahead: u32,
) -> Result<(), TxError> {
    let mut b = o.any_blob(&id)?;
    let (from, to, per_epoch) = extend_blob(o, id, &mut b, epochs_ahead)?;
    o.pay_escrow(payer, from, to, per_epoch)?;
    o.put_any_blob(id, b)
}

/// Removes blob object `id` (already read as `b`) from its blob id's index: counts, objects,
/// the latest certified end epoch; the entry goes when nothing is left of it.
fn unindex(o: &mut Overlay<'_>, id: ObjectId, b: &BlobObject) -> Result<(), TxError> {
    let mut info = o.blob_info(&b.blob_id).unwrap_or_default();
    if b.deletable {
        info.registered_deletable = bump(info.registered_deletable, false)?;
        if b.is_certified() {
            info.certified_deletable = bump(info.certified_deletable, false)?;
        }
    } else {
        info.registered_permanent = bump(info.registered_permanent, false)?;
        if b.is_certified() {
            info.certified_permanent = bump(info.certified_permanent, false)?;
        }
    }
    info.objects.remove(&id);
    // Only the removal of a certified object at the latest end epoch can lower it.
    if b.is_certified() && info.max_certified_end_epoch == Some(b.end_epoch) {
        info.max_certified_end_epoch = None;
        for other in &info.objects {
            let ob = o.any_blob(other)?;
            if ob.is_certified() {
                info.max_certified_end_epoch = info.max_certified_end_epoch.max(Some(ob.end_epoch));
            }
        }
    }
    let keep = !info.objects.is_empty() || info.is_invalid();
    o.set_blob_info(b.blob_id, keep.then_some(info));
    Ok(())
}

pub(super) fn delete(o: &mut Overlay<'_>, sender: Address, id: ObjectId) -> Result<(), TxError> {
    let b = o.blob(&id, Some(sender))?;
    if !b.deletable {
        return Err(TxError::NotDeletable(id));
    }
    let epoch = o.epoch();
    if epoch >= b.end_epoch {
        return Err(TxError::BlobExpired {
            object: id,
            end_epoch: b.end_epoch,
        });
    }
    o.delete_object(id);
    o.create_object(Object::Storage(StorageResource {
        owner: b.owner,
        start_epoch: b.start_epoch.max(epoch),
        end_epoch: b.end_epoch,
        size: b.size,
    }))?;
    unindex(o, id, &b)?;
    o.events.push(Event::BlobDeleted {
        blob_id: b.blob_id,
        object_id: id,
        end_epoch: b.end_epoch,
        was_certified: b.is_certified(),
        epoch,
    });
    Ok(())
}

/// `BurnBlobs`: see [`TxKind::BurnBlobs`](crate::tx::TxKind::BurnBlobs).
pub(super) fn burn(o: &mut Overlay<'_>, sender: Address, ids: &[ObjectId]) -> Result<(), TxError> {
    if ids.is_empty() {
        return Err(TxError::InvalidField {
            field: "blob_objects".into(),
            reason: "no blob object listed".into(),
        });
    }
    if ids.len() > MAX_BURN_BLOBS {
        return Err(TxError::too_large(
            "blob_objects",
            ids.len() as u64,
            MAX_BURN_BLOBS as u64,
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    let epoch = o.epoch();
    for &id in ids {
        if !seen.insert(id) {
            return Err(TxError::InvalidField {
                field: "blob_objects".into(),
                reason: format!("{id} is listed twice"),
            });
        }
        let b = o.blob(&id, Some(sender))?;
        let live = epoch < b.end_epoch;
        if live && b.deletable {
            delete(o, sender, id)?;
            continue;
        }
        if live && !b.invalid {
            return Err(TxError::PermanentNotExpired {
                object: id,
                end_epoch: b.end_epoch,
            });
        }
        o.delete_object(id);
        unindex(o, id, &b)?;
        o.events.push(Event::BlobBurned {
            blob_id: b.blob_id,
            object_id: id,
            end_epoch: b.end_epoch,
            deletable: b.deletable,
            was_certified: b.is_certified(),
            epoch,
        });
    }
    Ok(())
}

/// `TransferBlob`: the owner gives a blob object to `to`.
pub(super) fn transfer(
    o: &mut Overlay<'_>,
    sender: Address,
    id: ObjectId,
    to: Address,
) -> Result<(), TxError> {
    let mut b = o.blob(&id, Some(sender))?;
    if to == Address::SHARED {
        return Err(TxError::InvalidField {
            field: "to".into(),
            reason: "the owner of shared objects, which nobody controls (share the blob instead)"
                .into(),
        });
    }
    b.owner = to;
    o.events.push(Event::BlobTransferred {
        blob_id: b.blob_id,
        object_id: id,
        from: sender,
        to,
    });
    o.put_object(id, Object::Blob(b));
    Ok(())
}

pub(super) fn invalidate(
    o: &mut Overlay<'_>,
    blob_id: BlobId,
    certificate: &Certificate,
) -> Result<(), TxError> {
    let mut info: BlobIdInfo = o.blob_info(&blob_id).unwrap_or_default();
    if info.is_invalid() {
        return Err(TxError::AlreadyInvalid(blob_id));
    }
    let msg = certificate
        .verify::<InvalidBlobIdMsg>(o.committee(), o.chain_id(), Threshold::Validity)
        .map_err(|e| TxError::CertificateInvalid {
            reason: e.to_string(),
        })?;
    if msg.body.blob_id != blob_id {
        return Err(wrong_message(format!(
            "blob id {}, expected {blob_id}",
            msg.body.blob_id
        )));
    }
    let epoch = o.epoch();
    info.invalidated_epoch = Some(epoch);
    for id in &info.objects {
        let mut b = o.any_blob(id)?;
        b.invalid = true;
        o.put_any_blob(*id, b)?;
    }
    o.set_blob_info(blob_id, Some(info));
    o.events.push(Event::BlobInvalidated { blob_id, epoch });
    Ok(())
}

pub(super) fn set_attribute(
    o: &mut Overlay<'_>,
    sender: Address,
    id: ObjectId,
    key: &str,
    value: &str,
) -> Result<(), TxError> {
    let mut b = o.blob(&id, Some(sender))?;
    if key.is_empty() {
        return Err(TxError::InvalidField {
            field: "attribute key".into(),
            reason: "empty".into(),
        });
    }
    if key.len() > MAX_ATTRIBUTE_KEY_LEN {
        return Err(TxError::too_large(
            "attribute key",
            key.len() as u64,
            MAX_ATTRIBUTE_KEY_LEN as u64,
        ));
    }
    if value.len() > MAX_ATTRIBUTE_VALUE_LEN {
        return Err(TxError::too_large(
            "attribute value",
            value.len() as u64,
            MAX_ATTRIBUTE_VALUE_LEN as u64,
        ));
    }
    if !b.attributes.contains_key(key) && b.attributes.len() >= MAX_ATTRIBUTES {
        return Err(TxError::TooManyAttributes {
            max: MAX_ATTRIBUTES as u64,
        });
    }
    b.attributes.insert(key.to_owned(), value.to_owned());
    o.put_object(id, Object::Blob(b));
    Ok(())
}

pub(super) fn remove_attribute(
    o: &mut Overlay<'_>,
    sender: Address,
    id: ObjectId,
    key: &str,
) -> Result<(), TxError> {
    let mut b = o.blob(&id, Some(sender))?;
    if b.attributes.remove(key).is_none() {
        return Err(TxError::UnknownAttribute(key.to_owned()));
    }
    o.put_object(id, Object::Blob(b));
    Ok(())
}
