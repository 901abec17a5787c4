//! Identifiers, indices and amounts.
//!
//! Every id is a newtype so that a shard index can never be passed where a sliver index is
//! expected. Fixed-size byte ids serialise as raw bytes in BCS (no length prefix) and as their
//! text form in human-readable formats (JSON), so the RPC shows `BlobId`s exactly as the CLI
//! prints them.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Why a text id could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdParseError {
    /// The text is not valid in the id's alphabet (URL-safe base64 or hex).
    #[error("invalid {kind} {text:?}: not valid {alphabet}")]
    BadAlphabet {
        /// The id type.
        kind: &'static str,
        /// The text that failed.
        text: String,
        /// The expected alphabet.
        alphabet: &'static str,
    },
    /// The text decodes to the wrong number of bytes.
    #[error("invalid {kind}: expected {expected} bytes, got {got}")]
    WrongLength {
        /// The id type.
        kind: &'static str,
        /// Bytes expected.
        expected: usize,
        /// Bytes the text decoded to.
        got: usize,
    },
    /// A number that does not parse or is out of range.
    #[error("invalid {kind} {text:?}: {reason}")]
    BadNumber {
        /// The id type.
        kind: &'static str,
        /// The text that failed.
        text: String,
        /// Why.
        reason: String,
    },
}

/// The text alphabet of a fixed-size byte id.
#[derive(Debug, Clone, Copy)]
#[doc(hidden)]
pub enum TextForm {
    /// URL-safe base64 without padding (blob ids).
    Base64Url,
    /// `0x`-prefixed lowercase hex (object ids, keys).
    Hex,
}

impl TextForm {
    #[doc(hidden)]
    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            TextForm::Base64Url => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
            TextForm::Hex => format!("0x{}", hex::encode(bytes)),
        }
    }

    #[doc(hidden)]
    pub fn decode<const N: usize>(
        self,
        kind: &'static str,
        text: &str,
    ) -> Result<[u8; N], IdParseError> {
        let decoded = match self {
            TextForm::Base64Url => base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text.trim())
                .map_err(|_| IdParseError::BadAlphabet {
                    kind,
                    text: text.to_owned(),
                    alphabet: "URL-safe base64 without padding",
                })?,
            TextForm::Hex => {
                let t = text.trim();
                let t = t.strip_prefix("0x").unwrap_or(t);
                hex::decode(t).map_err(|_| IdParseError::BadAlphabet {
                    kind,
                    text: text.to_owned(),
                    alphabet: "hex",
                })?
            }
        };
        <[u8; N]>::try_from(decoded.as_slice()).map_err(|_| IdParseError::WrongLength {
            kind,
            expected: N,
            got: decoded.len(),
        })
    }
}

/// Defines a fixed-size byte newtype with text form, `FromStr`, and dual-format serde.
#[macro_export]
#[doc(hidden)]
macro_rules! fixed_bytes {
    ($(#[$meta:meta])* $name:ident, $len:expr, $form:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&$form.encode(&self.0))
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ids::IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $form.decode::<$len>(stringify!($name), s).map(Self)
            }
        }

        impl From<[u8; $len]> for $name {
            fn from(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&self.to_string())
                } else {
                    use ::serde::ser::SerializeTuple as _;
                    let mut t = s.serialize_tuple($len)?;
                    for b in &self.0 {
                        t.serialize_element(b)?;
                    }
                    t.end()
                }
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                    s.parse().map_err(::serde::de::Error::custom)
                } else {
                    $crate::ids::deserialize_array::<D, $len>(d).map(Self)
                }
            }
        }
    };
}

#[doc(hidden)]
pub fn deserialize_array<'de, D: serde::Deserializer<'de>, const N: usize>(
    d: D,
) -> Result<[u8; N], D::Error> {
    struct V<const N: usize>;
    impl<'de, const N: usize> serde::de::Visitor<'de> for V<N> {
        type Value = [u8; N];
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{N} bytes")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
            let mut out = [0u8; N];
            for (i, b) in out.iter_mut().enumerate() {
                *b = seq
                    .next_element()?
                    .ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
            }
            Ok(out)
        }
    }
    d.deserialize_tuple(N, V::<N>)
}

fixed_bytes!(
    /// The id of a blob: BLAKE3(encoding type ‖ unencoded length u64 LE ‖ Merkle root of the
    /// sliver-pair hashes). Text form: URL-safe base64 without padding.
    BlobId,
    32,
    TextForm::Base64Url
);

fixed_bytes!(
    /// The id of an object on the ledger (storage resource, blob object, staked WAL, proposal).
    ObjectId,
    32,
    TextForm::Hex
);

fixed_bytes!(
    /// The id of a storage node on the ledger.
    NodeId,
    32,
    TextForm::Hex
);

impl BlobId {
    /// The blob id read as a big-endian 256-bit integer, modulo `n`. This is the rotation of sliver
    /// pairs over shards (Walrus `mapping.rs`).
    pub fn rotation(&self, n_shards: u16) -> u16 {
        let n = u32::from(n_shards.max(1));
        let rem = self
            .0
            .iter()
            .fold(0u32, |acc, &b| ((acc << 8) | u32::from(b)) % n);
        rem as u16
    }
}

/// Defines a numeric index newtype with `Display`/`FromStr`.
macro_rules! numeric_id {
    ($(#[$meta:meta])* $name:ident, $inner:ty) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl $name {
            /// The raw value.
            pub const fn get(self) -> $inner {
                self.0
            }

            /// The value as a `usize`, for indexing.
            pub const fn as_usize(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse::<$inner>().map(Self).map_err(|e| IdParseError::BadNumber {
                    kind: stringify!($name),
                    text: s.to_owned(),
                    reason: e.to_string(),
                })
            }
        }

        impl From<$inner> for $name {
            fn from(v: $inner) -> Self {
                Self(v)
            }
        }
    };
}

numeric_id!(
    /// A ledger epoch. Storage is bought in whole epochs.
    Epoch,
    u32
);
numeric_id!(
    /// A shard: the unit of storage responsibility and of signature weight.
    ShardIndex,
    u16
);
numeric_id!(
    /// A sliver pair `p` = (primary sliver `p`, secondary sliver `n-1-p`).
    SliverPairIndex,
    u16
);
numeric_id!(
    /// The index of a sliver along its own axis (row for primary, column for secondary).
    SliverIndex,
    u16
);

impl Epoch {
    /// The next epoch.
    pub fn next(self) -> Epoch {
        Epoch(self.0.saturating_add(1))
    }
}

impl SliverPairIndex {
    /// The shard that holds this pair for a blob rotated by `rotation` (see [`BlobId::rotation`]).
    pub fn to_shard(self, rotation: u16, n_shards: u16) -> ShardIndex {
        ShardIndex(((u32::from(self.0) + u32::from(rotation)) % u32::from(n_shards)) as u16)
    }

    /// The sliver index of this pair's sliver on `axis`.
    pub fn sliver_index(self, axis: crate::SliverAxis, n_shards: u16) -> SliverIndex {
        match axis {
            crate::SliverAxis::Primary => SliverIndex(self.0),
            crate::SliverAxis::Secondary => SliverIndex(n_shards - 1 - self.0),
        }
    }
}

impl ShardIndex {
    /// The sliver pair this shard holds for a blob rotated by `rotation`.
    pub fn to_pair(self, rotation: u16, n_shards: u16) -> SliverPairIndex {
        let n = u32::from(n_shards);
        SliverPairIndex(((n + u32::from(self.0) - u32::from(rotation) % n) % n) as u16)
    }
}

impl SliverIndex {
    /// The pair holding this sliver on `axis`.
    pub fn to_pair(self, axis: crate::SliverAxis, n_shards: u16) -> SliverPairIndex {
        match axis {
            crate::SliverAxis::Primary => SliverPairIndex(self.0),
            crate::SliverAxis::Secondary => SliverPairIndex(n_shards - 1 - self.0),
        }
    }
}

/// FROST per WAL.
pub const FROST_PER_WAL: u64 = 1_000_000_000;

/// An amount of WAL, counted in FROST (1 WAL = 10^9 FROST).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Frost(pub u64);

impl Frost {
    /// Zero FROST.
    pub const ZERO: Frost = Frost(0);

    /// Whole WAL to FROST, `None` on overflow.
    pub fn from_wal(wal: u64) -> Option<Frost> {
        wal.checked_mul(FROST_PER_WAL).map(Frost)
    }

    /// Checked addition.
    pub fn checked_add(self, o: Frost) -> Option<Frost> {
        self.0.checked_add(o.0).map(Frost)
    }

    /// Checked subtraction.
    pub fn checked_sub(self, o: Frost) -> Option<Frost> {
        self.0.checked_sub(o.0).map(Frost)
    }

    /// Checked multiplication by a count.
    pub fn checked_mul(self, k: u64) -> Option<Frost> {
        self.0.checked_mul(k).map(Frost)
    }
}

impl fmt::Display for Frost {
    /// Shown in WAL with up to nine decimals, trailing zeros trimmed: `1.5 WAL`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / FROST_PER_WAL;
        let frac = self.0 % FROST_PER_WAL;
        if frac == 0 {
            write!(f, "{whole} WAL")
        } else {
            let frac = format!("{frac:09}");
            write!(f, "{whole}.{} WAL", frac.trim_end_matches('0'))
        }
    }
}

impl fmt::Debug for Frost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Frost({})", self.0)
    }
}

impl FromStr for Frost {
    type Err = IdParseError;

    /// Parses a WAL amount with up to nine decimals (`"1.5"`, `"1.5 WAL"`), or FROST with a
    /// `FROST` suffix (`"1500 FROST"`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| IdParseError::BadNumber {
            kind: "amount",
            text: s.to_owned(),
            reason: reason.to_owned(),
        };
        let t = s.trim();
        if let Some(frost) = t.strip_suffix("FROST").or_else(|| t.strip_suffix("frost")) {
            return frost
                .trim()
                .parse::<u64>()
                .map(Frost)
                .map_err(|e| bad(&e.to_string()));
        }
        let t = t
            .strip_suffix("WAL")
            .or_else(|| t.strip_suffix("wal"))
            .unwrap_or(t)
            .trim();
        let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
        if whole.is_empty() && frac.is_empty() {
            return Err(bad("empty amount"));
        }
        if frac.len() > 9 {
            return Err(bad("more than nine decimals (1 FROST = 0.000000001 WAL)"));
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole
                .parse()
                .map_err(|e: std::num::ParseIntError| bad(&e.to_string()))?
        };
        let frac_val: u64 = if frac.is_empty() {
            0
        } else {
            if !frac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("decimals must be digits"));
            }
            format!("{frac:0<9}")
                .parse()
                .map_err(|e: std::num::ParseIntError| bad(&e.to_string()))?
        };
        whole
            .checked_mul(FROST_PER_WAL)
            .and_then(|w| w.checked_add(frac_val))
            .map(Frost)
            .ok_or_else(|| bad("too large"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_id_text_round_trip_and_errors() {
        let id = BlobId([7u8; 32]);
        let text = id.to_string();
        assert_eq!(text.len(), 43);
        assert!(!text.contains('='));
        assert_eq!(text.parse::<BlobId>().unwrap(), id);
        assert!(matches!(
            "AAAA".parse::<BlobId>(),
            Err(IdParseError::WrongLength {
                expected: 32,
                got: 3,
                ..
            })
        ));
        assert!(matches!(
            "not base64!!".parse::<BlobId>(),
            Err(IdParseError::BadAlphabet { .. })
        ));
        // Standard (non URL-safe) alphabet is refused.
        let std_b64 = "+".repeat(43);
        assert!(std_b64.parse::<BlobId>().is_err());
    }

    #[test]
    fn blob_id_serde_forms() {
        let id = BlobId([0xAB; 32]);
        assert_eq!(bcs::to_bytes(&id).unwrap(), vec![0xAB; 32]);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<BlobId>(&json).unwrap(), id);
        assert_eq!(bcs::from_bytes::<BlobId>(&[0xAB; 32]).unwrap(), id);
        assert!(bcs::from_bytes::<BlobId>(&[0xAB; 31]).is_err());
    }

    #[test]
    fn object_id_hex() {
        let id = ObjectId([1; 32]);
        let s = id.to_string();
        assert!(s.starts_with("0x01"));
        assert_eq!(s.parse::<ObjectId>().unwrap(), id);
        assert_eq!(s.trim_start_matches("0x").parse::<ObjectId>().unwrap(), id);
    }

    #[test]
    fn rotation_is_big_endian_mod_n() {
        let mut b = [0u8; 32];
        b[31] = 5;
        assert_eq!(BlobId(b).rotation(100), 5);
        b[30] = 1; // 256 + 5 = 261
        assert_eq!(BlobId(b).rotation(100), 61);
        assert_eq!(BlobId([0xff; 32]).rotation(1000), {
            // 2^256 - 1 mod 1000
            let mut r = 0u32;
            for _ in 0..32 {
                r = (r * 256 + 255) % 1000;
            }
            r as u16
        });
    }

    #[test]
    fn shard_pair_mapping_inverts() {
        for n in [4u16, 10, 100, 1000] {
            for rot in [0, 1, n / 2, n - 1] {
                for p in 0..n {
                    let s = SliverPairIndex(p).to_shard(rot, n);
                    assert_eq!(s.to_pair(rot, n), SliverPairIndex(p));
                }
            }
        }
    }

    #[test]
    fn frost_parse_and_display() {
        assert_eq!("1.5".parse::<Frost>().unwrap(), Frost(1_500_000_000));
        assert_eq!("2 WAL".parse::<Frost>().unwrap(), Frost(2 * FROST_PER_WAL));
        assert_eq!("7 FROST".parse::<Frost>().unwrap(), Frost(7));
        assert_eq!(".000000001".parse::<Frost>().unwrap(), Frost(1));
        assert!("1.0000000001".parse::<Frost>().is_err());
        assert!("abc".parse::<Frost>().is_err());
        assert!("99999999999999999999".parse::<Frost>().is_err());
        assert_eq!(Frost(1_500_000_000).to_string(), "1.5 WAL");
        assert_eq!(Frost(3 * FROST_PER_WAL).to_string(), "3 WAL");
        assert_eq!(Frost(1).to_string(), "0.000000001 WAL");
    }
}
