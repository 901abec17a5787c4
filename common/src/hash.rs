//! BLAKE3 hashing of Merkle leaves and inner nodes, one at a time or in batches.
//!
//! * leaf  = BLAKE3(0x00 ‖ data)
//! * inner = BLAKE3(0x01 ‖ left ‖ right)
//!
//! Encoding a blob at `n = 1000` hashes a million leaves of a few hundred bytes and two million
//! inner nodes, so these are the hottest functions in the system. The batch functions take many
//! equal-length inputs at once and hash them across SIMD lanes (see [`lanes`]), which is several
//! times faster than one hasher per input; results are bit-identical to the one-at-a-time
//! functions (property-tested).

use crate::ids::TextForm;

mod lanes;

crate::fixed_bytes!(
    /// A 32-byte BLAKE3 digest (Merkle roots, sliver hashes).
    Digest,
    32,
    TextForm::Hex
);

impl Digest {
    /// The all-zero digest, which is also the Merkle `Empty` node.
    pub const ZERO: Digest = Digest([0; 32]);
}

/// Domain prefix of Merkle leaves.
pub const LEAF_PREFIX: u8 = 0x00;
/// Domain prefix of Merkle inner nodes.
pub const INNER_PREFIX: u8 = 0x01;

/// BLAKE3 of arbitrary bytes.
pub fn blake3(data: &[u8]) -> Digest {
    Digest(*::blake3::hash(data).as_bytes())
}

/// The hash of one Merkle leaf.
pub fn leaf(data: &[u8]) -> Digest {
    let mut h = ::blake3::Hasher::new();
    h.update(&[LEAF_PREFIX]);
    h.update(data);
    Digest(*h.finalize().as_bytes())
}

/// The hash of one inner node.
pub fn inner(left: &Digest, right: &Digest) -> Digest {
    let mut buf = [0u8; 65];
    buf[0] = INNER_PREFIX;
    buf[1..33].copy_from_slice(&left.0);
    buf[33..].copy_from_slice(&right.0);
    Digest(*::blake3::hash(&buf).as_bytes())
}

/// Raw 32-byte hash, the element type of the batch functions and of Merkle levels.
pub type Hash = [u8; 32];

/// Hashes `out.len()` leaves whose data are the consecutive `size`-byte chunks of `data`.
///
/// # Panics
/// If `data.len() != out.len() * size`.
pub fn leaves(data: &[u8], size: usize, out: &mut [Hash]) {
    assert_eq!(data.len(), out.len() * size, "leaf batch of the wrong size");
    lanes::hash_prefixed(LEAF_PREFIX, data, size, size, out);
}

/// Hashes inner nodes: `out[i] = inner(children[2i], children[2i+1])`, where a missing last
/// right child (odd count) is the `Empty` node. `out.len()` must be `children.len().div_ceil(2)`.
pub fn parents(children: &[Hash], out: &mut [Hash]) {
    assert_eq!(
        out.len(),
        children.len().div_ceil(2),
        "parent batch of the wrong size"
    );
    let pairs = children.len() / 2;
    let flat: &[u8] = children[..pairs * 2].as_flattened();
    lanes::hash_prefixed(INNER_PREFIX, flat, 64, 64, &mut out[..pairs]);
    if children.len() % 2 == 1 {
        out[pairs] = inner(&Digest(children[children.len() - 1]), &Digest::ZERO).0;
    }
}

/// Hashes inner nodes of many trees in lockstep: `out[i] = inner(left[i], right[i])`.
pub fn inner_many(left: &[Hash], right: &[Hash], out: &mut [Hash]) {
    assert!(left.len() == right.len() && left.len() == out.len());
    lanes::hash_inner_pairs(left, right, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_leaf_and_inner() {
        // Independent definition through the blake3 one-shot API.
        let mut v = vec![0u8];
        v.extend_from_slice(b"abc");
        assert_eq!(leaf(b"abc").0, *::blake3::hash(&v).as_bytes());
        let l = leaf(b"l");
        let r = leaf(b"r");
        let mut w = vec![1u8];
        w.extend_from_slice(&l.0);
        w.extend_from_slice(&r.0);
        assert_eq!(inner(&l, &r).0, *::blake3::hash(&w).as_bytes());
    }

    proptest! {
        #[test]
        fn batch_leaves_match_single(size in prop::sample::select(vec![0usize, 1, 2, 6, 62, 63, 64, 65, 127, 128, 301, 302, 1022, 1023, 1024, 1100]), count in 0usize..40, seed: u64) {
            let data: Vec<u8> = (0..size * count).map(|i| (i as u64 ^ seed).wrapping_mul(2654435761) as u8).collect();
            let mut out = vec![[0u8; 32]; count];
            leaves(&data, size, &mut out);
            for i in 0..count {
                prop_assert_eq!(out[i], leaf(&data[i * size..(i + 1) * size]).0);
            }
        }

        #[test]
        fn batch_parents_match_single(count in 0usize..70, seed: u8) {
            let children: Vec<Hash> = (0..count).map(|i| leaf(&[i as u8, seed]).0).collect();
            let mut out = vec![[0u8; 32]; count.div_ceil(2)];
            parents(&children, &mut out);
            for (i, o) in out.iter().enumerate() {
                let r = children.get(2 * i + 1).copied().unwrap_or([0; 32]);
                prop_assert_eq!(*o, inner(&Digest(children[2 * i]), &Digest(r)).0);
            }
            let right: Vec<Hash> = children.iter().rev().copied().collect();
            let mut many = vec![[0u8; 32]; count];
            inner_many(&children, &right, &mut many);
            for i in 0..count {
                prop_assert_eq!(many[i], inner(&Digest(children[i]), &Digest(right[i])).0);
            }
        }
    }
}
