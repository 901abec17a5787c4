//! libp2p transport for node protocols: TCP + noise + yamux, request-response with BCS bodies.
//!
//! Every protocol is named and versioned (`/floe/<name>/1`) and has its own request and response
//! size limits, derived from the encoding configuration (a sliver can be tens of MiB, a
//! confirmation is a few hundred bytes).
//!
//! Framing: each request and each response is one stream direction carrying a 4-byte
//! little-endian body length, then the BCS body, then the end of the stream. A length over the
//! protocol's limit is refused before anything is allocated, so a peer cannot make us buffer more
//! than the protocol allows; oversized, truncated, overlong or malformed bodies fail that one
//! request with an `InvalidData` error and never reach the handler. The libp2p
//! peer id derives from the node's ed25519 network key, so the id registered on the ledger is
//! what the noise handshake authenticates.
//!
//! libp2p is pinned to 0.56, the version the ledger's consensus engine (Malachite 0.8) uses, so
//! one copy is compiled.

use std::io;
use std::marker::PhantomData;
use std::time::Duration;

use floe_common::KeyPair;
use floe_common::codec;
use futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{PeerId, StreamProtocol, Swarm, identity, noise, request_response, tcp, yamux};
use serde::{Serialize, de::DeserializeOwned};

/// The transport could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The noise configuration failed.
    #[error("transport: {0}")]
    Noise(#[from] noise::Error),
    /// The behaviour could not be built.
    #[error("behaviour: {0}")]
    Behaviour(String),
    /// The swarm could not listen on the address.
    #[error("listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: libp2p::Multiaddr,
        /// Why.
        #[source]
        source: libp2p::TransportError<std::io::Error>,
    },
    /// The listener closed before it was listening.
    #[error("listener on {addr} closed")]
    ListenerClosed {
        /// The address.
        addr: libp2p::Multiaddr,
        /// The error it closed with, if any.
        #[source]
        source: Option<std::io::Error>,
    },
}

/// Size limits of one protocol, in bytes of BCS body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request.
    pub request: usize,
    /// Largest response.
    pub response: usize,
}

/// A request-response codec for BCS bodies with size limits.
pub struct BcsCodec<Req, Resp> {
    limits: Limits,
    _types: PhantomData<fn() -> (Req, Resp)>,
}

impl<Req, Resp> BcsCodec<Req, Resp> {
    /// A codec with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            _types: PhantomData,
        }
    }
}

impl<Req, Resp> Clone for BcsCodec<Req, Resp> {
    fn clone(&self) -> Self {
        Self::new(self.limits)
    }
}

/// Body bytes read before trusting a length prefix with a larger allocation: a peer that
/// announces a large body but sends nothing holds at most this much of our memory.
const FIRST_READ: usize = 4 << 20;

/// Reads one length-prefixed body and the end of the stream, refusing more than `limit` bytes.
///
/// The body is read into a buffer of exactly its size (no growing and copying as it arrives);
/// a larger allocation than [`FIRST_READ`] is made only once that much has arrived.
async fn read_limited<T: AsyncRead + Unpin + Send>(
    io: &mut T,
    limit: usize,
) -> io::Result<Vec<u8>> {
    let mut prefix = [0u8; 4];
    io.read_exact(&mut prefix).await?;
    let len = u32::from_le_bytes(prefix) as usize;
    if len > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message of {len} bytes exceeds the limit of {limit} bytes"),
        ));
    }
    let mut buf = vec![0u8; len.min(FIRST_READ)];
    io.read_exact(&mut buf).await?;
    if len > FIRST_READ {
        buf.resize(len, 0);
        io.read_exact(&mut buf[FIRST_READ..]).await?;
    }
    // The body is the whole message: a stream that goes on is malformed.
    let mut extra = [0u8; 1];
    if io.read(&mut extra).await? != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bytes after the message body",
        ));
    }
    Ok(buf)
}

fn decode<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> io::Result<T> {
    codec::decode(bytes, limit).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Writes an encoded body with its length prefix and closes the stream, refusing more than
/// `limit` bytes.
async fn write_limited<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    bytes: Vec<u8>,
    limit: usize,
) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|&l| l as usize <= limit);
    let Some(len) = len else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "message of {} bytes exceeds the limit of {limit}",
                bytes.len()
            ),
        ));
    };
    io.write_all(&len.to_le_bytes()).await?;
    io.write_all(&bytes).await?;
    io.close().await
}

#[async_trait::async_trait]
impl<Req, Resp> request_response::Codec for BcsCodec<Req, Resp>
where
    Req: Serialize + DeserializeOwned + Send + 'static,
    Resp: Serialize + DeserializeOwned + Send + 'static,
{
    type Protocol = StreamProtocol;
    type Request = Req;
    type Response = Resp;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Req> {
        let bytes = read_limited(io, self.limits.request).await?;
        decode(&bytes, self.limits.request)
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Resp> {
        let bytes = read_limited(io, self.limits.response).await?;
        decode(&bytes, self.limits.response)
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Req,
    ) -> io::Result<()> {
        write_limited(io, codec::encode(&req), self.limits.request).await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        resp: Resp,
    ) -> io::Result<()> {
        write_limited(io, codec::encode(&resp), self.limits.response).await
    }
}

/// A request-response behaviour for one protocol.
pub fn protocol<Req, Resp>(
    name: &'static str,
    limits: Limits,
    timeout: Duration,
) -> request_response::Behaviour<BcsCodec<Req, Resp>>
where
    Req: Serialize + DeserializeOwned + Send + 'static,
    Resp: Serialize + DeserializeOwned + Send + 'static,
{
    request_response::Behaviour::with_codec(
        BcsCodec::new(limits),
        [(
            StreamProtocol::new(name),
            request_response::ProtocolSupport::Full,
        )],
        request_response::Config::default().with_request_timeout(timeout),
    )
}

/// The libp2p identity of a node's ed25519 network key.
pub fn identity_of(key: &KeyPair) -> identity::Keypair {
    identity::Keypair::ed25519_from_bytes(key.seed())
        .expect("a 32-byte ed25519 seed is always valid")
}

/// The libp2p peer id of a node's ed25519 network key.
pub fn peer_id_of(key: &KeyPair) -> PeerId {
    identity_of(key).public().to_peer_id()
}

/// The libp2p peer id of a registered ed25519 public key.
pub fn peer_id_of_public(key: &floe_common::PublicKey) -> PeerId {
    identity::ed25519::PublicKey::try_from_bytes(&key.0)
        .map(|pk| identity::PublicKey::from(pk).to_peer_id())
        // A key that is not a valid curve point cannot sign; map it to an id nobody holds.
        .unwrap_or_else(|_| {
            PeerId::from_multihash(
                libp2p::multihash::Multihash::wrap(0, &key.0).expect("32 bytes fit"),
            )
            .expect("identity multihash")
        })
}

/// A swarm over TCP + noise + yamux with `behaviour`, on the current tokio runtime.
pub fn build_swarm<B: NetworkBehaviour>(
    key: &KeyPair,
    behaviour: B,
) -> Result<Swarm<B>, NetworkError> {
    let swarm = libp2p::SwarmBuilder::with_existing_identity(identity_of(key))
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(|_| behaviour)
        .map_err(|e| NetworkError::Behaviour(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    Ok(swarm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use floe_common::{EncodingConfig, Sliver, SliverAxis, encode_blob};
    use futures::StreamExt as _;
    use libp2p::swarm::SwarmEvent;
    use request_response::{Event, Message};

    type Behaviour = request_response::Behaviour<BcsCodec<Vec<u8>, Sliver>>;

    fn swarm(seed: u8, limits: Limits) -> Swarm<Behaviour> {
        build_swarm(
            &KeyPair::from_seed([seed; 32]),
            protocol("/floe/test/1", limits, Duration::from_secs(10)),
        )
        .unwrap()
    }

    async fn read(bytes: Vec<u8>, limit: usize) -> io::Result<Vec<u8>> {
        read_limited(&mut futures::io::Cursor::new(bytes), limit).await
    }

    /// The framing: a body round-trips (including one larger than the first read); a length
    /// over the limit, a short body and bytes after the body are refused.
    #[tokio::test]
    async fn framing_round_trips_and_refuses_bad_lengths() {
        for len in [0, 1, 1000, FIRST_READ + 12_345] {
            let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut wire = futures::io::Cursor::new(Vec::new());
            write_limited(&mut wire, body.clone(), len).await.unwrap();
            let wire = wire.into_inner();
            assert_eq!(wire.len(), len + 4);
            assert_eq!(read(wire.clone(), len).await.unwrap(), body);
            if len > 0 {
                let over = read(wire.clone(), len - 1).await.unwrap_err();
                assert_eq!(over.kind(), io::ErrorKind::InvalidData);
                let short = read(wire[..wire.len() - 1].to_vec(), len)
                    .await
                    .unwrap_err();
                assert_eq!(short.kind(), io::ErrorKind::UnexpectedEof);
            }
            let extra = read([wire, vec![7]].concat(), len).await.unwrap_err();
            assert_eq!(extra.kind(), io::ErrorKind::InvalidData);
        }
        // A huge announced length is refused before anything is allocated.
        let huge = read(u32::MAX.to_le_bytes().to_vec(), 1 << 20)
            .await
            .unwrap_err();
        assert_eq!(huge.kind(), io::ErrorKind::InvalidData);
        // The writer refuses what the reader would.
        let mut sink = futures::io::Cursor::new(Vec::new());
        assert!(write_limited(&mut sink, vec![0; 11], 10).await.is_err());
        assert!(sink.into_inner().is_empty());
    }

    /// Two real swarms over loopback TCP: a request within the limit is answered with a
    /// sliver; a request over the server's limit fails that request only, and the server keeps
    /// serving.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn round_trip_and_limits_over_loopback() {
        let enc = encode_blob(&EncodingConfig::new(10).unwrap(), &[9u8; 50_000]).unwrap();
        let sliver = enc.pairs[3].primary.clone();
        // The client would send up to 64 KiB; the server accepts 1 KiB requests.
        let mut server = swarm(
            1,
            Limits {
                request: 1024,
                response: 1 << 20,
            },
        );
        let mut client = swarm(
            2,
            Limits {
                request: 1 << 16,
                response: 1 << 20,
            },
        );
        assert_eq!(
            *server.local_peer_id(),
            peer_id_of(&KeyPair::from_seed([1; 32]))
        );
        server
            .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
            .unwrap();
        let addr = loop {
            if let SwarmEvent::NewListenAddr { address, .. } = server.select_next_some().await {
                break address;
            }
        };
        let server_id = *server.local_peer_id();
        client.add_peer_address(server_id, addr);

        let served = sliver.clone();
        let server_task = tokio::spawn(async move {
            let mut answered = 0;
            loop {
                if let SwarmEvent::Behaviour(Event::Message {
                    message:
                        Message::Request {
                            request, channel, ..
                        },
                    ..
                }) = server.select_next_some().await
                {
                    assert!(request.len() <= 1024);
                    server
                        .behaviour_mut()
                        .send_response(channel, served.clone())
                        .unwrap();
                    answered += 1;
                    if answered == 2 {
                        // Keep driving the swarm briefly so the response is flushed.
                        let _ = tokio::time::timeout(Duration::from_millis(500), async {
                            loop {
                                let _ = server.select_next_some().await;
                            }
                        })
                        .await;
                        return answered;
                    }
                }
            }
        });

        let mut outcomes = Vec::new();
        for req in [vec![1u8; 100], vec![0u8; 5000], vec![2u8; 200]] {
            client.behaviour_mut().send_request(&server_id, req);
            loop {
                match client.select_next_some().await {
                    SwarmEvent::Behaviour(Event::Message {
                        message: Message::Response { response, .. },
                        ..
                    }) => {
                        outcomes.push(Ok(response));
                        break;
                    }
                    SwarmEvent::Behaviour(Event::OutboundFailure { error, .. }) => {
                        outcomes.push(Err(error));
                        break;
                    }
                    _ => {}
                }
            }
        }
        assert_eq!(outcomes[0].as_ref().unwrap(), &sliver);
        assert_eq!(outcomes[0].as_ref().unwrap().axis, SliverAxis::Primary);
        // The oversized request is refused by the server's codec: that request fails, nothing
        // reaches the handler, and the next request is served.
        assert!(
            outcomes[1].is_err(),
            "oversized request was answered: {:?}",
            outcomes[1].as_ref().map(|s| s.index)
        );
        assert_eq!(outcomes[2].as_ref().unwrap(), &sliver);
        assert_eq!(server_task.await.unwrap(), 2);
    }

    #[tokio::test]
    async fn codec_refuses_oversized_and_malformed_bodies() {
        use request_response::Codec as _;
        let mut c = BcsCodec::<Vec<u8>, Sliver>::new(Limits {
            request: 16,
            response: 64,
        });
        let proto = StreamProtocol::new("/floe/test/1");
        let framed = |body: Vec<u8>| {
            let len = (body.len() as u32).to_le_bytes();
            futures::io::Cursor::new([&len[..], &body].concat())
        };
        // Oversized: 17 bytes of body for a 16-byte limit.
        let mut io = framed(codec::encode(&vec![0u8; 16]));
        assert_eq!(
            c.read_request(&proto, &mut io).await.unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        // Malformed: not a BCS sliver.
        let mut io = framed(vec![0xff; 10]);
        assert_eq!(
            c.read_response(&proto, &mut io).await.unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        // Within limits: round trip through the writer.
        let mut wire = futures::io::Cursor::new(Vec::new());
        c.write_request(&proto, &mut wire, vec![7u8; 3])
            .await
            .unwrap();
        let mut io = futures::io::Cursor::new(wire.into_inner());
        assert_eq!(c.read_request(&proto, &mut io).await.unwrap(), vec![7u8; 3]);
    }
}
