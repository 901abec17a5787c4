//! Building a quilt: validation, the symbol size, the bytes.

use std::collections::BTreeMap;

use super::{
    INDEX_PREFIX_BYTES, MAX_INDEX_BYTES, PATCH_PREFIX_BYTES, PatchMeta, QUILT_VERSION, QuiltError,
    QuiltFile, QuiltIndex, QuiltIndexEntry, guess_content_type,
};
use crate::config::{EncodingConfig, MAX_SYMBOL_SIZE};

/// A quilt's bytes, ready to store as a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedQuilt {
    /// The blob's bytes.
    pub data: Vec<u8>,
    /// Its index.
    pub index: QuiltIndex,
    /// The symbol size of the layout (the blob's).
    pub symbol_size: u16,
}

/// Builds a quilt of `files` for a network of `config`'s shard count; see the
/// [module docs](super). The files are validated first: nothing is built from a bad one.
pub fn encode_quilt(
    config: &EncodingConfig,
    files: &[QuiltFile],
) -> Result<EncodedQuilt, QuiltError> {
    if files.is_empty() {
        return Err(QuiltError::Empty);
    }
    let mut metas: BTreeMap<&str, (PatchMeta, &[u8])> = BTreeMap::new();
    for f in files {
        let meta = PatchMeta {
            identifier: f.identifier.clone(),
            tags: f.tags.clone(),
            content_type: f
                .content_type
                .clone()
                .unwrap_or_else(|| guess_content_type(&f.identifier)),
        };
        meta.check()?;
        if metas.insert(&f.identifier, (meta, &f.data)).is_some() {
            return Err(QuiltError::DuplicateIdentifier(f.identifier.clone()));
        }
    }
    let headers: Vec<(Vec<u8>, &[u8])> = metas
        .values()
        .map(|(meta, data)| (header(meta, data.len() as u64), *data))
        .collect();
    // The index's length does not depend on the symbol size (its numbers are fixed-width).
    let mut index = QuiltIndex {
        patches: metas
            .values()
            .map(|(meta, _)| QuiltIndexEntry {
                identifier: meta.identifier.clone(),
                tags: meta.tags.clone(),
                content_type: meta.content_type.clone(),
                start_symbol: 0,
                end_symbol: 0,
            })
            .collect(),
    };
    let index_len = crate::codec::encode(&index).len();
    if index_len > MAX_INDEX_BYTES {
        return Err(QuiltError::IndexTooLarge {
            size: index_len as u64,
            limit: MAX_INDEX_BYTES as u64,
        });
    }
    let mut sizes = Vec::with_capacity(headers.len() + 1);
    sizes.push((INDEX_PREFIX_BYTES + index_len) as u64);
    sizes.extend(headers.iter().map(|(h, d)| (h.len() + d.len()) as u64));

    let source = config.source_symbols();
    let symbols = |s: u64| -> u64 { sizes.iter().map(|b| b.div_ceil(s).max(1)).sum() };
    let max_s = u64::from(MAX_SYMBOL_SIZE);
    if symbols(max_s) > source {
        let index_symbols = sizes[0].div_ceil(max_s);
        let max = source.saturating_sub(index_symbols) as usize;
        return Err(if files.len() > max {
            QuiltError::TooManyPatches {
                count: files.len(),
                max,
            }
        } else {
            QuiltError::TooLarge {
                max: config.max_blob_size(),
            }
        });
    }
    // The smallest even symbol size at which everything fits (`symbols` only falls as `s`
    // grows): binary search over s / 2.
    let (mut lo, mut hi) = (1u64, max_s / 2);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if symbols(mid * 2) <= source {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let s = lo * 2;
    let total_symbols = symbols(s);
    // Padded so the blob's symbol size is exactly `s`.
    let len = (total_symbols * s).max((s - 2) * source + 1);
    debug_assert_eq!(config.symbol_size(len).map(u64::from), Ok(s));
    let len = usize::try_from(len).map_err(|_| QuiltError::TooLarge {
        max: config.max_blob_size(),
    })?;
    let s_usize = s as usize;

    let mut data = vec![0u8; len];
    let mut next = sizes[0].div_ceil(s);
    for (entry, (_, b)) in index
        .patches
        .iter_mut()
        .zip(headers.iter().zip(&sizes[1..]))
    {
        let n = b.div_ceil(s).max(1);
        entry.start_symbol = next as u32;
        entry.end_symbol = (next + n) as u32;
        next += n;
    }
    let index_bytes = crate::codec::encode(&index);
    data[0] = QUILT_VERSION;
    data[1..INDEX_PREFIX_BYTES].copy_from_slice(&(index_bytes.len() as u32).to_le_bytes());
    data[INDEX_PREFIX_BYTES..INDEX_PREFIX_BYTES + index_bytes.len()].copy_from_slice(&index_bytes);
    for (entry, (head, body)) in index.patches.iter().zip(&headers) {
        let at = entry.start_symbol as usize * s_usize;
        data[at..at + head.len()].copy_from_slice(head);
        data[at + head.len()..at + head.len() + body.len()].copy_from_slice(body);
    }
    Ok(EncodedQuilt {
        data,
        index,
        symbol_size: s as u16,
    })
}

/// A patch's header: version ‖ data length u64 LE ‖ meta length u32 LE ‖ BCS(meta).
fn header(meta: &PatchMeta, data_len: u64) -> Vec<u8> {
    let meta = crate::codec::encode(meta);
    let mut h = Vec::with_capacity(PATCH_PREFIX_BYTES + meta.len());
    h.push(QUILT_VERSION);
    h.extend_from_slice(&data_len.to_le_bytes());
    h.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    h.extend_from_slice(&meta);
    h
}
