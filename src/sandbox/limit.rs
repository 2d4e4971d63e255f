//! The sandbox's hidden rate limit: a sliding one-second window over the requests it
//! accepted, so that no second, wherever it starts, holds more than the limit.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The window's length.
const WINDOW: Duration = Duration::from_secs(1);

/// Accepts at most `limit` requests in any window of one second (a sliding log: the times of
/// the requests accepted in the last second). Refused requests do not count, as with a
/// gateway that answers 429 before the request reaches the service.
#[derive(Debug, Clone)]
pub(super) struct SlidingWindow {
    limit: u32,
    accepted: VecDeque<Instant>,
}

impl SlidingWindow {
    /// A window that accepts `limit` requests per second (0 refuses every request).
    pub(super) fn new(limit: u32) -> SlidingWindow {
        SlidingWindow {
            limit,
            accepted: VecDeque::new(),
        }
    }

    /// Accepts a request arriving at `now`, or tells how long until one would be accepted.
    /// `now` never goes backwards between calls (callers hold a lock and read the clock).
    pub(super) fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        while let Some(&oldest) = self.accepted.front() {
            if now.saturating_duration_since(oldest) >= WINDOW {
                self.accepted.pop_front();
            } else {
                break;
            }
        }
        if (self.accepted.len() as u64) < u64::from(self.limit) {
            self.accepted.push_back(now);
            return Ok(());
        }
        Err(match self.accepted.front() {
            Some(&oldest) => (oldest + WINDOW).saturating_duration_since(now),
            None => WINDOW,
        })
    }

    /// Forgets every request (for `/_sandbox/reset`).
    pub(super) fn clear(&mut self) {
        self.accepted.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_burst_across_a_second_boundary_is_still_limited() {
        // A fixed window per calendar second would accept 3 at 0.9 s and 3 more at 1.1 s.
        let start = Instant::now();
        let mut window = SlidingWindow::new(3);
        for _ in 0..3 {
            assert!(window.admit(start + ms(900)).is_ok());
        }
        assert_eq!(window.admit(start + ms(1100)), Err(ms(800)));
        assert_eq!(window.admit(start + ms(1899)), Err(ms(1)));
        assert!(window.admit(start + ms(1900)).is_ok());
    }

    #[test]
    fn no_one_second_window_holds_more_than_the_limit() {
        let start = Instant::now();
        let mut window = SlidingWindow::new(4);
        let mut accepted = Vec::new();
        // A request every 37 ms for 5 s.
        for i in 0..135u64 {
            let at = start + ms(i * 37);
            if window.admit(at).is_ok() {
                accepted.push(at);
            }
        }
        for (i, first) in accepted.iter().enumerate() {
            let within = accepted[i..]
                .iter()
                .take_while(|at| at.duration_since(*first) < WINDOW)
                .count();
            assert!(within <= 4, "{within} accepted within 1 s of #{i}");
        }
        // And it is not simply refusing: about 4 per second over 5 s.
        assert!(accepted.len() >= 18, "{}", accepted.len());
    }

    #[test]
    fn refused_requests_do_not_count_and_zero_refuses_all() {
        let start = Instant::now();
        let mut window = SlidingWindow::new(1);
        assert!(window.admit(start).is_ok());
        for i in 1..10 {
            assert!(window.admit(start + ms(i * 50)).is_err());
        }
        assert!(window.admit(start + ms(1000)).is_ok());
        let mut closed = SlidingWindow::new(0);
        assert_eq!(closed.admit(start), Err(WINDOW));
        window.clear();
        assert!(window.admit(start + ms(1001)).is_ok());
    }
}
