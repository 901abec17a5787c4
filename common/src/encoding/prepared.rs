//! Encoding for upload with bounded memory: [`PreparedBlob`].
//!
//! [`super::encode_blob`] returns every sliver at once, about 4.4× the blob at 100 shards. A
//! writer that uploads node by node needs far less: two thirds of that is a re-arrangement of
//! the blob's own bytes (primary slivers `0..rows` are its rows, secondary slivers `0..cols` its
//! columns), which can be copied out when a sliver is sent. [`prepare`] computes the metadata
//! (every sliver hash, so the blob id) and keeps only the secondary parity slivers (≈0.5×) and
//! the primary parity slivers it is asked to keep; [`PreparedBlob::compute_primary`] computes
//! other primary parity slivers later (one more pass of column expansions, without hashing),
//! once the first ones were sent and dropped. [`PreparedBlob::take`] hands out each sliver once:
//! systematic ones are copied from the blob, parity ones moved out.
//!
//! [`super::encode_blob`] is this pass with every primary parity sliver kept; the conformance
//! vectors in `common/tests` pin its output. A test checks that slivers computed in groups
//! ([`PreparedBlob::compute_primary`]) are the same bytes as those of one pass.

use super::jobs::run_jobs;
use super::metadata::{BlobMetadata, SliverPairHashes, VerifiedBlobMetadata, derive_blob_id};
use super::{Sliver, SliverAxis};
use crate::config::{EncodingConfig, EncodingConfigError, EncodingType};
use crate::erasure::RsEncoder;
use crate::hash::{self, Digest, Hash};
use crate::ids::{SliverIndex, SliverPairIndex};
use crate::merkle::{LockstepRoots, root_of_hashes};

/// Columns per job; a power of two so that job results combine into the row trees.
const COL_CHUNK: usize = 32;
/// Rows per row-expansion job.
const ROW_CHUNK: usize = 16;

/// A blob's metadata and the parity it takes to hand out its slivers one by one.
pub struct PreparedBlob<'a> {
    config: EncodingConfig,
    s: usize,
    rows: BlobRows<'a>,
    metadata: VerifiedBlobMetadata,
    /// Secondary slivers `cols..n` (`None` once taken).
    secondary_parity: Vec<Option<Vec<u8>>>,
    /// Primary slivers `rows..n` (`None` until computed, or once taken).
    primary_parity: Vec<Option<Vec<u8>>>,
    threads: usize,
}

/// The blob as `rows` rows of `cols·s` bytes, zero-padded, without copying the full rows.
struct BlobRows<'a> {
    blob: &'a [u8],
    row_bytes: usize,
    full: usize,
    tail: Vec<u8>,
}

impl<'a> BlobRows<'a> {
    fn new(blob: &'a [u8], rows: usize, row_bytes: usize) -> Self {
        let full = (blob.len() / row_bytes).min(rows);
        let mut tail = vec![0u8; (rows - full) * row_bytes];
        let rest = &blob[full * row_bytes..];
        tail[..rest.len()].copy_from_slice(rest);
        BlobRows {
            blob,
            row_bytes,
            full,
            tail,
        }
    }

    fn row(&self, r: usize) -> &[u8] {
        if r < self.full {
            &self.blob[r * self.row_bytes..(r + 1) * self.row_bytes]
        } else {
            let t = r - self.full;
            &self.tail[t * self.row_bytes..(t + 1) * self.row_bytes]
        }
    }
}

/// Prepares `blob` for upload: computes its metadata, keeps the secondary parity and the primary
/// parity slivers `i` (`i ≥ rows`) for which `keep(i)` holds.
pub fn prepare<'a>(
    config: &EncodingConfig,
    blob: &'a [u8],
    threads: usize,
    keep: impl Fn(SliverIndex) -> bool,
) -> Result<PreparedBlob<'a>, EncodingConfigError> {
    let len = blob.len() as u64;
    let s = usize::from(config.symbol_size(len)?);
    let (n, rows, cols) = (config.n(), config.rows(), config.cols());
    let blob_rows = BlobRows::new(blob, rows, cols * s);

    // 1. Row expansion into the secondary parity slivers (symbol r of slivers cols..n).
    let mut secondary_parity: Vec<Vec<u8>> = vec![vec![0u8; rows * s]; n - cols];
    {
        let mut pieces: Vec<_> = secondary_parity
            .iter_mut()
            .map(|v| v.chunks_mut(ROW_CHUNK * s))
            .collect();
        let jobs: Vec<(usize, Vec<&mut [u8]>)> = (0..rows.div_ceil(ROW_CHUNK))
            .map(|c| {
                let out = pieces
                    .iter_mut()
                    .map(|it| it.next().expect("one piece per chunk"))
                    .collect();
                (c, out)
            })
            .collect();
        let blob_rows = &blob_rows;
        run_jobs(
            jobs,
            threads,
            || RsEncoder::new(cols, n, s).expect("valid code parameters"),
            |enc, (c, mut out)| {
                let first = c * ROW_CHUNK;
                for r in first..(first + ROW_CHUNK).min(rows) {
                    let local = (r - first) * s;
                    enc.encode(blob_rows.row(r).chunks_exact(s), |t, sym| {
                        out[t][local..local + s].copy_from_slice(sym);
                    })
                    .expect("sizes checked");
                }
            },
        );
    }

    // 2. Column expansion and hashing of all n columns; keep the wanted primary parity.
    let mut primary_parity: Vec<Vec<u8>> = (rows..n)
        .map(|i| {
            if keep(SliverIndex(i as u16)) {
                vec![0u8; cols * s]
            } else {
                Vec::new()
            }
        })
        .collect();
    let col_results = {
        let mut pieces: Vec<_> = primary_parity
            .iter_mut()
            .map(|v| v.chunks_mut(COL_CHUNK * s))
            .collect();
        let jobs: Vec<(usize, Vec<Option<&mut [u8]>>)> = (0..n.div_ceil(COL_CHUNK))
            .map(|c| (c, pieces.iter_mut().map(Iterator::next).collect()))
            .collect();
        let (blob_rows, secondary_parity) = (&blob_rows, &secondary_parity);
        run_jobs(
            jobs,
            threads,
            || Columns::new(rows, n, s),
            |st, (c, mut out)| {
                let mut lockstep = LockstepRoots::new(n);
                let mut col_roots = Vec::with_capacity(COL_CHUNK);
                let first = c * COL_CHUNK;
                for j in first..(first + COL_CHUNK).min(n) {
                    let column: &[u8] = if j < cols {
                        st.gather(blob_rows, j);
                        &st.column
                    } else {
                        &secondary_parity[j - cols]
                    };
                    let rec = &mut st.rec;
                    st.enc
                        .encode(column.chunks_exact(s), |t, sym| {
                            rec[t * s..(t + 1) * s].copy_from_slice(sym);
                        })
                        .expect("sizes checked");
                    if j < cols {
                        let local = (j - first) * s;
                        for (t, dst) in out.iter_mut().enumerate() {
                            if let Some(dst) = dst {
                                dst[local..local + s].copy_from_slice(&rec[t * s..(t + 1) * s]);
                            }
                        }
                    }
                    let mut leaves: Vec<Hash> = vec![[0; 32]; n];
                    hash::leaves(column, s, &mut leaves[..rows]);
                    hash::leaves(rec, s, &mut leaves[rows..]);
                    col_roots.push(root_of_hashes(&leaves, &mut st.scratch));
                    lockstep.push(leaves);
                }
                (col_roots, lockstep)
            },
        )
    };
    let mut row_trees = LockstepRoots::new(n);
    let mut col_roots: Vec<Digest> = Vec::with_capacity(n);
    for (roots, lockstep) in col_results {
        col_roots.extend(roots);
        row_trees.append(lockstep);
    }
    let row_roots = row_trees.finish();
    let metadata = BlobMetadata {
        encoding_type: EncodingType::RedStuffRs2,
        unencoded_length: len,
        hashes: (0..n)
            .map(|p| SliverPairHashes {
                primary: row_roots[p],
                secondary: col_roots[n - 1 - p],
            })
            .collect(),
    };
    let blob_id = derive_blob_id(metadata.encoding_type, len, &metadata.root());
    Ok(PreparedBlob {
        config: *config,
        s,
        rows: blob_rows,
        metadata: VerifiedBlobMetadata::new_trusted(blob_id, metadata),
        secondary_parity: secondary_parity.into_iter().map(Some).collect(),
        primary_parity: primary_parity
            .into_iter()
            .map(|v| (!v.is_empty()).then_some(v))
            .collect(),
        threads,
    })
}

/// Per-job state of the column pass.
struct Columns {
    enc: RsEncoder,
    column: Vec<u8>,
    rec: Vec<u8>,
    scratch: Vec<Hash>,
    s: usize,
}

impl Columns {
    fn new(rows: usize, n: usize, s: usize) -> Self {
        Columns {
            enc: RsEncoder::new(rows, n, s).expect("valid code parameters"),
            column: vec![0; rows * s],
            rec: vec![0; (n - rows) * s],
            scratch: Vec::new(),
            s,
        }
    }

    /// Copies blob column `j` into `self.column`.
    fn gather(&mut self, rows: &BlobRows<'_>, j: usize) {
        let s = self.s;
        for (r, dst) in self.column.chunks_exact_mut(s).enumerate() {
            dst.copy_from_slice(&rows.row(r)[j * s..(j + 1) * s]);
        }
    }
}

impl PreparedBlob<'_> {
    /// The metadata (with the blob id).
    pub fn metadata(&self) -> &VerifiedBlobMetadata {
        &self.metadata
    }

    /// Computes the primary parity slivers `wanted` (indices `≥ rows` not yet computed): one
    /// column-expansion pass over the blob's columns, without hashing.
    pub fn compute_primary(&mut self, wanted: &[SliverIndex]) {
        let (n, rows, cols, s) = (
            self.config.n(),
            self.config.rows(),
            self.config.cols(),
            self.s,
        );
        let mut slots: Vec<Vec<u8>> = (rows..n)
            .map(|i| {
                let want = wanted.contains(&SliverIndex(i as u16))
                    && self.primary_parity[i - rows].is_none();
                if want {
                    vec![0u8; cols * s]
                } else {
                    Vec::new()
                }
            })
            .collect();
        {
            let mut pieces: Vec<_> = slots
                .iter_mut()
                .map(|v| v.chunks_mut(COL_CHUNK * s))
                .collect();
            let jobs: Vec<(usize, Vec<Option<&mut [u8]>>)> = (0..cols.div_ceil(COL_CHUNK))
                .map(|c| (c, pieces.iter_mut().map(Iterator::next).collect()))
                .collect();
            let blob_rows = &self.rows;
            run_jobs(
                jobs,
                self.threads,
                || Columns::new(rows, n, s),
                |st, (c, mut out)| {
                    let first = c * COL_CHUNK;
                    for j in first..(first + COL_CHUNK).min(cols) {
                        st.gather(blob_rows, j);
                        let (column, rec) = (&st.column, &mut st.rec);
                        st.enc
                            .encode(column.chunks_exact(s), |t, sym| {
                                rec[t * s..(t + 1) * s].copy_from_slice(sym);
                            })
                            .expect("sizes checked");
                        let local = (j - first) * s;
                        for (t, dst) in out.iter_mut().enumerate() {
                            if let Some(dst) = dst {
                                dst[local..local + s].copy_from_slice(&st.rec[t * s..(t + 1) * s]);
                            }
                        }
                    }
                },
            );
        }
        for (slot, computed) in self.primary_parity.iter_mut().zip(slots) {
            if !computed.is_empty() {
                *slot = Some(computed);
            }
        }
    }

    /// Hands out sliver `axis` of `pair`: systematic slivers are copied from the blob (any
    /// number of times), parity slivers are moved out (once; `None` afterwards, and for primary
    /// parity not computed yet).
    pub fn take(&mut self, pair: SliverPairIndex, axis: SliverAxis) -> Option<Sliver> {
        let (n, rows, cols, s) = (
            self.config.n(),
            self.config.rows(),
            self.config.cols(),
            self.s,
        );
        let index = pair.sliver_index(axis, self.config.n_shards());
        let i = index.as_usize();
        let data = match axis {
            SliverAxis::Primary if i < rows => self.rows.row(i).to_vec(),
            SliverAxis::Primary => self.primary_parity.get_mut(i - rows)?.take()?,
            SliverAxis::Secondary if i < cols => {
                let mut v = vec![0u8; rows * s];
                for (r, dst) in v.chunks_exact_mut(s).enumerate() {
                    dst.copy_from_slice(&self.rows.row(r)[i * s..(i + 1) * s]);
                }
                v
            }
            SliverAxis::Secondary => self.secondary_parity.get_mut(i - cols)?.take()?,
        };
        debug_assert!(i < n);
        Some(Sliver {
            axis,
            index,
            symbol_size: s as u16,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::encode_blob;

    fn check(n: u16, len: usize, threads: usize) {
        let config = EncodingConfig::new(n).unwrap();
        let blob: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
        let reference = encode_blob(&config, &blob).unwrap();
        let rows = config.rows();
        // Keep every other parity row in the first pass, compute the rest afterwards.
        let mut p = prepare(&config, &blob, threads, |i| i.as_usize() % 2 == 0).unwrap();
        assert_eq!(p.metadata(), &reference.metadata, "n={n} len={len}");
        let rest: Vec<SliverIndex> = (rows..config.n())
            .filter(|i| i % 2 == 1)
            .map(|i| SliverIndex(i as u16))
            .collect();
        // Parity rows not kept are not available before they are computed.
        if let Some(first) = rest.first() {
            assert!(
                p.take(SliverPairIndex(first.0), SliverAxis::Primary)
                    .is_none()
            );
        }
        p.compute_primary(&rest);
        for pair in &reference.pairs {
            for axis in [SliverAxis::Primary, SliverAxis::Secondary] {
                let got = p.take(pair.index, axis).unwrap();
                assert_eq!(
                    &got,
                    pair.sliver(axis),
                    "n={n} len={len} {axis} {}",
                    pair.index
                );
            }
        }
        // Parity is handed out once; systematic slivers any number of times.
        assert!(p.take(SliverPairIndex(0), SliverAxis::Primary).is_some());
        let last = SliverPairIndex(config.n_shards() - 1);
        assert!(p.take(last, SliverAxis::Primary).is_none());
    }

    #[test]
    fn slivers_computed_in_groups_match_one_pass() {
        for (n, len) in [
            (4u16, 0usize),
            (4, 1),
            (7, 1000),
            (10, 12_345),
            (31, 100_000),
            (100, 300_000),
        ] {
            check(n, len, 1);
        }
        check(100, 1 << 20, 2);
    }
}
