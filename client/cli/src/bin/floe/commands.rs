//! The commands: each returns a [`Report`] (text and JSON) or a [`CliError`].

use std::fmt::Write as _;
use std::path::PathBuf;

use floe_client::{ClientConfig, Floe, FloeError, LedgerTrust, Wallet};
use floe_common::{Frost, NodeId};
use floe_ledger_types::Address;
use floe_ledger_types::ChallengeRound;
use floe_ledger_types::LedgerClient;
use floe_ledger_types::rpc::{ChallengesResponse, NodeInfo};
use serde_json::json;

use crate::fail::{CliError, Context, from_floe};
use crate::render::{Report, duration, relative, shard_ranges, table, time_utc};
use crate::{Cli, Command, WalletCommand};

mod blobs;
mod data;
mod governance;
mod lifecycle;
mod policy;
mod private;
mod quilt;
mod site;

pub use quilt::parse_tag;

/// Where the configuration is, loaded on demand (some commands work without one).
pub struct Env {
    config_arg: Option<PathBuf>,
    /// `--json`.
    pub json: bool,
}

impl Env {
    /// The configuration's path: `--config`, else the default location.
    pub fn config_path(&self) -> Result<PathBuf, CliError> {
        self.config_arg
            .clone()
            .or_else(ClientConfig::default_path)
            .ok_or_else(|| {
                CliError::local("config", "no configuration path: HOME is not set")
                    .hint("pass --config PATH")
            })
    }

    /// The configuration.
    pub fn config(&self) -> Result<ClientConfig, CliError> {
        let path = self.config_path()?;
        ClientConfig::load(&path).map_err(|e| CliError::config(&e, &path))
    }

    /// What `config` trusts (reads its genesis file, if it names one).
    pub fn trust(&self, config: &ClientConfig) -> Result<LedgerTrust, CliError> {
        config
            .trust()
            .map_err(|e| CliError::config(&e, &self.config_path().unwrap_or_default()))
    }

    pub(crate) fn context(&self, wallet: Option<&Wallet>) -> Context {
        Context {
            config: self.config_path().ok().map(|p| p.display().to_string()),
            address: wallet.map(|w| w.address().to_string()),
        }
    }

    /// A connection without a wallet.
    pub async fn connect(&self) -> Result<(Floe, Context), CliError> {
        let config = self.config()?;
        let ctx = self.context(None);
        let floe = Floe::with_trust(
            LedgerClient::new(config.ledger_rpc.clone()),
            self.trust(&config)?,
        )
        .await
        .map_err(|e| from_floe(&e, &ctx))?;
        Ok((floe, ctx))
    }

    /// A connection with the configuration's wallet when it loads, without one otherwise.
    pub async fn connect_maybe_wallet(&self) -> Result<(Floe, Context), CliError> {
        let config = self.config()?;
        match Wallet::load(&config.wallet) {
            Ok(_) => self.connect_wallet().await,
            Err(_) => self.connect().await,
        }
    }

    /// A connection with the configuration's wallet (loaded first, so a missing wallet is
    /// reported even when the network is down).
    pub async fn connect_wallet(&self) -> Result<(Floe, Context), CliError> {
        let config = self.config()?;
        let wallet = Wallet::load(&config.wallet).map_err(|e| CliError::wallet(&e))?;
        let ctx = self.context(Some(&wallet));
        let floe = Floe::with_trust(
            LedgerClient::new(config.ledger_rpc.clone()),
            self.trust(&config)?,
        )
        .await
        .map_err(|e| from_floe(&e, &ctx))?
        .with_wallet(wallet);
        Ok((floe, ctx))
    }
}

/// Runs the command line's command.
pub async fn run(cli: Cli) -> Result<Report, CliError> {
    let env = Env {
        config_arg: cli.config,
        json: cli.json,
    };
    match cli.command {
        Command::Wallet(WalletCommand::New { path }) => wallet_new(&env, path),
        Command::Wallet(WalletCommand::Address) => wallet_address(&env),
        Command::Wallet(WalletCommand::Balance { address }) => balance(&env, address).await,
        Command::Wallet(WalletCommand::Transfer { to, amount }) => transfer(&env, to, amount).await,
        Command::Wallet(WalletCommand::Faucet { amount }) => faucet(&env, amount).await,
        Command::Info => info(&env).await,
        Command::Stake { node, amount } => stake(&env, &node, amount).await,
        Command::Withdraw { node } => withdraw(&env, &node).await,
        Command::Proposals => governance::proposals(&env).await,
        Command::Propose(args) => governance::propose(&env, args).await,
        Command::Vote {
            proposal, approve, ..
        } => governance::vote(&env, proposal, approve).await,
        Command::VotePrices {
            node,
            storage_price,
            write_price,
            capacity,
        } => governance::vote_prices(&env, &node, storage_price, write_price, capacity).await,
        Command::CollectCommission { node } => governance::collect_commission(&env, &node).await,
        Command::BlobId(args) => blobs::blob_id(&env, &args.file, args.shards).await,
        Command::BlobStatus { blob_id } => blobs::blob_status(&env, blob_id).await,
        Command::ListBlobs => blobs::list_blobs(&env).await,
        Command::Extend {
            object,
            epochs,
            shared,
        } => lifecycle::extend(&env, object, epochs, shared).await,
        Command::Delete(args) => lifecycle::delete(&env, args).await,
        Command::TransferBlob { object, to } => lifecycle::transfer_blob(&env, object, to).await,
        Command::FundSharedBlob { object, amount } => {
            lifecycle::fund_shared_blob(&env, object, amount).await
        }
        Command::BurnBlobs(args) => lifecycle::burn_blobs(&env, args).await,
        Command::Store(args) => data::store(&env, args).await,
        Command::Read(args) => data::read(&env, args).await,
        Command::StoreQuilt(args) => quilt::store_quilt(&env, args).await,
        Command::ReadQuilt(args) => quilt::read_quilt(&env, args).await,
        Command::ListPatches { quilt_id } => quilt::list_patches(&env, quilt_id).await,
        Command::Attr(cmd) => blobs::attr(&env, cmd).await,
        Command::Site(cmd) => site::site(&env, cmd).await,
        Command::Name(cmd) => site::name(&env, cmd).await,
        Command::Policy(cmd) => policy::policy(&env, cmd).await,
        Command::Bench(cmd) => data::bench(&env, cmd).await,
        Command::Daemon(args) => data::daemon(&env, args).await,
    }
}

fn wallet_new(env: &Env, path: Option<PathBuf>) -> Result<Report, CliError> {
    let path = match path {
        Some(p) => p,
        None => {
            env.config()
                .map_err(|e| {
                    let hint = format!(
                        "pass --path PATH, or fix the configuration ({})",
                        e.hint
                            .as_deref()
                            .unwrap_or("see client/client.example.yaml")
                    );
                    e.hint(hint)
                })?
                .wallet
        }
    };
    let wallet = Wallet::create(&path).map_err(|e| CliError::wallet(&e))?;
    let address = wallet.address();
    Ok(Report::new(
        json!({ "address": address, "path": path }),
        format!(
            "Created wallet {}\nAddress: {address}\nFund it with `floe wallet faucet` (devnets) \
             or a transfer to this address.\n",
            path.display()
        ),
    ))
}

fn wallet_address(env: &Env) -> Result<Report, CliError> {
    let config = env.config()?;
    let wallet = Wallet::load(&config.wallet).map_err(|e| CliError::wallet(&e))?;
    let address = wallet.address();
    Ok(Report::new(
        json!({ "address": address }),
        format!("{address}\n"),
    ))
}

/// The name of a node id among `nodes`, else the id.
fn node_name(nodes: &[NodeInfo], id: &NodeId) -> String {
    nodes
        .iter()
        .find(|n| n.node.node_id == *id)
        .map_or_else(|| id.to_string(), |n| n.node.name.clone())
}

async fn balance(env: &Env, address: Option<Address>) -> Result<Report, CliError> {
    let (floe, ctx) = match address {
        Some(_) => env.connect().await?,
        None => env.connect_wallet().await?,
    };
    let fail = |e: FloeError| from_floe(&e, &ctx);
    let address = match address {
        Some(a) => a,
        None => floe.address().map_err(fail)?,
    };
    let balance = floe.balance_of(&address).await.map_err(fail)?;
    let stakes = floe.stakes_of(&address).await.map_err(fail)?;
    let staked = stakes
        .iter()
        .try_fold(Frost::ZERO, |acc, s| acc.checked_add(s.stake.amount))
        .unwrap_or(Frost(u64::MAX));
    let mut human = format!("Address: {address}\nBalance: {balance}\n");
    if !stakes.is_empty() {
        let nodes = floe.nodes().await.map_err(fail)?;
        let _ = writeln!(human, "Staked:  {staked}");
        for s in &stakes {
            let state = match (s.stake.status, s.stake.withdraw_epoch) {
                (floe_ledger_types::StakeStatus::Withdrawable, _) => {
                    format!("withdrawable with rewards {}", s.stake.rewards)
                }
                (floe_ledger_types::StakeStatus::Withdrawing, Some(e)) => {
                    format!("leaves the pool at epoch {e}")
                }
                _ => format!("active from epoch {}", s.stake.activation_epoch),
            };
            let _ = writeln!(
                human,
                "  {} with {} ({state}; object {})",
                s.stake.amount,
                node_name(&nodes, &s.stake.node),
                s.object_id
            );
        }
    }
    Ok(Report::new(
        json!({
            "address": address,
            "balance": balance,
            "staked": staked,
            "stakes": stakes,
        }),
        human,
    ))
}

/// The error of a transaction spending `amount` (plus the fee), with the balance spelled out
/// when funds were short.
async fn spend_error(floe: &Floe, ctx: &Context, amount: Frost, e: FloeError) -> CliError {
    let short = e.code() == "insufficient_balance";
    let step = match &e {
        FloeError::LedgerRejected { step, .. } => *step,
        _ => "",
    };
    let mut err = from_floe(&e, ctx);
    if short && let Ok(balance) = floe.balance().await {
        err.message = format!(
            "insufficient funds for {step}: balance {balance}, needs {amount} plus a fee of {}",
            floe.min_fee()
        );
    }
    err
}

async fn transfer(env: &Env, to: Address, amount: Frost) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let receipt = match floe.transfer(to, amount).await {
        Ok(r) => r,
        Err(e) => return Err(spend_error(&floe, &ctx, amount, e).await),
    };
    let balance = floe.balance().await.map_err(|e| from_floe(&e, &ctx))?;
    let fee = receipt.effects.fee_charged;
    Ok(Report::new(
        json!({
            "to": to,
            "amount": amount,
            "fee": fee,
            "digest": receipt.digest,
            "height": receipt.height,
            "balance": balance,
        }),
        format!(
            "Sent {amount} to {to} (fee {fee}; block {}, transaction {}).\nBalance: {balance}\n",
            receipt.height, receipt.digest
        ),
    ))
}

async fn faucet(env: &Env, amount: Option<Frost>) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let (amount, receipt) = floe.faucet(amount).await.map_err(|e| from_floe(&e, &ctx))?;
    let balance = floe.balance().await.map_err(|e| from_floe(&e, &ctx))?;
    Ok(Report::new(
        json!({
            "amount": amount,
            "fee": receipt.effects.fee_charged,
            "digest": receipt.digest,
            "height": receipt.height,
            "balance": balance,
        }),
        format!(
            "Received {amount} from the faucet (block {}).\nBalance: {balance}\n",
            receipt.height
        ),
    ))
}

async fn info(env: &Env) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect().await?;
    let info = floe.network_info().await.map_err(|e| from_floe(&e, &ctx))?;
    let s = &info.system;
    let mut h = String::new();
    let _ = writeln!(h, "Network:          {}", s.chain_id);
    let _ = writeln!(
        h,
        "Epoch:            {} ({}; length {}; next epoch at {}, {})",
        s.epoch,
        info.epoch_state,
        duration(s.epoch_duration_ms),
        time_utc(info.next_epoch_at),
        relative(info.next_epoch_at)
    );
    if s.next_epoch_duration_ms != 0 && s.next_epoch_duration_ms != s.epoch_duration_ms {
        let _ = writeln!(
            h,
            "Next epoch length: {}",
            duration(s.next_epoch_duration_ms)
        );
    }
    let _ = writeln!(h, "Shards:           {}", s.n_shards);
    if let Ok(config) = floe_common::EncodingConfig::new(s.n_shards) {
        let chunking = floe_client::files::Chunking::default();
        let _ = writeln!(
            h,
            "Max blob size:    {} (files over {} are stored in {} chunks with a manifest)",
            crate::render::bytes(config.max_blob_size()),
            crate::render::bytes(chunking.threshold),
            crate::render::bytes(chunking.chunk_size)
        );
    }
    let _ = writeln!(h, "Storage price:    {} per MiB per epoch", s.storage_price);
    let _ = writeln!(h, "Write price:      {} per MiB", s.write_price);
    let _ = writeln!(
        h,
        "Capacity:         {} of {} bytes reserved this epoch",
        info.capacity_used, info.capacity
    );
    let _ = writeln!(h, "Transaction fee:  {}", s.min_fee);
    let _ = writeln!(h, "Max epochs ahead: {}", s.max_epochs_ahead);
    let _ = writeln!(
        h,
        "Faucet:           {}",
        s.faucet.as_ref().map_or("disabled".to_owned(), |f| format!(
            "up to {} per call, {} per account, {} per epoch, {} in all",
            f.max_per_call, f.max_per_account, f.max_per_epoch, f.max_total
        ))
    );
    let _ = writeln!(h, "Total supply:     {}", s.total_supply);
    let _ = writeln!(
        h,
        "Tip:              block {} at {}",
        s.tip_height,
        time_utc(s.tip_timestamp_ms)
    );
    let _ = writeln!(
        h,
        "\nCommittee (epoch {}, {} nodes):",
        info.committee_epoch,
        info.committee.len()
    );
    let rows: Vec<Vec<String>> = info
        .committee
        .iter()
        .map(|n| {
            vec![
                n.name.clone(),
                n.node_id.to_string(),
                n.stake.to_string(),
                format!("{:.2}%", f64::from(n.commission) / 100.0),
                n.shards.len().to_string(),
                shard_ranges(&n.shards),
                challenge_status(&info.challenges, &n.node_id),
            ]
        })
        .collect();
    h.push_str(&table(
        &[
            "NAME",
            "NODE ID",
            "STAKE",
            "COMMISSION",
            "SHARDS",
            "SHARD INDICES",
            "CHALLENGES (NOW/LAST)",
        ],
        &rows,
    ));
    challenges_text(&mut h, &info.challenges, info.committee.len());
    if !info.proposals.is_empty() {
        let _ = writeln!(h, "\nOpen proposals:");
        for p in &info.proposals {
            let _ = writeln!(
                h,
                "  #{} {} (votes until epoch {}; approve {} / reject {} shards)",
                p.id,
                governance::change_text(&p.change),
                p.deadline_epoch,
                p.approve_weight,
                p.reject_weight
            );
        }
    }
    Ok(Report::new(&info, h))
}

/// A member's storage challenges: this round (`proved`, `pending`, or the settled result) and
/// the last settled round (`passed`, `failed`), `-` where there is none.
fn challenge_status(c: &ChallengesResponse, node: &NodeId) -> String {
    let result = |r: &ChallengeRound| {
        if r.failed.contains(node) {
            "failed"
        } else if r.passed.contains(node) {
            if r.settled { "passed" } else { "proved" }
        } else if r.settled {
            "-"
        } else {
            "pending"
        }
    };
    format!(
        "{}/{}",
        c.current.as_ref().map_or("-", result),
        c.last.as_ref().map_or("-", result)
    )
}

/// The storage challenge lines of `floe info`.
fn challenges_text(h: &mut String, c: &ChallengesResponse, members: usize) {
    match &c.current {
        Some(r) => {
            let _ = writeln!(
                h,
                "\nStorage challenges (epoch {}): {} per node over {} live blobs; proofs until {}; {} of {members} members {}",
                r.epoch,
                r.k,
                r.live_blobs,
                time_utc(r.closes_ms),
                r.passed.len(),
                if r.settled { "passed" } else { "proved so far" },
            );
        }
        None => {
            let _ = writeln!(h, "\nStorage challenges: none this epoch");
        }
    }
    if let Some(r) = &c.last {
        let _ = writeln!(
            h,
            "Last round (epoch {}): {} passed, {} failed{}",
            r.epoch,
            r.passed.len(),
            r.failed.len(),
            if r.failed.is_empty() {
                ""
            } else {
                " (their rewards for the epoch are forfeited)"
            }
        );
    }
}

async fn stake(env: &Env, node: &str, amount: Frost) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let r = match floe.stake(node, amount).await {
        Ok(r) => r,
        Err(e) => return Err(spend_error(&floe, &ctx, amount, e).await),
    };
    let balance = floe.balance().await.map_err(|e| from_floe(&e, &ctx))?;
    let active = r
        .activation_epoch
        .map(|e| format!("; it counts from epoch {e}"))
        .unwrap_or_default();
    Ok(Report::new(
        json!({
            "node_id": r.node_id,
            "node_name": r.node_name,
            "amount": r.amount,
            "staked_object": r.staked_object,
            "activation_epoch": r.activation_epoch,
            "digest": r.receipt.digest,
            "height": r.receipt.height,
            "balance": balance,
        }),
        format!(
            "Staked {} with {} ({}){active}.\nStake object: {}\nBalance: {balance}\n",
            r.amount, r.node_name, r.node_id, r.staked_object
        ),
    ))
}

async fn withdraw(env: &Env, node: &str) -> Result<Report, CliError> {
    let (floe, ctx) = env.connect_wallet().await?;
    let report = floe
        .withdraw_from(node)
        .await
        .map_err(|e| from_floe(&e, &ctx))?;
    let mut h = String::new();
    for w in &report.withdrawn {
        let _ = writeln!(
            h,
            "Withdrew {} (rewards {}) from {} (object {}, block {}).",
            w.amount, w.rewards, report.node_name, w.object_id, w.receipt.height
        );
    }
    for p in &report.pending {
        let verb = if p.requested_now {
            "Requested the withdrawal of"
        } else {
            "Withdrawal already requested for"
        };
        let _ = writeln!(
            h,
            "{verb} {} from {} (object {}); it can be withdrawn from epoch {} ({}, {}): run \
             `floe withdraw --node {}` again then.",
            p.amount,
            report.node_name,
            p.object_id,
            p.withdrawable_from,
            time_utc(p.withdrawable_at_ms),
            relative(p.withdrawable_at_ms),
            report.node_name
        );
    }
    if !report.withdrawn.is_empty() {
        let balance = floe.balance().await.map_err(|e| from_floe(&e, &ctx))?;
        let _ = writeln!(h, "Balance: {balance}");
    }
    Ok(Report::new(&report, h))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use floe_common::{Digest, Epoch};

    use super::*;

    fn round(epoch: u32, passed: &[u8], failed: &[u8], settled: bool) -> ChallengeRound {
        ChallengeRound {
            epoch: Epoch(epoch),
            seed: Digest([1; 32]),
            seed_height: 10,
            k: 10,
            live_blobs: 7,
            snapshot_root: Digest([2; 32]),
            closes_ms: 0,
            passed: passed.iter().map(|i| NodeId([*i; 32])).collect(),
            progress: BTreeMap::new(),
            failed: failed
                .iter()
                .map(|i| NodeId([*i; 32]))
                .collect::<BTreeSet<_>>(),
            settled,
        }
    }

    #[test]
    fn challenge_columns_say_who_proved_passed_and_failed() {
        let c = ChallengesResponse {
            epoch: Epoch(5),
            current: Some(round(5, &[1], &[], false)),
            last: Some(round(4, &[1, 3], &[2], true)),
        };
        let status = |i: u8| challenge_status(&c, &NodeId([i; 32]));
        assert_eq!(status(1), "proved/passed");
        assert_eq!(status(2), "pending/failed");
        assert_eq!(status(3), "pending/passed");
        // Not in the last committee.
        assert_eq!(status(4), "pending/-");
        let none = ChallengesResponse {
            epoch: Epoch(0),
            current: None,
            last: None,
        };
        assert_eq!(challenge_status(&none, &NodeId([1; 32])), "-/-");
        let mut text = String::new();
        challenges_text(&mut text, &c, 3);
        assert!(
            text.contains("Storage challenges (epoch 5): 10 per node over 7 live blobs")
                && text.contains("1 of 3 members proved so far")
                && text.contains("Last round (epoch 4): 2 passed, 1 failed"),
            "{text}"
        );
        let mut text = String::new();
        challenges_text(&mut text, &none, 3);
        assert!(text.contains("none this epoch"), "{text}");
    }
}
