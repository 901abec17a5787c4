//! The validator's RocksDB: decided blocks with their commit certificates and transaction
//! outcomes, the state, a transaction index, the event log, and proposals not yet decided.
//!
//! | family      | key                                   | value                              |
//! |-------------|---------------------------------------|------------------------------------|
//! | `blocks`    | height (u64 BE)                       | BCS [`BlockRecord`]                |
//! | `state`     | state key ([`State::take_changes`])   | state value                        |
//! | `txs`       | transaction digest                    | height (u64 BE) ‖ index (u32 BE)   |
//! | `events`    | height (u64 BE) ‖ index (u32 BE)      | BCS [`EventRecord`]                |
//! | `proposals` | block hash                            | BCS [`Block`] (undecided bodies)   |
//! | `rounds`    | height BE ‖ round BE ‖ block hash     | BCS [`RoundProposal`]              |
//! | `meta`      | `tip`, `genesis`                      | BCS [`ChainTip`], genesis digest   |
//!
//! A decided block is committed as one `WriteBatch` — record, state changes, index, events,
//! tip — written with `sync`, before the engine is told the commit is done; a crash either
//! loses the whole block (re-synced from peers at restart) or keeps all of it. A proposal body
//! is written (synced) before this validator votes for or proposes it, so a restarted
//! validator can re-propose what its consensus WAL says it proposed.

use std::path::Path;

use floe_common::codec::{self, CodecError};
use floe_common::hash::Digest;
use rocksdb::{
    ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions,
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::block::{Block, BlockHash, MAX_BLOCK_BYTES};
use crate::cert::ValidatorAddress;
use crate::events::Event;
pub use crate::record::{BlockRecord, EventCursor, EventRecord, TxOutcome, TxStatus};
use crate::state::{State, StateError};
use crate::tx::TxDigest;

const CF_BLOCKS: &str = "blocks";
const CF_STATE: &str = "state";
const CF_TXS: &str = "txs";
const CF_EVENTS: &str = "events";
const CF_PROPOSALS: &str = "proposals";
const CF_ROUNDS: &str = "rounds";
const CF_META: &str = "meta";
const FAMILIES: [&str; 7] = [
    CF_BLOCKS,
    CF_STATE,
    CF_TXS,
    CF_EVENTS,
    CF_PROPOSALS,
    CF_ROUNDS,
    CF_META,
];
const META_TIP: &[u8] = b"tip";
const META_GENESIS: &[u8] = b"genesis";
/// A block record: the block, its certificate and outcomes (bounded by the block size).
const MAX_RECORD_BYTES: usize = 4 * MAX_BLOCK_BYTES;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerStoreError {
    /// RocksDB failed.
    #[error("rocksdb: {0}")]
    Db(#[from] rocksdb::Error),
    /// A stored record does not decode.
    #[error("corrupt record in {family}: {source}")]
    Corrupt {
        /// Column family.
        family: &'static str,
        /// Decoding error.
        source: CodecError,
    },
    /// A stored key or index entry has the wrong shape.
    #[error("corrupt entry in {family}: {len} bytes")]
    BadEntry {
        /// Column family.
        family: &'static str,
        /// Its length.
        len: usize,
    },
    /// The stored state does not rebuild.
    #[error("corrupt state: {0}")]
    State(#[from] StateError),
    /// The data directory belongs to another chain.
    #[error("data directory holds genesis {stored}, this genesis is {given}")]
    WrongGenesis {
        /// Stored digest (hex).
        stored: String,
        /// Given digest (hex).
        given: String,
    },
}

/// Where the chain stands: the last committed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainTip {
    /// Height of the last committed block (0: none yet).
    pub height: u64,
    /// Its hash ([`BlockHash::GENESIS_PARENT`] before the first block).
    pub block_hash: BlockHash,
    /// Its timestamp (the genesis time before the first block).
    pub timestamp_ms: u64,
    /// State digest after it.
    pub app_hash: Digest,
}

/// A proposal seen for a (height, round), kept until its height is decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundProposal {
    /// Proposer.
    pub proposer: ValidatorAddress,
    /// Proof-of-lock round (−1 for none).
    pub pol_round: i64,
    /// The block.
    pub block_hash: BlockHash,
}

/// The validator's database.
pub struct LedgerStore {
    db: DB,
    sync: WriteOptions,
}

impl LedgerStore {
    /// Opens (or creates) the store at `path` for the chain with `genesis_digest`.
    pub fn open(path: &Path, genesis_digest: [u8; 32]) -> Result<Self, LedgerStoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_compression_type(rocksdb::DBCompressionType::None);
        let cfs = FAMILIES.iter().map(|name| {
            let mut o = Options::default();
            o.set_compression_type(rocksdb::DBCompressionType::None);
            ColumnFamilyDescriptor::new(*name, o)
        });
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        let store = LedgerStore { db, sync };
        match store.db.get_cf(store.cf(CF_META), META_GENESIS)? {
            Some(stored) if stored.as_slice() != genesis_digest => {
                return Err(LedgerStoreError::WrongGenesis {
                    stored: hex::encode(stored),
                    given: hex::encode(genesis_digest),
                });
            }
            Some(_) => {}
            None => {
                store
                    .db
                    .put_cf_opt(store.cf(CF_META), META_GENESIS, genesis_digest, &store.sync)?
            }
        }
        Ok(store)
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column families are created on open")
    }

    fn get<T: DeserializeOwned>(
        &self,
        family: &'static str,
        key: &[u8],
        limit: usize,
    ) -> Result<Option<T>, LedgerStoreError> {
        match self.db.get_pinned_cf(self.cf(family), key)? {
            None => Ok(None),
            Some(bytes) => codec::decode(&bytes, limit)
                .map(Some)
                .map_err(|source| LedgerStoreError::Corrupt { family, source }),
        }
    }

    /// The last committed block, if any.
    pub fn tip(&self) -> Result<Option<ChainTip>, LedgerStoreError> {
        self.get(CF_META, META_TIP, 1024)
    }

    /// Rebuilds the state from disk (`None` before the first commit).
    pub fn load_state(&self) -> Result<Option<State>, LedgerStoreError> {
        if self.tip()?.is_none() {
            return Ok(None);
        }
        let mut entries = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_STATE), IteratorMode::Start) {
            let (k, v) = item?;
            entries.push((k.to_vec(), v.to_vec()));
        }
        Ok(Some(State::from_entries(entries)?))
    }

    /// Commits a decided block atomically and durably: the record, the state changes, the
    /// transaction index, the events and the new tip.
    pub fn commit(
        &self,
        record: &BlockRecord,
        changes: &[(Vec<u8>, Option<Vec<u8>>)],
        tip: &ChainTip,
    ) -> Result<(), LedgerStoreError> {
        let height = record.block.height();
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.cf(CF_BLOCKS),
            height.to_be_bytes(),
            codec::encode(record),
        );
        for (k, v) in changes {
            match v {
                Some(v) => batch.put_cf(self.cf(CF_STATE), k, v),
                None => batch.delete_cf(self.cf(CF_STATE), k),
            }
        }
        // Events in cursor order: the block's own, then each successful transaction's.
        let mut event_index = 0u32;
        let mut put_event = |batch: &mut WriteBatch, tx: Option<TxDigest>, event: &Event| {
            let cursor = EventCursor {
                height,
                index: event_index,
            };
            event_index += 1;
            let rec = EventRecord {
                cursor,
                tx,
                event: event.clone(),
            };
            batch.put_cf(self.cf(CF_EVENTS), cursor_key(&cursor), codec::encode(&rec));
        };
        for event in &record.system_events {
            put_event(&mut batch, None, event);
        }
        for (i, outcome) in record.outcomes.iter().enumerate() {
            let mut loc = [0u8; 12];
            loc[..8].copy_from_slice(&height.to_be_bytes());
            loc[8..].copy_from_slice(&(i as u32).to_be_bytes());
            batch.put_cf(self.cf(CF_TXS), outcome.digest.0, loc);
            if let TxStatus::Success(effects) = &outcome.status {
                for event in &effects.events {
                    put_event(&mut batch, Some(outcome.digest), event);
                }
            }
        }
        batch.put_cf(self.cf(CF_META), META_TIP, codec::encode(tip));
        // Proposals at or below this height are settled.
        let end = (height + 1).to_be_bytes();
        for item in self.db.iterator_cf(self.cf(CF_ROUNDS), IteratorMode::Start) {
            let (k, v) = item?;
            if k.as_ref() >= end.as_slice() {
                break;
            }
            if let Ok(p) = codec::decode::<RoundProposal>(&v, 1024) {
                batch.delete_cf(self.cf(CF_PROPOSALS), p.block_hash.0);
            }
            batch.delete_cf(self.cf(CF_ROUNDS), k);
        }
        self.db.write_opt(batch, &self.sync)?;
        Ok(())
    }

    /// The committed block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<BlockRecord>, LedgerStoreError> {
        self.get(CF_BLOCKS, &height.to_be_bytes(), MAX_RECORD_BYTES)
    }

    /// Where a transaction was committed: (height, index in block).
    pub fn tx_location(&self, digest: &TxDigest) -> Result<Option<(u64, u32)>, LedgerStoreError> {
        let Some(v) = self.db.get_pinned_cf(self.cf(CF_TXS), digest.0)? else {
            return Ok(None);
        };
        let cursor = cursor_from_key(&v).ok_or(LedgerStoreError::BadEntry {
            family: CF_TXS,
            len: v.len(),
        })?;
        Ok(Some((cursor.height, cursor.index)))
    }

    /// Up to `limit` events at or after `from`.
    pub fn events_from(
        &self,
        from: EventCursor,
        limit: usize,
    ) -> Result<Vec<EventRecord>, LedgerStoreError> {
        let key = cursor_key(&from);
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(CF_EVENTS),
            IteratorMode::From(&key, Direction::Forward),
        );
        for item in iter.take(limit) {
            let (_, v) = item?;
            out.push(codec::decode(&v, MAX_RECORD_BYTES).map_err(|source| {
                LedgerStoreError::Corrupt {
                    family: CF_EVENTS,
                    source,
                }
            })?);
        }
        Ok(out)
    }

    /// Durably keeps an undecided block body and notes it as proposed at (height, round).
    pub fn put_proposal(
        &self,
        height: u64,
        round: u32,
        proposal: &RoundProposal,
        block: &Block,
    ) -> Result<(), LedgerStoreError> {
        let mut key = Vec::with_capacity(44);
        key.extend_from_slice(&height.to_be_bytes());
        key.extend_from_slice(&round.to_be_bytes());
        key.extend_from_slice(&proposal.block_hash.0);
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.cf(CF_PROPOSALS),
            proposal.block_hash.0,
            block.to_bytes(),
        );
        batch.put_cf(self.cf(CF_ROUNDS), key, codec::encode(proposal));
        self.db.write_opt(batch, &self.sync)?;
        Ok(())
    }

    /// An undecided block body by hash.
    pub fn proposal(&self, hash: &BlockHash) -> Result<Option<Block>, LedgerStoreError> {
        self.get(CF_PROPOSALS, &hash.0, MAX_BLOCK_BYTES)
    }

    /// Proposals noted for (height, round).
    pub fn round_proposals(
        &self,
        height: u64,
        round: u32,
    ) -> Result<Vec<RoundProposal>, LedgerStoreError> {
        let mut prefix = [0u8; 12];
        prefix[..8].copy_from_slice(&height.to_be_bytes());
        prefix[8..].copy_from_slice(&round.to_be_bytes());
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(CF_ROUNDS),
            IteratorMode::From(&prefix, Direction::Forward),
        );
        for item in iter {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            out.push(
                codec::decode(&v, 1024).map_err(|source| LedgerStoreError::Corrupt {
                    family: CF_ROUNDS,
                    source,
                })?,
            );
        }
        Ok(out)
    }
}

/// The `events` key of a cursor: height (u64 BE) ‖ index (u32 BE), so keys sort by position.
fn cursor_key(c: &EventCursor) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&c.height.to_be_bytes());
    k[8..].copy_from_slice(&c.index.to_be_bytes());
    k
}

/// The cursor of an `events` key.
fn cursor_from_key(k: &[u8]) -> Option<EventCursor> {
    Some(EventCursor {
        height: u64::from_be_bytes(k.get(..8)?.try_into().ok()?),
        index: u32::from_be_bytes(k.get(8..12)?.try_into().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_cursor_text_form() {
        let c = EventCursor {
            height: 12,
            index: 3,
        };
        assert_eq!(c.to_string(), "12:3");
        assert_eq!("12:3".parse::<EventCursor>().unwrap(), c);
        for bad in [
            "",
            "12",
            "12:",
            ":3",
            "a:b",
            "1:2:3",
            "-1:0",
            "1:4294967296",
        ] {
            assert!(bad.parse::<EventCursor>().is_err(), "{bad}");
        }
    }
}
