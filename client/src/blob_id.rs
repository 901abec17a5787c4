//! Offline blob ids: encode data exactly as a store would and return its blob id.
//!
//! The blob id depends on the network's shard count (`n_shards`, fixed per network: the devnet
//! uses 100), so the same bytes have different ids on networks of different sizes. Nothing here
//! touches the network.

use std::path::{Path, PathBuf};

use floe_common::encoding::{EncodeOptions, encode_blob_with};
use floe_common::{BlobId, EncodingConfig};
use serde::Serialize;

/// A blob id could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum BlobIdError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The shard count is invalid or the blob too large for it.
    #[error("cannot encode for {n_shards} shards: {source}")]
    Encoding {
        /// The shard count.
        n_shards: u16,
        /// Why.
        #[source]
        source: floe_common::EncodingConfigError,
    },
}

/// A blob id with what it was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComputedBlobId {
    /// The blob id.
    pub blob_id: BlobId,
    /// Length of the data.
    pub unencoded_length: u64,
    /// Encoded length over all shards (what storage is bought for).
    pub encoded_length: u64,
    /// The shard count it was computed for.
    pub n_shards: u16,
}

/// The blob id of `data` on a network of `n_shards` shards. Encodes on up to
/// `available_parallelism` threads.
pub fn blob_id_of(data: &[u8], n_shards: u16) -> Result<ComputedBlobId, BlobIdError> {
    let encoding = |source| BlobIdError::Encoding { n_shards, source };
    let config = EncodingConfig::new(n_shards).map_err(encoding)?;
    let len = data.len() as u64;
    let encoded_length = config.encoded_length(len).map_err(encoding)?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let encoded = encode_blob_with(&config, data, EncodeOptions { threads }).map_err(encoding)?;
    Ok(ComputedBlobId {
        blob_id: encoded.blob_id(),
        unencoded_length: len,
        encoded_length,
        n_shards,
    })
}

/// The blob id of the file at `path` (read whole into memory) on a network of `n_shards` shards.
pub fn blob_id_of_file(path: &Path, n_shards: u16) -> Result<ComputedBlobId, BlobIdError> {
    let data = std::fs::read(path).map_err(|source| BlobIdError::Read {
        path: path.to_owned(),
        source,
    })?;
    blob_id_of(&data, n_shards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_encode_blob_and_depends_on_shards() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let id = blob_id_of(&data, 10).unwrap();
        let expected = floe_common::encode_blob(&EncodingConfig::new(10).unwrap(), &data)
            .unwrap()
            .blob_id();
        assert_eq!(id.blob_id, expected);
        assert_eq!(id.unencoded_length, 10_000);
        assert_eq!(
            id.encoded_length,
            EncodingConfig::new(10)
                .unwrap()
                .encoded_length(10_000)
                .unwrap()
        );
        assert_ne!(blob_id_of(&data, 13).unwrap().blob_id, id.blob_id);
        assert!(matches!(
            blob_id_of(&data, 0),
            Err(BlobIdError::Encoding { n_shards: 0, .. })
        ));
    }

    #[test]
    fn file_errors_are_typed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing");
        assert!(matches!(
            blob_id_of_file(&path, 10),
            Err(BlobIdError::Read { .. })
        ));
        std::fs::write(&path, b"").unwrap();
        // The empty blob has an id too.
        assert_eq!(blob_id_of_file(&path, 10).unwrap().unencoded_length, 0);
    }
}
