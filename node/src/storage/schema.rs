//! The column families, their keys and typed access to their values.
//!
//! Every value written through [`Column`] or [`NodeEntry`] is BCS, read back with the column's
//! size limit; a value that does not decode is a typed [`StorageError::Corrupt`], never a
//! panic. The sliver families hold raw values (see [`super::sliver_format`]) and are accessed
//! directly.

use std::borrow::Cow;
use std::marker::PhantomData;

use floe_common::codec;
use floe_common::{
    BlobId, BlobMetadata, EncodingConfig, Epoch, ShardIndex, SliverAxis, SliverPairIndex,
};
use rocksdb::WriteBatch;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ledger_view::{ChallengeRecord, EpochRecord, LedgerTip};
use super::stats::StorageStats;
use super::{Corruption, Storage, StorageError};
use crate::blob_state::BlobState;

pub(super) const CF_METADATA: &str = "metadata";
pub(super) const CF_PRIMARY: &str = "primary";
pub(super) const CF_SECONDARY: &str = "secondary";
pub(super) const CF_NODE: &str = "node";
pub(super) const CF_BLOBS: &str = "blobs";
pub(super) const CF_PENDING: &str = "pending";
pub(super) const CF_HELD: &str = "held";
/// Every column family, created on open.
pub(super) const FAMILIES: [&str; 7] = [
    CF_METADATA,
    CF_PRIMARY,
    CF_SECONDARY,
    CF_NODE,
    CF_BLOBS,
    CF_PENDING,
    CF_HELD,
];

/// Largest stored blob state accepted.
const MAX_BLOB_STATE_BYTES: usize = 1 << 20;
/// Largest value of the `node` family accepted.
const MAX_NODE_VALUE_BYTES: usize = 1 << 20;

/// The family of the slivers of `axis`.
pub(super) fn sliver_family(axis: SliverAxis) -> &'static str {
    match axis {
        SliverAxis::Primary => CF_PRIMARY,
        SliverAxis::Secondary => CF_SECONDARY,
    }
}

/// A sliver's key in its family: blob id ‖ pair (u16 BE).
pub(super) fn sliver_key(blob_id: &BlobId, pair: SliverPairIndex) -> [u8; 34] {
    let mut k = [0u8; 34];
    k[..32].copy_from_slice(&blob_id.0);
    k[32..].copy_from_slice(&pair.0.to_be_bytes());
    k
}

/// A sliver's key in `held`: blob id ‖ axis (1 B) ‖ pair (u16 BE).
pub(super) fn held_key(blob_id: &BlobId, axis: SliverAxis, pair: SliverPairIndex) -> [u8; 35] {
    let mut k = [0u8; 35];
    k[..32].copy_from_slice(&blob_id.0);
    k[32] = axis as u8;
    k[33..].copy_from_slice(&pair.0.to_be_bytes());
    k
}

/// The blob id after `id` in key order (`None` after the largest).
pub fn next_blob_id(id: &BlobId) -> Option<BlobId> {
    let mut b = id.0;
    for byte in b.iter_mut().rev() {
        let (v, carry) = byte.overflowing_add(1);
        *byte = v;
        if !carry {
            return Some(BlobId(b));
        }
    }
    None
}

/// Decodes `bytes` read from `family` under `key`, or says it is corrupt.
pub(super) fn decode<V: DeserializeOwned>(
    family: &'static str,
    key: &[u8],
    bytes: &[u8],
    limit: usize,
) -> Result<V, StorageError> {
    codec::decode(bytes, limit).map_err(|e| StorageError::Corrupt {
        family,
        key: hex::encode(key),
        reason: e.into(),
    })
}

/// A column family of BCS values of type `V` keyed by blob id.
pub(super) struct Column<V> {
    pub(super) name: &'static str,
    /// Largest value accepted, for the network's encoding.
    limit: fn(&EncodingConfig) -> usize,
    _value: PhantomData<fn() -> V>,
}

/// Blob metadata, verified against the blob id before it is written and after it is read.
pub(super) const METADATA: Column<BlobMetadata> = Column {
    name: CF_METADATA,
    limit: |c| BlobMetadata::max_encoded_len(c.n_shards()),
    _value: PhantomData,
};

/// The node's view of each blob id, folded from ledger events.
pub(super) const BLOBS: Column<BlobState> = Column {
    name: CF_BLOBS,
    limit: |_| MAX_BLOB_STATE_BYTES,
    _value: PhantomData,
};

/// The blob-sync queue: certified blobs whose slivers are still to be checked.
pub(super) const PENDING: Column<()> = Column {
    name: CF_PENDING,
    limit: |_| 0,
    _value: PhantomData,
};

impl<V: Serialize + DeserializeOwned> Column<V> {
    /// The value stored under `id`, decoded.
    pub(super) fn get(&self, s: &Storage, id: &BlobId) -> Result<Option<V>, StorageError> {
        let Some(bytes) = s.db.get_pinned_cf_opt(s.cf(self.name), id.0, &s.read)? else {
            return Ok(None);
        };
        decode(self.name, &id.0, &bytes, (self.limit)(&s.config)).map(Some)
    }

    /// Whether `id` has a value (none is read).
    pub(super) fn contains(&self, s: &Storage, id: &BlobId) -> Result<bool, StorageError> {
        Ok(s.db.get_pinned_cf(s.cf(self.name), id.0)?.is_some())
    }

    /// Adds the write of `value` under `id` to `batch`; returns the encoded length.
    pub(super) fn put(&self, s: &Storage, batch: &mut WriteBatch, id: &BlobId, value: &V) -> u64 {
        let bytes = codec::encode(value);
        let len = bytes.len() as u64;
        batch.put_cf(s.cf(self.name), id.0, bytes);
        len
    }

    /// Adds the deletion of `id` to `batch`.
    pub(super) fn delete(&self, s: &Storage, batch: &mut WriteBatch, id: &BlobId) {
        batch.delete_cf(s.cf(self.name), id.0);
    }

    /// Entries from `start` on (inclusive), at most `limit`, in blob id order; a key that is
    /// not a blob id, or a value that does not decode, is a typed corruption error.
    pub(super) fn range(
        &self,
        s: &Storage,
        start: &BlobId,
        limit: usize,
    ) -> Result<Vec<(BlobId, V)>, StorageError> {
        self.scan(s, start, limit, |key, value| {
            decode(self.name, key, value, (self.limit)(&s.config))
        })
    }

    /// Keys from `start` on (inclusive), at most `limit`, in order (no value decoded).
    pub(super) fn keys(
        &self,
        s: &Storage,
        start: &BlobId,
        limit: usize,
    ) -> Result<Vec<BlobId>, StorageError> {
        Ok(self
            .scan(s, start, limit, |_, _| Ok(()))?
            .into_iter()
            .map(|(id, ())| id)
            .collect())
    }

    fn scan<T>(
        &self,
        s: &Storage,
        start: &BlobId,
        limit: usize,
        value: impl Fn(&[u8], &[u8]) -> Result<T, StorageError>,
    ) -> Result<Vec<(BlobId, T)>, StorageError> {
        let iter = s.db.iterator_cf(
            s.cf(self.name),
            rocksdb::IteratorMode::From(&start.0, rocksdb::Direction::Forward),
        );
        iter.take(limit)
            .map(|item| {
                let (key, bytes) = item?;
                let id: [u8; 32] = key.as_ref().try_into().map_err(|_| StorageError::Corrupt {
                    family: self.name,
                    key: hex::encode(&key),
                    reason: Corruption::NotABlobId,
                })?;
                Ok((BlobId(id), value(&key, &bytes)?))
            })
            .collect()
    }
}

/// One named value of the `node` family (the node's own state), with its type.
pub(super) struct NodeEntry<V> {
    key: Cow<'static, [u8]>,
    _value: PhantomData<fn() -> V>,
}

impl<V> NodeEntry<V> {
    const fn named(key: &'static str) -> Self {
        NodeEntry {
            key: Cow::Borrowed(key.as_bytes()),
            _value: PhantomData,
        }
    }
}

/// The last ledger block applied ([`LedgerTip`]); its height is the follower's cursor.
pub(super) const LEDGER_TIP: NodeEntry<LedgerTip> = NodeEntry::named("ledger_tip");
/// What the node stores ([`StorageStats`]), updated in the batch of the data it counts.
pub(super) const STATS: NodeEntry<StorageStats> = NodeEntry::named("stats");
/// The latest epoch change followed ([`EpochRecord`]).
pub(super) const EPOCH_RECORD: NodeEntry<EpochRecord> = NodeEntry::named("epoch_record");
/// The latest storage challenge round followed ([`ChallengeRecord`]).
pub(super) const CHALLENGE_RECORD: NodeEntry<ChallengeRecord> =
    NodeEntry::named("challenge_record");
/// The epoch whose `EpochSyncDone` the node has sent.
pub(super) const SYNC_REPORTED: NodeEntry<Epoch> = NodeEntry::named("sync_reported_epoch");

/// Where the pull of `shard`'s slivers of `axis` stands: the epoch of the pull and the next
/// blob id to ask for.
pub(super) fn pull_cursor(shard: ShardIndex, axis: SliverAxis) -> NodeEntry<(Epoch, BlobId)> {
    NodeEntry {
        key: Cow::Owned(format!("sync_cursor/{}/{axis}", shard.0).into_bytes()),
        _value: PhantomData,
    }
}

impl<V: Serialize + DeserializeOwned> NodeEntry<V> {
    /// The stored value, decoded.
    pub(super) fn get(&self, s: &Storage) -> Result<Option<V>, StorageError> {
        let Some(bytes) = s.db.get_pinned_cf_opt(s.cf(CF_NODE), &self.key, &s.read)? else {
            return Ok(None);
        };
        decode(CF_NODE, &self.key, &bytes, MAX_NODE_VALUE_BYTES).map(Some)
    }

    /// Adds the write of `value` to `batch`.
    pub(super) fn put(&self, s: &Storage, batch: &mut WriteBatch, value: &V) {
        batch.put_cf(s.cf(CF_NODE), &self.key, codec::encode(value));
    }

    /// Writes `value` on its own.
    pub(super) fn store(&self, s: &Storage, value: &V) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        self.put(s, &mut batch, value);
        s.write(batch)
    }
}
