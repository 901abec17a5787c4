//! Storage nodes and stake: register, stake, request withdrawal, withdraw, price and capacity
//! votes, commission, and the shard-sync report of an epoch change.
//!
//! Staking pools (one per node, [`StakingPool`]): active stake holds **shares**; the pool's
//! exchange rate is `active_wal / shares`. Rewards (net of commission) are added to
//! `active_wal` at each epoch change, so every active share gains the same and a staker's
//! withdrawal returns its principal plus its pro-rata part of the rewards earned while active.
//!
//! Timing (stake and withdrawal take effect at epoch boundaries, as in Walrus):
//! - `Stake` in epoch `E` activates at `E+1` if the next committee is not selected yet
//!   (before mid-epoch), else at `E+2`. Until then it is *pending* (no shares, no rewards, but
//!   it counts for the next committee selection). At activation it buys
//!   `floor(amount × shares / active_wal)` shares (1:1 in an empty pool), after the ending
//!   epoch's rewards were added.
//! - `RequestWithdrawal` of a pending stake makes it withdrawable at once (principal only).
//!   Of an active stake: it stops counting for committee selection at once and leaves the
//!   pool at `W = E+2` if the next committee is selected and contains the node, else `W = E+1`
//!   (it earns the rewards of every epoch before `W`). At `W` its value
//!   `floor(shares × active_wal / shares_total)` moves from the pool into the object
//!   (`rewards = value − amount`; should rounding make the value smaller than the principal,
//!   the principal is reported as the value).
//! - `Withdraw` pays `amount + rewards` of a withdrawable stake to its owner. In the epoch in
//!   which an active stake left its pool, if its node is in the previous committee and the
//!   change is still syncing, or a shard the node held has a new holder that has not reported
//!   it synced yet, the stake is locked (`stake_locked`): a leaving node keeps its obligations
//!   until its shards are handed over — at most until the next boundary, so a sync that never
//!   completes cannot lock stake forever.
//! - Commission: at each epoch change a node's commission (`reward × commission_bps / 10000`,
//!   rounded down) is credited to `commission_locked`; at the next change it becomes
//!   `commission`, which the owner takes with `CollectCommission`. Governance can burn both
//!   (`SlashCommission`). Delegated principal is never slashed.
//! - `SetNodeVotes` (owner or node key) changes the node's votes; prices and capacity are
//!   recomputed at once from the current committee (see [`super::pricing`]).
//! - `EpochSyncDone { epoch }` (the node key's account, a member of the current committee, in
//!   `epoch`): during the sync phase adds the member's shard weight, and at a quorum the sync
//!   phase ends (see [`super::epoch`]); after it, records a late member (`ShardsSynced`) without
//!   changing the state. `not_syncing` only in an epoch without a change (epoch 0).

use floe_common::{Epoch, Frost, NodeId, ObjectId, PublicKey};

use super::events::{EpochEvent, Event};
use super::objects::{EpochState, NodeVotes, Object, StakeStatus, StakedWal, StorageNode};
use super::overlay::Overlay;
use super::pricing;
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
        pool: Default::default(),
    });
    o.events.push(Event::NodeRegistered {
        node: node_id,
        name: r.name.to_owned(),
        owner: sender,
    });
    Ok(())
}

/// Writes `n` back with its `total_stake` refreshed from the pool, and emits `StakeChanged`.
fn put_pool(o: &mut Overlay<'_>, mut n: StorageNode) {
    n.total_stake = n.pool.next_stake();
    let (node, total) = (n.node_id, n.total_stake);
    o.put_node(n);
    o.events.push(Event::StakeChanged { node, total });
}

fn add(a: Frost, b: Frost, what: &str) -> Result<Frost, TxError> {
    a.checked_add(b).ok_or_else(|| TxError::overflow(what))
}

fn sub(a: Frost, b: Frost, what: &str) -> Result<Frost, TxError> {
    a.checked_sub(b).ok_or_else(|| TxError::overflow(what))
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
    let mut n = o.node(&node).ok_or(TxError::UnknownNode(node))?;
    o.pay_into(sender, amount, |s| &mut s.total_staked)?;
    let e = o.epoch();
    let activation_epoch = if o.system.epoch_state == EpochState::NextCommitteeSelected {
        e.next().next()
    } else {
        e.next()
    };
    let id = o.create_object(Object::StakedWal(StakedWal {
        owner: sender,
        node,
        amount,
        activation_epoch,
        withdrawal_requested_epoch: None,
        withdraw_epoch: None,
        shares: 0,
        rewards: Frost::ZERO,
        status: StakeStatus::Pending,
    }))?;
    let p = n.pool.pending_stake.entry(activation_epoch).or_default();
    *p = add(*p, amount, "pending stake")?;
    n.pool
        .pending_objects
        .entry(activation_epoch)
        .or_default()
        .push(id);
    put_pool(o, n);
    Ok(())
}

pub(super) fn request_withdrawal(
    o: &mut Overlay<'_>,
    sender: Address,
    id: ObjectId,
) -> Result<(), TxError> {
    let mut s = o.staked(&id, Some(sender))?;
    let mut n = o.node(&s.node).ok_or(TxError::UnknownNode(s.node))?;
    let e = o.epoch();
    match s.status {
        StakeStatus::Withdrawing | StakeStatus::Withdrawable => {
            return Err(TxError::WithdrawalAlreadyRequested(id));
        }
        StakeStatus::Pending => {
            let a = s.activation_epoch;
            let p = n.pool.pending_stake.entry(a).or_default();
            *p = sub(*p, s.amount, "pending stake")?;
            if *p == Frost::ZERO {
                n.pool.pending_stake.remove(&a);
            }
            if let Some(list) = n.pool.pending_objects.get_mut(&a) {
                list.retain(|x| *x != id);
                if list.is_empty() {
                    n.pool.pending_objects.remove(&a);
                }
            }
            s.status = StakeStatus::Withdrawable;
            s.withdraw_epoch = Some(e);
        }
        StakeStatus::Active => {
            let in_next = o
                .next_committee()
                .is_some_and(|c| c.index_of(&s.node).is_some());
            let w = if o.system.epoch_state == EpochState::NextCommitteeSelected && in_next {
                e.next().next()
            } else {
                e.next()
            };
            let p = n.pool.pending_withdrawal.entry(w).or_default();
            *p = p
                .checked_add(s.shares)
                .ok_or_else(|| TxError::overflow("shares"))?;
            n.pool.pending_objects.entry(w).or_default().push(id);
            s.status = StakeStatus::Withdrawing;
            s.withdraw_epoch = Some(w);
        }
    }
    s.withdrawal_requested_epoch = Some(e);
    o.put_object(id, Object::StakedWal(s));
    put_pool(o, n);
    Ok(())
}

pub(super) fn withdraw(o: &mut Overlay<'_>, sender: Address, id: ObjectId) -> Result<(), TxError> {
    let s = o.staked(&id, Some(sender))?;
    let current = o.epoch();
    match (s.status, s.withdraw_epoch) {
        (StakeStatus::Withdrawable, _) => {}
        (StakeStatus::Withdrawing, Some(w)) => {
            return Err(TxError::WithdrawalTooEarly {
                requested: w,
                current,
            });
        }
        _ => return Err(TxError::WithdrawalNotRequested(id)),
    }
    let left_now = s
        .withdraw_epoch
        .is_some_and(|w| w > s.activation_epoch && w == current);
    let syncing = matches!(o.system.epoch_state, EpochState::Sync { .. });
    let in_previous = o
        .previous_committee()
        .is_some_and(|c| c.index_of(&s.node).is_some());
    if left_now && in_previous && (syncing || o.handing_over(&s.node)) {
        return Err(TxError::StakeLocked { node: s.node });
    }
    let total = add(s.amount, s.rewards, "stake")?;
    o.system.total_staked = sub(o.system.total_staked, total, "staked total")?;
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

/// The node, if `sender` is its owner or the account of its protocol key.
fn controlled_node(o: &Overlay<'_>, sender: Address, node: NodeId) -> Result<StorageNode, TxError> {
    let n = o.node(&node).ok_or(TxError::UnknownNode(node))?;
    if n.owner != sender && Address::of(&n.public_key) != sender {
        return Err(TxError::NotAuthorized {
            reason: format!("the sender is neither the owner nor the key of node {node}"),
        });
    }
    Ok(n)
}

/// Recomputes prices and capacity from the current committee's votes; emits `PricesUpdated`
/// if they changed.
pub(super) fn update_prices(o: &mut Overlay<'_>) {
    let committee = o.committee().clone();
    let votes = |id: &NodeId| o.node(id).map(|n| n.votes);
    let used = o.system.used_capacity(o.epoch());
    let Some(p) = pricing::compute(&committee, votes, used) else {
        return;
    };
    o.events.extend(pricing::apply(&mut o.system, p));
}

pub(super) fn set_votes(
    o: &mut Overlay<'_>,
    sender: Address,
    node: NodeId,
    votes: NodeVotes,
) -> Result<(), TxError> {
    let mut n = controlled_node(o, sender, node)?;
    n.votes = votes;
    o.put_node(n);
    o.events.push(Event::NodeVotesSet { node, votes });
    update_prices(o);
    Ok(())
}

pub(super) fn collect_commission(
    o: &mut Overlay<'_>,
    sender: Address,
    node: NodeId,
) -> Result<(), TxError> {
    let mut n = o.node(&node).ok_or(TxError::UnknownNode(node))?;
    if n.owner != sender {
        return Err(TxError::NotAuthorized {
            reason: format!("only the owner of node {node} collects its commission"),
        });
    }
    let amount = n.pool.commission;
    if amount == Frost::ZERO {
        return Err(TxError::ZeroAmount {
            what: "collectable commission".into(),
        });
    }
    n.pool.commission = Frost::ZERO;
    o.put_node(n);
    o.credit(sender, amount)?;
    o.events.push(Event::CommissionCollected {
        node,
        owner: sender,
        amount,
    });
    Ok(())
}

pub(super) fn epoch_sync_done(
    o: &mut Overlay<'_>,
    sender: Address,
    epoch: Epoch,
) -> Result<(), TxError> {
    o.check_epoch(epoch)?;
    let member = o
        .committee()
        .members()
        .iter()
        .find(|m| Address::of(&m.public_key) == sender)
        .cloned()
        .ok_or(TxError::NotCommitteeMember)?;
    let EpochState::Sync { synced, weight } = &o.system.epoch_state else {
        // After the quorum: a late gainer's report is recorded (its previous holders learn
        // the handover is complete) without changing the state. Epoch 0 had no change.
        if o.system.epoch_synced.is_empty() {
            return Err(TxError::NotSyncing { epoch });
        }
        if !o.system.epoch_synced.insert(member.node_id) {
            return Err(TxError::AlreadySynced(member.node_id));
        }
        let weight = o
            .committee()
            .members()
            .iter()
            .filter(|m| o.system.epoch_synced.contains(&m.node_id))
            .map(|m| m.weight)
            .fold(0u16, u16::saturating_add);
        o.events.push(Event::Epoch(EpochEvent::ShardsSynced {
            epoch,
            node: member.node_id,
            synced_weight: weight,
        }));
        return Ok(());
    };
    let (mut synced, mut weight) = (synced.clone(), *weight);
    if !synced.insert(member.node_id) {
        return Err(TxError::AlreadySynced(member.node_id));
    }
    o.system.epoch_synced.insert(member.node_id);
    weight = weight.saturating_add(member.weight);
    o.events.push(Event::Epoch(EpochEvent::ShardsSynced {
        epoch,
        node: member.node_id,
        synced_weight: weight,
    }));
    if pricing::is_quorum(weight, o.system.n_shards) {
        o.system.epoch_state = EpochState::Normal;
        o.events.push(Event::Epoch(EpochEvent::SyncDone { epoch }));
    } else {
        o.system.epoch_state = EpochState::Sync { synced, weight };
    }
    Ok(())
}
