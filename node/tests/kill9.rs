//! `kill -9` of a real `floe-node` process in the middle of a stream of uploads loses nothing
//! it confirmed: after restart, every blob whose storage confirmation the writer received still
//! has every sliver, byte for byte. The ledger is a real single validator in this process.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use floe_common::{BlobPersistence, EncodingConfig, Frost, KeyPair, SliverAxis, encode_blob};
use floe_ledger::localnet::{self, free_port};
use floe_ledger::testkit::reserve_and_register;
use floe_ledger::{Address, Genesis, GenesisNode, LedgerClient, SignedTransaction, Transaction};
use floe_node::NodeConfig;
use floe_node_protocol::committee::CommitteeView;
use floe_node_protocol::p2p::{CallError, P2p};
use floe_node_protocol::protocol::{
    self, ConfirmationRequest, GetSliverRequest, NodeError, PutSliverRequest,
};
use rand::{RngCore, SeedableRng};
use tokio_util::sync::CancellationToken;

const SHARDS: u16 = 4;
const BLOBS: usize = 40;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn spawn_node(config_path: &std::path::Path, log: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_floe-node"))
        .args(["run", "--config"])
        .arg(config_path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("floe-node starts")
}

async fn wait_healthy(http: std::net::SocketAddr) {
    let url = format!("http://{http}/health");
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(&url).await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("node never became healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_during_uploads_loses_nothing_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let user = KeyPair::from_seed([3; 32]);
    let node_key = KeyPair::from_seed([4; 32]);
    let (p2p_port, http_port) = (free_port().unwrap(), free_port().unwrap());
    let owner = Address::of(&user.public());
    let genesis = Genesis::builder("floe-kill9", SHARDS)
        .time_ms(now_ms())
        .params(|p| {
            p.max_epochs_ahead = 10;
            p.storage_price_per_mib_epoch = Frost(1);
            p.write_price_per_mib = Frost(1);
            p.min_fee = Frost(1);
        })
        .account(owner, Frost(1 << 50))
        .node(GenesisNode {
            commission_bps: 0,
            storage_price_vote: Frost(1),
            write_price_vote: Frost(1),
            ..GenesisNode::new(
                "node-1",
                node_key.public(),
                owner,
                Frost(1 << 30),
                format!("/ip4/127.0.0.1/tcp/{p2p_port}"),
                format!("127.0.0.1:{http_port}"),
            )
        })
        .build();
    let (genesis, validators) = localnet::write(dir.path(), genesis, 1, Some(9), 100).unwrap();
    let vcancel = CancellationToken::new();
    let vtask = tokio::spawn(floe_ledger::validator::run(
        validators[0].config.clone(),
        vcancel.clone(),
    ));
    let ledger = LedgerClient::new(vec![validators[0].rpc_url.clone()]);

    // The node, as its own process.
    let ndir = dir.path().join("node-1");
    std::fs::create_dir_all(&ndir).unwrap();
    floe_runtime::write_key_file(&ndir.join("key.json"), &node_key).unwrap();
    let config = NodeConfig {
        name: "node-1".into(),
        data_dir: ndir.join("data"),
        genesis: dir.path().join("genesis.json"),
        key_file: ndir.join("key.json"),
        p2p_listen: format!("/ip4/127.0.0.1/tcp/{p2p_port}"),
        http_listen: format!("127.0.0.1:{http_port}").parse().unwrap(),
        ledger_rpc: vec![validators[0].rpc_url.clone()],
        sync_writes: false,
        recovery: Default::default(),
        inbound: Default::default(),
        disk: Default::default(),
    };
    let config_path = ndir.join("node.toml");
    std::fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
    let log = ndir.join("node.log");
    let mut child = spawn_node(&config_path, &log);
    wait_healthy(config.http_listen).await;

    // Register every blob up front (one batch), so uploads run back to back.
    let enc_config = EncodingConfig::new(SHARDS).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let blobs: Vec<_> = (0..BLOBS)
        .map(|_| {
            let mut data = vec![0u8; 64 * 1024];
            rng.fill_bytes(&mut data);
            encode_blob(&enc_config, &data).unwrap()
        })
        .collect();
    let sender = Address::of(&user.public());
    let sign = |nonce: u64, kind| {
        SignedTransaction::sign(
            &user,
            Transaction {
                sender,
                nonce,
                fee: Frost(1),
                kind,
            },
            &genesis.chain_id,
        )
    };
    let mut txs = Vec::new();
    for (i, enc) in blobs.iter().enumerate() {
        let md = enc.metadata.metadata();
        let size = enc_config.encoded_length(md.unencoded_length).unwrap();
        let reg = reserve_and_register(sign, 2 * i as u64, md.unencoded_length, md.root(), size, 5);
        assert_eq!(reg.blob_id, enc.blob_id());
        txs.extend(reg.txs);
    }
    for r in ledger.submit_batch(&txs).await.unwrap() {
        assert!(r.error.is_none(), "{:?}", r.error);
    }
    let last = txs.last().unwrap().digest();
    ledger
        .transaction(&last, Some(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("registered");

    let committee = CommitteeView::from_response(&ledger.committee().await.unwrap()).unwrap();
    let member = committee.members()[0].clone();
    let cancel = CancellationToken::new();
    let (p2p, _, _) = P2p::start(
        &KeyPair::from_seed([77; 32]),
        &protocol::limits(&enc_config),
        None,
        cancel.clone(),
    )
    .await
    .unwrap();

    // Upload blob after blob; record each confirmation received.
    let confirmed = Arc::new(Mutex::new(Vec::new()));
    let uploader = {
        let (p2p, member, confirmed) = (p2p.clone(), member.clone(), confirmed.clone());
        let blobs = blobs.clone();
        tokio::spawn(async move {
            for (i, enc) in blobs.iter().enumerate() {
                let id = enc.blob_id();
                let (peer, addrs) = (member.peer_id, member.addrs.clone());
                // The node applies a block once the next one is certified: it may not have seen
                // the registrations yet, and says so at once.
                let mut put = p2p
                    .put_metadata(peer, addrs.clone(), enc.metadata.metadata().clone())
                    .await;
                while let Err(CallError::Node(NodeError::NotRegistered(_))) = put {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    put = p2p
                        .put_metadata(peer, addrs.clone(), enc.metadata.metadata().clone())
                        .await;
                }
                if put.is_err() {
                    return;
                }
                for pair in &enc.pairs {
                    for sliver in [&pair.primary, &pair.secondary] {
                        let req = PutSliverRequest {
                            blob_id: id,
                            pair: pair.index,
                            sliver: sliver.clone().into(),
                        };
                        if p2p.put_sliver(peer, addrs.clone(), req).await.is_err() {
                            return;
                        }
                    }
                }
                let req = ConfirmationRequest {
                    blob_id: id,
                    persistence: BlobPersistence::Permanent,
                    wait_ms: 0,
                };
                match p2p.confirmation(peer, addrs.clone(), req).await {
                    Ok(_) => confirmed.lock().unwrap().push(i),
                    Err(_) => return,
                }
            }
        })
    };
    // Let some uploads complete, then crash the node mid-stream.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while confirmed.lock().unwrap().len() < BLOBS / 4 {
        assert!(std::time::Instant::now() < deadline, "uploads too slow");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let _ = uploader.await;
    let confirmed = confirmed.lock().unwrap().clone();
    assert!(
        confirmed.len() < BLOBS,
        "the kill came after every upload; nothing was tested"
    );

    // Restart: everything confirmed is there, byte for byte.
    let mut child = spawn_node(&config_path, &ndir.join("node-restart.log"));
    wait_healthy(config.http_listen).await;
    for i in &confirmed {
        let enc = &blobs[*i];
        let id = enc.blob_id();
        let status = p2p
            .blob_status(member.peer_id, member.addrs.clone(), id)
            .await
            .unwrap();
        assert_eq!(status.slivers_stored, status.slivers_expected, "blob {i}");
        assert_eq!(status.slivers_expected, 2 * u32::from(SHARDS));
        for pair in &enc.pairs {
            for axis in [SliverAxis::Primary, SliverAxis::Secondary] {
                let got = p2p
                    .get_sliver(
                        member.peer_id,
                        member.addrs.clone(),
                        GetSliverRequest {
                            blob_id: id,
                            pair: pair.index,
                            axis,
                        },
                    )
                    .await
                    .unwrap();
                assert_eq!(&got, pair.sliver(axis));
            }
        }
    }
    eprintln!(
        "kill -9 after {} of {BLOBS} confirmed uploads; all confirmed data survived",
        confirmed.len()
    );
    let _ = child.kill();
    let _ = child.wait();
    cancel.cancel();
    vcancel.cancel();
    let _ = vtask.await;
}
