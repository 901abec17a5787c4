//! Nemesis scenarios, Jepsen style: a devnet whose every validator and storage node is a real
//! process in a network namespace of its own (as on separate machines, with its own address),
//! and a client in another, all joined by the lab's switch (`floe_tests::netns`), which cuts,
//! delays and drops their packets. The configurations are the ones `floe-devnet` writes for
//! any deployment, with each process's own address.
//!
//! Every scenario ends with the same checks: every blob that was certified reads back
//! byte-exact, the validators agree on every block hash (no fork), and after healing the
//! network is live again within a bound (a store certifies, a cut-off validator catches up).
//!
//! Needs root, `iproute2` and `ethtool` (as `.ci/run` installs).

use std::future::Future;
use std::time::{Duration, Instant};

use floe_client::blobs::StoreOptions;
use floe_client::{BlobClient, BlobOptions, ClientConfig};
use floe_common::{BlobId, ConsistencyCheck, KeyPair};
use floe_devnet::{Devnet, DevnetOptions, Host};
use floe_ledger::LedgerClient;
use floe_tests::netns::{Impairment, NetLab};

const EXE: &str = env!("CARGO_BIN_EXE_floe-devnet");

/// A devnet spread over a lab: host `i < validators` is validator `i + 1`, the next `nodes`
/// hosts are the storage nodes, and the last host is the client.
struct Net {
    lab: NetLab,
    validators: usize,
    nodes: usize,
    dir: tempfile::TempDir,
    /// One scenario at a time: each runs 9 to 15 processes on this machine's cores.
    _serial: std::sync::MutexGuard<'static, ()>,
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Net {
    fn new(validators: usize, nodes: usize) -> Net {
        let serial = SERIAL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let lab = NetLab::new(validators + nodes + 1)
            .expect("network namespaces: needs root, iproute2 and ethtool");
        Net {
            lab,
            validators,
            nodes,
            dir: tempfile::tempdir().unwrap(),
            _serial: serial,
        }
    }

    fn client_host(&self) -> usize {
        self.validators + self.nodes
    }

    /// The lab host of validator `i` (0-based).
    fn validator(&self, i: usize) -> usize {
        i
    }

    /// The lab host of storage node `i` (0-based).
    fn node(&self, i: usize) -> usize {
        self.validators + i
    }

    /// Generates the devnet, one process per host.
    fn devnet(&self, shards: u16, epoch_secs: u64) -> Devnet {
        let hosts = (0..self.validators + self.nodes)
            .map(|i| Host {
                netns: Some(self.lab.ns(i)),
                addr: self.lab.addr(i),
            })
            .collect();
        let opts = DevnetOptions {
            validators: self.validators,
            nodes: self.nodes,
            shards,
            epoch_secs,
            block_time_ms: 200,
            hosts,
        };
        Devnet::generate(self.dir.path(), &opts)
            .unwrap()
            .with_executable(EXE)
    }

    /// Generates the devnet, starts every process, waits until the network is ready, and
    /// connects the client (call it on [`Net::client`]'s runtime).
    async fn up(&self, shards: u16, epoch_secs: u64) -> (Devnet, Client) {
        let mut devnet = self.devnet(shards, epoch_secs);
        devnet.start_all().unwrap();
        devnet.wait_ready(Duration::from_secs(180)).await.unwrap();
        let client = Client::connect(&devnet).await;
        (devnet, client)
    }

    /// Runs `f` on a runtime whose threads are in the client's namespace (every socket it
    /// opens is the client's), and returns its result; a panic in it fails the test.
    fn client<T: Send, F: Future<Output = T>>(&self, f: impl FnOnce() -> F + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                self.lab
                    .enter(self.client_host())
                    .expect("enter the client host");
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(f())
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }
}

/// The client's view: a blob client and one ledger client per validator.
struct Client {
    blobs: BlobClient,
    validators: Vec<LedgerClient>,
    config: ClientConfig,
}

impl Client {
    async fn connect(devnet: &Devnet) -> Client {
        let path = devnet.write_client_config().unwrap();
        let config = ClientConfig::load(&path).unwrap();
        let key: KeyPair = devnet.wallet().unwrap();
        let ledger = LedgerClient::new(config.ledger_rpc.clone());
        let blobs = BlobClient::connect(ledger, key, BlobOptions::default())
            .await
            .unwrap();
        let validators = devnet
            .validator_urls()
            .into_iter()
            .map(|u| LedgerClient::new(vec![u]))
            .collect();
        Client {
            blobs,
            validators,
            config,
        }
    }

    /// Stores `data` for a few epochs; the blob id once certified, or the error.
    async fn store(&self, data: &[u8]) -> Result<BlobId, String> {
        let opts = StoreOptions {
            epochs: self.config.default_epochs.max(1),
            ..StoreOptions::default()
        };
        match tokio::time::timeout(Duration::from_secs(120), self.blobs.store(data, &opts)).await {
            Ok(Ok(o)) => {
                if let floe_client::blobs::StoreOutcome::NewlyCreated { phases, .. } = &o {
                    eprintln!("stored {} bytes: {phases:?} (ms)", data.len());
                }
                Ok(o.blob_id())
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("store timed out after 120 s".into()),
        }
    }

    /// Reads every blob and checks its bytes.
    async fn read_all(&self, blobs: &[(BlobId, Vec<u8>)]) {
        for (id, data) in blobs {
            let got = self
                .blobs
                .read(*id, ConsistencyCheck::Default)
                .await
                .unwrap_or_else(|e| panic!("certified blob {id} does not read: {e}"));
            assert!(got.data == *data, "blob {id} read back other bytes");
        }
    }

    /// Heights of the validators that answer (`None` for one that does not, within 2 s).
    async fn heights(&self) -> Vec<Option<u64>> {
        let mut out = Vec::new();
        for v in &self.validators {
            let h = tokio::time::timeout(Duration::from_secs(2), v.health()).await;
            out.push(h.ok().and_then(Result::ok).map(|h| h.height));
        }
        out
    }

    /// Waits until every validator reaches `height`; fails after `bound`.
    async fn all_reach(&self, height: u64, bound: Duration) -> Duration {
        let t = Instant::now();
        loop {
            let hs = self.heights().await;
            if hs.iter().all(|h| h.is_some_and(|h| h >= height)) {
                return t.elapsed();
            }
            assert!(
                t.elapsed() < bound,
                "validators did not all reach height {height} within {bound:?}: {hs:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// No fork: every validator has the same block hash at every height up to the lowest
    /// tip (all heights, checked in one pass).
    async fn assert_no_fork(&self) -> u64 {
        let tip = self
            .heights()
            .await
            .into_iter()
            .map(|h| h.expect("every validator answers after healing"))
            .min()
            .unwrap();
        for height in 1..=tip {
            let mut hashes = Vec::new();
            for v in &self.validators {
                let record = v.block(height).await.unwrap().expect("a committed block");
                hashes.push(record.block.hash());
            }
            assert!(
                hashes.windows(2).all(|w| w[0] == w[1]),
                "fork at height {height}: {hashes:?}"
            );
        }
        tip
    }
}

/// Waits until every storage node's status satisfies `ok`; fails after `bound`, naming `what`
/// and the nodes that do not.
async fn wait_nodes(
    devnet: &Devnet,
    what: &str,
    bound: Duration,
    ok: impl Fn(&floe_devnet::ProcessStatus) -> bool,
) -> Duration {
    let t = Instant::now();
    loop {
        let status = devnet.status().await;
        let behind: Vec<_> = status
            .processes
            .iter()
            .filter(|p| p.kind == floe_devnet::ProcessKind::Node && !ok(p))
            .map(|p| (p.name.clone(), p.epoch, p.ledger_height))
            .collect();
        if behind.is_empty() {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < bound,
            "nodes not {what} within {bound:?}: {behind:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A process of the test's own, killed when dropped (a failing test leaves nothing running
/// in a namespace about to be deleted).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `ExecStart` line of `deploy/systemd/<unit>`, with the installed binaries
/// (`/usr/local/bin/…`) replaced by this build's and the installed configuration
/// (`/etc/floe/…`) by `config`.
fn unit_command(unit: &str, config: &std::path::Path) -> Vec<std::ffi::OsString> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/systemd")
        .join(unit);
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap_or_else(|| panic!("{} has no ExecStart", path.display()));
    let bin_dir = std::path::Path::new(EXE).parent().unwrap();
    line.split_whitespace()
        .map(|w| match w.strip_prefix("/usr/local/bin/") {
            Some(bin) => {
                let exe = bin_dir.join(bin);
                assert!(
                    exe.is_file(),
                    "{} is not built: run the tests with --workspace",
                    exe.display()
                );
                exe.into_os_string()
            }
            None if w.starts_with("/etc/floe/") => config.as_os_str().to_owned(),
            None => w.into(),
        })
        .collect()
}

fn data(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// One validator of four cut off from everyone while blobs are stored: the other three keep
/// finalising, stores certify, and once healed the cut-off validator catches up on the same
/// chain.
#[test]
fn net_partition_minority_validator() {
    let net = Net::new(4, 4);
    net.client(|| async {
        let (devnet, client) = net.up(8, 3600).await;
        let mut stored = Vec::new();
        let first = data(1, 1 << 20);
        stored.push((client.store(&first).await.unwrap(), first));

        let cut = net.validator(3);
        net.lab.partition(&[cut]);
        let before = client.heights().await;
        for seed in 2..5 {
            let d = data(seed, 300_000);
            let id = client
                .store(&d)
                .await
                .unwrap_or_else(|e| panic!("store with one validator of four cut off: {e}"));
            stored.push((id, d));
        }
        let during = client.heights().await;
        assert!(
            during[3].is_none(),
            "the cut-off validator answers: {during:?}"
        );
        // Every node keeps following the ledger, the one that followed the cut-off validator
        // too (it leaves it for another).
        // Nodes trail the ledger by one block.
        let height = during[0].unwrap();
        let behind = wait_nodes(&devnet, "following", Duration::from_secs(20), |p| {
            p.ledger_height.is_some_and(|h| h + 1 >= height)
        })
        .await;
        eprintln!("every node applied the stores' blocks {behind:?} after them");
        assert!(
            during[0].unwrap() > before[0].unwrap(),
            "three validators finalise"
        );
        client.read_all(&stored).await;

        net.lab.heal(&[cut]);
        let tip = during[0].unwrap();
        let caught_up = client.all_reach(tip + 5, Duration::from_secs(60)).await;
        eprintln!("cut-off validator caught up {caught_up:?} after healing");
        let d = data(9, 200_000);
        stored.push((client.store(&d).await.unwrap(), d));
        client.read_all(&stored).await;
        let checked = client.assert_no_fork().await;
        eprintln!("no fork over {checked} heights");
        drop(devnet);
    });
}

/// More than f = 1 of the four storage nodes cut off while blobs are stored: a store cannot
/// gather a quorum of confirmations, so none certifies on the nodes that are left, and
/// nothing is lost. Healed, stores certify again and every certified blob reads back.
#[test]
fn net_partition_majority_nodes() {
    let net = Net::new(4, 4);
    net.client(|| async {
        let (devnet, client) = net.up(8, 3600).await;
        let mut stored = Vec::new();
        let first = data(1, 500_000);
        stored.push((client.store(&first).await.unwrap(), first));

        let cut = [net.node(0), net.node(1)];
        net.lab.partition(&cut);
        let t = Instant::now();
        let refused = client.store(&data(2, 500_000)).await;
        eprintln!(
            "store with 2 of 4 nodes cut off: {refused:?} after {:?}",
            t.elapsed()
        );
        assert!(
            refused.is_err(),
            "a store certified without a quorum of nodes"
        );
        client.read_all(&stored).await;

        net.lab.heal(&cut);
        let t = Instant::now();
        let d = data(3, 500_000);
        let id = loop {
            match client.store(&d).await {
                Ok(id) => break id,
                Err(e) => {
                    assert!(
                        t.elapsed() < Duration::from_secs(60),
                        "no store certified within 60 s of healing: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        };
        eprintln!("a store certified {:?} after healing", t.elapsed());
        stored.push((id, d));
        client.read_all(&stored).await;
        client.assert_no_fork().await;
        drop(devnet);
    });
}

/// Every frame 5% likely to be lost, both ways, between all parties: stores and reads still
/// succeed (TCP retransmits), byte-exact.
#[test]
fn net_lossy_links() {
    let net = Net::new(4, 4);
    net.client(|| async {
        let (devnet, client) = net.up(16, 3600).await;
        net.lab.impair_all(Impairment {
            loss_pct: 5.0,
            ..Impairment::default()
        });
        let mut stored = Vec::new();
        for (seed, len) in [(1, 1 << 20), (2, 3 << 20)] {
            let d = data(seed, len);
            let t = Instant::now();
            let id = client
                .store(&d)
                .await
                .unwrap_or_else(|e| panic!("store over 5% loss: {e}"));
            eprintln!("stored {len} bytes over 5% loss in {:?}", t.elapsed());
            stored.push((id, d));
        }
        let t = Instant::now();
        client.read_all(&stored).await;
        eprintln!("read both over 5% loss in {:?}", t.elapsed());
        let lost = net
            .lab
            .stats()
            .lost
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(lost > 100, "only {lost} frames were lost");
        net.lab.impair_all(Impairment::default());
        client.assert_no_fork().await;
        drop(devnet);
    });
}

/// 100 ms ± 20 ms added to every frame, from every party (200 ms round trips, as between
/// continents): stores and reads of 1 MiB and 64 MiB still succeed byte-exact, on 4
/// validators and 10 nodes over 100 shards. Prints the figures as one JSON line: finality
/// p50 of transfers, and store and read times.
#[test]
fn net_wan_latency() {
    let net = Net::new(4, 10);
    net.client(|| async {
        let (devnet, client) = net.up(100, 3600).await;
        net.lab.impair_all(Impairment {
            delay_ms: 100,
            jitter_ms: 20,
            ..Impairment::default()
        });
        let floe = floe_client::Floe::from_config(&client.config)
            .await
            .unwrap();
        let to = floe_ledger::Address::of(&KeyPair::from_seed([7; 32]).public());
        let mut finality = Vec::new();
        for _ in 0..10 {
            let t = Instant::now();
            floe.transfer(to, floe_common::Frost(1)).await.unwrap();
            finality.push(t.elapsed());
        }
        finality.sort();
        let p50 = finality[finality.len() / 2];
        // A transfer needs at least a round trip to a validator and the consensus rounds
        // among them: the delay is in effect.
        assert!(p50 > Duration::from_millis(400), "finality p50 {p50:?}");
        let mut figures = serde_json::json!({
            "delay_ms": 100, "jitter_ms": 20, "validators": 4, "nodes": 10, "shards": 100,
            "finality_p50_ms": p50.as_millis() as u64,
        });
        let mut stored = Vec::new();
        for (seed, len, name) in [(1, 1 << 20, "1mib"), (2, 64 << 20, "64mib")] {
            let d = data(seed, len);
            let t = Instant::now();
            let id = client
                .store(&d)
                .await
                .unwrap_or_else(|e| panic!("store of {len} bytes over WAN latency: {e}"));
            figures[format!("store_{name}_ms")] = (t.elapsed().as_millis() as u64).into();
            let t = Instant::now();
            client.read_all(&[(id, d.clone())]).await;
            figures[format!("read_{name}_ms")] = (t.elapsed().as_millis() as u64).into();
            stored.push((id, d));
        }
        println!("{figures}");
        net.lab.impair_all(Impairment::default());
        client.read_all(&stored).await;
        client.assert_no_fork().await;
        drop(devnet);
    });
}

/// A validator and a storage node cut off across an epoch change (epochs of 20 s): the rest
/// change epoch and keep certifying stores; healed, the two catch up to the new epoch on the
/// same chain, and every certified blob reads back.
#[test]
fn net_partition_during_epoch_change() {
    let net = Net::new(4, 4);
    net.client(|| async {
        let (devnet, client) = net.up(8, 20).await;
        let ledger = &client.validators[0];
        let mut stored = Vec::new();
        let d = data(1, 300_000);
        stored.push((client.store(&d).await.unwrap(), d));

        // Cut off a few seconds before the epoch ends, and healed a few seconds after.
        let system = ledger.system().await.unwrap();
        let start_epoch = system.epoch;
        let ends = system.epoch_start_ms + system.epoch_duration_ms;
        let cut_at = ends.saturating_sub(5_000);
        let now = floe_tests::now_ms();
        if cut_at > now {
            tokio::time::sleep(Duration::from_millis(cut_at - now)).await;
        }
        let cut = [net.validator(3), net.node(3)];
        net.lab.partition(&cut);
        let t = Instant::now();
        while ledger.system().await.unwrap().epoch == start_epoch {
            assert!(
                t.elapsed() < Duration::from_secs(40),
                "no epoch change with one validator and one node cut off"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let changed_after = t.elapsed();
        let d = data(2, 300_000);
        let id = client
            .store(&d)
            .await
            .unwrap_or_else(|e| panic!("store in the new epoch, partition on: {e}"));
        stored.push((id, d));
        let new_epoch = ledger.system().await.unwrap().epoch;

        net.lab.heal(&cut);
        let in_new_epoch = wait_nodes(&devnet, "in the new epoch", Duration::from_secs(60), |p| {
            p.epoch.is_some_and(|e| e >= new_epoch.get())
        })
        .await;
        eprintln!(
            "epoch {start_epoch} -> {new_epoch} {changed_after:?} after the cut; every node in \
             it {in_new_epoch:?} after healing"
        );
        let tip = client.heights().await[0].unwrap();
        client.all_reach(tip, Duration::from_secs(60)).await;
        client.read_all(&stored).await;
        client.assert_no_fork().await;
        drop(devnet);
    });
}

/// One validator's clock 5 s ahead (`faketime`), more than the 2 s a block's timestamp may
/// lead a validator's clock: the others refuse the blocks it proposes, so its turns as
/// proposer time out, but the chain stays live, stores certify and reads are byte-exact. With
/// its clock set right again (restarted without `faketime`), it is back on the same chain.
#[test]
fn net_clock_skew() {
    let net = Net::new(4, 4);
    net.client(|| async {
        let (mut devnet, client) = net.up(8, 3600).await;

        // validator-4 again, under faketime, in its namespace.
        let name = "validator-4";
        devnet.stop(name, Duration::from_secs(10)).unwrap();
        let spec = devnet.process(name).unwrap().clone();
        let log = std::fs::File::create(devnet.dir().join("logs/validator-4-skewed.log")).unwrap();
        let skewed = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &net.lab.ns(net.validator(3)),
                "faketime",
                "-f",
                "+5s",
            ])
            .arg(EXE)
            .args(["validator", "--config"])
            .arg(devnet.path(&spec.config))
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("faketime (apt package faketime) runs the validator");
        let skewed_guard = KillOnDrop(skewed);
        let tip = client.heights().await[0].unwrap();
        client.all_reach(tip, Duration::from_secs(60)).await;

        let mut stored = Vec::new();
        let t = Instant::now();
        for seed in 1..4 {
            let d = data(seed, 300_000);
            let id = client
                .store(&d)
                .await
                .unwrap_or_else(|e| panic!("store with a validator's clock 5 s ahead: {e}"));
            stored.push((id, d));
        }
        eprintln!("three stores with a skewed validator in {:?}", t.elapsed());
        client.read_all(&stored).await;
        // The skew is real: the others refused blocks it proposed for their timestamps.
        let refused = (1..=3)
            .filter(|i| {
                let log = std::fs::read_to_string(devnet.log_path(&format!("validator-{i}")))
                    .unwrap_or_default();
                log.lines()
                    .any(|l| l.contains("invalid block") && l.contains("timestamp"))
            })
            .count();
        assert!(
            refused > 0,
            "no validator refused a block for its timestamp"
        );
        drop(skewed_guard);

        // Its clock right again: it restarts and follows the same chain.
        devnet.start(name).unwrap();
        let tip = client.heights().await[0].unwrap();
        client.all_reach(tip + 3, Duration::from_secs(60)).await;
        client.assert_no_fork().await;
        drop(devnet);
    });
}

/// The systemd units of `deploy/systemd` run the network: a validator and a storage node are
/// stopped and started again by their unit's `ExecStart` line (the real `floe-ledger` and
/// `floe-node` binaries, with the configurations the lab's devnet wrote). They rejoin, stores
/// and reads work, and the validator stops cleanly on SIGTERM (the unit's `KillSignal`).
#[test]
fn net_systemd_units_run_the_network() {
    let net = Net::new(4, 4);
    net.client(|| async {
        let (mut devnet, client) = net.up(8, 3600).await;
        let mut units = Vec::new();
        for (name, unit, host) in [
            ("validator-2", "floe-validator.service", net.validator(1)),
            ("node-2", "floe-node.service", net.node(1)),
        ] {
            devnet.stop(name, Duration::from_secs(10)).unwrap();
            let spec = devnet.process(name).unwrap().clone();
            let argv = unit_command(unit, &devnet.path(&spec.config));
            let log =
                std::fs::File::create(devnet.dir().join(format!("logs/{name}-unit.log"))).unwrap();
            let child = std::process::Command::new("ip")
                .args(["netns", "exec", &net.lab.ns(host)])
                .args(&argv)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            units.push((name, spec, KillOnDrop(child)));
        }
        // The node answers its health endpoint; the validator catches up.
        let node_health = format!("{}/health", units[1].1.http_url());
        let http = reqwest::Client::new();
        let t = Instant::now();
        while !http
            .get(&node_health)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "node-2 (unit) not healthy"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let tip = client.heights().await[0].unwrap();
        client.all_reach(tip + 2, Duration::from_secs(60)).await;

        let mut stored = Vec::new();
        for seed in 1..3 {
            let d = data(seed, 400_000);
            stored.push((client.store(&d).await.unwrap(), d));
        }
        client.read_all(&stored).await;
        client.assert_no_fork().await;

        // SIGTERM, as systemd stops it: the validator exits cleanly and quickly.
        let (_, _, mut validator) = units.remove(0);
        let pid = validator.0.id().to_string();
        assert!(
            std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let t = Instant::now();
        let status = loop {
            if let Some(s) = validator.0.try_wait().unwrap() {
                break s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "no exit 30 s after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(
            status.success(),
            "the validator exited with {status} on SIGTERM"
        );
        drop(units);
        drop(devnet);
    });
}
