//! Canonical byte encoding: BCS with size limits.
//!
//! Everything that is signed, hashed or sent between processes is BCS. Decoders always take a
//! maximum input size: a peer cannot make us allocate more than it sent, and cannot send more
//! than the protocol allows for that message. Trailing bytes are an error (BCS is canonical).

use serde::{Serialize, de::DeserializeOwned};

/// A message could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input is larger than the limit for this message.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Input size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not a valid BCS encoding of the expected type.
    #[error("malformed message: {0}")]
    Malformed(#[from] bcs::Error),
}

/// Encodes a value as BCS.
///
/// BCS fails only for types that are not representable (maps with non-canonical keys, sequences
/// longer than 2^31); every protocol type is representable, so a failure is a bug.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    bcs::to_bytes(value).expect("protocol types are always BCS-serialisable")
}

/// Decodes BCS bytes, refusing inputs longer than `limit` and any trailing bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, CodecError> {
    if bytes.len() > limit {
        return Err(CodecError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    Ok(bcs::from_bytes(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_trailing_bytes() {
        let v: Vec<u8> = vec![1, 2, 3];
        let b = encode(&v);
        assert_eq!(decode::<Vec<u8>>(&b, 16).unwrap(), v);
        assert!(matches!(
            decode::<Vec<u8>>(&b, 2),
            Err(CodecError::TooLarge { .. })
        ));
        let mut t = b;
        t.push(0);
        assert!(matches!(
            decode::<Vec<u8>>(&t, 16),
            Err(CodecError::Malformed(_))
        ));
        // A length prefix that claims far more than is present fails without allocating it.
        let lie = [0xff, 0xff, 0xff, 0xff, 0x07, 1, 2];
        assert!(decode::<Vec<u8>>(&lie, 16).is_err());
    }
}
