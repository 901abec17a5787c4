//! Prices and capacity from the committee's votes (shard-weighted quantiles).
//!
//! With `n` shards, a weight `w` is a **quorum** when `3w ≥ 2n + 1`.
//! - **Storage price, write price** (`quorum_below`): the lowest vote `v` such that the members
//!   that voted at or below `v` hold a quorum of shard weight — the 2/3 shard-weighted quantile
//!   ("at least 2/3 of the weight voted this price or less").
//! - **Capacity** (`quorum_above`): each member's vote is normalised to a network total,
//!   `capacity × n / weight` (a member with `w` of `n` shards stores `w/n` of all encoded
//!   bytes); the capacity is the highest total `c` such that the members that voted at or above
//!   `c` hold a quorum — the largest size that 2/3 of the weight can store. The ledger's
//!   capacity is then `max(that, storage already reserved for the current epoch)`.
//!
//! Members of the current committee only; recomputed on every `SetNodeVotes` and at each epoch
//! change (with the new committee). Genesis starts from the parameters' prices.

use floe_common::{Committee, Frost, NodeId, Threshold};

use super::events::Event;
use super::objects::{NodeVotes, SystemState};

/// Whether `weight` of `n_shards` is a quorum ([`Threshold::Quorum`]).
pub(crate) fn is_quorum(weight: u16, n_shards: u16) -> bool {
    Threshold::Quorum.reached(u32::from(weight), n_shards)
}

/// The lowest value such that the weight voting at or below it is a quorum.
pub(crate) fn quorum_below(mut votes: Vec<(u64, u16)>, n_shards: u16) -> Option<u64> {
    votes.sort();
    let mut acc = 0u16;
    for (v, w) in votes {
        acc = acc.saturating_add(w);
        if is_quorum(acc, n_shards) {
            return Some(v);
        }
    }
    None
}

/// The highest value such that the weight voting at or above it is a quorum.
pub(crate) fn quorum_above(mut votes: Vec<(u64, u16)>, n_shards: u16) -> Option<u64> {
    votes.sort_by(|a, b| b.cmp(a));
    let mut acc = 0u16;
    for (v, w) in votes {
        acc = acc.saturating_add(w);
        if is_quorum(acc, n_shards) {
            return Some(v);
        }
    }
    None
}

/// Prices and capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prices {
    pub storage_price: Frost,
    pub write_price: Frost,
    pub capacity: u64,
}

/// Writes `p` into the system state; returns the `PricesUpdated` event if anything changed.
pub(crate) fn apply(s: &mut SystemState, p: Prices) -> Option<Event> {
    if (s.storage_price, s.write_price, s.capacity) == (p.storage_price, p.write_price, p.capacity)
    {
        return None;
    }
    s.storage_price = p.storage_price;
    s.write_price = p.write_price;
    s.capacity = p.capacity;
    Some(Event::PricesUpdated {
        storage_price: p.storage_price,
        write_price: p.write_price,
        capacity: p.capacity,
    })
}

/// The prices and capacity voted by `committee` (`None` if the votes of known members do not
/// reach a quorum). `used` is the storage reserved for the current epoch.
pub(crate) fn compute(
    committee: &Committee,
    votes: impl Fn(&NodeId) -> Option<NodeVotes>,
    used: u64,
) -> Option<Prices> {
    let n = committee.n_shards();
    let mut storage = Vec::new();
    let mut write = Vec::new();
    let mut capacity = Vec::new();
    for m in committee.members() {
        let Some(v) = votes(&m.node_id) else { continue };
        if m.weight == 0 {
            continue;
        }
        storage.push((v.storage_price.0, m.weight));
        write.push((v.write_price.0, m.weight));
        let total = u128::from(v.capacity) * u128::from(n) / u128::from(m.weight);
        capacity.push((u64::try_from(total).unwrap_or(u64::MAX), m.weight));
    }
    Some(Prices {
        storage_price: Frost(quorum_below(storage, n)?),
        write_price: Frost(quorum_below(write, n)?),
        capacity: quorum_above(capacity, n)?.max(used),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        // 100 shards: quorum is 67.
        let votes = vec![(10, 30), (20, 30), (30, 10), (40, 30)];
        // ≤20: 60, ≤30: 70 → 30.
        assert_eq!(quorum_below(votes.clone(), 100), Some(30));
        // ≥40: 30, ≥30: 40, ≥20: 70 → 20.
        assert_eq!(quorum_above(votes, 100), Some(20));
        assert_eq!(quorum_below(vec![(5, 66)], 100), None);
        assert_eq!(quorum_below(vec![(5, 67)], 100), Some(5));
        assert!(is_quorum(67, 100) && !is_quorum(66, 100));
        assert!(is_quorum(3, 4) && !is_quorum(2, 4));
    }
}
