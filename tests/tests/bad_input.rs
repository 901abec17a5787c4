//! Hostile bytes at every storage-node protocol of a live node: random bytes, oversized bodies,
//! truncated and bit-flipped valid messages. Every such request fails on its own (the codec or
//! the handler refuses it); the node never crashes, never stores anything, and keeps serving.

use std::time::Duration;

use floe_client::blobs::StoreOptions;
use floe_common::{ConsistencyCheck, KeyPair, codec};
use floe_node_protocol::protocol;
use floe_tests::{ClusterOptions, TestCluster, data};
use futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, StreamExt as _};
use libp2p::StreamProtocol;
use libp2p::request_response::{self, Event, Message, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use rand::{Rng, RngCore, SeedableRng};

/// A body with the protocols' framing: its 4-byte little-endian length first.
fn framed(body: &[u8]) -> Vec<u8> {
    [&(body.len() as u32).to_le_bytes()[..], body].concat()
}

/// Writes requests verbatim (framing included) and reads whatever comes back.
#[derive(Clone, Default)]
struct Raw;

#[async_trait::async_trait]
impl request_response::Codec for Raw {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<Vec<u8>> {
        let mut v = Vec::new();
        io.read_to_end(&mut v).await?;
        Ok(v)
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<Vec<u8>> {
        let mut v = Vec::new();
        io.take(64 << 20).read_to_end(&mut v).await?;
        // Answers are framed like requests: a 4-byte length, then the body.
        if v.len() >= 4 {
            let len = u32::from_le_bytes(v[..4].try_into().unwrap()) as usize;
            assert_eq!(len, v.len() - 4, "an answer's length prefix is its body's");
            v.drain(..4);
        }
        Ok(v)
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> std::io::Result<()> {
        io.write_all(&req).await?;
        io.close().await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        resp: Vec<u8>,
    ) -> std::io::Result<()> {
        io.write_all(&resp).await?;
        io.close().await
    }
}

const PROTOCOLS: [&str; 10] = [
    protocol::PUT_METADATA,
    protocol::GET_METADATA,
    protocol::PUT_SLIVER,
    protocol::GET_SLIVER,
    protocol::CONFIRMATION,
    protocol::RECOVERY,
    protocol::INCONSISTENCY,
    protocol::BLOB_STATUS,
    protocol::HEALTH,
    protocol::SYNC_SHARD,
];

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// The stream was reset or closed without an answer: the codec refused the bytes.
    Reset,
    /// The handler answered with this typed refusal.
    Refused(protocol::NodeError),
    /// An answer that is not a refusal (status and health answer any id).
    Answered,
}

/// Sends every body on its own stream of `proto`; returns each body's outcome, in order.
async fn barrage(
    proto: &'static str,
    peer: libp2p::PeerId,
    addr: libp2p::Multiaddr,
    bodies: &[Vec<u8>],
) -> Vec<Outcome> {
    let behaviour = request_response::Behaviour::with_codec(
        Raw,
        [(StreamProtocol::new(proto), ProtocolSupport::Outbound)],
        request_response::Config::default().with_request_timeout(Duration::from_secs(20)),
    );
    let mut swarm =
        floe_node_protocol::network::build_swarm(&KeyPair::from_seed([66; 32]), behaviour).unwrap();
    swarm.add_peer_address(peer, addr);
    let ids: Vec<_> = bodies
        .iter()
        .map(|body| swarm.behaviour_mut().send_request(&peer, body.clone()))
        .collect();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; bodies.len()];
    let index = |id| {
        ids.iter()
            .position(|i| *i == id)
            .expect("a request of ours")
    };
    while outcomes.iter().any(Option::is_none) {
        let (id, outcome) =
            match tokio::time::timeout(Duration::from_secs(30), swarm.select_next_some())
                .await
                .expect("the node answers or resets every request")
            {
                SwarmEvent::Behaviour(Event::Message {
                    message:
                        Message::Response {
                            request_id,
                            response,
                        },
                    ..
                }) if response.is_empty() => (request_id, Outcome::Reset), // closed unanswered
                SwarmEvent::Behaviour(Event::Message {
                    message:
                        Message::Response {
                            request_id,
                            response,
                        },
                    ..
                }) => {
                    assert!(response.len() < 1 << 20, "{proto}: oversized answer");
                    // Nothing sent is a valid request for data this node holds, so whatever is
                    // answered (beyond status and health, which answer any id) is a typed refusal:
                    // the BCS `Err` variant of the protocol's `NodeResult`.
                    if proto == protocol::BLOB_STATUS || proto == protocol::HEALTH {
                        (request_id, Outcome::Answered)
                    } else {
                        assert_eq!(
                            response.first(),
                            Some(&1),
                            "{proto}: accepted hostile bytes"
                        );
                        let err: Result<(), protocol::NodeError> =
                            codec::decode(&response, 1 << 20).expect("a typed refusal");
                        (request_id, Outcome::Refused(err.unwrap_err()))
                    }
                }
                SwarmEvent::Behaviour(Event::OutboundFailure { request_id, .. }) => {
                    (request_id, Outcome::Reset)
                }
                _ => continue,
            };
        let slot = &mut outcomes[index(id)];
        assert!(slot.is_none(), "{proto}: two outcomes for one request");
        *slot = Some(outcome);
    }
    outcomes.into_iter().map(Option::unwrap).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_hostile_bytes_at_every_protocol() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let target = cluster.nodes[0].core().unwrap().clone();
    let config = *target.config();
    let limits = protocol::limits(&config);
    let stored_before = target.storage().stats();

    // A valid put-sliver request to mutate, for a blob that is not registered, of a pair on a
    // shard the target holds (so only the missing registration refuses it).
    let enc = floe_common::encode_blob(&config, &data(5_000, 1)).unwrap();
    let held = target.own_pairs(&enc.blob_id())[0].as_usize();
    let valid = codec::encode(&protocol::PutSliverRequest {
        blob_id: enc.blob_id(),
        pair: enc.pairs[held].index,
        sliver: enc.pairs[held].primary.clone().into(),
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let over = limits.put_sliver.request + 1; // one byte over the largest limit
    // Bodies whose framing or encoding is wrong for every protocol: the codec must refuse
    // them before any handler runs.
    let malformed: Vec<Vec<u8>> = vec![
        Vec::new(),                                 // no length
        vec![0xff; 16],                             // a length of 4 GiB
        framed(&vec![0; over]),                     // an oversized body
        (over as u32).to_le_bytes().to_vec(),       // an oversized length, no body
        framed(&valid)[..valid.len() / 2].to_vec(), // a truncated body
        [framed(&valid), vec![0]].concat(),         // a byte after the body
        framed(&[valid.clone(), vec![0]].concat()), // a trailing byte inside the body
        framed(&valid[..valid.len() / 2]),          // half a message, correctly framed
    ];
    let mut bodies = malformed.clone();
    for _ in 0..20 {
        let mut b = vec![0u8; rng.gen_range(1..300)];
        rng.fill_bytes(&mut b);
        bodies.push(framed(&b));
        bodies.push(b);
        let mut m = valid.clone();
        let i = rng.gen_range(0..m.len());
        m[i] ^= 1 << rng.gen_range(0..8);
        bodies.push(framed(&m));
    }
    // Last, the valid request itself: well formed, for a blob nobody registered.
    bodies.push(framed(&valid));
    let addr: libp2p::Multiaddr = cluster.nodes[0].config.p2p_listen.parse().unwrap();
    let peer = floe_node_protocol::network::peer_id_of(target.key());
    for proto in PROTOCOLS {
        let outcomes = barrage(proto, peer, addr.clone(), &bodies).await;
        for (i, outcome) in outcomes.iter().enumerate().take(malformed.len()) {
            assert_eq!(
                *outcome,
                Outcome::Reset,
                "{proto}: malformed body {i} reached the handler"
            );
        }
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Refused(_)))
            .count();
        let reset = outcomes.iter().filter(|o| **o == Outcome::Reset).count();
        eprintln!("{proto}: {refused} typed refusals, {reset} reset by the codec");
        if proto == protocol::PUT_SLIVER {
            // The handler, not the codec, refuses a well-formed write for an unknown blob.
            assert_eq!(
                outcomes.last(),
                Some(&Outcome::Refused(protocol::NodeError::NotRegistered(
                    enc.blob_id()
                ))),
                "{proto}: a valid request for an unregistered blob"
            );
        }
    }
    assert_eq!(
        target.storage().stats(),
        stored_before,
        "hostile bytes stored nothing"
    );
    drop(target);

    // The node and the network still work.
    let client = cluster.client().await;
    let bytes = data(80_000, 2);
    let id = client
        .store(
            &bytes,
            &StoreOptions {
                epochs: 2,
                ..StoreOptions::default()
            },
        )
        .await
        .unwrap()
        .blob_id();
    let read = client.read(id, ConsistencyCheck::Strict).await.unwrap();
    assert_eq!(read.data, bytes);
    assert!(cluster.nodes[0].core().unwrap().health().shards.len() == 3);
    cluster.shutdown().await;
}
