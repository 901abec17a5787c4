//! Streaming reads (`BlobClient::open` + `BlobClient::stream`) against a real cluster: every
//! range byte-exact, sparse ranges fetching only the symbols they cover, a tiny read budget,
//! and a row whose holder is down (the stream falls back to decoding).

use futures::StreamExt as _;
use rand::{Rng as _, SeedableRng as _};

use floe_client::BlobOptions;
use floe_client::blobs::{BlobStream, StoreOptions};
use floe_common::{ConsistencyCheck, SliverAxis, SliverIndex};
use floe_node_protocol::committee::CommitteeView;
use floe_tests::{ClusterOptions, TestCluster, data};

async fn collect(mut stream: BlobStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("stream item"));
    }
    out
}

/// 4 nodes, 12 shards: 6 rows of 9 symbols. Ranges of every shape read back byte-exact; a small
/// range costs symbols, not rows; with the holder of a row stopped, reads still succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4f1_streamed_ranges() {
    let mut cluster = TestCluster::start(ClusterOptions::default()).await;
    let client = cluster.client().await;
    let bytes = data(1 << 20, 11);
    let opts = StoreOptions {
        epochs: 2,
        ..StoreOptions::default()
    };
    let id = client.store(&bytes, &opts).await.unwrap().blob_id();
    let len = bytes.len() as u64;
    let config = floe_common::EncodingConfig::new(cluster.genesis.n_shards).unwrap();
    let s = u64::from(config.symbol_size(len).unwrap());
    let row = s * config.cols() as u64;

    let blob = client.open(id, u64::MAX).await.unwrap();
    assert_eq!(blob.len(), len);
    let mut ranges = vec![
        0..len,
        0..1,
        len - 1..len,
        row - 1..row + 1,
        2 * row..3 * row,
        row + 10..row + 10 + 1024,
        3 * row + s - 5..3 * row + s + 5,
        0..row / 2 + 1,
        len - row / 3..len,
        5..len + 1000, // clipped to the blob
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for _ in 0..20 {
        let a = rng.gen_range(0..len);
        let b = rng.gen_range(a + 1..=len);
        ranges.push(a..b);
    }
    for r in ranges {
        let got = collect(client.stream(blob.clone(), r.clone(), ConsistencyCheck::Default)).await;
        let want = &bytes[r.start as usize..r.end.min(len) as usize];
        assert!(
            got == want,
            "range {r:?}: {} bytes, want {}",
            got.len(),
            want.len()
        );
    }

    // Sparse: 1 KiB inside one symbol costs that symbol (with its proof), not the row.
    let stream = client.stream(
        blob.clone(),
        row + 100..row + 100 + 1024,
        ConsistencyCheck::Default,
    );
    let stats = stream.stats();
    assert_eq!(collect(stream).await.len(), 1024);
    assert!(
        stats.fetched_bytes() <= 2 * s,
        "a 1 KiB range fetched {} bytes (a symbol is {s}, a row {row})",
        stats.fetched_bytes()
    );
    assert!(!stats.degraded());
    // The whole blob costs its rows, each once.
    let stream = client.stream(blob.clone(), 0..len, ConsistencyCheck::Default);
    let stats = stream.stats();
    collect(stream).await;
    assert_eq!(stats.fetched_bytes(), row * config.rows() as u64);

    // A read budget smaller than a row still streams (one row at a time).
    let tight = cluster
        .client_with(BlobOptions {
            read_window_bytes: 1,
            read_buffer_bytes: 1,
            ..BlobOptions::default()
        })
        .await;
    let blob = tight.open(id, u64::MAX).await.unwrap();
    let got = collect(tight.stream(blob, 0..len, ConsistencyCheck::Default)).await;
    assert!(got == bytes, "tight budget");

    // The holder of row 2 stops: the stream falls back to decoding, byte-exact.
    let committee =
        CommitteeView::from_response(&cluster.ledger().committee().await.unwrap()).unwrap();
    let pair = SliverIndex(2).to_pair(SliverAxis::Primary, cluster.genesis.n_shards);
    let holder = committee.pair_holder(&id, pair).unwrap().node_id;
    let i = cluster
        .nodes
        .iter()
        .position(|n| n.node_id() == holder)
        .unwrap();
    cluster.stop_node(i).await;
    let blob = client.open(id, u64::MAX).await.unwrap();
    for (r, check) in [
        (0..len, ConsistencyCheck::Default),
        (row + 7..3 * row, ConsistencyCheck::Default),
        (2 * row + 1..2 * row + 2, ConsistencyCheck::Default),
        (10..len - 10, ConsistencyCheck::Strict),
    ] {
        let stream = client.stream(blob.clone(), r.clone(), check);
        let stats = stream.stats();
        let got = collect(stream).await;
        assert!(
            got == bytes[r.start as usize..r.end as usize],
            "range {r:?} with the holder of row 2 down"
        );
        if check == ConsistencyCheck::Default {
            assert!(stats.degraded(), "range {r:?} needs row 2");
        }
    }
    cluster.shutdown().await;
}
