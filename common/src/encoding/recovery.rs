//! Sliver recovery from other nodes' symbols, and inconsistency proofs.
//!
//! A helper holding sliver `a` on axis `A` expands it to `n` symbols `X[0..n]` and sends `X[t]`
//! for a target sliver `t` on the other axis, with the Merkle proof of leaf `t` against the
//! helper's sliver hash in the metadata:
//!
//! * target primary `i` ← symbols `E[i][j]` from secondary slivers `j`; `n-f` of them decode it;
//! * target secondary `j` ← symbols `E[i][j]` from primary slivers `i`; `n-2f` decode it.
//!
//! If the rebuilt sliver's hash differs from the metadata, the writer encoded the blob
//! inconsistently; the symbols used, with their proofs, are an [`InconsistencyProof`] that anyone
//! holding only the metadata can check.

use serde::{Deserialize, Serialize};

use super::expand::SliverExpander;
use super::metadata::VerifiedBlobMetadata;
use super::{Sliver, SliverAxis};
use crate::config::EncodingConfig;
use crate::erasure::{BatchDecoder, ErasureError};
use crate::hash;
use crate::ids::SliverIndex;
use crate::merkle::{MerkleError, MerkleProof};

/// One symbol of a helper's expanded sliver, for rebuilding a sliver on the other axis.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverySymbol {
    /// Axis of the helper's (source) sliver; the target is on the other axis.
    pub source_axis: SliverAxis,
    /// Index of the helper's sliver.
    pub source_index: SliverIndex,
    /// Index of the target sliver (= the leaf index in the source sliver's tree).
    pub target_index: SliverIndex,
    /// The symbol bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// Proof of leaf `target_index` against the source sliver's hash.
    pub proof: MerkleProof,
}

impl std::fmt::Debug for RecoverySymbol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RecoverySymbol({} {} -> {}, {} bytes)",
            self.source_axis,
            self.source_index,
            self.target_index,
            self.data.len()
        )
    }
}

/// Why recovery failed or a symbol or proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryError {
    /// A symbol for another target or axis.
    #[error("symbol from {source_axis} {source_index} is for another target")]
    WrongTarget {
        /// Its source axis.
        source_axis: SliverAxis,
        /// Its source index.
        source_index: u16,
    },
    /// A symbol of the wrong size or an index out of range.
    #[error("symbol from {source_axis} {source_index} has the wrong size or index")]
    BadSymbol {
        /// Its source axis.
        source_axis: SliverAxis,
        /// Its source index.
        source_index: u16,
    },
    /// A symbol whose Merkle proof fails.
    #[error("symbol from {source_axis} {source_index}: {error}")]
    BadProof {
        /// Its source axis.
        source_axis: SliverAxis,
        /// Its source index.
        source_index: u16,
        /// The proof error.
        error: MerkleError,
    },
    /// Not enough valid, distinct symbols.
    #[error("need {needed} valid symbols from distinct slivers, have {have} ({rejected} rejected)")]
    NotEnoughSymbols {
        /// Needed.
        needed: usize,
        /// Valid and distinct.
        have: usize,
        /// Refused as invalid.
        rejected: usize,
    },
    /// The proof's rebuilt sliver matches the metadata: the blob is not inconsistent.
    #[error("the rebuilt sliver matches the metadata: no inconsistency")]
    NotInconsistent,
    /// Reed-Solomon failure.
    #[error(transparent)]
    Erasure(#[from] ErasureError),
}

impl RecoverySymbol {
    /// Checks the symbol's size, indices and proof for a target on `target_axis`.
    pub fn verify(
        &self,
        config: &EncodingConfig,
        metadata: &VerifiedBlobMetadata,
        target_axis: SliverAxis,
        target_index: SliverIndex,
    ) -> Result<(), RecoveryError> {
        let (sa, si) = (self.source_axis, self.source_index.0);
        if sa != target_axis.other() || self.target_index != target_index {
            return Err(RecoveryError::WrongTarget {
                source_axis: sa,
                source_index: si,
            });
        }
        let s = config
            .symbol_size(metadata.unencoded_length())
            .map_err(|_| RecoveryError::BadSymbol {
                source_axis: sa,
                source_index: si,
            })?;
        let root = metadata.sliver_hash(sa, self.source_index);
        let (Some(root), true) = (root, self.data.len() == usize::from(s)) else {
            return Err(RecoveryError::BadSymbol {
                source_axis: sa,
                source_index: si,
            });
        };
        self.proof
            .verify(
                &root,
                &hash::leaf(&self.data),
                target_index.as_usize(),
                config.n(),
            )
            .map_err(|error| RecoveryError::BadProof {
                source_axis: sa,
                source_index: si,
                error,
            })
    }
}

/// Symbols of a helper's sliver for each of `targets` (indices on the other axis), with proofs.
pub fn recovery_symbols(
    expander: &mut SliverExpander,
    sliver: &Sliver,
    targets: &[SliverIndex],
) -> Result<Vec<RecoverySymbol>, ErasureError> {
    let s = expander.symbol_size();
    let (tree, expanded) = expander.tree(sliver.axis, &sliver.data)?;
    let n = tree.leaves();
    targets
        .iter()
        .map(|&t| {
            let ti = t.as_usize();
            if ti >= n {
                return Err(ErasureError::BadSymbol {
                    index: ti,
                    len: 0,
                    k: 0,
                    n,
                    size: s,
                });
            }
            Ok(RecoverySymbol {
                source_axis: sliver.axis,
                source_index: sliver.index,
                target_index: t,
                data: expanded[ti * s..(ti + 1) * s].to_vec(),
                proof: tree.proof(ti).expect("index checked"),
            })
        })
        .collect()
}

/// The result of a recovery attempt.
#[derive(Debug, Clone)]
pub enum RecoveryOutcome {
    /// The sliver, verified against the metadata.
    Recovered(Sliver),
    /// The symbols were valid but rebuild a sliver that does not match the metadata.
    Inconsistent(InconsistencyProof),
}

/// Valid, distinct symbols for the target, and how many were refused.
fn select_symbols(
    config: &EncodingConfig,
    metadata: &VerifiedBlobMetadata,
    target_axis: SliverAxis,
    target_index: SliverIndex,
    symbols: Vec<RecoverySymbol>,
) -> (Vec<RecoverySymbol>, usize) {
    let needed = config.recovery_symbols_needed(target_axis);
    let mut seen = vec![false; config.n()];
    let mut good = Vec::with_capacity(needed);
    let mut rejected = 0;
    for sym in symbols {
        if good.len() == needed {
            break;
        }
        if sym
            .verify(config, metadata, target_axis, target_index)
            .is_err()
        {
            rejected += 1;
            continue;
        }
        let si = sym.source_index.as_usize();
        if !std::mem::replace(&mut seen[si], true) {
            good.push(sym);
        }
    }
    (good, rejected)
}

/// Decodes the target sliver from exactly `needed` symbols `(source index, bytes)`.
fn rebuild<'a>(
    config: &EncodingConfig,
    s: usize,
    target_axis: SliverAxis,
    symbols: impl Iterator<Item = (usize, &'a [u8])>,
) -> Result<Vec<u8>, ErasureError> {
    let k = config.recovery_symbols_needed(target_axis);
    let mut out = vec![0u8; k * s];
    BatchDecoder::new(k, config.n(), s).decode(1, symbols, &mut out)?;
    Ok(out)
}

/// Rebuilds sliver `target_index` on `target_axis` from symbols that carry no proofs, and
/// keeps it only if its hash matches the metadata: `Ok(Some(sliver))` is as trustworthy as a
/// proven recovery, `Ok(None)` means some symbol was wrong or the encoding is inconsistent
/// (recover again with proofs to tell which). `symbols` are `(source index, bytes)` from
/// distinct sources; exactly the needed number (`n-f` or `n-2f`) is used.
///
/// This saves the proofs' bytes on the common path, where every helper is honest: for a
/// 1 MiB blob at 100 shards the proofs would add about half a sliver pair to the traffic.
pub fn recover_unproven(
    config: &EncodingConfig,
    metadata: &VerifiedBlobMetadata,
    target_axis: SliverAxis,
    target_index: SliverIndex,
    symbols: &[(SliverIndex, &[u8])],
) -> Result<Option<Sliver>, RecoveryError> {
    let needed = config.recovery_symbols_needed(target_axis);
    let symbol_size = config
        .symbol_size(metadata.unencoded_length())
        .expect("verified metadata");
    let s = usize::from(symbol_size);
    let mut seen = vec![false; config.n()];
    let mut chosen = Vec::with_capacity(needed);
    for (i, data) in symbols {
        if chosen.len() == needed {
            break;
        }
        let ok = i.as_usize() < config.n() && data.len() == s;
        if ok && !std::mem::replace(&mut seen[i.as_usize()], true) {
            chosen.push((i.as_usize(), *data));
        }
    }
    if chosen.len() < needed || target_index.as_usize() >= config.n() {
        return Err(RecoveryError::NotEnoughSymbols {
            needed,
            have: chosen.len(),
            rejected: symbols.len() - chosen.len(),
        });
    }
    let data = rebuild(config, s, target_axis, chosen.into_iter())?;
    let expected = metadata
        .sliver_hash(target_axis, target_index)
        .expect("index checked");
    let root = SliverExpander::new(*config, symbol_size).root(target_axis, &data)?;
    Ok((root == expected).then_some(Sliver {
        axis: target_axis,
        index: target_index,
        symbol_size,
        data,
    }))
}

/// Rebuilds sliver `target_index` on `target_axis` from recovery symbols. Invalid symbols are
/// skipped; recovery needs `n-f` (primary) or `n-2f` (secondary) valid ones from distinct
/// helpers.
pub fn recover_sliver(
    config: &EncodingConfig,
    metadata: &VerifiedBlobMetadata,
    target_axis: SliverAxis,
    target_index: SliverIndex,
    symbols: Vec<RecoverySymbol>,
) -> Result<RecoveryOutcome, RecoveryError> {
    let needed = config.recovery_symbols_needed(target_axis);
    let (good, rejected) = select_symbols(config, metadata, target_axis, target_index, symbols);
    if good.len() < needed {
        return Err(RecoveryError::NotEnoughSymbols {
            needed,
            have: good.len(),
            rejected,
        });
    }
    let symbol_size = config
        .symbol_size(metadata.unencoded_length())
        .expect("verified metadata");
    let data = rebuild(
        config,
        usize::from(symbol_size),
        target_axis,
        good.iter()
            .map(|sym| (sym.source_index.as_usize(), sym.data.as_slice())),
    )?;
    let expected = metadata
        .sliver_hash(target_axis, target_index)
        .expect("index verified");
    let root = SliverExpander::new(*config, symbol_size).root(target_axis, &data)?;
    if root == expected {
        Ok(RecoveryOutcome::Recovered(Sliver {
            axis: target_axis,
            index: target_index,
            symbol_size,
            data,
        }))
    } else {
        Ok(RecoveryOutcome::Inconsistent(InconsistencyProof {
            target_axis,
            target_index,
            symbols: good,
        }))
    }
}

/// Proof that a blob's encoding is inconsistent: valid recovery symbols that rebuild a sliver
/// whose hash differs from the metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InconsistencyProof {
    /// Axis of the target sliver.
    pub target_axis: SliverAxis,
    /// Index of the target sliver.
    pub target_index: SliverIndex,
    /// Exactly the number of symbols that rebuild the target, each with its proof.
    pub symbols: Vec<RecoverySymbol>,
}

impl InconsistencyProof {
    /// The largest BCS encoding of a proof (its decode limit): `n` symbols of the largest size,
    /// each with a path of `ceil(log2 n)` nodes, plus framing.
    pub fn max_encoded_len(config: &EncodingConfig) -> usize {
        let path = crate::merkle::depth(config.n()) * 33 + 3;
        let per_symbol = 1 + 2 + 2 + 3 + usize::from(crate::config::MAX_SYMBOL_SIZE) + path;
        16 + config.n() * per_symbol
    }

    /// Checks the proof with only the metadata: every symbol is valid and from a distinct
    /// helper, there are exactly as many as rebuild the target, and the rebuilt sliver's hash
    /// differs from the metadata.
    pub fn verify(
        &self,
        config: &EncodingConfig,
        metadata: &VerifiedBlobMetadata,
    ) -> Result<(), RecoveryError> {
        let needed = config.recovery_symbols_needed(self.target_axis);
        if self.target_index.as_usize() >= config.n() || self.symbols.len() != needed {
            return Err(RecoveryError::NotEnoughSymbols {
                needed,
                have: self.symbols.len(),
                rejected: 0,
            });
        }
        let mut seen = vec![false; config.n()];
        for sym in &self.symbols {
            sym.verify(config, metadata, self.target_axis, self.target_index)?;
            if std::mem::replace(&mut seen[sym.source_index.as_usize()], true) {
                return Err(RecoveryError::NotEnoughSymbols {
                    needed,
                    have: 0,
                    rejected: 1,
                });
            }
        }
        let s = config
            .symbol_size(metadata.unencoded_length())
            .expect("verified metadata");
        let data = rebuild(
            config,
            usize::from(s),
            self.target_axis,
            self.symbols
                .iter()
                .map(|sym| (sym.source_index.as_usize(), sym.data.as_slice())),
        )?;
        let root = SliverExpander::new(*config, s).root(self.target_axis, &data)?;
        if Some(root) == metadata.sliver_hash(self.target_axis, self.target_index) {
            return Err(RecoveryError::NotInconsistent);
        }
        Ok(())
    }
}
