//! The lab's switch: an Ethernet switch in user space that delays, jitters, drops and cuts.
//!
//! The kernel's `sch_netem` is what usually adds latency and loss to a link, but not every
//! kernel has it. So the lab's switch namespace has no bridge: a [`Switch`] holds one
//! `AF_PACKET` socket per port (the switch-side end of each host's veth pair), reads every
//! frame a host sends, learns which MAC address sits behind which port, and writes the frame
//! out of the destination's port (or every other port, for broadcasts and unknown addresses).
//! Real frames cross real kernels' TCP/IP stacks; only the forwarding is in user space.
//!
//! Each frame from host `i` goes through host `i`'s [`Impairment`]:
//!
//! * dropped with probability `loss_pct`;
//! * delivered after `delay_ms` ± `jitter_ms` (uniform). Frames of one (source, destination)
//!   pair keep their order, as on a real path, unless `reorder_pct` picks a frame to skip the
//!   delay and overtake the ones queued before it;
//! * dropped if the pair is cut ([`Switch::cut`]): packets vanish as on a pulled cable, and
//!   TCP sees timeouts, not errors.
//!
//! Hosts must send whole frames: TCP segmentation and checksum offloads are turned off on
//! their interfaces (`ethtool -K eth0 tx off tso off gso off`), else a veth hands the switch
//! 64 KiB "frames" with checksums left for hardware that does not exist.

// Packet sockets have no safe wrapper in the crates we use: the few libc calls below each
// carry their SAFETY note.
#![allow(unsafe_code)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::Rng as _;

/// Faults a host's frames meet on their way through the switch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Impairment {
    /// Added one-way delay (ms).
    pub delay_ms: u32,
    /// Jitter around the delay (ms, uniform in ±jitter).
    pub jitter_ms: u32,
    /// Frames lost (percent).
    pub loss_pct: f32,
    /// Frames sent at once, overtaking delayed ones (percent; needs a delay).
    pub reorder_pct: f32,
}

/// What the switch counted.
#[derive(Debug, Default)]
pub struct SwitchStats {
    /// Frames forwarded (each egress port counts once).
    pub forwarded: AtomicU64,
    /// Frames dropped by loss.
    pub lost: AtomicU64,
    /// Frames dropped by a cut.
    pub cut: AtomicU64,
}

/// A frame waiting for its time.
struct Due {
    at: Instant,
    seq: u64,
    port: usize,
    frame: Vec<u8>,
}

impl PartialEq for Due {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Due {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// State shared by the port readers and the scheduler.
struct Shared {
    ports: Vec<OwnedFd>,
    impair: Mutex<Vec<Impairment>>,
    cuts: Mutex<HashSet<(usize, usize)>>,
    macs: Mutex<HashMap<[u8; 6], usize>>,
    /// Per (source, destination) port: when its last delayed frame leaves (keeps order).
    last: Mutex<HashMap<(usize, usize), Instant>>,
    queue: Mutex<BinaryHeap<Reverse<Due>>>,
    wake: Condvar,
    seq: AtomicU64,
    stop: AtomicBool,
    stats: SwitchStats,
}

/// A user-space Ethernet switch over `AF_PACKET` sockets (module docs).
pub struct Switch {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Switch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switch")
            .field("ports", &self.shared.ports.len())
            .finish()
    }
}

/// `ETH_P_ALL` in network byte order, as `socket` and `bind` take it.
fn eth_p_all() -> u16 {
    (libc::ETH_P_ALL as u16).to_be()
}

/// A raw socket bound to interface `ifname`; call it in the interface's namespace.
pub fn open_port(ifname: &str) -> std::io::Result<OwnedFd> {
    let name = std::ffi::CString::new(ifname).map_err(std::io::Error::other)?;
    // SAFETY: plain libc calls on a NUL-terminated name and a zeroed sockaddr_ll; the fd is
    // owned at once so it is closed on every path.
    unsafe {
        let index = libc::if_nametoindex(name.as_ptr());
        if index == 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(eth_p_all()),
        );
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_ll = std::mem::zeroed();
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = eth_p_all();
        addr.sll_ifindex = index as i32;
        let r = libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // Readers wake up now and then to see whether the switch stopped.
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        );
        Ok(fd)
    }
}

/// Receives one frame a host sent (frames the switch itself wrote are skipped).
fn receive(fd: &OwnedFd, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        // SAFETY: recvfrom into a buffer of the given length and a zeroed sockaddr_ll.
        let (n, kind) = unsafe {
            let mut from: libc::sockaddr_ll = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            let n = libc::recvfrom(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&raw mut from).cast(),
                &mut len,
            );
            (n, from.sll_pkttype)
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if kind != libc::PACKET_OUTGOING {
            return Ok(n as usize);
        }
    }
}

impl Shared {
    fn send(&self, port: usize, frame: &[u8]) {
        // SAFETY: send of a byte slice on a bound packet socket.
        let n = unsafe {
            libc::send(
                self.ports[port].as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
            )
        };
        if n >= 0 {
            self.stats.forwarded.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Where a frame from `src` goes: its destination's port if known, else every other port.
    fn egress(&self, src: usize, frame: &[u8]) -> Vec<usize> {
        let dst: [u8; 6] = frame[..6].try_into().expect("frames are >= 14 bytes");
        let srcmac: [u8; 6] = frame[6..12].try_into().expect("frames are >= 14 bytes");
        let mut macs = self.macs.lock().expect("macs");
        macs.insert(srcmac, src);
        match macs.get(&dst) {
            Some(&p) if dst[0] & 1 == 0 => {
                if p == src {
                    vec![]
                } else {
                    vec![p]
                }
            }
            _ => (0..self.ports.len()).filter(|&p| p != src).collect(),
        }
    }

    fn forward(&self, src: usize, frame: &[u8]) {
        let imp = self.impair.lock().expect("impairments")[src];
        let mut rng = rand::thread_rng();
        for dst in self.egress(src, frame) {
            if self.cuts.lock().expect("cuts").contains(&(src, dst)) {
                self.stats.cut.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if imp.loss_pct > 0.0 && rng.gen_range(0.0..100.0) < imp.loss_pct {
                self.stats.lost.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let now_ = imp.reorder_pct > 0.0 && rng.gen_range(0.0..100.0) < imp.reorder_pct;
            if imp.delay_ms == 0 && imp.jitter_ms == 0 || now_ {
                self.send(dst, frame);
                continue;
            }
            let jitter = i64::from(imp.jitter_ms);
            let ms = (i64::from(imp.delay_ms) + rng.gen_range(-jitter..=jitter)).max(0);
            let mut at = Instant::now() + Duration::from_millis(ms as u64);
            {
                let mut last = self.last.lock().expect("last");
                let prev = last.entry((src, dst)).or_insert(at);
                at = at.max(*prev);
                *prev = at;
            }
            let seq = self.seq.fetch_add(1, Ordering::Relaxed);
            self.queue.lock().expect("queue").push(Reverse(Due {
                at,
                seq,
                port: dst,
                frame: frame.to_vec(),
            }));
            self.wake.notify_one();
        }
    }

    fn read_port(&self, port: usize) {
        let mut buf = vec![0u8; 65_536];
        while !self.stop.load(Ordering::Relaxed) {
            match receive(&self.ports[port], &mut buf) {
                Ok(n) if n >= 14 => self.forward(port, &buf[..n]),
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    tracing::warn!(port, error = %e, "switch port read failed");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    fn schedule(&self) {
        let mut queue = self.queue.lock().expect("queue");
        while !self.stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            match queue.peek() {
                Some(Reverse(d)) if d.at <= now => {
                    let Reverse(d) = queue.pop().expect("peeked");
                    drop(queue);
                    self.send(d.port, &d.frame);
                    queue = self.queue.lock().expect("queue");
                }
                Some(Reverse(d)) => {
                    let wait = d.at - now;
                    queue = self.wake.wait_timeout(queue, wait).expect("queue").0;
                }
                None => {
                    queue = self
                        .wake
                        .wait_timeout(queue, Duration::from_millis(100))
                        .expect("queue")
                        .0;
                }
            }
        }
    }
}

impl Switch {
    /// A switch over `ports` (sockets from [`open_port`]), forwarding at once.
    pub fn start(ports: Vec<OwnedFd>) -> Switch {
        let n = ports.len();
        let shared = Arc::new(Shared {
            ports,
            impair: Mutex::new(vec![Impairment::default(); n]),
            cuts: Mutex::new(HashSet::new()),
            macs: Mutex::new(HashMap::new()),
            last: Mutex::new(HashMap::new()),
            queue: Mutex::new(BinaryHeap::new()),
            wake: Condvar::new(),
            seq: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            stats: SwitchStats::default(),
        });
        let mut threads = Vec::with_capacity(n + 1);
        for port in 0..n {
            let s = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("switch-port-{port}"))
                    .spawn(move || s.read_port(port))
                    .expect("spawn a switch thread"),
            );
        }
        let s = shared.clone();
        threads.push(
            std::thread::Builder::new()
                .name("switch-clock".into())
                .spawn(move || s.schedule())
                .expect("spawn a switch thread"),
        );
        Switch { shared, threads }
    }

    /// Sets (or, with the default, clears) the faults of frames from `port`.
    pub fn impair(&self, port: usize, i: Impairment) {
        self.shared.impair.lock().expect("impairments")[port] = i;
    }

    /// Drops every frame from a port in `side` to one outside it, and back.
    pub fn cut(&self, side: &[usize]) {
        let mut cuts = self.shared.cuts.lock().expect("cuts");
        for (a, b) in self.across(side) {
            cuts.insert((a, b));
        }
    }

    /// Undoes [`Switch::cut`] of `side`.
    pub fn mend(&self, side: &[usize]) {
        let mut cuts = self.shared.cuts.lock().expect("cuts");
        for pair in self.across(side) {
            cuts.remove(&pair);
        }
    }

    fn across(&self, side: &[usize]) -> Vec<(usize, usize)> {
        let n = self.shared.ports.len();
        let mut pairs = Vec::new();
        for a in 0..n {
            for b in 0..n {
                if side.contains(&a) != side.contains(&b) {
                    pairs.push((a, b));
                }
            }
        }
        pairs
    }

    /// What the switch counted.
    pub fn stats(&self) -> &SwitchStats {
        &self.shared.stats
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.wake.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
