//! Segmented authenticated encryption of a blob's bytes (the STREAM construction).
//!
//! Each segment `i` (0-based, sizes in [`crate::privacy::header`]) is sealed with
//! ChaCha20-Poly1305 under the blob's [`DataKey`], with
//!
//! ```text
//! nonce = i as u64 big-endian (8) ‖ last (1: 0x01 for the last segment, else 0x00) ‖ 0x000000
//! aad   = BLAKE3(header bytes)  (magic ‖ BCS header, 188 bytes)
//! ```
//!
//! and written as `ciphertext ‖ tag (16)`. So a segment authenticates only at its own position,
//! only as last if it is the last, and only under its own header: flipping a byte (of a
//! segment or of the header), reordering segments, splicing in segments of another blob (even
//! one sealed under the same key) and dropping or appending segments all fail. A data key is
//! fresh per blob (a new `r` and nonce each time), so nonces never repeat under one key.
//!
//! [`seal`] and [`open`] work on whole buffers; [`Sealer`] and [`Opener`] take one segment at
//! a time, so a multi-GiB file is encrypted or decrypted in memory bounded by a segment. A
//! streaming reader gets each segment authenticated before it sees it, but knows the output is
//! *complete* only when [`Opener::finish`] succeeds. Both encrypt in place.

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};
use rand_core::CryptoRngCore;

use crate::ids::ObjectId;
use crate::privacy::header::{DEFAULT_SEGMENT_SIZE, HEADER_LEN, SealError, SealedHeader, TAG_LEN};
use crate::privacy::ibe::{BlobNonce, DataKey, Identity, MasterPublicKey, encapsulate};

/// The nonce of segment `i` (module docs).
fn segment_nonce(i: u64, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&i.to_be_bytes());
    n[8] = u8::from(last);
    n.into()
}

/// The cipher, header and position shared by [`Sealer`] and [`Opener`].
struct Segments {
    cipher: ChaCha20Poly1305,
    header: SealedHeader,
    aad: [u8; 32],
    next: u64,
    count: u64,
}

impl Segments {
    fn new(key: &DataKey, header: SealedHeader) -> Result<Self, SealError> {
        header.check()?;
        Ok(Self::checked(key, header))
    }

    /// For a header that passed [`SealedHeader::check`].
    fn checked(key: &DataKey, header: SealedHeader) -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(key.as_bytes().into()),
            aad: header.aad(),
            count: header.segments(),
            header,
            next: 0,
        }
    }

    fn next_len(&self) -> Option<usize> {
        (self.next < self.count).then(|| self.header.segment_plaintext_len(self.next))
    }

    /// The position and nonce of the next segment, if it has `len` plaintext bytes.
    fn take(&self, len: usize) -> Result<(u64, Nonce), SealError> {
        let i = self.next;
        let expected = self.next_len().ok_or(SealError::TooManySegments {
            segments: self.count,
        })?;
        if len != expected {
            return Err(SealError::SegmentLength {
                segment: i,
                expected,
                actual: len,
            });
        }
        Ok((i, segment_nonce(i, i + 1 == self.count)))
    }

    /// Encrypts a segment in place and returns its tag.
    fn encrypt(&self, nonce: &Nonce, segment: &mut [u8]) -> [u8; TAG_LEN] {
        self.cipher
            .encrypt_in_place_detached(nonce, &self.aad, segment)
            .expect("ChaCha20-Poly1305 refuses only messages over 256 GiB; segments are <= 16 MiB")
            .into()
    }

    /// Decrypts segment `i` in place from its ciphertext and tag; on failure `segment` is
    /// left as it was.
    fn decrypt(
        &self,
        i: u64,
        nonce: &Nonce,
        segment: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), SealError> {
        self.cipher
            .decrypt_in_place_detached(nonce, &self.aad, segment, Tag::from_slice(tag))
            .map_err(|_| SealError::Authentication { segment: i })
    }

    fn finish(&self) -> Result<(), SealError> {
        if self.next == self.count {
            Ok(())
        } else {
            Err(SealError::Incomplete {
                done: self.next,
                segments: self.count,
            })
        }
    }
}

/// A fresh nonce and data key for a blob of `plaintext_len` bytes under `policy` on `chain`,
/// and its (unchecked) header.
fn fresh(
    rng: &mut impl CryptoRngCore,
    mpk: &MasterPublicKey,
    chain: &str,
    policy: ObjectId,
    plaintext_len: u64,
    segment_size: u32,
) -> (DataKey, SealedHeader) {
    let nonce = BlobNonce::random(rng);
    let id = Identity::new(chain, policy, nonce);
    let (encapsulation, key) = encapsulate(rng, mpk, &id);
    let header = SealedHeader {
        policy,
        nonce,
        encapsulation,
        segment_size,
        plaintext_len,
    };
    (key, header)
}

/// Seals a blob one segment at a time (module docs).
pub struct Sealer {
    s: Segments,
}

impl Sealer {
    /// A sealer for a blob of `plaintext_len` bytes under `policy` on `chain`, with a fresh
    /// nonce and data key. Fails if the segment size or length is out of bounds
    /// ([`SealedHeader::check`]).
    pub fn new(
        rng: &mut impl CryptoRngCore,
        mpk: &MasterPublicKey,
        chain: &str,
        policy: ObjectId,
        plaintext_len: u64,
        segment_size: u32,
    ) -> Result<Self, SealError> {
        let (key, header) = fresh(rng, mpk, chain, policy, plaintext_len, segment_size);
        Ok(Self {
            s: Segments::new(&key, header)?,
        })
    }

    /// A sealer with a given key and header, for tests only: sealing two plaintexts under one
    /// key and header reuses nonces.
    #[cfg(any(test, feature = "test-utils"))]
    pub fn with_key(key: &DataKey, header: SealedHeader) -> Result<Self, SealError> {
        Ok(Self {
            s: Segments::new(key, header)?,
        })
    }

    /// The header.
    pub fn header(&self) -> &SealedHeader {
        &self.s.header
    }

    /// The header's bytes, the start of the sealed blob.
    pub fn header_bytes(&self) -> [u8; HEADER_LEN] {
        self.s.header.encode()
    }

    /// The plaintext length the next segment must have; `None` when all are sealed.
    pub fn next_segment_len(&self) -> Option<usize> {
        self.s.next_len()
    }

    /// Seals the next segment in place: `segment` holds its plaintext (of
    /// [`Sealer::next_segment_len`] bytes) and gets the ciphertext and the tag.
    pub fn seal_segment(&mut self, segment: &mut Vec<u8>) -> Result<(), SealError> {
        let tag = self.seal_segment_detached(segment)?;
        segment.extend_from_slice(&tag);
        Ok(())
    }

    /// Seals the next segment in place and returns its tag, to be written after it.
    pub fn seal_segment_detached(
        &mut self,
        segment: &mut [u8],
    ) -> Result<[u8; TAG_LEN], SealError> {
        let (_, nonce) = self.s.take(segment.len())?;
        let tag = self.s.encrypt(&nonce, segment);
        self.s.next += 1;
        Ok(tag)
    }

    /// Checks that every segment was sealed.
    pub fn finish(self) -> Result<(), SealError> {
        self.s.finish()
    }
}

/// Opens a sealed blob one segment at a time (module docs). After a failure it refuses every
/// further segment.
pub struct Opener {
    s: Segments,
    failed: Option<u64>,
}

impl Opener {
    /// An opener of the blob with `header` (from [`SealedHeader::decode`]) under `key`.
    pub fn new(key: &DataKey, header: &SealedHeader) -> Result<Self, SealError> {
        Ok(Self {
            s: Segments::new(key, *header)?,
            failed: None,
        })
    }

    /// The header.
    pub fn header(&self) -> &SealedHeader {
        &self.s.header
    }

    /// The sealed length (plaintext and tag) of the next segment; `None` after the last.
    pub fn next_segment_len(&self) -> Option<usize> {
        self.s.next_len().map(|l| l + TAG_LEN)
    }

    /// Opens the next segment in place: `segment` holds its ciphertext and tag
    /// ([`Opener::next_segment_len`] bytes) and is left with the plaintext.
    pub fn open_segment(&mut self, segment: &mut Vec<u8>) -> Result<(), SealError> {
        let Some(split) = segment.len().checked_sub(TAG_LEN) else {
            return Err(SealError::SegmentLength {
                segment: self.s.next,
                expected: self.next_segment_len().unwrap_or(0),
                actual: segment.len(),
            });
        };
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&segment[split..]);
        self.open_segment_detached(&mut segment[..split], &tag)?;
        segment.truncate(split);
        Ok(())
    }

    /// Opens the next segment in place from its ciphertext and tag. On failure `segment` is
    /// left as it was.
    pub fn open_segment_detached(
        &mut self,
        segment: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), SealError> {
        if let Some(segment) = self.failed {
            return Err(SealError::Authentication { segment });
        }
        let (i, nonce) = self.s.take(segment.len())?;
        if let Err(e) = self.s.decrypt(i, &nonce, segment, tag) {
            self.failed = Some(i);
            return Err(e);
        }
        self.s.next += 1;
        Ok(())
    }

    /// Checks that every segment was opened: only then is the output complete.
    pub fn finish(self) -> Result<(), SealError> {
        if let Some(segment) = self.failed {
            return Err(SealError::Authentication { segment });
        }
        self.s.finish()
    }
}

/// Opens the segments of a sealed blob by position, from any number of threads at once
/// (`Clone`, `Send`, `Sync`): a reader decrypts segments in parallel as they arrive.
///
/// Each segment still authenticates only at its own position and only as last if it is the
/// last (module docs), so a segment cannot be moved. What this type cannot know is which
/// segments the caller opened: the output is complete only if the caller opened every
/// position `0..segments()` exactly once, and it is the caller's duty to check that (the
/// sequential [`Opener`] does it in [`Opener::finish`]).
#[derive(Clone)]
pub struct SegmentOpener {
    s: std::sync::Arc<Segments>,
}

impl SegmentOpener {
    /// An opener of the blob with `header` (from [`SealedHeader::decode`]) under `key`.
    pub fn new(key: &DataKey, header: &SealedHeader) -> Result<Self, SealError> {
        Ok(Self {
            s: std::sync::Arc::new(Segments::new(key, *header)?),
        })
    }

    /// The header.
    pub fn header(&self) -> &SealedHeader {
        &self.s.header
    }

    /// The number of segments.
    pub fn segments(&self) -> u64 {
        self.s.count
    }

    /// The sealed length (plaintext and tag) of segment `i`; `None` past the last.
    pub fn sealed_segment_len(&self, i: u64) -> Option<usize> {
        self.s.header.sealed_segment_len(i)
    }

    /// Opens segment `i` in place: `segment` holds its ciphertext and tag
    /// ([`SegmentOpener::sealed_segment_len`] bytes) and is left with the plaintext. On
    /// failure it is left as it was.
    pub fn open(&self, i: u64, segment: &mut Vec<u8>) -> Result<(), SealError> {
        let expected = self
            .sealed_segment_len(i)
            .ok_or(SealError::TooManySegments {
                segments: self.s.count,
            })?;
        if segment.len() != expected {
            return Err(SealError::SegmentLength {
                segment: i,
                expected: expected - TAG_LEN,
                actual: segment.len().saturating_sub(TAG_LEN),
            });
        }
        let split = expected - TAG_LEN;
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&segment[split..]);
        let nonce = segment_nonce(i, i + 1 == self.s.count);
        self.s.decrypt(i, &nonce, &mut segment[..split], &tag)?;
        segment.truncate(split);
        Ok(())
    }
}

/// Seals `plaintext` under `policy` on `chain` with [`DEFAULT_SEGMENT_SIZE`]: the sealed blob
/// (header and segments) and its header.
pub fn seal(
    rng: &mut impl CryptoRngCore,
    mpk: &MasterPublicKey,
    chain: &str,
    policy: ObjectId,
    plaintext: &[u8],
) -> (Vec<u8>, SealedHeader) {
    // A slice holds at most isize::MAX = MAX_PLAINTEXT_LEN bytes: the header is valid.
    let len = plaintext.len() as u64;
    let (key, header) = fresh(rng, mpk, chain, policy, len, DEFAULT_SEGMENT_SIZE);
    (
        seal_all(&Segments::checked(&key, header), plaintext),
        header,
    )
}

/// [`seal`] with a chosen segment size (fails if out of bounds).
pub fn seal_with_segment_size(
    rng: &mut impl CryptoRngCore,
    mpk: &MasterPublicKey,
    chain: &str,
    policy: ObjectId,
    plaintext: &[u8],
    segment_size: u32,
) -> Result<(Vec<u8>, SealedHeader), SealError> {
    let sealer = Sealer::new(
        rng,
        mpk,
        chain,
        policy,
        plaintext.len() as u64,
        segment_size,
    )?;
    Ok((seal_all(&sealer.s, plaintext), sealer.s.header))
}

/// Seals all of `plaintext` (whose length is the header's), copying it once into the output.
fn seal_all(s: &Segments, plaintext: &[u8]) -> Vec<u8> {
    let seg = s.header.segment_size as usize;
    let mut out = Vec::with_capacity(usize::try_from(s.header.sealed_len()).unwrap_or(0));
    out.extend_from_slice(&s.header.encode());
    for i in 0..s.count {
        let from = (i as usize).saturating_mul(seg).min(plaintext.len());
        let to = from.saturating_add(seg).min(plaintext.len());
        let start = out.len();
        out.extend_from_slice(&plaintext[from..to]);
        let tag = s.encrypt(&segment_nonce(i, i + 1 == s.count), &mut out[start..]);
        out.extend_from_slice(&tag);
    }
    out
}

/// Opens a whole sealed blob with its data key: the header is decoded and checked, the length
/// must be the header's, and every segment must authenticate.
pub fn open(key: &DataKey, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    let (header, mut pos) = SealedHeader::decode(sealed)?;
    header.check_sealed_len(sealed.len() as u64)?;
    let mut opener = Opener::new(key, &header)?;
    let short = || SealError::Length {
        expected: header.sealed_len(),
        actual: sealed.len() as u64,
    };
    // The length was checked just above; never reserve more than the input holds anyway.
    let capacity = usize::try_from(header.plaintext_len).map_or(0, |l| l.min(sealed.len()));
    let mut out = Vec::with_capacity(capacity);
    while let Some(len) = opener.next_segment_len() {
        let split = pos + len - TAG_LEN;
        let ct = sealed.get(pos..split).ok_or_else(short)?;
        let tag: &[u8; TAG_LEN] = sealed
            .get(split..split + TAG_LEN)
            .and_then(|t| t.try_into().ok())
            .ok_or_else(short)?;
        let start = out.len();
        out.extend_from_slice(ct);
        opener.open_segment_detached(&mut out[start..], tag)?;
        pos = split + TAG_LEN;
    }
    opener.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::ibe::Encapsulation;
    use blstrs::G2Affine;
    use group::prime::PrimeCurveAffine;

    fn header(plaintext_len: u64) -> SealedHeader {
        let u = G2Affine::generator().to_compressed();
        SealedHeader {
            policy: ObjectId([1; 32]),
            nonce: BlobNonce([2; 32]),
            encapsulation: Encapsulation::from_bytes(&u).unwrap(),
            segment_size: 4096,
            plaintext_len,
        }
    }

    /// The last flag: a segment sealed as "not last" does not open as "last", or the reverse.
    #[test]
    fn a_segment_opens_only_with_its_own_last_flag() {
        let s = Segments::checked(&DataKey::from_bytes([9; 32]), header(10_000));
        for last in [false, true] {
            let mut buf = vec![7u8; 100];
            let tag = s.encrypt(&segment_nonce(1, last), &mut buf);
            let open = |flag: bool| {
                let mut b = buf.clone();
                s.cipher
                    .decrypt_in_place_detached(&segment_nonce(1, flag), &s.aad, &mut b, &tag.into())
                    .map(|()| b)
            };
            assert_eq!(open(last).unwrap(), vec![7u8; 100]);
            assert!(open(!last).is_err());
        }
        assert_eq!(
            segment_nonce(0x0102, true).as_slice(),
            [0, 0, 0, 0, 0, 0, 1, 2, 1, 0, 0, 0]
        );
    }

    /// Segments open by position in any order, and only at their own position.
    #[test]
    fn a_segment_opener_opens_by_position_in_any_order() {
        let key = DataKey::from_bytes([4; 32]);
        let h = header(10_000);
        let mut sealer = Sealer::with_key(&key, h).unwrap();
        let mut sealed = Vec::new();
        let mut i = 0u8;
        while let Some(len) = sealer.next_segment_len() {
            let mut seg = vec![i; len];
            sealer.seal_segment(&mut seg).unwrap();
            sealed.push(seg);
            i += 1;
        }
        let opener = SegmentOpener::new(&key, &h).unwrap();
        assert_eq!(opener.segments(), 3);
        assert_eq!(opener.sealed_segment_len(2), Some(10_000 - 8192 + TAG_LEN));
        assert_eq!(opener.sealed_segment_len(3), None);
        for i in [2u64, 0, 1] {
            let mut seg = sealed[i as usize].clone();
            opener.open(i, &mut seg).unwrap();
            assert!(seg.iter().all(|b| u64::from(*b) == i));
        }
        // Segment 0 does not open as segment 1 (same length), nor as the last.
        let mut moved = sealed[0].clone();
        assert_eq!(
            opener.open(1, &mut moved),
            Err(SealError::Authentication { segment: 1 })
        );
        assert_eq!(
            moved, sealed[0],
            "a failed open leaves the bytes as they were"
        );
        assert!(matches!(
            opener.open(2, &mut sealed[0].clone()),
            Err(SealError::SegmentLength { segment: 2, .. })
        ));
        assert_eq!(
            opener.open(3, &mut sealed[2].clone()),
            Err(SealError::TooManySegments { segments: 3 })
        );
    }

    #[test]
    fn sealer_and_opener_check_segment_lengths_and_counts() {
        let key = DataKey::from_bytes([3; 32]);
        let h = header(5000);
        let mut sealer = Sealer::with_key(&key, h).unwrap();
        assert_eq!(sealer.next_segment_len(), Some(4096));
        let mut short = vec![0u8; 4095];
        assert_eq!(
            sealer.seal_segment(&mut short),
            Err(SealError::SegmentLength {
                segment: 0,
                expected: 4096,
                actual: 4095
            })
        );
        let mut a = vec![1u8; 4096];
        sealer.seal_segment(&mut a).unwrap();
        assert_eq!(a.len(), 4096 + TAG_LEN);
        let mut b = vec![2u8; 904];
        sealer.seal_segment(&mut b).unwrap();
        assert_eq!(sealer.next_segment_len(), None);
        assert_eq!(
            sealer.seal_segment(&mut Vec::new()),
            Err(SealError::TooManySegments { segments: 2 })
        );
        sealer.finish().unwrap();

        let mut opener = Opener::new(&key, &h).unwrap();
        assert_eq!(opener.next_segment_len(), Some(4096 + TAG_LEN));
        assert!(matches!(
            opener.open_segment(&mut vec![0; 3]),
            Err(SealError::SegmentLength { segment: 0, .. })
        ));
        let mut a2 = a.clone();
        opener.open_segment(&mut a2).unwrap();
        assert_eq!(a2, vec![1u8; 4096]);
        assert_eq!(
            Opener::new(&key, &h).unwrap().finish(),
            Err(SealError::Incomplete {
                done: 0,
                segments: 2
            })
        );
        // After a failure, every further segment is refused, even a good one.
        let mut bad = b.clone();
        bad[0] ^= 1;
        assert_eq!(
            opener.open_segment(&mut bad),
            Err(SealError::Authentication { segment: 1 })
        );
        assert_eq!(
            opener.open_segment(&mut b),
            Err(SealError::Authentication { segment: 1 })
        );
        assert_eq!(
            opener.finish(),
            Err(SealError::Authentication { segment: 1 })
        );
    }
}
