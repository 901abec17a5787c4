//! Patch ids: a quilt's blob id and a patch's symbols.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::QUILT_VERSION;
use crate::BlobId;
use crate::ids::{IdParseError, TextForm};

/// Bytes of a patch id.
const LEN: usize = 41;

/// A patch of a quilt: `quilt blob id ‖ 0x01 ‖ start symbol u32 LE ‖ end symbol u32 LE`, as
/// URL-safe base64 without padding (in JSON too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QuiltPatchId {
    /// The quilt's blob id.
    pub quilt_id: BlobId,
    /// The patch's first symbol.
    pub start_symbol: u32,
    /// The symbol after its last one.
    pub end_symbol: u32,
}

impl QuiltPatchId {
    /// The 41 bytes.
    pub fn to_bytes(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[..32].copy_from_slice(&self.quilt_id.0);
        b[32] = QUILT_VERSION;
        b[33..37].copy_from_slice(&self.start_symbol.to_le_bytes());
        b[37..41].copy_from_slice(&self.end_symbol.to_le_bytes());
        b
    }

    /// From the 41 bytes (version 1 only).
    pub fn from_bytes(b: &[u8; LEN]) -> Result<Self, IdParseError> {
        if b[32] != QUILT_VERSION {
            return Err(IdParseError::BadNumber {
                kind: "quilt patch id",
                text: TextForm::Base64Url.encode(b),
                reason: format!("unknown version {}", b[32]),
            });
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(&b[..32]);
        let word = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        Ok(QuiltPatchId {
            quilt_id: BlobId(id),
            start_symbol: word(33),
            end_symbol: word(37),
        })
    }
}

impl fmt::Display for QuiltPatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&TextForm::Base64Url.encode(&self.to_bytes()))
    }
}

impl FromStr for QuiltPatchId {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, IdParseError> {
        let b: [u8; LEN] = TextForm::Base64Url.decode("quilt patch id", s)?;
        Self::from_bytes(&b)
    }
}

impl Serialize for QuiltPatchId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for QuiltPatchId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_and_errors() {
        let id = QuiltPatchId {
            quilt_id: BlobId([7; 32]),
            start_symbol: 3,
            end_symbol: 70_000,
        };
        let text = id.to_string();
        assert_eq!(text.len(), 55);
        assert_eq!(text.parse::<QuiltPatchId>().unwrap(), id);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{text}\""));
        let mut b = id.to_bytes();
        b[32] = 2;
        assert!(
            TextForm::Base64Url
                .encode(&b)
                .parse::<QuiltPatchId>()
                .is_err()
        );
        assert!(id.quilt_id.to_string().parse::<QuiltPatchId>().is_err());
        assert!("!!".parse::<QuiltPatchId>().is_err());
    }
}
