//! The node protocols on a libp2p swarm: one task owns the swarm, everything else talks to it
//! through a [`P2p`] handle.
//!
//! * Outbound: [`P2p::call`] (or the typed helpers generated per protocol, e.g.
//!   [`P2p::get_sliver`]) sends a request to a peer at known addresses and resolves with the
//!   peer's answer, a [`CallError::Node`] refusal, or a transport failure.
//! * Inbound (servers only): each request is handed to the [`Handler`] on its own task, with
//!   its [`Origin`] (peer id and IP address). Before that, `admission` decides whether it runs
//!   at all: requests in flight in total and per peer, slots reserved for committee members and
//!   writers of registered blobs (the handler classifies each request, [`Handler::class`]),
//!   and token-bucket rates per peer and per IP address. A request refused there is answered
//!   [`NodeError::Busy`] at once, so a flooding peer costs one small answer per request and
//!   cannot starve others. Connections are capped in total, per peer and per IP address, and
//!   streams per connection ([`connections`], [`InboundLimits`]). Oversized and malformed
//!   bodies never reach the handler (the codec refuses them, see [`crate::network`]). A
//!   panicking handler is logged and its request dropped; the swarm keeps running.
//!
//! Clients (the SDK) run the same swarm with outbound support only and no limits.

mod admission;
pub mod connections;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use floe_common::{BlobId, BlobMetadata, KeyPair, Sliver};
use futures::{FutureExt as _, StreamExt as _};
use libp2p::request_response::{
    self, Event, Message, OutboundFailure, OutboundRequestId, ProtocolSupport, ResponseChannel,
};
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use self::admission::Admission;
use self::connections::IpLimits;
use crate::network::{BcsCodec, NetworkError, build_swarm};
use crate::protocol::{
    self, BlobStatusResponse, ConfirmationRequest, GetSliverRequest, HealthResponse,
    InconsistencyRequest, NodeError, NodeResult, ProtocolLimits, PutSliverRequest, RecoveryRequest,
    RecoveryResponse, SignedConfirmation, SignedInvalidBlob, SignedSyncShard, SyncShardResponse,
};

/// A request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The peer answered with a refusal.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// Dialing, the stream, the codec or the timeout failed.
    #[error("transport: {0}")]
    Transport(String),
    /// The swarm task has stopped.
    #[error("network stopped")]
    Stopped,
}

/// A token bucket's shape: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Tokens added per second.
    pub per_second: u32,
    /// Most tokens held (the largest burst).
    pub burst: u32,
}

/// Inbound limits of a serving swarm (see the module docs and `admission`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboundLimits {
    /// Requests handled at once over all peers.
    pub max_concurrent: usize,
    /// Requests of one peer handled at once.
    pub max_concurrent_per_peer: usize,
    /// Of `max_concurrent`, slots only committee members and writers of registered blobs may
    /// take.
    pub reserved: usize,
    /// Request rate of one peer (members are not limited).
    pub peer_rate: RateLimit,
    /// Request rate of one IP address, over all its peers (anonymous requests only).
    pub ip_rate: RateLimit,
    /// Established inbound connections.
    pub max_connections: u32,
    /// Established inbound connections from one IP address.
    pub max_connections_per_ip: usize,
    /// Established connections with one peer.
    pub max_connections_per_peer: u32,
    /// Inbound connections in their handshake.
    pub max_pending_connections: u32,
    /// Streams open at once on one connection, per protocol (requests beyond are dropped).
    pub max_streams_per_connection: usize,
}

impl Default for InboundLimits {
    fn default() -> Self {
        InboundLimits {
            max_concurrent: 256,
            max_concurrent_per_peer: 64,
            reserved: 64,
            peer_rate: RateLimit {
                per_second: 200,
                burst: 400,
            },
            ip_rate: RateLimit {
                per_second: 2_000,
                burst: 8_000,
            },
            max_connections: 1_024,
            max_connections_per_ip: 64,
            max_connections_per_peer: 4,
            max_pending_connections: 128,
            max_streams_per_connection: 128,
        }
    }
}

/// Where an inbound request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The authenticated peer id.
    pub peer: PeerId,
    /// The remote IP address of its connection (`None` if not an IP transport).
    pub ip: Option<IpAddr>,
}

/// Who a request is from, as far as capacity goes (see `admission`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A member of the committee (current, or previous while a change syncs).
    Member,
    /// A write (metadata, sliver, confirmation) for a blob registered on the ledger.
    Writer,
    /// Anyone else.
    Anonymous,
}

/// Serves inbound requests.
#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Answers `request` from `from`.
    async fn handle(&self, from: Origin, request: Request) -> Response;

    /// The class of `request` (called on the swarm task before the request is admitted, so it
    /// must be quick). Anonymous unless the handler knows better.
    fn class(&self, _from: &Origin, _request: &Request) -> Class {
        Class::Anonymous
    }
}

/// How long an outbound request may take (a large sliver over a slow link, or a confirmation
/// long-poll).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Streams a client may have open at once on one connection, per protocol.
const CLIENT_STREAMS: usize = 1024;

macro_rules! protocols {
    ($( $field:ident, $Variant:ident, $name:path, $Req:ty, $Resp:ty; )*) => {
        /// The node protocols, one request-response behaviour each, and the connection limits.
        #[derive(NetworkBehaviour)]
        struct Behaviour {
            connection_limits: libp2p::connection_limits::Behaviour,
            ip_limits: IpLimits,
            $( $field: request_response::Behaviour<BcsCodec<$Req, NodeResult<$Resp>>>, )*
        }

        impl Behaviour {
            /// A server's behaviour with `inbound` limits, or a client's (outbound only, no
            /// limits).
            fn new(limits: &ProtocolLimits, inbound: Option<&InboundLimits>) -> Self {
                let support = match inbound {
                    Some(_) => ProtocolSupport::Full,
                    None => ProtocolSupport::Outbound,
                };
                let streams = inbound.map_or(CLIENT_STREAMS, |l| l.max_streams_per_connection);
                let config = request_response::Config::default()
                    .with_request_timeout(REQUEST_TIMEOUT)
                    .with_max_concurrent_streams(streams);
                let connections = match inbound {
                    Some(l) => libp2p::connection_limits::ConnectionLimits::default()
                        .with_max_pending_incoming(Some(l.max_pending_connections))
                        .with_max_established_incoming(Some(l.max_connections))
                        .with_max_established_per_peer(Some(l.max_connections_per_peer)),
                    None => libp2p::connection_limits::ConnectionLimits::default(),
                };
                Behaviour {
                    connection_limits: libp2p::connection_limits::Behaviour::new(connections),
                    ip_limits: IpLimits::new(inbound.map(|l| l.max_connections_per_ip)),
                    $( $field: request_response::Behaviour::with_codec(
                        BcsCodec::new(limits.$field),
                        [(StreamProtocol::new($name), support.clone())],
                        config.clone(),
                    ), )*
                }
            }
        }

        /// A request of any protocol.
        #[derive(Debug, Clone)]
        pub enum Request { $( #[doc = concat!("`", stringify!($field), "`")] $Variant($Req), )* }

        /// A response of any protocol.
        #[derive(Debug, Clone)]
        pub enum Response { $( #[doc = concat!("`", stringify!($field), "`")] $Variant(NodeResult<$Resp>), )* }

        enum Responder { $( $Variant(ResponseChannel<NodeResult<$Resp>>), )* }

        impl Request {
            /// The protocol name.
            pub fn protocol(&self) -> &'static str {
                match self { $( Request::$Variant(_) => $name, )* }
            }

            /// The refusal `err` in this request's response type.
            pub fn refuse(&self, err: NodeError) -> Response {
                match self { $( Request::$Variant(_) => Response::$Variant(Err(err)), )* }
            }

            fn send(self, b: &mut Behaviour, peer: &PeerId, addrs: Vec<Multiaddr>) -> OutboundRequestId {
                match self {
                    $( Request::$Variant(r) => b.$field.send_request_with_addresses(peer, r, addrs), )*
                }
            }
        }

        impl Response {
            /// The refusal, if the response is one.
            pub fn error(&self) -> Option<&NodeError> {
                match self { $( Response::$Variant(r) => r.as_ref().err(), )* }
            }
        }

        fn respond(b: &mut Behaviour, to: Responder, response: Response) {
            let sent = match (to, response) {
                $( (Responder::$Variant(ch), Response::$Variant(r)) => b.$field.send_response(ch, r).is_ok(), )*
                _ => {
                    tracing::error!("handler answered with the wrong response type");
                    false
                }
            };
            if !sent {
                tracing::debug!("response not sent: the peer closed the stream");
            }
        }

        /// Splits a behaviour event into an inbound request or an outbound outcome.
        fn classify(event: BehaviourEvent) -> Option<Classified> {
            match event {
                BehaviourEvent::ConnectionLimits(never) | BehaviourEvent::IpLimits(never) => match never {},
                $( BehaviourEvent::$Variant(e) => match e {
                    Event::Message { peer, connection_id, message: Message::Request { request, channel, .. } } =>
                        Some(Classified::Inbound(peer, connection_id, Request::$Variant(request), Responder::$Variant(channel))),
                    Event::Message { message: Message::Response { request_id, response }, .. } =>
                        Some(Classified::Outcome(($name, request_id), Ok(Response::$Variant(response)))),
                    Event::OutboundFailure { request_id, error, .. } =>
                        Some(Classified::Outcome(($name, request_id), Err(failure(&error)))),
                    Event::InboundFailure { peer, error, .. } => {
                        tracing::debug!(%peer, protocol = $name, %error, "inbound request failed");
                        None
                    }
                    Event::ResponseSent { .. } => None,
                }, )*
            }
        }

        impl P2p {
            $(
                #[doc = concat!("Calls the `", stringify!($field), "` protocol on `peer`.")]
                pub async fn $field(&self, peer: PeerId, addrs: Vec<Multiaddr>, request: $Req) -> Result<$Resp, CallError> {
                    match self.call(peer, addrs, Request::$Variant(request)).await? {
                        Response::$Variant(r) => r.map_err(CallError::Node),
                        _ => Err(CallError::Transport("response of another protocol".into())),
                    }
                }
            )*
        }
    };
}

protocols! {
    put_metadata, PutMetadata, protocol::PUT_METADATA, BlobMetadata, ();
    get_metadata, GetMetadata, protocol::GET_METADATA, BlobId, BlobMetadata;
    put_sliver, PutSliver, protocol::PUT_SLIVER, PutSliverRequest, ();
    get_sliver, GetSliver, protocol::GET_SLIVER, GetSliverRequest, Sliver;
    confirmation, Confirmation, protocol::CONFIRMATION, ConfirmationRequest, SignedConfirmation;
    recovery, Recovery, protocol::RECOVERY, RecoveryRequest, RecoveryResponse;
    inconsistency, Inconsistency, protocol::INCONSISTENCY, InconsistencyRequest, SignedInvalidBlob;
    blob_status, BlobStatus, protocol::BLOB_STATUS, BlobId, BlobStatusResponse;
    health, Health, protocol::HEALTH, (), HealthResponse;
    sync_shard, SyncShard, protocol::SYNC_SHARD, SignedSyncShard, SyncShardResponse;
}

fn failure(error: &OutboundFailure) -> CallError {
    CallError::Transport(error.to_string())
}

enum Classified {
    Inbound(PeerId, ConnectionId, Request, Responder),
    /// Request ids are per protocol behaviour, so the protocol name is part of the key.
    Outcome(
        (&'static str, OutboundRequestId),
        Result<Response, CallError>,
    ),
}

type Reply = oneshot::Sender<Result<Response, CallError>>;

enum Command {
    Call {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: Request,
        reply: Reply,
    },
}

/// Called for every inbound request answered.
pub type RequestObserver = Arc<dyn Fn(Served) + Send + Sync>;

/// One answered inbound request, as an observer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    /// The protocol.
    pub protocol: &'static str,
    /// `ok`, or the refusal's label.
    pub result: &'static str,
    /// How long the handler took (zero for a request refused as busy).
    pub elapsed: Duration,
}

/// A handle to the swarm task. Cheap to clone.
#[derive(Clone)]
pub struct P2p {
    commands: mpsc::Sender<Command>,
    local: PeerId,
}

impl P2p {
    /// Starts a swarm with `key`'s identity. With `server = Some(..)` it listens on `listen`
    /// (returning the bound address, so port 0 works) and serves inbound requests; without, it
    /// only makes outbound requests. The task stops when `cancel` fires; its join handle is
    /// returned so the owner can wait for it.
    pub async fn start(
        key: &KeyPair,
        limits: &ProtocolLimits,
        server: Option<Server>,
        cancel: CancellationToken,
    ) -> Result<(P2p, Option<Multiaddr>, tokio::task::JoinHandle<()>), NetworkError> {
        let inbound = server.as_ref().map(|s| &s.limits);
        let mut swarm = build_swarm(key, Behaviour::new(limits, inbound))?;
        let mut listen_addr = None;
        if let Some(s) = &server {
            swarm
                .listen_on(s.listen.clone())
                .map_err(|source| NetworkError::Listen {
                    addr: s.listen.clone(),
                    source,
                })?;
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::NewListenAddr { address, .. } => {
                        tracing::info!(%address, "p2p listening");
                        listen_addr = Some(address);
                        break;
                    }
                    SwarmEvent::ListenerClosed { reason, .. } => {
                        return Err(NetworkError::ListenerClosed {
                            addr: s.listen.clone(),
                            source: reason.err(),
                        });
                    }
                    _ => {}
                }
            }
        }
        let (tx, rx) = mpsc::channel(1024);
        let local = *swarm.local_peer_id();
        let task = tokio::spawn(run(swarm, rx, server, cancel));
        Ok((
            P2p {
                commands: tx,
                local,
            },
            listen_addr,
            task,
        ))
    }

    /// This swarm's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// Sends `request` to `peer` (dialing `addrs` if not connected) and waits for the answer.
    pub async fn call(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: Request,
    ) -> Result<Response, CallError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Call {
                peer,
                addrs,
                request,
                reply,
            })
            .await
            .map_err(|_| CallError::Stopped)?;
        rx.await.map_err(|_| CallError::Stopped)?
    }
}

/// What a serving swarm needs.
pub struct Server {
    /// Listen address.
    pub listen: Multiaddr,
    /// Answers requests.
    pub handler: Arc<dyn Handler>,
    /// Limits.
    pub limits: InboundLimits,
    /// Sees every answered request.
    pub observer: Option<RequestObserver>,
}

struct Inbound {
    server: Server,
    admission: Admission,
    tasks: JoinSet<(PeerId, Responder, &'static str, Response, Duration)>,
}

impl Inbound {
    fn accept(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        connection: ConnectionId,
        request: Request,
        to: Responder,
    ) {
        let protocol = request.protocol();
        let from = Origin {
            peer,
            ip: swarm.behaviour().ip_limits.ip(connection),
        };
        let class = self.server.handler.class(&from, &request);
        if let Err(refusal) = self
            .admission
            .admit(&from, class, tokio::time::Instant::now())
        {
            tracing::debug!(%peer, ip = ?from.ip, ?class, protocol, reason = refusal.reason(), "inbound request refused: busy");
            let response = request.refuse(NodeError::Busy);
            self.observe(protocol, &response, Duration::ZERO);
            respond(swarm.behaviour_mut(), to, response);
            return;
        }
        let handler = self.server.handler.clone();
        let refusal = request.refuse(NodeError::Internal("handler panicked".into()));
        self.tasks.spawn(async move {
            let started = tokio::time::Instant::now();
            let response = std::panic::AssertUnwindSafe(handler.handle(from, request))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    tracing::error!(%peer, protocol, "inbound handler panicked");
                    refusal
                });
            (peer, to, protocol, response, started.elapsed())
        });
    }

    fn finish(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        to: Responder,
        protocol: &'static str,
        response: Response,
        elapsed: Duration,
    ) {
        self.admission.release(&peer);
        self.observe(protocol, &response, elapsed);
        respond(swarm.behaviour_mut(), to, response);
    }

    fn observe(&self, protocol: &'static str, response: &Response, elapsed: Duration) {
        if let Some(o) = &self.server.observer {
            o(Served {
                protocol,
                result: response.error().map_or("ok", NodeError::label),
                elapsed,
            });
        }
    }
}

async fn run(
    mut swarm: Swarm<Behaviour>,
    mut commands: mpsc::Receiver<Command>,
    server: Option<Server>,
    cancel: CancellationToken,
) {
    let mut pending: HashMap<(&'static str, OutboundRequestId), Reply> = HashMap::new();
    let mut inbound = server.map(|server| Inbound {
        admission: Admission::new(server.limits),
        server,
        tasks: JoinSet::new(),
    });
    loop {
        let has_tasks = inbound.as_ref().is_some_and(|i| !i.tasks.is_empty());
        tokio::select! {
            _ = cancel.cancelled() => break,
            cmd = commands.recv() => match cmd {
                Some(Command::Call { peer, addrs, request, reply }) => {
                    let protocol = request.protocol();
                    let id = request.send(swarm.behaviour_mut(), &peer, addrs);
                    pending.insert((protocol, id), reply);
                }
                // Every handle is gone: keep serving until cancelled if this is a server.
                None if inbound.is_some() => commands = mpsc::channel(1).1,
                None => break,
            },
            done = async { inbound.as_mut().expect("has tasks").tasks.join_next().await }, if has_tasks => {
                let inbound = inbound.as_mut().expect("has tasks");
                match done {
                    Some(Ok((peer, to, protocol, response, elapsed))) => inbound.finish(&mut swarm, peer, to, protocol, response, elapsed),
                    Some(Err(e)) => tracing::error!(error = %e, "inbound handler task failed"),
                    None => {}
                }
            }
            event = swarm.select_next_some() => match event {
                SwarmEvent::Behaviour(e) => match classify(e) {
                    Some(Classified::Inbound(peer, connection, request, to)) => match inbound.as_mut() {
                        Some(i) => i.accept(&mut swarm, peer, connection, request, to),
                        None => drop(to),
                    },
                    Some(Classified::Outcome(id, outcome)) => {
                        if let Some(reply) = pending.remove(&id) {
                            let _ = reply.send(outcome);
                        }
                    }
                    None => {}
                },
                SwarmEvent::NewListenAddr { address, .. } => {
                    tracing::info!(%address, "p2p listening");
                }
                SwarmEvent::ListenerError { error, .. } => {
                    tracing::warn!(%error, "p2p listener error");
                }
                _ => {}
            },
        }
    }
    tracing::debug!("p2p task stopped");
}

#[cfg(test)]
mod tests {
    use super::*;
    use floe_common::EncodingConfig;

    /// Answers health after a pause, so requests pile up.
    struct Slow;

    #[async_trait::async_trait]
    impl Handler for Slow {
        async fn handle(&self, _: Origin, request: Request) -> Response {
            tokio::time::sleep(Duration::from_millis(300)).await;
            match request {
                Request::Health(()) => Response::Health(Ok(crate::protocol::HealthResponse {
                    node_id: floe_common::NodeId([0; 32]),
                    epoch: floe_common::Epoch(0),
                    ledger_height: 0,
                    shards: Vec::new(),
                    stored_bytes: 0,
                    slivers_stored: 0,
                    recovering: 0,
                })),
                Request::GetSliver(_) => panic!("a handler bug"),
                other => other.refuse(NodeError::NotFound),
            }
        }
    }

    /// A peer over its concurrency limit is answered `busy` at once; a panicking handler is an
    /// `internal` answer; the server keeps serving.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn floods_are_refused_busy_and_panics_contained() {
        let config = EncodingConfig::new(10).unwrap();
        let limits = crate::protocol::limits(&config);
        let cancel = CancellationToken::new();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let (_s, addr, _) = P2p::start(
            &KeyPair::from_seed([1; 32]),
            &limits,
            Some(Server {
                listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
                handler: Arc::new(Slow),
                limits: InboundLimits {
                    max_concurrent: 100,
                    max_concurrent_per_peer: 2,
                    ..InboundLimits::default()
                },
                observer: Some(Arc::new(move |s: Served| {
                    log.lock().unwrap().push((s.protocol, s.result))
                })),
            }),
            cancel.clone(),
        )
        .await
        .unwrap();
        let addr = addr.unwrap();
        let server = crate::network::peer_id_of(&KeyPair::from_seed([1; 32]));
        let (client, _, _) =
            P2p::start(&KeyPair::from_seed([2; 32]), &limits, None, cancel.clone())
                .await
                .unwrap();
        let calls = (0..6).map(|_| client.health(server, vec![addr.clone()], ()));
        let results = futures::future::join_all(calls).await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let busy = results
            .iter()
            .filter(|r| matches!(r, Err(CallError::Node(NodeError::Busy))))
            .count();
        assert_eq!((ok, busy), (2, 4), "{results:?}");
        let panicked = client
            .get_sliver(
                server,
                vec![addr.clone()],
                crate::protocol::GetSliverRequest {
                    blob_id: floe_common::BlobId([0; 32]),
                    pair: floe_common::SliverPairIndex(0),
                    axis: floe_common::SliverAxis::Primary,
                },
            )
            .await;
        assert!(matches!(
            panicked,
            Err(CallError::Node(NodeError::Internal(_)))
        ));
        assert!(client.health(server, vec![addr], ()).await.is_ok());
        let seen = seen.lock().unwrap();
        assert_eq!(seen.iter().filter(|(_, r)| *r == "busy").count(), 4);
        assert!(
            seen.iter()
                .any(|(p, r)| *p == crate::protocol::GET_SLIVER && *r == "internal")
        );
        cancel.cancel();
    }
}
