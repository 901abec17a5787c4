//! HTTP `Range` headers: one range of bytes (`bytes=a-b`, `bytes=a-`, `bytes=-n`).

use std::ops::Range;

/// A parsed `Range` header (one range; Walrus serves no multi-range responses either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=a-b` (inclusive) or `bytes=a-` (to the end).
    From {
        /// First byte.
        start: u64,
        /// Last byte (inclusive), if given.
        end: Option<u64>,
    },
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

/// Why a `Range` header cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// Not `bytes=a-b`, `bytes=a-` or `bytes=-n`, or more than one range.
    #[error(
        "unsupported Range header {0:?}: expected one range, bytes=START-END, bytes=START- or bytes=-SUFFIX"
    )]
    Malformed(String),
    /// The range lies outside the blob.
    #[error("range {range:?} is outside the blob of {len} bytes")]
    Unsatisfiable {
        /// The header.
        range: String,
        /// The blob's length.
        len: u64,
    },
}

impl ByteRange {
    /// Parses a `Range` header value.
    pub fn parse(header: &str) -> Result<ByteRange, RangeError> {
        let bad = || RangeError::Malformed(header.to_owned());
        let spec = header.trim().strip_prefix("bytes=").ok_or_else(bad)?.trim();
        if spec.contains(',') {
            return Err(bad());
        }
        let (a, b) = spec.split_once('-').ok_or_else(bad)?;
        let num = |s: &str| -> Result<u64, RangeError> {
            if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse().map_err(|_| bad())
        };
        let (a, b) = (a.trim(), b.trim());
        if a.is_empty() {
            let n = num(b)?;
            if n == 0 {
                return Err(bad());
            }
            return Ok(ByteRange::Suffix(n));
        }
        let start = num(a)?;
        let end = if b.is_empty() { None } else { Some(num(b)?) };
        if end.is_some_and(|e| e < start) {
            return Err(bad());
        }
        Ok(ByteRange::From { start, end })
    }

    /// The bytes of a blob of `len` bytes this range selects (end exclusive; never empty).
    pub fn resolve(self, len: u64, header: &str) -> Result<Range<u64>, RangeError> {
        let unsatisfiable = || RangeError::Unsatisfiable {
            range: header.to_owned(),
            len,
        };
        match self {
            ByteRange::From { start, end } => {
                if start >= len {
                    return Err(unsatisfiable());
                }
                let last = end.map_or(len - 1, |e| e.min(len - 1));
                Ok(start..last + 1)
            }
            ByteRange::Suffix(n) => {
                if len == 0 {
                    return Err(unsatisfiable());
                }
                Ok(len - n.min(len)..len)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(h: &str, len: u64) -> Result<Range<u64>, RangeError> {
        ByteRange::parse(h)?.resolve(len, h)
    }

    #[test]
    fn ranges() {
        assert_eq!(resolve("bytes=0-9", 100), Ok(0..10));
        assert_eq!(resolve("bytes=10-", 100), Ok(10..100));
        assert_eq!(resolve("bytes=-10", 100), Ok(90..100));
        assert_eq!(resolve("bytes=-1000", 100), Ok(0..100));
        assert_eq!(resolve("bytes=90-1000", 100), Ok(90..100));
        assert_eq!(resolve("bytes=99-99", 100), Ok(99..100));
        assert_eq!(resolve(" bytes=1-2 ", 100), Ok(1..3));
    }

    #[test]
    fn bad_ranges() {
        for h in [
            "bytes=5-1",
            "bytes=a-b",
            "bytes=-0",
            "bytes=-",
            "items=0-1",
            "bytes=0-1,4-5",
            "bytes=+1-2",
            "bytes=99999999999999999999-",
        ] {
            assert!(
                matches!(resolve(h, 100), Err(RangeError::Malformed(_))),
                "{h}"
            );
        }
        assert!(matches!(
            resolve("bytes=100-", 100),
            Err(RangeError::Unsatisfiable { len: 100, .. })
        ));
        assert!(matches!(
            resolve("bytes=0-0", 0),
            Err(RangeError::Unsatisfiable { .. })
        ));
        assert!(matches!(
            resolve("bytes=-5", 0),
            Err(RangeError::Unsatisfiable { .. })
        ));
    }
}
