//! Real networks for tests: Linux network namespaces joined by a switch that can delay, drop
//! and cut (latency, jitter, loss, reordering, partitions).
//!
//! A [`NetLab`] makes `n` hosts: namespaces `<lab>-h<i>` with an interface `eth0` at
//! `10.<k>.0.<i + 1>/24`, joined by veth pairs to a switch namespace `<lab>-sw`, where a
//! [`Switch`] forwards the frames in user space and applies each host's [`Impairment`] and the
//! partitions (module [`switch`] says why it is not the kernel's bridge and `tc netem`). Every
//! name starts with the lab's unique prefix and every address is inside the lab's subnet, so
//! nothing leaves the namespaces the lab created. [`NetLab`] deletes them when it is dropped
//! (even when a test panics), and [`NetLab::new`] first deletes namespaces that a killed test
//! process left behind.
//!
//! Needs root (or `CAP_SYS_ADMIN` + `CAP_NET_ADMIN`), `iproute2` (`ip`) and `ethtool`, which
//! `.ci/run` installs. Code runs in a host with [`NetLab::command`] (a process started by
//! `ip netns exec`) or [`NetLab::enter`] (the calling thread joins the namespace).

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub mod switch;

pub use switch::{Impairment, Switch, SwitchStats};

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

/// Hosts on a switch, in namespaces of their own.
#[derive(Debug)]
pub struct NetLab {
    name: String,
    subnet: u8,
    hosts: usize,
    switch: Option<Switch>,
}

impl NetLab {
    /// `hosts` hosts (at most 250) on a fresh switch.
    pub fn new(hosts: usize) -> Result<NetLab, NetError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        Self::remove_stale();
        let k = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let mut lab = NetLab {
            name: format!("{PREFIX}{}x{k}", pid % 100_000),
            // 10.200-254.0.0/24: one subnet per lab of this process, kept apart from others.
            subnet: 200 + ((pid + k) % 55) as u8,
            hosts: hosts.min(250),
            switch: None,
        };
        lab.build()?;
        lab.switch = Some(lab.start_switch()?);
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

    /// Interface name of host `i`'s port in the switch namespace (at most 15 bytes: short,
    /// unique per lab and host).
    fn port(&self, i: usize) -> String {
        format!("v{}h{i}", self.subnet)
    }

    fn build(&self) -> Result<(), NetError> {
        let sw = self.switch();
        run("ip", &["netns", "add", &sw])?;
        for i in 0..self.hosts {
            let ns = self.ns(i);
            run("ip", &["netns", "add", &ns])?;
            let outer = self.port(i);
            run(
                "ip",
                &[
                    "link", "add", &outer, "netns", &sw, "type", "veth", "peer", "name", "eth0",
                    "netns", &ns,
                ],
            )?;
            run(
                "ip",
                &["netns", "exec", &sw, "ip", "link", "set", &outer, "up"],
            )?;
            let cidr = format!("{}/24", self.addr(i));
            let in_host = |program: &str, args: &[&str]| {
                let mut all = vec!["netns", "exec", ns.as_str(), program];
                all.extend_from_slice(args);
                run("ip", &all)
            };
            in_host("ip", &["addr", "add", &cidr, "dev", "eth0"])?;
            in_host("ip", &["link", "set", "eth0", "up"])?;
            in_host("ip", &["link", "set", "lo", "up"])?;
            // Whole frames with their checksums: the switch forwards what it reads as it is.
            in_host(
                "ethtool",
                &[
                    "-K", "eth0", "tx", "off", "tso", "off", "gso", "off", "gro", "off",
                ],
            )?;
        }
        Ok(())
    }

    /// Opens the switch's ports in its namespace (on a thread of its own) and starts it.
    fn start_switch(&self) -> Result<Switch, NetError> {
        let sw = self.switch();
        let ports: Vec<String> = (0..self.hosts).map(|i| self.port(i)).collect();
        let err = |reason: String| NetError::Enter {
            ns: sw.clone(),
            reason,
        };
        let fds = std::thread::scope(|s| {
            s.spawn(|| {
                enter_ns(&sw)?;
                ports
                    .iter()
                    .map(|p| switch::open_port(p).map_err(|e| err(format!("port {p}: {e}"))))
                    .collect::<Result<Vec<_>, _>>()
            })
            .join()
            .map_err(|_| err("the thread opening the ports panicked".into()))?
        })?;
        Ok(Switch::start(fds))
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
        enter_ns(&self.ns(i))
    }

    fn the_switch(&self) -> &Switch {
        self.switch
            .as_ref()
            .expect("a lab has its switch until it is dropped")
    }

    /// Sets (or, with the default, clears) the faults of frames host `i` sends.
    pub fn impair(&self, i: usize, f: Impairment) {
        self.the_switch().impair(i, f);
    }

    /// Applies `f` to every host's frames.
    pub fn impair_all(&self, f: Impairment) {
        (0..self.hosts).for_each(|i| self.impair(i, f));
    }

    /// What the switch counted (frames forwarded, lost, cut).
    pub fn stats(&self) -> &SwitchStats {
        self.the_switch().stats()
    }

    /// Cuts every host of `side` off from every host not in it, both ways: their frames
    /// vanish, as on a pulled cable.
    pub fn partition(&self, side: &[usize]) {
        self.the_switch().cut(side);
    }

    /// Undoes [`NetLab::partition`] of `side`.
    pub fn heal(&self, side: &[usize]) {
        self.the_switch().mend(side);
    }
}

/// Moves the calling thread into the named network namespace.
fn enter_ns(ns: &str) -> Result<(), NetError> {
    let err = |reason: String| NetError::Enter {
        ns: ns.to_owned(),
        reason,
    };
    let file =
        std::fs::File::open(format!("/var/run/netns/{ns}")).map_err(|e| err(e.to_string()))?;
    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| err(e.to_string()))
}

impl Drop for NetLab {
    fn drop(&mut self) {
        // Stop forwarding (and close the ports) before the namespaces go.
        drop(self.switch.take());
        for i in 0..self.hosts {
            let _ = run("ip", &["netns", "del", &self.ns(i)]);
        }
        let _ = run("ip", &["netns", "del", &self.switch()]);
    }
}
