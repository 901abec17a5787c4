//! Where a received proposal part goes, and the bounded memory for parts that come early.
//!
//! Protocol rules (a Byzantine proposer cannot make the others store or check without bound):
//! - A part for a past height is dropped.
//! - A part is *due* when it is for the current height and at most one round past the current
//!   round: it is authenticated, stored and its block checked at once.
//! - A part is *early* when it is for the current height up to [`MAX_ROUNDS_AHEAD`] rounds past
//!   the current one, or for one of the next [`MAX_HEIGHTS_AHEAD`] heights at a round up to
//!   [`MAX_ROUNDS_AHEAD`]. It is authenticated and kept in memory only ([`EarlyParts`], at most
//!   [`MAX_EARLY_BYTES`], the first part of each `(height, round, proposer)`); nothing of it
//!   reaches the disk before its round starts.
//! - Any other part is dropped before its signature is checked.
//! - At most one block per `(height, round, proposer)` is stored or checked: a different block
//!   for the same slot (an equivocation) is dropped.

use std::collections::BTreeMap;

use super::context::ProposalPart;
use crate::cert::ValidatorAddress;

/// How many heights past the current one early parts are kept for.
pub const MAX_HEIGHTS_AHEAD: u64 = 4;
/// How many rounds ahead early parts are kept for.
pub const MAX_ROUNDS_AHEAD: u32 = 4;
/// Most bytes of early parts kept in memory.
pub const MAX_EARLY_BYTES: usize = 64 << 20;

/// What to do with a received part, given the current height and round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A past height: drop.
    Past,
    /// Store and check now.
    Due,
    /// Keep in memory until its round starts.
    Early,
    /// Too far ahead: drop without checking.
    TooFar,
}

/// Where a part for `(height, round)` goes while the engine is at `current`.
pub fn placement(current: (u64, u32), height: u64, round: u32) -> Placement {
    let (h, r) = current;
    if height < h {
        Placement::Past
    } else if height == h && round <= r.saturating_add(1) {
        Placement::Due
    } else if (height == h && round <= r.saturating_add(MAX_ROUNDS_AHEAD))
        || (height - h <= MAX_HEIGHTS_AHEAD && round <= MAX_ROUNDS_AHEAD)
    {
        Placement::Early
    } else {
        Placement::TooFar
    }
}

/// Authenticated parts waiting for their round, in memory, bounded.
#[derive(Debug, Default)]
pub struct EarlyParts {
    parts: BTreeMap<(u64, u32, ValidatorAddress), (ProposalPart, usize)>,
    bytes: usize,
}

impl EarlyParts {
    /// Keeps `part` (of encoded size `size`) unless its slot is taken or the bytes are spent.
    pub fn insert(&mut self, part: ProposalPart, size: usize) -> bool {
        let key = (part.height, round_of(&part), part.proposer);
        if self.parts.contains_key(&key) || self.bytes + size > MAX_EARLY_BYTES {
            return false;
        }
        self.bytes += size;
        self.parts.insert(key, (part, size));
        true
    }

    /// Removes and returns the parts of `height` up to round `max_round`, and forgets every
    /// part of an earlier height.
    pub fn take_due(&mut self, height: u64, max_round: u32) -> Vec<ProposalPart> {
        let keep = self
            .parts
            .split_off(&(height, 0, ValidatorAddress([0; 32])));
        for (_, size) in std::mem::replace(&mut self.parts, keep).into_values() {
            self.bytes -= size;
        }
        let due: Vec<_> = self
            .parts
            .range((height, 0, ValidatorAddress([0; 32]))..)
            .take_while(|((h, r, _), _)| *h == height && *r <= max_round)
            .map(|(k, _)| *k)
            .collect();
        due.into_iter()
            .filter_map(|k| self.parts.remove(&k))
            .map(|(part, size)| {
                self.bytes -= size;
                part
            })
            .collect()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Parts held.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}

fn round_of(part: &ProposalPart) -> u32 {
    u32::try_from(part.round).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{Block, BlockHash, BlockHeader};
    use floe_common::hash::Digest;

    fn part(height: u64, round: i64, proposer: u8) -> ProposalPart {
        ProposalPart {
            height,
            round,
            pol_round: -1,
            proposer: ValidatorAddress([proposer; 32]),
            block: Block {
                header: BlockHeader {
                    chain_id: "c".into(),
                    height,
                    parent_hash: BlockHash::GENESIS_PARENT,
                    timestamp_ms: 1,
                    proposer: ValidatorAddress([proposer; 32]),
                    tx_root: Digest([0; 32]),
                    app_hash: Digest([0; 32]),
                },
                txs: Vec::new(),
            },
            signature: floe_common::Signature([0; 64]),
        }
    }

    #[test]
    fn placement_window() {
        let now = (10, 2);
        assert_eq!(placement(now, 9, 0), Placement::Past);
        assert_eq!(placement(now, 10, 0), Placement::Due);
        assert_eq!(placement(now, 10, 3), Placement::Due);
        assert_eq!(placement(now, 10, 4), Placement::Early);
        assert_eq!(placement(now, 10, 6), Placement::Early);
        assert_eq!(placement(now, 10, 7), Placement::TooFar);
        assert_eq!(placement(now, 14, 4), Placement::Early);
        assert_eq!(placement(now, 14, 5), Placement::TooFar);
        assert_eq!(placement(now, 15, 0), Placement::TooFar);
        assert_eq!(placement(now, u64::MAX, 0), Placement::TooFar);
    }

    #[test]
    fn one_part_per_slot_bounded_bytes_and_due_parts_leave() {
        let mut early = EarlyParts::default();
        assert!(early.insert(part(11, 0, 1), 100));
        assert!(!early.insert(part(11, 0, 1), 100), "one per slot");
        assert!(early.insert(part(11, 1, 1), 100));
        assert!(early.insert(part(12, 0, 2), 100));
        assert!(early.insert(part(10, 3, 2), 100));
        assert!(
            !early.insert(part(13, 0, 3), MAX_EARLY_BYTES),
            "bytes bounded"
        );
        assert_eq!((early.len(), early.bytes()), (4, 400));
        // Height 11 starts: height 10 is forgotten, round 0 of 11 is due.
        let due = early.take_due(11, 0);
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].height, due[0].round), (11, 0));
        assert_eq!((early.len(), early.bytes()), (2, 200));
        let due = early.take_due(11, 5);
        assert_eq!(due.len(), 1);
        assert_eq!(early.take_due(12, 0).len(), 1);
        assert!(early.is_empty());
        assert_eq!(early.bytes(), 0);
    }
}
