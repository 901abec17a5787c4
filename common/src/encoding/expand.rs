//! Expanding a sliver to its `n` symbols, hashing it, and verifying it against metadata.

use super::{Sliver, SliverAxis, VerifiedBlobMetadata};
use crate::config::EncodingConfig;
use crate::erasure::{ErasureError, RsEncoder};
use crate::hash::{self, Digest, Hash};
use crate::merkle::{self, MerkleTree};

/// A sliver that does not belong to the blob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SliverError {
    /// Index beyond the shard count.
    #[error("sliver index {index} out of range for {n} shards")]
    IndexOutOfRange {
        /// The index.
        index: u16,
        /// Shards.
        n: u16,
    },
    /// The symbol size differs from the one the blob's length implies.
    #[error("symbol size {got}, the blob's length implies {expected}")]
    WrongSymbolSize {
        /// Sent.
        got: u16,
        /// Expected.
        expected: u16,
    },
    /// The byte length differs from the expected sliver size.
    #[error("sliver of {got} bytes, expected {expected}")]
    WrongSize {
        /// Sent.
        got: usize,
        /// Expected.
        expected: usize,
    },
    /// The sliver's Merkle root differs from the metadata.
    #[error("{axis} sliver {index} does not match the metadata hash")]
    HashMismatch {
        /// Axis.
        axis: SliverAxis,
        /// Index.
        index: u16,
    },
}

/// Expands slivers of one blob size; keeps encoders and buffers between calls.
pub struct SliverExpander {
    config: EncodingConfig,
    s: usize,
    /// RS(cols → n), expands primary slivers.
    primary: Option<RsEncoder>,
    /// RS(rows → n), expands secondary slivers.
    secondary: Option<RsEncoder>,
    expanded: Vec<u8>,
    leaves: Vec<Hash>,
    scratch: Vec<Hash>,
}

impl SliverExpander {
    /// An expander for `symbol_size`-byte symbols.
    pub fn new(config: EncodingConfig, symbol_size: u16) -> Self {
        let s = usize::from(symbol_size);
        Self {
            config,
            s,
            primary: None,
            secondary: None,
            expanded: Vec::new(),
            leaves: vec![[0; 32]; config.n()],
            scratch: Vec::new(),
        }
    }

    /// The symbol size.
    pub fn symbol_size(&self) -> usize {
        self.s
    }

    /// Expands a sliver's symbols on `axis` to all `n` symbols (`n·s` bytes).
    pub fn expand(&mut self, axis: SliverAxis, data: &[u8]) -> Result<&[u8], ErasureError> {
        let (n, s) = (self.config.n(), self.s);
        let k = self.config.sliver_symbols(axis);
        if data.len() != k * s {
            return Err(ErasureError::BadSymbol {
                index: 0,
                len: data.len(),
                k,
                n,
                size: s,
            });
        }
        let enc = match axis {
            SliverAxis::Primary => &mut self.primary,
            SliverAxis::Secondary => &mut self.secondary,
        };
        if enc.is_none() {
            *enc = Some(RsEncoder::new(k, n, s)?);
        }
        let enc = enc.as_mut().expect("just created");
        // Filled by appending (source, then recovery symbols in order): no zeroing pass over
        // a buffer about as large as the expanded sliver.
        let expanded = &mut self.expanded;
        expanded.clear();
        expanded.reserve(n * s);
        expanded.extend_from_slice(data);
        if let Err(e) = enc.encode(data.chunks_exact(s), |_, sym| {
            expanded.extend_from_slice(sym)
        }) {
            expanded.clear();
            return Err(e);
        }
        debug_assert_eq!(expanded.len(), n * s, "n - k recovery symbols of s bytes");
        Ok(&self.expanded)
    }

    /// Expands and hashes the leaves; returns the leaf hashes.
    fn expand_leaves(&mut self, axis: SliverAxis, data: &[u8]) -> Result<&[Hash], ErasureError> {
        self.expand(axis, data)?;
        hash::leaves(&self.expanded, self.s, &mut self.leaves);
        Ok(&self.leaves)
    }

    /// The sliver hash: the Merkle root over its expanded symbols.
    pub fn root(&mut self, axis: SliverAxis, data: &[u8]) -> Result<Digest, ErasureError> {
        self.expand_leaves(axis, data)?;
        Ok(merkle::root_of_hashes(&self.leaves, &mut self.scratch))
    }

    /// The full tree over the expanded symbols, and the expanded bytes, to serve recovery
    /// symbols with proofs.
    pub fn tree(
        &mut self,
        axis: SliverAxis,
        data: &[u8],
    ) -> Result<(MerkleTree, &[u8]), ErasureError> {
        let leaves = self.expand_leaves(axis, data)?.to_vec();
        Ok((MerkleTree::from_leaf_hashes(leaves), &self.expanded))
    }

    /// Checks a sliver against verified metadata: index, symbol size, length and hash.
    pub fn verify(
        &mut self,
        sliver: &Sliver,
        metadata: &VerifiedBlobMetadata,
    ) -> Result<(), SliverError> {
        check_shape(&self.config, sliver, metadata.unencoded_length())?;
        if usize::from(sliver.symbol_size) != self.s {
            return Err(SliverError::WrongSymbolSize {
                got: sliver.symbol_size,
                expected: self.s as u16,
            });
        }
        let expected = metadata.sliver_hash(sliver.axis, sliver.index).ok_or(
            SliverError::IndexOutOfRange {
                index: sliver.index.0,
                n: self.config.n_shards(),
            },
        )?;
        let root = self
            .root(sliver.axis, &sliver.data)
            .map_err(|_| SliverError::WrongSize {
                got: sliver.data.len(),
                expected: 0,
            })?;
        if root != expected {
            return Err(SliverError::HashMismatch {
                axis: sliver.axis,
                index: sliver.index.0,
            });
        }
        Ok(())
    }
}

/// Index, symbol size and length checks that need no hashing.
pub(crate) fn check_shape(
    config: &EncodingConfig,
    sliver: &Sliver,
    len: u64,
) -> Result<(), SliverError> {
    let n = config.n_shards();
    if sliver.index.0 >= n {
        return Err(SliverError::IndexOutOfRange {
            index: sliver.index.0,
            n,
        });
    }
    let expected_s = config
        .symbol_size(len)
        .map_err(|_| SliverError::WrongSymbolSize {
            got: sliver.symbol_size,
            expected: 0,
        })?;
    if sliver.symbol_size != expected_s {
        return Err(SliverError::WrongSymbolSize {
            got: sliver.symbol_size,
            expected: expected_s,
        });
    }
    let expected = config.sliver_symbols(sliver.axis) * usize::from(expected_s);
    if sliver.data.len() != expected {
        return Err(SliverError::WrongSize {
            got: sliver.data.len(),
            expected,
        });
    }
    Ok(())
}

impl Sliver {
    /// Checks this sliver against verified metadata (one-off; use [`SliverExpander`] for many).
    pub fn verify(
        &self,
        config: &EncodingConfig,
        metadata: &VerifiedBlobMetadata,
    ) -> Result<(), SliverError> {
        // Size the expander from the metadata, never from the sliver's own claim.
        let s = config
            .symbol_size(metadata.unencoded_length())
            .map_err(|_| SliverError::WrongSymbolSize {
                got: self.symbol_size,
                expected: 0,
            })?;
        // One expander per thread, reused while the shape stays the same: a node verifying
        // slivers back to back allocates its encoder and buffers once, not per sliver.
        thread_local! {
            static EXPANDER: std::cell::RefCell<Option<SliverExpander>> =
                const { std::cell::RefCell::new(None) };
        }
        EXPANDER.with(|cell| {
            let mut slot = cell.borrow_mut();
            let reusable = slot
                .as_ref()
                .is_some_and(|e| e.config == *config && e.s == usize::from(s));
            if !reusable {
                *slot = Some(SliverExpander::new(*config, s));
            }
            let result = slot.as_mut().expect("just set").verify(self, metadata);
            if result.is_err() {
                // Whatever a bad sliver did to the encoder's state is not kept.
                *slot = None;
            }
            result
        })
    }
}
