//! Storage nodes and stake: register, stake, request withdrawal, withdraw.
//!
//! The committee is fixed at genesis for now: stake changes update the node's `total_stake`
//! (the input of the next committee selection) but not the current committee.

use floe_common::{Frost, NodeId, ObjectId, PublicKey};

use super::events::Event;
use super::objects::{NodeVotes, Object, StakedWal, StorageNode};
use super::overlay::Overlay;
use crate::error::TxError;
use crate::tx::{Address, MAX_ADDRESS_LEN, MAX_COMMISSION_BPS, MAX_NAME_LEN, node_id_of};

/// The arguments of a node registration.
#[derive(Clone, Copy)]
pub(super) struct NodeRegistration<'a> {
    pub name: &'a str,
    pub public_key: PublicKey,
    pub network_address: &'a str,
    pub http_address: &'a str,
    pub commission_bps: u16,
    pub votes: NodeVotes,
}

fn check_text(field: &str, s: &str, max: usize) -> Result<(), TxError> {
    if s.is_empty() {
        return Err(TxError::InvalidField {
            field: field.to_owned(),
            reason: "empty".into(),
        });
    }
    if s.len() > max {
        return Err(TxError::too_large(field, s.len() as u64, max as u64));
    }
    Ok(())
}

pub(super) fn register_node(
    o: &mut Overlay<'_>,
    sender: Address,
    r: NodeRegistration<'_>,
) -> Result<(), TxError> {
    check_text("name", r.name, MAX_NAME_LEN)?;
    check_text("network_address", r.network_address, MAX_ADDRESS_LEN)?;
    check_text("http_address", r.http_address, MAX_ADDRESS_LEN)?;
    if r.commission_bps > MAX_COMMISSION_BPS {
        return Err(TxError::InvalidCommission(r.commission_bps));
    }
    if !r.public_key.is_valid() {
        return Err(TxError::InvalidPublicKey);
    }
    let node_id = node_id_of(&r.public_key);
    if o.node(&node_id).is_some() {
        return Err(TxError::DuplicateNode {
            reason: format!("key {} is registered", r.public_key),
        });
    }
    if o.node_name_taken(r.name) {
        return Err(TxError::DuplicateNode {
            reason: format!("name {:?} is taken", r.name),
        });
    }
    o.put_node(StorageNode {
        node_id,
        name: r.name.to_owned(),
        public_key: r.public_key,
        network_address: r.network_address.to_owned(),
        http_address: r.http_address.to_owned(),
        commission_bps: r.commission_bps,
        votes: r.votes,
        total_stake: Frost::ZERO,
        owner: sender,
    });
    o.events.push(Event::NodeRegistered {
        node: node_id,
        name: r.name.to_owned(),
        owner: sender,
    });
    Ok(())
}

/// Adds `delta` to (or, if `add` is false, removes it from) a node's stake and the staked total.
fn change_stake(o: &mut Overlay<'_>, node: NodeId, delta: Frost, add: bool) -> Result<(), TxError> {
    let mut n = o.node(&node).ok_or(TxError::UnknownNode(node))?;
    let apply = |x: Frost| {
        if add {
            x.checked_add(delta)
        } else {
            x.checked_sub(delta)
        }
        .ok_or_else(|| TxError::overflow("stake"))
    };
    n.total_stake = apply(n.total_stake)?;
    let total = n.total_stake;
    o.put_node(n);
    o.events.push(Event::StakeChanged { node, total });
    Ok(())
}

pub(super) fn stake(
    o: &mut Overlay<'_>,
    sender: Address,
    node: NodeId,
    amount: Frost,
) -> Result<(), TxError> {
    if amount == Frost::ZERO {
        return Err(TxError::ZeroAmount {
            what: "stake".into(),
        });
    }
    if o.node(&node).is_none() {
        return Err(TxError::UnknownNode(node));
    }
    o.pay_into(sender, amount, |s| &mut s.total_staked)?;
    let activation_epoch = o.epoch().next();
    o.create_object(Object::StakedWal(StakedWal {
        owner: sender,
        node,
        amount,
        activation_epoch,
        withdrawal_requested_epoch: None,
        rewards: Frost::ZERO,
    }))?;
    change_stake(o, node, amount, true)
}

pub(super) fn request_withdrawal(
    o: &mut Overlay<'_>,
    sender: Address,
    id: ObjectId,
) -> Result<(), TxError> {
    let mut s = o.staked(&id, Some(sender))?;
    if s.withdrawal_requested_epoch.is_some() {
        return Err(TxError::WithdrawalAlreadyRequested(id));
    }
    s.withdrawal_requested_epoch = Some(o.epoch());
    let (node, amount) = (s.node, s.amount);
    o.put_object(id, Object::StakedWal(s));
    change_stake(o, node, amount, false)
}

pub(super) fn withdraw(o: &mut Overlay<'_>, sender: Address, id: ObjectId) -> Result<(), TxError> {
    let s = o.staked(&id, Some(sender))?;
    let requested = s
        .withdrawal_requested_epoch
        .ok_or(TxError::WithdrawalNotRequested(id))?;
    let current = o.epoch();
    if current <= requested {
        return Err(TxError::WithdrawalTooEarly { requested, current });
    }
    let total = s
        .amount
        .checked_add(s.rewards)
        .ok_or_else(|| TxError::overflow("stake"))?;
    o.system.total_staked = o
        .system
        .total_staked
        .checked_sub(total)
        .ok_or_else(|| TxError::overflow("staked total"))?;
    o.credit(s.owner, total)?;
    o.delete_object(id);
    o.events.push(Event::Withdrawn {
        staked: id,
        owner: s.owner,
        amount: s.amount,
        rewards: s.rewards,
    });
    Ok(())
}
