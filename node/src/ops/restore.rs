//! `floe-node restore`: puts a checkpoint back as a stopped node's store.
//!
//! The store is `<data_dir>/db`. Restoring:
//!
//! 1. checks the checkpoint: a directory that opens read-only as a store of the genesis' shard
//!    count, whose ledger cursor is read (the block the node will resume after);
//! 2. refuses while the node runs: it takes a lock on the store's `LOCK` file that conflicts
//!    with the one RocksDB holds while the store is open (an open-file-description lock, which
//!    conflicts with RocksDB's even inside one process), and keeps it until done, so the node
//!    cannot start half way (Linux; elsewhere the check is skipped with a warning);
//! 3. refuses to replace an existing store unless forced;
//! 4. copies the checkpoint (never moves it: it stays a valid backup) into `db.restoring` next
//!    to the store, fsyncs every file, then swaps it in with renames: the old store becomes
//!    `db.replaced` and is deleted once the new one is in place. An interrupted restore leaves
//!    the old store or the new one at `db`, never a mix; run it again.
//!
//! After a restore the node's ledger cursor, blob states and sync queue are the checkpoint's.
//! On start the follower applies every block after the cursor, which queues the blobs
//! certified since for blob sync, and the node recovers their slivers from its peers.

use std::fs::File;
use std::path::{Path, PathBuf};

use floe_common::Epoch;
use serde::Serialize;

use super::ErrorKind;
use crate::config::NodeConfig;
use crate::server::NodeRunError;
use crate::storage::Storage;

/// The store's directory under the data directory.
pub const DB_DIR: &str = "db";
/// Where the checkpoint is copied before it is swapped in.
const STAGING_DIR: &str = "db.restoring";
/// Where the replaced store waits until the new one is in place.
const REPLACED_DIR: &str = "db.replaced";

/// A restored store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restored {
    /// The store that was written.
    pub db: PathBuf,
    /// The checkpoint it was copied from.
    pub from: PathBuf,
    /// The checkpoint's ledger cursor: the node resumes at the block after it.
    pub ledger_height: u64,
    /// The ledger epoch at the cursor.
    pub epoch: Epoch,
    /// Whether a store was replaced.
    pub replaced: bool,
}

/// A restore failed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The configuration's genesis could not be loaded.
    #[error(transparent)]
    Load(#[from] NodeRunError),
    /// The source is not a store checkpoint.
    #[error("{} is not a usable checkpoint: {reason}", path.display())]
    NotACheckpoint {
        /// The source.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The store is open: the node seems to be running.
    #[error("the store {} is locked: the node seems to be running; stop it first", db.display())]
    NodeRunning {
        /// The store.
        db: PathBuf,
    },
    /// A store exists and replacing it was not forced.
    #[error("a store exists at {}; pass --force to replace it", db.display())]
    TargetExists {
        /// The store.
        db: PathBuf,
    },
    /// Reading, copying or renaming failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl RestoreError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Local
    }

    /// A stable snake-case code for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            RestoreError::Load(_) => "config",
            RestoreError::NotACheckpoint { .. } => "not_a_checkpoint",
            RestoreError::NodeRunning { .. } => "node_running",
            RestoreError::TargetExists { .. } => "exists",
            RestoreError::Io { .. } => "io",
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RestoreError + '_ {
    move |source| RestoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Replaces the store of the node configured by `config` with a copy of the checkpoint
/// `from`, refusing while the node runs and, unless `force`, when a store exists.
pub fn restore(config: &NodeConfig, from: &Path, force: bool) -> Result<Restored, RestoreError> {
    let genesis = crate::server::load_genesis(config)?;
    let encoding = crate::server::encoding_of(&genesis)?;
    let not_checkpoint = |reason: String| RestoreError::NotACheckpoint {
        path: from.to_owned(),
        reason,
    };
    if !from.join("CURRENT").is_file() {
        return Err(not_checkpoint("no RocksDB CURRENT file".into()));
    }
    let tip = Storage::open_read_only(from, encoding)
        .and_then(|s| s.ledger_tip())
        .map_err(|e| not_checkpoint(e.to_string()))?;
    let db = config.data_dir.join(DB_DIR);
    let exists = db.symlink_metadata().is_ok();
    if exists
        && let (Ok(source), Ok(target)) = (from.canonicalize(), db.canonicalize())
        && source.starts_with(&target)
    {
        return Err(not_checkpoint(format!(
            "it is inside the store {} it would replace",
            db.display()
        )));
    }
    let _lock = DbLock::acquire(&db)?;
    if exists && !force {
        return Err(RestoreError::TargetExists { db });
    }
    std::fs::create_dir_all(&config.data_dir).map_err(io(&config.data_dir))?;
    let staging = config.data_dir.join(STAGING_DIR);
    remove_if_present(&staging)?;
    copy_tree(from, &staging)?;
    if exists {
        let replaced = config.data_dir.join(REPLACED_DIR);
        remove_if_present(&replaced)?;
        std::fs::rename(&db, &replaced).map_err(io(&db))?;
        std::fs::rename(&staging, &db).map_err(io(&staging))?;
        sync_dir(&config.data_dir)?;
        std::fs::remove_dir_all(&replaced).map_err(io(&replaced))?;
    } else {
        std::fs::rename(&staging, &db).map_err(io(&staging))?;
        sync_dir(&config.data_dir)?;
    }
    tracing::info!(
        db = %db.display(),
        from = %from.display(),
        ledger_height = tip.height,
        replaced = exists,
        "store restored from a checkpoint"
    );
    Ok(Restored {
        db,
        from: from.to_owned(),
        ledger_height: tip.height,
        epoch: tip.epoch,
        replaced: exists,
    })
}

fn remove_if_present(path: &Path) -> Result<(), RestoreError> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

/// Copies the directory `from` to `to` (which must not exist), fsyncing every file and
/// directory. Symbolic links are refused (a checkpoint has none).
fn copy_tree(from: &Path, to: &Path) -> Result<(), RestoreError> {
    std::fs::create_dir(to).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(io(&source))?;
        if kind.is_dir() {
            copy_tree(&source, &target)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &target).map_err(io(&source))?;
            File::open(&target)
                .and_then(|f| f.sync_all())
                .map_err(io(&target))?;
        } else {
            return Err(RestoreError::NotACheckpoint {
                path: source,
                reason: "not a regular file or directory".into(),
            });
        }
    }
    sync_dir(to)
}

/// fsyncs a directory, so the entries made in it survive a crash.
fn sync_dir(dir: &Path) -> Result<(), RestoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// A write lock on a store's `LOCK` file, held while a restore replaces the store.
struct DbLock {
    _file: Option<File>,
}

impl DbLock {
    /// Locks the store at `db` (nothing to lock if it has no `LOCK` file), or fails with
    /// [`RestoreError::NodeRunning`] if RocksDB holds it.
    #[cfg(target_os = "linux")]
    fn acquire(db: &Path) -> Result<DbLock, RestoreError> {
        use nix::errno::Errno;
        use nix::fcntl::{FcntlArg, fcntl};
        use nix::libc;

        let path = db.join("LOCK");
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(DbLock { _file: None });
            }
            Err(e) => return Err(io(&path)(e)),
        };
        // The whole file, exclusively; released when the file is closed.
        let whole = libc::flock {
            l_type: libc::F_WRLCK as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: 0,
            l_len: 0,
            l_pid: 0,
        };
        match fcntl(&file, FcntlArg::F_OFD_SETLK(&whole)) {
            Ok(_) => Ok(DbLock { _file: Some(file) }),
            Err(Errno::EAGAIN | Errno::EACCES) => {
                Err(RestoreError::NodeRunning { db: db.to_owned() })
            }
            Err(e) => Err(io(&path)(e.into())),
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn acquire(db: &Path) -> Result<DbLock, RestoreError> {
        tracing::warn!(db = %db.display(), "cannot tell whether the node runs on this system; make sure it is stopped");
        Ok(DbLock { _file: None })
    }
}

#[cfg(test)]
mod tests {
    use floe_common::{EncodingConfig, encode_blob};

    use super::*;
    use crate::storage::StorageOptions;

    /// A configuration whose data directory and genesis are under `dir`.
    fn config(dir: &Path) -> NodeConfig {
        let mut c: NodeConfig = toml::from_str(super::super::config_file::EXAMPLE).unwrap();
        c.data_dir = dir.join("data");
        c.genesis = dir.join("genesis.json");
        let genesis = floe_ledger_types::Genesis::builder("floe-restore-test", 10).build();
        std::fs::write(&c.genesis, serde_json::to_vec(&genesis).unwrap()).unwrap();
        c
    }

    fn open(db: &Path) -> Storage {
        Storage::open(
            db,
            EncodingConfig::new(10).unwrap(),
            StorageOptions::default(),
        )
        .unwrap()
    }

    /// A checkpoint restores what it held and nothing written after it; the source stays;
    /// an open store is never replaced, an existing one only when forced.
    #[test]
    fn restore_replaces_the_store_with_a_copy_of_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path());
        let db = c.data_dir.join(DB_DIR);
        let enc = EncodingConfig::new(10).unwrap();
        let a = encode_blob(&enc, &[1u8; 5_000]).unwrap();
        let b = encode_blob(&enc, &[2u8; 5_000]).unwrap();
        let checkpoint = dir.path().join("checkpoint");
        {
            let live = open(&db);
            live.put_metadata(&a.blob_id(), a.metadata.metadata())
                .unwrap();
            live.checkpoint(&checkpoint).unwrap();
            live.put_metadata(&b.blob_id(), b.metadata.metadata())
                .unwrap();

            // The node runs: refused, and nothing moved.
            match restore(&c, &checkpoint, true) {
                Err(RestoreError::NodeRunning { db: d }) => assert_eq!(d, db),
                other => panic!("{other:?}"),
            }
            assert!(live.has_metadata(&b.blob_id()).unwrap());
        }
        assert!(!c.data_dir.join(STAGING_DIR).exists());

        // Stopped, but a store exists: refused without force.
        assert!(matches!(
            restore(&c, &checkpoint, false),
            Err(RestoreError::TargetExists { .. })
        ));
        assert!(open(&db).has_metadata(&b.blob_id()).unwrap(), "untouched");

        let restored = restore(&c, &checkpoint, true).unwrap();
        assert!(restored.replaced);
        assert_eq!(restored.ledger_height, 0);
        let st = open(&db);
        assert!(st.has_metadata(&a.blob_id()).unwrap());
        assert!(
            !st.has_metadata(&b.blob_id()).unwrap(),
            "written after the checkpoint"
        );
        drop(st);
        assert!(
            checkpoint.join("CURRENT").is_file(),
            "the checkpoint is copied, not moved"
        );
        assert!(!c.data_dir.join(REPLACED_DIR).exists());
        assert!(!c.data_dir.join(STAGING_DIR).exists());

        // Into an empty data directory, no force needed.
        std::fs::remove_dir_all(&c.data_dir).unwrap();
        let restored = restore(&c, &checkpoint, false).unwrap();
        assert!(!restored.replaced);
        assert!(open(&db).has_metadata(&a.blob_id()).unwrap());
    }

    #[test]
    fn restore_refuses_what_is_not_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path());
        let empty = dir.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        for from in [empty.clone(), dir.path().join("missing")] {
            assert!(matches!(
                restore(&c, &from, true),
                Err(RestoreError::NotACheckpoint { .. })
            ));
        }
        // A RocksDB directory of something else (no node column families).
        std::fs::write(empty.join("CURRENT"), "MANIFEST-000001\n").unwrap();
        assert!(matches!(
            restore(&c, &empty, true),
            Err(RestoreError::NotACheckpoint { .. })
        ));
        assert!(!c.data_dir.join(DB_DIR).exists());
    }
}
