//! The one retry policy of Floe: capped exponential backoff with jitter (`backon`).
//!
//! A [`Backoff`] names the first and the largest delay and, optionally, how many retries to make.
//! Calls that retry a few times use [`Backoff::builder`] with `backon`'s `Retryable`; loops
//! that run for the life of a task take [`Backoff::delays`], ask it for the next delay after a
//! failure and [`Delays::reset`] it after a success. Every delay is jittered (up to twice its
//! nominal value), so nodes that failed together do not retry in lockstep.

use std::time::Duration;

pub use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder, Retryable};

/// A retry policy: `min`, doubling up to `max`, jittered; at most `times` retries if set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    times: Option<usize>,
}

impl Backoff {
    /// Delays from `min`, doubling up to `max`, without a limit on retries.
    pub const fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max,
            times: None,
        }
    }

    /// The same policy, giving up after `times` retries.
    pub const fn times(self, times: usize) -> Self {
        Backoff {
            times: Some(times),
            ..self
        }
    }

    /// The policy as a `backon` builder (for `Retryable::retry`).
    pub fn builder(&self) -> ExponentialBuilder {
        let b = ExponentialBuilder::default()
            .with_min_delay(self.min)
            .with_max_delay(self.max)
            .with_jitter();
        match self.times {
            Some(n) => b.with_max_times(n),
            None => b.without_max_times(),
        }
    }

    /// The delays of a long-lived loop, restartable after a success.
    pub fn delays(&self) -> Delays {
        Delays {
            policy: *self,
            current: self.builder().build(),
        }
    }
}

/// The delays of one retry sequence; [`Delays::reset`] starts over from the first delay.
#[derive(Debug)]
pub struct Delays {
    policy: Backoff,
    current: ExponentialBackoff,
}

impl Delays {
    /// The delay before the next retry (`None` once the policy's retries are used up).
    pub fn next_delay(&mut self) -> Option<Duration> {
        self.current.next()
    }

    /// Starts over: the next failure waits the first delay again.
    pub fn reset(&mut self) {
        self.current = self.policy.builder().build();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_with_jitter_and_reset() {
        let policy = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let mut d = policy.delays();
        let first: Vec<Duration> = (0..8).map(|_| d.next_delay().expect("unbounded")).collect();
        // Jitter adds at most the delay itself: each delay is in [nominal, 2 × nominal].
        for (i, delay) in first.iter().enumerate() {
            let nominal = Duration::from_millis(100 * (1 << i.min(4))).min(Duration::from_secs(1));
            assert!(
                *delay >= nominal && *delay <= 2 * nominal,
                "delay {i}: {delay:?} for {nominal:?}"
            );
        }
        d.reset();
        let again = d.next_delay().expect("unbounded");
        assert!(again <= Duration::from_millis(200), "{again:?}");
    }

    #[test]
    fn a_bounded_policy_stops() {
        let mut d = Backoff::new(Duration::from_millis(1), Duration::from_millis(4))
            .times(3)
            .delays();
        assert_eq!((0..5).filter_map(|_| d.next_delay()).count(), 3);
    }
}
