//! The snapshot a round draws blobs from, and how a prover learns the blob of a rank without
//! trusting the server that tells it.
//!
//! The ledger ranks the live blobs of an epoch's start by ascending id and commits to the list
//! with a Merkle root ([`snapshot_root`]; leaf `i` is `BLAKE3(0x00 ‖ blob id of rank i)`, the
//! tree follows [`crate::merkle`]). The root travels in the round's `ChallengesStarted` event,
//! which a node applies only from a certified block. A node then asks any ledger server for the
//! blobs of its drawn ranks, each with its Merkle path ([`RankedBlob`]), and checks every answer
//! against the root: a server can refuse to answer, but it cannot make the node prove (and fail)
//! the wrong blob.

use serde::{Deserialize, Serialize};

use crate::hash::{self, Digest};
use crate::ids::BlobId;
use crate::merkle::{MerkleError, MerkleProof, MerkleTree, root_of_hashes};

/// The Merkle root over `blobs` in the given order (their ranks): `Digest::ZERO` when empty.
pub fn snapshot_root(blobs: &[BlobId]) -> Digest {
    let leaves: Vec<_> = blobs.iter().map(|b| hash::leaf(&b.0).0).collect();
    root_of_hashes(&leaves, &mut Vec::new())
}

/// The full tree over `blobs`, to answer [`RankedBlob`] requests.
pub fn snapshot_tree(blobs: &[BlobId]) -> MerkleTree {
    MerkleTree::from_leaf_hashes(blobs.iter().map(|b| hash::leaf(&b.0).0).collect())
}

/// The blob of one rank of a round's snapshot, with its path to the snapshot root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankedBlob {
    /// The rank (index in the ascending list of live blobs).
    pub rank: u64,
    /// The blob of that rank.
    pub blob_id: BlobId,
    /// Its path to the snapshot root.
    pub proof: MerkleProof,
}

impl RankedBlob {
    /// The entry of `rank` from `tree` (`None` out of range).
    pub fn from_tree(tree: &MerkleTree, blobs: &[BlobId], rank: u64) -> Option<Self> {
        let i = usize::try_from(rank).ok()?;
        Some(Self {
            rank,
            blob_id: *blobs.get(i)?,
            proof: tree.proof(i)?,
        })
    }

    /// Checks that `blob_id` has rank `rank` in the `live_blobs`-blob snapshot with `root`.
    pub fn verify(&self, root: &Digest, live_blobs: u64) -> Result<(), MerkleError> {
        let as_index = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        self.proof.verify(
            root,
            &hash::leaf(&self.blob_id.0),
            as_index(self.rank),
            as_index(live_blobs),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u8) -> Vec<BlobId> {
        (0..n).map(|i| BlobId([i; 32])).collect()
    }

    #[test]
    fn every_rank_verifies_and_nothing_else_does() {
        for n in [1u8, 2, 3, 7, 16, 33] {
            let blobs = ids(n);
            let (root, tree) = (snapshot_root(&blobs), snapshot_tree(&blobs));
            assert_eq!(tree.root(), root);
            for rank in 0..u64::from(n) {
                let e = RankedBlob::from_tree(&tree, &blobs, rank).unwrap();
                e.verify(&root, u64::from(n)).unwrap();
                // Another blob at that rank, or the blob at another rank, fails.
                let mut forged = e.clone();
                forged.blob_id = BlobId([200; 32]);
                assert!(forged.verify(&root, u64::from(n)).is_err());
                if n > 1 {
                    let mut moved = e.clone();
                    moved.rank = (rank + 1) % u64::from(n);
                    assert!(moved.verify(&root, u64::from(n)).is_err());
                }
            }
            assert!(RankedBlob::from_tree(&tree, &blobs, u64::from(n)).is_none());
        }
        assert_eq!(snapshot_root(&[]), Digest::ZERO);
    }

    #[test]
    fn conformance_snapshot_root() {
        // Pinned: a change of the leaf or tree rules changes every round's commitment.
        assert_eq!(
            hex::encode(snapshot_root(&ids(3)).0),
            "d162d94e716f6a6a842848c600682dc5f935e443c88f3a757d0d54b50da43047"
        );
    }
}
