//! `kill9_durability`: `kill -9` of storage nodes and validators at random moments of a write
//! load, on a devnet of real processes (4 validators, 4 storage nodes, 8 shards). After every
//! process is back, nothing that was certified (finalised on the ledger) is missing: every
//! validator reports every certified blob, every blob reads back byte for byte, and every node
//! holds every sliver it should (through its own status protocol).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use floe_client::blobs::StoreOptions;
use floe_client::{BlobClient, BlobOptions};
use floe_common::{BlobId, ConsistencyCheck, EncodingConfig, KeyPair};
use floe_devnet::{Devnet, DevnetOptions};
use floe_ledger::LedgerClient;
use floe_node_protocol::committee::CommitteeView;
use floe_node_protocol::p2p::P2p;
use rand::{Rng, RngCore, SeedableRng};
use tokio_util::sync::CancellationToken;

const EXE: &str = env!("CARGO_BIN_EXE_floe-devnet");

/// Blobs the load got certified, with their bytes.
type Certified = Arc<Mutex<Vec<(BlobId, Vec<u8>)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_durability() {
    let tmp = tempfile::tempdir().unwrap();
    let mut devnet = Devnet::generate(
        tmp.path(),
        &DevnetOptions {
            validators: 4,
            nodes: 4,
            shards: 8,
            epoch_secs: 3600,
            block_time_ms: 100,
            hosts: Vec::new(),
        },
    )
    .unwrap()
    .with_executable(EXE);
    devnet.start_all().unwrap();
    devnet.wait_ready(Duration::from_secs(120)).await.unwrap();
    let key = devnet.wallet().unwrap();
    let client = BlobClient::connect(
        devnet.ledger_client(),
        key,
        BlobOptions {
            extra_upload_time: Duration::from_millis(300),
            confirmation_wait: Duration::from_secs(3),
            ledger_timeout: Duration::from_secs(20),
            ..BlobOptions::default()
        },
    )
    .await
    .unwrap();

    // The write load: small blobs back to back; a store that returns Ok is certified.
    let certified: Certified = Arc::default();
    let stop = CancellationToken::new();
    let load = {
        let (certified, stop) = (certified.clone(), stop.clone());
        tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(11);
            let mut failures = 0;
            while !stop.is_cancelled() {
                let mut data = vec![0u8; rng.gen_range(1_000..60_000)];
                rng.fill_bytes(&mut data);
                let opts = StoreOptions {
                    epochs: 3,
                    ..StoreOptions::default()
                };
                match client.store(&data, &opts).await {
                    Ok(outcome) => certified.lock().unwrap().push((outcome.blob_id(), data)),
                    Err(_) => failures += 1,
                }
            }
            (client, failures)
        })
    };

    // Chaos: kill -9 a random node or validator at a random moment, restart it a moment later.
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let victims = [
        "node-1",
        "validator-2",
        "node-3",
        "validator-4",
        "node-2",
        "node-4",
    ];
    for victim in victims {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(300..1_200))).await;
        devnet.kill(victim).unwrap();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(200..1_000))).await;
        devnet.start(victim).unwrap();
        devnet
            .wait_healthy(victim, Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("{victim} did not come back: {e}"));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    let (client, failures) = load.await.unwrap();
    let certified = certified.lock().unwrap().clone();
    eprintln!(
        "kill9_durability: {} blobs certified, {failures} stores failed during the kills",
        certified.len()
    );
    assert!(certified.len() >= 5, "the load made too little progress");

    // Every validator knows every certified blob.
    for url in devnet.validator_urls() {
        let v = LedgerClient::new(vec![url.clone()]);
        for (id, _) in &certified {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                let s = v.blob_status(id).await.ok().flatten();
                if s.is_some_and(|s| s.certified) {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "{url} lost certified blob {id}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    // Every blob reads back, byte for byte.
    for (id, data) in &certified {
        let read = client.read(*id, ConsistencyCheck::Strict).await.unwrap();
        assert_eq!(&read.data, data, "blob {id}");
    }
    // Every node ends up holding every sliver it should (recovering what it missed).
    let committee =
        CommitteeView::from_response(&devnet.ledger_client().committee().await.unwrap()).unwrap();
    let cancel = CancellationToken::new();
    let (p2p, _, _) = P2p::start(
        &KeyPair::from_seed([9; 32]),
        &floe_node_protocol::protocol::limits(&EncodingConfig::new(8).unwrap()),
        None,
        cancel.clone(),
    )
    .await
    .unwrap();
    for m in committee.members() {
        for (id, _) in &certified {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            loop {
                let s = p2p.blob_status(m.peer_id, m.addrs.clone(), *id).await.ok();
                if s.as_ref().is_some_and(|s| {
                    s.slivers_expected > 0 && s.slivers_stored == s.slivers_expected
                }) {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "{} misses slivers of {id}: {s:?}",
                    m.name
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    cancel.cancel();
    devnet.stop_all(Duration::from_secs(10)).unwrap();
}
