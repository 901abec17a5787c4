//! Which inbound requests a serving node runs, decided before any work is done for them.
//!
//! Rules, checked in this order for every request (a refusal is a `busy` answer at once, and
//! nothing of a refused request is counted against anyone else):
//!
//! 1. **Per peer in flight**: at most [`InboundLimits::max_concurrent_per_peer`] requests of one
//!    peer run at once.
//! 2. **Slots**: at most [`InboundLimits::max_concurrent`] requests run at once, of which
//!    [`InboundLimits::reserved`] only for [`Class::Member`] and [`Class::Writer`] requests: an
//!    anonymous flood can take every other slot, never those.
//! 3. **Rates** (token buckets, refilled continuously): an anonymous request takes a token from
//!    its peer's bucket and then one from its IP address's bucket ([`InboundLimits::peer_rate`],
//!    [`InboundLimits::ip_rate`]). A peer id costs nothing to make, so the address bounds what
//!    many identities on one host get together (their connections are capped per address too,
//!    see [`super::connections`]). A writer's request takes a token from its peer's bucket only:
//!    it names a blob registered (and paid for) on the ledger, and must not be starved by
//!    strangers sharing its address. Committee members are not rate limited: they are staked,
//!    and recovery and shard sync come from them in bursts.

use std::collections::HashMap;
use std::net::IpAddr;

use libp2p::PeerId;
use tokio::time::Instant;

use super::{Class, InboundLimits, Origin, RateLimit};

/// A token bucket: `burst` tokens, refilled at `per_second`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(rate: RateLimit, now: Instant) -> Self {
        Bucket {
            tokens: f64::from(rate.burst),
            at: now,
        }
    }

    fn refill(&mut self, rate: RateLimit, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens =
            (self.tokens + elapsed * f64::from(rate.per_second)).min(f64::from(rate.burst));
        self.at = now;
    }

    /// Takes one token if there is one.
    fn take(&mut self, rate: RateLimit, now: Instant) -> bool {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn is_full(&self, rate: RateLimit, now: Instant) -> bool {
        let mut b = *self;
        b.refill(rate, now);
        b.tokens >= f64::from(rate.burst)
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The peer has its most requests in flight.
    PeerInFlight,
    /// No slot of the request's class is free.
    Slots,
    /// The peer's rate is used up.
    PeerRate,
    /// The address's rate is used up.
    IpRate,
}

impl Refusal {
    pub(super) fn reason(self) -> &'static str {
        match self {
            Refusal::PeerInFlight => "peer in-flight limit",
            Refusal::Slots => "no free slot",
            Refusal::PeerRate => "peer rate limit",
            Refusal::IpRate => "address rate limit",
        }
    }
}

/// Buckets kept before idle (full) ones are dropped.
const PRUNE_AT: usize = 4096;

/// The counts and buckets behind the rules of this module.
pub(super) struct Admission {
    limits: InboundLimits,
    in_use: usize,
    per_peer: HashMap<PeerId, usize>,
    peer_buckets: HashMap<PeerId, Bucket>,
    ip_buckets: HashMap<IpAddr, Bucket>,
}

impl Admission {
    pub(super) fn new(limits: InboundLimits) -> Self {
        Admission {
            limits,
            in_use: 0,
            per_peer: HashMap::new(),
            peer_buckets: HashMap::new(),
            ip_buckets: HashMap::new(),
        }
    }

    /// Admits a request of `class` from `from` (counted until [`Admission::release`]) or says
    /// why not.
    pub(super) fn admit(
        &mut self,
        from: &Origin,
        class: Class,
        now: Instant,
    ) -> Result<(), Refusal> {
        let l = self.limits;
        if self.per_peer.get(&from.peer).copied().unwrap_or(0) >= l.max_concurrent_per_peer {
            return Err(Refusal::PeerInFlight);
        }
        let slots = match class {
            Class::Member | Class::Writer => l.max_concurrent,
            Class::Anonymous => l.max_concurrent.saturating_sub(l.reserved),
        };
        if self.in_use >= slots {
            return Err(Refusal::Slots);
        }
        if class != Class::Member {
            self.prune(now);
            let bucket = self
                .peer_buckets
                .entry(from.peer)
                .or_insert_with(|| Bucket::full(l.peer_rate, now));
            if !bucket.take(l.peer_rate, now) {
                return Err(Refusal::PeerRate);
            }
            if let (Class::Anonymous, Some(ip)) = (class, from.ip) {
                let bucket = self
                    .ip_buckets
                    .entry(ip)
                    .or_insert_with(|| Bucket::full(l.ip_rate, now));
                if !bucket.take(l.ip_rate, now) {
                    return Err(Refusal::IpRate);
                }
            }
        }
        self.in_use += 1;
        *self.per_peer.entry(from.peer).or_default() += 1;
        Ok(())
    }

    /// A request of `peer` admitted earlier has finished.
    pub(super) fn release(&mut self, peer: &PeerId) {
        self.in_use = self.in_use.saturating_sub(1);
        if let Some(n) = self.per_peer.get_mut(peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_peer.remove(peer);
            }
        }
    }

    /// Drops buckets that refilled completely (a new one would start full anyway) once there
    /// are many, so the maps stay bounded by the peers and addresses active lately.
    fn prune(&mut self, now: Instant) {
        let l = self.limits;
        if self.peer_buckets.len() >= PRUNE_AT {
            self.peer_buckets
                .retain(|_, b| !b.is_full(l.peer_rate, now));
        }
        if self.ip_buckets.len() >= PRUNE_AT {
            self.ip_buckets.retain(|_, b| !b.is_full(l.ip_rate, now));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits() -> InboundLimits {
        InboundLimits {
            max_concurrent: 10,
            max_concurrent_per_peer: 4,
            reserved: 4,
            peer_rate: RateLimit {
                per_second: 10,
                burst: 5,
            },
            ip_rate: RateLimit {
                per_second: 20,
                burst: 8,
            },
            ..InboundLimits::default()
        }
    }

    fn origin(ip: [u8; 4]) -> Origin {
        Origin {
            peer: PeerId::random(),
            ip: Some(IpAddr::from(ip)),
        }
    }

    #[test]
    fn rates_per_peer_then_per_address_refill_over_time() {
        let mut a = Admission::new(InboundLimits {
            max_concurrent: 1000,
            max_concurrent_per_peer: 1000,
            ..limits()
        });
        let now = Instant::now();
        let p = origin([10, 0, 0, 1]);
        for _ in 0..5 {
            a.admit(&p, Class::Anonymous, now).unwrap();
        }
        assert_eq!(a.admit(&p, Class::Anonymous, now), Err(Refusal::PeerRate));
        // Another identity on the same address: its own bucket, but the address's runs out.
        let q = Origin {
            peer: PeerId::random(),
            ..p
        };
        for _ in 0..3 {
            a.admit(&q, Class::Anonymous, now).unwrap();
        }
        assert_eq!(a.admit(&q, Class::Anonymous, now), Err(Refusal::IpRate));
        // A writer on that address is not held to the address's bucket; a member to none.
        let w = Origin {
            peer: PeerId::random(),
            ..p
        };
        a.admit(&w, Class::Writer, now).unwrap();
        for _ in 0..20 {
            a.admit(&p, Class::Member, now).unwrap();
        }
        // Another address is unaffected; time refills the buckets.
        a.admit(&origin([10, 0, 0, 2]), Class::Anonymous, now)
            .unwrap();
        let later = now + Duration::from_millis(300);
        a.admit(&p, Class::Anonymous, later).unwrap();
    }

    #[test]
    fn reserved_slots_and_per_peer_in_flight() {
        let mut a = Admission::new(limits());
        let now = Instant::now();
        let peers: Vec<Origin> = (0..3u8).map(|i| origin([10, 0, 1, i])).collect();
        // Anonymous requests get 6 of the 10 slots; at most 4 per peer.
        for _ in 0..4 {
            a.admit(&peers[0], Class::Anonymous, now).unwrap();
        }
        assert_eq!(
            a.admit(&peers[0], Class::Anonymous, now),
            Err(Refusal::PeerInFlight)
        );
        a.admit(&peers[1], Class::Anonymous, now).unwrap();
        a.admit(&peers[1], Class::Anonymous, now).unwrap();
        assert_eq!(
            a.admit(&peers[2], Class::Anonymous, now),
            Err(Refusal::Slots)
        );
        // The reserved four are there for writers and members.
        a.admit(&peers[2], Class::Writer, now).unwrap();
        a.admit(&peers[2], Class::Member, now).unwrap();
        // Anonymous requests count against every slot: with 8 in use, 3 must finish before
        // the next anonymous one runs.
        for _ in 0..2 {
            a.release(&peers[0].peer);
            assert_eq!(
                a.admit(&peers[2], Class::Anonymous, now),
                Err(Refusal::Slots)
            );
        }
        a.release(&peers[0].peer);
        a.admit(&peers[2], Class::Anonymous, now).unwrap();
    }
}
