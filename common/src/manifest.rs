//! Chunked files: a file larger than one comfortable blob is stored as several *chunk* blobs
//! and a *manifest* blob that lists them. The manifest's blob id names the file.
//!
//! Why: a store holds its blob and the encoding's working set in memory (about 2.5× the blob),
//! and one blob is at most `rows·cols·65534` bytes (`EncodingConfig::max_blob_size`). Chunks
//! bound both: a store or a read holds one chunk at a time, whatever the file's size.
//!
//! Byte format of a manifest blob: [`MAGIC`] (16 bytes) then the BCS of [`ChunkedManifest`].
//! A blob is a manifest when it starts with the magic and the rest decodes and is consistent
//! ([`ChunkedManifest::decode`]); every chunk but the last has `chunk_size` bytes, the sizes
//! add up to `size`, and `hash` is BLAKE3 of the whole file, which a reader checks after
//! writing it. Pinned by the conformance vector in `common/tests/manifest.rs`.

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::hash::Digest;
use crate::ids::BlobId;

/// The first bytes of a manifest blob.
pub const MAGIC: &[u8; 16] = b"floe/chunked/v1\n";
/// Most chunks in a manifest (a manifest of that many is about 48 MB).
pub const MAX_CHUNKS: usize = 1 << 20;
/// Longest manifest blob, in bytes.
pub const MAX_MANIFEST_BYTES: usize = MAGIC.len() + 16 + MAX_CHUNKS * 48;

/// One chunk: its blob and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestChunk {
    /// The chunk's blob.
    pub blob_id: BlobId,
    /// Its length in bytes.
    pub size: u64,
}

/// The list of a chunked file's chunks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkedManifest {
    /// The file's length in bytes.
    pub size: u64,
    /// The length of every chunk but the last.
    pub chunk_size: u64,
    /// BLAKE3 of the whole file.
    pub hash: Digest,
    /// The chunks, in file order.
    pub chunks: Vec<ManifestChunk>,
}

/// Why bytes that start with the magic are not a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not BCS of a manifest, or over the limits.
    #[error("malformed manifest: {0}")]
    Malformed(String),
    /// The chunk sizes do not add up.
    #[error("inconsistent manifest: {0}")]
    Inconsistent(String),
}

impl ChunkedManifest {
    /// The manifest blob's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&codec::encode(self));
        out
    }

    /// The manifest in `bytes`: `Ok(None)` if they do not start with [`MAGIC`] (an ordinary
    /// blob), an error if they do but are not a consistent manifest.
    pub fn decode(bytes: &[u8]) -> Result<Option<ChunkedManifest>, ManifestError> {
        let Some(body) = bytes.strip_prefix(MAGIC.as_slice()) else {
            return Ok(None);
        };
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::Malformed(format!(
                "{} bytes, at most {MAX_MANIFEST_BYTES}",
                bytes.len()
            )));
        }
        let m: ChunkedManifest = codec::decode(body, MAX_MANIFEST_BYTES)
            .map_err(|e| ManifestError::Malformed(e.to_string()))?;
        m.check()?;
        Ok(Some(m))
    }

    /// The rules of the module docs.
    pub fn check(&self) -> Result<(), ManifestError> {
        let bad = |s: String| Err(ManifestError::Inconsistent(s));
        if self.chunks.is_empty() || self.chunks.len() > MAX_CHUNKS {
            return bad(format!("{} chunks", self.chunks.len()));
        }
        if self.chunk_size == 0 {
            return bad("chunk size 0".into());
        }
        let last = self.chunks.len() - 1;
        let mut total: u64 = 0;
        for (i, c) in self.chunks.iter().enumerate() {
            let ok = if i == last {
                c.size > 0 && c.size <= self.chunk_size
            } else {
                c.size == self.chunk_size
            };
            if !ok {
                return bad(format!(
                    "chunk {i} has {} bytes (chunk size {})",
                    c.size, self.chunk_size
                ));
            }
            total = total
                .checked_add(c.size)
                .ok_or_else(|| ManifestError::Inconsistent("sizes overflow".into()))?;
        }
        if total != self.size {
            return bad(format!("chunks hold {total} bytes, the file {}", self.size));
        }
        Ok(())
    }
}
