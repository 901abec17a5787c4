//! Large files in chunks ([`floe_common::manifest`] has the format): a file above
//! [`Chunking::threshold`] is stored as blobs of [`Chunking::chunk_size`] bytes, one at a time,
//! then a manifest blob listing them; reading a manifest writes the chunks in order, one at a
//! time, and checks the whole file's BLAKE3 hash. A store or a read therefore holds one chunk
//! (and its encoding) in memory, whatever the file's size.

use std::io::{Read as _, Write};
use std::path::Path;

use floe_common::manifest::{ChunkedManifest, ManifestChunk};
use floe_common::{BlobId, ConsistencyCheck};
use serde::Serialize;

use super::FilesError;
use crate::blobs::{BlobClient, StoreOptions, StoreOutcome};

/// When and how files are split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunking {
    /// Files longer than this are stored in chunks.
    pub threshold: u64,
    /// Bytes per chunk (the last may be shorter).
    pub chunk_size: u64,
}

impl Default for Chunking {
    /// Files over 256 MiB in chunks of 128 MiB: a store then holds about 2.5 × 128 MiB.
    fn default() -> Self {
        Chunking {
            threshold: 256 << 20,
            chunk_size: 128 << 20,
        }
    }
}

/// How a file was split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChunkedSummary {
    /// The file's length.
    pub size: u64,
    /// Bytes per chunk.
    pub chunk_size: u64,
    /// The chunks' blobs, in order.
    pub chunks: Vec<BlobId>,
}

/// Stores the `size`-byte file at `path` in chunks, then its manifest; returns the manifest
/// blob's store and the chunks.
pub(super) async fn store(
    client: &BlobClient,
    path: &Path,
    size: u64,
    chunking: Chunking,
    opts: &StoreOptions,
) -> Result<(StoreOutcome, ChunkedSummary), FilesError> {
    let read_err = |source| FilesError::ReadFile {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let chunk_size = chunking.chunk_size.max(1);
    let mut hasher = blake3::Hasher::new();
    let mut chunks = Vec::new();
    let mut left = size;
    let mut buf = Vec::new();
    while left > 0 {
        let n = left.min(chunk_size);
        buf.resize(usize::try_from(n).unwrap_or(usize::MAX), 0);
        file.read_exact(&mut buf).map_err(read_err)?;
        hasher.update(&buf);
        let outcome = client.store(&buf, opts).await?;
        tracing::debug!(chunk = chunks.len(), blob_id = %outcome.blob_id(), size = n, "chunk stored");
        chunks.push(ManifestChunk {
            blob_id: outcome.blob_id(),
            size: n,
        });
        left -= n;
    }
    drop(buf);
    let manifest = ChunkedManifest {
        size,
        chunk_size,
        hash: floe_common::Digest(*hasher.finalize().as_bytes()),
        chunks,
    };
    let outcome = client.store(&manifest.encode(), opts).await?;
    Ok((
        outcome,
        ChunkedSummary {
            size,
            chunk_size,
            chunks: manifest.chunks.iter().map(|c| c.blob_id).collect(),
        },
    ))
}

/// Writes the file `manifest` lists to `out`, chunk by chunk, and checks its hash.
pub(super) async fn read(
    client: &BlobClient,
    manifest: &ChunkedManifest,
    check: ConsistencyCheck,
    out: &mut impl Write,
    out_name: &Path,
) -> Result<(), FilesError> {
    let write_err = |source| FilesError::WriteFile {
        path: out_name.to_owned(),
        source,
    };
    let mut hasher = blake3::Hasher::new();
    for (i, c) in manifest.chunks.iter().enumerate() {
        let data = client.read(c.blob_id, check).await?.data;
        if data.len() as u64 != c.size {
            return Err(FilesError::ChunkMismatch(format!(
                "chunk {i} ({}) has {} bytes, the manifest says {}",
                c.blob_id,
                data.len(),
                c.size
            )));
        }
        hasher.update(&data);
        out.write_all(&data).map_err(write_err)?;
    }
    out.flush().map_err(write_err)?;
    if hasher.finalize().as_bytes() != &manifest.hash.0 {
        return Err(FilesError::ChunkMismatch(
            "the chunks do not hash to the manifest's file hash".into(),
        ));
    }
    Ok(())
}
