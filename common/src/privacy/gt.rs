//! The byte form of a `Gt` element, for the data-key derivation.
//!
//! `bls12_381` 0.8 has no byte encoding of `Gt`. Its `Debug` text (also its `Display`) prints
//! the element's twelve `Fp` coefficients, each as `0x` and the 96 lowercase hex digits of its
//! canonical (reduced, big-endian) bytes, in the order `c0.c0.c0, c0.c0.c1, c0.c1.c0, …,
//! c1.c2.c1` (`Fp12 = c0 + c1·w`, `Fp6 = c0 + c1·v + c2·v²`, `Fp2 = c0 + c1·u`). The text's
//! shape does not depend on the value. [`gt_bytes`] reads those coefficients back into 576
//! bytes (another implementation writes the twelve coefficients big-endian in that order);
//! only the digits are read, so the separators may change without changing a key. The unit
//! tests here and the conformance vectors (a sealed blob from a seeded RNG) pin the result.

use std::fmt;

use bls12_381::Gt;
use zeroize::Zeroize;

/// Length of the byte form of a `Gt` element.
pub const GT_LEN: usize = 576;

/// Hex digits of one `Fp` coefficient.
const FP_HEX_DIGITS: usize = 96;

/// The 576-byte form of a `Gt` element (module docs), read from its `Debug` text: the twelve
/// `Fp` coefficients, each printed as `0x` and 96 hex digits of its canonical big-endian bytes.
///
/// # Panics
///
/// If `bls12_381` printed a `Gt` otherwise. The text's shape does not depend on the value, the
/// crate version is pinned by `Cargo.lock`, and the tests fail on any change, so this cannot
/// happen in a tested build; a panic is better than a silently different key.
pub(crate) fn gt_bytes(k: &Gt) -> [u8; GT_LEN] {
    use fmt::Write as _;
    let mut c = Coefficients::default();
    let _ = write!(c, "{k:?}");
    c.finish()
        .expect("bls12_381 0.8 prints a Gt as its twelve canonical Fp coefficients")
}

/// Collects the `0x`-prefixed hex runs of a `Gt`'s `Debug` text into bytes.
struct Coefficients {
    out: [u8; GT_LEN],
    digits: usize,
    runs: usize,
    run_len: usize,
    in_run: bool,
    prev_zero: bool,
    bad: bool,
}

impl Default for Coefficients {
    fn default() -> Self {
        Self {
            out: [0; GT_LEN],
            digits: 0,
            runs: 0,
            run_len: 0,
            in_run: false,
            prev_zero: false,
            bad: false,
        }
    }
}

impl Coefficients {
    fn finish(mut self) -> Option<[u8; GT_LEN]> {
        if self.in_run && self.run_len != FP_HEX_DIGITS {
            self.bad = true;
        }
        let ok = !self.bad && self.runs == 12 && self.digits == 2 * GT_LEN;
        let out = self.out;
        self.out.zeroize();
        ok.then_some(out)
    }
}

impl fmt::Write for Coefficients {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.bytes() {
            if self.in_run {
                let nibble = match c {
                    b'0'..=b'9' => Some(c - b'0'),
                    b'a'..=b'f' => Some(c - b'a' + 10),
                    _ => None,
                };
                if let Some(v) = nibble {
                    if self.digits < 2 * GT_LEN && self.run_len < FP_HEX_DIGITS {
                        let shift = if self.digits.is_multiple_of(2) { 4 } else { 0 };
                        self.out[self.digits / 2] |= v << shift;
                    } else {
                        self.bad = true;
                    }
                    self.digits += 1;
                    self.run_len += 1;
                    continue;
                }
                if self.run_len != FP_HEX_DIGITS {
                    self.bad = true;
                }
                self.in_run = false;
            }
            if c == b'x' && self.prev_zero {
                self.in_run = true;
                self.run_len = 0;
                self.runs += 1;
            }
            self.prev_zero = c == b'0';
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bls12_381::{G1Affine, G2Affine};

    #[test]
    fn gt_bytes_reads_every_coefficient() {
        // 1 = (1, 0, …, 0).
        let one = gt_bytes(&Gt::identity());
        let mut expected = [0u8; GT_LEN];
        expected[47] = 1;
        assert_eq!(one, expected);
        // A real element: every coefficient is below p (its top three bits are clear), and
        // distinct elements have distinct bytes.
        let g = bls12_381::pairing(&G1Affine::generator(), &G2Affine::generator());
        let gb = gt_bytes(&g);
        for i in 0..12 {
            assert!(gb[48 * i] < 0x20);
        }
        assert_ne!(gb, gt_bytes(&(g + g)));
        assert_ne!(gb, one);
    }

    #[test]
    fn coefficients_refuse_other_shapes() {
        use fmt::Write as _;
        let coeff = format!("0x{}", "ab".repeat(48));
        let mut c = Coefficients::default();
        write!(c, "{}", [coeff.as_str(); 11].join(" + ")).unwrap();
        assert!(c.finish().is_none());
        let mut c = Coefficients::default();
        write!(c, "{}", [coeff.as_str(); 13].join(" + ")).unwrap();
        assert!(c.finish().is_none());
        let mut c = Coefficients::default();
        write!(
            c,
            "0x{} {}",
            "ab".repeat(49),
            [coeff.as_str(); 11].join(" + ")
        )
        .unwrap();
        assert!(c.finish().is_none());
        let mut c = Coefficients::default();
        write!(c, "Gt({})", [coeff.as_str(); 12].join(" + (")).unwrap();
        assert_eq!(c.finish().unwrap(), [0xab; GT_LEN]);
    }
}
