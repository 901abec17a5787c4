//! The network-namespace harness itself: hosts reach each other through the lab's switch, a
//! partition cuts both directions and heals, delay and jitter show in round trips, loss is
//! survived by TCP and counted, and nothing is left behind.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use floe_tests::netns::{Impairment, NetLab};

const PORT: u16 = 7000;

/// Sends `len` bytes from host `from` to the echo server at `to` and reads them back: the
/// time of the first one-byte round trip and of the whole exchange, or the error (a timeout
/// across a partition).
fn echo(lab: &NetLab, from: usize, to: SocketAddr, len: usize) -> std::io::Result<[Duration; 2]> {
    std::thread::scope(|s| {
        s.spawn(|| {
            lab.enter(from).map_err(std::io::Error::other)?;
            let mut c = TcpStream::connect_timeout(&to, Duration::from_millis(1500))?;
            c.set_read_timeout(Some(Duration::from_secs(20)))?;
            let t = Instant::now();
            c.write_all(b"x")?;
            let mut b = [0u8; 1];
            c.read_exact(&mut b)?;
            let rtt = t.elapsed();
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut w = c.try_clone()?;
            let writer = s.spawn(move || w.write_all(&data).map(|()| data));
            let mut back = vec![0u8; len];
            c.read_exact(&mut back)?;
            let data = writer.join().expect("writer")?;
            assert!(back == data, "echoed bytes differ");
            Ok([rtt, t.elapsed()])
        })
        .join()
        .expect("client thread")
    })
}

/// Runs an echo server in host 0 while `f` runs; stops it even when `f` panics.
fn with_echo_server(lab: &NetLab, f: impl FnOnce(SocketAddr)) {
    let server: SocketAddr = (lab.addr(0), PORT).into();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stop = &stop;
        s.spawn(move || {
            lab.enter(0).expect("enter host 0");
            let l = TcpListener::bind(server).expect("bind in host 0");
            l.set_nonblocking(true).unwrap();
            ready_tx.send(()).unwrap();
            std::thread::scope(|conns| {
                while !stop.load(Ordering::Relaxed) {
                    match l.accept() {
                        Ok((mut c, _)) => {
                            conns.spawn(move || {
                                c.set_nonblocking(false).unwrap();
                                c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                                let mut r = c.try_clone().unwrap();
                                let _ = std::io::copy(&mut r, &mut c);
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        });
        ready_rx.recv().unwrap();
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop = StopOnDrop(stop);
        f(server);
    });
}

fn assert_cleaned_up(names: &[String]) {
    let left = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&left.stdout);
    for n in names {
        assert!(!left.contains(n.as_str()), "{n} was left behind");
    }
}

#[test]
fn netlab_partitions_cut_and_heal() {
    let lab = NetLab::new(3).expect("network namespaces: needs root, iproute2 and ethtool");
    let names: Vec<String> = (0..lab.len()).map(|i| lab.ns(i)).collect();
    with_echo_server(&lab, |server| {
        // Through the switch, fast, and 1 MiB back and forth.
        let [rtt, _] = echo(&lab, 1, server, 1 << 20).expect("host 1 reaches host 0");
        assert!(rtt < Duration::from_millis(50), "{rtt:?}");
        // Host 0 cut off: neither other host reaches it; healed, both do.
        lab.partition(&[0]);
        for h in [1, 2] {
            assert!(echo(&lab, h, server, 1).is_err(), "host {h} is cut off");
        }
        assert!(lab.stats().cut.load(Ordering::Relaxed) > 0);
        lab.heal(&[0]);
        for h in [1, 2] {
            echo(&lab, h, server, 1).expect("healed");
        }
    });
    drop(lab);
    assert_cleaned_up(&names);
}

#[test]
fn netlab_delay_jitter_and_loss() {
    let lab = NetLab::new(2).expect("network namespaces: needs root, iproute2 and ethtool");
    let names: Vec<String> = (0..lab.len()).map(|i| lab.ns(i)).collect();
    with_echo_server(&lab, |server| {
        // 40 ± 10 ms each way: a round trip takes 60..=100 ms plus the stacks' own time.
        lab.impair_all(Impairment {
            delay_ms: 40,
            jitter_ms: 10,
            ..Impairment::default()
        });
        let mut rtts = Vec::new();
        for _ in 0..5 {
            let [rtt, _] = echo(&lab, 1, server, 1).expect("delayed, not cut");
            rtts.push(rtt);
        }
        for rtt in &rtts {
            assert!(
                (Duration::from_millis(60)..Duration::from_millis(400)).contains(rtt),
                "{rtts:?}"
            );
        }
        // 10% of frames lost each way: TCP still delivers 256 KiB byte-exact, and the switch
        // counted the losses.
        lab.impair_all(Impairment {
            loss_pct: 10.0,
            ..Impairment::default()
        });
        echo(&lab, 1, server, 256 << 10).expect("TCP gets through 10% loss");
        let lost = lab.stats().lost.load(Ordering::Relaxed);
        assert!(lost > 0, "no frame was lost");
        // Cleared: fast again.
        lab.impair_all(Impairment::default());
        let [rtt, _] = echo(&lab, 1, server, 1).unwrap();
        assert!(rtt < Duration::from_millis(50), "{rtt:?}");
    });
    drop(lab);
    assert_cleaned_up(&names);
}
