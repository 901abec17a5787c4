//! WAL transfers and the devnet faucet.
//!
//! The faucet exists only on a devnet genesis (genesis validation refuses it elsewhere). A
//! `Faucet { amount }` mints `amount` to its sender within four caps, each with its own error:
//! per call ([`TxError::FaucetLimit`]), per account over the chain's life (the account's
//! `faucet_drawn`, [`TxError::FaucetAccountCap`]), per epoch for all accounts together
//! (`SystemState::faucet_minted`, [`TxError::FaucetEpochCap`]) and over the chain's life
//! ([`TxError::FaucetTotalCap`]). Both counters live in state records (the account and the
//! system record), so they are part of the state digest like everything else.

use floe_common::Frost;

use super::events::Event;
use super::objects::FaucetMinted;
use super::overlay::Overlay;
use crate::error::TxError;
use crate::tx::Address;

pub(super) fn transfer(
    o: &mut Overlay<'_>,
    from: Address,
    to: Address,
    amount: Frost,
) -> Result<(), TxError> {
    o.debit(from, amount)?;
    o.credit(to, amount)?;
    o.events.push(Event::Transfer { from, to, amount });
    Ok(())
}

pub(super) fn faucet(o: &mut Overlay<'_>, to: Address, amount: Frost) -> Result<(), TxError> {
    let caps = o.system.faucet.clone().ok_or(TxError::FaucetDisabled)?;
    if amount > caps.max_per_call {
        return Err(TxError::FaucetLimit {
            asked: amount,
            max: caps.max_per_call,
        });
    }
    let mut account = o.account(&to);
    let drawn = account.faucet_drawn;
    account.faucet_drawn = drawn
        .checked_add(amount)
        .filter(|d| *d <= caps.max_per_account)
        .ok_or(TxError::FaucetAccountCap {
            asked: amount,
            drawn,
            max: caps.max_per_account,
        })?;
    let epoch = o.epoch();
    let minted = o.system.faucet_minted;
    let epoch_total = minted
        .in_epoch(epoch)
        .checked_add(amount)
        .filter(|m| *m <= caps.max_per_epoch)
        .ok_or(TxError::FaucetEpochCap {
            epoch,
            asked: amount,
            minted: minted.in_epoch(epoch),
            max: caps.max_per_epoch,
        })?;
    let total = minted
        .total
        .checked_add(amount)
        .filter(|m| *m <= caps.max_total)
        .ok_or(TxError::FaucetTotalCap {
            asked: amount,
            minted: minted.total,
            max: caps.max_total,
        })?;
    o.set_account(to, account);
    o.system.faucet_minted = FaucetMinted {
        total,
        epoch,
        epoch_total,
    };
    o.system.total_supply = o
        .system
        .total_supply
        .checked_add(amount)
        .ok_or_else(|| TxError::overflow("total supply"))?;
    o.credit(to, amount)?;
    o.events.push(Event::Minted { to, amount });
    Ok(())
}
