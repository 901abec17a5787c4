//! Deliberately faulty encodings, for fault-injection tests across the workspace.
//!
//! Nothing here is used by honest code paths; it exists so that nodes and clients can be tested
//! against a writer that uploads an inconsistent blob.

use super::metadata::{BlobMetadata, VerifiedBlobMetadata};
use super::{EncodedBlob, SliverAxis, SliverExpander, encode_blob};
use crate::config::{EncodingConfig, EncodingConfigError};
use crate::ids::SliverPairIndex;

/// Encodes `blob`, then replaces primary sliver `pair` with altered bytes and recomputes its
/// hash, the metadata and the blob id, as a cheating writer would. Every sliver verifies against
/// the returned metadata, but the encoding is inconsistent: recovering primary sliver `pair`
/// from other slivers yields different bytes.
pub fn inconsistent_blob(
    config: &EncodingConfig,
    blob: &[u8],
    pair: SliverPairIndex,
) -> Result<EncodedBlob, EncodingConfigError> {
    let mut enc = encode_blob(config, blob)?;
    let p = pair.as_usize();
    let sliver = &mut enc.pairs[p].primary;
    for b in sliver.data.iter_mut().take(4) {
        *b ^= 0x5a;
    }
    let root = SliverExpander::new(*config, sliver.symbol_size)
        .root(SliverAxis::Primary, &sliver.data)
        .expect("sizes unchanged");
    let mut metadata: BlobMetadata = enc.metadata.into_inner();
    metadata.hashes[p].primary = root;
    let id = metadata.blob_id();
    enc.metadata = VerifiedBlobMetadata::new_trusted(id, metadata);
    Ok(enc)
}
