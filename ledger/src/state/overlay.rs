//! A transaction's view of the state: reads go through to the committed state, writes are
//! buffered and applied only when the whole transaction succeeded. A rejected transaction
//! drops its overlay, so it cannot leave a partial change behind.

use std::collections::BTreeMap;

use floe_common::{BlobId, Committee, Epoch, Frost, NodeId, ObjectId};

use super::objects::{ChallengeRound, EpochAccount, Proposal, derive_object_id};

use super::events::Event;
use super::objects::{
    Account, BlobIdInfo, BlobObject, Object, SharedBlob, SiteObject, StakedWal, StorageNode,
    StorageResource, SystemState,
};
use super::{Key, State};
use crate::error::TxError;
use crate::tx::{Address, TxDigest};
use floe_ledger_types::policy::PolicyObject;

/// The buffered writes of one transaction.
pub(crate) struct Overlay<'s> {
    base: &'s State,
    /// System record (copied, written back if changed).
    pub system: SystemState,
    accounts: BTreeMap<Address, Account>,
    objects: BTreeMap<ObjectId, Option<Object>>,
    blobs: BTreeMap<BlobId, Option<BlobIdInfo>>,
    nodes: BTreeMap<NodeId, StorageNode>,
    proposals: BTreeMap<u64, Proposal>,
    digest: TxDigest,
    next_index: u32,
    created: Vec<ObjectId>,
    /// Events emitted so far.
    pub events: Vec<Event>,
    /// The height of the block being executed.
    pub height: u64,
    /// The time of the block being executed.
    pub time_ms: u64,
    challenge: Option<ChallengeRound>,
}

/// The writes of a successful transaction, detached from the state they were read from.
pub(crate) struct Writes {
    system: Option<SystemState>,
    accounts: BTreeMap<Address, Account>,
    objects: BTreeMap<ObjectId, Option<Object>>,
    blobs: BTreeMap<BlobId, Option<BlobIdInfo>>,
    nodes: BTreeMap<NodeId, StorageNode>,
    proposals: BTreeMap<u64, Proposal>,
    challenge: Option<ChallengeRound>,
    pub created: Vec<ObjectId>,
    pub mutated: Vec<ObjectId>,
    pub deleted: Vec<ObjectId>,
    pub events: Vec<Event>,
}

impl<'s> Overlay<'s> {
    /// An empty overlay for transaction `digest` (executing in the state's epoch).
    pub fn new(base: &'s State, digest: TxDigest) -> Self {
        Self {
            base,
            system: base.system.clone(),
            accounts: BTreeMap::new(),
            objects: BTreeMap::new(),
            blobs: BTreeMap::new(),
            nodes: BTreeMap::new(),
            proposals: BTreeMap::new(),
            digest,
            next_index: 0,
            created: Vec::new(),
            events: Vec::new(),
            height: 0,
            time_ms: 0,
            challenge: None,
        }
    }

    /// The current epoch's challenge round, as this transaction sees it.
    pub fn challenge_round(&self) -> Option<ChallengeRound> {
        self.challenge
            .clone()
            .or_else(|| self.base.challenge.clone())
    }

    /// Writes the challenge round.
    pub fn put_challenge_round(&mut self, r: ChallengeRound) {
        self.challenge = Some(r);
    }

    /// The blob of rank `rank` in the snapshot of the epoch's start.
    pub fn challenge_blob(&self, rank: u64) -> Option<BlobId> {
        usize::try_from(rank)
            .ok()
            .and_then(|r| self.base.challenge_blobs.get(r))
            .copied()
    }

    /// The shards of a current committee member.
    pub fn shards_of(&self, node: &NodeId) -> &[floe_common::ShardIndex] {
        self.base.shards_of(node)
    }

    /// The current epoch.
    pub fn epoch(&self) -> Epoch {
        self.system.epoch
    }

    /// Refuses a transaction made for another epoch than the current one.
    pub fn check_epoch(&self, epoch: Epoch) -> Result<(), TxError> {
        let current = self.epoch();
        if epoch != current {
            return Err(TxError::WrongEpoch {
                expected: current,
                got: epoch,
            });
        }
        Ok(())
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        self.base.chain_id()
    }

    /// The current committee.
    pub fn committee(&self) -> &Committee {
        &self.base.committee.committee
    }

    /// The committee selected for the next epoch, if selected.
    pub fn next_committee(&self) -> Option<&Committee> {
        self.base.next_committee.as_ref().map(|c| &c.committee)
    }

    /// The committee that serves reads of older blobs during a sync.
    pub fn previous_committee(&self) -> Option<&Committee> {
        self.base.previous_committee.as_ref().map(|c| &c.committee)
    }

    /// Whether `node` held, in the previous committee, a shard whose current holder has not
    /// reported it synced in this epoch (the node is still handing it over).
    pub fn handing_over(&self, node: &NodeId) -> bool {
        let Some(previous) = self.base.previous_committee.as_ref() else {
            return false;
        };
        let Some(held) = previous.shards.get(node) else {
            return false;
        };
        let current = &self.base.committee.shards;
        held.iter().any(|shard| {
            current
                .iter()
                .find(|(_, shards)| shards.contains(shard))
                .is_some_and(|(to, _)| to != node && !self.system.epoch_synced.contains(to))
        })
    }

    /// A proposal.
    pub fn proposal(&self, id: u64) -> Option<Proposal> {
        self.proposals
            .get(&id)
            .or_else(|| self.base.proposals.get(&id))
            .cloned()
    }

    /// Writes a proposal.
    pub fn put_proposal(&mut self, p: Proposal) {
        self.proposals.insert(p.id, p);
    }

    /// Adds `size` bytes to the storage used in each epoch of `[start, end)`, refusing with
    /// `capacity_exceeded` if any epoch would exceed the voted capacity.
    pub fn use_capacity(&mut self, start: Epoch, end: Epoch, size: u64) -> Result<(), TxError> {
        let capacity = self.system.capacity;
        for e in start.0..end.0 {
            let used = self.system.used_capacity(Epoch(e));
            let total = used.checked_add(size);
            if total.is_none_or(|t| t > capacity) {
                return Err(TxError::CapacityExceeded {
                    epoch: Epoch(e),
                    needed: size,
                    available: capacity.saturating_sub(used),
                });
            }
        }
        for e in start.0..end.0 {
            let acct = self.system.epoch_accounts.entry(Epoch(e)).or_default();
            acct.used += size;
        }
        Ok(())
    }

    /// Takes `per_epoch × (end − start)` from `payer` into the escrow of each epoch of
    /// `[start, end)` (`per_epoch` each). Returns the total.
    pub fn pay_escrow(
        &mut self,
        payer: Address,
        start: Epoch,
        end: Epoch,
        per_epoch: Frost,
    ) -> Result<Frost, TxError> {
        let total = Self::escrow_cost(start, end, per_epoch)?;
        self.debit(payer, total)?;
        self.fund_escrow(start, end, per_epoch)?;
        Ok(total)
    }

    /// `per_epoch × (end − start)`: what [`Overlay::fund_escrow`] adds.
    pub fn escrow_cost(start: Epoch, end: Epoch, per_epoch: Frost) -> Result<Frost, TxError> {
        per_epoch
            .checked_mul(u64::from(end.0.saturating_sub(start.0)))
            .ok_or_else(|| TxError::overflow("payment"))
    }

    /// Adds `per_epoch` to the escrow of each epoch of `[start, end)`; the caller has taken
    /// the total from somewhere (an account, a shared blob's funds).
    pub fn fund_escrow(
        &mut self,
        start: Epoch,
        end: Epoch,
        per_epoch: Frost,
    ) -> Result<(), TxError> {
        for e in start.0..end.0 {
            let acct: &mut EpochAccount = self.system.epoch_accounts.entry(Epoch(e)).or_default();
            acct.rewards = acct
                .rewards
                .checked_add(per_epoch)
                .ok_or_else(|| TxError::overflow("escrow"))?;
        }
        Ok(())
    }

    /// An account (default if it does not exist).
    pub fn account(&self, a: &Address) -> Account {
        self.accounts
            .get(a)
            .or_else(|| self.base.accounts.get(a))
            .copied()
            .unwrap_or_default()
    }

    /// Writes an account.
    pub fn set_account(&mut self, a: Address, acct: Account) {
        self.accounts.insert(a, acct);
    }

    /// Takes `amount` from `a`.
    pub fn debit(&mut self, a: Address, amount: Frost) -> Result<(), TxError> {
        let mut acct = self.account(&a);
        acct.balance = acct
            .balance
            .checked_sub(amount)
            .ok_or(TxError::InsufficientBalance {
                needed: amount,
                available: acct.balance,
            })?;
        self.set_account(a, acct);
        Ok(())
    }

    /// Gives `amount` to `a`.
    pub fn credit(&mut self, a: Address, amount: Frost) -> Result<(), TxError> {
        let mut acct = self.account(&a);
        acct.balance = acct
            .balance
            .checked_add(amount)
            .ok_or_else(|| TxError::overflow("balance"))?;
        self.set_account(a, acct);
        Ok(())
    }

    /// Moves `amount` from `a` into a system pool (`pool` selects it).
    pub fn pay_into(
        &mut self,
        a: Address,
        amount: Frost,
        pool: fn(&mut SystemState) -> &mut Frost,
    ) -> Result<(), TxError> {
        self.debit(a, amount)?;
        let p = pool(&mut self.system);
        *p = p
            .checked_add(amount)
            .ok_or_else(|| TxError::overflow("pool"))?;
        Ok(())
    }

    /// An object.
    pub fn object(&self, id: &ObjectId) -> Result<Object, TxError> {
        match self.objects.get(id) {
            Some(o) => o.clone(),
            None => self.base.objects.get(id).cloned(),
        }
        .ok_or(TxError::UnknownObject(*id))
    }

    fn wrong_type(id: &ObjectId, expected: &str) -> TxError {
        TxError::WrongObjectType {
            object: *id,
            expected: expected.to_owned(),
        }
    }

    fn check_owner(id: &ObjectId, owner: Address, sender: Option<Address>) -> Result<(), TxError> {
        match sender {
            Some(s) if s != owner => Err(TxError::NotOwner(*id)),
            _ => Ok(()),
        }
    }

    /// A storage object, owned by `sender` if given.
    pub fn storage(
        &self,
        id: &ObjectId,
        sender: Option<Address>,
    ) -> Result<StorageResource, TxError> {
        match self.object(id)? {
            Object::Storage(s) => Self::check_owner(id, s.owner, sender).map(|()| s),
            _ => Err(Self::wrong_type(id, "storage")),
        }
    }

    /// A blob object, owned by `sender` if given (a shared blob is refused: `blob_shared`).
    pub fn blob(&self, id: &ObjectId, sender: Option<Address>) -> Result<BlobObject, TxError> {
        match self.object(id)? {
            Object::Blob(b) => Self::check_owner(id, b.owner, sender).map(|()| b),
            Object::SharedBlob(_) => Err(TxError::BlobShared(*id)),
            _ => Err(Self::wrong_type(id, "blob")),
        }
    }

    /// The blob of a blob object or of a shared blob (no owner check).
    pub fn any_blob(&self, id: &ObjectId) -> Result<BlobObject, TxError> {
        match self.object(id)? {
            Object::Blob(b) => Ok(b),
            Object::SharedBlob(s) => Ok(s.blob),
            _ => Err(Self::wrong_type(id, "blob")),
        }
    }

    /// Writes back a blob read with [`Overlay::any_blob`], keeping a shared blob shared (and
    /// its funds).
    pub fn put_any_blob(&mut self, id: ObjectId, b: BlobObject) -> Result<(), TxError> {
        let o = match self.object(&id)? {
            Object::SharedBlob(s) => Object::SharedBlob(SharedBlob { blob: b, ..s }),
            _ => Object::Blob(b),
        };
        self.put_object(id, o);
        Ok(())
    }

    /// A shared blob.
    pub fn shared_blob(&self, id: &ObjectId) -> Result<SharedBlob, TxError> {
        match self.object(id)? {
            Object::SharedBlob(s) => Ok(s),
            _ => Err(Self::wrong_type(id, "shared_blob")),
        }
    }

    /// A staked-WAL object, owned by `sender` if given.
    pub fn staked(&self, id: &ObjectId, sender: Option<Address>) -> Result<StakedWal, TxError> {
        match self.object(id)? {
            Object::StakedWal(s) => Self::check_owner(id, s.owner, sender).map(|()| s),
            _ => Err(Self::wrong_type(id, "staked_wal")),
        }
    }

    /// A site object, owned by `sender` if given.
    pub fn site(&self, id: &ObjectId, sender: Option<Address>) -> Result<SiteObject, TxError> {
        match self.object(id)? {
            Object::Site(s) => Self::check_owner(id, s.owner, sender).map(|()| s),
            _ => Err(Self::wrong_type(id, "site")),
        }
    }

    /// A policy object, owned by `sender` if given.
    pub fn policy(&self, id: &ObjectId, sender: Option<Address>) -> Result<PolicyObject, TxError> {
        match self.object(id)? {
            Object::Policy(p) => Self::check_owner(id, p.owner, sender).map(|()| p),
            _ => Err(Self::wrong_type(id, "policy")),
        }
    }

    /// Creates (or replaces) an object at an id fixed by its content, e.g. a name's.
    pub fn create_object_at(&mut self, id: ObjectId, o: Object) {
        if !self.base.objects.contains_key(&id) {
            self.created.push(id);
        }
        self.put_object(id, o);
    }

    /// Writes an existing object.
    pub fn put_object(&mut self, id: ObjectId, o: Object) {
        self.objects.insert(id, Some(o));
    }

    /// Deletes an object.
    pub fn delete_object(&mut self, id: ObjectId) {
        self.objects.insert(id, None);
    }

    /// Creates an object with the next deterministic id.
    pub fn create_object(&mut self, o: Object) -> Result<ObjectId, TxError> {
        let id = derive_object_id(&self.digest, self.next_index);
        self.next_index = self
            .next_index
            .checked_add(1)
            .ok_or_else(|| TxError::overflow("object index"))?;
        self.created.push(id);
        self.put_object(id, o);
        Ok(id)
    }

    /// The index entry of a blob id.
    pub fn blob_info(&self, id: &BlobId) -> Option<BlobIdInfo> {
        match self.blobs.get(id) {
            Some(b) => b.clone(),
            None => self.base.blobs.get(id).cloned(),
        }
    }

    /// Writes (or removes) the index entry of a blob id.
    pub fn set_blob_info(&mut self, id: BlobId, info: Option<BlobIdInfo>) {
        self.blobs.insert(id, info);
    }

    /// A node.
    pub fn node(&self, id: &NodeId) -> Option<StorageNode> {
        self.nodes
            .get(id)
            .or_else(|| self.base.nodes.get(id))
            .cloned()
    }

    /// Whether a node has this name.
    pub fn node_name_taken(&self, name: &str) -> bool {
        self.nodes.values().any(|n| n.name == name)
            || self
                .base
                .nodes
                .values()
                .any(|n| n.name == name && !self.nodes.contains_key(&n.node_id))
    }

    /// Writes a node.
    pub fn put_node(&mut self, n: StorageNode) {
        self.nodes.insert(n.node_id, n);
    }

    /// Detaches the writes, classifying touched objects as created, mutated or deleted.
    pub fn finish(self) -> Writes {
        let mut mutated = Vec::new();
        let mut deleted = Vec::new();
        for (id, o) in &self.objects {
            let existed = self.base.objects.contains_key(id);
            match (existed, o) {
                (true, Some(_)) => mutated.push(*id),
                (true, None) => deleted.push(*id),
                (false, _) => {}
            }
        }
        let created = self
            .created
            .into_iter()
            .filter(|id| matches!(self.objects.get(id), Some(Some(_))))
            .collect();
        let system = (self.system != self.base.system).then_some(self.system);
        Writes {
            system,
            accounts: self.accounts,
            objects: self.objects,
            blobs: self.blobs,
            nodes: self.nodes,
            proposals: self.proposals,
            challenge: self.challenge,
            created,
            mutated,
            deleted,
            events: self.events,
        }
    }
}

impl State {
    /// Applies a successful transaction's writes and marks them dirty.
    pub(crate) fn commit(
        &mut self,
        w: Writes,
    ) -> (Vec<ObjectId>, Vec<ObjectId>, Vec<ObjectId>, Vec<Event>) {
        if let Some(s) = w.system {
            self.system = s;
            self.dirty.insert(Key::System);
        }
        for (a, acct) in w.accounts {
            self.accounts.insert(a, acct);
            self.dirty.insert(Key::Account(a));
        }
        for (id, o) in w.objects {
            let new_owner = o.as_ref().map(Object::owner);
            let old = match o {
                Some(o) => self.objects.insert(id, o),
                None => self.objects.remove(&id),
            };
            if let Some(old) = old {
                self.owned.remove(&(old.owner(), id));
            }
            if let Some(owner) = new_owner {
                self.owned.insert((owner, id));
            }
            self.dirty.insert(Key::Object(id));
        }
        for (id, b) in w.blobs {
            match b {
                Some(b) => self.blobs.insert(id, b),
                None => self.blobs.remove(&id),
            };
            self.dirty.insert(Key::Blob(id));
        }
        for (id, n) in w.nodes {
            self.nodes.insert(id, n);
            self.dirty.insert(Key::Node(id));
        }
        for (id, p) in w.proposals {
            self.proposals.insert(id, p);
            self.dirty.insert(Key::Proposal(id));
        }
        if let Some(r) = w.challenge {
            self.challenge = Some(r);
            self.dirty.insert(Key::ChallengeRound);
        }
        (w.created, w.mutated, w.deleted, w.events)
    }
}
