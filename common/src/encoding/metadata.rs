//! Blob metadata, the blob id, and their verification.

use serde::{Deserialize, Serialize};

use super::SliverAxis;
use crate::config::{EncodingConfig, EncodingConfigError, EncodingType};
use crate::hash::{self, Digest, Hash};
use crate::ids::{BlobId, SliverIndex, SliverPairIndex};
use crate::merkle;

/// The hashes of one sliver pair: primary sliver `p` and secondary sliver `n-1-p`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliverPairHashes {
    /// Merkle root of the expanded primary sliver `p`.
    pub primary: Digest,
    /// Merkle root of the expanded secondary sliver `n-1-p`.
    pub secondary: Digest,
}

/// What a storage node keeps per blob and what the blob id commits to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobMetadata {
    /// The encoding.
    pub encoding_type: EncodingType,
    /// The blob's length before encoding.
    pub unencoded_length: u64,
    /// One entry per sliver pair, indexed by pair.
    pub hashes: Vec<SliverPairHashes>,
}

/// Metadata that does not match its blob id or the encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// The number of hash pairs differs from the shard count.
    #[error("metadata has {got} hash pairs, the network has {expected} shards")]
    WrongHashCount {
        /// Pairs in the metadata.
        got: usize,
        /// Shards.
        expected: usize,
    },
    /// The length is not encodable at this shard count.
    #[error(transparent)]
    Config(#[from] EncodingConfigError),
    /// The blob id recomputed from the metadata differs from the claimed one.
    #[error("metadata belongs to blob {computed}, not {claimed}")]
    BlobIdMismatch {
        /// The id the metadata was offered for.
        claimed: BlobId,
        /// The id it actually derives.
        computed: BlobId,
    },
}

/// `BLAKE3(encoding type ‖ unencoded length u64 LE ‖ root)`.
pub fn derive_blob_id(encoding_type: EncodingType, unencoded_length: u64, root: &Digest) -> BlobId {
    let mut buf = [0u8; 41];
    buf[0] = encoding_type.tag();
    buf[1..9].copy_from_slice(&unencoded_length.to_le_bytes());
    buf[9..].copy_from_slice(&root.0);
    BlobId(hash::blake3(&buf).0)
}

impl BlobMetadata {
    /// The Merkle root over the 64-byte leaves `primary_hash ‖ secondary_hash`.
    pub fn root(&self) -> Digest {
        let mut flat = Vec::with_capacity(self.hashes.len() * 64);
        for h in &self.hashes {
            flat.extend_from_slice(&h.primary.0);
            flat.extend_from_slice(&h.secondary.0);
        }
        let mut leaves: Vec<Hash> = vec![[0; 32]; self.hashes.len()];
        hash::leaves(&flat, 64, &mut leaves);
        merkle::root_of_hashes(&leaves, &mut Vec::new())
    }

    /// The blob id these metadata derive.
    pub fn blob_id(&self) -> BlobId {
        derive_blob_id(self.encoding_type, self.unencoded_length, &self.root())
    }

    /// The largest BCS encoding of metadata for `n` shards (the decode size limit).
    pub fn max_encoded_len(n_shards: u16) -> usize {
        // type (1) + length (8) + ULEB128 count (≤ 3 for n ≤ 32768) + n · 64.
        1 + 8 + 3 + usize::from(n_shards) * 64
    }

    /// Checks the metadata against the claimed blob id and the encoding configuration.
    pub fn verify(
        self,
        claimed: BlobId,
        config: &EncodingConfig,
    ) -> Result<VerifiedBlobMetadata, MetadataError> {
        if self.hashes.len() != config.n() {
            return Err(MetadataError::WrongHashCount {
                got: self.hashes.len(),
                expected: config.n(),
            });
        }
        config.symbol_size(self.unencoded_length)?;
        let computed = self.blob_id();
        if computed != claimed {
            return Err(MetadataError::BlobIdMismatch { claimed, computed });
        }
        Ok(VerifiedBlobMetadata {
            blob_id: computed,
            metadata: self,
        })
    }
}

/// Metadata checked against its blob id and the shard count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBlobMetadata {
    blob_id: BlobId,
    metadata: BlobMetadata,
}

impl VerifiedBlobMetadata {
    /// Wraps metadata computed by our own encoder (already consistent by construction).
    pub(crate) fn new_trusted(blob_id: BlobId, metadata: BlobMetadata) -> Self {
        Self { blob_id, metadata }
    }

    /// The blob id.
    pub fn blob_id(&self) -> BlobId {
        self.blob_id
    }

    /// The metadata.
    pub fn metadata(&self) -> &BlobMetadata {
        &self.metadata
    }

    /// Unwraps the metadata.
    pub fn into_inner(self) -> BlobMetadata {
        self.metadata
    }

    /// The unencoded length.
    pub fn unencoded_length(&self) -> u64 {
        self.metadata.unencoded_length
    }

    /// The hash of sliver `index` on `axis`.
    pub fn sliver_hash(&self, axis: SliverAxis, index: SliverIndex) -> Option<Digest> {
        let n = self.metadata.hashes.len() as u16;
        if index.0 >= n {
            return None;
        }
        let pair = index.to_pair(axis, n);
        let h = self.metadata.hashes[pair.as_usize()];
        Some(match axis {
            SliverAxis::Primary => h.primary,
            SliverAxis::Secondary => h.secondary,
        })
    }

    /// The hashes of a pair.
    pub fn pair_hashes(&self, pair: SliverPairIndex) -> Option<SliverPairHashes> {
        self.metadata.hashes.get(pair.as_usize()).copied()
    }
}
