//! Secret files: key files and anything else only their owner may read.
//!
//! * [`write_secret`] writes a file atomically (a temporary file in the same folder, synced,
//!   then renamed over the target) and creates it with mode `0600`, so there is never a moment
//!   when the secret sits in a file group or others can read.
//! * [`read_secret`] refuses a file whose mode lets group or others read, write or run it
//!   (`mode & 0o077 != 0`) with [`SecretFileError::Exposed`], naming the path and the mode. A key
//!   that others could read must be treated as leaked; loading it silently would hide that.
//! * [`write_key_file`] and [`read_key_file`] do the same for a [`KeyFile`] (the JSON key file
//!   of validators, storage nodes and wallets).
//!
//! On systems without Unix permissions the mode is neither set nor checked.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use floe_common::KeyPair;
use floe_common::crypto::KeyFile;

/// The mode secret files are created with: read and write for the owner only.
pub const SECRET_MODE: u32 = 0o600;

/// Permission bits that must be clear on a secret file: anything for group or others.
const SHARED_BITS: u32 = 0o077;

/// A secret file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// Reading or writing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file's mode lets group or others at it.
    #[error(
        "{} has mode {mode:04o}, which lets other users read it; treat the key as leaked, or run `chmod 600` on it if nobody else could have read it",
        path.display()
    )]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits (`mode & 0o777`).
        mode: u32,
    },
    /// The file is not a key file.
    #[error("{} is not a valid key file: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SecretFileError + '_ {
    move |source| SecretFileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The temporary file [`write_secret`] writes before renaming it to `path`.
fn temporary(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".tmp");
    path.with_file_name(name)
}

/// Creates `path` (which must not exist) with [`SECRET_MODE`].
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, SECRET_MODE);
    options.open(path)
}

/// Writes `bytes` to `path` atomically, readable and writable by the owner only
/// ([`SECRET_MODE`] from the moment the file exists). Replaces an existing file at `path`
/// (whatever its mode: the new file is a new inode).
pub fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), SecretFileError> {
    let tmp = temporary(path);
    let mut file = match create_private(&tmp) {
        // A temporary file left by an interrupted write: its mode is unknown, so start over.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&tmp).map_err(io(&tmp))?;
            create_private(&tmp)
        }
        other => other,
    }
    .map_err(io(&tmp))?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(path)(e));
    }
    Ok(())
}

/// Checks the mode of an open secret file.
#[cfg(unix)]
fn check_private(path: &Path, file: &std::fs::File) -> Result<(), SecretFileError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = file.metadata().map_err(io(path))?.permissions().mode() & 0o777;
    if mode & SHARED_BITS != 0 {
        return Err(SecretFileError::Exposed {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _file: &std::fs::File) -> Result<(), SecretFileError> {
    Ok(())
}

/// Reads a secret file, refusing it with [`SecretFileError::Exposed`] if group or others have
/// any permission on it. The mode is checked on the opened file, so it is the file read.
pub fn read_secret(path: &Path) -> Result<Vec<u8>, SecretFileError> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    check_private(path, &file)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io(path))?;
    Ok(bytes)
}

/// Writes `key` as a [`KeyFile`] at `path` with [`write_secret`].
pub fn write_key_file(path: &Path, key: &KeyPair) -> Result<(), SecretFileError> {
    let text =
        serde_json::to_string_pretty(&KeyFile::of(key)).map_err(|e| SecretFileError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    write_secret(path, format!("{text}\n").as_bytes())
}

/// Reads the key of the [`KeyFile`] at `path` with [`read_secret`] (so a key file group or
/// others can read is refused).
pub fn read_key_file(path: &Path) -> Result<KeyPair, SecretFileError> {
    let bytes = read_secret(path)?;
    let invalid = |reason: String| SecretFileError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let file: KeyFile = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    file.key().map_err(|e| invalid(e.to_string()))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn key_files_are_private_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        let key = KeyPair::from_seed([7; 32]);
        // Replacing a world-readable file gives a private one.
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        // A stale temporary file (from an interrupted write) is not reused.
        std::fs::write(temporary(&path), "stale").unwrap();
        std::fs::set_permissions(temporary(&path), std::fs::Permissions::from_mode(0o644)).unwrap();
        write_key_file(&path, &key).unwrap();
        assert_eq!(mode(&path), SECRET_MODE);
        assert!(!temporary(&path).exists());
        assert_eq!(read_key_file(&path).unwrap().public(), key.public());
    }

    #[test]
    fn shared_key_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        write_key_file(&path, &KeyPair::from_seed([7; 32])).unwrap();
        for shared in [0o644, 0o640, 0o604, 0o660, 0o601] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(shared)).unwrap();
            match read_key_file(&path) {
                Err(SecretFileError::Exposed { path: p, mode }) => {
                    assert_eq!((p, mode), (path.clone(), shared));
                }
                other => panic!("mode {shared:o}: {other:?}"),
            }
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(read_key_file(&path).is_ok());
        std::fs::write(dir.path().join("bad.json"), "{}").unwrap();
        std::fs::set_permissions(
            dir.path().join("bad.json"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        assert!(matches!(
            read_key_file(&dir.path().join("bad.json")),
            Err(SecretFileError::Invalid { .. })
        ));
    }
}
