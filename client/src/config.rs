//! The client's configuration file (YAML): `~/.config/floe/client.yaml` or `--config PATH`.
//!
//! Relative paths inside the file are resolved against the file's own directory, so a devnet
//! folder with `client.yaml` and `wallet.json` can be moved or used from any working directory.
//! Unknown fields are errors. `client.example.yaml` at the crate root is parsed by a test.

use std::path::{Path, PathBuf};

use floe_common::Frost;
use serde::{Deserialize, Serialize};

use crate::trust::LedgerTrust;

/// The client's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Ledger RPC base URLs (any validator; the client fails over between them).
    pub ledger_rpc: Vec<String>,
    /// The wallet's key file (JSON `KeyFile`), relative to this file's directory.
    pub wallet: PathBuf,
    /// Epochs a blob is stored for when a command does not say.
    #[serde(default = "default_epochs")]
    pub default_epochs: u32,
    /// The network's shard count, used by `floe blob-id` when the ledger cannot be reached
    /// (optional; the ledger's value wins when it answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_shards: Option<u16>,
    /// The chain this wallet signs for (optional). When set, the client refuses ledger servers
    /// of any other chain, so a server cannot obtain a signature meant for another network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<String>,
    /// The highest fee the client signs, in FROST (optional; default 0.001 WAL). A ledger
    /// server asking a higher minimum fee is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fee: Option<Frost>,
    /// The chain's genesis file (optional), relative to this file's directory. When set, the
    /// client pins the genesis' chain id and proves what it decides from the ledger (that a
    /// blob is already certified) against the genesis validators' signatures, instead of
    /// believing the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis: Option<PathBuf>,
}

/// Largest genesis file the client reads.
const MAX_GENESIS_BYTES: usize = 16 << 20;

fn default_epochs() -> u32 {
    1
}

/// The configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ClientConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("invalid configuration {path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        reason: serde_yaml_ng::Error,
    },
    /// The genesis file could not be read, or names no valid validator set.
    #[error("invalid genesis {path}: {reason}")]
    Genesis {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The genesis' chain id is not the configured `chain_id`.
    #[error("the genesis is of chain {genesis:?}, the configuration names {configured:?}")]
    ChainMismatch {
        /// The configured chain id.
        configured: String,
        /// The genesis' chain id.
        genesis: String,
    },
}

impl ClientConfig {
    /// What this configuration accepts from ledger servers (reads the genesis file, if one
    /// is named).
    pub fn trust(&self) -> Result<LedgerTrust, ClientConfigError> {
        let max_fee = self.max_fee.unwrap_or(crate::trust::DEFAULT_MAX_FEE);
        let Some(path) = &self.genesis else {
            return Ok(LedgerTrust {
                chain_id: self.chain_id.clone(),
                max_fee,
                validators: None,
            });
        };
        let invalid = |reason: String| ClientConfigError::Genesis {
            path: path.clone(),
            reason,
        };
        let text = std::fs::read(path).map_err(|e| invalid(e.to_string()))?;
        if text.len() > MAX_GENESIS_BYTES {
            return Err(invalid(format!("larger than {MAX_GENESIS_BYTES} bytes")));
        }
        let genesis: floe_ledger_types::Genesis =
            serde_json::from_slice(&text).map_err(|e| invalid(e.to_string()))?;
        let trust = LedgerTrust::from_genesis(&genesis).map_err(|e| invalid(e.to_string()))?;
        if let Some(configured) = &self.chain_id
            && *configured != genesis.chain_id
        {
            return Err(ClientConfigError::ChainMismatch {
                configured: configured.clone(),
                genesis: genesis.chain_id,
            });
        }
        Ok(LedgerTrust { max_fee, ..trust })
    }

    /// Parses YAML text.
    pub fn from_yaml(text: &str) -> Result<Self, serde_yaml_ng::Error> {
        serde_yaml_ng::from_str(text)
    }

    /// YAML text of this configuration.
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).expect("a config always serializes")
    }

    /// Loads `path` and resolves relative paths against its directory.
    pub fn load(path: &Path) -> Result<Self, ClientConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ClientConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::from_yaml(&text).map_err(|reason| ClientConfigError::Parse {
            path: path.to_owned(),
            reason,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        if config.wallet.is_relative() {
            config.wallet = base.join(&config.wallet);
        }
        if let Some(g) = &mut config.genesis
            && g.is_relative()
        {
            *g = base.join(&*g);
        }
        Ok(config)
    }

    /// The default location, `$XDG_CONFIG_HOME/floe/client.yaml` or `~/.config/floe/client.yaml`.
    pub fn default_path() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(dir).join("floe/client.yaml"));
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/floe/client.yaml"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let config = ClientConfig::from_yaml(include_str!("../client.example.yaml")).unwrap();
        assert_eq!(config.wallet, PathBuf::from("wallet.json"));
        assert_eq!(config.ledger_rpc.len(), 2);
        assert_eq!(ClientConfig::from_yaml(&config.to_yaml()).unwrap(), config);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let text = format!("{}\nextra: 1\n", include_str!("../client.example.yaml"));
        assert!(ClientConfig::from_yaml(&text).is_err());
    }

    #[test]
    fn relative_wallet_resolves_against_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.yaml");
        std::fs::write(&path, include_str!("../client.example.yaml")).unwrap();
        let config = ClientConfig::load(&path).unwrap();
        assert_eq!(config.wallet, dir.path().join("wallet.json"));
        assert_eq!(config.genesis, Some(dir.path().join("genesis.json")));
    }

    #[test]
    fn genesis_pins_the_chain_and_its_validators() {
        let dir = tempfile::tempdir().unwrap();
        let key = floe_common::KeyPair::from_seed([4; 32]).public();
        let genesis = floe_ledger_types::Genesis::builder("floe-x", 10)
            .validator("v1", key, 1)
            .build();
        let path = dir.path().join("genesis.json");
        std::fs::write(&path, serde_json::to_vec(&genesis).unwrap()).unwrap();
        let mut config = ClientConfig::from_yaml(include_str!("../client.example.yaml")).unwrap();
        config.chain_id = None;
        config.genesis = Some(path.clone());
        let trust = config.trust().unwrap();
        assert_eq!(trust.chain_id.as_deref(), Some("floe-x"));
        assert_eq!(trust.validators, Some(genesis.validator_set().unwrap()));
        assert_eq!(trust.proof_root().map(|(c, _)| c), Some("floe-x"));
        // A configured chain id must agree with the genesis.
        config.chain_id = Some("floe-y".into());
        assert!(matches!(
            config.trust(),
            Err(ClientConfigError::ChainMismatch { .. })
        ));
        // A missing or broken genesis is an error, not a silent downgrade to trusting servers.
        config.chain_id = None;
        std::fs::write(&path, b"{").unwrap();
        assert!(matches!(
            config.trust(),
            Err(ClientConfigError::Genesis { .. })
        ));
        config.genesis = Some(dir.path().join("absent.json"));
        assert!(matches!(
            config.trust(),
            Err(ClientConfigError::Genesis { .. })
        ));
    }
}
