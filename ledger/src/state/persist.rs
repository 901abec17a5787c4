//! Persistence hooks: the state as sorted (key, value) entries for the store.
//!
//! Key = table byte ‖ id bytes; value = BCS of the record:
//!
//! | table | key | value |
//! |---|---|---|
//! | `0x01` accounts | address (32) | [`Account`] |
//! | `0x02` objects | object id (32) | [`Object`] |
//! | `0x03` blob index | blob id (32) | [`BlobIdInfo`] |
//! | `0x04` nodes | node id (32) | [`StorageNode`] |
//! | `0x05` committee | (none) | [`CommitteeState`] |
//! | `0x06` system | (none) | [`SystemState`] |
//! | `0x07` previous committee | (none) | [`CommitteeState`] (reads during sync) |
//! | `0x08` next committee | (none) | [`CommitteeState`] (selected at mid-epoch) |
//! | `0x09` proposals | id (u64 BE) | [`Proposal`] |
//! | `0x0a` challenge round | (none) | [`ChallengeRound`] (the current epoch's) |
//! | `0x0b` challenge blobs | chunk (u32 BE) | `Vec<BlobId>`: ids `chunk × 65536 ..` of the live-blob snapshot |
//! | `0x0c` last challenge round | (none) | [`ChallengeRound`] (the last settled one, kept after the next starts) |
//!
//! The snapshot is cut in chunks of [`CHALLENGE_CHUNK`] ids (2 MiB each) so that no value
//! nears [`MAX_VALUE_BYTES`] however many blobs are live; it is written once per epoch, apart
//! from the round, which each accepted proof rewrites.

use std::collections::BTreeMap;

use floe_common::codec::{self, CodecError};
use floe_common::{BlobId, NodeId, ObjectId};
use serde::{Serialize, de::DeserializeOwned};

use super::State;
use super::objects::{
    Account, BlobIdInfo, ChallengeRound, CommitteeState, Object, Proposal, StorageNode, SystemState,
};
use crate::tx::Address;

/// Largest value accepted when rebuilding the state (a blob-id index entry with many objects).
const MAX_VALUE_BYTES: usize = 64 * 1024 * 1024;

/// Blob ids per stored chunk of the challenge snapshot.
pub(super) const CHALLENGE_CHUNK: usize = 1 << 16;

/// A state entry that could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// A key with an unknown table byte or the wrong length.
    #[error("bad state key {0}")]
    BadKey(String),
    /// A value that does not decode.
    #[error("bad value for key {key}: {source}")]
    BadValue {
        /// Hex key.
        key: String,
        /// The decoder's error.
        #[source]
        source: CodecError,
    },
    /// The system or committee record is missing.
    #[error("missing {0} record")]
    Missing(&'static str),
}

/// A state key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
    Account(Address),
    Object(ObjectId),
    Blob(BlobId),
    Node(NodeId),
    Committee,
    System,
    PreviousCommittee,
    NextCommittee,
    Proposal(u64),
    ChallengeRound,
    ChallengeBlobs(u32),
    ChallengeLast,
}

const ACCOUNTS: u8 = 1;
const OBJECTS: u8 = 2;
const BLOBS: u8 = 3;
const NODES: u8 = 4;
const COMMITTEE: u8 = 5;
const SYSTEM: u8 = 6;
const PREVIOUS_COMMITTEE: u8 = 7;
const NEXT_COMMITTEE: u8 = 8;
const PROPOSALS: u8 = 9;
const CHALLENGE_ROUND: u8 = 10;
const CHALLENGE_BLOBS: u8 = 11;
const CHALLENGE_LAST: u8 = 12;

impl Key {
    fn to_bytes(self) -> Vec<u8> {
        let pid;
        let cid;
        let (table, id): (u8, &[u8]) = match &self {
            Key::Account(a) => (ACCOUNTS, &a.0),
            Key::Object(o) => (OBJECTS, &o.0),
            Key::Blob(b) => (BLOBS, &b.0),
            Key::Node(n) => (NODES, &n.0),
            Key::Committee => (COMMITTEE, &[]),
            Key::System => (SYSTEM, &[]),
            Key::PreviousCommittee => (PREVIOUS_COMMITTEE, &[]),
            Key::NextCommittee => (NEXT_COMMITTEE, &[]),
            Key::Proposal(p) => {
                pid = p.to_be_bytes();
                (PROPOSALS, &pid)
            }
            Key::ChallengeRound => (CHALLENGE_ROUND, &[]),
            Key::ChallengeLast => (CHALLENGE_LAST, &[]),
            Key::ChallengeBlobs(c) => {
                cid = c.to_be_bytes();
                (CHALLENGE_BLOBS, &cid)
            }
        };
        let mut k = Vec::with_capacity(1 + id.len());
        k.push(table);
        k.extend_from_slice(id);
        k
    }

    pub(super) fn from_bytes(k: &[u8]) -> Result<Key, StateError> {
        let bad = || StateError::BadKey(hex::encode(k));
        let id = |rest: &[u8]| <[u8; 32]>::try_from(rest).map_err(|_| bad());
        match k.split_first() {
            Some((&ACCOUNTS, rest)) => Ok(Key::Account(Address(id(rest)?))),
            Some((&OBJECTS, rest)) => Ok(Key::Object(ObjectId(id(rest)?))),
            Some((&BLOBS, rest)) => Ok(Key::Blob(BlobId(id(rest)?))),
            Some((&NODES, rest)) => Ok(Key::Node(NodeId(id(rest)?))),
            Some((&COMMITTEE, [])) => Ok(Key::Committee),
            Some((&SYSTEM, [])) => Ok(Key::System),
            Some((&PREVIOUS_COMMITTEE, [])) => Ok(Key::PreviousCommittee),
            Some((&NEXT_COMMITTEE, [])) => Ok(Key::NextCommittee),
            Some((&PROPOSALS, rest)) => Ok(Key::Proposal(u64::from_be_bytes(
                <[u8; 8]>::try_from(rest).map_err(|_| bad())?,
            ))),
            Some((&CHALLENGE_ROUND, [])) => Ok(Key::ChallengeRound),
            Some((&CHALLENGE_LAST, [])) => Ok(Key::ChallengeLast),
            Some((&CHALLENGE_BLOBS, rest)) => Ok(Key::ChallengeBlobs(u32::from_be_bytes(
                <[u8; 4]>::try_from(rest).map_err(|_| bad())?,
            ))),
            _ => Err(bad()),
        }
    }
}

fn enc<T: Serialize>(v: Option<&T>) -> Option<Vec<u8>> {
    v.map(codec::encode)
}

fn dec<T: DeserializeOwned>(key: &[u8], v: &[u8]) -> Result<T, StateError> {
    codec::decode(v, MAX_VALUE_BYTES).map_err(|source| StateError::BadValue {
        key: hex::encode(key),
        source,
    })
}

impl State {
    fn value_of(&self, k: Key) -> Option<Vec<u8>> {
        match k {
            Key::Account(a) => enc(self.accounts.get(&a)),
            Key::Object(o) => enc(self.objects.get(&o)),
            Key::Blob(b) => enc(self.blobs.get(&b)),
            Key::Node(n) => enc(self.nodes.get(&n)),
            Key::Committee => enc(Some(&self.committee)),
            Key::System => enc(Some(&self.system)),
            Key::PreviousCommittee => enc(self.previous_committee.as_ref()),
            Key::NextCommittee => enc(self.next_committee.as_ref()),
            Key::Proposal(p) => enc(self.proposals.get(&p)),
            Key::ChallengeRound => enc(self.challenge.as_ref()),
            Key::ChallengeLast => enc(self.challenge_last.as_ref()),
            Key::ChallengeBlobs(c) => {
                let chunk = self
                    .challenge_blobs
                    .chunks(CHALLENGE_CHUNK)
                    .nth(c as usize)?;
                Some(codec::encode(&chunk))
            }
        }
    }

    /// The number of stored chunks of the challenge snapshot.
    pub(super) fn challenge_chunks(&self) -> u32 {
        u32::try_from(self.challenge_blobs.len().div_ceil(CHALLENGE_CHUNK)).unwrap_or(u32::MAX)
    }

    /// The entries changed since the last call, as (key, new value or `None` if deleted) in
    /// key order, and forgets them. Writing them all to the store, in order, after each block
    /// keeps the store equal to the state.
    pub fn take_changes(&mut self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let dirty = std::mem::take(&mut self.dirty);
        let mut out: Vec<_> = dirty
            .into_iter()
            .map(|k| (k.to_bytes(), self.value_of(k)))
            .collect();
        out.sort();
        out
    }

    /// Every entry of the state, in key order.
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let keys = self
            .accounts
            .keys()
            .map(|a| Key::Account(*a))
            .chain(self.objects.keys().map(|o| Key::Object(*o)))
            .chain(self.blobs.keys().map(|b| Key::Blob(*b)))
            .chain(self.nodes.keys().map(|n| Key::Node(*n)))
            .chain([
                Key::Committee,
                Key::System,
                Key::PreviousCommittee,
                Key::NextCommittee,
            ])
            .chain(self.proposals.keys().map(|p| Key::Proposal(*p)))
            .chain([Key::ChallengeRound, Key::ChallengeLast])
            .chain((0..self.challenge_chunks()).map(Key::ChallengeBlobs));
        keys.filter_map(|k| self.value_of(k).map(|v| (k.to_bytes(), v)))
            .collect()
    }

    /// Rebuilds a state from its entries (e.g. all entries of the store). Later entries for the
    /// same key replace earlier ones.
    pub fn from_entries(
        entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
    ) -> Result<State, StateError> {
        let mut accounts = BTreeMap::new();
        let mut objects = BTreeMap::new();
        let mut blobs = BTreeMap::new();
        let mut nodes = BTreeMap::new();
        let mut committee: Option<CommitteeState> = None;
        let mut system: Option<SystemState> = None;
        let mut previous_committee = None;
        let mut next_committee = None;
        let mut proposals = BTreeMap::new();
        let mut challenge = None;
        let mut challenge_last = None;
        let mut chunks: BTreeMap<u32, Vec<BlobId>> = BTreeMap::new();
        for (k, v) in entries {
            match Key::from_bytes(&k)? {
                Key::Account(a) => {
                    accounts.insert(a, dec::<Account>(&k, &v)?);
                }
                Key::Object(o) => {
                    objects.insert(o, dec::<Object>(&k, &v)?);
                }
                Key::Blob(b) => {
                    blobs.insert(b, dec::<BlobIdInfo>(&k, &v)?);
                }
                Key::Node(n) => {
                    nodes.insert(n, dec::<StorageNode>(&k, &v)?);
                }
                Key::Committee => committee = Some(dec(&k, &v)?),
                Key::System => system = Some(dec(&k, &v)?),
                Key::PreviousCommittee => previous_committee = Some(dec(&k, &v)?),
                Key::NextCommittee => next_committee = Some(dec(&k, &v)?),
                Key::Proposal(p) => {
                    proposals.insert(p, dec::<Proposal>(&k, &v)?);
                }
                Key::ChallengeRound => challenge = Some(dec::<ChallengeRound>(&k, &v)?),
                Key::ChallengeLast => challenge_last = Some(dec::<ChallengeRound>(&k, &v)?),
                Key::ChallengeBlobs(c) => {
                    chunks.insert(c, dec::<Vec<BlobId>>(&k, &v)?);
                }
            }
        }
        // Chunks are numbered from 0 without gaps, each full but the last.
        let n = chunks.len();
        let mut challenge_blobs = Vec::new();
        for (i, (c, ids)) in chunks.into_iter().enumerate() {
            let full = i + 1 == n || ids.len() == CHALLENGE_CHUNK;
            if c as usize != i || !full {
                return Err(StateError::BadKey(format!("challenge blob chunk {c}")));
            }
            challenge_blobs.extend(ids);
        }
        let live = challenge
            .as_ref()
            .map_or(0, |r: &ChallengeRound| r.live_blobs);
        if challenge_blobs.len() as u64 != live {
            return Err(StateError::Missing("challenge blob snapshot"));
        }
        Ok(State {
            system: system.ok_or(StateError::Missing("system"))?,
            committee: committee.ok_or(StateError::Missing("committee"))?,
            accounts,
            owned: super::owner_index(&objects),
            objects,
            blobs,
            nodes,
            previous_committee,
            next_committee,
            proposals,
            challenge,
            challenge_blobs,
            challenge_last,
            dirty: Default::default(),
            block_events: Vec::new(),
        })
    }

    /// `BLAKE3` over all entries in key order (length-prefixed). O(state size): for tests,
    /// audits and debugging, not per block.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        for (k, v) in self.entries() {
            h.update(&(k.len() as u64).to_le_bytes());
            h.update(&k);
            h.update(&(v.len() as u64).to_le_bytes());
            h.update(&v);
        }
        *h.finalize().as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sort_by_table() {
        let keys = [
            Key::Account(Address([9; 32])),
            Key::Object(ObjectId([1; 32])),
            Key::Blob(BlobId([0; 32])),
            Key::Node(NodeId([3; 32])),
            Key::Committee,
            Key::System,
            Key::PreviousCommittee,
            Key::NextCommittee,
            Key::Proposal(3),
            Key::ChallengeRound,
            Key::ChallengeBlobs(0),
            Key::ChallengeBlobs(7),
            Key::ChallengeLast,
        ];
        let mut bytes: Vec<Vec<u8>> = keys.iter().map(|k| k.to_bytes()).collect();
        for (k, b) in keys.iter().zip(&bytes) {
            assert_eq!(Key::from_bytes(b).unwrap(), *k);
        }
        let sorted = bytes.clone();
        bytes.sort();
        assert_eq!(bytes, sorted);
        assert!(Key::from_bytes(&[13]).is_err());
        assert!(Key::from_bytes(&[12, 0]).is_err());
        assert!(Key::from_bytes(&[11, 0]).is_err());
        assert!(Key::from_bytes(&[9, 1]).is_err());
        assert!(Key::from_bytes(&[1, 2]).is_err());
        assert!(Key::from_bytes(&[5, 0]).is_err());
        assert!(Key::from_bytes(&[]).is_err());
    }
}
