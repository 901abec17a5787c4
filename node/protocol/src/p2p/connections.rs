//! Connection limits of a serving swarm, and where each connection comes from.
//!
//! libp2p's `connection_limits` caps pending inbound connections (handshakes in progress),
//! established inbound connections in total, and connections per peer id. A peer id costs
//! nothing to make, so [`IpLimits`] also caps the established inbound connections of one IP
//! address: many identities on one host share that cap. It also remembers each connection's
//! remote address, so a request can be charged to its address ([`super::admission`]).
//! Connections over a limit are refused before any request is read from them.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::task::{Context, Poll};

use libp2p::core::Endpoint;
use libp2p::core::multiaddr::Protocol;
use libp2p::core::transport::PortUse;
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm, dummy,
};
use libp2p::{Multiaddr, PeerId};

/// Too many connections from one address.
#[derive(Debug, thiserror::Error)]
#[error("{ip} has {limit} connections open, the most one address may")]
pub struct TooManyFromAddress {
    /// The address.
    pub ip: IpAddr,
    /// The limit.
    pub limit: usize,
}

/// Caps inbound connections per remote IP address and maps connections to their address.
#[derive(Debug, Default)]
pub struct IpLimits {
    /// Most established inbound connections of one address (`None`: no cap).
    max_per_ip: Option<usize>,
    per_ip: HashMap<IpAddr, usize>,
    inbound: HashMap<ConnectionId, IpAddr>,
}

/// The IP address of a multiaddr's first component, if it has one.
pub fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

impl IpLimits {
    /// At most `max_per_ip` established inbound connections per address.
    pub fn new(max_per_ip: Option<usize>) -> Self {
        IpLimits {
            max_per_ip,
            ..IpLimits::default()
        }
    }

    /// The remote address of inbound connection `id`.
    pub fn ip(&self, id: ConnectionId) -> Option<IpAddr> {
        self.inbound.get(&id).copied()
    }

    fn check(&self, remote: &Multiaddr) -> Result<(), ConnectionDenied> {
        let (Some(limit), Some(ip)) = (self.max_per_ip, ip_of(remote)) else {
            return Ok(());
        };
        if self.per_ip.get(&ip).copied().unwrap_or(0) >= limit {
            tracing::debug!(%ip, limit, "inbound connection refused: too many from this address");
            return Err(ConnectionDenied::new(TooManyFromAddress { ip, limit }));
        }
        Ok(())
    }
}

impl NetworkBehaviour for IpLimits {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        // Refused before the handshake when the address is at its cap already.
        self.check(remote)
    }

    fn handle_established_inbound_connection(
        &mut self,
        id: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        // Checked again: handshakes from one address may have run in parallel.
        self.check(remote)?;
        if let Some(ip) = ip_of(remote) {
            *self.per_ip.entry(ip).or_default() += 1;
            self.inbound.insert(id, ip);
        }
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm<'_>) {
        if let FromSwarm::ConnectionClosed(c) = event
            && let Some(ip) = self.inbound.remove(&c.connection_id)
            && let Some(n) = self.per_ip.get_mut(&ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}
