//! The epoch state machine, run by [`State::begin_block`] from the block time.
//!
//! Schedule (from stored state, never from a formula over genesis): the current epoch started
//! at `epoch_start_ms` and lasts `epoch_duration_ms` (the value of `params.epoch_duration_ms`
//! when it started, so a governance change applies from the next epoch). Its midpoint is
//! `epoch_start_ms + epoch_duration_ms / 2` and the next epoch starts at
//! `next_epoch_at_ms = epoch_start_ms + epoch_duration_ms`; the next epoch's start is that
//! scheduled time, not the time of the block that performs the change, so boundaries do not
//! drift. With a constant length, epoch `e` starts at `genesis_time + e × length`.
//!
//! States ([`EpochState`]): `normal → next_committee_selected → (boundary) sync → normal`.
//! At each block, repeatedly until nothing applies (a block late by several epochs runs every
//! missed step in order):
//! 1. **Mid-epoch selection** — state `normal` and `time ≥ midpoint`: the next committee is
//!    chosen from each node's `total_stake` (active set of `active_set_size`, D'Hondt with the
//!    `max_shards_per_node` cap, minimal movement from the current assignment: see
//!    [`crate::committee`]). If no valid apportionment exists the current committee is kept.
//!    State → `next_committee_selected`; event `NextCommitteeSelected`. If the previous change's
//!    sync is still running at the midpoint, selection waits for it (no shard moves twice
//!    before a quorum holds it).
//! 2. **Epoch change** — `time ≥ next_epoch_at_ms`, in this order:
//!    1. commission earned at the previous change becomes collectable;
//!    2. the ending epoch's escrow is paid to its committee (`RewardsPaid`): node `i` with
//!       `wᵢ` of `n` shards gets `floor(total × wᵢ / n)`; of that, `floor(reward ×
//!       commission_bps / 10000)` is the operator's commission (locked one epoch), the rest is
//!       added to the pool's `active_wal`; the rounding leftover goes to the next epoch's
//!       escrow. (Rewards are "shards × bytes stored": every shard stores one sliver pair of
//!       every blob, so each shard stores the same bytes and the product is proportional to
//!       shards.) A member that failed the epoch's storage challenges is not paid: its
//!       reward goes to the next epoch's escrow too ([`super::challenge`]; the results are
//!       settled before the change);
//!    3. the selected committee takes office (or, if none was selected because a sync was
//!       still running, the current one continues unchanged); the old committee becomes the
//!       *previous* committee — except when continuing an unfinished sync, where the previous
//!       committee stays the one that still holds the data;
//!    4. epoch, start time and length advance;
//!    5. pools: stakes leaving at the new epoch are paid out of their pools into their objects,
//!       then pending stakes activating at it buy shares;
//!    6. per-epoch accounts of past epochs are dropped; prices and capacity are recomputed from
//!       the new committee;
//!    7. open proposals whose deadline passed expire;
//!    8. **sync**: every shard whose holder differs from the previous committee's is a move
//!       (`to` pulls from `from`). Members that gain no shard count as synced at once. State →
//!       `sync` (event `EpochChanged`); if the synced weight is already a quorum (e.g. nothing
//!       moved), state → `normal` at once (event `SyncDone`);
//!    9. the new epoch's storage challenges are drawn from this block's hash
//!       ([`super::challenge`], event `ChallengesStarted`).
//!
//!    Before each step, a challenge round whose window closed (or whose epoch ends) is settled
//!    (event `ChallengeResults`).
//! 3. **Sync done** — `EpochSyncDone { epoch }` transactions from members' keys add their weight
//!    (event `ShardsSynced`); at a quorum (`3w ≥ 2n+1`) state → `normal` (`SyncDone`), and reads
//!    of older blobs move from the previous committee to the current one. Members that report
//!    after the quorum, in the same epoch, are still recorded (`ShardsSynced`, no state change):
//!    that tells the previous holders of their shards that the handover is complete.
//!
//! A block late by `k ≥ 1` whole epochs after the boundary (a halted chain, or a genesis time
//! in the past) performs one change that skips them: the epoch lands at `old + 1 + k`, starting
//! at `boundary + k × length`, as the schedule says; the escrow of every epoch before it is paid
//! to the committee in office (which served them); stakes due in between are processed.
//!
//! Epochs never stall: if a sync is not done by the next boundary, the epoch still advances
//! with the same committee and the sync continues (the old previous committee keeps serving
//! reads). Writes always go to the current committee: certificates of `CertifyBlob` and
//! `InvalidateBlob` are checked against it and its epoch.

use std::collections::{BTreeMap, BTreeSet};

use floe_common::{Committee, CommitteeMember, Epoch, Frost, NodeId, ShardIndex};

use super::events::{EpochEvent, Event, MemberShards, NodeReward, ShardMove};
use super::objects::{
    CommitteeState, EpochState, Object, ProposalStatus, StakeStatus, StorageNode,
};
use super::persist::Key;
use super::pricing;
use super::{BlockContext, State};
use crate::committee::{active_set, apportion, transition};

fn sat(a: Frost, b: Frost) -> Frost {
    Frost(a.0.saturating_add(b.0))
}

/// The members and shards of a committee, for events.
pub(crate) fn member_shards(c: &CommitteeState) -> Vec<MemberShards> {
    c.shards
        .iter()
        .map(|(node, shards)| MemberShards {
            node: *node,
            shards: shards.clone(),
        })
        .collect()
}

/// The shards whose holder in `to` differs from that in `from`, by shard index.
pub(crate) fn shard_moves(from: &CommitteeState, to: &CommitteeState) -> Vec<ShardMove> {
    let holder: BTreeMap<ShardIndex, NodeId> = from
        .shards
        .iter()
        .flat_map(|(n, s)| s.iter().map(move |s| (*s, *n)))
        .collect();
    let mut moves: Vec<ShardMove> = to
        .shards
        .iter()
        .flat_map(|(n, s)| s.iter().map(move |s| (*s, *n)))
        .filter_map(|(shard, to)| {
            let from = *holder.get(&shard)?;
            (from != to).then_some(ShardMove { shard, from, to })
        })
        .collect();
    moves.sort_by_key(|m| m.shard);
    moves
}

impl State {
    /// Runs the epoch state machine up to block time `ctx.timestamp_ms` (see the module docs):
    /// mid-epoch committee selection and epoch changes, as many as the time calls for. Its
    /// events are kept for [`State::take_block_events`]. Returns whether the epoch changed.
    /// Idempotent for a given time; [`super::apply`] calls it too.
    pub fn begin_block(&mut self, ctx: &BlockContext) -> bool {
        let t = ctx.timestamp_ms;
        let start = self.system.epoch;
        loop {
            self.settle_challenges(t);
            if self.system.epoch_state == EpochState::Normal
                && self.next_committee.is_none()
                && t >= self.system.mid_epoch_ms()
                && t < self.system.next_epoch_at_ms()
            {
                self.select_next_committee();
            } else if t >= self.system.next_epoch_at_ms() {
                if self.system.epoch_state == EpochState::Normal && self.next_committee.is_none() {
                    // A block late past the midpoint and the boundary: select first.
                    self.select_next_committee();
                }
                self.change_epoch(ctx);
            } else {
                break;
            }
        }
        self.system.epoch != start
    }

    /// The events of the epoch state machine since the last call (block events).
    pub fn take_block_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.block_events)
    }

    fn build_committee(
        &self,
        epoch: Epoch,
        shards: BTreeMap<NodeId, Vec<ShardIndex>>,
    ) -> Option<CommitteeState> {
        let members = shards
            .iter()
            .map(|(id, s)| {
                Some(CommitteeMember {
                    node_id: *id,
                    public_key: self.nodes.get(id)?.public_key,
                    weight: u16::try_from(s.len()).ok()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let committee = Committee::new(epoch, self.system.n_shards, members).ok()?;
        Some(CommitteeState { committee, shards })
    }

    fn select_next_committee(&mut self) {
        let next_epoch = self.system.epoch.next();
        let stakes: Vec<(NodeId, u64)> = self
            .nodes
            .values()
            .map(|n| (n.node_id, n.total_stake.0))
            .collect();
        let p = &self.system.params;
        let set = active_set(&stakes, p.active_set_size);
        let selected = apportion(&set, self.system.n_shards, p.max_shards_per_node)
            .ok()
            .and_then(|counts| {
                self.build_committee(next_epoch, transition(&self.committee.shards, &counts))
            })
            .unwrap_or_else(|| self.committee.with_epoch(next_epoch));
        self.block_events
            .push(Event::Epoch(EpochEvent::NextCommitteeSelected {
                epoch: next_epoch,
                members: member_shards(&selected),
                moves: shard_moves(&self.committee, &selected),
            }));
        self.next_committee = Some(selected);
        self.system.epoch_state = EpochState::NextCommitteeSelected;
        self.dirty.insert(Key::NextCommittee);
        self.dirty.insert(Key::System);
    }

    fn change_epoch(&mut self, ctx: &BlockContext) {
        let t = ctx.timestamp_ms;
        let old = self.system.epoch;
        // Whole epochs (of the new length) missed after the boundary: skipped in one change.
        let length = self.system.params.epoch_duration_ms.max(1);
        let skipped = (t - self.system.next_epoch_at_ms()) / length;
        let skipped = u32::try_from(skipped).unwrap_or(u32::MAX);
        let new = Epoch(old.0.saturating_add(1).saturating_add(skipped));
        self.dirty.insert(Key::System);
        self.dirty.insert(Key::Committee);
        self.dirty.insert(Key::PreviousCommittee);
        self.dirty.insert(Key::NextCommittee);
        let before: BTreeMap<NodeId, StorageNode> = self.nodes.clone();
        self.settle_rewards(new);
        let continuing_sync = self.rotate_committee(new);
        let start = self
            .system
            .next_epoch_at_ms()
            .saturating_add(u64::from(skipped).saturating_mul(length));
        self.system.epoch = new;
        self.system.epoch_start_ms = start;
        self.system.epoch_duration_ms = length;

        self.process_pools(new);
        for (id, n) in self.nodes.iter_mut() {
            n.total_stake = n.pool.next_stake();
            if before.get(id) != Some(n) {
                self.dirty.insert(Key::Node(*id));
            }
        }
        self.system.epoch_accounts = self.system.epoch_accounts.split_off(&new);
        self.update_prices();
        self.expire_proposals(new);
        self.start_shard_sync(new, start, continuing_sync);
        self.start_challenges(ctx);
    }

    /// Unlocks last epoch's commission and pays the rewards of every epoch before `new`.
    fn settle_rewards(&mut self, new: Epoch) {
        for n in self.nodes.values_mut() {
            n.pool.commission = sat(n.pool.commission, n.pool.commission_locked);
            n.pool.commission_locked = Frost::ZERO;
        }
        let due: Vec<Epoch> = self
            .system
            .epoch_accounts
            .range(..new)
            .map(|(e, _)| *e)
            .collect();
        for e in due {
            self.pay_rewards(e, new);
        }
    }

    /// The selected committee (or the current one) takes over for `new`; the committee it
    /// replaces becomes the previous one, unless a sync still running keeps the older reads.
    /// Returns whether that sync continues.
    fn rotate_committee(&mut self, new: Epoch) -> bool {
        let continuing_sync = matches!(self.system.epoch_state, EpochState::Sync { .. });
        let next = match self.next_committee.take() {
            Some(c) => c.with_epoch(new),
            None => self.committee.with_epoch(new),
        };
        let prev = std::mem::replace(&mut self.committee, next);
        if !continuing_sync || self.previous_committee.is_none() {
            self.previous_committee = Some(prev);
        }
        continuing_sync
    }

    /// Open proposals whose deadline passed expire.
    fn expire_proposals(&mut self, new: Epoch) {
        let expired: Vec<u64> = self
            .proposals
            .values()
            .filter(|p| p.status == ProposalStatus::Open && p.deadline_epoch < new)
            .map(|p| p.id)
            .collect();
        for id in expired {
            if let Some(p) = self.proposals.get_mut(&id) {
                p.status = ProposalStatus::Expired { epoch: new };
                self.dirty.insert(Key::Proposal(id));
                self.block_events.push(Event::ProposalExpired { id });
            }
        }
    }

    /// Emits `EpochChanged` with the shard moves, and enters the sync phase unless the members
    /// that already count as synced (those gaining nothing, or those a continuing sync counted)
    /// hold a quorum of shards.
    fn start_shard_sync(&mut self, new: Epoch, start: u64, continuing_sync: bool) {
        let reads = self
            .previous_committee
            .clone()
            .unwrap_or_else(|| self.committee.clone());
        let moves = shard_moves(&reads, &self.committee);
        let synced: BTreeSet<NodeId> = match &self.system.epoch_state {
            EpochState::Sync { synced, .. } if continuing_sync => synced.clone(),
            _ => {
                let gaining: BTreeSet<NodeId> = moves.iter().map(|m| m.to).collect();
                self.committee
                    .shards
                    .keys()
                    .filter(|n| !gaining.contains(n))
                    .copied()
                    .collect()
            }
        };
        let weight: u16 = self
            .committee
            .committee
            .members()
            .iter()
            .filter(|m| synced.contains(&m.node_id))
            .map(|m| m.weight)
            .sum();
        self.block_events
            .push(Event::Epoch(EpochEvent::EpochChanged {
                epoch: new,
                start_ms: start,
                next_epoch_at_ms: self.system.next_epoch_at_ms(),
                members: member_shards(&self.committee),
                moves,
                previous_epoch: reads.committee.epoch(),
            }));
        self.system.epoch_synced = synced.clone();
        if pricing::is_quorum(weight, self.system.n_shards) {
            self.system.epoch_state = EpochState::Normal;
            self.block_events
                .push(Event::Epoch(EpochEvent::SyncDone { epoch: new }));
        } else {
            self.system.epoch_state = EpochState::Sync { synced, weight };
        }
    }

    /// Pays epoch `epoch`'s escrow to the current (ending) committee; the rounding leftover
    /// goes to epoch `next`'s escrow.
    fn pay_rewards(&mut self, epoch: Epoch, next: Epoch) {
        let total = self
            .system
            .epoch_accounts
            .get(&epoch)
            .map_or(Frost::ZERO, |a| a.rewards);
        if total == Frost::ZERO {
            return;
        }
        if let Some(a) = self.system.epoch_accounts.get_mut(&epoch) {
            a.rewards = Frost::ZERO;
        }
        let n = u128::from(self.committee.committee.n_shards().max(1));
        let forfeiting = self.forfeiting();
        let mut paid = 0u64;
        let mut forfeited = 0u64;
        let mut rewards = Vec::new();
        for m in self.committee.committee.members() {
            let reward = (u128::from(total.0) * u128::from(m.weight) / n) as u64;
            if forfeiting.contains(&m.node_id) {
                forfeited += reward;
                continue;
            }
            let Some(node) = self.nodes.get_mut(&m.node_id) else {
                continue;
            };
            let commission = (u128::from(reward) * u128::from(node.commission_bps) / 10_000) as u64;
            let to_pool = reward - commission;
            node.pool.commission_locked = sat(node.pool.commission_locked, Frost(commission));
            node.pool.active_wal = sat(node.pool.active_wal, Frost(to_pool));
            self.system.total_staked = sat(self.system.total_staked, Frost(to_pool));
            paid += reward;
            rewards.push(NodeReward {
                node: m.node_id,
                reward: Frost(reward),
                commission: Frost(commission),
            });
        }
        let leftover = Frost(total.0 - paid - forfeited);
        let carried = Frost(total.0 - paid);
        if carried > Frost::ZERO {
            let next = self.system.epoch_accounts.entry(next).or_default();
            next.rewards = sat(next.rewards, carried);
        }
        self.block_events
            .push(Event::Epoch(EpochEvent::RewardsPaid {
                epoch,
                total,
                nodes: rewards,
                leftover,
                forfeited: Frost(forfeited),
            }));
    }

    /// Pays out the stakes leaving at `epoch` and activates those starting at it.
    fn process_pools(&mut self, epoch: Epoch) {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for node_id in ids {
            let Some(node) = self.nodes.get_mut(&node_id) else {
                continue;
            };
            let due: Vec<Epoch> = node
                .pool
                .pending_objects
                .range(..=epoch)
                .map(|(e, _)| *e)
                .collect();
            let mut objs = Vec::new();
            for e in due {
                objs.extend(node.pool.pending_objects.remove(&e).unwrap_or_default());
                node.pool.pending_withdrawal.remove(&e);
            }
            let pool = &mut node.pool;
            let mut withdraws = Vec::new();
            let mut activations = Vec::new();
            for id in objs {
                if let Some(Object::StakedWal(s)) = self.objects.get(&id) {
                    match s.status {
                        StakeStatus::Withdrawing => withdraws.push(id),
                        StakeStatus::Pending => activations.push(id),
                        _ => {}
                    }
                }
            }
            for id in withdraws {
                if let Some(Object::StakedWal(s)) = self.objects.get_mut(&id) {
                    let value = pool.value_of(s.shares);
                    pool.active_wal = Frost(pool.active_wal.0.saturating_sub(value.0));
                    pool.shares = pool.shares.saturating_sub(s.shares);
                    if value < s.amount {
                        s.amount = value;
                    }
                    s.rewards = Frost(value.0 - s.amount.0);
                    s.status = StakeStatus::Withdrawable;
                    self.dirty.insert(Key::Object(id));
                }
            }
            for id in activations {
                if let Some(Object::StakedWal(s)) = self.objects.get_mut(&id) {
                    let shares = pool.shares_for(s.amount);
                    pool.shares = pool.shares.saturating_add(shares);
                    pool.active_wal = sat(pool.active_wal, s.amount);
                    let a = s.activation_epoch;
                    if let Some(p) = pool.pending_stake.get_mut(&a) {
                        *p = Frost(p.0.saturating_sub(s.amount.0));
                        if *p == Frost::ZERO {
                            pool.pending_stake.remove(&a);
                        }
                    }
                    s.shares = shares;
                    s.status = StakeStatus::Active;
                    self.dirty.insert(Key::Object(id));
                }
            }
        }
    }

    fn update_prices(&mut self) {
        let used = self.system.used_capacity(self.system.epoch);
        let nodes = &self.nodes;
        let Some(p) = pricing::compute(
            &self.committee.committee,
            |id| nodes.get(id).map(|n| n.votes),
            used,
        ) else {
            return;
        };
        self.block_events
            .extend(pricing::apply(&mut self.system, p));
    }
}
