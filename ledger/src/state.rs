//! The ledger state and the transaction executor.
//!
//! [`State`] holds everything in `BTreeMap`s (deterministic iteration). [`apply`] executes one
//! verified transaction: it validates and computes all writes in an overlay first and commits
//! them only on success. A transaction refused by an admission check (fee, nonce, a balance
//! for the fee) changes nothing; one that fails in execution pays its fee and consumes its
//! nonce, and nothing else of it is kept.
//!
//! Epochs: the caller calls [`State::begin_block`] at the start of each block, which runs the
//! epoch state machine ([`epoch`]: mid-epoch committee selection, epoch change with rewards,
//! stake activation and withdrawal, prices, sync phase) from the block time; [`apply`] calls it
//! too, so forgetting it cannot run a transaction in a stale epoch. Its events are *block
//! events* ([`State::take_block_events`]), recorded with the block before its transactions'.
//!
//! Modules: [`coin`], [`storage`] (escrow per epoch, capacity), [`blob`] (also transfers and
//! burns), [`shared`] (shared blobs), [`staking`] (pools,
//! votes, commission, `EpochSyncDone`), [`pricing`] (quantiles), [`governance`], [`epoch`],
//! [`challenge`] (storage challenges: live-blob snapshot, seed, proofs, forfeiture), `site`
//! (sites and names), `policy` (access policies of private blobs).
//!
//! Conservation: `total_supply` (genesis + faucet mints − slashing burns) always equals the
//! sum of balances, the fee pool, the per-epoch escrow, every pool's active and pending WAL and
//! commission, withdrawable `StakedWal` objects and shared blobs' funds
//! ([`State::check_supply`]).

use std::collections::{BTreeMap, BTreeSet};

use floe_common::{BlobId, Committee, Epoch, Frost, NodeId, ObjectId, ShardIndex};

use crate::block::BlockHash;
use crate::error::{TxError, TxFailure};
use crate::genesis::{Genesis, GenesisError};
use crate::tx::{Address, TxDigest, TxKind, VerifiedTransaction};

mod blob;
pub mod challenge;
mod coin;
pub mod epoch;
pub mod governance;
mod overlay;
mod persist;
mod policy;
pub mod pricing;
mod shared;
mod site;
pub mod staking;
mod storage;

/// The `(owner, object)` index of `objects`.
fn owner_index(objects: &BTreeMap<ObjectId, Object>) -> BTreeSet<(Address, ObjectId)> {
    objects.iter().map(|(id, o)| (o.owner(), *id)).collect()
}

// The records and events are data shared with clients (`floe-ledger-types`); the rules that
// change them live here. Submodules reach them as `super::objects` and `super::events`.
use floe_ledger_types::{events, objects};

pub use events::{Effects, EpochEvent, Event, MemberShards, NodeReward, ShardMove};
pub use objects::{
    Account, BlobIdInfo, BlobObject, ChallengeRound, CommitteeState, EpochAccount, EpochState,
    NodeVotes, Object, Proposal, ProposalChange, ProposalStatus, StakeStatus, StakedWal,
    StakingPool, StorageNode, StorageResource, SystemState, derive_object_id,
};
pub use persist::StateError;

use overlay::Overlay;
use persist::Key;

/// Where a transaction executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockContext {
    /// Block height.
    pub height: u64,
    /// Block time (ms since the Unix epoch), as agreed by consensus.
    pub timestamp_ms: u64,
    /// Index of the transaction in the block.
    pub tx_index: u32,
    /// The block's hash: the storage challenges of an epoch are seeded from the block that
    /// starts it ([`challenge`]).
    pub block_hash: BlockHash,
}

/// Everything the ledger knows.
#[derive(Debug, Clone)]
pub struct State {
    system: SystemState,
    committee: CommitteeState,
    accounts: BTreeMap<Address, Account>,
    objects: BTreeMap<ObjectId, Object>,
    blobs: BTreeMap<BlobId, BlobIdInfo>,
    nodes: BTreeMap<NodeId, StorageNode>,
    /// The committee that serves reads of older blobs while a sync runs (the last epoch's).
    previous_committee: Option<CommitteeState>,
    /// The committee selected at mid-epoch for the next epoch.
    next_committee: Option<CommitteeState>,
    proposals: BTreeMap<u64, Proposal>,
    /// The current epoch's storage challenges (none in epoch 0 or when disabled).
    challenge: Option<ChallengeRound>,
    /// The live blobs at the current epoch's start, ascending: rank → blob id for the draws.
    challenge_blobs: Vec<BlobId>,
    /// The last settled round, kept once the next one starts (or challenges are disabled).
    challenge_last: Option<ChallengeRound>,
    /// `(owner, object)` for every object: the owner index (derived from `objects`, not part
    /// of equality or of the stored state).
    owned: BTreeSet<(Address, ObjectId)>,
    /// Keys changed since the last [`State::take_changes`] (not part of equality).
    dirty: BTreeSet<Key>,
    /// Events of the epoch state machine not yet taken (not part of equality).
    block_events: Vec<Event>,
}

impl PartialEq for State {
    fn eq(&self, o: &Self) -> bool {
        self.system == o.system
            && self.committee == o.committee
            && self.accounts == o.accounts
            && self.objects == o.objects
            && self.blobs == o.blobs
            && self.nodes == o.nodes
            && self.previous_committee == o.previous_committee
            && self.next_committee == o.next_committee
            && self.proposals == o.proposals
            && self.challenge == o.challenge
            && self.challenge_blobs == o.challenge_blobs
            && self.challenge_last == o.challenge_last
    }
}

impl Eq for State {}

impl State {
    /// The initial state; every entry is pending in [`State::take_changes`].
    pub fn from_genesis(g: &Genesis) -> Result<State, GenesisError> {
        g.validate()?;
        let committee = g.committee()?;
        let digest = TxDigest(g.digest());
        let mut accounts = BTreeMap::new();
        for (a, f) in &g.accounts {
            accounts.insert(
                *a,
                Account {
                    balance: *f,
                    ..Account::default()
                },
            );
        }
        let mut nodes = BTreeMap::new();
        let mut objects = BTreeMap::new();
        let mut total_staked = Frost::ZERO;
        for (i, n) in g.storage_nodes.iter().enumerate() {
            let node_id = n.node_id();
            let pool = StakingPool {
                active_wal: n.stake,
                shares: n.stake.0,
                ..Default::default()
            };
            nodes.insert(
                node_id,
                StorageNode {
                    node_id,
                    name: n.name.clone(),
                    public_key: n.public_key,
                    network_address: n.network_address.clone(),
                    http_address: n.http_address.clone(),
                    commission_bps: n.commission_bps,
                    votes: NodeVotes {
                        storage_price: n.storage_price_vote,
                        write_price: n.write_price_vote,
                        capacity: n.capacity_vote,
                    },
                    total_stake: n.stake,
                    owner: n.owner,
                    pool,
                },
            );
            if n.stake > Frost::ZERO {
                let index = u32::try_from(i).map_err(|_| GenesisError::Overflow)?;
                objects.insert(
                    derive_object_id(&digest, index),
                    Object::StakedWal(StakedWal {
                        owner: n.owner,
                        node: node_id,
                        amount: n.stake,
                        activation_epoch: Epoch(0),
                        withdrawal_requested_epoch: None,
                        withdraw_epoch: None,
                        shares: n.stake.0,
                        rewards: Frost::ZERO,
                        status: StakeStatus::Active,
                    }),
                );
                total_staked = total_staked
                    .checked_add(n.stake)
                    .ok_or(GenesisError::Overflow)?;
            }
        }
        let system = SystemState {
            chain_id: g.chain_id.clone(),
            genesis_time_ms: g.genesis_time_ms,
            params: g.params.clone(),
            faucet: g.faucet.clone(),
            n_shards: g.n_shards,
            epoch: Epoch(0),
            epoch_state: EpochState::Normal,
            epoch_synced: std::collections::BTreeSet::new(),
            epoch_start_ms: g.genesis_time_ms,
            epoch_duration_ms: g.params.epoch_duration_ms,
            storage_price: g.params.storage_price_per_mib_epoch,
            write_price: g.params.write_price_per_mib,
            capacity: 0,
            total_supply: g.total_supply()?,
            total_burned: Frost::ZERO,
            fee_pool: Frost::ZERO,
            epoch_accounts: BTreeMap::new(),
            total_staked,
            next_proposal_id: 0,
            faucet_minted: Default::default(),
        };
        let mut state = State {
            system,
            committee,
            accounts,
            objects,
            blobs: BTreeMap::new(),
            nodes,
            previous_committee: None,
            next_committee: None,
            proposals: BTreeMap::new(),
            challenge: None,
            challenge_blobs: Vec::new(),
            challenge_last: None,
            owned: BTreeSet::new(),
            dirty: BTreeSet::new(),
            block_events: Vec::new(),
        };
        state.owned = owner_index(&state.objects);
        // Genesis prices come from the parameters; the capacity from the nodes' votes.
        let nodes = &state.nodes;
        state.system.capacity = pricing::compute(
            &state.committee.committee,
            |id| nodes.get(id).map(|n| n.votes),
            0,
        )
        .map_or(u64::MAX, |p| p.capacity);
        state.dirty = state
            .entries()
            .iter()
            .map(|(k, _)| Key::from_bytes(k).expect("own keys parse"))
            .collect();
        Ok(state)
    }

    /// The current epoch.
    pub fn epoch(&self) -> Epoch {
        self.system.epoch
    }

    /// The system record (parameters, prices, pools, supply).
    pub fn system(&self) -> &SystemState {
        &self.system
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.system.chain_id
    }

    /// An account, if it exists.
    pub fn account(&self, a: &Address) -> Option<&Account> {
        self.accounts.get(a)
    }

    /// An object, if it exists.
    pub fn object(&self, id: &ObjectId) -> Option<&Object> {
        self.objects.get(id)
    }

    /// Objects owned by `owner`, in id order.
    pub fn objects_owned_by(&self, owner: &Address) -> Vec<(ObjectId, &Object)> {
        self.objects_owned_page(owner, None, usize::MAX)
    }

    /// Whether the owner index matches the objects (for property tests).
    pub fn owner_index_is_consistent(&self) -> bool {
        self.owned == owner_index(&self.objects)
    }

    /// At most `limit` objects owned by `owner` with ids after `after`, in id order, from the
    /// owner index (no scan).
    pub fn objects_owned_page(
        &self,
        owner: &Address,
        after: Option<ObjectId>,
        limit: usize,
    ) -> Vec<(ObjectId, &Object)> {
        use std::ops::Bound;
        let start = match after {
            Some(id) => Bound::Excluded((*owner, id)),
            None => Bound::Included((*owner, ObjectId([0; 32]))),
        };
        self.owned
            .range((start, Bound::Included((*owner, ObjectId([0xff; 32])))))
            .take(limit)
            .filter_map(|(_, id)| self.objects.get(id).map(|o| (*id, o)))
            .collect()
    }

    /// The status of a blob id, if it was ever registered or invalidated (and not all its
    /// objects were deleted).
    pub fn blob_status(&self, id: &BlobId) -> Option<&BlobIdInfo> {
        self.blobs.get(id)
    }

    /// Where the latest certified end epoch of blob `id` was set: the certified, valid blob
    /// object with that end epoch and the height of its event (for clients to prove it).
    pub fn blob_evidence(&self, id: &BlobId) -> Option<floe_ledger_types::rpc::BlobEvidence> {
        let info = self.blobs.get(id)?;
        let end = info.max_certified_end_epoch?;
        info.objects
            .iter()
            .find_map(|oid| match self.object(oid).and_then(Object::as_blob) {
                Some(b) if b.is_certified() && !b.invalid && b.end_epoch == end => {
                    Some(floe_ledger_types::rpc::BlobEvidence {
                        object_id: *oid,
                        height: b.changed_at,
                        end_epoch: end,
                    })
                }
                _ => None,
            })
    }

    /// A storage node.
    pub fn node(&self, id: &NodeId) -> Option<&StorageNode> {
        self.nodes.get(id)
    }

    /// All storage nodes, in id order.
    pub fn nodes(&self) -> impl Iterator<Item = &StorageNode> {
        self.nodes.values()
    }

    /// The current storage committee (weights = shard counts).
    pub fn committee(&self) -> &Committee {
        &self.committee.committee
    }

    /// The shards of each committee member.
    pub fn shard_assignment(&self) -> &BTreeMap<NodeId, Vec<ShardIndex>> {
        &self.committee.shards
    }

    /// The current committee with its shards.
    pub fn committee_state(&self) -> &CommitteeState {
        &self.committee
    }

    /// The committee that serves reads of older blobs during a sync (the previous epoch's,
    /// or an older one while an unfinished sync continues); `None` before the first change.
    pub fn previous_committee(&self) -> Option<&CommitteeState> {
        self.previous_committee.as_ref()
    }

    /// The committee selected for the next epoch (between mid-epoch and the boundary).
    pub fn next_committee(&self) -> Option<&CommitteeState> {
        self.next_committee.as_ref()
    }

    /// All governance proposals, by id.
    pub fn proposals(&self) -> &BTreeMap<u64, Proposal> {
        &self.proposals
    }

    /// One proposal.
    pub fn proposal(&self, id: u64) -> Option<&Proposal> {
        self.proposals.get(&id)
    }

    /// The shards of one node (empty if it is not in the committee).
    pub fn shards_of(&self, node: &NodeId) -> &[ShardIndex] {
        self.committee
            .shards
            .get(node)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Checks conservation: balances + fee pool + escrow + pools (active, pending,
    /// commission) + WAL held in objects (withdrawable stake, shared blobs' funds) = total
    /// supply, and that `total_staked` matches the pools and stake objects. O(state size).
    pub fn check_supply(&self) -> Result<(), String> {
        fn sum(mut it: impl Iterator<Item = Option<Frost>>) -> Option<Frost> {
            it.try_fold(Frost::ZERO, |acc, f| acc.checked_add(f?))
        }
        let balances =
            sum(self.accounts.values().map(|a| Some(a.balance))).ok_or("balances overflow")?;
        let held = |stake: bool| {
            sum(self
                .objects
                .values()
                .filter(|o| matches!(o, Object::StakedWal(_)) == stake)
                .map(Object::escrow))
        };
        let withdrawable = held(true).ok_or("stake overflow")?;
        let shared = held(false).ok_or("shared funds overflow")?;
        let pools = sum(self.nodes.values().map(|n| n.pool.held())).ok_or("pools overflow")?;
        let commission = sum(self
            .nodes
            .values()
            .map(|n| n.pool.commission.checked_add(n.pool.commission_locked)))
        .ok_or("commission overflow")?;
        let staked = Frost(pools.0 - commission.0 + withdrawable.0);
        if staked != self.system.total_staked {
            return Err(format!(
                "pools and objects hold {staked:?} staked, system says {:?}",
                self.system.total_staked
            ));
        }
        let s = &self.system;
        let escrow = s.escrow_total();
        let total = sum([balances, s.fee_pool, escrow, pools, withdrawable, shared]
            .into_iter()
            .map(Some))
        .ok_or("total overflow")?;
        if total != s.total_supply {
            return Err(format!(
                "balances {balances:?} + fees {:?} + escrow {escrow:?} + pools {pools:?} + withdrawable {withdrawable:?} + shared blob funds {shared:?} != supply {:?}",
                s.fee_pool, s.total_supply
            ));
        }
        Ok(())
    }
}

/// Executes a verified transaction. First runs [`State::begin_block`] for the block time (a
/// no-op when the caller already did; its effects belong to the block, not the transaction).
///
/// Rules, in order:
/// 1. **Admission checks**: the fee is at least `min_fee`, the nonce is the account's next
///    one, and the balance covers the fee (except for a faucet call, which may pay its fee
///    from what it mints). A transaction failing one changes nothing
///    ([`TxFailure::fee_charged`] is `None`); block validation and the mempool keep such
///    transactions out of honest blocks.
/// 2. **Execution** in an overlay. On success its writes, the fee and the nonce are applied
///    together and the effects returned.
/// 3. **Failure in execution**: the writes are dropped, but the fee is charged (all of it, or
///    what a faucet caller has) and the nonce consumed, so a failing transaction still pays
///    for its block space and can never be included again.
pub fn apply(
    state: &mut State,
    tx: &VerifiedTransaction,
    ctx: &BlockContext,
) -> Result<Effects, TxFailure> {
    let t = tx.tx();
    state.begin_block(ctx);
    let mut o = Overlay::new(state, tx.digest());
    o.height = ctx.height;
    o.time_ms = ctx.timestamp_ms;
    let min = o.system.params.min_fee;
    if t.fee < min {
        return Err(TxFailure::refused(TxError::FeeTooLow { fee: t.fee, min }));
    }
    let account = o.account(&t.sender);
    let expected = account.nonce;
    if t.nonce < expected {
        return Err(TxFailure::refused(TxError::NonceTooLow {
            expected,
            got: t.nonce,
        }));
    }
    if t.nonce > expected {
        return Err(TxFailure::refused(TxError::NonceTooHigh {
            expected,
            got: t.nonce,
        }));
    }
    let is_faucet = matches!(t.kind, TxKind::Faucet { .. });
    if account.balance < t.fee && !is_faucet {
        return Err(TxFailure::refused(TxError::InsufficientBalance {
            needed: t.fee,
            available: account.balance,
        }));
    }
    let executed = execute(&mut o, t.sender, &t.kind)
        .and_then(|()| {
            // Charged last so that a faucet call can pay its fee from what it minted.
            o.pay_into(t.sender, t.fee, |s| &mut s.fee_pool)
        })
        .and_then(|()| consume_nonce(&mut o, t.sender));
    match executed {
        Ok(()) => {
            let writes = o.finish();
            let (created, mutated, deleted, events) = state.commit(writes);
            Ok(Effects {
                digest: tx.digest(),
                fee_charged: t.fee,
                created,
                mutated,
                deleted,
                events,
            })
        }
        Err(error) => {
            drop(o);
            let fee_charged = charge_failed(state, tx)?;
            Err(TxFailure {
                error,
                fee_charged: Some(fee_charged),
            })
        }
    }
}

/// Charges a transaction that failed in execution: its fee (at most the sender's balance)
/// into the fee pool, and its nonce. Returns the fee charged.
fn charge_failed(state: &mut State, tx: &VerifiedTransaction) -> Result<Frost, TxFailure> {
    let t = tx.tx();
    let mut o = Overlay::new(state, tx.digest());
    let fee = t.fee.min(o.account(&t.sender).balance);
    o.pay_into(t.sender, fee, |s| &mut s.fee_pool)
        .and_then(|()| consume_nonce(&mut o, t.sender))
        .map_err(TxFailure::refused)?;
    let writes = o.finish();
    state.commit(writes);
    Ok(fee)
}

fn consume_nonce(o: &mut Overlay<'_>, sender: Address) -> Result<(), TxError> {
    let mut acct = o.account(&sender);
    acct.nonce = acct
        .nonce
        .checked_add(1)
        .ok_or_else(|| TxError::overflow("nonce"))?;
    o.set_account(sender, acct);
    Ok(())
}

fn execute(o: &mut Overlay<'_>, sender: Address, kind: &TxKind) -> Result<(), TxError> {
    match kind {
        TxKind::Transfer { to, amount } => coin::transfer(o, sender, *to, *amount),
        TxKind::Faucet { amount } => coin::faucet(o, sender, *amount),
        TxKind::ReserveSpace {
            encoded_size,
            epochs_ahead,
        } => storage::reserve(o, sender, *encoded_size, *epochs_ahead),
        TxKind::SplitStorageByEpoch {
            storage,
            split_epoch,
        } => storage::split_by_epoch(o, sender, *storage, *split_epoch),
        TxKind::SplitStorageBySize { storage, size } => {
            storage::split_by_size(o, sender, *storage, *size)
        }
        TxKind::FuseStorage { first, second } => storage::fuse(o, sender, *first, *second),
        TxKind::RegisterBlob {
            storage,
            blob_id,
            root_hash,
            unencoded_length,
            encoding_type,
            deletable,
        } => blob::register(
            o,
            sender,
            blob::Registration {
                storage: *storage,
                blob_id: *blob_id,
                root_hash: *root_hash,
                unencoded_length: *unencoded_length,
                encoding_type: *encoding_type,
                deletable: *deletable,
            },
        ),
        TxKind::CertifyBlob {
            blob_object,
            certificate,
        } => blob::certify(o, *blob_object, certificate),
        TxKind::ExtendBlob {
            blob_object,
            epochs_ahead,
        } => blob::extend(o, sender, *blob_object, *epochs_ahead),
        TxKind::DeleteBlob { blob_object } => blob::delete(o, sender, *blob_object),
        TxKind::InvalidateBlob {
            blob_id,
            certificate,
        } => blob::invalidate(o, *blob_id, certificate),
        TxKind::SetBlobAttribute {
            blob_object,
            key,
            value,
        } => blob::set_attribute(o, sender, *blob_object, key, value),
        TxKind::RemoveBlobAttribute { blob_object, key } => {
            blob::remove_attribute(o, sender, *blob_object, key)
        }
        TxKind::RegisterNode {
            name,
            public_key,
            network_address,
            http_address,
            commission_bps,
            storage_price_vote,
            write_price_vote,
            capacity_vote,
        } => staking::register_node(
            o,
            sender,
            staking::NodeRegistration {
                name,
                public_key: *public_key,
                network_address,
                http_address,
                commission_bps: *commission_bps,
                votes: NodeVotes {
                    storage_price: *storage_price_vote,
                    write_price: *write_price_vote,
                    capacity: *capacity_vote,
                },
            },
        ),
        TxKind::Stake { node, amount } => staking::stake(o, sender, *node, *amount),
        TxKind::RequestWithdrawal { staked } => staking::request_withdrawal(o, sender, *staked),
        TxKind::Withdraw { staked } => staking::withdraw(o, sender, *staked),
        TxKind::SetNodeVotes {
            node,
            storage_price,
            write_price,
            capacity,
        } => staking::set_votes(
            o,
            sender,
            *node,
            NodeVotes {
                storage_price: *storage_price,
                write_price: *write_price,
                capacity: *capacity,
            },
        ),
        TxKind::CollectCommission { node } => staking::collect_commission(o, sender, *node),
        TxKind::EpochSyncDone { epoch } => staking::epoch_sync_done(o, sender, *epoch),
        TxKind::SubmitStorageProofs {
            epoch,
            first,
            proofs,
        } => challenge::submit_proofs(o, sender, *epoch, *first, proofs),
        TxKind::Propose {
            change,
            deadline_epoch,
        } => governance::propose(o, sender, change, *deadline_epoch),
        TxKind::Vote { proposal, approve } => governance::vote(o, sender, *proposal, *approve),
        TxKind::CreateSite { record } => site::create_site(o, sender, record),
        TxKind::UpdateSite { site, changes } => site::update_site(o, sender, *site, changes),
        TxKind::DeleteSite { site } => site::delete_site(o, sender, *site),
        TxKind::ClaimName { name, epochs, site } => {
            site::claim_name(o, sender, name, *epochs, *site)
        }
        TxKind::RenewName { name, epochs } => site::renew_name(o, sender, name, *epochs),
        TxKind::TransferName { name, to } => site::transfer_name(o, sender, name, *to),
        TxKind::SetNameSite { name, site } => site::set_name_site(o, sender, name, *site),
        TxKind::TransferBlob { blob_object, to } => blob::transfer(o, sender, *blob_object, *to),
        TxKind::ShareBlob {
            blob_object,
            amount,
        } => shared::share(o, sender, *blob_object, *amount),
        TxKind::FundSharedBlob { shared, amount } => shared::fund(o, sender, *shared, *amount),
        TxKind::ExtendSharedBlob {
            shared,
            epochs_ahead,
        } => shared::extend(o, *shared, *epochs_ahead),
        TxKind::BurnBlobs { blob_objects } => blob::burn(o, sender, blob_objects),
        TxKind::CreatePolicy { rule } => policy::create(o, sender, rule),
        TxKind::UpdateAllowlist {
            policy,
            add,
            remove,
        } => policy::update_allowlist(o, sender, *policy, add, remove),
        TxKind::PayForAccess { policy, max_price } => {
            policy::pay_for_access(o, sender, *policy, *max_price)
        }
    }
}
