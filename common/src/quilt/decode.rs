//! Reading a quilt's index and patches from bytes, with limits, never panicking.

use std::ops::Range;

use super::{
    INDEX_PREFIX_BYTES, MAX_PATCH_META_BYTES, PATCH_PREFIX_BYTES, PatchMeta, QUILT_VERSION,
    QuiltError, QuiltIndex, check_identifier,
};

fn version(b: u8) -> Result<(), QuiltError> {
    if b == QUILT_VERSION {
        Ok(())
    } else {
        Err(QuiltError::UnknownVersion(b))
    }
}

/// From the first [`INDEX_PREFIX_BYTES`] (or more) bytes of a quilt: the number of bytes from
/// the quilt's start that hold the index (prefix included), refusing an index longer than
/// `limit`.
pub fn index_prefix(bytes: &[u8], limit: usize) -> Result<usize, QuiltError> {
    let Some(prefix) = bytes.get(..INDEX_PREFIX_BYTES) else {
        return Err(QuiltError::Truncated {
            need: INDEX_PREFIX_BYTES as u64,
            have: bytes.len() as u64,
        });
    };
    version(prefix[0])?;
    let len = u32::from_le_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
    if len > limit {
        return Err(QuiltError::IndexTooLarge {
            size: len as u64,
            limit: limit as u64,
        });
    }
    Ok(INDEX_PREFIX_BYTES + len)
}

/// Decodes the index from the start of a quilt of `total_symbols` symbols (at least
/// [`index_prefix`] bytes), refusing an index longer than `limit`. Checks that identifiers
/// are valid, unique and sorted, and that patches are in order, after the index, and within
/// the quilt.
pub fn decode_index(
    bytes: &[u8],
    symbol_size: u16,
    total_symbols: u64,
    limit: usize,
) -> Result<QuiltIndex, QuiltError> {
    let end = index_prefix(bytes, limit)?;
    let Some(body) = bytes.get(INDEX_PREFIX_BYTES..end) else {
        return Err(QuiltError::Truncated {
            need: end as u64,
            have: bytes.len() as u64,
        });
    };
    let index: QuiltIndex = crate::codec::decode(body, limit)
        .map_err(|e| QuiltError::Malformed(format!("index: {e}")))?;
    let s = u64::from(symbol_size.max(1));
    let mut next = (end as u64).div_ceil(s);
    let mut last: Option<&str> = None;
    for p in &index.patches {
        check_identifier(&p.identifier)?;
        if last.is_some_and(|l| l >= p.identifier.as_str()) {
            return Err(QuiltError::Malformed(format!(
                "index entries not sorted or not unique at {:?}",
                p.identifier
            )));
        }
        last = Some(&p.identifier);
        let (start, stop) = (u64::from(p.start_symbol), u64::from(p.end_symbol));
        if start < next || stop <= start || stop > total_symbols {
            return Err(QuiltError::Malformed(format!(
                "patch {:?} has symbols {start}..{stop}, outside {next}..{total_symbols}",
                p.identifier
            )));
        }
        next = stop;
    }
    if index.patches.is_empty() {
        return Err(QuiltError::Malformed("the index lists no patch".into()));
    }
    Ok(index)
}

/// A patch's header, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchHeader {
    /// Identifier, tags and content type.
    pub meta: PatchMeta,
    /// Where the data is, relative to the patch's first byte.
    pub data: Range<u64>,
}

impl PatchHeader {
    /// Bytes of the header (where the data starts).
    pub fn header_len(&self) -> u64 {
        self.data.start
    }
}

/// Decodes the header of a patch from the first bytes of its span (`bytes` may be a prefix
/// of it: [`QuiltError::Truncated`] says how many are needed). `span` is the patch's length in
/// bytes (its symbols, clipped to the quilt): the header and data must fill exactly its
/// symbols of `symbol_size` bytes, else the patch id does not name this patch.
pub fn decode_patch(bytes: &[u8], span: u64, symbol_size: u16) -> Result<PatchHeader, QuiltError> {
    let Some(prefix) = bytes.get(..PATCH_PREFIX_BYTES) else {
        return Err(QuiltError::Truncated {
            need: PATCH_PREFIX_BYTES as u64,
            have: bytes.len() as u64,
        });
    };
    version(prefix[0])?;
    let mut len8 = [0u8; 8];
    len8.copy_from_slice(&prefix[1..9]);
    let data_len = u64::from_le_bytes(len8);
    let meta_len = u32::from_le_bytes([prefix[9], prefix[10], prefix[11], prefix[12]]) as usize;
    if meta_len > MAX_PATCH_META_BYTES {
        return Err(QuiltError::Malformed(format!(
            "patch metadata of {meta_len} bytes exceeds the limit of {MAX_PATCH_META_BYTES}"
        )));
    }
    let header_len = PATCH_PREFIX_BYTES + meta_len;
    let Some(meta) = bytes.get(PATCH_PREFIX_BYTES..header_len) else {
        return Err(QuiltError::Truncated {
            need: header_len as u64,
            have: bytes.len() as u64,
        });
    };
    let meta: PatchMeta = crate::codec::decode(meta, MAX_PATCH_META_BYTES)
        .map_err(|e| QuiltError::Malformed(format!("patch header: {e}")))?;
    meta.check()?;
    let end = (header_len as u64)
        .checked_add(data_len)
        .ok_or_else(|| QuiltError::Malformed("patch length overflows".into()))?;
    let s = u64::from(symbol_size.max(1));
    if end > span || end.div_ceil(s).max(1) != span.div_ceil(s) {
        return Err(QuiltError::Malformed(format!(
            "a patch of {end} bytes does not fill a span of {span} bytes in {s}-byte symbols"
        )));
    }
    Ok(PatchHeader {
        meta,
        data: header_len as u64..end,
    })
}
