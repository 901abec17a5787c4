//! `floe proposals`, `floe propose`, `floe vote`, `floe vote-prices`, `floe collect-commission`.

use std::fmt::Write as _;

use floe_common::{Epoch, Frost};
use floe_ledger_types::{ProposalChange, ProposalStatus};
use serde_json::json;

use super::Env;
use crate::ProposeArgs;
use crate::fail::{CliError, from_floe};
use crate::render::{Report, duration, table};

/// A change in words.
pub fn change_text(c: &ProposalChange) -> String {
    match c {
        ProposalChange::EpochDurationMs(ms) => format!("epoch length {}", duration(*ms)),
        ProposalChange::MaxEpochsAhead(n) => format!("max epochs ahead {n}"),
        ProposalChange::MinFee(f) => format!("minimum fee {f}"),
        ProposalChange::ActiveSetSize(n) => format!("active set size {n}"),
        ProposalChange::MaxShardsPerNode(n) => format!("max shards per node {n}"),
        ProposalChange::SlashCommission(n) => format!("slash the commission of node {n}"),
        ProposalChange::ChallengesPerNode(k) => format!("storage challenges per node {k}"),
        ProposalChange::ChallengeWindowMs(ms) => format!("challenge window {}", duration(*ms)),
    }
}

fn status_text(s: &ProposalStatus) -> String {
    match s {
        ProposalStatus::Open => "open".to_owned(),
        ProposalStatus::Executed { epoch } => format!("executed in epoch {epoch}"),
        ProposalStatus::Rejected { epoch } => format!("rejected in epoch {epoch}"),
        ProposalStatus::Expired { epoch } => format!("expired at epoch {epoch}"),
    }
}

pub async fn proposals(env: &Env) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect().await?;
    let list = floe.proposals().await.map_err(|e| from_floe(&e, &ctx))?;
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|p| {
            vec![
                p.id.to_string(),
                change_text(&p.change),
                p.deadline_epoch.to_string(),
                format!("{}/{}", p.approve_weight, p.reject_weight),
                status_text(&p.status),
            ]
        })
        .collect();
    let human = if list.is_empty() {
        "No proposals.\n".to_owned()
    } else {
        table(
            &["ID", "CHANGE", "DEADLINE", "YES/NO SHARDS", "STATUS"],
            &rows,
        )
    };
    Ok(Report::new(json!({ "proposals": list }), human))
}

pub async fn propose(env: &Env, args: ProposeArgs) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let fail = |e| from_floe(&e, &ctx);
    let change = if let Some(s) = args.epoch_secs {
        ProposalChange::EpochDurationMs(s.saturating_mul(1000))
    } else if let Some(n) = args.max_epochs_ahead {
        ProposalChange::MaxEpochsAhead(n)
    } else if let Some(f) = args.min_fee {
        ProposalChange::MinFee(f)
    } else if let Some(n) = args.active_set_size {
        ProposalChange::ActiveSetSize(n)
    } else if let Some(n) = args.max_shards_per_node {
        ProposalChange::MaxShardsPerNode(n)
    } else if let Some(k) = args.challenges_per_node {
        ProposalChange::ChallengesPerNode(k)
    } else if let Some(s) = args.challenge_window_secs {
        ProposalChange::ChallengeWindowMs(s.saturating_mul(1000))
    } else if let Some(node) = &args.slash_commission {
        let info = floe.resolve_node(node).await.map_err(fail)?;
        ProposalChange::SlashCommission(info.node.node_id)
    } else {
        return Err(CliError::local("usage", "give exactly one change"));
    };
    let r = floe
        .propose(change, args.deadline_epoch.map(Epoch))
        .await
        .map_err(fail)?;
    let human = format!(
        "Proposed #{}: {} (votes until the end of epoch {}; block {}).\nVote with `floe vote \
         --proposal {} --approve`.\n",
        r.proposal,
        change_text(&r.change),
        r.deadline_epoch,
        r.receipt.height,
        r.proposal
    );
    Ok(Report::new(&r, human))
}

pub async fn vote(env: &Env, proposal: u64, approve: bool) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let r = floe
        .vote(proposal, approve)
        .await
        .map_err(|e| from_floe(&e, &ctx))?;
    let human = format!(
        "Voted to {} proposal #{proposal} (block {}): approve {} / reject {} shards; {}.\n",
        if approve { "approve" } else { "reject" },
        r.receipt.height,
        r.approve_weight,
        r.reject_weight,
        status_text(&r.status)
    );
    Ok(Report::new(&r, human))
}

pub async fn vote_prices(
    env: &Env,
    node: &str,
    storage_price: Option<Frost>,
    write_price: Option<Frost>,
    capacity: Option<u64>,
) -> Result<Report, CliError> {
    if storage_price.is_none() && write_price.is_none() && capacity.is_none() {
        return Err(CliError::local(
            "usage",
            "give at least one of --storage-price, --write-price, --capacity",
        ));
    }
    let (floe, ctx) = env.connect_wallet().await?;
    let r = floe
        .set_node_votes(node, storage_price, write_price, capacity)
        .await
        .map_err(|e| from_floe(&e, &ctx))?;
    let mut h = String::new();
    let _ = writeln!(
        h,
        "{} votes: storage {} per MiB per epoch, write {} per MiB, capacity {} bytes (block {}).",
        r.node_name, r.storage_price, r.write_price, r.capacity, r.receipt.height
    );
    let _ = writeln!(
        h,
        "Network now: storage {}, write {}, capacity {} bytes.",
        r.network_storage_price, r.network_write_price, r.network_capacity
    );
    Ok(Report::new(&r, h))
}

pub async fn collect_commission(env: &Env, node: &str) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let (amount, receipt) = floe
        .collect_commission(node)
        .await
        .map_err(|e| from_floe(&e, &ctx))?;
    Ok(Report::new(
        json!({ "amount": amount, "digest": receipt.digest, "height": receipt.height }),
        format!(
            "Collected {amount} of commission (block {}).\n",
            receipt.height
        ),
    ))
}
