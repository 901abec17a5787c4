//! Blocks: what consensus decides and every validator stores.
//!
//! A block is a header plus ordered transactions. Its hash is BLAKE3 over the domain tag and the
//! BCS header; the header binds the transactions through `tx_root` (a Merkle root over the
//! transaction digests, Floe's usual tree) and the state through `app_hash`, the state digest
//! *after the parent block* (as in Tendermint: a block cannot carry the digest of its own effects
//! without every validator executing it before voting). Consensus agrees on the hash; validators
//! keep bodies by hash and replay nothing they cannot re-derive.

use floe_common::hash::Digest;
use floe_common::ids::TextForm;
use serde::{Deserialize, Serialize};

use crate::cert::ValidatorAddress;
use crate::tx::SignedTransaction;

floe_common::fixed_bytes!(
    /// BLAKE3 of a block header (hex text form). Consensus votes on this.
    BlockHash,
    32,
    TextForm::Hex
);

impl BlockHash {
    /// The parent of the first block.
    pub const GENESIS_PARENT: BlockHash = BlockHash([0; 32]);
}

/// Largest encoded block (a proposal travels as one gossip message; the engine caps those at
/// 4 MiB and a synced batch at 10 MiB).
pub const MAX_BLOCK_BYTES: usize = 2 << 20;
/// Most transactions in one block.
pub const MAX_BLOCK_TXS: usize = 10_000;

/// Block header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    /// Chain this block belongs to (the genesis chain id).
    pub chain_id: String,
    /// Height, from 1.
    pub height: u64,
    /// Hash of the block at `height - 1` ([`BlockHash::GENESIS_PARENT`] at height 1).
    pub parent_hash: BlockHash,
    /// Proposer's clock, milliseconds since the Unix epoch; strictly increasing.
    pub timestamp_ms: u64,
    /// The validator that built the block.
    pub proposer: ValidatorAddress,
    /// Merkle root over the transaction digests.
    pub tx_root: Digest,
    /// State digest after applying every block up to `height - 1`.
    pub app_hash: Digest,
}

/// A block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// Header.
    pub header: BlockHeader,
    /// Ordered transactions.
    pub txs: Vec<SignedTransaction>,
}

impl BlockHeader {
    /// The header's hash.
    pub fn hash(&self) -> BlockHash {
        let mut h = blake3::Hasher::new();
        h.update(b"floe/block/v1");
        h.update(&floe_common::codec::encode(self));
        BlockHash(*h.finalize().as_bytes())
    }
}

impl Block {
    /// The block's hash.
    pub fn hash(&self) -> BlockHash {
        self.header.hash()
    }

    /// Height.
    pub fn height(&self) -> u64 {
        self.header.height
    }

    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        floe_common::codec::encode(self)
    }

    /// Decodes a block of at most [`MAX_BLOCK_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Block, floe_common::CodecError> {
        floe_common::codec::decode(bytes, MAX_BLOCK_BYTES)
    }
}

/// Merkle root over the transactions' digests.
pub fn tx_root(txs: &[SignedTransaction]) -> Digest {
    let leaves: Vec<[u8; 32]> = txs
        .iter()
        .map(|tx| floe_common::hash::leaf(&tx.digest().0).0)
        .collect();
    floe_common::merkle::root_of_hashes(&leaves, &mut Vec::new())
}
