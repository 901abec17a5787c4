//! RedStuff: two-dimensional Reed-Solomon encoding of blobs into sliver pairs.
//!
//! Layout (Walrus "RS2", with BLAKE3):
//!
//! 1. The blob is laid out row-major in a `rows × cols` matrix of `s`-byte symbols, zero-padded.
//! 2. Each row is expanded with RS(`cols` → `n`); each of the `n` resulting columns is expanded
//!    with RS(`rows` → `n`). By linearity this is the same `n × n` matrix `E` either way.
//! 3. Primary sliver `i` is `E[i][0..cols]`; secondary sliver `j` is `E[0..rows][j]`.
//!    Sliver pair `p` = (primary `p`, secondary `n-1-p`).
//! 4. A sliver's hash is the Merkle root over its `n` *expanded* symbols: `E[i][0..n]` for
//!    primary `i`, `E[0..n][j]` for secondary `j`. The metadata lists the `n` hash pairs.
//! 5. Blob id = BLAKE3(encoding type ‖ length u64 LE ‖ Merkle root over the 64-byte hash pairs).
//!
//! Reads need any `rows` primary slivers (or `cols` secondary ones). A node that lost sliver
//! pair `p` rebuilds primary `p` from `n-f` symbols `E[p][j]` sent by the holders of secondary
//! slivers `j`, and secondary `n-1-p` from `n-2f` symbols sent by holders of primary slivers,
//! each with a Merkle proof against the sender's sliver hash: about one pair's worth of bytes.

use serde::{Deserialize, Serialize};

use crate::ids::SliverIndex;

mod decoder;
mod encoder;
mod expand;
#[cfg(any(test, feature = "test-utils"))]
pub mod faulty;
mod jobs;
mod metadata;
mod prepared;
mod recovery;

pub use decoder::{ConsistencyCheck, DecodeError, decode_blob};
pub use encoder::{EncodeOptions, EncodedBlob, SliverPair, encode_blob, encode_blob_with};
pub use expand::{SliverError, SliverExpander};
pub use metadata::{
    BlobMetadata, MetadataError, SliverPairHashes, VerifiedBlobMetadata, derive_blob_id,
};
pub use prepared::{PreparedBlob, prepare};
pub use recovery::{
    InconsistencyProof, RecoveryError, RecoveryOutcome, RecoverySymbol, recover_sliver,
    recover_unproven, recovery_symbols,
};

/// The two axes of the encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SliverAxis {
    /// Rows of the column-expanded matrix; `rows` of them decode the blob.
    Primary,
    /// Columns of the row-expanded matrix; `cols` of them decode the blob.
    Secondary,
}

impl SliverAxis {
    /// The other axis.
    pub const fn other(self) -> SliverAxis {
        match self {
            SliverAxis::Primary => SliverAxis::Secondary,
            SliverAxis::Secondary => SliverAxis::Primary,
        }
    }

    /// Lowercase name, as used in URLs and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            SliverAxis::Primary => "primary",
            SliverAxis::Secondary => "secondary",
        }
    }
}

impl std::fmt::Display for SliverAxis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SliverAxis {
    type Err = crate::ids::IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "primary" => Ok(SliverAxis::Primary),
            "secondary" => Ok(SliverAxis::Secondary),
            other => Err(crate::ids::IdParseError::BadNumber {
                kind: "SliverAxis",
                text: other.to_owned(),
                reason: "expected `primary` or `secondary`".to_owned(),
            }),
        }
    }
}

/// One sliver: a row (primary) or column (secondary) of the encoded matrix.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sliver {
    /// Which axis.
    pub axis: SliverAxis,
    /// Its index on that axis.
    pub index: SliverIndex,
    /// Symbol size in bytes.
    pub symbol_size: u16,
    /// The symbols, concatenated.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Sliver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sliver")
            .field("axis", &self.axis)
            .field("index", &self.index)
            .field("symbol_size", &self.symbol_size)
            .field("len", &self.data.len())
            .finish()
    }
}

impl Sliver {
    /// The symbols of the sliver.
    pub fn symbols(&self) -> std::slice::ChunksExact<'_, u8> {
        self.data.chunks_exact(usize::from(self.symbol_size.max(1)))
    }

    /// The symbol at position `i`.
    pub fn symbol(&self, i: usize) -> Option<&[u8]> {
        let s = usize::from(self.symbol_size);
        self.data.get(i * s..(i + 1) * s)
    }
}
