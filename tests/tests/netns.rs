//! The network-namespace harness itself: hosts reach each other over the bridge, a partition
//! cuts both directions and heals, and nothing is left behind. (Scenarios with validators and
//! storage nodes build on it. Latency needs the kernel's `sch_netem`, which this sandbox's
//! kernel lacks: `tc qdisc … netem` answers "Specified qdisc kind is unknown".)

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use floe_tests::netns::NetLab;

const PORT: u16 = 7000;

/// One echo round trip from host `from` to `to` (connect, one byte there and back), or the
/// error (a timeout across a partition).
fn round_trip(lab: &NetLab, from: usize, to: SocketAddr) -> std::io::Result<Duration> {
    std::thread::scope(|s| {
        s.spawn(|| {
            lab.enter(from).map_err(std::io::Error::other)?;
            let t = Instant::now();
            let mut c = TcpStream::connect_timeout(&to, Duration::from_millis(1500))?;
            c.set_read_timeout(Some(Duration::from_secs(3)))?;
            c.write_all(b"x")?;
            let mut b = [0u8; 1];
            c.read_exact(&mut b)?;
            Ok(t.elapsed())
        })
        .join()
        .expect("client thread")
    })
}

#[test]
fn netlab_partitions_cut_and_heal() {
    let lab = NetLab::new(3).expect("network namespaces: needs root and iproute2");
    let names: Vec<String> = (0..lab.len()).map(|i| lab.ns(i)).collect();
    let server: SocketAddr = (lab.addr(0), PORT).into();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (lab, stop) = (&lab, &stop);
        s.spawn(move || {
            lab.enter(0).expect("enter host 0");
            let l = TcpListener::bind(server).expect("bind in host 0");
            l.set_nonblocking(true).unwrap();
            ready_tx.send(()).unwrap();
            while !stop.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut c, _)) => {
                        c.set_nonblocking(false).unwrap();
                        let mut b = [0u8; 1];
                        if c.read_exact(&mut b).is_ok() {
                            let _ = c.write_all(&b);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        ready_rx.recv().unwrap();
        // Stops the server even when an assertion below fails (the scope waits for it).
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop = StopOnDrop(stop);

        // Over the bridge, fast.
        let base = round_trip(lab, 1, server).expect("host 1 reaches host 0");
        assert!(base < Duration::from_millis(50), "{base:?}");
        // Host 0 cut off: neither other host reaches it; healed, both do.
        lab.partition(&[0]).unwrap();
        for h in [1, 2] {
            assert!(round_trip(lab, h, server).is_err(), "host {h} is cut off");
        }
        lab.heal(&[0]).unwrap();
        for h in [1, 2] {
            round_trip(lab, h, server).expect("healed");
        }
    });
    drop(lab);
    let left = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&left.stdout);
    for n in names {
        assert!(!left.contains(&n), "{n} was left behind");
    }
}
