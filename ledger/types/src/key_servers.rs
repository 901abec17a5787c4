//! The key servers of private blobs, as the genesis file lists them.
//!
//! A master public key is shared `threshold`-of-`n` among key servers run by validators (see
//! `floe_common::privacy`). Writers need only the master public key; readers ask the listed
//! servers at their URLs (`POST {url}/v1/keys/share`) and need `threshold` answers. The list is
//! public: it names each server's index, its public share and the validator that runs it.

use std::collections::BTreeSet;

use floe_common::privacy::{KeyServerPublic, MasterPublicKey, check_public_shares};
use serde::{Deserialize, Serialize};

use crate::tx::MAX_ADDRESS_LEN;

/// The key servers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyServers {
    /// The master public key `s·G2`, to which writers encrypt.
    pub master: MasterPublicKey,
    /// Shares a reader needs (1..=`servers.len()`).
    pub threshold: u16,
    /// The servers (distinct validators and indices).
    pub servers: Vec<KeyServerInfo>,
}

/// One key server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyServerInfo {
    /// The validator that runs it (a name in the genesis validators).
    pub validator: String,
    /// Its index and public share `sᵢ·G2`.
    pub public: KeyServerPublic,
    /// The base URL of its RPC (`http://host:port`).
    pub url: String,
}

/// Why a key-server list is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyServersError {
    /// A threshold outside 1..=n.
    #[error("threshold {threshold} is not in 1..={n}")]
    Threshold {
        /// The threshold.
        threshold: u16,
        /// Servers listed.
        n: usize,
    },
    /// A validator or an index listed twice.
    #[error("duplicate key server {0}")]
    Duplicate(String),
    /// A server run by a validator the genesis does not have.
    #[error("key server run by unknown validator {0:?}")]
    UnknownValidator(String),
    /// An empty or overlong URL.
    #[error("key server {0:?} has no valid URL")]
    Url(String),
    /// Public shares that are not one sharing of the master public key.
    #[error("key servers: {0}")]
    Shares(String),
}

impl KeyServers {
    /// Checks the list against the genesis validators' names, and that the public shares are
    /// one `threshold`-of-n sharing of the master public key.
    pub fn validate<'a>(
        &self,
        validators: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), KeyServersError> {
        let n = self.servers.len();
        if self.threshold == 0 || usize::from(self.threshold) > n {
            return Err(KeyServersError::Threshold {
                threshold: self.threshold,
                n,
            });
        }
        let known: BTreeSet<&str> = validators.into_iter().collect();
        let (mut names, mut indices) = (BTreeSet::new(), BTreeSet::new());
        for s in &self.servers {
            if !known.contains(s.validator.as_str()) {
                return Err(KeyServersError::UnknownValidator(s.validator.clone()));
            }
            if !names.insert(&s.validator) || !indices.insert(s.public.index()) {
                return Err(KeyServersError::Duplicate(s.validator.clone()));
            }
            if s.url.is_empty() || s.url.len() > MAX_ADDRESS_LEN {
                return Err(KeyServersError::Url(s.validator.clone()));
            }
        }
        let publics: Vec<_> = self.servers.iter().map(|s| s.public).collect();
        check_public_shares(&self.master, &publics, self.threshold)
            .map_err(|e| KeyServersError::Shares(e.to_string()))
    }

    /// The server run by `validator`.
    pub fn of_validator(&self, validator: &str) -> Option<&KeyServerInfo> {
        self.servers.iter().find(|s| s.validator == validator)
    }
}
