//! Storage challenges: which symbols a storage node must prove it holds, and the proof, checked
//! against nothing but the blob id.
//!
//! **Why a direct proof works.** A blob id is `BLAKE3(type ‖ length ‖ root)`, where `root` is
//! the Merkle root over the pair leaves `primary_hash ‖ secondary_hash`, and a sliver hash is
//! the Merkle root over the sliver's `n` expanded symbols. So one symbol at
//! `(blob, pair, axis, index)` is proved by ([`StorageProof`]):
//!
//! * the symbol's bytes and its Merkle path to the sliver hash;
//! * the pair's two hashes and their path to `root`;
//! * the encoding type and the blob's length.
//!
//! The checker recomputes the sliver hash from the symbol, the pair leaf, the root, then the
//! blob id: two Merkle paths of `⌈log2 n⌉` hashes and one more hash, a few dozen BLAKE3 calls.
//! At 1000 shards a proof is about 740 bytes plus the symbol (measured by `floe-challenge-bench`).
//!
//! **What is asked** ([`challenges`]). From a seed nobody knows before it is committed (the
//! ledger derives it from the hash of the block that starts the epoch), each node gets `k`
//! draws. Draw `i` is
//! `BLAKE3("floe/challenge/v1" ‖ seed ‖ node id ‖ i u32 LE)`, read as little-endian integers:
//! bytes `0..8` pick the blob by rank among the live blobs (mod their count), `8..16` one of the
//! node's shards (mod their count, shards in ascending order), byte `16` the axis (bit 0: 0
//! primary, 1 secondary), `17..25` the symbol (mod `n`). The shard and the blob's rotation give
//! the pair ([`crate::ShardIndex::to_pair`]). The modulo bias is below 2⁻⁴⁰ for any realistic
//! count.
//!
//! **Detection.** A node that lost a fraction `x` of its slivers passes `k` independent
//! challenges with probability `(1−x)^k`: with `k` = 20, 36% for `x` = 5%, 12% for 10%, 0.08%
//! for 30%. Each challenge costs the ledger one proof check and the node one sliver read and
//! expansion.

mod snapshot;

use serde::{Deserialize, Serialize};

pub use self::snapshot::{RankedBlob, snapshot_root, snapshot_tree};

use crate::config::{EncodingConfig, EncodingType};
use crate::encoding::{Sliver, SliverAxis, derive_blob_id};
use crate::encoding::{SliverExpander, SliverPairHashes, VerifiedBlobMetadata};
use crate::hash::{self, Digest};
use crate::ids::{BlobId, NodeId, ShardIndex, SliverIndex, SliverPairIndex};
use crate::merkle::{MerkleError, MerkleProof, MerkleTree, depth};

/// Domain separation of the draws.
const DRAW_DOMAIN: &[u8] = b"floe/challenge/v1";

/// One symbol a node must prove, before the blob is looked up by rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Challenge {
    /// The blob's rank among the live blobs (ascending blob id), `< live_blobs`.
    pub blob_rank: u64,
    /// The node's shard whose pair is asked.
    pub shard: ShardIndex,
    /// Which sliver of the pair.
    pub axis: SliverAxis,
    /// The symbol (leaf) of the expanded sliver, `< n`.
    pub symbol: u16,
}

/// The `k` challenges of `node` for `seed`, over `live_blobs` blobs and the node's `shards`
/// (any order; empty if either is empty: a node with nothing to prove is not asked).
pub fn challenges(
    seed: &Digest,
    node: &NodeId,
    k: u16,
    live_blobs: u64,
    shards: &[ShardIndex],
    n_shards: u16,
) -> Vec<Challenge> {
    if live_blobs == 0 || shards.is_empty() || n_shards == 0 {
        return Vec::new();
    }
    let mut shards = shards.to_vec();
    shards.sort_unstable();
    shards.dedup();
    (0..u32::from(k))
        .map(|i| {
            let mut input = Vec::with_capacity(DRAW_DOMAIN.len() + 32 + 32 + 4);
            input.extend_from_slice(DRAW_DOMAIN);
            input.extend_from_slice(&seed.0);
            input.extend_from_slice(&node.0);
            input.extend_from_slice(&i.to_le_bytes());
            let h = hash::blake3(&input).0;
            let word = |at: usize| u64::from_le_bytes(h[at..at + 8].try_into().expect("8 bytes"));
            Challenge {
                blob_rank: word(0) % live_blobs,
                shard: shards[(word(8) % shards.len() as u64) as usize],
                axis: if h[16] & 1 == 0 {
                    SliverAxis::Primary
                } else {
                    SliverAxis::Secondary
                },
                symbol: (word(17) % u64::from(n_shards)) as u16,
            }
        })
        .collect()
}

/// Why a proof could not be made or does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The proof is for another pair, axis or symbol than the challenge asks.
    #[error(
        "the proof is for pair {got_pair} {got_axis} symbol {got_symbol}, the challenge asks pair {pair} {axis} symbol {symbol}"
    )]
    WrongTarget {
        /// Asked pair.
        pair: SliverPairIndex,
        /// Asked axis.
        axis: SliverAxis,
        /// Asked symbol.
        symbol: u16,
        /// Proved pair.
        got_pair: SliverPairIndex,
        /// Proved axis.
        got_axis: SliverAxis,
        /// Proved symbol.
        got_symbol: u16,
    },
    /// The symbol does not have the blob's symbol size, or the indices are out of range.
    #[error("malformed proof: {0}")]
    Malformed(String),
    /// A Merkle path fails.
    #[error("{what}: {error}")]
    Path {
        /// Which path.
        what: &'static str,
        /// How.
        error: MerkleError,
    },
    /// Everything recomputes, but to another blob id.
    #[error("the proof derives blob {got}, not {expected}")]
    WrongBlob {
        /// The blob challenged.
        expected: BlobId,
        /// The blob the proof derives.
        got: BlobId,
    },
    /// The sliver given to [`StorageProof::prove`] does not fit the metadata.
    #[error("cannot prove: {0}")]
    CannotProve(String),
}

/// A proof that the prover holds symbol `symbol` of the `axis` sliver of `pair` of a blob
/// ([module docs](self)).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageProof {
    /// The pair.
    pub pair: SliverPairIndex,
    /// Which sliver of it.
    pub axis: SliverAxis,
    /// The leaf of the expanded sliver.
    pub symbol: u16,
    /// The symbol's bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// Path from the symbol's leaf to the sliver hash.
    pub symbol_path: MerkleProof,
    /// The pair's two sliver hashes.
    pub pair_hashes: SliverPairHashes,
    /// Path from the pair leaf to the metadata root.
    pub pair_path: MerkleProof,
    /// The blob's encoding.
    pub encoding_type: EncodingType,
    /// The blob's length.
    pub unencoded_length: u64,
}

impl std::fmt::Debug for StorageProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StorageProof(pair {} {} symbol {}, {} bytes)",
            self.pair,
            self.axis,
            self.symbol,
            self.data.len()
        )
    }
}

impl StorageProof {
    /// The largest encoded proof for `config`: a bound for decoders.
    pub fn max_encoded_len(config: &EncodingConfig) -> usize {
        let path = 4 + depth(config.n()) * 33;
        // pair, axis, symbol, data (ULEB128 + bytes), two paths, two hashes, type, length.
        2 + 1 + 2 + 3 + usize::from(crate::config::MAX_SYMBOL_SIZE) + 2 * path + 64 + 1 + 8
    }

    /// Proves symbol `symbol` of `sliver` (the `sliver.axis` sliver of `pair`) of the blob
    /// `metadata` describes.
    pub fn prove(
        config: &EncodingConfig,
        metadata: &VerifiedBlobMetadata,
        pair: SliverPairIndex,
        sliver: &Sliver,
        symbol: u16,
    ) -> Result<StorageProof, ProofError> {
        let n_shards = config.n_shards();
        let cannot = |m: String| ProofError::CannotProve(m);
        if sliver.index != pair.sliver_index(sliver.axis, n_shards) {
            return Err(cannot(format!(
                "sliver {} ({}) is not pair {pair}'s",
                sliver.index, sliver.axis
            )));
        }
        let s = config
            .symbol_size(metadata.unencoded_length())
            .map_err(|e| cannot(e.to_string()))?;
        let (tree, expanded) = SliverExpander::new(*config, s)
            .tree(sliver.axis, &sliver.data)
            .map(|(tree, expanded)| (tree, expanded.to_vec()))
            .map_err(|e| cannot(e.to_string()))?;
        let at = usize::from(symbol);
        let symbol_path = tree
            .proof(at)
            .ok_or_else(|| cannot(format!("symbol {symbol} out of range")))?;
        let pair_hashes = metadata
            .pair_hashes(pair)
            .ok_or_else(|| cannot(format!("pair {pair} out of range")))?;
        let expected = match sliver.axis {
            SliverAxis::Primary => pair_hashes.primary,
            SliverAxis::Secondary => pair_hashes.secondary,
        };
        if tree.root() != expected {
            return Err(cannot(format!(
                "sliver {} does not match the metadata",
                sliver.index
            )));
        }
        let md = metadata.metadata();
        let mut flat = Vec::with_capacity(md.hashes.len() * 64);
        for h in &md.hashes {
            flat.extend_from_slice(&h.primary.0);
            flat.extend_from_slice(&h.secondary.0);
        }
        let pair_path = MerkleTree::from_leaf_data(&flat, 64)
            .proof(pair.as_usize())
            .ok_or_else(|| cannot(format!("pair {pair} out of range")))?;
        let s = usize::from(s);
        Ok(StorageProof {
            pair,
            axis: sliver.axis,
            symbol,
            data: expanded[at * s..(at + 1) * s].to_vec(),
            symbol_path,
            pair_hashes,
            pair_path,
            encoding_type: md.encoding_type,
            unencoded_length: md.unencoded_length,
        })
    }

    /// Checks the proof against `blob_id` alone, for the symbol `challenge` asks of the blob
    /// (whose rotation gives the pair of the challenged shard).
    pub fn verify(
        &self,
        config: &EncodingConfig,
        blob_id: &BlobId,
        challenge: &Challenge,
    ) -> Result<(), ProofError> {
        let n_shards = config.n_shards();
        let pair = challenge
            .shard
            .to_pair(blob_id.rotation(n_shards), n_shards);
        if (pair, challenge.axis, challenge.symbol) != (self.pair, self.axis, self.symbol) {
            return Err(ProofError::WrongTarget {
                pair,
                axis: challenge.axis,
                symbol: challenge.symbol,
                got_pair: self.pair,
                got_axis: self.axis,
                got_symbol: self.symbol,
            });
        }
        let s = config
            .symbol_size(self.unencoded_length)
            .map_err(|e| ProofError::Malformed(e.to_string()))?;
        if self.data.len() != usize::from(s) {
            return Err(ProofError::Malformed(format!(
                "the symbol has {} bytes, this blob's symbols have {s}",
                self.data.len()
            )));
        }
        let n = config.n();
        if usize::from(self.symbol) >= n || self.pair.as_usize() >= n {
            return Err(ProofError::Malformed(format!(
                "pair {} or symbol {} out of range for {n} shards",
                self.pair, self.symbol
            )));
        }
        let sliver_hash = match self.axis {
            SliverAxis::Primary => self.pair_hashes.primary,
            SliverAxis::Secondary => self.pair_hashes.secondary,
        };
        self.symbol_path
            .verify(
                &sliver_hash,
                &hash::leaf(&self.data),
                usize::from(self.symbol),
                n,
            )
            .map_err(|error| ProofError::Path {
                what: "symbol path",
                error,
            })?;
        let mut leaf = [0u8; 64];
        leaf[..32].copy_from_slice(&self.pair_hashes.primary.0);
        leaf[32..].copy_from_slice(&self.pair_hashes.secondary.0);
        let root = self
            .pair_path
            .root(&hash::leaf(&leaf), self.pair.as_usize(), n)
            .map_err(|error| ProofError::Path {
                what: "pair path",
                error,
            })?;
        let got = derive_blob_id(self.encoding_type, self.unencoded_length, &root);
        if got != *blob_id {
            return Err(ProofError::WrongBlob {
                expected: *blob_id,
                got,
            });
        }
        Ok(())
    }
}

/// The sliver index a challenge asks of a blob: handy for a prover looking up its store.
pub fn challenged_sliver(
    challenge: &Challenge,
    blob_id: &BlobId,
    n_shards: u16,
) -> (SliverPairIndex, SliverIndex) {
    let pair = challenge
        .shard
        .to_pair(blob_id.rotation(n_shards), n_shards);
    (pair, pair.sliver_index(challenge.axis, n_shards))
}
