//! Governance: proposals on protocol parameters and commission slashing, voted by shard weight.
//!
//! Rules:
//! - **Who**: an account *controls* a committee member if it is the node's owner or the
//!   account of the node's protocol key. Only an account controlling at least one member of
//!   the current committee may `Propose` or `Vote` (stakers act through their node's votes,
//!   as in Walrus, where weight is shards).
//! - **Propose** `{ change, deadline_epoch }`: `current ≤ deadline_epoch ≤ current +`
//!   [`MAX_PROPOSAL_EPOCHS`]; the change must be valid on its own (epoch length
//!   1 ms..=1 year, `max_epochs_ahead` 1..=10000, active set ≥ 1, shard cap ≥ 1, with
//!   `active_set_size × max_shards_per_node ≥ n_shards`; a slashed node must exist;
//!   `challenges_per_node` 0..=64; challenge window 1 ms..=1 year). Ids are
//!   sequential from 0. Proposing does not vote.
//! - **Vote** `{ proposal, approve }`: records the vote of every current committee member the
//!   sender controls (a later vote replaces an earlier one). The tally counts the *current*
//!   committee's shard weights of the recorded votes (members that left count nothing). When
//!   the approving weight reaches a quorum (`3w ≥ 2n+1`) the change is executed in the same
//!   transaction; when the rejecting weight makes a quorum impossible (`3(n − reject) < 2n+1`)
//!   the proposal is rejected.
//! - **Deadline**: votes are accepted while `epoch ≤ deadline_epoch`; at the change to
//!   `deadline_epoch + 1` an open proposal expires and does nothing.
//! - **Execution**: parameters change at once in `params`; an epoch-length change applies from
//!   the next epoch (the current epoch keeps its length, so the next boundary stays and the one
//!   after moves); active set size and shard cap apply at the next committee selection;
//!   the challenge count and window apply from the next epoch's round;
//!   `SlashCommission(node)` burns the node's collectable and locked commission (total supply
//!   falls; delegated stake is never touched).

use floe_common::{Epoch, Frost, NodeId};

use super::events::Event;
use super::objects::{Proposal, ProposalChange, ProposalStatus};
use super::overlay::Overlay;
use super::pricing::is_quorum;
use crate::error::TxError;
use crate::genesis::MAX_CHALLENGES_PER_NODE;
use crate::tx::{Address, MAX_PROPOSAL_EPOCHS};

/// One year in ms: the longest epoch governance may set.
pub const MAX_EPOCH_DURATION_MS: u64 = 365 * 24 * 3600 * 1000;
/// Largest `max_epochs_ahead` governance may set.
pub const MAX_MAX_EPOCHS_AHEAD: u32 = 10_000;

/// The current committee members `sender` controls, with their weights.
pub(super) fn controlled_members(o: &Overlay<'_>, sender: Address) -> Vec<(NodeId, u16)> {
    o.committee()
        .members()
        .iter()
        .filter(|m| {
            Address::of(&m.public_key) == sender
                || o.node(&m.node_id).is_some_and(|n| n.owner == sender)
        })
        .map(|m| (m.node_id, m.weight))
        .collect()
}

fn invalid(reason: impl Into<String>) -> TxError {
    TxError::InvalidProposal {
        reason: reason.into(),
    }
}

fn validate(o: &Overlay<'_>, change: &ProposalChange) -> Result<(), TxError> {
    let p = &o.system.params;
    let n = u32::from(o.system.n_shards);
    match *change {
        ProposalChange::EpochDurationMs(d) if d == 0 || d > MAX_EPOCH_DURATION_MS => Err(invalid(
            format!("epoch length {d} ms not in 1..={MAX_EPOCH_DURATION_MS}"),
        )),
        ProposalChange::MaxEpochsAhead(m) if m == 0 || m > MAX_MAX_EPOCHS_AHEAD => Err(invalid(
            format!("max_epochs_ahead {m} not in 1..={MAX_MAX_EPOCHS_AHEAD}"),
        )),
        ProposalChange::ActiveSetSize(s)
            if s == 0 || u32::from(s) * u32::from(p.max_shards_per_node) < n =>
        {
            Err(invalid(format!(
                "{s} nodes with at most {} shards each cannot hold {n} shards",
                p.max_shards_per_node
            )))
        }
        ProposalChange::MaxShardsPerNode(c)
            if c == 0 || u32::from(c) * u32::from(p.active_set_size) < n =>
        {
            Err(invalid(format!(
                "{} nodes with at most {c} shards each cannot hold {n} shards",
                p.active_set_size
            )))
        }
        ProposalChange::SlashCommission(node) if o.node(&node).is_none() => {
            Err(TxError::UnknownNode(node))
        }
        ProposalChange::ChallengesPerNode(k) if k > MAX_CHALLENGES_PER_NODE => Err(invalid(
            format!("challenges_per_node {k} not in 0..={MAX_CHALLENGES_PER_NODE}"),
        )),
        ProposalChange::ChallengeWindowMs(w) if w == 0 || w > MAX_EPOCH_DURATION_MS => {
            Err(invalid(format!(
                "challenge window {w} ms not in 1..={MAX_EPOCH_DURATION_MS}"
            )))
        }
        _ => Ok(()),
    }
}

pub(super) fn propose(
    o: &mut Overlay<'_>,
    sender: Address,
    change: &ProposalChange,
    deadline_epoch: Epoch,
) -> Result<(), TxError> {
    if controlled_members(o, sender).is_empty() {
        return Err(TxError::NotCommitteeMember);
    }
    let e = o.epoch();
    let last = e.0.saturating_add(MAX_PROPOSAL_EPOCHS);
    if deadline_epoch < e || deadline_epoch.0 > last {
        return Err(invalid(format!(
            "deadline epoch {deadline_epoch} not in {e}..={last}"
        )));
    }
    validate(o, change)?;
    let id = o.system.next_proposal_id;
    o.system.next_proposal_id = id
        .checked_add(1)
        .ok_or_else(|| TxError::overflow("proposal id"))?;
    o.put_proposal(Proposal {
        id,
        proposer: sender,
        change: change.clone(),
        created_epoch: e,
        deadline_epoch,
        votes: Default::default(),
        approve_weight: 0,
        reject_weight: 0,
        status: ProposalStatus::Open,
    });
    o.events.push(Event::ProposalCreated {
        id,
        proposer: sender,
        change: change.clone(),
        deadline_epoch,
    });
    Ok(())
}

pub(super) fn vote(
    o: &mut Overlay<'_>,
    sender: Address,
    id: u64,
    approve: bool,
) -> Result<(), TxError> {
    let mut p = o.proposal(id).ok_or(TxError::UnknownProposal(id))?;
    let e = o.epoch();
    if p.status != ProposalStatus::Open || e > p.deadline_epoch {
        return Err(TxError::ProposalClosed(id));
    }
    let mine = controlled_members(o, sender);
    if mine.is_empty() {
        return Err(TxError::NotCommitteeMember);
    }
    for (node, _) in &mine {
        p.votes.insert(*node, approve);
    }
    let (mut yes, mut no) = (0u16, 0u16);
    for m in o.committee().members() {
        match p.votes.get(&m.node_id) {
            Some(true) => yes = yes.saturating_add(m.weight),
            Some(false) => no = no.saturating_add(m.weight),
            None => {}
        }
    }
    p.approve_weight = yes;
    p.reject_weight = no;
    o.events.push(Event::ProposalVoted {
        id,
        nodes: mine.iter().map(|(n, _)| *n).collect(),
        approve,
        approve_weight: yes,
        reject_weight: no,
    });
    let n = o.system.n_shards;
    if is_quorum(yes, n) {
        execute(o, &p.change)?;
        p.status = ProposalStatus::Executed { epoch: e };
        o.events.push(Event::ProposalExecuted {
            id,
            change: p.change.clone(),
        });
    } else if !is_quorum(n.saturating_sub(no), n) {
        p.status = ProposalStatus::Rejected { epoch: e };
        o.events.push(Event::ProposalRejected { id });
    }
    o.put_proposal(p);
    Ok(())
}

fn execute(o: &mut Overlay<'_>, change: &ProposalChange) -> Result<(), TxError> {
    let p = &mut o.system.params;
    match *change {
        ProposalChange::EpochDurationMs(d) => p.epoch_duration_ms = d,
        ProposalChange::MaxEpochsAhead(m) => p.max_epochs_ahead = m,
        ProposalChange::MinFee(f) => p.min_fee = f,
        ProposalChange::ActiveSetSize(s) => p.active_set_size = s,
        ProposalChange::MaxShardsPerNode(c) => p.max_shards_per_node = c,
        ProposalChange::ChallengesPerNode(k) => p.challenges_per_node = k,
        ProposalChange::ChallengeWindowMs(w) => p.challenge_window_ms = w,
        ProposalChange::SlashCommission(node) => {
            let mut n = o.node(&node).ok_or(TxError::UnknownNode(node))?;
            let amount = n
                .pool
                .commission
                .checked_add(n.pool.commission_locked)
                .ok_or_else(|| TxError::overflow("commission"))?;
            n.pool.commission = Frost::ZERO;
            n.pool.commission_locked = Frost::ZERO;
            o.put_node(n);
            let s = &mut o.system;
            s.total_supply = s
                .total_supply
                .checked_sub(amount)
                .ok_or_else(|| TxError::overflow("supply"))?;
            s.total_burned = s
                .total_burned
                .checked_add(amount)
                .ok_or_else(|| TxError::overflow("burned"))?;
            o.events.push(Event::CommissionSlashed { node, amount });
        }
    }
    Ok(())
}
