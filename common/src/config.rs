//! Encoding parameters derived from the number of shards (RedStuff over Reed-Solomon, "RS2").
//!
//! For `n` shards, `f = (n-1)/3` shards may be faulty. The blob is laid out row-major in a
//! `rows × cols` matrix of `symbol_size`-byte symbols with `rows = n-2f` and `cols = n-f`:
//!
//! * primary slivers are rows of the column-expanded matrix (`cols` symbols each; any `rows` of
//!   them decode the blob);
//! * secondary slivers are columns of the row-expanded matrix (`rows` symbols each; any `cols` of
//!   them decode the blob).
//!
//! The symbol size is `ceil(max(len, 1) / (rows·cols))` rounded up to even, at most 65534.
//! Weights are counted in shards: a quorum is `3w ≥ 2n+1`, validity ("one correct shard holder")
//! is `3w ≥ n+1`.

use serde::{Deserialize, Serialize};

use crate::certificate::Threshold;
use crate::{SliverAxis, ids::SliverPairIndex};

/// The largest symbol size (`u16::MAX - 1`; symbols are an even number of bytes).
pub const MAX_SYMBOL_SIZE: u16 = u16::MAX - 1;
/// The fewest shards a network can have (`f = 1`).
pub const MIN_SHARDS: u16 = 4;
/// The most shards supported by the Reed-Solomon field (GF(2^16)) for both axes.
pub const MAX_SHARDS: u16 = 32_768;
/// Bytes of a hash or a blob id.
pub const DIGEST_LEN: u64 = 32;

/// The encoding type tag recorded in metadata and hashed into the blob id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum EncodingType {
    /// RedStuff over Reed-Solomon (Walrus's `RS2`, tag 1).
    RedStuffRs2,
}

impl EncodingType {
    /// The byte tag.
    pub const fn tag(self) -> u8 {
        match self {
            EncodingType::RedStuffRs2 => 1,
        }
    }
}

impl From<EncodingType> for u8 {
    fn from(t: EncodingType) -> u8 {
        t.tag()
    }
}

impl TryFrom<u8> for EncodingType {
    type Error = EncodingConfigError;
    fn try_from(v: u8) -> Result<Self, EncodingConfigError> {
        match v {
            1 => Ok(EncodingType::RedStuffRs2),
            other => Err(EncodingConfigError::UnknownEncodingType(other)),
        }
    }
}

/// Invalid encoding parameters or inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodingConfigError {
    /// The shard count is outside `MIN_SHARDS..=MAX_SHARDS`.
    #[error("unsupported shard count {0}: must be between {MIN_SHARDS} and {MAX_SHARDS}")]
    ShardCount(u32),
    /// The blob is larger than the encoding supports at this shard count.
    #[error("blob of {len} bytes exceeds the maximum of {max} bytes for {n_shards} shards")]
    DataTooLarge {
        /// Blob length.
        len: u64,
        /// Maximum blob length.
        max: u64,
        /// Shard count.
        n_shards: u16,
    },
    /// An encoding type tag that this version does not know.
    #[error("unknown encoding type {0} (supported: 1 = RS2)")]
    UnknownEncodingType(u8),
}

/// The encoding parameters of a network with `n_shards` shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncodingConfig {
    n_shards: u16,
    f: u16,
}

impl EncodingConfig {
    /// Parameters for `n_shards` shards (`4 ≤ n ≤ 32768`).
    pub fn new(n_shards: u16) -> Result<Self, EncodingConfigError> {
        if !(MIN_SHARDS..=MAX_SHARDS).contains(&n_shards) {
            return Err(EncodingConfigError::ShardCount(u32::from(n_shards)));
        }
        Ok(Self {
            n_shards,
            f: (n_shards - 1) / 3,
        })
    }

    /// `n`: the number of shards (and of sliver pairs per blob).
    pub const fn n_shards(&self) -> u16 {
        self.n_shards
    }

    /// `n` as usize.
    pub const fn n(&self) -> usize {
        self.n_shards as usize
    }

    /// `f = (n-1)/3`: how many shards may be faulty.
    pub const fn f(&self) -> u16 {
        self.f
    }

    /// `rows = n-2f`: primary source symbols; symbols per secondary sliver; primary slivers
    /// needed to decode.
    pub const fn rows(&self) -> usize {
        (self.n_shards - 2 * self.f) as usize
    }

    /// `cols = n-f`: secondary source symbols; symbols per primary sliver; secondary slivers
    /// needed to decode.
    pub const fn cols(&self) -> usize {
        (self.n_shards - self.f) as usize
    }

    /// Source symbols of a sliver on `axis`, i.e. how many of the *other* axis's symbols rebuild
    /// it: a primary sliver has `cols` symbols, a secondary one `rows`.
    pub const fn sliver_symbols(&self, axis: SliverAxis) -> usize {
        match axis {
            SliverAxis::Primary => self.cols(),
            SliverAxis::Secondary => self.rows(),
        }
    }

    /// How many recovery symbols rebuild a sliver on `axis` (`n-f` primary, `n-2f` secondary).
    pub const fn recovery_symbols_needed(&self, axis: SliverAxis) -> usize {
        self.sliver_symbols(axis)
    }

    /// How many slivers on `axis` decode the whole blob (`rows` primary, `cols` secondary).
    pub const fn slivers_to_decode(&self, axis: SliverAxis) -> usize {
        match axis {
            SliverAxis::Primary => self.rows(),
            SliverAxis::Secondary => self.cols(),
        }
    }

    /// Source symbols in the message matrix.
    pub const fn source_symbols(&self) -> u64 {
        (self.rows() * self.cols()) as u64
    }

    /// The largest blob this configuration encodes: `rows·cols·65534` bytes.
    pub const fn max_blob_size(&self) -> u64 {
        self.source_symbols() * MAX_SYMBOL_SIZE as u64
    }

    /// The symbol size for a blob of `len` bytes: `ceil(max(len,1)/(rows·cols))` rounded up to
    /// even.
    pub fn symbol_size(&self, len: u64) -> Result<u16, EncodingConfigError> {
        let l = len.max(1);
        let s = l.div_ceil(self.source_symbols());
        let s = s + (s & 1);
        if s > u64::from(MAX_SYMBOL_SIZE) {
            return Err(EncodingConfigError::DataTooLarge {
                len,
                max: self.max_blob_size(),
                n_shards: self.n_shards,
            });
        }
        Ok(s as u16)
    }

    /// Bytes of a sliver on `axis` for a blob of `len` bytes.
    pub fn sliver_size(&self, axis: SliverAxis, len: u64) -> Result<usize, EncodingConfigError> {
        Ok(self.sliver_symbols(axis) * usize::from(self.symbol_size(len)?))
    }

    /// The largest sliver on `axis` (at the largest symbol size).
    pub const fn max_sliver_size(&self, axis: SliverAxis) -> usize {
        self.sliver_symbols(axis) * MAX_SYMBOL_SIZE as usize
    }

    /// Bytes of the metadata as charged: `n` hash pairs plus the blob id.
    pub const fn metadata_charged_len(&self) -> u64 {
        self.n_shards as u64 * 2 * DIGEST_LEN + DIGEST_LEN
    }

    /// The encoded length charged for storage: `n · ((rows+cols)·s + n·64 + 32)`.
    pub fn encoded_length(&self, len: u64) -> Result<u64, EncodingConfigError> {
        let s = u64::from(self.symbol_size(len)?);
        let per_shard = (self.rows() + self.cols()) as u64 * s + self.metadata_charged_len();
        Ok(u64::from(self.n_shards) * per_shard)
    }

    /// Whether `weight` shards form a quorum: `3w ≥ 2n+1` ([`Threshold::Quorum`]).
    pub const fn is_quorum(&self, weight: u32) -> bool {
        Threshold::Quorum.reached(weight, self.n_shards)
    }

    /// Whether `weight` shards include at least one correct holder: `3w ≥ n+1`
    /// ([`Threshold::Validity`]).
    pub const fn is_validity(&self, weight: u32) -> bool {
        Threshold::Validity.reached(weight, self.n_shards)
    }

    /// The smallest quorum weight.
    pub const fn quorum_weight(&self) -> u32 {
        Threshold::Quorum.min_weight(self.n_shards)
    }

    /// The smallest validity weight.
    pub const fn validity_weight(&self) -> u32 {
        Threshold::Validity.min_weight(self.n_shards)
    }

    /// All sliver pair indices, `0..n`.
    pub fn pair_indices(&self) -> impl Iterator<Item = SliverPairIndex> + use<> {
        (0..self.n_shards).map(SliverPairIndex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_match_the_reference_table() {
        for (n, f, rows, cols) in [
            (7u16, 2u16, 3usize, 5usize),
            (10, 3, 4, 7),
            (31, 10, 11, 21),
            (100, 33, 34, 67),
            (301, 100, 101, 201),
            (1000, 333, 334, 667),
        ] {
            let c = EncodingConfig::new(n).unwrap();
            assert_eq!((c.f(), c.rows(), c.cols()), (f, rows, cols), "n={n}");
        }
        assert!(EncodingConfig::new(3).is_err());
        assert!(EncodingConfig::new(MAX_SHARDS + 1).is_err());
    }

    #[test]
    fn symbol_size_rule() {
        let c = EncodingConfig::new(1000).unwrap();
        assert_eq!(c.symbol_size(0).unwrap(), 2); // empty blob counts as 1 byte
        assert_eq!(c.symbol_size(1).unwrap(), 2);
        assert_eq!(c.symbol_size(17).unwrap(), 2);
        assert_eq!(c.symbol_size(64 << 20).unwrap(), 302);
        assert_eq!(c.max_blob_size(), 14_599_533_452);
        assert_eq!(c.symbol_size(c.max_blob_size()).unwrap(), MAX_SYMBOL_SIZE);
        assert!(matches!(
            c.symbol_size(c.max_blob_size() + 1),
            Err(EncodingConfigError::DataTooLarge { .. })
        ));
        // 17-byte blob at n=1000: 1000·(1001·2 + 64032) (the reference's sample response).
        assert_eq!(c.encoded_length(17).unwrap(), 66_034_000);
    }

    #[test]
    fn thresholds() {
        let c = EncodingConfig::new(1000).unwrap();
        assert_eq!(c.quorum_weight(), 667);
        assert_eq!(c.validity_weight(), 334);
        assert!(c.is_quorum(667) && !c.is_quorum(666));
        assert!(c.is_validity(334) && !c.is_validity(333));
        let c = EncodingConfig::new(10).unwrap();
        assert_eq!((c.quorum_weight(), c.validity_weight()), (7, 4));
        for w in 0..=10 {
            assert_eq!(c.is_quorum(w), w >= c.quorum_weight());
            assert_eq!(c.is_validity(w), w >= c.validity_weight());
        }
    }

    #[test]
    fn encoding_type_tag() {
        assert_eq!(bcs::to_bytes(&EncodingType::RedStuffRs2).unwrap(), vec![1]);
        assert!(bcs::from_bytes::<EncodingType>(&[0]).is_err());
    }
}
