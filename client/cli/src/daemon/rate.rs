//! Per-client rate limits: a token bucket per client IP address.
//!
//! A client may make `burst` requests at once and then one every `60 / per_minute` seconds; a
//! request over that is refused with `429` and `Retry-After` (the seconds until its next
//! token) before anything else is done for it. The table holds at most [`MAX_CLIENTS`]
//! buckets: when it is full, buckets that have refilled (clients idle long enough) are
//! forgotten, and if none has, the request is refused rather than tracked.
//!
//! Reads are bounded per client differently: by how many one address has in flight at once
//! ([`ClientSlots`]), since a read's cost is the time it holds a slot, not its start.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most client addresses tracked at once.
pub const MAX_CLIENTS: usize = 10_000;

/// A rate: `per_minute` on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per minute, on average.
    pub per_minute: u32,
    /// Requests at once.
    pub burst: u32,
}

/// Token buckets by client address.
#[derive(Debug)]
pub struct RateLimiter {
    rate: Rate,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// A limiter at `rate` (a zero `per_minute` or `burst` is taken as 1).
    pub fn new(rate: Rate) -> RateLimiter {
        RateLimiter {
            rate: Rate {
                per_minute: rate.per_minute.max(1),
                burst: rate.burst.max(1),
            },
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn per_second(&self) -> f64 {
        f64::from(self.rate.per_minute) / 60.0
    }

    /// Takes a token for `client` at `now`, or says how long until one is available.
    pub fn take(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let (burst, rate) = (f64::from(self.rate.burst), self.per_second());
        let refill =
            |b: &Bucket| (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(&client) && buckets.len() >= MAX_CLIENTS {
            buckets.retain(|_, b| refill(b) < burst);
            if buckets.len() >= MAX_CLIENTS {
                return Err(Duration::from_secs(1));
            }
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let tokens = refill(bucket);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            Ok(())
        } else {
            *bucket = Bucket { tokens, at: now };
            Err(Duration::from_secs_f64((1.0 - tokens) / rate))
        }
    }
}

/// Requests in flight per client address, at most `per_client` each.
#[derive(Debug)]
pub struct ClientSlots {
    per_client: usize,
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One request's slot; freed when dropped.
#[derive(Debug)]
pub struct ClientSlot {
    client: IpAddr,
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl ClientSlots {
    /// At most `per_client` (at least 1) in flight per address.
    pub fn new(per_client: usize) -> ClientSlots {
        ClientSlots {
            per_client: per_client.max(1),
            held: Arc::default(),
        }
    }

    /// The most a client may hold.
    pub fn per_client(&self) -> usize {
        self.per_client
    }

    /// A slot for `client`, or `None` if it holds `per_client` already. The table only holds
    /// clients with requests in flight, so it is bounded by the daemon's total slots.
    pub fn try_take(&self, client: IpAddr) -> Option<ClientSlot> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let n = held.entry(client).or_insert(0);
        if *n >= self.per_client {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            client,
            held: self.held.clone(),
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_slots_are_per_address_and_freed_on_drop() {
        let slots = ClientSlots::new(2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let s1 = slots.try_take(a).unwrap();
        let _s2 = slots.try_take(a).unwrap();
        assert!(slots.try_take(a).is_none());
        let _other = slots.try_take(b).unwrap();
        drop(s1);
        let _s3 = slots.try_take(a).unwrap();
        assert!(slots.try_take(a).is_none());
        drop((_s2, _s3, _other));
        assert!(slots.held.lock().unwrap().is_empty());
    }

    #[test]
    fn burst_then_steady_rate_per_client() {
        let limiter = RateLimiter::new(Rate {
            per_minute: 60,
            burst: 3,
        });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..3 {
            limiter.take(a, t0).unwrap();
        }
        let wait = limiter.take(a, t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        // Another client has its own bucket.
        limiter.take(b, t0).unwrap();
        // One token a second comes back.
        limiter.take(a, t0 + Duration::from_secs(1)).unwrap();
        assert!(limiter.take(a, t0 + Duration::from_secs(1)).is_err());
        // Never more than the burst, however long the client was idle.
        let later = t0 + Duration::from_secs(3_600);
        for _ in 0..3 {
            limiter.take(a, later).unwrap();
        }
        assert!(limiter.take(a, later).is_err());
    }
}
