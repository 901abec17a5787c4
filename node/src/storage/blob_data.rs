//! A blob's data: its metadata (`metadata`), its slivers (`primary`, `secondary`) and the index
//! of stored slivers (`held`).
//!
//! `held` is written and deleted in the same batch as the sliver it indexes, so "is this
//! sliver stored" and "how many bytes does deleting it free" never read a sliver value (with
//! BlobDB that would read megabytes from a blob file). Keys put a blob's slivers next to each
//! other, so a blob's data is one key range and deleting it is a range delete. Every value is
//! checked against its key on the way out: a corrupted record is a typed error, never a wrong
//! sliver.

use floe_common::{BlobId, BlobMetadata, Sliver, SliverAxis, SliverPairIndex};
use rocksdb::{Direction, IteratorMode, WriteBatch};

use super::schema::{CF_HELD, METADATA, PENDING, held_key, sliver_family, sliver_key};
use super::sliver_format::{SLIVER_TRAILER, decode_stored_sliver, encode_stored_sliver};
use super::{Corruption, Storage, StorageError};

/// One entry of `held`: a stored sliver's axis, pair and stored bytes.
type Held = (SliverAxis, SliverPairIndex, u64);

impl Storage {
    /// Stores a blob's metadata (the caller has verified it against the blob id).
    pub fn put_metadata(
        &self,
        blob_id: &BlobId,
        metadata: &BlobMetadata,
    ) -> Result<(), StorageError> {
        let mut guard = self.lock_stats();
        if self.has_metadata(blob_id)? {
            return Ok(());
        }
        self.space.check_room()?;
        let mut batch = WriteBatch::default();
        let len = METADATA.put(self, &mut batch, blob_id, metadata);
        let mut stats = *guard;
        stats.blobs += 1;
        stats.bytes += len;
        self.write_counted(batch, &mut guard, stats)
            .inspect_err(|e| self.space.count_refused(e))
    }

    /// Whether a blob's metadata is stored (no value read).
    pub fn has_metadata(&self, blob_id: &BlobId) -> Result<bool, StorageError> {
        METADATA.contains(self, blob_id)
    }

    /// A blob's metadata, re-verified against its id on the way out.
    pub fn metadata(&self, blob_id: &BlobId) -> Result<Option<BlobMetadata>, StorageError> {
        let Some(md) = METADATA.get(self, blob_id)? else {
            return Ok(None);
        };
        md.clone()
            .verify(*blob_id, &self.config)
            .map_err(|e| StorageError::Corrupt {
                family: METADATA.name,
                key: blob_id.to_string(),
                reason: e.into(),
            })?;
        Ok(Some(md))
    }

    /// Stores a sliver of pair `pair` (the caller has verified it against the metadata). A
    /// sliver already stored is left as is.
    pub fn put_sliver(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        sliver: &Sliver,
    ) -> Result<(), StorageError> {
        if pair.sliver_index(sliver.axis, self.config.n_shards()) != sliver.index {
            return Err(StorageError::WrongPair {
                axis: sliver.axis,
                index: sliver.index.0,
                pair,
            });
        }
        let mut guard = self.lock_stats();
        if self.has_sliver(blob_id, pair, sliver.axis)? {
            return Ok(());
        }
        self.space.check_room()?;
        let value = encode_stored_sliver(sliver);
        let mut stats = *guard;
        stats.slivers += 1;
        stats.bytes += value.len() as u64;
        let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.cf(CF_HELD),
            held_key(blob_id, sliver.axis, pair),
            len.to_le_bytes(),
        );
        batch.put_cf(
            self.cf(sliver_family(sliver.axis)),
            sliver_key(blob_id, pair),
            value,
        );
        self.write_counted(batch, &mut guard, stats)
            .inspect_err(|e| self.space.count_refused(e))
    }

    /// The sliver of `pair` on `axis`, if stored.
    pub fn sliver(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        axis: SliverAxis,
    ) -> Result<Option<Sliver>, StorageError> {
        let family = sliver_family(axis);
        let key = sliver_key(blob_id, pair);
        let limit = self.config.max_sliver_size(axis) + SLIVER_TRAILER;
        let Some(value) = self.db.get_cf_opt(self.cf(family), key, &self.read)? else {
            return Ok(None);
        };
        let corrupt = |reason: Corruption| StorageError::Corrupt {
            family,
            key: hex::encode(key),
            reason,
        };
        if value.len() > limit {
            return Err(corrupt(Corruption::TooLarge {
                len: value.len(),
                limit,
            }));
        }
        let sliver = decode_stored_sliver(value).map_err(|e| corrupt(e.into()))?;
        if sliver.axis != axis || pair.sliver_index(axis, self.config.n_shards()) != sliver.index {
            return Err(corrupt(Corruption::WrongSliver {
                axis: sliver.axis,
                index: sliver.index,
            }));
        }
        Ok(Some(sliver))
    }

    /// Whether the sliver of `pair` on `axis` is stored (reads the index, not the sliver).
    pub fn has_sliver(
        &self,
        blob_id: &BlobId,
        pair: SliverPairIndex,
        axis: SliverAxis,
    ) -> Result<bool, StorageError> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(CF_HELD), held_key(blob_id, axis, pair))?
            .is_some())
    }

    /// The index entries of a blob's stored slivers, in order.
    fn held(&self, blob_id: &BlobId) -> Result<Vec<Held>, StorageError> {
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(CF_HELD),
            IteratorMode::From(&blob_id.0, Direction::Forward),
        );
        for item in iter {
            let (key, value) = item?;
            if key.len() != 35 || key[..32] != blob_id.0 {
                break;
            }
            let corrupt = |reason: Corruption| StorageError::Corrupt {
                family: CF_HELD,
                key: hex::encode(&key),
                reason,
            };
            let axis = match key[32] {
                0 => SliverAxis::Primary,
                1 => SliverAxis::Secondary,
                _ => return Err(corrupt(Corruption::BadAxis)),
            };
            let len: [u8; 4] = value
                .as_ref()
                .try_into()
                .map_err(|_| corrupt(Corruption::BadLength))?;
            out.push((
                axis,
                SliverPairIndex(u16::from_be_bytes([key[33], key[34]])),
                u64::from(u32::from_le_bytes(len)),
            ));
        }
        Ok(out)
    }

    /// The pairs of a blob stored on `axis`, in order.
    pub fn stored_pairs(
        &self,
        blob_id: &BlobId,
        axis: SliverAxis,
    ) -> Result<Vec<SliverPairIndex>, StorageError> {
        Ok(self
            .held(blob_id)?
            .into_iter()
            .filter(|(a, _, _)| *a == axis)
            .map(|(_, p, _)| p)
            .collect())
    }

    /// Deletes a blob's metadata and all its slivers in one atomic batch; returns the bytes
    /// freed.
    pub fn delete_blob(&self, blob_id: &BlobId) -> Result<u64, StorageError> {
        let mut guard = self.lock_stats();
        let mut stats = *guard;
        if let Some(md) = self.db.get_pinned_cf(self.cf(METADATA.name), blob_id.0)? {
            stats.blobs = stats.blobs.saturating_sub(1);
            stats.bytes = stats.bytes.saturating_sub(md.len() as u64);
        }
        for (_, _, len) in self.held(blob_id)? {
            stats.slivers = stats.slivers.saturating_sub(1);
            stats.bytes = stats.bytes.saturating_sub(len);
        }
        let freed = guard.bytes - stats.bytes;
        let mut batch = WriteBatch::default();
        let mut held_end = [0xffu8; 35];
        held_end[..32].copy_from_slice(&blob_id.0);
        batch.delete_range_cf(self.cf(CF_HELD), &blob_id.0[..], &held_end[..]);
        batch.delete_cf(self.cf(CF_HELD), held_end);
        METADATA.delete(self, &mut batch, blob_id);
        PENDING.delete(self, &mut batch, blob_id);
        let from = sliver_key(blob_id, SliverPairIndex(0));
        let to = sliver_key(blob_id, SliverPairIndex(u16::MAX));
        for axis in [SliverAxis::Primary, SliverAxis::Secondary] {
            batch.delete_range_cf(self.cf(sliver_family(axis)), from, to);
            batch.delete_cf(self.cf(sliver_family(axis)), to);
        }
        self.write_counted(batch, &mut guard, stats)?;
        Ok(freed)
    }

    /// Deletes the blob's slivers of every pair not in `keep` (shards handed over to other
    /// nodes), in one batch; returns (slivers, bytes) freed.
    pub fn delete_slivers_except(
        &self,
        blob_id: &BlobId,
        keep: &[SliverPairIndex],
    ) -> Result<(u64, u64), StorageError> {
        let mut guard = self.lock_stats();
        let mut stats = *guard;
        let mut batch = WriteBatch::default();
        let mut slivers = 0;
        for (axis, pair, len) in self.held(blob_id)? {
            if keep.contains(&pair) {
                continue;
            }
            slivers += 1;
            stats.slivers = stats.slivers.saturating_sub(1);
            stats.bytes = stats.bytes.saturating_sub(len);
            batch.delete_cf(self.cf(sliver_family(axis)), sliver_key(blob_id, pair));
            batch.delete_cf(self.cf(CF_HELD), held_key(blob_id, axis, pair));
        }
        if slivers == 0 {
            return Ok((0, 0));
        }
        let freed = guard.bytes - stats.bytes;
        self.write_counted(batch, &mut guard, stats)?;
        Ok((slivers, freed))
    }

    /// Blob ids whose metadata is stored, from `start` on (inclusive), at most `limit`.
    pub fn blobs_with_data(
        &self,
        start: &BlobId,
        limit: usize,
    ) -> Result<Vec<BlobId>, StorageError> {
        METADATA.keys(self, start, limit)
    }
}
