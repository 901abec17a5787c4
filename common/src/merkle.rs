//! Merkle trees over BLAKE3, with the Walrus conventions.
//!
//! * A leaf is `BLAKE3(0x00 ‖ data)`; an inner node is `BLAKE3(0x01 ‖ left ‖ right)`.
//! * A level with an odd number of nodes (more than one) gets an `Empty` node (32 zero bytes)
//!   appended before it is paired up. The root of an empty tree is `Empty`.
//! * A proof lists the sibling of each node from the leaf up to (excluding) the root. At each
//!   level the sibling is on the right when the index is even; then the index halves. A valid
//!   proof for a tree of `k` leaves has exactly `ceil(log2 k)` siblings.

use serde::{Deserialize, Serialize};

use crate::hash::{self, Digest, Hash};

/// A node on a Merkle path. BCS: variant 0 = `Empty`, 1 = `Digest(32 bytes)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Node {
    /// The padding node (hashes as 32 zero bytes).
    Empty,
    /// A real node.
    Digest(Digest),
}

impl Node {
    fn from_hash(h: Hash) -> Node {
        if h == [0; 32] {
            Node::Empty
        } else {
            Node::Digest(Digest(h))
        }
    }

    /// The 32 bytes this node contributes to its parent's hash.
    pub fn hash(&self) -> Digest {
        match self {
            Node::Empty => Digest::ZERO,
            Node::Digest(d) => *d,
        }
    }
}

/// Why a Merkle proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// The leaf index is not in the tree.
    #[error("leaf index {index} out of range for {leaves} leaves")]
    IndexOutOfRange {
        /// Claimed index.
        index: usize,
        /// Leaves in the tree.
        leaves: usize,
    },
    /// The path has the wrong number of siblings for a tree of this size.
    #[error("proof has {got} siblings, a tree of {leaves} leaves needs {expected}")]
    WrongLength {
        /// Siblings in the proof.
        got: usize,
        /// Siblings needed.
        expected: usize,
        /// Leaves in the tree.
        leaves: usize,
    },
    /// The recomputed root differs from the expected one.
    #[error("proof does not lead to the expected root")]
    RootMismatch,
}

/// An inclusion proof: the siblings from leaf to root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerkleProof {
    /// Sibling nodes, leaf level first.
    pub path: Vec<Node>,
}

/// `ceil(log2 leaves)`: the number of siblings on every path of a tree with `leaves` leaves.
pub fn depth(leaves: usize) -> usize {
    if leaves <= 1 {
        0
    } else {
        (usize::BITS - (leaves - 1).leading_zeros()) as usize
    }
}

impl MerkleProof {
    /// Checks that the leaf whose hash is `leaf_hash` sits at `index` of a `leaves`-leaf tree
    /// with root `root`.
    pub fn verify(
        &self,
        root: &Digest,
        leaf_hash: &Digest,
        index: usize,
        leaves: usize,
    ) -> Result<(), MerkleError> {
        if self.root(leaf_hash, index, leaves)? == *root {
            Ok(())
        } else {
            Err(MerkleError::RootMismatch)
        }
    }

    /// The root of the `leaves`-leaf tree in which this path leads from the leaf `leaf_hash` at
    /// `index` (for a checker that knows the root only through what it commits to).
    pub fn root(
        &self,
        leaf_hash: &Digest,
        index: usize,
        leaves: usize,
    ) -> Result<Digest, MerkleError> {
        if index >= leaves {
            return Err(MerkleError::IndexOutOfRange { index, leaves });
        }
        let expected = depth(leaves);
        if self.path.len() != expected {
            return Err(MerkleError::WrongLength {
                got: self.path.len(),
                expected,
                leaves,
            });
        }
        let mut cur = *leaf_hash;
        let mut i = index;
        for sib in &self.path {
            let s = sib.hash();
            cur = if i.is_multiple_of(2) {
                hash::inner(&cur, &s)
            } else {
                hash::inner(&s, &cur)
            };
            i /= 2;
        }
        Ok(cur)
    }
}

/// A full Merkle tree, kept to produce proofs.
#[derive(Debug, Clone)]
pub struct MerkleTree {
    /// `levels[0]` are the leaf hashes, the last level holds only the root.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// Builds the tree over leaves with the given hashes.
    pub fn from_leaf_hashes(leaves: Vec<Hash>) -> Self {
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let below = levels.last().expect("non-empty");
            let mut up = vec![[0u8; 32]; below.len().div_ceil(2)];
            hash::parents(below, &mut up);
            levels.push(up);
        }
        Self { levels }
    }

    /// Builds the tree over the consecutive `size`-byte leaves of `data`.
    pub fn from_leaf_data(data: &[u8], size: usize) -> Self {
        let count = data.len().checked_div(size).unwrap_or(0);
        let mut leaves = vec![[0u8; 32]; count];
        hash::leaves(&data[..count * size], size, &mut leaves);
        Self::from_leaf_hashes(leaves)
    }

    /// Number of leaves.
    pub fn leaves(&self) -> usize {
        self.levels[0].len()
    }

    /// The root (`Empty` = zeros for an empty tree).
    pub fn root(&self) -> Digest {
        self.levels
            .last()
            .and_then(|l| l.first())
            .map_or(Digest::ZERO, |h| Digest(*h))
    }

    /// The proof for leaf `index`, or `None` if out of range.
    pub fn proof(&self, index: usize) -> Option<MerkleProof> {
        if index >= self.leaves() {
            return None;
        }
        let mut path = Vec::with_capacity(self.levels.len().saturating_sub(1));
        let mut i = index;
        for level in &self.levels[..self.levels.len() - 1] {
            let sib = i ^ 1;
            path.push(level.get(sib).map_or(Node::Empty, |h| Node::from_hash(*h)));
            i /= 2;
        }
        Some(MerkleProof { path })
    }
}

/// The root over leaves with the given hashes, without keeping the tree. `scratch` is reused
/// between calls to avoid allocations.
pub fn root_of_hashes(leaves: &[Hash], scratch: &mut Vec<Hash>) -> Digest {
    match leaves.len() {
        0 => return Digest::ZERO,
        1 => return Digest(leaves[0]),
        _ => {}
    }
    // All upper levels, one after the other, in one buffer.
    let mut total = 0;
    let mut len = leaves.len();
    while len > 1 {
        len = len.div_ceil(2);
        total += len;
    }
    scratch.clear();
    scratch.resize(total, [0; 32]);
    let first = leaves.len().div_ceil(2);
    hash::parents(leaves, &mut scratch[..first]);
    let (mut off, mut len) = (0, first);
    while len > 1 {
        let up = len.div_ceil(2);
        let (below, above) = scratch.split_at_mut(off + len);
        hash::parents(&below[off..], &mut above[..up]);
        off += len;
        len = up;
    }
    Digest(scratch[off])
}

/// Roots of many trees of equal size whose leaves arrive one column at a time: after `push`ing
/// `k` leaf vectors (`leaves[t]` is the next leaf of tree `t`), `finish` returns every tree's
/// root. Inner nodes of all trees are hashed together in batches; memory is `O(trees · log k)`.
#[derive(Debug)]
pub struct LockstepRoots {
    trees: usize,
    pushed: usize,
    /// `pending[level]`: a complete left node at `level` for every tree, waiting for its right
    /// sibling.
    pending: Vec<Option<Vec<Hash>>>,
}

impl LockstepRoots {
    /// Roots for `trees` trees.
    pub fn new(trees: usize) -> Self {
        Self {
            trees,
            pushed: 0,
            pending: Vec::new(),
        }
    }

    /// Adds the next leaf of every tree.
    pub fn push(&mut self, leaves: Vec<Hash>) {
        self.push_subtree(0, leaves);
    }

    /// Adds, for every tree, a complete subtree of `2^level` leaves given by its root. The
    /// number of leaves pushed so far must be a multiple of `2^level`.
    pub fn push_subtree(&mut self, level: usize, roots: Vec<Hash>) {
        assert_eq!(roots.len(), self.trees);
        assert_eq!(self.pushed % (1 << level), 0, "subtree not aligned");
        self.pushed += 1 << level;
        let mut cur = roots;
        let mut level = level;
        loop {
            if self.pending.len() <= level {
                self.pending.resize_with(level + 1, || None);
            }
            match self.pending[level].take() {
                None => {
                    self.pending[level] = Some(cur);
                    return;
                }
                Some(left) => {
                    let mut up = vec![[0u8; 32]; self.trees];
                    hash::inner_many(&left, &cur, &mut up);
                    cur = up;
                    level += 1;
                }
            }
        }
    }

    /// Appends the leaves accumulated by `other` (over the same trees) after ours. Our leaf
    /// count must be a multiple of the power of two at or above `other`'s.
    pub fn append(&mut self, other: LockstepRoots) {
        assert_eq!(other.trees, self.trees);
        assert_eq!(
            self.pushed % other.pushed.next_power_of_two().max(1),
            0,
            "append not aligned"
        );
        // Higher levels hold the leftmost leaves: add them first.
        for (level, nodes) in other.pending.into_iter().enumerate().rev() {
            if let Some(nodes) = nodes {
                self.push_subtree(level, nodes);
            }
        }
    }

    /// The roots, one per tree, following the padding rule for odd levels.
    pub fn finish(self) -> Vec<Digest> {
        let trees = self.trees;
        if self.pushed == 0 {
            return vec![Digest::ZERO; trees];
        }
        let zeros = vec![[0u8; 32]; trees];
        let mut carry: Option<Vec<Hash>> = None;
        let mut count = self.pushed; // nodes at the current level
        let mut level = 0;
        let mut pending = self.pending;
        while count > 1 {
            let left = pending.get_mut(level).and_then(Option::take);
            let mut up = vec![[0u8; 32]; trees];
            match (left, carry.take()) {
                (Some(l), Some(c)) => hash::inner_many(&l, &c, &mut up),
                (Some(l), None) => hash::inner_many(&l, &zeros, &mut up),
                (None, Some(c)) => hash::inner_many(&c, &zeros, &mut up),
                (None, None) => {
                    // Every node at this level was paired: nothing to carry from here.
                    count = count.div_ceil(2);
                    level += 1;
                    continue;
                }
            }
            carry = Some(up);
            count = count.div_ceil(2);
            level += 1;
        }
        let root = carry.or_else(|| pending.get_mut(level).and_then(Option::take));
        root.expect("a non-empty tree has a root")
            .into_iter()
            .map(Digest)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaf_hashes(k: usize, seed: u8) -> Vec<Hash> {
        (0..k)
            .map(|i| hash::leaf(&[seed, i as u8, (i >> 8) as u8]).0)
            .collect()
    }

    /// Straightforward recursive definition, independent of the level-by-level builder.
    fn reference_root(level: &[Hash]) -> Hash {
        match level.len() {
            0 => [0; 32],
            1 => level[0],
            _ => {
                let up: Vec<Hash> = level
                    .chunks(2)
                    .map(|c| {
                        let r = c.get(1).copied().unwrap_or([0; 32]);
                        hash::inner(&Digest(c[0]), &Digest(r)).0
                    })
                    .collect();
                reference_root(&up)
            }
        }
    }

    #[test]
    fn depth_values() {
        assert_eq!(
            [0, 1, 2, 3, 4, 5, 8, 9, 1000].map(depth),
            [0, 0, 1, 2, 2, 3, 3, 4, 10]
        );
    }

    #[test]
    fn proof_bcs_layout() {
        let p = MerkleProof {
            path: vec![Node::Empty, Node::Digest(Digest([9; 32]))],
        };
        let b = bcs::to_bytes(&p).unwrap();
        assert_eq!(b[..3], [2, 0, 1]);
        assert_eq!(b.len(), 3 + 32);
    }

    proptest! {
        #[test]
        fn roots_agree_and_proofs_verify(k in 0usize..80, seed: u8) {
            let leaves = leaf_hashes(k, seed);
            let tree = MerkleTree::from_leaf_hashes(leaves.clone());
            let root = tree.root();
            prop_assert_eq!(root.0, reference_root(&leaves));
            prop_assert_eq!(root_of_hashes(&leaves, &mut Vec::new()), root);
            for (i, l) in leaves.iter().enumerate() {
                let proof = tree.proof(i).unwrap();
                prop_assert!(proof.verify(&root, &Digest(*l), i, k).is_ok());
                // Wrong index, wrong leaf, truncated path: all refused.
                if k > 1 {
                    prop_assert!(proof.verify(&root, &Digest(*l), (i + 1) % k, k).is_err());
                    let mut short = proof.clone();
                    short.path.pop();
                    prop_assert!(short.verify(&root, &Digest(*l), i, k).is_err());
                }
                prop_assert!(proof.verify(&root, &Digest([7; 32]), i, k).is_err());
            }
            prop_assert!(tree.proof(k).is_none());
        }

        #[test]
        fn lockstep_matches_single_trees(k in 0usize..70, trees in 1usize..5) {
            let per_tree: Vec<Vec<Hash>> = (0..trees).map(|t| leaf_hashes(k, t as u8)).collect();
            let mut acc = LockstepRoots::new(trees);
            for j in 0..k {
                acc.push(per_tree.iter().map(|l| l[j]).collect());
            }
            let roots = acc.finish();
            for t in 0..trees {
                prop_assert_eq!(roots[t].0, reference_root(&per_tree[t]));
            }
            // The same in aligned chunks, accumulated separately and appended.
            for chunk in [1usize, 2, 4, 8, 16] {
                let mut total = LockstepRoots::new(trees);
                for start in (0..k).step_by(chunk) {
                    let mut part = LockstepRoots::new(trees);
                    for j in start..(start + chunk).min(k) {
                        part.push(per_tree.iter().map(|l| l[j]).collect());
                    }
                    total.append(part);
                }
                prop_assert_eq!(total.finish(), roots.clone());
            }
        }
    }
}
