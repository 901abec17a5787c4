//! The budget of confirmation long polls: requests that wait for slivers to arrive.
//!
//! A waiting request holds a request slot for up to `max_confirmation_wait_ms`, so waiting is a
//! privilege with its own small budget, counted in total, per peer and per IP address. A
//! confirmation that can be answered at once never needs a place; one that would wait without
//! a free place is answered `busy` at once (the writer retries with backoff).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use libp2p::PeerId;

use crate::p2p::Origin;

/// How many long polls may wait at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongPollLimits {
    /// In total.
    pub total: usize,
    /// Of one peer.
    pub per_peer: usize,
    /// Of one IP address, over all its peers.
    pub per_ip: usize,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_peer: HashMap<PeerId, usize>,
    per_ip: HashMap<IpAddr, usize>,
}

/// The places of waiting long polls.
#[derive(Debug)]
pub(crate) struct LongPolls {
    limits: LongPollLimits,
    counts: Arc<Mutex<Counts>>,
}

/// A place taken; given back when dropped.
pub(crate) struct Place {
    from: Origin,
    counts: Arc<Mutex<Counts>>,
}

fn lock(counts: &Mutex<Counts>) -> std::sync::MutexGuard<'_, Counts> {
    counts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn decrement<K: Eq + Hash>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl LongPolls {
    pub(crate) fn new(limits: LongPollLimits) -> Self {
        LongPolls {
            limits,
            counts: Arc::default(),
        }
    }

    /// A place for a long poll of `from`, if the budget has one.
    pub(crate) fn try_take(&self, from: &Origin) -> Option<Place> {
        let mut c = lock(&self.counts);
        let l = self.limits;
        let peer = c.per_peer.get(&from.peer).copied().unwrap_or(0);
        let ip = from
            .ip
            .map_or(0, |ip| c.per_ip.get(&ip).copied().unwrap_or(0));
        if c.total >= l.total || peer >= l.per_peer || ip >= l.per_ip {
            return None;
        }
        c.total += 1;
        *c.per_peer.entry(from.peer).or_default() += 1;
        if let Some(ip) = from.ip {
            *c.per_ip.entry(ip).or_default() += 1;
        }
        Some(Place {
            from: *from,
            counts: self.counts.clone(),
        })
    }

    /// Long polls waiting now.
    pub(crate) fn waiting(&self) -> usize {
        lock(&self.counts).total
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut c = lock(&self.counts);
        c.total = c.total.saturating_sub(1);
        decrement(&mut c.per_peer, &self.from.peer);
        if let Some(ip) = self.from.ip {
            decrement(&mut c.per_ip, &ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_bounded_in_total_per_peer_and_per_address_and_given_back() {
        let polls = LongPolls::new(LongPollLimits {
            total: 3,
            per_peer: 1,
            per_ip: 2,
        });
        let at = |ip: [u8; 4]| Origin {
            peer: PeerId::random(),
            ip: Some(IpAddr::from(ip)),
        };
        let a = at([10, 0, 0, 1]);
        let first = polls.try_take(&a).expect("a place");
        assert!(polls.try_take(&a).is_none(), "one per peer");
        let _b = polls
            .try_take(&at([10, 0, 0, 1]))
            .expect("second on the address");
        assert!(
            polls.try_take(&at([10, 0, 0, 1])).is_none(),
            "two per address"
        );
        let _c = polls.try_take(&at([10, 0, 0, 2])).expect("another address");
        assert!(polls.try_take(&at([10, 0, 0, 3])).is_none(), "three in all");
        drop(first);
        assert_eq!(polls.waiting(), 2);
        assert!(polls.try_take(&a).is_some());
    }
}
