//! What `floe-devnet up` shows once the network is ready.

use std::path::Path;

use floe_client::ClientConfig;
use floe_common::Frost;
use floe_ledger::{Address, LedgerClient};

use crate::error::DevnetError;

/// What the demo did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoReport {
    /// The wallet's address.
    pub wallet: Address,
    /// Its balance, as the ledger reports it.
    pub balance: Frost,
}

impl std::fmt::Display for DemoReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "wallet {} holds {}", self.wallet, self.balance)
    }
}

/// The demo run by `up` (skipped with `--no-demo`), through the client configuration at
/// `config_path`: for now it reads the wallet's balance from the ledger.
pub async fn demo(config_path: &Path) -> Result<DemoReport, DevnetError> {
    // TODO(issue 6): store+read once floe-client has them: store a sample file, read it back,
    // compare the bytes and report the blob id.
    let config = ClientConfig::load(config_path).map_err(DevnetError::parse(config_path))?;
    let key = crate::manifest::read_key(&config.wallet)?;
    let wallet = Address::of(&key.public());
    let account = LedgerClient::new(config.ledger_rpc)
        .account(&wallet)
        .await?;
    Ok(DemoReport {
        wallet,
        balance: account.balance,
    })
}
