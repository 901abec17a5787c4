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

    /// Pays `amount` to `to` (plus the fee). Refused before signing when the balance cannot
    /// cover both (a transaction that fails on the ledger still pays its fee).
    pub async fn transfer(&self, to: Address, amount: Frost) -> Result<Receipt, FloeError> {
        self.ensure_funds("transfer", amount).await?;
        self.execute("transfer", TxKind::Transfer { to, amount })
            .await
    }

    /// Refuses `step` with `insufficient_balance`, before anything is signed, when the
    /// wallet's balance does not cover `amount` plus the fee.
    pub(crate) async fn ensure_funds(
        &self,
        step: &'static str,
        amount: Frost,
    ) -> Result<(), FloeError> {
        let address = self.signer(step)?.address();
        let available = self
            .ledger
            .account(&address)
            .await
            .map_err(|e| self.err(step, e))?
            .balance;
        let needed = Frost(amount.0.saturating_add(self.min_fee().0));
        if available < needed {
            return Err(FloeError::rejected(
                step,
                TxError::InsufficientBalance { needed, available },
            ));
        }
        Ok(())
    }

    /// Mints `amount` (default: the most the faucet gives per call) to the wallet on a network
    /// with a faucet (devnets). Returns the amount minted. An amount above the per-call
    /// maximum is refused before signing.
    pub async fn faucet(&self, amount: Option<Frost>) -> Result<(Frost, Receipt), FloeError> {
        let system = self
            .ledger
            .system()
            .await
            .map_err(|e| self.err("faucet", e))?;
        let max = system
            .faucet
            .map(|f| f.max_per_call)
            .ok_or_else(|| FloeError::rejected("faucet", TxError::FaucetDisabled))?;
        let amount = amount.unwrap_or(max);
        if amount > max {
            return Err(FloeError::rejected(
                "faucet",
                TxError::FaucetLimit { asked: amount, max },
            ));
        }
        let receipt = self.execute("faucet", TxKind::Faucet { amount }).await?;
        Ok((amount, receipt))
    }
}
