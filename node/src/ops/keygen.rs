//! `floe-node keygen`: a fresh ed25519 protocol key in a key file.
//!
//! The file is the JSON `KeyFile` every Floe key uses, written by
//! [`floe_runtime::write_key_file`]: atomically, with mode `0600` from the moment it exists.
//! An existing file is never replaced unless the caller forces it (a lost node key cannot be
//! recovered, and its registration would be orphaned).
//!
//! The key determines the node's identity everywhere: the node id on the ledger
//! (`BLAKE3("floe/node" ‖ key)`), the libp2p peer id, and the ledger account that pays the
//! node's own transactions (storage proofs, `EpochSyncDone`, invalidations), which must be
//! funded before the node joins a committee.

use std::path::{Path, PathBuf};

use floe_common::{KeyPair, NodeId, PublicKey};
use floe_ledger_types::{Address, node_id_of};
use serde::Serialize;

use super::ErrorKind;

/// A key could not be written.
#[derive(Debug, thiserror::Error)]
pub enum KeygenError {
    /// A file exists at the path, and overwriting was not forced.
    #[error("{} exists; refusing to overwrite a key (pass --force to replace it)", path.display())]
    Exists {
        /// The path.
        path: PathBuf,
    },
    /// The directory could not be created.
    #[error("creating {}: {source}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key file could not be written.
    #[error(transparent)]
    Write(#[from] floe_runtime::SecretFileError),
}

impl KeygenError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Local
    }

    /// A stable snake-case code for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            KeygenError::Exists { .. } => "exists",
            KeygenError::Dir { .. } | KeygenError::Write(_) => "io",
        }
    }
}

/// What a protocol key gives a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// The key file.
    pub key_file: PathBuf,
    /// The public key (registered on the ledger).
    pub public_key: PublicKey,
    /// The node id it gives.
    pub node_id: NodeId,
    /// The libp2p peer id it gives.
    pub peer_id: String,
    /// The ledger account of the key, which pays the node's own transactions.
    pub account: Address,
}

impl KeyInfo {
    /// The identity `key` (stored at `key_file`) gives.
    pub fn of(key_file: &Path, key: &KeyPair) -> KeyInfo {
        let public_key = key.public();
        KeyInfo {
            key_file: key_file.to_owned(),
            public_key,
            node_id: node_id_of(&public_key),
            peer_id: crate::network::peer_id_of_public(&public_key).to_string(),
            account: Address::of(&public_key),
        }
    }
}

/// Writes a new random key to `out` (creating its directory), refusing an existing file
/// unless `force`.
pub fn keygen(out: &Path, force: bool) -> Result<KeyInfo, KeygenError> {
    super::check_free(out, force).map_err(|path| KeygenError::Exists { path })?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| KeygenError::Dir {
            path: dir.to_owned(),
            source,
        })?;
    }
    let key = KeyPair::generate(&mut rand::rngs::OsRng);
    floe_runtime::write_key_file(out, &key)?;
    let info = KeyInfo::of(out, &key);
    tracing::info!(path = %out.display(), node_id = %info.node_id, "node key written");
    Ok(info)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn keygen_writes_a_private_key_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/node.json");
        let info = keygen(&path, false).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let key = floe_runtime::read_key_file(&path).unwrap();
        assert_eq!(info, KeyInfo::of(&path, &key));
        assert_eq!(info.node_id, node_id_of(&key.public()));

        // An existing file is kept, byte for byte.
        let before = std::fs::read(&path).unwrap();
        match keygen(&path, false) {
            Err(KeygenError::Exists { path: p }) => assert_eq!(p, path),
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), before);

        // Forced, it is replaced by a new key.
        let again = keygen(&path, true).unwrap();
        assert_ne!(again.public_key, info.public_key);
        assert_eq!(
            floe_runtime::read_key_file(&path).unwrap().public(),
            again.public_key
        );
    }
}
