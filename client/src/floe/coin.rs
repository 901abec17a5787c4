//! WAL: balance, transfer, faucet.

use floe_common::Frost;
use floe_ledger_types::{Address, TxError, TxKind};

use super::{Floe, Receipt};
use crate::error::FloeError;

impl Floe {
    /// The balance of `address`.
    pub async fn balance_of(&self, address: &Address) -> Result<Frost, FloeError> {
        self.ledger
            .account(address)
            .await
            .map(|a| a.balance)
            .map_err(|e| self.err("balance", e))
    }

    /// The wallet's balance.
    pub async fn balance(&self) -> Result<Frost, FloeError> {
        let address = self.signer("balance")?.address();
        self.balance_of(&address).await
    }

    /// Pays `amount` to `to` (plus the fee).
    pub async fn transfer(&self, to: Address, amount: Frost) -> Result<Receipt, FloeError> {
        self.execute("transfer", TxKind::Transfer { to, amount })
            .await
    }

    /// Mints `amount` (default: the most the faucet gives per call) to the wallet on a network
    /// with a faucet (devnets). Returns the amount minted.
    pub async fn faucet(&self, amount: Option<Frost>) -> Result<(Frost, Receipt), FloeError> {
        let amount = match amount {
            Some(a) => a,
            None => {
                let system = self
                    .ledger
                    .system()
                    .await
                    .map_err(|e| self.err("faucet", e))?;
                system
                    .faucet
                    .map(|f| f.max_per_call)
                    .ok_or_else(|| FloeError::rejected("faucet", TxError::FaucetDisabled))?
            }
        };
        let receipt = self.execute("faucet", TxKind::Faucet { amount }).await?;
        Ok((amount, receipt))
    }
}
