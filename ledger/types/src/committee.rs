//! Committee selection: the active set, shard apportionment (D'Hondt with a per-node cap) and
//! shard assignment with minimal movement.
//!
//! Rules (all deterministic in their inputs):
//! - **Active set** ([`active_set`]): nodes with positive stake, the `size` largest by stake
//!   (ties to the smaller node id).
//! - **Apportionment** ([`apportion`]): each of the `n_shards` shards goes to the highest
//!   quotient `stake / (shards + 1)` (ties to the smaller id), no node above `cap`; nodes ending
//!   with 0 shards are dropped.
//! - **First assignment** ([`assign_shards`], genesis): consecutive indices in node-id order.
//! - **Later assignments** ([`transition`]): a node keeps its lowest `min(old, new)` shards (a
//!   shrinking node gives up its highest ones, a leaving node all of them); the freed shards,
//!   in ascending order, go to the growing and new nodes in node-id order. No shard moves
//!   unless a count changed.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use floe_common::{NodeId, ShardIndex};

/// The shards cannot all be apportioned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApportionError {
    /// No node has stake.
    #[error("no node has stake")]
    NoStake,
    /// The nodes with stake cannot hold all shards under the cap.
    #[error("{nodes} staked nodes with at most {cap} shards each cannot hold {n_shards} shards")]
    CapTooLow {
        /// Nodes with stake.
        nodes: usize,
        /// Per-node cap.
        cap: u16,
        /// Shards.
        n_shards: u16,
    },
}

/// A candidate in the D'Hondt heap: quotient `stake / (shards + 1)`, ties to the smaller id.
#[derive(Debug, PartialEq, Eq)]
struct Quotient {
    stake: u64,
    shards: u16,
    node: NodeId,
}

impl Ord for Quotient {
    fn cmp(&self, other: &Self) -> Ordering {
        let a = u128::from(self.stake) * (u128::from(other.shards) + 1);
        let b = u128::from(other.stake) * (u128::from(self.shards) + 1);
        a.cmp(&b).then_with(|| other.node.cmp(&self.node))
    }
}

impl PartialOrd for Quotient {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Apportions `n_shards` to nodes by stake with D'Hondt (each shard goes to the highest
/// `stake / (shards + 1)`, ties to the smaller node id), giving no node more than `cap`. Nodes
/// without stake, and nodes that end with no shard, are left out. Deterministic in its input
/// (the order of `stakes` does not matter; node ids must be distinct).
pub fn apportion(
    stakes: &[(NodeId, u64)],
    n_shards: u16,
    cap: u16,
) -> Result<BTreeMap<NodeId, u16>, ApportionError> {
    let mut heap: BinaryHeap<Quotient> = stakes
        .iter()
        .filter(|(_, s)| *s > 0)
        .map(|&(node, stake)| Quotient {
            stake,
            shards: 0,
            node,
        })
        .collect();
    let nodes = heap.len();
    if nodes == 0 {
        return Err(ApportionError::NoStake);
    }
    if (nodes as u64) * u64::from(cap) < u64::from(n_shards) {
        return Err(ApportionError::CapTooLow {
            nodes,
            cap,
            n_shards,
        });
    }
    let mut out = BTreeMap::new();
    for _ in 0..n_shards {
        let mut q = heap.pop().ok_or(ApportionError::CapTooLow {
            nodes,
            cap,
            n_shards,
        })?;
        q.shards += 1;
        out.insert(q.node, q.shards);
        if q.shards < cap {
            heap.push(q);
        }
    }
    Ok(out)
}

/// Consecutive shard indices in node-id order: the first node gets `0..k₀`, the next
/// `k₀..k₀+k₁`, and so on.
pub fn assign_shards(counts: &BTreeMap<NodeId, u16>) -> BTreeMap<NodeId, Vec<ShardIndex>> {
    let mut next = 0u16;
    counts
        .iter()
        .map(|(&node, &k)| {
            let shards = (next..next + k).map(ShardIndex).collect();
            next += k;
            (node, shards)
        })
        .collect()
}

/// The active set: nodes with positive stake, the `size` largest by stake (ties to the smaller
/// node id), returned in node-id order.
pub fn active_set(stakes: &[(NodeId, u64)], size: u16) -> Vec<(NodeId, u64)> {
    let mut v: Vec<(NodeId, u64)> = stakes.iter().copied().filter(|(_, s)| *s > 0).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(usize::from(size));
    v.sort_by_key(|a| a.0);
    v
}

/// The shard assignment for new `counts`, moving as few shards as possible away from `old`
/// (see the module docs). `counts` must sum to the number of shards in `old`.
pub fn transition(
    old: &BTreeMap<NodeId, Vec<ShardIndex>>,
    counts: &BTreeMap<NodeId, u16>,
) -> BTreeMap<NodeId, Vec<ShardIndex>> {
    let mut out: BTreeMap<NodeId, Vec<ShardIndex>> = BTreeMap::new();
    let mut freed: Vec<ShardIndex> = Vec::new();
    for (node, shards) in old {
        let mut sorted = shards.clone();
        sorted.sort();
        let keep = usize::from(counts.get(node).copied().unwrap_or(0)).min(sorted.len());
        freed.extend_from_slice(&sorted[keep..]);
        sorted.truncate(keep);
        if keep > 0 {
            out.insert(*node, sorted);
        }
    }
    freed.sort();
    let mut freed = freed.into_iter();
    for (node, &k) in counts {
        let have = out.entry(*node).or_default();
        while have.len() < usize::from(k) {
            match freed.next() {
                Some(s) => have.push(s),
                None => break,
            }
        }
        have.sort();
    }
    out.retain(|_, v| !v.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(i: u8) -> NodeId {
        NodeId([i; 32])
    }

    #[test]
    fn equal_stakes_split_evenly() {
        let stakes: Vec<_> = (0..10).map(|i| (id(i), 1_000)).collect();
        let a = apportion(&stakes, 100, 100).unwrap();
        assert_eq!(a.len(), 10);
        assert!(a.values().all(|&k| k == 10));
        let shards = assign_shards(&a);
        assert_eq!(shards[&id(0)], (0..10).map(ShardIndex).collect::<Vec<_>>());
        assert_eq!(shards[&id(9)].last(), Some(&ShardIndex(99)));
    }

    #[test]
    fn proportional_cap_and_ties() {
        // 3:1 stake → 75:25.
        let a = apportion(&[(id(1), 300), (id(2), 100)], 100, 100).unwrap();
        assert_eq!((a[&id(1)], a[&id(2)]), (75, 25));
        // Cap 60: the big node stops at 60.
        let a = apportion(&[(id(1), 300), (id(2), 100)], 100, 60).unwrap();
        assert_eq!((a[&id(1)], a[&id(2)]), (60, 40));
        // Ties go to the smaller id: 3 equal nodes, 4 shards.
        let a = apportion(&[(id(3), 5), (id(2), 5), (id(1), 5)], 4, 4).unwrap();
        assert_eq!((a[&id(1)], a[&id(2)], a[&id(3)]), (2, 1, 1));
        // Zero stake gets nothing; a tiny node may end with no shard and is left out.
        let a = apportion(&[(id(1), 1_000_000), (id(2), 1), (id(3), 0)], 10, 10).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(
            apportion(&[(id(1), 1), (id(2), 1)], 10, 4),
            Err(ApportionError::CapTooLow {
                nodes: 2,
                cap: 4,
                n_shards: 10
            })
        );
        assert_eq!(
            apportion(&[(id(1), 0)], 10, 10),
            Err(ApportionError::NoStake)
        );
    }

    #[test]
    fn transition_moves_only_what_changed() {
        let old = assign_shards(
            &[(id(1), 4u16), (id(2), 4), (id(3), 2)]
                .into_iter()
                .collect(),
        );
        // Same counts: nothing moves.
        let same: BTreeMap<_, _> = old.iter().map(|(n, s)| (*n, s.len() as u16)).collect();
        assert_eq!(transition(&old, &same), old);
        // Node 3 grows by 2 taken from node 1's and node 2's highest shards; node 4 is new.
        let counts: BTreeMap<_, _> = [(id(1), 3u16), (id(2), 2), (id(3), 3), (id(4), 2)]
            .into_iter()
            .collect();
        let new = transition(&old, &counts);
        let s = |v: &[u16]| v.iter().map(|&i| ShardIndex(i)).collect::<Vec<_>>();
        assert_eq!(new[&id(1)], s(&[0, 1, 2]));
        assert_eq!(new[&id(2)], s(&[4, 5]));
        assert_eq!(new[&id(3)], s(&[3, 8, 9]));
        assert_eq!(new[&id(4)], s(&[6, 7]));
        // Active set: top 2 by stake, ties to the smaller id, zero stake out.
        let set = active_set(&[(id(3), 5), (id(1), 5), (id(2), 9), (id(4), 0)], 2);
        assert_eq!(set, vec![(id(1), 5), (id(2), 9)]);
    }

    proptest! {
        #[test]
        fn transition_keeps_every_shard_once(
            a in proptest::collection::vec(1u16..20, 1..8),
            b in proptest::collection::vec(0u16..20, 1..10),
        ) {
            let n: u16 = a.iter().sum();
            let old = assign_shards(&a.iter().enumerate().map(|(i, &k)| (id(i as u8), k)).collect());
            // Scale b to sum to n.
            let total: u32 = b.iter().map(|&x| u32::from(x)).sum::<u32>().max(1);
            let mut counts: BTreeMap<NodeId, u16> = BTreeMap::new();
            let mut left = n;
            for (i, &x) in b.iter().enumerate() {
                let k = ((u32::from(x) * u32::from(n)) / total) as u16;
                let k = k.min(left);
                left -= k;
                if k > 0 { counts.insert(id(i as u8 + 50), k); }
            }
            if left > 0 { *counts.entry(id(0)).or_default() += left; }
            let new = transition(&old, &counts);
            let mut all: Vec<u16> = new.values().flatten().map(|s| s.0).collect();
            all.sort();
            prop_assert_eq!(all, (0..n).collect::<Vec<_>>());
            for (node, k) in &counts {
                prop_assert_eq!(new.get(node).map_or(0, |v| v.len()), usize::from(*k));
            }
        }

        #[test]
        fn apportion_total_cap_and_order_independent(
            stakes in proptest::collection::vec(0u64..1_000_000, 1..30),
            n in 4u16..400,
            cap in 1u16..400,
        ) {
            let list: Vec<_> = stakes.iter().enumerate().map(|(i, &s)| (id(i as u8), s)).collect();
            let mut rev = list.clone();
            rev.reverse();
            let a = apportion(&list, n, cap);
            prop_assert_eq!(&a, &apportion(&rev, n, cap));
            if let Ok(a) = a {
                prop_assert_eq!(a.values().map(|&k| u32::from(k)).sum::<u32>(), u32::from(n));
                prop_assert!(a.values().all(|&k| k >= 1 && k <= cap));
                // More stake never means fewer shards.
                for (x, sx) in &list {
                    for (y, sy) in &list {
                        if sx > sy {
                            prop_assert!(a.get(x).copied().unwrap_or(0) >= a.get(y).copied().unwrap_or(0));
                        }
                    }
                }
            }
        }
    }
}
