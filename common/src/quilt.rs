//! Quilts: many small files ("patches") stored as one ordinary blob, each readable on its own.
//!
//! A small file stored as its own blob pays a whole blob: the minimum storage unit, metadata of
//! `2n` hashes on every node, and three ledger transactions. A quilt packs many files into one
//! blob and gives each a [`QuiltPatchId`] from which it can be read alone.
//!
//! # Layout (version 1)
//!
//! A blob is laid out row-major in `rows × cols` symbols of `s` bytes
//! ([`EncodingConfig`]); the quilt places everything on **symbol boundaries**, counting symbols
//! from 0 in row-major order:
//!
//! ```text
//! symbol 0:            0x01 ‖ index length u32 LE ‖ BCS(QuiltIndex)          (zero padded)
//! symbol start_i:      patch i = 0x01 ‖ data length u64 LE ‖ meta length u32 LE
//!                                ‖ BCS(PatchMeta) ‖ data                     (zero padded)
//! ...
//! after the last patch: zero padding up to the quilt's length
//! ```
//!
//! * The index ([`QuiltIndex`]) lists every patch sorted by identifier (unique, compared as
//!   bytes) with its tags, content type and symbols `start_symbol..end_symbol`; patches follow
//!   in that order, each on the symbols right after the previous one.
//! * Each patch starts with a self-describing header ([`PatchMeta`]: identifier, tags, content
//!   type) so it can be read by its patch id alone, without the index. A patch occupies exactly
//!   `ceil((13 + meta length + data length) / s)` symbols; a patch id whose span differs is
//!   refused.
//! * The symbol size `s` is the smallest even size at which the index and all patches fit the
//!   blob's `rows·cols` source symbols. The quilt's length is the layout's, zero padded (free:
//!   the encoded size depends only on `s`) to at least `(s-2)·rows·cols + 1` bytes, so that the
//!   blob's own symbol size ([`EncodingConfig::symbol_size`]) is exactly `s`.
//! * Limits: identifiers of 1 to [`MAX_IDENTIFIER_BYTES`] bytes without control characters
//!   and without leading or trailing whitespace; tags of at most [`MAX_TAG_BYTES`] (their
//!   BCS encoding) per patch, with non-empty keys; a content type of printable ASCII of at
//!   most [`MAX_CONTENT_TYPE_BYTES`]; an index of at most [`MAX_INDEX_BYTES`].
//!
//! # A deviation from Walrus
//!
//! Walrus aligns patches to *columns* of the blob matrix, so a quilt holds at most `cols − 1`
//! patches (66 at 100 shards) and reading one patch fetches whole columns. Floe aligns to
//! *symbols*: a quilt holds up to `rows·cols − 1` patches (2,277 at 100 shards), and since a
//! streaming read fetches, of a partly covered row, only the symbols a range needs (each with a
//! Merkle proof), reading a patch costs about its own size. The byte format is therefore
//! Floe's own, not Walrus's.
//!
//! # Patch ids
//!
//! `quilt blob id (32 bytes) ‖ version 0x01 ‖ start symbol u32 LE ‖ end symbol u32 LE` (41
//! bytes), as URL-safe base64 without padding (55 characters). A patch id names symbols of a
//! blob: reading by patch id returns the patch whose header is at those symbols; reading by
//! identifier goes through the index.
//!
//! Everything here is pure: the SDK reads the byte ranges and hands them to these decoders,
//! which take size limits and never panic on hostile bytes.

mod decode;
mod layout;
mod patch_id;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use decode::{PatchHeader, decode_index, decode_patch, index_prefix};
pub use layout::{EncodedQuilt, encode_quilt};
pub use patch_id::QuiltPatchId;

/// The version byte of the index, of every patch header and of patch ids.
pub const QUILT_VERSION: u8 = 1;
/// Bytes before the index's BCS: version, length u32 LE.
pub const INDEX_PREFIX_BYTES: usize = 5;
/// Bytes of a patch header before its metadata: version, data length u64 LE, meta length u32
/// LE.
pub const PATCH_PREFIX_BYTES: usize = 13;
/// The longest identifier, in bytes.
pub const MAX_IDENTIFIER_BYTES: usize = 1024;
/// The most tag bytes of one patch (the BCS encoding of its tag map).
pub const MAX_TAG_BYTES: usize = 64 * 1024;
/// The longest content type, in bytes.
pub const MAX_CONTENT_TYPE_BYTES: usize = 256;
/// The largest patch metadata (identifier, tags and content type with their BCS framing).
pub const MAX_PATCH_META_BYTES: usize =
    MAX_IDENTIFIER_BYTES + MAX_TAG_BYTES + MAX_CONTENT_TYPE_BYTES + 16;
/// The largest index a quilt may have (and readers accept by default).
pub const MAX_INDEX_BYTES: usize = 16 << 20;
/// The content type of a patch whose type is neither given nor guessed from its identifier.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// A file to put in a quilt.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuiltFile {
    /// Its identifier, unique in the quilt (e.g. a file name or a relative path).
    pub identifier: String,
    /// Key/value tags, stored in the index and the patch header.
    pub tags: BTreeMap<String, String>,
    /// Its content type; `None` guesses it from the identifier's extension.
    pub content_type: Option<String>,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// What a patch header says about its patch (and the index repeats).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchMeta {
    /// The identifier.
    pub identifier: String,
    /// The tags.
    pub tags: BTreeMap<String, String>,
    /// The content type.
    pub content_type: String,
}

/// One patch of the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuiltIndexEntry {
    /// The identifier.
    pub identifier: String,
    /// The tags.
    pub tags: BTreeMap<String, String>,
    /// The content type.
    pub content_type: String,
    /// Its first symbol.
    pub start_symbol: u32,
    /// The symbol after its last one.
    pub end_symbol: u32,
}

/// The index of a quilt: its patches, sorted by identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct QuiltIndex {
    /// The patches.
    pub patches: Vec<QuiltIndexEntry>,
}

impl QuiltIndex {
    /// The patch named `identifier`.
    pub fn get(&self, identifier: &str) -> Option<&QuiltIndexEntry> {
        self.patches
            .binary_search_by(|p| p.identifier.as_str().cmp(identifier))
            .ok()
            .map(|i| &self.patches[i])
    }
}

/// A quilt cannot be built, or bytes are not a valid quilt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuiltError {
    /// No files.
    #[error("a quilt needs at least one file")]
    Empty,
    /// Two files with one identifier.
    #[error("duplicate identifier {0:?}")]
    DuplicateIdentifier(String),
    /// An identifier that is empty, too long, or has control characters or surrounding
    /// whitespace.
    #[error("invalid identifier {identifier:?}: {reason}")]
    InvalidIdentifier {
        /// The identifier.
        identifier: String,
        /// Why.
        reason: &'static str,
    },
    /// Tags too large, or with an empty key.
    #[error("invalid tags of {identifier:?}: {reason}")]
    InvalidTags {
        /// The patch.
        identifier: String,
        /// Why.
        reason: String,
    },
    /// A content type that is not printable ASCII or too long.
    #[error("invalid content type {content_type:?} of {identifier:?}")]
    InvalidContentType {
        /// The patch.
        identifier: String,
        /// The content type.
        content_type: String,
    },
    /// More patches than the blob has symbols for.
    #[error("{count} patches do not fit a quilt: at most {max} fit at this shard count")]
    TooManyPatches {
        /// Patches.
        count: usize,
        /// The most that fit.
        max: usize,
    },
    /// The files together are larger than a blob can be.
    #[error("the files do not fit one blob at this shard count (largest blob: {max} bytes)")]
    TooLarge {
        /// The largest blob.
        max: u64,
    },
    /// The index is larger than [`MAX_INDEX_BYTES`] (or the reader's limit).
    #[error("quilt index of {size} bytes exceeds the limit of {limit} bytes")]
    IndexTooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A version byte this code does not know (or not a quilt at all).
    #[error("unknown quilt version {0} (not a quilt, or a newer format)")]
    UnknownVersion(u8),
    /// Bytes that are not a valid index or patch.
    #[error("malformed quilt: {0}")]
    Malformed(String),
    /// Fewer bytes than the header says.
    #[error("truncated quilt data: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes needed.
        need: u64,
        /// Bytes given.
        have: u64,
    },
}

/// Checks an identifier: 1 to [`MAX_IDENTIFIER_BYTES`] bytes, no control characters, no
/// leading or trailing whitespace.
pub fn check_identifier(identifier: &str) -> Result<(), QuiltError> {
    let bad = |reason| {
        Err(QuiltError::InvalidIdentifier {
            identifier: identifier.chars().take(100).collect(),
            reason,
        })
    };
    if identifier.is_empty() {
        return bad("it is empty");
    }
    if identifier.len() > MAX_IDENTIFIER_BYTES {
        return bad("it is longer than 1024 bytes");
    }
    if identifier.chars().any(char::is_control) {
        return bad("it contains control characters");
    }
    if identifier.trim() != identifier {
        return bad("it starts or ends with whitespace");
    }
    Ok(())
}

/// Checks a patch's tags: at most [`MAX_TAG_BYTES`] encoded, keys non-empty and without
/// control characters.
pub fn check_tags(identifier: &str, tags: &BTreeMap<String, String>) -> Result<(), QuiltError> {
    let bad = |reason: String| {
        Err(QuiltError::InvalidTags {
            identifier: identifier.chars().take(100).collect(),
            reason,
        })
    };
    let size = crate::codec::encode(tags).len();
    if size > MAX_TAG_BYTES {
        return bad(format!(
            "{size} bytes of tags exceed the limit of {MAX_TAG_BYTES}"
        ));
    }
    if let Some(key) = tags
        .keys()
        .find(|k| k.is_empty() || k.chars().any(char::is_control))
    {
        return bad(format!("invalid tag key {key:?}"));
    }
    Ok(())
}

/// Checks a content type: 1 to [`MAX_CONTENT_TYPE_BYTES`] bytes of printable ASCII (it is
/// served as an HTTP header).
pub fn check_content_type(identifier: &str, content_type: &str) -> Result<(), QuiltError> {
    if content_type.is_empty()
        || content_type.len() > MAX_CONTENT_TYPE_BYTES
        || !content_type.bytes().all(|b| (b' '..=b'~').contains(&b))
    {
        return Err(QuiltError::InvalidContentType {
            identifier: identifier.chars().take(100).collect(),
            content_type: content_type.chars().take(100).collect(),
        });
    }
    Ok(())
}

/// The content type of a file named `identifier`, guessed from its extension
/// ([`DEFAULT_CONTENT_TYPE`] when unknown).
pub fn guess_content_type(identifier: &str) -> String {
    mime_guess::from_path(identifier)
        .first_raw()
        .unwrap_or(DEFAULT_CONTENT_TYPE)
        .to_owned()
}

impl PatchMeta {
    /// Checks identifier, tags and content type.
    pub fn check(&self) -> Result<(), QuiltError> {
        check_identifier(&self.identifier)?;
        check_tags(&self.identifier, &self.tags)?;
        check_content_type(&self.identifier, &self.content_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EncodingConfig;

    fn file(id: &str, len: usize) -> QuiltFile {
        QuiltFile {
            identifier: id.to_owned(),
            data: (0..len).map(|i| (i % 251) as u8).collect(),
            ..QuiltFile::default()
        }
    }

    /// Reads every patch of `q` back through its index and its patch id's span.
    fn read_back(config: &EncodingConfig, q: &EncodedQuilt, files: &[QuiltFile]) {
        let s = config.symbol_size(q.data.len() as u64).unwrap();
        assert_eq!(s, q.symbol_size, "the blob's symbol size is the layout's");
        let total = (q.data.len() as u64).div_ceil(u64::from(s));
        let index = decode_index(&q.data, s, total, MAX_INDEX_BYTES).unwrap();
        assert_eq!(index, q.index);
        assert_eq!(index.patches.len(), files.len());
        for f in files {
            let e = index.get(&f.identifier).unwrap();
            let (a, b) = (
                e.start_symbol as usize * usize::from(s),
                (e.end_symbol as usize * usize::from(s)).min(q.data.len()),
            );
            let h = decode_patch(&q.data[a..b], (b - a) as u64, s).unwrap();
            assert_eq!(h.meta.identifier, f.identifier);
            assert_eq!(h.meta.tags, f.tags);
            assert_eq!(h.meta.content_type, e.content_type);
            let d = &q.data[a + h.data.start as usize..a + h.data.end as usize];
            assert_eq!(d, &f.data[..]);
        }
    }

    #[test]
    fn round_trip_with_empty_and_row_sized_files() {
        let config = EncodingConfig::new(10).unwrap();
        let files = vec![
            file("b.txt", 0),
            file("a/index.html", 5000),
            file("c", 1),
            file("d.png", 300),
        ];
        let q = encode_quilt(&config, &files).unwrap();
        read_back(&config, &q, &files);
        assert_eq!(q.index.patches[0].identifier, "a/index.html");
        assert_eq!(q.index.patches[0].content_type, "text/html");
        assert_eq!(q.index.get("b.txt").unwrap().content_type, "text/plain");
        assert_eq!(q.index.get("c").unwrap().content_type, DEFAULT_CONTENT_TYPE);
    }

    #[test]
    fn symbol_size_is_the_smallest_that_fits() {
        let config = EncodingConfig::new(100).unwrap();
        let files: Vec<_> = (0..1000)
            .map(|i| file(&format!("f{i:04}"), 10_240))
            .collect();
        let q = encode_quilt(&config, &files).unwrap();
        read_back(&config, &q, &files);
        let s = usize::from(q.symbol_size);
        // Each patch (13-byte prefix, 32 bytes of metadata, 10 KiB) takes two symbols: the
        // smallest even s for which two suffice.
        let patch = 10_240 + PATCH_PREFIX_BYTES + 32;
        assert!(s * 2 >= patch && (s - 2) * 2 < patch, "{s}");
    }

    #[test]
    fn refusals() {
        let config = EncodingConfig::new(10).unwrap();
        assert_eq!(encode_quilt(&config, &[]), Err(QuiltError::Empty));
        assert!(matches!(
            encode_quilt(&config, &[file("a", 1), file("a", 2)]),
            Err(QuiltError::DuplicateIdentifier(_))
        ));
        for bad in ["", "a\n", " a", "a ", "a\u{7f}b"] {
            assert!(
                matches!(
                    encode_quilt(&config, &[file(bad, 1)]),
                    Err(QuiltError::InvalidIdentifier { .. })
                ),
                "{bad:?}"
            );
        }
        let many: Vec<_> = (0..28).map(|i| file(&format!("{i}"), 1)).collect();
        assert!(matches!(
            encode_quilt(&config, &many),
            Err(QuiltError::TooManyPatches { count: 28, .. })
        ));
        let mut f = file("t", 1);
        f.tags.insert("k".into(), "v".repeat(MAX_TAG_BYTES));
        assert!(matches!(
            encode_quilt(&config, &[f]),
            Err(QuiltError::InvalidTags { .. })
        ));
        let mut f = file("t", 1);
        f.content_type = Some("text/html\r\nx: y".into());
        assert!(matches!(
            encode_quilt(&config, &[f]),
            Err(QuiltError::InvalidContentType { .. })
        ));
        assert!(matches!(
            encode_quilt(&config, &[file("big", config.max_blob_size() as usize)]),
            Err(QuiltError::TooLarge { .. })
        ));
    }

    #[test]
    fn patch_spans_must_match() {
        let config = EncodingConfig::new(10).unwrap();
        let files = vec![file("a", 3000), file("b", 10)];
        let q = encode_quilt(&config, &files).unwrap();
        let s = usize::from(q.symbol_size);
        let e = q.index.get("a").unwrap();
        let a = e.start_symbol as usize * s;
        let b = e.end_symbol as usize * s;
        // One symbol too many, or too few: not this patch.
        assert!(decode_patch(&q.data[a..b + s], (b + s - a) as u64, q.symbol_size).is_err());
        assert!(decode_patch(&q.data[a..b - s], (b - s - a) as u64, q.symbol_size).is_err());
        // The index is not a patch.
        assert!(decode_patch(&q.data[..s], s as u64, q.symbol_size).is_err());
    }
}
