//! Batch hashing kernels. Results must equal the one-at-a-time functions in the parent module.

use super::Hash;

/// `out[i] = BLAKE3(prefix ‖ data[i*stride .. i*stride+size])`.
pub(super) fn hash_prefixed(prefix: u8, data: &[u8], size: usize, stride: usize, out: &mut [Hash]) {
    for (i, o) in out.iter_mut().enumerate() {
        let mut h = ::blake3::Hasher::new();
        h.update(&[prefix]);
        h.update(&data[i * stride..i * stride + size]);
        *o = *h.finalize().as_bytes();
    }
}

/// `out[i] = BLAKE3(0x01 ‖ left[i] ‖ right[i])`.
pub(super) fn hash_inner_pairs(left: &[Hash], right: &[Hash], out: &mut [Hash]) {
    let mut buf = [0u8; 65];
    buf[0] = super::INNER_PREFIX;
    for ((l, r), o) in left.iter().zip(right).zip(out.iter_mut()) {
        buf[1..33].copy_from_slice(l);
        buf[33..].copy_from_slice(r);
        *o = *::blake3::hash(&buf).as_bytes();
    }
}
