//! Sites and names.
//!
//! Rules:
//!
//! - **Sites.** `CreateSite { record }` creates a [`SiteObject`] owned by the sender; the
//!   record must validate ([`floe_common::site::SiteRecord::validate`]: clean paths, limits,
//!   headers, routes and the 404 page naming files of the site, redirect statuses, no redirect
//!   loop). `UpdateSite { site, changes }` (owner only) applies the changes and validates the
//!   result; the version goes up by one. `DeleteSite` (owner only) removes it. The record's
//!   size is bounded by the transaction's (128 KiB): an update carries only what changes.
//!   The ledger does not check that the patches exist: a site is a claim by its owner, and a
//!   reader verifies every byte it gets against the patch's blob id.
//! - **Names.** A name is an object at [`name_object_id`] — looked up without an index.
//!   `ClaimName { name, epochs, site }` takes a name that is free (never claimed, or
//!   `expires ≤ current epoch`) for `epochs` epochs (1..=`max_epochs_ahead`), paying
//!   `name_price_per_epoch` into the reward escrow of each epoch it is held, like storage; a
//!   name held by someone is `name_taken`. `RenewName` (owner, while held) adds epochs after
//!   the current expiry, the total staying within `max_epochs_ahead` of the current epoch.
//!   `TransferName` and `SetNameSite` (owner, while held) change its owner or its site; a site
//!   it points at must exist (it may be anyone's: a name is a pointer). An expired name
//!   answers `name_not_held`.
//!
//! Every refusal is typed and, as any failure in execution, costs the fee and nothing else.

use floe_common::Epoch;
use floe_common::ObjectId;
use floe_common::site::{SiteChanges, SiteRecord, validate_name};

use super::events::Event;
use super::objects::{NameObject, Object, SiteObject, name_object_id};
use super::overlay::Overlay;
use crate::error::TxError;
use crate::tx::Address;

fn check(record: &SiteRecord) -> Result<(), TxError> {
    record
        .validate()
        .map_err(|e| TxError::InvalidSite(e.to_string()))
}

/// `CreateSite`.
pub(super) fn create_site(
    o: &mut Overlay<'_>,
    sender: Address,
    record: &SiteRecord,
) -> Result<(), TxError> {
    check(record)?;
    let site = o.create_object(Object::Site(SiteObject {
        owner: sender,
        record: record.clone(),
        version: 0,
        created_epoch: o.epoch(),
    }))?;
    o.events.push(Event::SiteCreated {
        site,
        owner: sender,
    });
    Ok(())
}

/// `UpdateSite`.
pub(super) fn update_site(
    o: &mut Overlay<'_>,
    sender: Address,
    site: ObjectId,
    changes: &SiteChanges,
) -> Result<(), TxError> {
    let mut s = o.site(&site, Some(sender))?;
    s.record.apply(changes);
    check(&s.record)?;
    s.version = s
        .version
        .checked_add(1)
        .ok_or_else(|| TxError::overflow("site version"))?;
    let version = s.version;
    o.put_object(site, Object::Site(s));
    o.events.push(Event::SiteUpdated { site, version });
    Ok(())
}

/// `DeleteSite`.
pub(super) fn delete_site(
    o: &mut Overlay<'_>,
    sender: Address,
    site: ObjectId,
) -> Result<(), TxError> {
    o.site(&site, Some(sender))?;
    o.delete_object(site);
    o.events.push(Event::SiteDeleted { site });
    Ok(())
}

/// The name object of `name`, if it exists (held or expired).
fn name_object(o: &Overlay<'_>, name: &str) -> Result<Option<NameObject>, TxError> {
    let id = name_object_id(name);
    match o.object(&id) {
        Ok(Object::Name(n)) => Ok(Some(n)),
        Ok(_) => Err(TxError::WrongObjectType {
            object: id,
            expected: "name".into(),
        }),
        Err(TxError::UnknownObject(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The held name `name`, owned by `sender`.
fn held_name(o: &Overlay<'_>, sender: Address, name: &str) -> Result<NameObject, TxError> {
    let n = name_object(o, name)?
        .filter(|n| n.expires > o.epoch())
        .ok_or_else(|| TxError::NameNotHeld(name.to_owned()))?;
    if n.owner != sender {
        return Err(TxError::NotOwner(name_object_id(name)));
    }
    Ok(n)
}

/// A site a name may point at: it must exist.
fn check_target(o: &Overlay<'_>, site: Option<ObjectId>) -> Result<(), TxError> {
    if let Some(id) = site {
        o.site(&id, None)?;
    }
    Ok(())
}

/// Checks `1 ≤ epochs` and that `until` is within `max_epochs_ahead` of now.
fn check_epochs(o: &Overlay<'_>, epochs: u32, until: u64) -> Result<Epoch, TxError> {
    let max = o.system.params.max_epochs_ahead;
    let ahead = until.saturating_sub(u64::from(o.epoch().0));
    if epochs == 0 || ahead > u64::from(max) {
        return Err(TxError::EpochsOutOfRange { got: ahead, max });
    }
    u32::try_from(until)
        .map(Epoch)
        .map_err(|_| TxError::overflow("name expiry"))
}

/// `ClaimName`.
pub(super) fn claim_name(
    o: &mut Overlay<'_>,
    sender: Address,
    name: &str,
    epochs: u32,
    site: Option<ObjectId>,
) -> Result<(), TxError> {
    validate_name(name).map_err(|e| TxError::InvalidName(e.to_string()))?;
    if let Some(n) = name_object(o, name)?
        && n.expires > o.epoch()
    {
        return Err(TxError::NameTaken {
            name: name.to_owned(),
            expires: n.expires,
        });
    }
    check_target(o, site)?;
    let now = o.epoch();
    let expires = check_epochs(o, epochs, u64::from(now.0) + u64::from(epochs))?;
    let price = o.system.params.name_price_per_epoch;
    let cost = o.pay_escrow(sender, now, expires, price)?;
    o.create_object_at(
        name_object_id(name),
        Object::Name(NameObject {
            name: name.to_owned(),
            owner: sender,
            site,
            expires,
        }),
    );
    o.events.push(Event::NameClaimed {
        name: name.to_owned(),
        owner: sender,
        site,
        expires,
        cost,
    });
    Ok(())
}

/// `RenewName`.
pub(super) fn renew_name(
    o: &mut Overlay<'_>,
    sender: Address,
    name: &str,
    epochs: u32,
) -> Result<(), TxError> {
    let mut n = held_name(o, sender, name)?;
    let from = n.expires;
    let expires = check_epochs(o, epochs, u64::from(from.0) + u64::from(epochs))?;
    let price = o.system.params.name_price_per_epoch;
    let cost = o.pay_escrow(sender, from, expires, price)?;
    n.expires = expires;
    o.put_object(name_object_id(name), Object::Name(n));
    o.events.push(Event::NameRenewed {
        name: name.to_owned(),
        expires,
        cost,
    });
    Ok(())
}

/// `TransferName`.
pub(super) fn transfer_name(
    o: &mut Overlay<'_>,
    sender: Address,
    name: &str,
    to: Address,
) -> Result<(), TxError> {
    let mut n = held_name(o, sender, name)?;
    n.owner = to;
    o.put_object(name_object_id(name), Object::Name(n));
    o.events.push(Event::NameTransferred {
        name: name.to_owned(),
        from: sender,
        to,
    });
    Ok(())
}

/// `SetNameSite`.
pub(super) fn set_name_site(
    o: &mut Overlay<'_>,
    sender: Address,
    name: &str,
    site: Option<ObjectId>,
) -> Result<(), TxError> {
    let mut n = held_name(o, sender, name)?;
    check_target(o, site)?;
    n.site = site;
    o.put_object(name_object_id(name), Object::Name(n));
    o.events.push(Event::NameSiteSet {
        name: name.to_owned(),
        site,
    });
    Ok(())
}
