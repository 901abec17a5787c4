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

/// Sends every body on its own stream of `proto`; returns (answered, failed) requests.
async fn barrage(
    proto: &'static str,
    peer: libp2p::PeerId,
    addr: libp2p::Multiaddr,
    bodies: &[Vec<u8>],
) -> (usize, usize) {
    let behaviour = request_response::Behaviour::with_codec(
        Raw,
        [(StreamProtocol::new(proto), ProtocolSupport::Outbound)],
        request_response::Config::default().with_request_timeout(Duration::from_secs(20)),
    );
    let mut swarm =
        floe_node_protocol::network::build_swarm(&KeyPair::from_seed([66; 32]), behaviour).unwrap();
    swarm.add_peer_address(peer, addr);
    for body in bodies {
        swarm.behaviour_mut().send_request(&peer, body.clone());
    }
    let (mut answered, mut failed) = (0, 0);
    while answered + failed < bodies.len() {
        match tokio::time::timeout(Duration::from_secs(30), swarm.select_next_some())
            .await
            .expect("the node answers or resets every request")
        {
            SwarmEvent::Behaviour(Event::Message {
                message: Message::Response { response, .. },
                ..
            }) if response.is_empty() => failed += 1, // closed without an answer: refused
            SwarmEvent::Behaviour(Event::Message {
                message: Message::Response { response, .. },
                ..
            }) => {
                assert!(response.len() < 1 << 20, "{proto}: oversized answer");
                // Nothing sent is a valid request for data this node holds, so whatever is
                // answered (beyond status and health, which answer any id) is a typed refusal:
                // the BCS `Err` variant of the protocol's `NodeResult`.
                if proto != protocol::BLOB_STATUS && proto != protocol::HEALTH {
                    assert_eq!(
                        response.first(),
                        Some(&1),
                        "{proto}: accepted hostile bytes"
                    );
                    let err: Result<(), protocol::NodeError> =
                        codec::decode(&response, 1 << 20).expect("a typed refusal");
                    assert!(err.is_err());
                }
                answered += 1;
            }
            SwarmEvent::Behaviour(Event::OutboundFailure { .. }) => failed += 1,
            _ => {}
        }
    }
    (answered, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_hostile_bytes_at_every_protocol() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let target = cluster.nodes[0].core().unwrap().clone();
    let config = *target.config();
    let limits = protocol::limits(&config);
    let stored_before = target.storage().stats();

    // A valid put-sliver request to mutate, for a blob that is not registered.
    let enc = floe_common::encode_blob(&config, &data(5_000, 1)).unwrap();
    let valid = codec::encode(&protocol::PutSliverRequest {
        blob_id: enc.blob_id(),
        pair: enc.pairs[0].index,
        sliver: enc.pairs[0].primary.clone().into(),
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let over = limits.put_sliver.request + 1; // one byte over the largest limit
    let mut bodies: Vec<Vec<u8>> = vec![
        Vec::new(),                                 // no length
        vec![0xff; 16],                             // a length of 4 GiB
        framed(&vec![0; over]),                     // an oversized body
        (over as u32).to_le_bytes().to_vec(),       // an oversized length, no body
        framed(&valid)[..valid.len() / 2].to_vec(), // a truncated body
        [framed(&valid), vec![0]].concat(),         // a byte after the body
        framed(&[valid.clone(), vec![0]].concat()), // a trailing byte inside the body
        framed(&valid[..valid.len() / 2]),          // half a message, correctly framed
    ];
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
    let addr: libp2p::Multiaddr = cluster.nodes[0].config.p2p_listen.parse().unwrap();
    let peer = floe_node_protocol::network::peer_id_of(target.key());
    for proto in PROTOCOLS {
        let (answered, failed) = barrage(proto, peer, addr.clone(), &bodies).await;
        assert_eq!(answered + failed, bodies.len(), "{proto}");
        eprintln!(
            "{proto}: {answered} answered (typed refusals, or status/health), {failed} reset by the codec"
        );
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

/// `/floe/sync-shard/1` hands a shard's slivers only to its new holder during a change: an
/// outsider, a forged signature, another epoch, a shard the requester does not hold, or a node
/// that did not hold the shard before a syncing change are each refused with a typed reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_shard_sync_is_served_only_to_a_new_holder() {
    use floe_common::messages::{ProtocolMessage, SignedMessage, SyncShardRequest};
    use floe_common::{BlobId, SliverAxis};
    use floe_node_protocol::p2p::{CallError, P2p};
    use floe_node_protocol::protocol::NodeError;

    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let client = cluster.client().await;
    client
        .store(&data(20_000, 4), &StoreOptions::default())
        .await
        .unwrap();
    let server = cluster.nodes[0].core().unwrap().clone();
    let config = *server.config();
    let addr: libp2p::Multiaddr = cluster.nodes[0].config.p2p_listen.parse().unwrap();
    let peer = floe_node_protocol::network::peer_id_of(server.key());
    let epoch = server.epoch();
    let own_shard = cluster.nodes[1].core().unwrap().shards()[0];
    let other_shard = server.shards()[0];
    drop(server);
    let request = |shard, epoch| {
        ProtocolMessage::new(
            epoch,
            SyncShardRequest {
                shard,
                axis: SliverAxis::Primary,
                start: BlobId([0; 32]),
                count: 10,
            },
        )
    };
    let ask = |key: KeyPair, signer: KeyPair, shard, epoch| {
        let (addr, request) = (addr.clone(), request(shard, epoch));
        async move {
            let cancel = tokio_util::sync::CancellationToken::new();
            let (p2p, _, _task) =
                P2p::start(&key, &protocol::limits(&config), None, cancel.clone())
                    .await
                    .unwrap();
            let signed = SignedMessage::sign(&signer, &request);
            let answer = p2p.sync_shard(peer, vec![addr], signed).await;
            cancel.cancel();
            answer
        }
    };
    let member = cluster.nodes[1].key.clone();
    let outsider = KeyPair::generate(&mut rand::rngs::OsRng);
    let cases = [
        (
            "outsider",
            ask(outsider.clone(), outsider, own_shard, epoch).await,
        ),
        (
            "forged signature",
            ask(
                member.clone(),
                cluster.nodes[2].key.clone(),
                own_shard,
                epoch,
            )
            .await,
        ),
        (
            "another epoch",
            ask(
                member.clone(),
                member.clone(),
                own_shard,
                floe_common::Epoch(epoch.0 + 1),
            )
            .await,
        ),
        (
            "shard not held by the requester",
            ask(member.clone(), member.clone(), other_shard, epoch).await,
        ),
        (
            "no change syncing",
            ask(member.clone(), member, own_shard, epoch).await,
        ),
    ];
    for (what, answer) in cases {
        match answer {
            Err(CallError::Node(NodeError::NotSyncing(reason))) => {
                eprintln!("{what}: refused ({reason})");
            }
            other => panic!("{what}: expected a not_syncing refusal, got {other:?}"),
        }
    }
    cluster.shutdown().await;
}
