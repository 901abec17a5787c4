//! Free space: a full disk degrades the node, it does not stop it.
//!
//! RocksDB turns a store read-only when a write, a flush or a compaction fails with `ENOSPC` (a
//! "background error"): every later write fails until the error is cleared. The `rocksdb`
//! crate does not expose `DB::resume()`, and reopening the store would mean swapping the handle
//! under every task that shares it. So the node keeps RocksDB away from `ENOSPC` instead, and
//! lets RocksDB's own recovery handle the case the margin does not cover:
//!
//! 1. **A margin, checked before every data write.** Metadata and sliver writes (from clients,
//!    blob sync and shard migration) first read the file system's free space (`statvfs`, a
//!    cheap system call) and are refused with [`StorageError::Full`] when less than
//!    `min_free_bytes` is left. The margin is what RocksDB needs to flush its write buffers and
//!    compact, and what the ledger view needs: the follower's writes (a few bytes per blob per
//!    block), GC's deletions and cursors are never refused by it, so the node keeps following
//!    the ledger and can delete expired data while it refuses new data. Once refusing, writes
//!    are accepted again only when free space is back above the margin plus an eighth of it
//!    (hysteresis), so the node does not flap at the threshold. Nothing is cached: the first
//!    write after space returns (GC, an operator, a bigger volume) is accepted, with no
//!    restart.
//! 2. **`ENOSPC` anyway** (the margin too small, another process filling the disk): a write
//!    RocksDB refuses for lack of space is [`StorageError::Full`] too, never a generic error;
//!    the store is marked full until a write succeeds again. RocksDB's default `SstFileManager`
//!    polls the free space of a store stopped by a no-space error and resumes it by itself
//!    (RocksDB rechecks every few seconds), so the next write after that succeeds. The ledger
//!    follower pauses and retries its block (see [`crate::follower`]) instead of stopping.
//!
//! Reads are never refused. Nothing acknowledged is lost: a refused write was never
//! acknowledged, and RocksDB's recovery keeps every write that was.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::StorageError;

/// Tracks the free space of a store's file system and whether it takes data writes.
#[derive(Debug)]
pub(super) struct DiskSpace {
    path: PathBuf,
    /// Data writes are refused below this many free bytes (0: never, by this check).
    min_free: u64,
    /// Set while free space is below the margin (cleared above the margin and hysteresis).
    low: AtomicBool,
    /// Set when RocksDB refused a write for lack of space; cleared by the next write it takes.
    no_space: AtomicBool,
    /// Data writes refused so far.
    refused: AtomicU64,
}

/// What [`DiskSpace::status`] reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpaceStatus {
    /// Whether the store refuses data writes now.
    pub full: bool,
    /// Bytes free for the node's user on the store's file system (`None`: unknown).
    pub available: Option<u64>,
    /// The configured margin.
    pub min_free: u64,
    /// Data writes refused so far.
    pub refused: u64,
}

impl DiskSpace {
    pub(super) fn new(path: &Path, min_free: u64) -> Self {
        DiskSpace {
            path: path.to_owned(),
            min_free,
            low: AtomicBool::new(false),
            no_space: AtomicBool::new(false),
            refused: AtomicU64::new(0),
        }
    }

    /// Free space above which a store that was refusing writes takes them again.
    fn resume_at(&self) -> u64 {
        self.min_free.saturating_add(self.min_free / 8)
    }

    /// Reads the free space and updates the low-space state; returns the free bytes.
    fn refresh(&self) -> Option<u64> {
        let available = available_bytes(&self.path)?;
        let was_low = self.low.load(Ordering::Acquire);
        let low = if was_low {
            available < self.resume_at()
        } else {
            available < self.min_free
        };
        if low != was_low {
            self.low.store(low, Ordering::Release);
            if low {
                tracing::warn!(path = %self.path.display(), available, min_free = self.min_free, "free space below the margin; refusing new data until space is freed");
            } else {
                tracing::info!(path = %self.path.display(), available, "free space is back; taking new data again");
            }
        }
        Some(available)
    }

    /// Checks that a data write may go ahead; counts and refuses it if not.
    pub(super) fn check_room(&self) -> Result<(), StorageError> {
        let available = self.refresh();
        if self.low.load(Ordering::Acquire) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(StorageError::Full {
                available,
                min_free: self.min_free,
            });
        }
        Ok(())
    }

    /// Records the outcome of a RocksDB write: a refusal for lack of space marks the store
    /// full (and is turned into [`StorageError::Full`]); a success clears that mark.
    pub(super) fn after_write(
        &self,
        result: Result<(), rocksdb::Error>,
    ) -> Result<(), StorageError> {
        match result {
            Ok(()) => {
                if self.no_space.swap(false, Ordering::AcqRel) {
                    tracing::info!(path = %self.path.display(), "the store takes writes again");
                }
                Ok(())
            }
            Err(e) if is_no_space(&e) => {
                if !self.no_space.swap(true, Ordering::AcqRel) {
                    tracing::error!(path = %self.path.display(), error = %e, "the store is out of space; writes are refused until space is freed");
                }
                Err(StorageError::Full {
                    available: available_bytes(&self.path),
                    min_free: self.min_free,
                })
            }
            Err(e) => Err(StorageError::Db(e)),
        }
    }

    /// Counts a data write that RocksDB refused for lack of space.
    pub(super) fn count_refused(&self, e: &StorageError) {
        if matches!(e, StorageError::Full { .. }) {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The current state (reads the free space).
    pub(super) fn status(&self) -> SpaceStatus {
        let available = self.refresh();
        SpaceStatus {
            full: self.low.load(Ordering::Acquire) || self.no_space.load(Ordering::Acquire),
            available,
            min_free: self.min_free,
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}

/// Whether RocksDB refused a write for lack of space (its `IOError` with the `NoSpace` or
/// `SpaceLimit` subcode, which is also what a store stopped by such an error answers every
/// write with until it resumes).
fn is_no_space(e: &rocksdb::Error) -> bool {
    if e.kind() != rocksdb::ErrorKind::IOError {
        return false;
    }
    let text = e.as_ref().to_ascii_lowercase();
    text.contains("no space") || text.contains("space limit")
}

/// Bytes available to unprivileged users on the file system holding `path`.
#[cfg(unix)]
fn available_bytes(path: &Path) -> Option<u64> {
    let st = nix::sys::statvfs::statvfs(path).ok()?;
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)] // widths differ by platform
    Some((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}

/// Free space is only read on Unix; elsewhere the margin is not enforced (RocksDB's own
/// no-space errors still are).
#[cfg(not(unix))]
fn available_bytes(_path: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_refuses_and_resumes_with_hysteresis() {
        let dir = tempfile::tempdir().unwrap();
        let free = available_bytes(dir.path()).expect("statvfs works on a temp dir");
        // A margin above what is free: refused, counted.
        let space = DiskSpace::new(dir.path(), free.saturating_mul(2).max(1 << 40));
        assert!(matches!(space.check_room(), Err(StorageError::Full { .. })));
        let s = space.status();
        assert!(s.full && s.refused == 1 && s.available.is_some(), "{s:?}");
        // No margin: never refused by the check.
        let space = DiskSpace::new(dir.path(), 0);
        space.check_room().unwrap();
        assert!(!space.status().full);
    }
}
