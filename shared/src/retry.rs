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

    /// Runs `op` (given the attempt number, from 1) until it succeeds, fails with an error `retry` declines, or
    /// the attempts run out; waits [`delay`](Self::delay) between attempts. `retry` is asked only when another
    /// attempt is allowed, so it is the place to log one.
    pub async fn retry<T, E>(
        &self,
        mut op: impl AsyncFnMut(u32) -> Result<T, E>,
        mut retry: impl FnMut(&E, u32) -> bool,
    ) -> Result<T, E> {
        let mut attempt = 1;
        loop {
            match op(attempt).await {
                Err(e) if self.again(attempt) && retry(&e, attempt) => {
                    tokio::time::sleep(self.delay(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
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

    const QUICK: Backoff = Backoff {
        attempts: 3,
        base: Duration::from_millis(1),
        cap: Duration::from_millis(2),
    };

    #[tokio::test]
    async fn retries_what_it_is_told_to_until_the_attempts_run_out() {
        let mut seen = Vec::new();
        let out: Result<(), u32> = QUICK
            .retry(
                async |attempt| Err(attempt),
                |_, attempt| {
                    seen.push(attempt);
                    true
                },
            )
            .await;
        assert_eq!((out, seen), (Err(3), vec![1, 2]));
    }

    #[tokio::test]
    async fn stops_at_success_or_at_an_error_it_must_not_retry() {
        let ok: Result<u32, &str> = QUICK
            .retry(
                async |a| if a < 2 { Err("busy") } else { Ok(a) },
                |_, _| true,
            )
            .await;
        assert_eq!(ok, Ok(2));
        let mut calls = 0;
        let fatal: Result<(), &str> = QUICK
            .retry(
                async |_| {
                    calls += 1;
                    Err("denied")
                },
                |e, _| *e != "denied",
            )
            .await;
        assert_eq!((fatal, calls), (Err("denied"), 1));
    }
}
