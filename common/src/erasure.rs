//! The one-dimensional Reed-Solomon primitive: `reed-solomon-simd` (Leopard, GF(2^16)).
//!
//! An `(k, n)` code over `s`-byte symbols is systematic: symbol indices `0..k` are the source
//! symbols unchanged and index `k+t` is recovery shard `t` of `reed-solomon-simd`. Any `k`
//! distinct indices decode. Encoders and decoders keep their work space between calls.

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

/// Decoder for an `(k, n)` code over `s`-byte symbols.
pub struct RsDecoder {
    inner: ReedSolomonDecoder,
    k: usize,
    n: usize,
    s: usize,
    seen: Vec<bool>,
}

impl RsDecoder {
    /// A new decoder. `s` must be even and non-zero, `1 ≤ k < n`.
    pub fn new(k: usize, n: usize, s: usize) -> Result<Self, ErasureError> {
        let inner = ReedSolomonDecoder::new(k, n - k, s).map_err(lib)?;
        Ok(Self {
            inner,
            k,
            n,
            s,
            seen: vec![false; n],
        })
    }

    /// Decodes the `k` source symbols into `out` (`k·s` bytes) from `(index, symbol)` pairs.
    /// Duplicate indices are ignored; only the first `k` distinct symbols are used.
    pub fn decode<'a>(
        &mut self,
        symbols: impl IntoIterator<Item = (usize, &'a [u8])>,
        out: &mut [u8],
    ) -> Result<(), ErasureError> {
        let (k, n, s) = (self.k, self.n, self.s);
        assert_eq!(out.len(), k * s, "decode output of the wrong size");
        self.seen.iter_mut().for_each(|b| *b = false);
        let mut have = 0;
        let mut originals = 0;
        let mut feed = |me: &mut Self, index: usize, sym: &[u8]| -> Result<(), ErasureError> {
            if index < k {
                out[index * s..(index + 1) * s].copy_from_slice(sym);
                me.inner.add_original_shard(index, sym).map_err(lib)
            } else {
                me.inner.add_recovery_shard(index - k, sym).map_err(lib)
            }
        };
        for (index, sym) in symbols {
            if index >= n || sym.len() != s {
                return Err(ErasureError::BadSymbol {
                    index,
                    len: sym.len(),
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
            if index < k {
                originals += 1;
            }
            feed(self, index, sym)?;
        }
        if have < k {
            // Drop the partially fed round so the next call starts clean.
            self.inner.reset(k, n - k, s).map_err(lib)?;
            return Err(ErasureError::NotEnoughSymbols { needed: k, have });
        }
        if originals == k {
            self.inner.reset(k, n - k, s).map_err(lib)?;
            return Ok(());
        }
        let result = self.inner.decode().map_err(lib)?;
        for (i, sym) in result.restored_original_iter() {
            out[i * s..(i + 1) * s].copy_from_slice(sym);
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
        let mut dec = RsDecoder::new(k, n, s).unwrap();
        for start in 0..=n - k {
            let mut out = vec![0u8; k * s];
            dec.decode((start..start + k).map(|i| (i, all[i].as_slice())), &mut out)
                .unwrap();
            assert_eq!(out, src, "start {start}");
        }
        let mut out = vec![0u8; k * s];
        assert!(matches!(
            dec.decode((0..k - 1).map(|i| (i, all[i].as_slice())), &mut out),
            Err(ErasureError::NotEnoughSymbols { .. })
        ));
        assert!(matches!(
            dec.decode([(n, all[0].as_slice())], &mut out),
            Err(ErasureError::BadSymbol { .. })
        ));
        // Still usable after errors.
        dec.decode((n - k..n).map(|i| (i, all[i].as_slice())), &mut out)
            .unwrap();
        assert_eq!(out, src);
    }
}
