//! Quilts: many files stored as one blob, each read on its own ([`floe_common::quilt`] has
//! the layout).
//!
//! * [`BlobClient::store_quilt`]: validate and lay out the files, then one ordinary store.
//! * [`BlobClient::read_patch`] / [`BlobClient::read_patch_by_identifier`]: open the blob, then
//!   stream only the patch's byte range ([`BlobClient::stream`]), so a small patch costs its
//!   own symbols (with proofs) and the metadata, not the quilt. By identifier reads the index
//!   first (the quilt's first symbols).
//! * [`BlobClient::read_quilt_index`]: the index alone.

use std::collections::BTreeMap;
use std::ops::Range;

use floe_common::quilt::{
    self, MAX_INDEX_BYTES, PatchHeader, QuiltError, QuiltFile, QuiltIndex, QuiltPatchId,
};
use floe_common::{BlobId, ConsistencyCheck};
use futures::StreamExt as _;
use serde::Serialize;

use super::store::in_place;
use super::{BlobClient, OpenBlob, ReadError, StoreError, StoreOptions, StoreOutcome};

/// Bytes read at least when a read begins with a header (index or patch) of unknown length.
const FIRST_READ: u64 = 4096;

/// A stored quilt.
#[derive(Debug, Clone, Serialize)]
pub struct QuiltStoreOutcome {
    /// The store of the quilt's blob.
    pub store: StoreOutcome,
    /// Each file's identifier and patch id, sorted by identifier.
    pub patches: Vec<(String, QuiltPatchId)>,
}

/// A quilt could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum QuiltStoreError {
    /// The files do not make a valid quilt (nothing was paid).
    #[error("invalid quilt: {0}")]
    Format(#[from] QuiltError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A quilt or one of its patches could not be read.
#[derive(Debug, thiserror::Error)]
pub enum QuiltReadError {
    /// Reading the blob failed (not found, not certified, unavailable, …).
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The blob is not a quilt (or of a newer format).
    #[error("blob {quilt_id} is not a quilt: {reason}")]
    NotAQuilt {
        /// The blob.
        quilt_id: BlobId,
        /// Why.
        reason: QuiltError,
    },
    /// No patch has this identifier.
    #[error("quilt {quilt_id} has no patch {identifier:?}")]
    UnknownIdentifier {
        /// The quilt.
        quilt_id: BlobId,
        /// The identifier.
        identifier: String,
    },
    /// The patch id names another quilt than the one asked for.
    #[error("patch {patch_id} belongs to quilt {}, not {expected}", patch_id.quilt_id)]
    WrongQuilt {
        /// The patch id.
        patch_id: QuiltPatchId,
        /// The quilt asked for.
        expected: BlobId,
    },
    /// The patch id's symbols are not within the quilt.
    #[error("patch {patch_id} is outside quilt {} of {symbols} symbols", patch_id.quilt_id)]
    OutOfRange {
        /// The patch id.
        patch_id: QuiltPatchId,
        /// The quilt's symbols.
        symbols: u64,
    },
    /// The patch id's symbols do not hold a patch (a forged or mistyped id).
    #[error("patch {patch_id} does not name a patch of its quilt: {reason}")]
    BadPatch {
        /// The patch id.
        patch_id: QuiltPatchId,
        /// Why.
        reason: QuiltError,
    },
}

/// A patch read from a quilt.
#[derive(Debug, Clone, Serialize)]
pub struct QuiltPatch {
    /// Its patch id.
    pub patch_id: QuiltPatchId,
    /// Its identifier.
    pub identifier: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Its content type.
    pub content_type: String,
    /// Its bytes.
    #[serde(skip)]
    pub data: Vec<u8>,
    /// Bytes fetched from storage nodes for it (symbols and slivers; metadata and, by
    /// identifier, the index read not counted).
    pub fetched_bytes: u64,
}

/// Where a patch is in an opened quilt: its header, and its data's bytes in the blob.
#[derive(Debug, Clone)]
pub struct PatchLocation {
    /// The patch id.
    pub patch_id: QuiltPatchId,
    /// The decoded header.
    pub header: PatchHeader,
    /// The patch's data, as a byte range of the blob.
    pub data: Range<u64>,
}

impl OpenBlob {
    /// The blob's symbol size (the quilt layout's).
    pub fn symbol_size(&self) -> u16 {
        self.committees
            .0
            .encoding()
            .symbol_size(self.len())
            .unwrap_or(2)
    }

    /// Symbols the blob's bytes cover.
    pub fn symbols(&self) -> u64 {
        self.len().div_ceil(u64::from(self.symbol_size()))
    }
}

impl BlobClient {
    /// Stores `files` as one quilt (one blob); see the [module docs](self). Invalid files are
    /// refused before anything is paid.
    pub async fn store_quilt(
        &self,
        files: Vec<QuiltFile>,
        opts: &StoreOptions,
    ) -> Result<QuiltStoreOutcome, QuiltStoreError> {
        let committee = self.committee().await.map_err(StoreError::from)?;
        let config = *committee.encoding();
        let quilt = in_place(|| quilt::encode_quilt(&config, &files))?;
        drop(files);
        tracing::debug!(
            patches = quilt.index.patches.len(),
            len = quilt.data.len(),
            symbol_size = quilt.symbol_size,
            "quilt laid out"
        );
        let store = self.store(&quilt.data, opts).await?;
        let quilt_id = store.blob_id();
        let patches = quilt
            .index
            .patches
            .iter()
            .map(|p| {
                (
                    p.identifier.clone(),
                    QuiltPatchId {
                        quilt_id,
                        start_symbol: p.start_symbol,
                        end_symbol: p.end_symbol,
                    },
                )
            })
            .collect();
        Ok(QuiltStoreOutcome { store, patches })
    }

    /// Bytes `range` of an opened blob, streamed and collected; and the bytes fetched.
    pub async fn read_range(
        &self,
        blob: &OpenBlob,
        range: Range<u64>,
    ) -> Result<(Vec<u8>, u64), ReadError> {
        let mut stream = self.stream(blob.clone(), range.clone(), ConsistencyCheck::Default);
        let mut out = Vec::with_capacity(usize::try_from(range.end - range.start).unwrap_or(0));
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok((out, stream.stats().fetched_bytes()))
    }

    /// The index of quilt `quilt_id`.
    pub async fn read_quilt_index(&self, quilt_id: BlobId) -> Result<QuiltIndex, QuiltReadError> {
        let blob = self.open(quilt_id, u64::MAX).await?;
        Ok(self.quilt_index_of(&blob).await?.0)
    }

    /// The index of an opened quilt, and the bytes fetched for it.
    pub async fn quilt_index_of(
        &self,
        blob: &OpenBlob,
    ) -> Result<(QuiltIndex, u64), QuiltReadError> {
        let quilt_id = blob.blob_id();
        let not_a_quilt = |reason| QuiltReadError::NotAQuilt { quilt_id, reason };
        let s = blob.symbol_size();
        let first = blob.len().min(FIRST_READ.max(u64::from(s)));
        let (mut bytes, mut fetched) = self.read_range(blob, 0..first).await?;
        let need = quilt::index_prefix(&bytes, MAX_INDEX_BYTES).map_err(not_a_quilt)? as u64;
        if need > blob.len() {
            return Err(not_a_quilt(QuiltError::Truncated {
                need,
                have: blob.len(),
            }));
        }
        if need > first {
            let (rest, more) = self.read_range(blob, first..need).await?;
            bytes.extend_from_slice(&rest);
            fetched += more;
        }
        let index =
            quilt::decode_index(&bytes, s, blob.symbols(), MAX_INDEX_BYTES).map_err(not_a_quilt)?;
        Ok((index, fetched))
    }

    /// Checks `patch_id` against an opened quilt: its bytes' range.
    fn span(blob: &OpenBlob, patch_id: QuiltPatchId) -> Result<Range<u64>, QuiltReadError> {
        if patch_id.quilt_id != blob.blob_id() {
            return Err(QuiltReadError::WrongQuilt {
                patch_id,
                expected: blob.blob_id(),
            });
        }
        let symbols = blob.symbols();
        let (start, end) = (
            u64::from(patch_id.start_symbol),
            u64::from(patch_id.end_symbol),
        );
        if start >= end || end > symbols {
            return Err(QuiltReadError::OutOfRange { patch_id, symbols });
        }
        let s = u64::from(blob.symbol_size());
        Ok(start * s..(end * s).min(blob.len()))
    }

    /// Finds a patch's header in an opened quilt (reading only its first bytes), so that its
    /// data, or a range of it, can be streamed ([`BlobClient::stream`]).
    pub async fn locate_patch(
        &self,
        blob: &OpenBlob,
        patch_id: QuiltPatchId,
    ) -> Result<PatchLocation, QuiltReadError> {
        let span = Self::span(blob, patch_id)?;
        let s = blob.symbol_size();
        let bad = |reason| QuiltReadError::BadPatch { patch_id, reason };
        let span_len = span.end - span.start;
        let first = span_len.min(FIRST_READ.max(u64::from(s)));
        let (mut bytes, _) = self
            .read_range(blob, span.start..span.start + first)
            .await?;
        let header = match quilt::decode_patch(&bytes, span_len, s) {
            Err(QuiltError::Truncated { need, .. }) if need <= span_len => {
                let (rest, _) = self
                    .read_range(blob, span.start + first..span.start + need)
                    .await?;
                bytes.extend_from_slice(&rest);
                quilt::decode_patch(&bytes, span_len, s).map_err(bad)?
            }
            other => other.map_err(bad)?,
        };
        let data = span.start + header.data.start..span.start + header.data.end;
        Ok(PatchLocation {
            patch_id,
            header,
            data,
        })
    }

    /// Reads the patch `patch_id` names: only its symbols are fetched.
    pub async fn read_patch(&self, patch_id: QuiltPatchId) -> Result<QuiltPatch, QuiltReadError> {
        let blob = self.open(patch_id.quilt_id, u64::MAX).await?;
        self.read_patch_of(&blob, patch_id).await
    }

    /// Reads patch `patch_id` of an opened quilt (one read of the patch's whole span).
    pub async fn read_patch_of(
        &self,
        blob: &OpenBlob,
        patch_id: QuiltPatchId,
    ) -> Result<QuiltPatch, QuiltReadError> {
        let span = Self::span(blob, patch_id)?;
        let span_len = span.end - span.start;
        let (mut bytes, fetched) = self.read_range(blob, span).await?;
        let header = quilt::decode_patch(&bytes, span_len, blob.symbol_size())
            .map_err(|reason| QuiltReadError::BadPatch { patch_id, reason })?;
        bytes.truncate(header.data.end as usize);
        bytes.drain(..header.data.start as usize);
        Ok(QuiltPatch {
            patch_id,
            identifier: header.meta.identifier,
            tags: header.meta.tags,
            content_type: header.meta.content_type,
            data: bytes,
            fetched_bytes: fetched,
        })
    }

    /// Reads the patch named `identifier` of quilt `quilt_id` (the index, then the patch).
    pub async fn read_patch_by_identifier(
        &self,
        quilt_id: BlobId,
        identifier: &str,
    ) -> Result<QuiltPatch, QuiltReadError> {
        let blob = self.open(quilt_id, u64::MAX).await?;
        let (index, _) = self.quilt_index_of(&blob).await?;
        let patch_id = patch_id_of(&index, quilt_id, identifier)?;
        self.read_patch_of(&blob, patch_id).await
    }
}

/// The patch id of `identifier` in `index` of quilt `quilt_id`.
pub fn patch_id_of(
    index: &QuiltIndex,
    quilt_id: BlobId,
    identifier: &str,
) -> Result<QuiltPatchId, QuiltReadError> {
    let e = index
        .get(identifier)
        .ok_or_else(|| QuiltReadError::UnknownIdentifier {
            quilt_id,
            identifier: identifier.to_owned(),
        })?;
    Ok(QuiltPatchId {
        quilt_id,
        start_symbol: e.start_symbol,
        end_symbol: e.end_symbol,
    })
}
