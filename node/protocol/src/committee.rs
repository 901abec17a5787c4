//! The storage committee as nodes and clients use it: who holds which shard, and how to reach
//! them.
//!
//! Built from the ledger's committee (`GET /v1/committee`). Each member's libp2p peer id is
//! derived from its registered public key, never taken from the network address, so a dial to
//! a member can only succeed against the holder of that key (the noise handshake checks it).
//! A member's node id must be the hash of its key ([`floe_ledger_types::node_id_of`]), and a node
//! checks the served committee's members and shards against the verified `EpochChanged` event
//! ([`CommitteeView::matches`]), so an RPC server can at worst serve wrong network addresses.
//!
//! During a shard sync a node works with two committees ([`Committees`]): the current one takes
//! writes; the previous one still holds the slivers of moved shards and serves them until the
//! ledger's `SyncDone`.

use std::collections::HashMap;
use std::sync::Arc;

use floe_common::{
    BlobId, Committee, CommitteeMember, EncodingConfig, Epoch, NodeId, PublicKey, ShardIndex,
    SliverPairIndex,
};
use floe_ledger_types::rpc::CommitteeResponse;
use libp2p::{Multiaddr, PeerId};

use crate::network::peer_id_of_public;

/// The ledger's committee is malformed (weights, shards, keys) and cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitteeError {
    /// The shard count gives no valid encoding.
    #[error("bad committee: {0}")]
    Encoding(#[from] floe_common::EncodingConfigError),
    /// A member's node id is not the hash of its key.
    #[error("bad committee: member {0} has a key of another node")]
    ForeignKey(NodeId),
    /// A member's weight is not its number of shards.
    #[error("bad committee: member {node} has weight {weight} but {shards} shards")]
    WeightMismatch {
        /// The member.
        node: NodeId,
        /// Its weight.
        weight: u16,
        /// Its shards.
        shards: usize,
    },
    /// A shard index at or past the shard count.
    #[error("bad committee: shard {0} out of range")]
    ShardOutOfRange(ShardIndex),
    /// A shard held by two members.
    #[error("bad committee: shard {0} held twice")]
    ShardHeldTwice(ShardIndex),
    /// A shard nobody holds.
    #[error("bad committee: shard {0} has no holder")]
    ShardUnheld(ShardIndex),
    /// The members do not form a certificate committee.
    #[error("bad committee: {0}")]
    Certificate(#[from] floe_common::CertificateError),
}

/// One committee member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Node id.
    pub node_id: NodeId,
    /// Registered name.
    pub name: String,
    /// Protocol key (signs confirmations; libp2p identity).
    pub public_key: PublicKey,
    /// libp2p peer id (derived from the key).
    pub peer_id: PeerId,
    /// Where to dial it (empty if its registered address does not parse).
    pub addrs: Vec<Multiaddr>,
    /// Its HTTP address (health, metrics).
    pub http_address: String,
    /// The shards it holds.
    pub shards: Vec<ShardIndex>,
}

/// The committee of one epoch.
#[derive(Debug, Clone)]
pub struct CommitteeView {
    committee: Committee,
    members: Vec<Member>,
    /// Member index of each shard.
    shard_owner: Vec<usize>,
    by_node: HashMap<NodeId, usize>,
    config: EncodingConfig,
}

impl CommitteeView {
    /// From the ledger's committee response. Every shard must have exactly one holder and each
    /// member's weight must equal its number of shards.
    pub fn from_response(resp: &CommitteeResponse) -> Result<Self, CommitteeError> {
        let n = resp.n_shards;
        let config = EncodingConfig::new(n)?;
        let mut shard_owner = vec![usize::MAX; usize::from(n)];
        let mut members = Vec::with_capacity(resp.members.len());
        for (i, m) in resp.members.iter().enumerate() {
            if floe_ledger_types::node_id_of(&m.public_key) != m.node_id {
                return Err(CommitteeError::ForeignKey(m.node_id));
            }
            if usize::from(m.weight) != m.shards.len() {
                return Err(CommitteeError::WeightMismatch {
                    node: m.node_id,
                    weight: m.weight,
                    shards: m.shards.len(),
                });
            }
            for s in &m.shards {
                let slot = shard_owner
                    .get_mut(usize::from(s.0))
                    .ok_or(CommitteeError::ShardOutOfRange(*s))?;
                if *slot != usize::MAX {
                    return Err(CommitteeError::ShardHeldTwice(*s));
                }
                *slot = i;
            }
            members.push(Member {
                node_id: m.node_id,
                name: m.name.clone(),
                public_key: m.public_key,
                peer_id: peer_id_of_public(&m.public_key),
                addrs: m.network_address.parse().into_iter().collect(),
                http_address: m.http_address.clone(),
                shards: m.shards.clone(),
            });
        }
        if let Some(s) = shard_owner.iter().position(|&o| o == usize::MAX) {
            return Err(CommitteeError::ShardUnheld(ShardIndex(s as u16)));
        }
        let committee = Committee::new(
            resp.epoch,
            n,
            members
                .iter()
                .map(|m| CommitteeMember {
                    node_id: m.node_id,
                    public_key: m.public_key,
                    weight: u16::try_from(m.shards.len()).unwrap_or(u16::MAX),
                })
                .collect(),
        )?;
        let by_node = members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.node_id, i))
            .collect();
        Ok(CommitteeView {
            committee,
            members,
            shard_owner,
            by_node,
            config,
        })
    }

    /// The epoch.
    pub fn epoch(&self) -> Epoch {
        self.committee.epoch()
    }

    /// Whether the members and their shards are exactly `members` (from a verified ledger
    /// event), in any order.
    pub fn matches(&self, members: &[floe_ledger_types::MemberShards]) -> bool {
        members.len() == self.members.len()
            && members.iter().all(|ms| {
                self.member(&ms.node).is_some_and(|m| {
                    let mut a = m.shards.clone();
                    let mut b = ms.shards.clone();
                    a.sort_unstable();
                    b.sort_unstable();
                    a == b
                })
            })
    }

    /// Whether `node` holds `shard`.
    pub fn holds(&self, node: &NodeId, shard: ShardIndex) -> bool {
        self.shard_holder(shard).is_some_and(|m| m.node_id == *node)
    }

    /// The encoding configuration for the committee's shard count.
    pub fn encoding(&self) -> &EncodingConfig {
        &self.config
    }

    /// Total shards.
    pub fn n_shards(&self) -> u16 {
        self.committee.n_shards()
    }

    /// The committee for certificates (member order = signer bitmap order).
    pub fn committee(&self) -> &Committee {
        &self.committee
    }

    /// Members in certificate order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// A member by node id.
    pub fn member(&self, node_id: &NodeId) -> Option<&Member> {
        self.by_node.get(node_id).map(|&i| &self.members[i])
    }

    /// A member by peer id.
    pub fn member_by_peer(&self, peer: &PeerId) -> Option<&Member> {
        self.members.iter().find(|m| m.peer_id == *peer)
    }

    /// The holder of `shard`.
    pub fn shard_holder(&self, shard: ShardIndex) -> Option<&Member> {
        self.shard_owner
            .get(usize::from(shard.0))
            .map(|&i| &self.members[i])
    }

    /// The shard holding sliver pair `pair` of `blob_id`.
    pub fn shard_of_pair(&self, blob_id: &BlobId, pair: SliverPairIndex) -> ShardIndex {
        let n = self.n_shards();
        pair.to_shard(blob_id.rotation(n), n)
    }

    /// The holder of sliver pair `pair` of `blob_id`.
    pub fn pair_holder(&self, blob_id: &BlobId, pair: SliverPairIndex) -> Option<&Member> {
        self.shard_holder(self.shard_of_pair(blob_id, pair))
    }

    /// The sliver pairs of `blob_id` that `shards` hold, in shard order.
    pub fn pairs_on(&self, blob_id: &BlobId, shards: &[ShardIndex]) -> Vec<SliverPairIndex> {
        let n = self.n_shards();
        let rotation = blob_id.rotation(n);
        shards.iter().map(|s| s.to_pair(rotation, n)).collect()
    }
}

/// The committees a node works with.
#[derive(Debug, Clone)]
pub struct Committees {
    /// The current committee: writes, confirmations, the shards to hold.
    pub current: Arc<CommitteeView>,
    /// While the change to `current` syncs shards: the committee that held them before, which
    /// keeps serving them (sync and reads) until the ledger's `SyncDone`.
    pub previous: Option<Arc<CommitteeView>>,
}

impl Committees {
    /// Only a current committee.
    pub fn new(current: CommitteeView) -> Self {
        Committees {
            current: Arc::new(current),
            previous: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use floe_common::KeyPair;
    use floe_ledger_types::rpc::CommitteeMemberInfo;

    pub(crate) fn response(n_nodes: usize, n_shards: u16) -> CommitteeResponse {
        let per = usize::from(n_shards) / n_nodes;
        CommitteeResponse {
            epoch: Epoch(3),
            role: floe_ledger_types::rpc::CommitteeRole::Current,
            n_shards,
            members: (0..n_nodes)
                .map(|i| {
                    let key = KeyPair::from_seed([i as u8 + 1; 32]).public();
                    let end = if i + 1 == n_nodes {
                        usize::from(n_shards)
                    } else {
                        (i + 1) * per
                    };
                    let shards: Vec<_> = (i * per..end).map(|s| ShardIndex(s as u16)).collect();
                    CommitteeMemberInfo {
                        node_id: floe_ledger_types::node_id_of(&key),
                        name: format!("node-{}", i + 1),
                        weight: shards.len() as u16,
                        shards,
                        public_key: key,
                        network_address: format!("/ip4/127.0.0.1/tcp/{}", 9000 + i),
                        http_address: format!("127.0.0.1:{}", 8000 + i),
                        stake: floe_common::Frost(1),
                        commission_bps: 0,
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn every_pair_has_exactly_one_holder() {
        let view = CommitteeView::from_response(&response(4, 10)).unwrap();
        let blob = BlobId([7; 32]);
        let mut count = [0; 10];
        for m in view.members() {
            for p in view.pairs_on(&blob, &m.shards) {
                count[p.as_usize()] += 1;
                assert_eq!(view.pair_holder(&blob, p).unwrap().node_id, m.node_id);
            }
            assert_eq!(view.member_by_peer(&m.peer_id).unwrap().name, m.name);
            assert_eq!(m.addrs.len(), 1);
        }
        assert!(count.iter().all(|&c| c == 1));
        assert_eq!(view.committee().members().len(), 4);
    }

    #[test]
    fn malformed_committees_are_refused() {
        let mut r = response(4, 10);
        r.members[0].shards.push(ShardIndex(9));
        assert!(CommitteeView::from_response(&r).is_err());
        let mut r = response(4, 10);
        r.members[3].shards.pop();
        r.members[3].weight -= 1;
        assert!(CommitteeView::from_response(&r).is_err());
        let mut r = response(4, 10);
        r.members[1].weight += 1;
        assert!(CommitteeView::from_response(&r).is_err());
        let mut r = response(4, 10);
        r.members[2].public_key = r.members[1].public_key;
        assert!(CommitteeView::from_response(&r).is_err());
        let view = CommitteeView::from_response(&response(4, 10)).unwrap();
        let mut members: Vec<floe_ledger_types::MemberShards> = view
            .members()
            .iter()
            .rev()
            .map(|m| floe_ledger_types::MemberShards {
                node: m.node_id,
                shards: m.shards.iter().rev().copied().collect(),
            })
            .collect();
        assert!(view.matches(&members));
        let moved = members[0].shards.pop().unwrap();
        members[1].shards.push(moved);
        assert!(!view.matches(&members));
    }
}
