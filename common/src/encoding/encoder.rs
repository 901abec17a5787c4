//! Blob → sliver pairs + metadata + blob id.
//!
//! Work is split into jobs over row ranges (row expansion) and power-of-two column ranges
//! (column expansion and hashing), run on `threads` scoped threads. The `n × n` expanded matrix
//! is never materialised: each column is expanded, hashed and dropped; the row trees are built
//! in lockstep from the columns' leaf hashes ([`LockstepRoots`]), so memory stays at the
//! slivers themselves (≈4.5× the blob) plus `O(n log n)` hashes.

use super::metadata::{BlobMetadata, SliverPairHashes, VerifiedBlobMetadata, derive_blob_id};
use super::{Sliver, SliverAxis};
use crate::config::{ConfigError, EncodingConfig, EncodingType};
use crate::erasure::RsEncoder;
use crate::hash::{self, Digest, Hash};
use crate::ids::{BlobId, SliverIndex, SliverPairIndex};
use crate::merkle::{LockstepRoots, root_of_hashes};

/// Rows per row-expansion job.
const ROW_CHUNK: usize = 16;
/// Columns per column job; a power of two so that job results combine into the row trees.
const COL_CHUNK_LOG2: usize = 5;
const COL_CHUNK: usize = 1 << COL_CHUNK_LOG2;

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
pub fn encode_blob(config: &EncodingConfig, blob: &[u8]) -> Result<EncodedBlob, ConfigError> {
    encode_blob_with(config, blob, EncodeOptions::default())
}

/// Runs `jobs` on up to `threads` scoped threads, each with its own `state`, and returns the
/// results in job order.
pub(crate) fn run_jobs<J, R, S>(
    jobs: Vec<J>,
    threads: usize,
    state: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, J) -> R + Sync,
) -> Vec<R>
where
    J: Send,
    R: Send,
{
    let threads = threads.clamp(1, jobs.len().max(1));
    if threads == 1 {
        let mut s = state();
        return jobs.into_iter().map(|j| work(&mut s, j)).collect();
    }
    let total = jobs.len();
    let mut buckets: Vec<Vec<(usize, J)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, j) in jobs.into_iter().enumerate() {
        buckets[i % threads].push((i, j));
    }
    let mut results: Vec<Option<R>> = (0..total).map(|_| None).collect();
    std::thread::scope(|sc| {
        let handles: Vec<_> = buckets
            .into_iter()
            .map(|bucket| {
                let (state, work) = (&state, &work);
                sc.spawn(move || {
                    let mut s = state();
                    bucket
                        .into_iter()
                        .map(|(i, j)| (i, work(&mut s, j)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("encoder worker panicked") {
                results[i] = Some(r);
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

/// Encodes a blob with options.
pub fn encode_blob_with(
    config: &EncodingConfig,
    blob: &[u8],
    opts: EncodeOptions,
) -> Result<EncodedBlob, ConfigError> {
    let len = blob.len() as u64;
    let s = usize::from(config.symbol_size(len)?);
    let (n, rows, cols) = (config.n(), config.rows(), config.cols());
    let row_bytes = cols * s;

    // Primary slivers 0..rows are the blob's rows (zero-padded); the others are filled below.
    let mut primary: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let mut v = vec![0u8; row_bytes];
            if i < rows {
                let start = (i * row_bytes).min(blob.len());
                let end = ((i + 1) * row_bytes).min(blob.len());
                v[..end - start].copy_from_slice(&blob[start..end]);
            }
            v
        })
        .collect();
    // Secondary slivers 0..cols are the blob's columns.
    let mut secondary: Vec<Vec<u8>> = vec![vec![0u8; rows * s]; n];
    for (r, row) in primary[..rows].iter().enumerate() {
        for (j, sym) in row.chunks_exact(s).enumerate() {
            secondary[j][r * s..(r + 1) * s].copy_from_slice(sym);
        }
    }

    // 1. Row expansion: the recovery symbols of row r are symbol r of secondary slivers cols..n.
    {
        let mut pieces: Vec<_> = secondary[cols..]
            .iter_mut()
            .map(|v| v.chunks_mut(ROW_CHUNK * s))
            .collect();
        let jobs: Vec<(usize, Vec<&mut [u8]>)> = (0..rows.div_ceil(ROW_CHUNK))
            .map(|c| {
                (
                    c,
                    pieces
                        .iter_mut()
                        .map(|it| it.next().expect("one piece per chunk"))
                        .collect(),
                )
            })
            .collect();
        let primary = &primary;
        run_jobs(
            jobs,
            opts.threads,
            || RsEncoder::new(cols, n, s).expect("valid code parameters"),
            |enc, (c, mut out)| {
                let first = c * ROW_CHUNK;
                for (r, row) in primary
                    .iter()
                    .enumerate()
                    .take(rows)
                    .skip(first)
                    .take(ROW_CHUNK)
                {
                    let local = (r - first) * s;
                    enc.encode(row.chunks_exact(s), |t, sym| {
                        out[t][local..local + s].copy_from_slice(sym);
                    })
                    .expect("sizes checked");
                }
            },
        );
    }

    // 2. Column expansion + hashing: column j's recovery symbols are symbol j of primary
    //    slivers rows..n (for j < cols); every expanded column is hashed for both trees.
    let col_results = {
        let mut pieces: Vec<_> = primary[rows..]
            .iter_mut()
            .map(|v| v.chunks_mut(COL_CHUNK * s))
            .collect();
        let jobs: Vec<(usize, Vec<&mut [u8]>)> = (0..n.div_ceil(COL_CHUNK))
            .map(|c| (c, pieces.iter_mut().filter_map(Iterator::next).collect()))
            .collect();
        let secondary = &secondary;
        run_jobs(
            jobs,
            opts.threads,
            || ColumnState::new(rows, n, s),
            |st, (c, mut out)| {
                let mut lockstep = LockstepRoots::new(n);
                let mut col_roots = Vec::with_capacity(COL_CHUNK);
                let first = c * COL_CHUNK;
                for (j, column) in secondary.iter().enumerate().skip(first).take(COL_CHUNK) {
                    let local = (j - first) * s;
                    let rec = &mut st.rec;
                    st.enc
                        .encode(column.chunks_exact(s), |t, sym| {
                            rec[t * s..(t + 1) * s].copy_from_slice(sym);
                        })
                        .expect("sizes checked");
                    if j < cols {
                        for (t, dst) in out.iter_mut().enumerate() {
                            dst[local..local + s].copy_from_slice(&st.rec[t * s..(t + 1) * s]);
                        }
                    }
                    let mut leaves: Vec<Hash> = vec![[0; 32]; n];
                    hash::leaves(column, s, &mut leaves[..rows]);
                    hash::leaves(&st.rec, s, &mut leaves[rows..]);
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

    let hashes: Vec<SliverPairHashes> = (0..n)
        .map(|p| SliverPairHashes {
            primary: row_roots[p],
            secondary: col_roots[n - 1 - p],
        })
        .collect();
    let metadata = BlobMetadata {
        encoding_type: EncodingType::RedStuffRs2,
        unencoded_length: len,
        hashes,
    };
    let blob_id = derive_blob_id(metadata.encoding_type, len, &metadata.root());
    let symbol_size = s as u16;
    let mut secondary: Vec<Option<Vec<u8>>> = secondary.into_iter().map(Some).collect();
    let pairs = primary
        .into_iter()
        .enumerate()
        .map(|(p, data)| SliverPair {
            index: SliverPairIndex(p as u16),
            primary: Sliver {
                axis: SliverAxis::Primary,
                index: SliverIndex(p as u16),
                symbol_size,
                data,
            },
            secondary: Sliver {
                axis: SliverAxis::Secondary,
                index: SliverIndex((n - 1 - p) as u16),
                symbol_size,
                data: secondary[n - 1 - p]
                    .take()
                    .expect("each secondary sliver used once"),
            },
        })
        .collect();
    Ok(EncodedBlob {
        metadata: VerifiedBlobMetadata::new_trusted(blob_id, metadata),
        pairs,
    })
}

struct ColumnState {
    enc: RsEncoder,
    rec: Vec<u8>,
    scratch: Vec<Hash>,
}

impl ColumnState {
    fn new(rows: usize, n: usize, s: usize) -> Self {
        Self {
            enc: RsEncoder::new(rows, n, s).expect("valid code parameters"),
            rec: vec![0; (n - rows) * s],
            scratch: Vec::new(),
        }
    }
}
