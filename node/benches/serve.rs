//! How fast a node serves slivers, against what the transport alone can do.
//!
//! Prints one JSON line. A node (real `NodeCore` over RocksDB, real libp2p service) holding every
//! shard of a blob of `FLOE_BENCH_SIZE` bytes (default 64 MiB) at `FLOE_BENCH_SHARDS` shards
//! (default 100) serves all its slivers to one client over one connection, `IN_FLIGHT` requests
//! at a time; then the same two swarms' transport moves 4× the blob's bytes as plain byte
//! payloads of the same size as the slivers, with the same concurrency (`transport_*`), and as
//! one response on one stream (`one_stream_*`). The target: serving all of a blob's slivers
//! (≈4.4× its size at 100 shards) takes no longer than the connection needs to move 4× its
//! bytes: `serve_ms <= one_stream_4x_ms` (and, stricter, `<= transport_4x_ms`).
//!
//! `cargo bench -p floe-node --bench serve` (release profile).

use std::sync::Arc;
use std::time::{Duration, Instant};

use floe_common::{EncodingConfig, Epoch, KeyPair, ShardIndex, SliverAxis, encode_blob};
use floe_ledger_types::rpc::{CommitteeMemberInfo, CommitteeResponse};
use floe_node::core::NodeCore;
use floe_node::metrics::Metrics;
use floe_node::service::Service;
use floe_node::storage::{LedgerTip, Storage, StorageOptions};
use floe_node_protocol::committee::CommitteeView;
use floe_node_protocol::network::{self, Limits};
use floe_node_protocol::p2p::{InboundLimits, P2p, RateLimit, Server};
use floe_node_protocol::protocol::{self, GetSliverRequest};
use futures::StreamExt as _;
use libp2p::request_response::{Event, Message};
use libp2p::swarm::SwarmEvent;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Serving throughput is measured, not admission: no rate limits.
const UNLIMITED: RateLimit = RateLimit {
    per_second: u32::MAX,
    burst: u32::MAX,
};
const IN_FLIGHT: usize = 16;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let size = env("FLOE_BENCH_SIZE", 64 << 20);
    let shards = env("FLOE_BENCH_SHARDS", 100) as u16;
    let config = EncodingConfig::new(shards).expect("shards");
    let data: Vec<u8> = (0..size)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let enc = encode_blob(&config, &data).expect("encode");
    let blob_id = enc.blob_id();

    // A node holding every shard.
    let dir = tempfile::tempdir().expect("tempdir");
    let storage =
        Arc::new(Storage::open(dir.path(), config, StorageOptions::default()).expect("storage"));
    storage
        .put_metadata(&blob_id, enc.metadata.metadata())
        .expect("metadata");
    let mut sliver_bytes = 0u64;
    for pair in &enc.pairs {
        for s in [&pair.primary, &pair.secondary] {
            storage.put_sliver(&blob_id, pair.index, s).expect("sliver");
            sliver_bytes += s.data.len() as u64;
        }
    }
    let key = KeyPair::from_seed([1; 32]);
    let committee = CommitteeView::from_response(&CommitteeResponse {
        epoch: Epoch(0),
        role: floe_ledger_types::rpc::CommitteeRole::Current,
        n_shards: shards,
        members: vec![CommitteeMemberInfo {
            node_id: floe_ledger::node_id_of(&key.public()),
            name: "node-1".into(),
            weight: shards,
            shards: (0..shards).map(ShardIndex).collect(),
            public_key: key.public(),
            network_address: "/ip4/127.0.0.1/tcp/1".into(),
            http_address: String::new(),
            stake: floe_common::Frost(1),
            commission_bps: 0,
        }],
    })
    .expect("committee");
    let (_tip_tx, tip) = watch::channel(LedgerTip::default());
    let (_c_tx, committee_rx) = watch::channel(Arc::new(
        floe_node_protocol::committee::Committees::new(committee),
    ));
    let core = Arc::new(NodeCore::new(
        "floe-bench".into(),
        key.clone(),
        storage,
        tip,
        committee_rx,
        Arc::new(Metrics::default()),
        Duration::from_secs(1),
        floe_node::config::InboundConfig::default().long_polls(),
    ));
    let cancel = CancellationToken::new();
    let limits = protocol::limits(&config);
    let (_server, addr, _) = P2p::start(
        &key,
        &limits,
        Some(Server {
            listen: "/ip4/127.0.0.1/tcp/0".parse().expect("addr"),
            handler: Arc::new(Service::new(core)),
            limits: InboundLimits {
                peer_rate: UNLIMITED,
                ip_rate: UNLIMITED,
                ..InboundLimits::default()
            },
            observer: None,
        }),
        cancel.clone(),
    )
    .await
    .expect("server");
    let addr = addr.expect("listening");
    let (client, _, _) = P2p::start(&KeyPair::from_seed([2; 32]), &limits, None, cancel.clone())
        .await
        .expect("client");
    let peer = floe_node_protocol::network::peer_id_of(&key);
    // Warm the connection.
    client
        .health(peer, vec![addr.clone()], ())
        .await
        .expect("health");

    let requests: Vec<GetSliverRequest> = enc
        .pairs
        .iter()
        .flat_map(|p| {
            [SliverAxis::Primary, SliverAxis::Secondary].map(|axis| GetSliverRequest {
                blob_id,
                pair: p.index,
                axis,
            })
        })
        .collect();
    let t = Instant::now();
    let served: u64 = futures::stream::iter(requests)
        .map(|r| {
            let (client, addr) = (client.clone(), addr.clone());
            async move {
                client
                    .get_sliver(peer, vec![addr], r)
                    .await
                    .expect("sliver")
                    .data
                    .len() as u64
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .fold(0, |a, b| async move { a + b })
        .await;
    let serve_s = t.elapsed().as_secs_f64();
    assert_eq!(served, sliver_bytes);

    let chunk = sliver_bytes / (2 * u64::from(shards));
    let transport_s = transport_time(4 * size as u64, chunk, IN_FLIGHT).await;
    let one_stream_s = transport_time(4 * size as u64, 4 * size as u64, 1).await;
    let mib = |bytes: u64, s: f64| bytes as f64 / f64::from(1 << 20) / s;
    let serve_mib_s = mib(served, serve_s);
    let transport_mib_s = mib(4 * size as u64, transport_s);
    #[allow(clippy::print_stdout)] // the bench's output is this one JSON line
    let print = |line: serde_json::Value| println!("{line}");
    print(serde_json::json!({
            "bench": "node_serve",
            "size": size,
            "shards": shards,
            "sliver_bytes": served,
            "serve_ms": (serve_s * 1000.0).round() as u64,
            "serve_mib_s": serve_mib_s.round(),
            "transport_4x_ms": (transport_s * 1000.0).round() as u64,
            "transport_mib_s": transport_mib_s.round(),
            "one_stream_4x_ms": (one_stream_s * 1000.0).round() as u64,
            "serve_vs_one_stream": (one_stream_s / serve_s * 100.0).round() / 100.0,
            "serve_vs_transport": (serve_mib_s / transport_mib_s * 100.0).round() / 100.0,
    }));
    cancel.cancel();
}

/// Seconds to move `total` bytes in `chunk`-byte responses through one libp2p connection,
/// `in_flight` at a time (the transport alone: no storage, no service).
async fn transport_time(total: u64, chunk: u64, in_flight: usize) -> f64 {
    type B = libp2p::request_response::Behaviour<network::BcsCodec<u64, serde_bytes::ByteBuf>>;
    let limits = Limits {
        request: 64,
        response: chunk as usize + 64,
    };
    let mk = |seed: u8| -> libp2p::Swarm<B> {
        network::build_swarm(
            &KeyPair::from_seed([seed; 32]),
            network::protocol("/floe/bench/1", limits, Duration::from_secs(60)),
        )
        .expect("swarm")
    };
    let (mut server, mut client) = (mk(3), mk(4));
    server
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("addr"))
        .expect("listen");
    let addr = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = server.select_next_some().await {
            break address;
        }
    };
    let server_id = *server.local_peer_id();
    client.add_peer_address(server_id, addr);
    let payload = serde_bytes::ByteBuf::from(vec![7u8; chunk as usize]);
    let server_task = tokio::spawn(async move {
        loop {
            if let SwarmEvent::Behaviour(Event::Message {
                message: Message::Request { channel, .. },
                ..
            }) = server.select_next_some().await
            {
                let _ = server
                    .behaviour_mut()
                    .send_response(channel, payload.clone());
            }
        }
    });
    let count = total.div_ceil(chunk);
    // Warm-up request.
    client.behaviour_mut().send_request(&server_id, 0);
    loop {
        if let SwarmEvent::Behaviour(Event::Message {
            message: Message::Response { .. },
            ..
        }) = client.select_next_some().await
        {
            break;
        }
    }
    let t = Instant::now();
    let (mut sent, mut done) = (0u64, 0u64);
    while sent < count.min(in_flight as u64) {
        client.behaviour_mut().send_request(&server_id, sent);
        sent += 1;
    }
    while done < count {
        match client.select_next_some().await {
            SwarmEvent::Behaviour(Event::Message {
                message: Message::Response { .. },
                ..
            }) => {
                done += 1;
                if sent < count {
                    client.behaviour_mut().send_request(&server_id, sent);
                    sent += 1;
                }
            }
            SwarmEvent::Behaviour(Event::OutboundFailure { error, .. }) => panic!("{error}"),
            _ => {}
        }
    }
    let s = t.elapsed().as_secs_f64();
    server_task.abort();
    s
}
