//! Storage resources: reserve, split, fuse.
//!
//! Rules:
//! - Reserving `size` bytes for `[now, now + k)` costs `storage_price × ceil(size / 1 MiB)`
//!   **per epoch**; each epoch's part goes into that epoch's escrow (paid to that epoch's
//!   committee when it ends).
//! - Capacity: for every epoch of the period, the bytes reserved for it plus `size` must not
//!   exceed the voted total capacity, else `capacity_exceeded`. Splitting, fusing, registering
//!   and deleting move reserved bytes between objects and do not change the totals.

use floe_common::{Epoch, Frost, ObjectId};

use super::events::Event;
use super::objects::{Object, StorageResource};
use super::overlay::Overlay;
use crate::error::TxError;
use crate::tx::Address;

/// `price × ceil(size / 1 MiB) × epochs` ([`floe_ledger_types::objects::price`]).
pub(super) fn price(unit_price: Frost, size: u64, epochs: u64) -> Result<Frost, TxError> {
    floe_ledger_types::objects::price(unit_price, size, epochs)
        .ok_or_else(|| TxError::overflow("price"))
}

/// Checks `1 ≤ epochs_ahead ≤ max_epochs_ahead` and returns the end epoch.
pub(super) fn end_epoch(o: &Overlay<'_>, from: Epoch, epochs_ahead: u32) -> Result<Epoch, TxError> {
    let max = o.system.params.max_epochs_ahead;
    if epochs_ahead == 0 || epochs_ahead > max {
        return Err(TxError::EpochsOutOfRange {
            got: u64::from(epochs_ahead),
            max,
        });
    }
    from.0
        .checked_add(epochs_ahead)
        .map(Epoch)
        .ok_or_else(|| TxError::overflow("epoch"))
}

pub(super) fn reserve(
    o: &mut Overlay<'_>,
    sender: Address,
    size: u64,
    epochs_ahead: u32,
) -> Result<(), TxError> {
    if size == 0 {
        return Err(TxError::ZeroAmount {
            what: "encoded_size".into(),
        });
    }
    let start = o.epoch();
    let end = end_epoch(o, start, epochs_ahead)?;
    let per_epoch = price(o.system.storage_price, size, 1)?;
    let cost = o.pay_escrow(sender, start, end, per_epoch)?;
    o.use_capacity(start, end, size)?;
    let object_id = o.create_object(Object::Storage(StorageResource {
        owner: sender,
        start_epoch: start,
        end_epoch: end,
        size,
    }))?;
    o.events.push(Event::StorageReserved {
        object_id,
        owner: sender,
        start_epoch: start,
        end_epoch: end,
        size,
        cost,
    });
    Ok(())
}

pub(super) fn split_by_epoch(
    o: &mut Overlay<'_>,
    sender: Address,
    id: ObjectId,
    at: Epoch,
) -> Result<(), TxError> {
    let mut s = o.storage(&id, Some(sender))?;
    if !(s.start_epoch < at && at < s.end_epoch) {
        return Err(TxError::InvalidSplit {
            reason: format!(
                "epoch {at} is not strictly inside [{}, {})",
                s.start_epoch, s.end_epoch
            ),
        });
    }
    let rest = StorageResource {
        start_epoch: at,
        ..s
    };
    s.end_epoch = at;
    o.put_object(id, Object::Storage(s));
    o.create_object(Object::Storage(rest))?;
    Ok(())
}

pub(super) fn split_by_size(
    o: &mut Overlay<'_>,
    sender: Address,
    id: ObjectId,
    size: u64,
) -> Result<(), TxError> {
    let mut s = o.storage(&id, Some(sender))?;
    if size == 0 || size >= s.size {
        return Err(TxError::InvalidSplit {
            reason: format!("size {size} is not strictly inside (0, {})", s.size),
        });
    }
    let rest = StorageResource {
        size: s.size - size,
        ..s
    };
    s.size = size;
    o.put_object(id, Object::Storage(s));
    o.create_object(Object::Storage(rest))?;
    Ok(())
}

pub(super) fn fuse(
    o: &mut Overlay<'_>,
    sender: Address,
    first: ObjectId,
    second: ObjectId,
) -> Result<(), TxError> {
    if first == second {
        return Err(TxError::IncompatibleStorage {
            reason: "an object cannot be fused with itself".into(),
        });
    }
    let mut a = o.storage(&first, Some(sender))?;
    let b = o.storage(&second, Some(sender))?;
    if a.start_epoch == b.start_epoch && a.end_epoch == b.end_epoch {
        a.size = a
            .size
            .checked_add(b.size)
            .ok_or_else(|| TxError::overflow("storage size"))?;
    } else if a.size == b.size && a.end_epoch == b.start_epoch {
        a.end_epoch = b.end_epoch;
    } else if a.size == b.size && b.end_epoch == a.start_epoch {
        a.start_epoch = b.start_epoch;
    } else {
        return Err(TxError::IncompatibleStorage {
            reason: "neither the same period nor the same size with adjacent periods".into(),
        });
    }
    o.put_object(first, Object::Storage(a));
    o.delete_object(second);
    Ok(())
}
