//! Backoff for the retries a function makes itself (the ones the SDK cannot make: a whole transaction, a
//! resubmitted batch): exponential, capped, with full jitter so that racing callers spread out instead of
//! colliding again.

use std::time::Duration;

/// How often and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The ceiling of the first wait; it doubles each attempt.
    pub base: Duration,
    /// No ceiling grows past this.
    pub cap: Duration,
}

impl Backoff {
    /// The wait after failed attempt `attempt` (1-based): uniform in `[0, min(cap, base * 2^(attempt-1))]`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(self.cap);
        ceiling.mul_f64(fastrand::f64())
    }

    /// Whether another attempt follows attempt `attempt`.
    pub fn again(&self, attempt: u32) -> bool {
        attempt < self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_never_exceed_it() {
        let b = Backoff {
            attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(250),
        };
        for _ in 0..200 {
            assert!(b.delay(1) <= Duration::from_millis(100));
            assert!(b.delay(2) <= Duration::from_millis(200));
            assert!(b.delay(9) <= Duration::from_millis(250));
        }
        assert!(
            (0..200).any(|_| b.delay(9) > Duration::from_millis(200)),
            "jitter spans the range"
        );
        assert!(b.again(4) && !b.again(5));
    }
}
