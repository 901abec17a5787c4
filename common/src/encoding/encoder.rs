//! Blob → sliver pairs + metadata + blob id.
//!
//! The work itself is in [`super::prepared`]: jobs over row ranges (row expansion) and
//! power-of-two column ranges (column expansion and hashing), run on `threads` scoped threads
//! ([`super::jobs::run_jobs`]). The `n × n` expanded matrix is never materialised: each column is expanded,
//! hashed and dropped; the row trees are built in lockstep from the columns' leaf hashes, so
//! memory stays at the slivers themselves (≈4.5× the blob) plus `O(n log n)` hashes.

use super::metadata::VerifiedBlobMetadata;
use super::{Sliver, SliverAxis};
use crate::config::{EncodingConfig, EncodingConfigError};
use crate::ids::{BlobId, SliverPairIndex};

/// Encoder options.
#[derive(Debug, Clone, Copy)]
pub struct EncodeOptions {
    /// Worker threads (1 = encode on the calling thread).
    pub threads: usize,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self { threads: 1 }
    }
}

/// One shard's share of a blob: primary sliver `p` and secondary sliver `n-1-p`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliverPair {
    /// The pair index `p`.
    pub index: SliverPairIndex,
    /// Primary sliver `p`.
    pub primary: Sliver,
    /// Secondary sliver `n-1-p`.
    pub secondary: Sliver,
}

impl SliverPair {
    /// The sliver on `axis`.
    pub fn sliver(&self, axis: SliverAxis) -> &Sliver {
        match axis {
            SliverAxis::Primary => &self.primary,
            SliverAxis::Secondary => &self.secondary,
        }
    }
}

/// An encoded blob.
#[derive(Debug, Clone)]
pub struct EncodedBlob {
    /// Metadata with its blob id.
    pub metadata: VerifiedBlobMetadata,
    /// The `n` sliver pairs, indexed by pair.
    pub pairs: Vec<SliverPair>,
}

impl EncodedBlob {
    /// The blob id.
    pub fn blob_id(&self) -> BlobId {
        self.metadata.blob_id()
    }
}

/// Encodes a blob on the calling thread.
pub fn encode_blob(
    config: &EncodingConfig,
    blob: &[u8],
) -> Result<EncodedBlob, EncodingConfigError> {
    encode_blob_with(config, blob, EncodeOptions::default())
}

/// Encodes a blob with options: every sliver pair at once (about 4.4× the blob at 100 shards;
/// [`super::prepare`] is the bounded-memory alternative for writers).
pub fn encode_blob_with(
    config: &EncodingConfig,
    blob: &[u8],
    opts: EncodeOptions,
) -> Result<EncodedBlob, EncodingConfigError> {
    let mut prepared = super::prepared::prepare(config, blob, opts.threads, |_| true)?;
    let metadata = prepared.metadata().clone();
    let pairs = config
        .pair_indices()
        .map(|index| {
            let mut take = |axis| {
                prepared
                    .take(index, axis)
                    .expect("every parity sliver was computed and is taken once")
            };
            SliverPair {
                index,
                primary: take(SliverAxis::Primary),
                secondary: take(SliverAxis::Secondary),
            }
        })
        .collect();
    Ok(EncodedBlob { metadata, pairs })
}
