//! Shared blobs: certified blobs that nobody owns, funded and extended by anyone.
//!
//! Rules:
//! - **Share** (`ShareBlob { blob_object, amount }`): the owner of a certified, valid, live blob
//!   object turns it into a shared blob with the same object id, owned by
//!   [`Address::SHARED`]; `amount` (zero allowed) moves from the owner into its funds. From then
//!   on nobody may delete, burn, transfer or share it again, or change its attributes
//!   (`blob_shared`); it stays until it expires.
//! - **Fund** (`FundSharedBlob { shared, amount }`): anyone adds `amount` (more than zero) to a
//!   valid, live shared blob's funds. Funding an expired or invalid one is refused, since its
//!   funds could never be spent.
//! - **Extend** (`ExtendSharedBlob { shared, epochs_ahead }`): anyone extends it as
//!   `ExtendBlob` would (same range, capacity and price rules), paid from its funds
//!   (`insufficient_shared_funds` when they fall short). `ExtendBlob` also works on a shared
//!   blob, paid by the sender.
//! - **Money**: the funds are WAL held in the object. They leave it only into the escrow of the
//!   epochs an extension adds; they count in the supply ([`Object::escrow`]).

use floe_common::{Frost, ObjectId};

use super::blob::{extend_blob, live_blob};
use super::events::Event;
use super::objects::{Object, SharedBlob};
use super::overlay::Overlay;
use crate::error::TxError;
use crate::tx::Address;

pub(super) fn share(
    o: &mut Overlay<'_>,
    sender: Address,
    id: ObjectId,
    amount: Frost,
) -> Result<(), TxError> {
    let mut blob = o.blob(&id, Some(sender))?;
    live_blob(o, id, &blob, true)?;
    o.debit(sender, amount)?;
    blob.owner = Address::SHARED;
    o.events.push(Event::BlobShared {
        blob_id: blob.blob_id,
        object_id: id,
        by: sender,
        funds: amount,
    });
    o.put_object(
        id,
        Object::SharedBlob(SharedBlob {
            blob,
            funds: amount,
        }),
    );
    Ok(())
}

pub(super) fn fund(
    o: &mut Overlay<'_>,
    sender: Address,
    id: ObjectId,
    amount: Frost,
) -> Result<(), TxError> {
    if amount == Frost::ZERO {
        return Err(TxError::ZeroAmount {
            what: "amount".into(),
        });
    }
    let mut s = o.shared_blob(&id)?;
    live_blob(o, id, &s.blob, true)?;
    o.debit(sender, amount)?;
    s.funds = s
        .funds
        .checked_add(amount)
        .ok_or_else(|| TxError::overflow("shared blob funds"))?;
    o.events.push(Event::SharedBlobFunded {
        object_id: id,
        by: sender,
        amount,
        funds: s.funds,
    });
    o.put_object(id, Object::SharedBlob(s));
    Ok(())
}

pub(super) fn extend(o: &mut Overlay<'_>, id: ObjectId, epochs_ahead: u32) -> Result<(), TxError> {
    let mut s = o.shared_blob(&id)?;
    let (from, to, per_epoch) = extend_blob(o, id, &mut s.blob, epochs_ahead)?;
    let cost = Overlay::escrow_cost(from, to, per_epoch)?;
    s.funds = s
        .funds
        .checked_sub(cost)
        .ok_or(TxError::InsufficientSharedFunds {
            object: id,
            needed: cost,
            available: s.funds,
        })?;
    o.fund_escrow(from, to, per_epoch)?;
    o.events.push(Event::SharedBlobSpent {
        object_id: id,
        amount: cost,
        funds: s.funds,
    });
    o.put_object(id, Object::SharedBlob(s));
    Ok(())
}
