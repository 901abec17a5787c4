//! Batch hashing kernels: many independent BLAKE3 hashes of equal-length inputs at once.
//!
//! Merkle leaves and inner nodes are short (a few hundred bytes, or 65), so the `blake3` crate
//! hashes each one on a single lane: its SIMD parallelism is across the 1 KiB chunks of one long
//! input, which these inputs do not have. Here the *inputs* are spread over SIMD lanes instead:
//! lane `l` of every state word belongs to input `l`, and one vector instruction advances 16
//! (AVX-512) or 8 (AVX2) compressions at once. The compression function is BLAKE3's, for inputs
//! of one chunk (≤ 1024 bytes, `CHUNK_START`/`CHUNK_END`/`ROOT` flags, counter 0), so results are
//! bit-identical to `blake3::hash` (property-tested against it). Longer inputs, small batches and
//! CPUs without AVX2 use the `blake3` crate.
//!
//! The kernel is plain Rust over `[u32; L]` arrays; the compiler vectorises it inside functions
//! compiled with `#[target_feature]`, chosen at run time.

use super::{Hash, INNER_PREFIX};

const IV: [u32; 8] = [
    0x6A09_E667,
    0xBB67_AE85,
    0x3C6E_F372,
    0xA54F_F53A,
    0x510E_527F,
    0x9B05_688C,
    0x1F83_D9AB,
    0x5BE0_CD19,
];
const MSG_PERMUTATION: [usize; 16] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
const CHUNK_START: u32 = 1;
const CHUNK_END: u32 = 2;
const ROOT: u32 = 8;
const BLOCK: usize = 64;
const CHUNK: usize = 1024;

/// `out[i] = BLAKE3(prefix ‖ data[i*stride .. i*stride+size])`.
pub(super) fn hash_prefixed(prefix: u8, data: &[u8], size: usize, stride: usize, out: &mut [Hash]) {
    let fill = |item: usize, block: usize, buf: &mut [u8; BLOCK]| {
        let src = &data[item * stride..item * stride + size];
        fill_prefixed(prefix, src, block, buf);
    };
    if !dispatch(out.len(), 1 + size, &fill, out) {
        for (i, o) in out.iter_mut().enumerate() {
            let mut h = ::blake3::Hasher::new();
            h.update(&[prefix]);
            h.update(&data[i * stride..i * stride + size]);
            *o = *h.finalize().as_bytes();
        }
    }
}

/// `out[i] = BLAKE3(0x01 ‖ left[i] ‖ right[i])`.
pub(super) fn hash_inner_pairs(left: &[Hash], right: &[Hash], out: &mut [Hash]) {
    let fill = |item: usize, block: usize, buf: &mut [u8; BLOCK]| {
        if block == 0 {
            buf[0] = INNER_PREFIX;
            buf[1..33].copy_from_slice(&left[item]);
            buf[33..].copy_from_slice(&right[item][..31]);
        } else {
            buf.fill(0);
            buf[0] = right[item][31];
        }
    };
    if !dispatch(out.len(), 65, &fill, out) {
        let mut buf = [0u8; 65];
        buf[0] = INNER_PREFIX;
        for ((l, r), o) in left.iter().zip(right).zip(out.iter_mut()) {
            buf[1..33].copy_from_slice(l);
            buf[33..].copy_from_slice(r);
            *o = *::blake3::hash(&buf).as_bytes();
        }
    }
}

/// Block `block` of the input `prefix ‖ src`, zero-padded.
#[inline(always)]
fn fill_prefixed(prefix: u8, src: &[u8], block: usize, buf: &mut [u8; BLOCK]) {
    let total = 1 + src.len();
    let start = block * BLOCK;
    let end = (start + BLOCK).min(total);
    if end - start < BLOCK {
        buf.fill(0);
    }
    if start == 0 {
        buf[0] = prefix;
        buf[1..end].copy_from_slice(&src[..end - 1]);
    } else {
        buf[..end - start].copy_from_slice(&src[start - 1..end - 1]);
    }
}

/// Runs the widest kernel this CPU supports; `false` if the batch should be hashed one by one.
#[allow(unsafe_code)]
fn dispatch<F: Fn(usize, usize, &mut [u8; BLOCK])>(
    count: usize,
    len: usize,
    fill: &F,
    out: &mut [Hash],
) -> bool {
    if len > CHUNK || count < 4 {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            // SAFETY: the CPU supports the features the function is compiled for (checked above).
            unsafe { kernel_avx512(count, len, fill, out) };
            return true;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            unsafe { kernel_avx2(count, len, fill, out) };
            return true;
        }
    }
    let _ = (fill, out);
    false
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
fn kernel_avx512<F: Fn(usize, usize, &mut [u8; BLOCK])>(
    count: usize,
    len: usize,
    fill: &F,
    out: &mut [Hash],
) {
    hash_lanes::<16, F>(count, len, fill, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn kernel_avx2<F: Fn(usize, usize, &mut [u8; BLOCK])>(
    count: usize,
    len: usize,
    fill: &F,
    out: &mut [Hash],
) {
    hash_lanes::<8, F>(count, len, fill, out);
}

type Lanes<const L: usize> = [u32; L];

#[inline(always)]
fn add<const L: usize>(a: &mut Lanes<L>, b: &Lanes<L>) {
    for l in 0..L {
        a[l] = a[l].wrapping_add(b[l]);
    }
}

#[inline(always)]
fn xor_rot<const L: usize>(a: &mut Lanes<L>, b: &Lanes<L>, r: u32) {
    for l in 0..L {
        a[l] = (a[l] ^ b[l]).rotate_right(r);
    }
}

#[inline(always)]
fn g<const L: usize>(
    v: &mut [Lanes<L>; 16],
    a: usize,
    b: usize,
    c: usize,
    d: usize,
    mx: &Lanes<L>,
    my: &Lanes<L>,
) {
    let (mut va, mut vb, mut vc, mut vd) = (v[a], v[b], v[c], v[d]);
    add(&mut va, &vb);
    add(&mut va, mx);
    xor_rot(&mut vd, &va, 16);
    add(&mut vc, &vd);
    xor_rot(&mut vb, &vc, 12);
    add(&mut va, &vb);
    add(&mut va, my);
    xor_rot(&mut vd, &va, 8);
    add(&mut vc, &vd);
    xor_rot(&mut vb, &vc, 7);
    (v[a], v[b], v[c], v[d]) = (va, vb, vc, vd);
}

/// One BLAKE3 compression per lane, counter 0; `cv` becomes the output chaining values.
#[inline(always)]
fn compress<const L: usize>(
    cv: &mut [Lanes<L>; 8],
    m: &[Lanes<L>; 16],
    block_len: u32,
    flags: u32,
) {
    let mut v = [[0u32; L]; 16];
    v[..8].copy_from_slice(cv);
    for (i, w) in IV[..4].iter().enumerate() {
        v[8 + i] = [*w; L];
    }
    v[12] = [0; L];
    v[13] = [0; L];
    v[14] = [block_len; L];
    v[15] = [flags; L];
    let mut m = *m;
    for round in 0..7 {
        g(&mut v, 0, 4, 8, 12, &m[0], &m[1]);
        g(&mut v, 1, 5, 9, 13, &m[2], &m[3]);
        g(&mut v, 2, 6, 10, 14, &m[4], &m[5]);
        g(&mut v, 3, 7, 11, 15, &m[6], &m[7]);
        g(&mut v, 0, 5, 10, 15, &m[8], &m[9]);
        g(&mut v, 1, 6, 11, 12, &m[10], &m[11]);
        g(&mut v, 2, 7, 8, 13, &m[12], &m[13]);
        g(&mut v, 3, 4, 9, 14, &m[14], &m[15]);
        if round < 6 {
            let old = m;
            for (i, p) in MSG_PERMUTATION.iter().enumerate() {
                m[i] = old[*p];
            }
        }
    }
    for i in 0..8 {
        for l in 0..L {
            cv[i][l] = v[i][l] ^ v[i + 8][l];
        }
    }
}

/// Hashes `count` single-chunk inputs of `len` bytes each, `L` at a time. `fill(item, block,
/// buf)` writes block `block` of input `item`, zero-padded.
#[inline(always)]
fn hash_lanes<const L: usize, F: Fn(usize, usize, &mut [u8; BLOCK])>(
    count: usize,
    len: usize,
    fill: &F,
    out: &mut [Hash],
) {
    let blocks = len.div_ceil(BLOCK).max(1);
    let last_len = (len - (blocks - 1) * BLOCK) as u32;
    let mut buf = [0u8; BLOCK];
    for group in (0..count).step_by(L) {
        let mut cv = [[0u32; L]; 8];
        for (i, w) in IV.iter().enumerate() {
            cv[i] = [*w; L];
        }
        for b in 0..blocks {
            let mut m = [[0u32; L]; 16];
            for l in 0..L {
                // Lanes past the end repeat the last input; their results are dropped.
                fill((group + l).min(count - 1), b, &mut buf);
                for (w, word) in m.iter_mut().enumerate() {
                    word[l] = u32::from_le_bytes([
                        buf[4 * w],
                        buf[4 * w + 1],
                        buf[4 * w + 2],
                        buf[4 * w + 3],
                    ]);
                }
            }
            let mut flags = if b == 0 { CHUNK_START } else { 0 };
            let mut block_len = BLOCK as u32;
            if b == blocks - 1 {
                flags |= CHUNK_END | ROOT;
                block_len = last_len;
            }
            compress(&mut cv, &m, block_len, flags);
        }
        for l in 0..L.min(count - group) {
            let o = &mut out[group + l];
            for (i, word) in cv.iter().enumerate() {
                o[4 * i..4 * i + 4].copy_from_slice(&word[l].to_le_bytes());
            }
        }
    }
}
