//! The wallet: one ed25519 account key in a key file (JSON `{"secret": "<hex seed>"}`, the
//! same [`KeyFile`] format validators and nodes use).
//!
//! [`Wallet::create`] writes a new random key with owner-only permissions (0600 on Unix) and
//! never overwrites an existing file; [`Wallet::load`] reads one (and warns in the log if the
//! file is readable by others). The account address is [`Address::of`] the public key.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use floe_common::KeyPair;
use floe_common::crypto::KeyFile;
use floe_ledger_types::Address;

/// A wallet could not be created or loaded.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// [`Wallet::create`] found a file at the path.
    #[error("a wallet already exists at {path}; refusing to overwrite it")]
    Exists {
        /// The path.
        path: PathBuf,
    },
    /// [`Wallet::load`] found no file at the path.
    #[error("no wallet at {path}")]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// Reading or writing the file failed.
    #[error("wallet {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a key file.
    #[error("wallet {path} is not a valid key file: {reason}")]
    Invalid {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        #[source]
        reason: InvalidKeyFile,
    },
}

/// Why a wallet file is not a key file.
#[derive(Debug, thiserror::Error)]
pub enum InvalidKeyFile {
    /// It is not the key file's JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// It holds no valid ed25519 key.
    #[error(transparent)]
    Key(#[from] floe_common::ids::IdParseError),
}

/// An account key and where it is stored.
#[derive(Debug, Clone)]
pub struct Wallet {
    key: KeyPair,
    path: PathBuf,
}

impl Wallet {
    /// Creates a wallet with a fresh random key at `path` (parent directories included), readable
    /// only by its owner. Fails with [`WalletError::Exists`] if anything is at `path`.
    pub fn create(path: &Path) -> Result<Wallet, WalletError> {
        Self::create_with_key(path, KeyPair::generate(&mut rand::rngs::OsRng))
    }

    /// Writes `key` as a new wallet at `path` (see [`Wallet::create`]).
    pub fn create_with_key(path: &Path, key: KeyPair) -> Result<Wallet, WalletError> {
        let io = |source| WalletError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                WalletError::Exists {
                    path: path.to_owned(),
                }
            } else {
                io(e)
            }
        })?;
        let text =
            serde_json::to_string_pretty(&KeyFile::of(&key)).expect("a key file always serializes");
        file.write_all(text.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .map_err(io)?;
        tracing::info!(path = %path.display(), address = %Address::of(&key.public()), "wallet created");
        Ok(Wallet {
            key,
            path: path.to_owned(),
        })
    }

    /// Loads the wallet at `path`.
    pub fn load(path: &Path) -> Result<Wallet, WalletError> {
        let bytes = std::fs::read(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                WalletError::NotFound {
                    path: path.to_owned(),
                }
            } else {
                WalletError::Io {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        let invalid = |reason: InvalidKeyFile| WalletError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let file: KeyFile = serde_json::from_slice(&bytes).map_err(|e| invalid(e.into()))?;
        let key = file.key().map_err(|e| invalid(e.into()))?;
        warn_if_shared(path);
        Ok(Wallet {
            key,
            path: path.to_owned(),
        })
    }

    /// A wallet for `key` that is not backed by a file (tests, embedding).
    pub fn from_key(key: KeyPair) -> Wallet {
        Wallet {
            key,
            path: PathBuf::new(),
        }
    }

    /// The account address.
    pub fn address(&self) -> Address {
        Address::of(&self.key.public())
    }

    /// The signing key.
    pub fn key(&self) -> &KeyPair {
        &self.key
    }

    /// Where the key file is (empty for [`Wallet::from_key`]).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "the wallet is readable by other users; run `chmod 600` on it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_load_and_refuse_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/wallet.json");
        let w = Wallet::create(&path).unwrap();
        let again = Wallet::load(&path).unwrap();
        assert_eq!(again.address(), w.address());
        assert_eq!(again.key().public(), w.key().public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let before = std::fs::read(&path).unwrap();
        assert!(matches!(
            Wallet::create(&path),
            Err(WalletError::Exists { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), before, "file untouched");
        // The file is a plain KeyFile.
        let kf: KeyFile = serde_json::from_slice(&before).unwrap();
        assert_eq!(kf.key().unwrap().public(), w.key().public());
    }

    #[test]
    fn load_errors_are_typed() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.json");
        assert!(matches!(
            Wallet::load(&missing),
            Err(WalletError::NotFound { .. })
        ));
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"secret\": \"zz\"}").unwrap();
        assert!(matches!(
            Wallet::load(&bad),
            Err(WalletError::Invalid { .. })
        ));
        std::fs::write(&bad, "not json").unwrap();
        assert!(matches!(
            Wallet::load(&bad),
            Err(WalletError::Invalid { .. })
        ));
    }

    #[test]
    fn two_wallets_differ() {
        let dir = tempfile::tempdir().unwrap();
        let a = Wallet::create(&dir.path().join("a.json")).unwrap();
        let b = Wallet::create(&dir.path().join("b.json")).unwrap();
        assert_ne!(a.address(), b.address());
    }
}
