//! Network information for `floe info`: parameters, prices, epoch timing and the committee.

use floe_common::{Committee, CommitteeMember, Epoch, Frost, NodeId, ShardIndex};
use floe_ledger::ClientError;
use floe_ledger::rpc::types::{CommitteeResponse, SystemInfo};
use serde::Serialize;

use super::Floe;
use crate::error::FloeError;

/// A committee member with its stake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitteeNode {
    /// Node id.
    pub node_id: NodeId,
    /// Name.
    pub name: String,
    /// Stake counting towards the node.
    pub stake: Frost,
    /// Its shards in the current committee.
    pub shards: Vec<ShardIndex>,
    /// libp2p address.
    pub network_address: String,
    /// HTTP address.
    pub http_address: String,
}

/// The network as `floe info` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkInfo {
    /// Parameters, prices, epoch and tip.
    pub system: SystemInfo,
    /// Block time (ms since the Unix epoch) at which the next epoch starts.
    pub next_epoch_ms: u64,
    /// The committee's epoch.
    pub committee_epoch: Epoch,
    /// The committee, in certificate order.
    pub committee: Vec<CommitteeNode>,
}

impl Floe {
    /// The current storage committee as a [`Committee`], to collect storage confirmations into
    /// a certificate the ledger will accept.
    pub async fn certificate_committee(&self) -> Result<Committee, FloeError> {
        let response = self.committee().await?;
        certificate_committee_of(&response).map_err(|e| FloeError::Ledger {
            step: "committee",
            source: ClientError::Decode(format!("invalid committee: {e}")),
        })
    }

    /// System parameters, epoch timing and the committee with stakes.
    pub async fn network_info(&self) -> Result<NetworkInfo, FloeError> {
        let err = |e| self.err("info", e);
        let system = self.ledger.system().await.map_err(err)?;
        let committee = self.ledger.committee().await.map_err(err)?;
        let nodes = self.ledger.nodes().await.map_err(err)?;
        let members = committee
            .members
            .into_iter()
            .map(|m| CommitteeNode {
                stake: nodes
                    .iter()
                    .find(|n| n.node.node_id == m.node_id)
                    .map_or(Frost::ZERO, |n| n.node.total_stake),
                node_id: m.node_id,
                name: m.name,
                shards: m.shards,
                network_address: m.network_address,
                http_address: m.http_address,
            })
            .collect();
        Ok(NetworkInfo {
            next_epoch_ms: next_epoch_ms(&system),
            system,
            committee_epoch: committee.epoch,
            committee: members,
        })
    }
}

/// The committee in the response as certificates are built and verified against (members in
/// certificate order, weights in shards).
pub fn certificate_committee_of(
    response: &CommitteeResponse,
) -> Result<Committee, floe_common::CertificateError> {
    Committee::new(
        response.epoch,
        response.n_shards,
        response
            .members
            .iter()
            .map(|m| CommitteeMember {
                node_id: m.node_id,
                public_key: m.public_key,
                weight: m.weight,
            })
            .collect(),
    )
}

/// The block time (ms since the Unix epoch) at which `epoch` starts.
pub fn epoch_start_ms(system: &SystemInfo, epoch: Epoch) -> u64 {
    system
        .genesis_time_ms
        .saturating_add(u64::from(epoch.0).saturating_mul(system.epoch_duration_ms))
}

/// The block time at which the epoch after the current one starts.
pub fn next_epoch_ms(system: &SystemInfo) -> u64 {
    epoch_start_ms(system, system.epoch.next())
}
