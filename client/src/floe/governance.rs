//! Governance and node operation: proposals and votes, price and capacity votes, commission.
//!
//! Ledger rules (the ledger's `state::governance` module): only an account that controls a member
//! of the current committee (its owner or its node key) may propose or vote; a vote counts the
//! shard weight of every member the account controls; a proposal executes when more than 2/3 of
//! the shards approve before its deadline epoch ends, and expires otherwise.

use floe_common::{Epoch, Frost};
use floe_ledger_types::{Event, Proposal, ProposalChange, ProposalStatus, TxKind};
use serde::Serialize;

use super::{Floe, Receipt};
use crate::error::FloeError;

/// The result of [`Floe::propose`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProposalReceipt {
    /// The new proposal's id.
    pub proposal: u64,
    /// Its change.
    pub change: ProposalChange,
    /// Last epoch in which votes count.
    pub deadline_epoch: Epoch,
    /// The transaction.
    pub receipt: Receipt,
}

/// The result of [`Floe::vote`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoteReceipt {
    /// The proposal.
    pub proposal: u64,
    /// Approve or reject.
    pub approve: bool,
    /// Approving shard weight after the vote.
    pub approve_weight: u16,
    /// Rejecting shard weight after the vote.
    pub reject_weight: u16,
    /// The proposal's status after the vote (`executed` when this vote reached quorum).
    pub status: ProposalStatus,
    /// The transaction.
    pub receipt: Receipt,
}

/// The result of [`Floe::set_node_votes`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeVotesReceipt {
    /// The node's name.
    pub node_name: String,
    /// Its storage price vote.
    pub storage_price: Frost,
    /// Its write price vote.
    pub write_price: Frost,
    /// Its capacity vote (bytes).
    pub capacity: u64,
    /// The network's prices and capacity after the vote.
    pub network_storage_price: Frost,
    /// The network's write price after the vote.
    pub network_write_price: Frost,
    /// The network's capacity after the vote.
    pub network_capacity: u64,
    /// The transaction.
    pub receipt: Receipt,
}

impl Floe {
    /// Every governance proposal.
    pub async fn proposals(&self) -> Result<Vec<Proposal>, FloeError> {
        self.ledger
            .proposals()
            .await
            .map_err(|e| self.err("proposals", e))
    }

    /// Proposes `change`, open for votes until `deadline_epoch` (default: the next epoch).
    pub async fn propose(
        &self,
        change: ProposalChange,
        deadline_epoch: Option<Epoch>,
    ) -> Result<ProposalReceipt, FloeError> {
        self.signer("propose")?;
        let deadline_epoch = match deadline_epoch {
            Some(e) => e,
            None => self.system().await?.epoch.next(),
        };
        let receipt = self
            .execute(
                "propose",
                TxKind::Propose {
                    change: change.clone(),
                    deadline_epoch,
                },
            )
            .await?;
        let proposal = receipt
            .effects
            .events
            .iter()
            .find_map(|e| match e {
                Event::ProposalCreated { id, .. } => Some(*id),
                _ => None,
            })
            .ok_or(FloeError::MissingEffect {
                step: "propose",
                what: "a ProposalCreated event",
            })?;
        Ok(ProposalReceipt {
            proposal,
            change,
            deadline_epoch,
            receipt,
        })
    }

    /// Votes on `proposal` with every committee node the wallet controls.
    pub async fn vote(&self, proposal: u64, approve: bool) -> Result<VoteReceipt, FloeError> {
        let receipt = self
            .execute("vote", TxKind::Vote { proposal, approve })
            .await?;
        let (mut approve_weight, mut reject_weight) = (0, 0);
        for e in &receipt.effects.events {
            if let Event::ProposalVoted {
                approve_weight: a,
                reject_weight: r,
                ..
            } = e
            {
                (approve_weight, reject_weight) = (*a, *r);
            }
        }
        let status = match self.ledger.proposal(proposal).await {
            Ok(Some(p)) => p.status,
            Ok(None) => ProposalStatus::Open,
            Err(e) => return Err(self.err("vote", e)),
        };
        Ok(VoteReceipt {
            proposal,
            approve,
            approve_weight,
            reject_weight,
            status,
            receipt,
        })
    }

    /// Sets the price and capacity votes of the node `node` (id or name; the wallet must be
    /// its owner or its node key). Votes not given keep their current value.
    pub async fn set_node_votes(
        &self,
        node: &str,
        storage_price: Option<Frost>,
        write_price: Option<Frost>,
        capacity: Option<u64>,
    ) -> Result<NodeVotesReceipt, FloeError> {
        self.signer("vote_prices")?;
        let info = self.resolve_node(node).await?;
        let current = info.node.votes;
        let (storage_price, write_price, capacity) = (
            storage_price.unwrap_or(current.storage_price),
            write_price.unwrap_or(current.write_price),
            capacity.unwrap_or(current.capacity),
        );
        let receipt = self
            .execute(
                "vote_prices",
                TxKind::SetNodeVotes {
                    node: info.node.node_id,
                    storage_price,
                    write_price,
                    capacity,
                },
            )
            .await?;
        let system = self.system().await?;
        Ok(NodeVotesReceipt {
            node_name: info.node.name,
            storage_price,
            write_price,
            capacity,
            network_storage_price: system.storage_price,
            network_write_price: system.write_price,
            network_capacity: system.capacity,
            receipt,
        })
    }

    /// Collects the commission of node `node` (id or name; the wallet must be its owner).
    pub async fn collect_commission(&self, node: &str) -> Result<(Frost, Receipt), FloeError> {
        self.signer("collect_commission")?;
        let info = self.resolve_node(node).await?;
        let receipt = self
            .execute(
                "collect_commission",
                TxKind::CollectCommission {
                    node: info.node.node_id,
                },
            )
            .await?;
        let amount = receipt
            .effects
            .events
            .iter()
            .find_map(|e| match e {
                Event::CommissionCollected { amount, .. } => Some(*amount),
                _ => None,
            })
            .unwrap_or(Frost::ZERO);
        Ok((amount, receipt))
    }
}
