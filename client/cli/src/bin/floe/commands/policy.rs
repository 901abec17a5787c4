//! Access policies of private blobs: `floe policy …`.

use std::fmt::Write as _;

use floe_client::floe::PolicyView;
use floe_common::{Epoch, ObjectId};
use floe_ledger_types::policy::{PolicyRule, Unlock};
use serde_json::json;

use super::Env;
use crate::fail::{CliError, from_floe};
use crate::render::{Report, time_utc};
use crate::{PolicyCommand, PolicyRuleArgs};

/// `floe policy …`.
pub async fn policy(env: &Env, cmd: PolicyCommand) -> Result<Report, CliError> {
    match cmd {
        PolicyCommand::Create(rule) => create(env, rule_of(rule)).await,
        PolicyCommand::Add { policy, addresses } => edit(env, policy, addresses, true).await,
        PolicyCommand::Remove { policy, addresses } => edit(env, policy, addresses, false).await,
        PolicyCommand::Show { policy } => show(env, policy).await,
        PolicyCommand::Pay { policy } => pay(env, policy).await,
    }
}

fn rule_of(args: PolicyRuleArgs) -> PolicyRule {
    match args {
        PolicyRuleArgs::Owner => PolicyRule::Owner,
        PolicyRuleArgs::Allowlist { addresses } => PolicyRule::Allowlist {
            members: addresses.into_iter().collect(),
        },
        PolicyRuleArgs::Timelock { epoch, at } => PolicyRule::Timelock {
            unlock: match (epoch, at) {
                (Some(e), _) => Unlock::Epoch(Epoch(e)),
                (None, Some(ms)) => Unlock::TimeMs(ms),
                // clap requires one of them.
                (None, None) => Unlock::Epoch(Epoch(0)),
            },
        },
        PolicyRuleArgs::Paid { price, epochs } => PolicyRule::Paid { price, epochs },
        PolicyRuleArgs::And { left, right } => PolicyRule::And { left, right },
        PolicyRuleArgs::Or { left, right } => PolicyRule::Or { left, right },
    }
}

/// One line describing a rule.
pub fn describe(rule: &PolicyRule) -> String {
    match rule {
        PolicyRule::Owner => "owner only".into(),
        PolicyRule::Allowlist { members } => {
            format!("the owner and {} listed address(es)", members.len())
        }
        PolicyRule::Timelock {
            unlock: Unlock::Epoch(e),
        } => format!("anyone from epoch {e}"),
        PolicyRule::Timelock {
            unlock: Unlock::TimeMs(ms),
        } => format!("anyone from {}", time_utc(*ms)),
        PolicyRule::Paid { price, epochs } => {
            format!("the owner, and readers who pay {price} for {epochs} epoch(s)")
        }
        PolicyRule::And { left, right } => format!("both {left} and {right}"),
        PolicyRule::Or { left, right } => format!("either {left} or {right}"),
    }
}

async fn create(env: &Env, rule: PolicyRule) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let what = describe(&rule);
    let kind = rule.kind();
    let (policy, receipt) = floe
        .create_policy(rule)
        .await
        .map_err(|e| from_floe(&e, &ctx))?;
    let h = format!(
        "Created {kind} policy {policy} ({what}) in block {}.\nEncrypt to it with `floe store FILE --encrypt --policy {policy}`.\n",
        receipt.height
    );
    Ok(Report::new(
        json!({"policy": policy, "kind": kind, "receipt": receipt}),
        h,
    ))
}

async fn edit(
    env: &Env,
    policy: ObjectId,
    addresses: Vec<floe_ledger_types::Address>,
    add: bool,
) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let n = addresses.len();
    let (plus, minus) = if add {
        (addresses, Vec::new())
    } else {
        (Vec::new(), addresses)
    };
    let receipt = floe
        .update_allowlist(policy, plus, minus)
        .await
        .map_err(|e| from_floe(&e, &ctx))?;
    let verb = if add { "Added" } else { "Removed" };
    let h = format!(
        "{verb} {n} address(es) {} policy {policy} in block {}.\n",
        if add { "to" } else { "from" },
        receipt.height
    );
    Ok(Report::new(
        json!({"policy": policy, "receipt": receipt}),
        h,
    ))
}

async fn show(env: &Env, policy: ObjectId) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_maybe_wallet().await?;
    let view: PolicyView = floe.policy(policy).await.map_err(|e| from_floe(&e, &ctx))?;
    let o = &view.object;
    let mut h = format!(
        "Policy {policy}: {} ({}).\nOwner: {}\nVersion: {}, created in epoch {}.\n",
        o.rule.kind(),
        describe(&o.rule),
        o.owner,
        o.version,
        o.created_epoch
    );
    if let PolicyRule::Allowlist { members } = &o.rule {
        for m in members {
            let _ = writeln!(h, "  {m}");
        }
    }
    if let Some(a) = &view.access {
        let _ = writeln!(h, "Your paid access lasts until epoch {}.", a.until);
    }
    Ok(Report::new(&view, h))
}

async fn pay(env: &Env, policy: ObjectId) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let out = floe
        .pay_for_access(policy)
        .await
        .map_err(|e| from_floe(&e, &ctx))?;
    let h = format!(
        "Paid {} for access to policy {policy} until epoch {} (block {}).\n",
        out.price, out.until, out.receipt.height
    );
    Ok(Report::new(&out, h))
}
