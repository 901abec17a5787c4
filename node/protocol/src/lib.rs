//! How clients and storage nodes talk: the `/floe/<name>/1` request-response protocols over
//! libp2p, their types and size limits, and the committee a caller addresses. Everything a
//! client needs to store and read slivers, and nothing of a node's storage.
//!
//! * [`protocol`]: the request and response types of every protocol, [`NodeError`] (typed
//!   refusals with stable codes) and per-protocol size limits derived from the encoding.
//! * [`network`]: the transport (TCP + noise + yamux) and the size-limited, length-framed BCS
//!   codec: a body longer than its protocol's limit is refused before anything is allocated.
//! * [`p2p`]: one task owns the swarm; a [`P2p`] handle makes typed outbound calls. A node also
//!   serves inbound requests through a [`p2p::Handler`] with global and per-peer limits.
//! * [`committee`]: [`CommitteeView`], the committee as callers use it: shard → holder, pair →
//!   shard, peer ids derived from registered keys and checked against the ledger's events.

pub mod committee;
pub mod network;
pub mod p2p;
pub mod protocol;

pub use committee::{CommitteeError, CommitteeView, Committees, Member};
pub use libp2p::{Multiaddr, PeerId};
pub use p2p::{CallError, P2p};
pub use protocol::NodeError;
