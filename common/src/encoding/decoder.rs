//! Slivers → blob, with consistency checks.
//!
//! * From `rows` primary slivers: each column `j < cols` is decoded with RS(`rows` → `n`) from
//!   the received symbols `E[i][j]`. If primary slivers `0..rows` are all present the blob is
//!   simply their concatenation (systematic fast path).
//! * From `cols` secondary slivers: each row `r < rows` is decoded with RS(`cols` → `n`).
//!
//! The input slivers must already be verified against the metadata
//! ([`super::SliverExpander::verify`]). Consistency checks then decide whether the blob is
//! well-formed:
//!
//! * `Default`: every systematic sliver of the decoding axis that was *not* received is rebuilt
//!   from the decoded bytes and its hash compared with the metadata. Two readers that pass it
//!   return identical bytes.
//! * `Strict`: the decoded blob is re-encoded and its blob id compared.
//! * `Skip`: no check.
//!
//! An inconsistent blob yields [`DecodeError::InvalidBlob`], never bytes.

use super::expand::SliverExpander;
use super::metadata::VerifiedBlobMetadata;
use super::{Sliver, SliverAxis, encode_blob};
use crate::config::EncodingConfig;
use crate::erasure::{BatchDecoder, ErasureError};

/// Which consistency check to run after decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsistencyCheck {
    /// Rebuild the systematic slivers not received and compare their hashes.
    #[default]
    Default,
    /// Re-encode the whole blob and compare the blob id.
    Strict,
    /// No check (only for callers that verify otherwise).
    Skip,
}

/// Decoding failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer distinct slivers than needed.
    #[error("need {needed} distinct {axis} slivers, have {have}")]
    NotEnoughSlivers {
        /// Axis.
        axis: SliverAxis,
        /// Needed.
        needed: usize,
        /// Distinct slivers supplied.
        have: usize,
    },
    /// The slivers are not all of one axis or do not fit the metadata.
    #[error("sliver {index} ({axis}) does not fit this blob: {reason}")]
    BadSliver {
        /// Axis.
        axis: SliverAxis,
        /// Index.
        index: u16,
        /// Why.
        reason: String,
    },
    /// The blob was encoded inconsistently: it has no well-defined content.
    #[error("blob is invalid: its encoding is inconsistent")]
    InvalidBlob,
    /// Reed-Solomon failure.
    #[error(transparent)]
    Erasure(#[from] ErasureError),
}

/// Decodes a blob from verified slivers of one axis.
pub fn decode_blob(
    config: &EncodingConfig,
    metadata: &VerifiedBlobMetadata,
    slivers: &[Sliver],
    check: ConsistencyCheck,
) -> Result<Vec<u8>, DecodeError> {
    let Some(first) = slivers.first() else {
        return Err(DecodeError::NotEnoughSlivers {
            axis: SliverAxis::Primary,
            needed: config.rows(),
            have: 0,
        });
    };
    let axis = first.axis;
    let len = metadata.unencoded_length();
    let s = usize::from(
        config
            .symbol_size(len)
            .map_err(|e| DecodeError::BadSliver {
                axis,
                index: first.index.0,
                reason: e.to_string(),
            })?,
    );
    let n = config.n();
    let needed = config.slivers_to_decode(axis);
    // Distinct slivers of the right shape, by index.
    let mut by_index: Vec<Option<&Sliver>> = vec![None; n];
    for sl in slivers {
        super::expand::check_shape(config, sl, len).map_err(|e| DecodeError::BadSliver {
            axis: sl.axis,
            index: sl.index.0,
            reason: e.to_string(),
        })?;
        if sl.axis != axis {
            return Err(DecodeError::BadSliver {
                axis: sl.axis,
                index: sl.index.0,
                reason: format!("mixed axes: expected {axis}"),
            });
        }
        by_index[sl.index.as_usize()].get_or_insert(sl);
    }
    let chosen: Vec<&Sliver> = by_index.iter().flatten().copied().take(needed).collect();
    if chosen.len() < needed {
        return Err(DecodeError::NotEnoughSlivers {
            axis,
            needed,
            have: chosen.len(),
        });
    }
    let (rows, cols) = (config.rows(), config.cols());
    let mut blob = vec![0u8; rows * cols * s];
    // `needed` = number of source symbols per decoded line; `lines` = lines to decode.
    let systematic = chosen.iter().all(|sl| sl.index.as_usize() < needed);
    match axis {
        SliverAxis::Primary if systematic => {
            for sl in &chosen {
                let r = sl.index.as_usize();
                blob[r * cols * s..(r + 1) * cols * s].copy_from_slice(&sl.data);
            }
        }
        SliverAxis::Primary => {
            // Columns j..j+m: symbols E[i][j..j+m] from primary slivers i → E[0..rows][j..j+m],
            // decoded as one batch; row r of the batch lands in blob row r at column j.
            let mut dec = BatchDecoder::new(rows, n, s);
            let mut out = vec![0u8; rows * dec.batch() * s];
            for j in (0..cols).step_by(dec.batch()) {
                let m = dec.batch().min(cols - j);
                let out = &mut out[..rows * m * s];
                dec.decode(
                    m,
                    chosen
                        .iter()
                        .map(|sl| (sl.index.as_usize(), &sl.data[j * s..(j + m) * s])),
                    out,
                )?;
                for (r, line) in out.chunks_exact(m * s).enumerate() {
                    let off = (r * cols + j) * s;
                    blob[off..off + m * s].copy_from_slice(line);
                }
            }
        }
        SliverAxis::Secondary if systematic => {
            for sl in &chosen {
                let j = sl.index.as_usize();
                for (r, sym) in sl.data.chunks_exact(s).enumerate() {
                    let off = (r * cols + j) * s;
                    blob[off..off + s].copy_from_slice(sym);
                }
            }
        }
        SliverAxis::Secondary => {
            // Rows r..r+m: symbols E[r..r+m][j] from secondary slivers j → E[r..r+m][0..cols].
            let mut dec = BatchDecoder::new(cols, n, s);
            let mut out = vec![0u8; cols * dec.batch() * s];
            for r in (0..rows).step_by(dec.batch()) {
                let m = dec.batch().min(rows - r);
                let out = &mut out[..cols * m * s];
                dec.decode(
                    m,
                    chosen
                        .iter()
                        .map(|sl| (sl.index.as_usize(), &sl.data[r * s..(r + m) * s])),
                    out,
                )?;
                for (i, col) in out.chunks_exact(m * s).enumerate() {
                    for (q, sym) in col.chunks_exact(s).enumerate() {
                        let off = ((r + q) * cols + i) * s;
                        blob[off..off + s].copy_from_slice(sym);
                    }
                }
            }
        }
    }

    match check {
        ConsistencyCheck::Skip => {}
        ConsistencyCheck::Default => {
            let mut expander = SliverExpander::new(*config, s as u16);
            let mut line = vec![
                0u8;
                if axis == SliverAxis::Primary {
                    cols * s
                } else {
                    rows * s
                }
            ];
            for idx in 0..needed {
                if by_index[idx].is_some() {
                    continue; // received and verified
                }
                let data: &[u8] = match axis {
                    SliverAxis::Primary => &blob[idx * cols * s..(idx + 1) * cols * s],
                    SliverAxis::Secondary => {
                        for r in 0..rows {
                            let off = (r * cols + idx) * s;
                            line[r * s..(r + 1) * s].copy_from_slice(&blob[off..off + s]);
                        }
                        &line
                    }
                };
                let root = expander.root(axis, data)?;
                let expected = metadata
                    .sliver_hash(axis, crate::ids::SliverIndex(idx as u16))
                    .expect("index < n");
                if root != expected {
                    return Err(DecodeError::InvalidBlob);
                }
            }
        }
        ConsistencyCheck::Strict => {
            blob.truncate(len as usize);
            let re = encode_blob(config, &blob).map_err(|_| DecodeError::InvalidBlob)?;
            if re.blob_id() != metadata.blob_id() {
                return Err(DecodeError::InvalidBlob);
            }
            return Ok(blob);
        }
    }
    blob.truncate(len as usize);
    Ok(blob)
}
