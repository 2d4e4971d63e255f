//! Which failures are retried, the backoff schedule between attempts, and `Retry-After`.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// The retry settings of a run.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt (`--retries`).
    pub retries: u32,
    /// The first backoff before jitter.
    pub base: Duration,
    /// The longest backoff.
    pub cap: Duration,
    /// The longest `Retry-After` the run waits for; a longer one stops it (a quota, exit 7).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 3,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// Whether a row that has made `attempts` attempts may make another.
    pub fn may_retry(&self, attempts: u32) -> bool {
        attempts <= self.retries
    }

    /// The wait before retry number `retry` (1 for the first retry): exponential, capped,
    /// with "equal jitter" (half fixed, half random) so that rows failing together do not
    /// retry together, yet no retry comes immediately.
    pub fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let exponential = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)))
            .min(self.cap);
        let half = exponential / 2;
        half + half.mul_f64(rng.random::<f64>())
    }

    /// Cuts a server's `Retry-After` to the longest wait the run accepts.
    pub fn cap_retry_after(&self, wait: Duration) -> Duration {
        wait.min(self.max_retry_after)
    }
}

/// Whether an HTTP status is a transient failure worth retrying.
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date (a date in the past means
/// no wait).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        if seconds.is_finite() && seconds >= 0.0 {
            return Some(Duration::from_secs_f64(seconds.min(1e9)));
        }
        return None;
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn transient_statuses_are_the_documented_ones() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_transient_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 422, 501, 505] {
            assert!(!is_transient_status(s), "{s}");
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered_within_bounds() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
            ..Default::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for retry in 1..=10 {
            let full = Duration::from_millis((100u64 << (retry - 1)).min(1000));
            for _ in 0..50 {
                let wait = policy.backoff(retry, &mut rng);
                assert!(
                    wait >= full / 2 && wait <= full,
                    "retry {retry}: {wait:?} outside {full:?}"
                );
            }
        }
        assert!(policy.backoff(u32::MAX, &mut rng) <= Duration::from_millis(1000));
    }

    #[test]
    fn retries_are_counted_from_the_first_attempt() {
        let policy = RetryPolicy {
            retries: 2,
            ..Default::default()
        };
        assert!(policy.may_retry(1));
        assert!(policy.may_retry(2));
        assert!(!policy.may_retry(3));
        let none = RetryPolicy {
            retries: 0,
            ..Default::default()
        };
        assert!(!none.may_retry(1));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(" 1.5 ", now),
            Some(Duration::from_millis(1500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.cap_retry_after(Duration::from_secs(86_400)),
            Duration::from_secs(300)
        );
    }
}
