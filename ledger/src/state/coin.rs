//! WAL transfers and the devnet faucet.

use floe_common::Frost;

use super::events::Event;
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
    let max = o
        .system
        .faucet
        .as_ref()
        .ok_or(TxError::FaucetDisabled)?
        .max_per_call;
    if amount > max {
        return Err(TxError::FaucetLimit { asked: amount, max });
    }
    o.system.total_supply = o
        .system
        .total_supply
        .checked_add(amount)
        .ok_or_else(|| TxError::overflow("total supply"))?;
    o.credit(to, amount)?;
    o.events.push(Event::Minted { to, amount });
    Ok(())
}
