//! Access policies of private blobs (the rules and their evaluation:
//! [`floe_ledger_types::policy`]).
//!
//! Transactions:
//!
//! - `CreatePolicy { rule }` creates a [`PolicyObject`] owned by the sender. Refused as
//!   `invalid_policy` when: an allowlist has more than [`MAX_ALLOWLIST`] members; a paid
//!   policy's price is zero or its epochs are outside 1..=`max_epochs_ahead`; a composition's
//!   operand is not an existing policy (`unknown_object` / `wrong_object_type`), names the
//!   same policy twice, or would be deeper than [`MAX_POLICY_DEPTH`].
//! - `UpdateAllowlist { policy, add, remove }` (owner only, allowlist policies only, anything
//!   else is `wrong_object_type`): at most [`MAX_ALLOWLIST`] members after the change; the
//!   version goes up by one.
//! - `PayForAccess { policy, max_price }` (paid policies only): moves the price from the
//!   sender to the owner (`price_above_limit` if the price exceeds `max_price`) and extends
//!   the sender's [`AccessObject`] by the policy's epochs, from the current epoch or from the
//!   end of its running access, within `max_epochs_ahead`.
//!
//! Every refusal is typed and, as any failure in execution, costs the fee and nothing else.

use floe_common::{Epoch, Frost, ObjectId};
use floe_ledger_types::policy::{
    AccessObject, MAX_ALLOWLIST, MAX_POLICY_DEPTH, PolicyObject, PolicyRule, access_object_id,
};

use super::events::Event;
use super::objects::Object;
use super::overlay::Overlay;
use crate::error::TxError;
use crate::tx::Address;

fn invalid(reason: impl Into<String>) -> TxError {
    TxError::InvalidPolicy(reason.into())
}

/// The depth of `rule` once created; refuses what does not validate.
fn validate(o: &Overlay<'_>, rule: &PolicyRule) -> Result<u8, TxError> {
    match rule {
        PolicyRule::Owner | PolicyRule::Timelock { .. } => Ok(1),
        PolicyRule::Allowlist { members } => {
            if members.len() > MAX_ALLOWLIST {
                return Err(invalid(format!(
                    "{} members, at most {MAX_ALLOWLIST}",
                    members.len()
                )));
            }
            Ok(1)
        }
        PolicyRule::Paid { price, epochs } => {
            let max = o.system.params.max_epochs_ahead;
            if *price == Frost::ZERO {
                return Err(invalid("a paid policy's price must be more than zero"));
            }
            if *epochs == 0 || *epochs > max {
                return Err(invalid(format!(
                    "a paid policy gives 1..={max} epochs of access, not {epochs}"
                )));
            }
            Ok(1)
        }
        PolicyRule::And { left, right } | PolicyRule::Or { left, right } => {
            if left == right {
                return Err(invalid(format!("policy {left} is both operands")));
            }
            let depth = o
                .policy(left, None)?
                .depth
                .max(o.policy(right, None)?.depth);
            if depth >= MAX_POLICY_DEPTH {
                return Err(invalid(format!(
                    "compositions are at most {MAX_POLICY_DEPTH} deep"
                )));
            }
            Ok(depth + 1)
        }
    }
}

/// `CreatePolicy`.
pub(super) fn create(
    o: &mut Overlay<'_>,
    sender: Address,
    rule: &PolicyRule,
) -> Result<(), TxError> {
    let depth = validate(o, rule)?;
    let policy = o.create_object(Object::Policy(PolicyObject {
        owner: sender,
        rule: rule.clone(),
        depth,
        version: 0,
        created_epoch: o.epoch(),
    }))?;
    o.events.push(Event::PolicyCreated {
        policy,
        owner: sender,
        kind: rule.kind().to_owned(),
    });
    Ok(())
}

/// `UpdateAllowlist`.
pub(super) fn update_allowlist(
    o: &mut Overlay<'_>,
    sender: Address,
    policy: ObjectId,
    add: &[Address],
    remove: &[Address],
) -> Result<(), TxError> {
    let mut p = o.policy(&policy, Some(sender))?;
    let PolicyRule::Allowlist { members } = &mut p.rule else {
        return Err(TxError::WrongObjectType {
            object: policy,
            expected: "allowlist policy".into(),
        });
    };
    members.extend(add.iter().copied());
    for a in remove {
        members.remove(a);
    }
    let count = members.len();
    if count > MAX_ALLOWLIST {
        return Err(invalid(format!("{count} members, at most {MAX_ALLOWLIST}")));
    }
    p.version = p
        .version
        .checked_add(1)
        .ok_or_else(|| TxError::overflow("policy version"))?;
    let version = p.version;
    o.put_object(policy, Object::Policy(p));
    o.events.push(Event::AllowlistUpdated {
        policy,
        version,
        members: u32::try_from(count).unwrap_or(u32::MAX),
    });
    Ok(())
}

/// `PayForAccess`.
pub(super) fn pay_for_access(
    o: &mut Overlay<'_>,
    sender: Address,
    policy: ObjectId,
    max_price: Frost,
) -> Result<(), TxError> {
    let p = o.policy(&policy, None)?;
    let PolicyRule::Paid { price, epochs } = p.rule else {
        return Err(TxError::WrongObjectType {
            object: policy,
            expected: "paid policy".into(),
        });
    };
    if price > max_price {
        return Err(TxError::PriceAboveLimit {
            price,
            limit: max_price,
        });
    }
    let id = access_object_id(&policy, &sender);
    let now = o.epoch();
    let from = match o.object(&id) {
        Ok(Object::Access(a)) => a.until.max(now),
        Ok(_) => {
            return Err(TxError::WrongObjectType {
                object: id,
                expected: "access".into(),
            });
        }
        Err(TxError::UnknownObject(_)) => now,
        Err(e) => return Err(e),
    };
    let until = u64::from(from.0) + u64::from(epochs);
    let max = o.system.params.max_epochs_ahead;
    let ahead = until - u64::from(now.0);
    if ahead > u64::from(max) {
        return Err(TxError::EpochsOutOfRange { got: ahead, max });
    }
    let until = Epoch(u32::try_from(until).map_err(|_| TxError::overflow("access end"))?);
    o.debit(sender, price)?;
    o.credit(p.owner, price)?;
    o.create_object_at(
        id,
        Object::Access(AccessObject {
            policy,
            reader: sender,
            until,
        }),
    );
    o.events.push(Event::AccessPaid {
        policy,
        reader: sender,
        until,
        price,
    });
    Ok(())
}
