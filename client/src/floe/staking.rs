//! Stake: find a storage node by id or name, stake with it, and withdraw.
//!
//! The ledger's model: staking creates a `StakedWal` object owned by the staker; it activates at
//! an epoch boundary. Withdrawing is two transactions: a withdrawal request (the stake stops
//! counting for the node at once and leaves its pool at the next boundary, or the one after if
//! the next committee was already selected) and then the withdrawal itself, which deletes the
//! object and pays back principal and rewards. A stake that never activated is withdrawable at
//! once. [`Floe::withdraw_from`] does whichever steps each of the wallet's stakes with a node is
//! ready for, so running it again after the epoch changes completes the withdrawal.

use floe_common::{Epoch, Frost, NodeId, ObjectId};
use floe_ledger_types::rpc::NodeInfo;
use floe_ledger_types::{Address, Object, StakeStatus, StakedWal, TxKind};
use serde::Serialize;

use super::info::epoch_start_ms;
use super::{Floe, Receipt};
use crate::error::FloeError;

/// A `StakedWal` object and its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnedStake {
    /// The object id.
    pub object_id: ObjectId,
    /// The stake.
    #[serde(flatten)]
    pub stake: StakedWal,
}

/// The result of [`Floe::stake`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StakeReceipt {
    /// The node staked with.
    pub node_id: NodeId,
    /// Its name.
    pub node_name: String,
    /// Amount staked.
    pub amount: Frost,
    /// The new `StakedWal` object.
    pub staked_object: ObjectId,
    /// First epoch in which the stake counts.
    pub activation_epoch: Option<Epoch>,
    /// The transaction.
    pub receipt: Receipt,
}

/// A stake paid back by [`Floe::withdraw_from`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Withdrawal {
    /// The deleted `StakedWal` object.
    pub object_id: ObjectId,
    /// Principal returned.
    pub amount: Frost,
    /// Rewards paid.
    pub rewards: Frost,
    /// The transaction.
    pub receipt: Receipt,
}

/// A stake whose withdrawal is requested but not yet possible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingWithdrawal {
    /// The `StakedWal` object.
    pub object_id: ObjectId,
    /// Its principal.
    pub amount: Frost,
    /// Epoch of the request.
    pub requested_epoch: Epoch,
    /// First epoch in which it can be withdrawn.
    pub withdrawable_from: Epoch,
    /// Block time (ms since the Unix epoch) at which that epoch starts.
    pub withdrawable_at_ms: u64,
    /// Whether this call made the request (else an earlier one did).
    pub requested_now: bool,
}

/// What [`Floe::withdraw_from`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WithdrawReport {
    /// The node.
    pub node_id: NodeId,
    /// Its name.
    pub node_name: String,
    /// Stakes paid back now.
    pub withdrawn: Vec<Withdrawal>,
    /// Stakes that can be withdrawn in a later epoch (run again then).
    pub pending: Vec<PendingWithdrawal>,
}

impl Floe {
    /// The registered storage node whose id (hex) or name is `node`. Names match exactly, or
    /// else ignoring case if that is unambiguous.
    pub async fn resolve_node(&self, node: &str) -> Result<NodeInfo, FloeError> {
        let nodes = self.nodes().await?;
        let text = node.trim();
        if let Ok(id) = text.parse::<NodeId>()
            && let Some(n) = nodes.iter().find(|n| n.node.node_id == id)
        {
            return Ok(n.clone());
        }
        if let Some(n) = nodes.iter().find(|n| n.node.name == text) {
            return Ok(n.clone());
        }
        let mut folded = nodes
            .iter()
            .filter(|n| n.node.name.eq_ignore_ascii_case(text));
        if let (Some(n), None) = (folded.next(), folded.next()) {
            return Ok(n.clone());
        }
        Err(FloeError::UnknownNode {
            node: node.to_owned(),
            known: {
                let mut names: Vec<String> = nodes.into_iter().map(|n| n.node.name).collect();
                names.sort();
                names
            },
        })
    }

    /// The `StakedWal` objects of `address`.
    pub async fn stakes_of(&self, address: &Address) -> Result<Vec<OwnedStake>, FloeError> {
        let objects = self
            .ledger
            .account_objects(address)
            .await
            .map_err(|e| self.err("stakes", e))?;
        Ok(objects
            .into_iter()
            .filter_map(|o| match o.object {
                Object::StakedWal(stake) => Some(OwnedStake {
                    object_id: o.object_id,
                    stake,
                }),
                _ => None,
            })
            .collect())
    }

    /// The wallet's stakes.
    pub async fn stakes(&self) -> Result<Vec<OwnedStake>, FloeError> {
        let address = self.signer("stakes")?.address();
        self.stakes_of(&address).await
    }

    /// Stakes `amount` with the node whose id or name is `node`.
    pub async fn stake(&self, node: &str, amount: Frost) -> Result<StakeReceipt, FloeError> {
        self.ensure_funds("stake", amount).await?;
        let info = self.resolve_node(node).await?;
        let node_id = info.node.node_id;
        let receipt = self
            .execute(
                "stake",
                TxKind::Stake {
                    node: node_id,
                    amount,
                },
            )
            .await?;
        let staked_object = receipt.created("the staked object")?;
        let activation_epoch = match self.object(&staked_object).await? {
            Some(o) => match o.object {
                Object::StakedWal(s) => Some(s.activation_epoch),
                _ => None,
            },
            None => None,
        };
        Ok(StakeReceipt {
            node_id,
            node_name: info.node.name,
            amount,
            staked_object,
            activation_epoch,
            receipt,
        })
    }

    /// Registers a storage node owned by the wallet; it joins a committee once its stake ranks
    /// it into the active set at a mid-epoch selection. Returns the node id.
    pub async fn register_node(&self, node: NodeRegistration) -> Result<NodeId, FloeError> {
        let node_id = floe_ledger_types::node_id_of(&node.public_key);
        self.execute(
            "register_node",
            TxKind::RegisterNode {
                name: node.name,
                public_key: node.public_key,
                network_address: node.network_address,
                http_address: node.http_address,
                commission_bps: node.commission_bps,
                storage_price_vote: node.storage_price_vote,
                write_price_vote: node.write_price_vote,
                capacity_vote: node.capacity_vote,
            },
        )
        .await?;
        Ok(node_id)
    }

    /// Requests the withdrawal of the `StakedWal` object `staked`.
    pub async fn request_withdrawal(&self, staked: ObjectId) -> Result<Receipt, FloeError> {
        self.execute("request_withdrawal", TxKind::RequestWithdrawal { staked })
            .await
    }

    /// Withdraws the `StakedWal` object `staked` (requested in an earlier epoch).
    pub async fn withdraw(&self, staked: ObjectId) -> Result<Receipt, FloeError> {
        self.execute("withdraw", TxKind::Withdraw { staked }).await
    }

    /// For each of the wallet's stakes with `node` (id or name): requests its withdrawal if not
    /// yet requested, or withdraws it if it was requested in an earlier epoch.
    /// [`FloeError::NoStake`] if the wallet has no stake with the node.
    pub async fn withdraw_from(&self, node: &str) -> Result<WithdrawReport, FloeError> {
        let address = self.signer("withdraw")?.address();
        let info = self.resolve_node(node).await?;
        let node_id = info.node.node_id;
        let stakes: Vec<OwnedStake> = self
            .stakes_of(&address)
            .await?
            .into_iter()
            .filter(|s| s.stake.node == node_id)
            .collect();
        if stakes.is_empty() {
            return Err(FloeError::NoStake {
                node: info.node.name,
            });
        }
        let system = self.system().await?;
        let mut report = WithdrawReport {
            node_id,
            node_name: info.node.name,
            withdrawn: Vec::new(),
            pending: Vec::new(),
        };
        for s in stakes {
            let mut stake = s.stake.clone();
            let mut requested_now = false;
            if matches!(stake.status, StakeStatus::Pending | StakeStatus::Active) {
                self.request_withdrawal(s.object_id).await?;
                requested_now = true;
                if let Some(o) = self.object(&s.object_id).await?
                    && let Object::StakedWal(st) = o.object
                {
                    stake = st;
                }
            }
            if stake.status == StakeStatus::Withdrawable {
                let receipt = self.withdraw(s.object_id).await?;
                report.withdrawn.push(Withdrawal {
                    object_id: s.object_id,
                    amount: stake.amount,
                    rewards: stake.rewards,
                    receipt,
                });
                continue;
            }
            let requested_epoch = stake.withdrawal_requested_epoch.unwrap_or(system.epoch);
            let withdrawable_from = stake.withdraw_epoch.unwrap_or(requested_epoch.next());
            report.pending.push(PendingWithdrawal {
                object_id: s.object_id,
                amount: stake.amount,
                requested_epoch,
                withdrawable_from,
                withdrawable_at_ms: epoch_start_ms(&system, withdrawable_from),
                requested_now,
            });
        }
        Ok(report)
    }
}

/// A storage node to register ([`Floe::register_node`]).
#[derive(Debug, Clone)]
pub struct NodeRegistration {
    /// Unique name.
    pub name: String,
    /// The node's protocol key (its identity on the network and in certificates).
    pub public_key: floe_common::PublicKey,
    /// libp2p multiaddr the node listens on.
    pub network_address: String,
    /// HTTP address (health, metrics).
    pub http_address: String,
    /// Commission on rewards, in basis points.
    pub commission_bps: u16,
    /// Storage price vote (FROST per MiB per epoch).
    pub storage_price_vote: Frost,
    /// Write price vote (FROST per MiB).
    pub write_price_vote: Frost,
    /// Capacity vote (bytes).
    pub capacity_vote: u64,
}
