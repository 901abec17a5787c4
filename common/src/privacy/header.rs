//! The header of a sealed blob.
//!
//! A sealed blob starts with [`MAGIC`] (16 bytes) and the BCS of [`SealedHeader`] (172
//! bytes), [`HEADER_LEN`] = 188 bytes in all:
//!
//! ```text
//! "floe/sealed/v1\n\0" (16) ‖ policy ObjectId (32) ‖ blob nonce (32) ‖ encapsulation U (G2, 96)
//!   ‖ segment_size u32 LE (4) ‖ plaintext_len u64 LE (8)
//! ```
//!
//! The format's version is in the magic; a new format gets a new magic. The chain id is not
//! stored: a reader knows its network, and a blob copied to another network does not open there
//! (the chain id is part of the identity).
//!
//! Rules ([`SealedHeader::check`]): `segment_size` is within
//! [`MIN_SEGMENT_SIZE`]`..=`[`MAX_SEGMENT_SIZE`] and `plaintext_len` at most
//! [`MAX_PLAINTEXT_LEN`]. The plaintext is cut into `max(1, ⌈plaintext_len / segment_size⌉)`
//! segments, all of `segment_size` bytes but the last (1 to `segment_size` bytes, or 0 for an
//! empty blob), each sealed with a 16-byte tag, so a sealed blob is exactly
//! `HEADER_LEN + plaintext_len + 16 · segments` bytes ([`SealedHeader::sealed_len`]).

use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};
use crate::ids::ObjectId;
use crate::privacy::ibe::{BlobNonce, Encapsulation, Identity};

/// The first bytes of a sealed blob.
pub const MAGIC: &[u8; 16] = b"floe/sealed/v1\n\0";
/// Length of the BCS of a [`SealedHeader`].
pub const HEADER_BCS_LEN: usize = 32 + 32 + Encapsulation::LEN + 4 + 8;
/// Length of a sealed blob's header: the magic and the BCS.
pub const HEADER_LEN: usize = MAGIC.len() + HEADER_BCS_LEN;
/// Length of a segment's authentication tag.
pub const TAG_LEN: usize = 16;
/// Smallest segment size (4 KiB).
pub const MIN_SEGMENT_SIZE: u32 = 4 << 10;
/// Largest segment size (16 MiB).
pub const MAX_SEGMENT_SIZE: u32 = 16 << 20;
/// The segment size of [`crate::privacy::seal`] (1 MiB).
pub const DEFAULT_SEGMENT_SIZE: u32 = 1 << 20;
/// Longest plaintext: `2⁶³ − 1` bytes, more than any slice holds; the sealed length then fits a
/// `u64`.
pub const MAX_PLAINTEXT_LEN: u64 = i64::MAX as u64;

/// A sealed blob's header (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedHeader {
    /// The policy object that decides who may read.
    pub policy: ObjectId,
    /// The blob's random nonce, part of its identity.
    pub nonce: BlobNonce,
    /// The data key's encapsulation `U`.
    pub encapsulation: Encapsulation,
    /// Plaintext bytes per segment (all but the last).
    pub segment_size: u32,
    /// The plaintext's length.
    pub plaintext_len: u64,
}

/// Why bytes that start with [`MAGIC`] are not a valid header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Fewer bytes than a header.
    #[error("{len} bytes, a header has {HEADER_LEN}")]
    Truncated {
        /// Bytes given.
        len: usize,
    },
    /// Not the BCS of a header (or an invalid encapsulation point).
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A segment size out of bounds.
    #[error("segment size {0}, allowed {MIN_SEGMENT_SIZE}..={MAX_SEGMENT_SIZE}")]
    SegmentSize(u32),
    /// A plaintext length over [`MAX_PLAINTEXT_LEN`].
    #[error("plaintext length {0}, at most {MAX_PLAINTEXT_LEN}")]
    PlaintextTooLong(u64),
}

/// A sealed blob could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The bytes do not start with [`MAGIC`]: not a sealed blob.
    #[error("not a sealed blob")]
    NotSealed,
    /// The bytes start with [`MAGIC`] but the header is invalid (or a header to seal with is).
    #[error("malformed sealed header: {0}")]
    Malformed(#[from] HeaderError),
    /// The sealed blob's length is not the one its header implies (truncated or extended).
    #[error("sealed blob of {actual} bytes, its header implies {expected}")]
    Length {
        /// [`SealedHeader::sealed_len`].
        expected: u64,
        /// Bytes given.
        actual: u64,
    },
    /// A segment that does not authenticate under the key, the header and its position: a
    /// wrong key, or tampered, reordered, spliced or truncated data.
    #[error("segment {segment} does not authenticate")]
    Authentication {
        /// The segment's 0-based position.
        segment: u64,
    },
    /// A segment of the wrong length for its position.
    #[error("segment {segment} has {actual} bytes, expected {expected}")]
    SegmentLength {
        /// The segment's position.
        segment: u64,
        /// The length it must have.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// A segment after the last one.
    #[error("a segment after the last of {segments}")]
    TooManySegments {
        /// The blob's number of segments.
        segments: u64,
    },
    /// Finished before the last segment.
    #[error("finished after {done} of {segments} segments")]
    Incomplete {
        /// Segments processed.
        done: u64,
        /// The blob's number of segments.
        segments: u64,
    },
}

impl SealedHeader {
    /// The header's bytes: [`MAGIC`] ‖ BCS.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..MAGIC.len()].copy_from_slice(MAGIC);
        out[MAGIC.len()..].copy_from_slice(&codec::encode(self));
        out
    }

    /// The header at the start of `bytes` (a sealed blob, or at least its first
    /// [`HEADER_LEN`] bytes) and its length: [`SealError::NotSealed`] without the magic,
    /// [`SealError::Malformed`] if the rest is not a valid header ([`SealedHeader::check`]).
    /// The blob's total length is checked by [`SealedHeader::check_sealed_len`] (done by
    /// [`crate::privacy::open`]).
    pub fn decode(bytes: &[u8]) -> Result<(SealedHeader, usize), SealError> {
        if !bytes.starts_with(MAGIC) {
            return Err(SealError::NotSealed);
        }
        let body = bytes
            .get(MAGIC.len()..HEADER_LEN)
            .ok_or(HeaderError::Truncated { len: bytes.len() })?;
        let header: SealedHeader =
            codec::decode(body, HEADER_BCS_LEN).map_err(HeaderError::Codec)?;
        header.check()?;
        Ok((header, HEADER_LEN))
    }

    /// The rules of the module docs.
    pub fn check(&self) -> Result<(), HeaderError> {
        if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&self.segment_size) {
            return Err(HeaderError::SegmentSize(self.segment_size));
        }
        if self.plaintext_len > MAX_PLAINTEXT_LEN {
            return Err(HeaderError::PlaintextTooLong(self.plaintext_len));
        }
        Ok(())
    }

    /// The blob's identity on `chain`.
    pub fn identity(&self, chain: &str) -> Identity {
        Identity::new(chain, self.policy, self.nonce)
    }

    /// The number of segments: `max(1, ⌈plaintext_len / segment_size⌉)`.
    pub fn segments(&self) -> u64 {
        self.plaintext_len
            .div_ceil(u64::from(self.segment_size.max(1)))
            .max(1)
    }

    /// The sealed length (plaintext and tag) of segment `i`; `None` past the last.
    pub fn sealed_segment_len(&self, i: u64) -> Option<usize> {
        (i < self.segments()).then(|| self.segment_plaintext_len(i) + TAG_LEN)
    }

    /// The plaintext length of segment `i` (0 past the end).
    pub fn segment_plaintext_len(&self, i: u64) -> usize {
        let start = i.saturating_mul(u64::from(self.segment_size));
        let len = self
            .plaintext_len
            .saturating_sub(start)
            .min(u64::from(self.segment_size));
        len as usize
    }

    /// The sealed blob's length: `HEADER_LEN + plaintext_len + TAG_LEN · segments`, for a
    /// header that passes [`SealedHeader::check`] (saturating otherwise).
    pub fn sealed_len(&self) -> u64 {
        (HEADER_LEN as u64)
            .saturating_add(self.plaintext_len)
            .saturating_add(self.segments().saturating_mul(TAG_LEN as u64))
    }

    /// Checks that a sealed blob of `len` bytes has the length this header implies.
    pub fn check_sealed_len(&self, len: u64) -> Result<(), SealError> {
        let expected = self.sealed_len();
        if len != expected {
            return Err(SealError::Length {
                expected,
                actual: len,
            });
        }
        Ok(())
    }

    /// The additional data of every segment: BLAKE3 of the header's bytes.
    pub(crate) fn aad(&self) -> [u8; 32] {
        *blake3::hash(&self.encode()).as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::ibe::{BlobNonce, encapsulate};
    use rand::SeedableRng as _;

    fn header(rng: &mut rand::rngs::StdRng) -> SealedHeader {
        let (mpk, _, _) = crate::privacy::deal(rng, 1, 1).unwrap();
        let id = Identity::new("c", ObjectId([1; 32]), BlobNonce([2; 32]));
        let (encapsulation, _) = encapsulate(rng, &mpk, &id);
        SealedHeader {
            policy: ObjectId([1; 32]),
            nonce: BlobNonce([2; 32]),
            encapsulation,
            segment_size: 5000,
            plaintext_len: 12_345,
        }
    }

    #[test]
    fn layout_and_round_trip() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let h = header(&mut rng);
        let b = h.encode();
        assert_eq!(b.len(), 188);
        assert_eq!(&b[..16], MAGIC);
        assert_eq!(b[16..48], [1; 32]);
        assert_eq!(b[48..80], [2; 32]);
        assert_eq!(b[80..176], h.encapsulation.to_bytes());
        assert_eq!(b[176..180], 5000u32.to_le_bytes());
        assert_eq!(b[180..188], 12_345u64.to_le_bytes());
        let mut blob = b.to_vec();
        blob.extend_from_slice(&[0; 100]);
        assert_eq!(SealedHeader::decode(&blob).unwrap(), (h, HEADER_LEN));
        assert_eq!(h.segments(), 3);
        assert_eq!(
            (0..4)
                .map(|i| h.segment_plaintext_len(i))
                .collect::<Vec<_>>(),
            [5000, 5000, 2345, 0]
        );
        assert_eq!(h.sealed_len(), 188 + 12_345 + 48);
        let empty = SealedHeader {
            plaintext_len: 0,
            ..h
        };
        assert_eq!((empty.segments(), empty.sealed_len()), (1, 188 + 16));
        let exact = SealedHeader {
            plaintext_len: 10_000,
            ..h
        };
        assert_eq!(exact.segments(), 2);
    }

    #[test]
    fn decode_errors_are_typed() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let h = header(&mut rng);
        let b = h.encode();
        for not in [&b""[..], b"floe", b"floe/chunked/v1\n and more bytes"] {
            assert_eq!(SealedHeader::decode(not), Err(SealError::NotSealed));
        }
        assert_eq!(
            SealedHeader::decode(&b[..100]),
            Err(SealError::Malformed(HeaderError::Truncated { len: 100 }))
        );
        for size in [0, MIN_SEGMENT_SIZE - 1, MAX_SEGMENT_SIZE + 1, u32::MAX] {
            let bad = SealedHeader {
                segment_size: size,
                ..h
            };
            assert_eq!(
                SealedHeader::decode(&bad.encode()),
                Err(SealError::Malformed(HeaderError::SegmentSize(size)))
            );
        }
        for size in [MIN_SEGMENT_SIZE, MAX_SEGMENT_SIZE] {
            let ok = SealedHeader {
                segment_size: size,
                ..h
            };
            assert!(SealedHeader::decode(&ok.encode()).is_ok());
        }
        let long = SealedHeader {
            plaintext_len: u64::MAX,
            ..h
        };
        assert_eq!(
            SealedHeader::decode(&long.encode()),
            Err(SealError::Malformed(HeaderError::PlaintextTooLong(
                u64::MAX
            )))
        );
        // The identity point as the encapsulation.
        let mut bad = b;
        bad[80] = 0xc0;
        bad[81..176].fill(0);
        assert!(matches!(
            SealedHeader::decode(&bad),
            Err(SealError::Malformed(HeaderError::Codec(_)))
        ));
        assert_eq!(
            h.check_sealed_len(h.sealed_len() - 1),
            Err(SealError::Length {
                expected: h.sealed_len(),
                actual: h.sealed_len() - 1
            })
        );
    }
}
