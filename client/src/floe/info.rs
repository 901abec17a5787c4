//! Network information for `floe info`: parameters, prices, epoch timing and the committee.

use floe_common::{Committee, CommitteeMember, Epoch, Frost, NodeId, ShardIndex};
use floe_ledger_types::rpc::{ChallengesResponse, CommitteeResponse, SystemInfo};
use floe_ledger_types::{Proposal, ProposalStatus};
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
    /// Stake counting towards the node (at the next committee selection).
    pub stake: Frost,
    /// Commission on rewards (basis points).
    pub commission: u16,
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
    /// The current epoch.
    pub epoch: Epoch,
    /// `normal`, `next_committee_selected` or `sync`.
    pub epoch_state: String,
    /// Block time (ms since the Unix epoch) at which the current epoch started.
    pub epoch_start: u64,
    /// Block time (ms since the Unix epoch) at which the next epoch starts.
    pub next_epoch_at: u64,
    /// FROST per MiB per epoch.
    pub storage_price: Frost,
    /// FROST per MiB written.
    pub write_price: Frost,
    /// Total capacity (encoded bytes per epoch).
    pub capacity: u64,
    /// Encoded bytes reserved for the current epoch.
    pub capacity_used: u64,
    /// Open governance proposals.
    pub proposals: Vec<Proposal>,
    /// Parameters, prices, epoch and tip.
    pub system: SystemInfo,
    /// Same as `next_epoch_at` (kept for older scripts).
    pub next_epoch_ms: u64,
    /// The committee's epoch.
    pub committee_epoch: Epoch,
    /// The committee, in certificate order.
    pub committee: Vec<CommitteeNode>,
    /// The largest blob the network's encoding takes (bytes); larger files are stored in
    /// chunks ([`crate::files::Chunking`]).
    pub max_blob_size: u64,
    /// Storage challenges: the current round (who proved so far) and the last settled one
    /// (who passed and who failed).
    pub challenges: ChallengesResponse,
}

impl Floe {
    /// The current storage committee as a [`Committee`], to collect storage confirmations into
    /// a certificate the ledger will accept.
    pub async fn certificate_committee(&self) -> Result<Committee, FloeError> {
        let response = self.committee().await?;
        certificate_committee_of(&response).map_err(FloeError::InvalidCommittee)
    }

    /// System parameters, epoch timing and the committee with stakes.
    pub async fn network_info(&self) -> Result<NetworkInfo, FloeError> {
        let err = |e| self.err("info", e);
        let system = self.ledger.system().await.map_err(err)?;
        let committee = self.ledger.committee().await.map_err(err)?;
        let proposals = self
            .ledger
            .proposals()
            .await
            .map_err(err)?
            .into_iter()
            .filter(|p| p.status == ProposalStatus::Open)
            .collect();
        let challenges = self.ledger.challenges().await.map_err(err)?;
        let max_blob_size =
            floe_common::EncodingConfig::new(system.n_shards).map_or(0, |c| c.max_blob_size());
        let members = committee
            .members
            .into_iter()
            .map(|m| CommitteeNode {
                stake: m.stake,
                commission: m.commission_bps,
                node_id: m.node_id,
                name: m.name,
                shards: m.shards,
                network_address: m.network_address,
                http_address: m.http_address,
            })
            .collect();
        Ok(NetworkInfo {
            epoch: system.epoch,
            epoch_state: system.epoch_state.clone(),
            epoch_start: system.epoch_start_ms,
            next_epoch_at: next_epoch_ms(&system),
            storage_price: system.storage_price,
            write_price: system.write_price,
            capacity: system.capacity,
            capacity_used: system.capacity_used,
            proposals,
            next_epoch_ms: next_epoch_ms(&system),
            system,
            committee_epoch: committee.epoch,
            committee: members,
            max_blob_size,
            challenges,
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

/// The block time (ms since the Unix epoch) at which `epoch` starts, from the ledger's
/// schedule: the current epoch's start, the next epoch's start, then the next length per epoch
/// (future epochs are a forecast: governance may change the length). Past epochs assume the
/// current length.
pub fn epoch_start_ms(system: &SystemInfo, epoch: Epoch) -> u64 {
    let next_len = if system.next_epoch_duration_ms > 0 {
        system.next_epoch_duration_ms
    } else {
        system.epoch_duration_ms
    };
    if system.next_epoch_at_ms == 0 {
        // An older ledger without the schedule fields.
        return system
            .genesis_time_ms
            .saturating_add(u64::from(epoch.0).saturating_mul(system.epoch_duration_ms));
    }
    match epoch.0.checked_sub(system.epoch.0) {
        Some(0) => system.epoch_start_ms,
        Some(k) => system
            .next_epoch_at_ms
            .saturating_add(u64::from(k - 1).saturating_mul(next_len)),
        None => system.epoch_start_ms.saturating_sub(
            u64::from(system.epoch.0 - epoch.0).saturating_mul(system.epoch_duration_ms),
        ),
    }
}

/// The block time at which the epoch after the current one starts.
pub fn next_epoch_ms(system: &SystemInfo) -> u64 {
    epoch_start_ms(system, system.epoch.next())
}
