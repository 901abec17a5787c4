//! The one-dimensional Reed-Solomon primitive: `reed-solomon-simd` (Leopard, GF(2^16)).
//!
//! An `(k, n)` code over `s`-byte symbols is systematic: symbol indices `0..k` are the source
//! symbols unchanged and index `k+t` is recovery shard `t` of `reed-solomon-simd`. Any `k`
//! distinct indices decode. Encoders and decoders keep their work space between calls; the
//! decoder handles many codewords per call ([`BatchDecoder`]).

use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

/// A Reed-Solomon operation failed. With the indices and sizes our callers check beforehand this
/// only happens on programming errors, but it is typed so that hostile input can never panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErasureError {
    /// Fewer distinct symbols than the code needs.
    #[error("need {needed} distinct symbols to decode, have {have}")]
    NotEnoughSymbols {
        /// Symbols needed (`k`).
        needed: usize,
        /// Distinct symbols supplied.
        have: usize,
    },
    /// A symbol index `>= n` or a symbol of the wrong size.
    #[error("invalid symbol {index} of {len} bytes for a ({k}, {n}) code of {size}-byte symbols")]
    BadSymbol {
        /// Its index.
        index: usize,
        /// Its length.
        len: usize,
        /// Source symbols.
        k: usize,
        /// Total symbols.
        n: usize,
        /// Symbol size.
        size: usize,
    },
    /// The library refused the parameters or input.
    #[error("reed-solomon: {0}")]
    Library(String),
}

fn lib(e: reed_solomon_simd::Error) -> ErasureError {
    ErasureError::Library(e.to_string())
}

/// Encoder for an `(k, n)` code over `s`-byte symbols.
pub struct RsEncoder {
    inner: ReedSolomonEncoder,
    k: usize,
    n: usize,
}

impl RsEncoder {
    /// A new encoder. `s` must be even and non-zero, `1 ≤ k < n`.
    pub fn new(k: usize, n: usize, s: usize) -> Result<Self, ErasureError> {
        let inner = ReedSolomonEncoder::new(k, n - k, s).map_err(lib)?;
        Ok(Self { inner, k, n })
    }

    /// Encodes the `k` source symbols yielded by `source` and hands each recovery symbol
    /// (`t = 0..n-k`, i.e. symbol index `k+t`) to `sink`.
    pub fn encode<'a>(
        &mut self,
        source: impl IntoIterator<Item = &'a [u8]>,
        mut sink: impl FnMut(usize, &[u8]),
    ) -> Result<(), ErasureError> {
        let mut count = 0;
        for sym in source {
            self.inner.add_original_shard(sym).map_err(lib)?;
            count += 1;
        }
        if count != self.k {
            return Err(ErasureError::NotEnoughSymbols {
                needed: self.k,
                have: count,
            });
        }
        let result = self.inner.encode().map_err(lib)?;
        for (t, rec) in result.recovery_iter().enumerate() {
            sink(t, rec);
        }
        debug_assert!(self.n > self.k);
        Ok(())
    }
}

/// Bytes a symbol of `s` bytes occupies in the library's internal layout (a multiple of 64).
pub fn packed_len(s: usize) -> usize {
    s.next_multiple_of(64)
}

/// Writes `sym` in the library's internal layout: whole 64-byte chunks as they are; a shorter
/// tail of `t` bytes has its first `t/2` bytes (the low bytes of its GF(2^16) elements) at
/// offset 0 and the rest (the high bytes) at offset 32 of the last chunk. Several symbols
/// packed side by side form one wide shard whose decoding decodes each symbol independently:
/// Reed-Solomon acts on each element position separately, with the same coefficients.
fn pack(sym: &[u8], dst: &mut [u8]) {
    let whole = sym.len() / 64 * 64;
    dst[..whole].copy_from_slice(&sym[..whole]);
    let tail = &sym[whole..];
    if !tail.is_empty() {
        let chunk = &mut dst[whole..whole + 64];
        chunk.fill(0);
        let half = tail.len() / 2;
        chunk[..half].copy_from_slice(&tail[..half]);
        chunk[32..32 + half].copy_from_slice(&tail[half..]);
    }
}

/// The inverse of [`pack`].
fn unpack(src: &[u8], out: &mut [u8]) {
    let whole = out.len() / 64 * 64;
    out[..whole].copy_from_slice(&src[..whole]);
    let half = (out.len() - whole) / 2;
    if half > 0 {
        let chunk = &src[whole..whole + 64];
        out[whole..whole + half].copy_from_slice(&chunk[..half]);
        out[whole + half..].copy_from_slice(&chunk[32..32 + half]);
    }
}

/// Decodes many codewords of one `(k, n)` code over `s`-byte symbols with one library call per
/// batch of `m` codewords (the per-call set-up, an O(65536) transform, is then paid once per
/// batch instead of once per codeword).
pub struct BatchDecoder {
    k: usize,
    n: usize,
    s: usize,
    m: usize,
    inner: Option<(usize, ReedSolomonDecoder)>,
    packed: Vec<u8>,
    seen: Vec<bool>,
}

impl BatchDecoder {
    /// A decoder for `s`-byte symbols that batches up to about 16 KiB per shard.
    pub fn new(k: usize, n: usize, s: usize) -> Self {
        let m = (16 * 1024 / packed_len(s)).max(1);
        Self {
            k,
            n,
            s,
            m,
            inner: None,
            packed: Vec::new(),
            seen: vec![false; n],
        }
    }

    /// Codewords per batch.
    pub fn batch(&self) -> usize {
        self.m
    }

    /// Decodes `m ≤ batch()` codewords. `symbols` yields `(index, bytes)` where `bytes` are the
    /// `m` symbols of that index, codeword after codeword (`m·s` bytes). `out` (`k·m·s` bytes)
    /// receives source symbol `i` of codeword `q` at `(i·m + q)·s`.
    pub fn decode<'a>(
        &mut self,
        m: usize,
        symbols: impl IntoIterator<Item = (usize, &'a [u8])>,
        out: &mut [u8],
    ) -> Result<(), ErasureError> {
        let (k, n, s) = (self.k, self.n, self.s);
        let p = packed_len(s);
        assert!(
            m >= 1 && m <= self.m && out.len() == k * m * s,
            "batch decode of the wrong size"
        );
        let wide = m * p;
        let dec = match &mut self.inner {
            Some((w, d)) if *w == wide => d,
            slot => {
                *slot = Some((wide, ReedSolomonDecoder::new(k, n - k, wide).map_err(lib)?));
                &mut slot.as_mut().expect("just set").1
            }
        };
        self.seen.iter_mut().for_each(|b| *b = false);
        self.packed.resize(wide, 0);
        let (mut have, mut originals) = (0, 0);
        for (index, bytes) in symbols {
            if index >= n || bytes.len() != m * s {
                dec.reset(k, n - k, wide).map_err(lib)?;
                return Err(ErasureError::BadSymbol {
                    index,
                    len: bytes.len(),
                    k,
                    n,
                    size: s,
                });
            }
            if self.seen[index] || have == k {
                continue;
            }
            self.seen[index] = true;
            have += 1;
            for (q, sym) in bytes.chunks_exact(s).enumerate() {
                if index < k {
                    let o = (index * m + q) * s;
                    out[o..o + s].copy_from_slice(sym);
                }
                pack(sym, &mut self.packed[q * p..(q + 1) * p]);
            }
            if index < k {
                originals += 1;
                dec.add_original_shard(index, &self.packed).map_err(lib)?;
            } else {
                dec.add_recovery_shard(index - k, &self.packed)
                    .map_err(lib)?;
            }
        }
        if have < k || originals == k {
            dec.reset(k, n - k, wide).map_err(lib)?;
            return if have < k {
                Err(ErasureError::NotEnoughSymbols { needed: k, have })
            } else {
                Ok(())
            };
        }
        let result = dec.decode().map_err(lib)?;
        for (i, wide_sym) in result.restored_original_iter() {
            for q in 0..m {
                let o = (i * m + q) * s;
                unpack(&wide_sym[q * p..(q + 1) * p], &mut out[o..o + s]);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systematic_round_trip_from_any_k() {
        let (k, n, s) = (5usize, 12usize, 6usize);
        let src: Vec<u8> = (0..k * s).map(|i| (i * 31 + 7) as u8).collect();
        let mut all: Vec<Vec<u8>> = src.chunks(s).map(<[u8]>::to_vec).collect();
        let mut enc = RsEncoder::new(k, n, s).unwrap();
        let mut rec = vec![Vec::new(); n - k];
        enc.encode(src.chunks(s), |t, r| rec[t] = r.to_vec())
            .unwrap();
        all.extend(rec);
        let mut dec = BatchDecoder::new(k, n, s);
        for start in 0..=n - k {
            let mut out = vec![0u8; k * s];
            dec.decode(
                1,
                (start..start + k).map(|i| (i, all[i].as_slice())),
                &mut out,
            )
            .unwrap();
            assert_eq!(out, src, "start {start}");
        }
        let mut out = vec![0u8; k * s];
        assert!(matches!(
            dec.decode(1, (0..k - 1).map(|i| (i, all[i].as_slice())), &mut out),
            Err(ErasureError::NotEnoughSymbols { .. })
        ));
        assert!(matches!(
            dec.decode(1, [(n, all[0].as_slice())], &mut out),
            Err(ErasureError::BadSymbol { .. })
        ));
        // Still usable after errors.
        dec.decode(1, (n - k..n).map(|i| (i, all[i].as_slice())), &mut out)
            .unwrap();
        assert_eq!(out, src);
    }

    #[test]
    fn batch_decoding_matches_codeword_by_codeword() {
        for s in [2usize, 6, 62, 64, 66, 130, 302] {
            let (k, n, m) = (4usize, 10usize, 5usize);
            let mut enc = RsEncoder::new(k, n, s).unwrap();
            // codewords[q][i]: symbol i of codeword q.
            let codewords: Vec<Vec<Vec<u8>>> = (0..m)
                .map(|q| {
                    let src: Vec<u8> = (0..k * s)
                        .map(|i| ((i * 7 + q * 13 + s) % 251) as u8)
                        .collect();
                    let mut all: Vec<Vec<u8>> = src.chunks(s).map(<[u8]>::to_vec).collect();
                    let mut rec = vec![Vec::new(); n - k];
                    enc.encode(src.chunks(s), |t, r| rec[t] = r.to_vec())
                        .unwrap();
                    all.extend(rec);
                    all
                })
                .collect();
            let per_index: Vec<Vec<u8>> = (0..n)
                .map(|i| codewords.iter().flat_map(|cw| cw[i].clone()).collect())
                .collect();
            let mut bd = BatchDecoder::new(k, n, s);
            for subset in [[1usize, 3, 6, 9], [6, 7, 8, 9], [0, 1, 2, 3], [0, 5, 2, 8]] {
                let mut out = vec![0u8; k * m * s];
                bd.decode(
                    m,
                    subset.iter().map(|&i| (i, per_index[i].as_slice())),
                    &mut out,
                )
                .unwrap();
                for (q, cw) in codewords.iter().enumerate() {
                    for (i, sym) in cw.iter().take(k).enumerate() {
                        assert_eq!(
                            &out[(i * m + q) * s..(i * m + q + 1) * s],
                            sym.as_slice(),
                            "s={s} q={q} i={i}"
                        );
                    }
                }
            }
            let mut out = vec![0u8; k * m * s];
            assert!(
                bd.decode(m, [(1usize, per_index[1].as_slice())], &mut out)
                    .is_err()
            );
        }
    }
}
