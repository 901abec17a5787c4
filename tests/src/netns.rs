//! Real networks for tests: Linux network namespaces on one bridge, with faults from
//! `tc netem` (latency, jitter, loss, reordering) and `ip route` blackholes (partitions).
//!
//! A [`NetLab`] makes `n` hosts: namespaces `<lab>-h<i>` with an interface `eth0` at
//! `10.<k>.0.<i + 1>/24`, joined by veth pairs to a bridge in a switch namespace `<lab>-sw`.
//! Every name starts with the lab's unique prefix and every address is inside the lab's
//! subnet, so nothing leaves the namespaces the lab created. [`NetLab`] deletes them when it
//! is dropped (even when a test panics), and [`NetLab::new`] first deletes namespaces that a
//! killed test process left behind.
//!
//! Needs root (or `CAP_SYS_ADMIN` + `CAP_NET_ADMIN`) and `iproute2` (`ip`, `tc`), which
//! `.ci/run` installs; [`NetLab::netem`] also needs the kernel's `sch_netem` (not every
//! sandbox kernel has it: the command then fails with "Specified qdisc kind is unknown"). Code runs in a host with [`NetLab::command`] (a process started by
//! `ip netns exec`) or [`NetLab::enter`] (the calling thread joins the namespace).

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Names start with this, then the process id and a counter.
const PREFIX: &str = "floe";

/// A failed `ip`/`tc` command or namespace switch.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The command could not run or failed.
    #[error("`{command}` failed: {reason}")]
    Command {
        /// The command line.
        command: String,
        /// Its stderr, or why it did not start.
        reason: String,
    },
    /// Joining a namespace failed.
    #[error("entering namespace {ns}: {reason}")]
    Enter {
        /// The namespace.
        ns: String,
        /// Why.
        reason: String,
    },
}

/// Runs `program args…`, failing with its stderr.
fn run(program: &str, args: &[&str]) -> Result<(), NetError> {
    let command = format!("{program} {}", args.join(" "));
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| NetError::Command {
            command: command.clone(),
            reason: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(NetError::Command {
            command,
            reason: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// Link faults of one host's egress (`tc netem`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Netem {
    /// Added one-way delay (ms).
    pub delay_ms: u32,
    /// Jitter around the delay (ms).
    pub jitter_ms: u32,
    /// Packets lost (percent).
    pub loss_pct: f32,
    /// Packets sent out of order (percent; needs a delay).
    pub reorder_pct: f32,
}

/// Hosts on a bridge, in namespaces of their own.
#[derive(Debug)]
pub struct NetLab {
    name: String,
    subnet: u8,
    hosts: usize,
}

impl NetLab {
    /// `hosts` hosts (at most 250) on a fresh bridge.
    pub fn new(hosts: usize) -> Result<NetLab, NetError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        Self::remove_stale();
        let k = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let lab = NetLab {
            name: format!("{PREFIX}{}x{k}", pid % 100_000),
            // 10.200-254.0.0/24: one subnet per lab of this process, kept apart from others.
            subnet: 200 + ((pid + k) % 55) as u8,
            hosts: hosts.min(250),
        };
        lab.build()?;
        Ok(lab)
    }

    /// Deletes namespaces of this harness whose process is gone.
    fn remove_stale() {
        let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
            return;
        };
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let ns = line.split_whitespace().next().unwrap_or("");
            let Some(rest) = ns.strip_prefix(PREFIX) else {
                continue;
            };
            let pid: Option<u32> = rest.split('x').next().and_then(|p| p.parse().ok());
            let alive = pid.is_some_and(|p| {
                std::fs::read_dir("/proc").is_ok_and(|d| {
                    d.flatten().any(|e| {
                        e.file_name()
                            .to_str()
                            .and_then(|s| s.parse::<u32>().ok())
                            .is_some_and(|q| q % 100_000 == p)
                    })
                })
            });
            if !alive {
                let _ = run("ip", &["netns", "del", ns]);
            }
        }
    }

    fn switch(&self) -> String {
        format!("{}-sw", self.name)
    }

    /// The namespace of host `i`.
    pub fn ns(&self, i: usize) -> String {
        format!("{}-h{i}", self.name)
    }

    /// The address of host `i`.
    pub fn addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, 0, i as u8 + 1)
    }

    /// Number of hosts.
    pub fn len(&self) -> usize {
        self.hosts
    }

    /// Whether the lab has no hosts.
    pub fn is_empty(&self) -> bool {
        self.hosts == 0
    }

    fn build(&self) -> Result<(), NetError> {
        let sw = self.switch();
        run("ip", &["netns", "add", &sw])?;
        let in_sw = |args: &[&str]| {
            let mut all = vec!["netns", "exec", sw.as_str(), "ip"];
            all.extend_from_slice(args);
            run("ip", &all)
        };
        in_sw(&["link", "add", "br0", "type", "bridge"])?;
        in_sw(&["link", "set", "br0", "up"])?;
        for i in 0..self.hosts {
            let ns = self.ns(i);
            run("ip", &["netns", "add", &ns])?;
            // Interface names are at most 15 bytes: short, unique per lab and host.
            let outer = format!("v{}h{i}", self.subnet);
            run(
                "ip",
                &[
                    "link", "add", &outer, "netns", &sw, "type", "veth", "peer", "name", "eth0",
                    "netns", &ns,
                ],
            )?;
            in_sw(&["link", "set", &outer, "master", "br0", "up"])?;
            let cidr = format!("{}/24", self.addr(i));
            let in_host = |args: &[&str]| {
                let mut all = vec!["netns", "exec", ns.as_str(), "ip"];
                all.extend_from_slice(args);
                run("ip", &all)
            };
            in_host(&["addr", "add", &cidr, "dev", "eth0"])?;
            in_host(&["link", "set", "eth0", "up"])?;
            in_host(&["link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    /// A command that runs `program` in host `i`'s namespace.
    pub fn command(&self, i: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(i)]).arg(program);
        c
    }

    /// Moves the calling thread into host `i`'s namespace (sockets it then opens live
    /// there). Use a thread of its own: it stays there.
    pub fn enter(&self, i: usize) -> Result<(), NetError> {
        let ns = self.ns(i);
        let err = |reason: String| NetError::Enter {
            ns: ns.clone(),
            reason,
        };
        let file =
            std::fs::File::open(format!("/var/run/netns/{ns}")).map_err(|e| err(e.to_string()))?;
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| err(e.to_string()))
    }

    /// Sets (or, with the default, clears) the faults of host `i`'s egress.
    pub fn netem(&self, i: usize, n: Netem) -> Result<(), NetError> {
        let ns = self.ns(i);
        let base = ["netns", "exec", ns.as_str(), "tc", "qdisc"];
        if n == Netem::default() {
            let mut args = base.to_vec();
            args.extend(["del", "dev", "eth0", "root"]);
            // Nothing to delete is fine.
            let _ = run("ip", &args);
            return Ok(());
        }
        let (delay, jitter) = (format!("{}ms", n.delay_ms), format!("{}ms", n.jitter_ms));
        let (loss, reorder) = (format!("{}%", n.loss_pct), format!("{}%", n.reorder_pct));
        let mut args = base.to_vec();
        args.extend([
            "replace", "dev", "eth0", "root", "netem", "delay", &delay, &jitter, "loss", &loss,
        ]);
        if n.reorder_pct > 0.0 {
            args.extend(["reorder", &reorder]);
        }
        run("ip", &args)
    }

    /// Applies `n` to every host.
    pub fn netem_all(&self, n: Netem) -> Result<(), NetError> {
        (0..self.hosts).try_for_each(|i| self.netem(i, n))
    }

    /// Cuts every host of `side` off from every host not in it, both ways (blackhole routes:
    /// packets vanish, as on a cut link).
    pub fn partition(&self, side: &[usize]) -> Result<(), NetError> {
        self.routes("add", side)
    }

    /// Undoes [`NetLab::partition`] of `side`.
    pub fn heal(&self, side: &[usize]) -> Result<(), NetError> {
        self.routes("del", side)
    }

    fn routes(&self, op: &str, side: &[usize]) -> Result<(), NetError> {
        for a in 0..self.hosts {
            for b in 0..self.hosts {
                if side.contains(&a) == side.contains(&b) {
                    continue;
                }
                let dst = format!("{}/32", self.addr(b));
                run(
                    "ip",
                    &[
                        "netns",
                        "exec",
                        &self.ns(a),
                        "ip",
                        "route",
                        op,
                        "blackhole",
                        &dst,
                    ],
                )?;
            }
        }
        Ok(())
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        for i in 0..self.hosts {
            let _ = run("ip", &["netns", "del", &self.ns(i)]);
        }
        let _ = run("ip", &["netns", "del", &self.switch()]);
    }
}
