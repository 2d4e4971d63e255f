//! The `--rate auto` controller: finds the vendor's hidden rate limit from its answers.
//! Pure logic driven by the caller's timestamps (no clock, no sleeping), so that it can be
//! tested in simulated time; the pacer asks it for the current rate.
//!
//! How it works, in the spirit of TCP CUBIC and of the AWS SDKs' "adaptive" retry mode:
//! - **Slow start**: from [`INITIAL_RATE`], every un-throttled answer adds [`SLOW_START_GAIN`]
//!   requests/s, so the rate doubles about every 0.45 s of answers.
//! - **A congestion event** is a 429 for a request sent after the last decrease (the 429s of
//!   requests already in flight then are the same event). The limit is estimated as the rate
//!   actually sent in the second before that request (a 1-s window on the server saw the
//!   same requests), never above the target; the target drops to [`BETA`] of it.
//! - **Recovery**: a concave cubic brings the target back to [`MARGIN`] below the estimate
//!   within [`RECOVERY`]; it holds there ([`HOLD`], doubled each time a probe finds the same
//!   limit again), then probes above it along a convex cubic, so it finds a raised limit.
//! - It never raises the target into the unknown (slow start, probing) beyond
//!   [`MEASURED_HEADROOM`] times the rate actually sent in the last second: when latency or
//!   the concurrency ceiling caps sending, the target stays near what is sent.
//!
//! Wiring: call [`AdaptiveRate::on_send`] for every send slot taken (retries included) and
//! [`AdaptiveRate::on_answer`] for every attempt's outcome with its send and answer instants
//! (a `Retry-After` as the run honours it, after `--max-retry-after`), then give the pacer
//! the rate it returns. It is plain data: share it behind a mutex (the worker does, in
//! `worker.rs`; the run command builds it from `--max-rate`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The rate of the first requests, requests/s (or `max_rate` if lower).
pub const INITIAL_RATE: f64 = 5.0;
/// The lowest rate the controller goes down to, requests/s (or `max_rate` if lower).
pub const MIN_RATE: f64 = 1.0;
/// Requests/s added per un-throttled answer in slow start.
pub const SLOW_START_GAIN: f64 = 1.6;
/// The fraction of the estimated limit the target drops to on a congestion event.
pub const BETA: f64 = 0.8;
/// How far below the estimated limit the target settles.
pub const MARGIN: f64 = 0.05;
/// How long the concave recovery from `BETA` to the settled rate takes.
pub const RECOVERY: Duration = Duration::from_secs(2);
/// How long the target stays at the settled rate before probing above it, at first.
pub const HOLD: Duration = Duration::from_secs(30);
/// The longest hold, reached by doubling while probes keep finding the same limit.
pub const MAX_HOLD: Duration = Duration::from_secs(300);
/// Probing: the target grows by `PROBE_GAIN × estimate × s³` after `s` seconds of probing
/// (+3% after 2 s, +11% after 3 s).
pub const PROBE_GAIN: f64 = 0.004;
/// The target is never raised above this multiple of the rate sent in the last second.
pub const MEASURED_HEADROOM: f64 = 2.5;
/// Throttled again below the estimate: the limit is lower than thought; the new estimate is
/// this fraction of what was sent (CUBIC's "fast convergence").
const FAST_CONVERGENCE: f64 = 0.9;
/// A probe throttled within this fraction above the estimate found the same limit again.
const SAME_LIMIT: f64 = 0.1;
/// The window over which the sent rate is measured.
const WINDOW: Duration = Duration::from_secs(1);
/// A gap in sending this long starts a new measurement (a pause, a stall).
const GAP: Duration = Duration::from_millis(500);
/// The shortest measurement worth trusting.
const MIN_MEASURE: Duration = Duration::from_millis(200);
/// How long send times are kept: answers may come this long after their request.
const MAX_HISTORY: Duration = Duration::from_secs(120);

/// What came back for one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A 429, with the `Retry-After` wait if it carried one.
    Throttled {
        /// The server's `Retry-After`, as the run honours it.
        retry_after: Option<Duration>,
    },
    /// Any other HTTP answer: the server took the request at this rate.
    Answered,
    /// No HTTP answer (connection refused or reset, timeout): says nothing about the rate.
    NoAnswer,
}

/// The phase of the controller.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Doubling until the first congestion event.
    SlowStart,
    /// After a congestion event at `estimate`: back up to the settled rate from `from`,
    /// starting at `epoch` (the end of the `Retry-After` pause, if any).
    Recovery {
        epoch: Instant,
        from: f64,
        estimate: f64,
    },
}

/// The adaptive rate controller (see the module documentation).
#[derive(Debug, Clone)]
pub struct AdaptiveRate {
    max_rate: f64,
    min_rate: f64,
    rate: f64,
    phase: Phase,
    hold: Duration,
    /// 429s for requests sent before this are part of the last congestion event.
    last_decrease: Option<Instant>,
    /// Send times, oldest first, kept for `MAX_HISTORY` or the longest answer time seen.
    sends: VecDeque<Instant>,
    /// The first send after the last gap: measurements never reach back past it.
    resumed: Option<Instant>,
    /// The longest time from a send to its answer seen so far.
    longest_answer: Duration,
    events: u64,
    /// The highest target so far.
    peak: f64,
}

/// What the controller found, for the summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    /// The rate settled on after the last congestion event: what to pass as `--rate` next
    /// time; `None` if the server never throttled.
    pub settled: Option<f64>,
    /// The target at the end of the run.
    pub rate: f64,
    /// The highest target of the run.
    pub peak: f64,
    /// The ceiling (`--max-rate`).
    pub max_rate: f64,
    /// How many congestion events (decreases) there were.
    pub events: u64,
}

impl Found {
    /// Whether the target reached the `--max-rate` ceiling.
    pub fn reached_ceiling(&self) -> bool {
        self.peak >= self.max_rate * 0.999
    }
}

impl AdaptiveRate {
    /// A controller that never goes above `max_rate` requests/s.
    pub fn new(max_rate: f64) -> AdaptiveRate {
        let max_rate = if max_rate.is_finite() && max_rate > 0.0 {
            max_rate
        } else {
            INITIAL_RATE
        };
        AdaptiveRate {
            max_rate,
            min_rate: MIN_RATE.min(max_rate),
            rate: INITIAL_RATE.min(max_rate),
            phase: Phase::SlowStart,
            hold: HOLD,
            last_decrease: None,
            sends: VecDeque::new(),
            resumed: None,
            longest_answer: Duration::ZERO,
            events: 0,
            peak: INITIAL_RATE.min(max_rate),
        }
    }

    /// What the controller found so far.
    pub fn found(&self) -> Found {
        Found {
            settled: self.settled(),
            rate: self.rate,
            peak: self.peak,
            max_rate: self.max_rate,
            events: self.events,
        }
    }

    /// The current target, requests/s.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The rate settled on after the last congestion event (what to pass as `--rate` next
    /// time), or `None` if the server never throttled.
    pub fn settled(&self) -> Option<f64> {
        match self.phase {
            Phase::SlowStart => None,
            Phase::Recovery { estimate, .. } => Some(self.plateau(estimate)),
        }
    }

    /// How many congestion events (decreases) there were.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Records that a request (first attempt or retry) was sent at `at`.
    pub fn on_send(&mut self, at: Instant) {
        match self.sends.back() {
            Some(last) if at.saturating_duration_since(*last) < GAP => {}
            _ => self.resumed = Some(at),
        }
        self.sends.push_back(at);
        let keep = (self.longest_answer + WINDOW).min(MAX_HISTORY);
        while let Some(first) = self.sends.front() {
            if at.saturating_duration_since(*first) > keep {
                self.sends.pop_front();
            } else {
                break;
            }
        }
    }

    /// Takes in the answer to a request sent at `sent_at` that came back at `answered_at`,
    /// and returns the new target rate.
    pub fn on_answer(&mut self, sent_at: Instant, answered_at: Instant, answer: Answer) -> f64 {
        self.longest_answer = self
            .longest_answer
            .max(answered_at.saturating_duration_since(sent_at));
        let rate = match answer {
            Answer::NoAnswer => self.rate,
            Answer::Answered => self.grow(answered_at),
            Answer::Throttled { retry_after } => {
                let new_event = self.last_decrease.is_none_or(|d| sent_at >= d);
                if new_event {
                    self.decrease(sent_at, answered_at, retry_after)
                } else {
                    self.rate
                }
            }
        };
        self.rate = rate.clamp(self.min_rate, self.max_rate);
        self.peak = self.peak.max(self.rate);
        self.rate
    }

    /// The target after an un-throttled answer at `now`.
    fn grow(&self, now: Instant) -> f64 {
        let cap = self
            .measured(now)
            .map_or(f64::INFINITY, |m| MEASURED_HEADROOM * m);
        match self.phase {
            Phase::SlowStart => {
                if self.rate >= cap {
                    self.rate
                } else {
                    (self.rate + SLOW_START_GAIN).min(cap)
                }
            }
            Phase::Recovery {
                epoch,
                from,
                estimate,
            } => {
                let plateau = self.plateau(estimate);
                let s = now.saturating_duration_since(epoch).as_secs_f64();
                let k = RECOVERY.as_secs_f64();
                let hold = self.hold.as_secs_f64();
                if now < epoch {
                    from
                } else if s < k {
                    plateau - (plateau - from) * (1.0 - s / k).powi(3)
                } else if s < k + hold {
                    plateau
                } else {
                    let probe = plateau + PROBE_GAIN * estimate * (s - k - hold).powi(3);
                    // Probing goes into the unknown: only as far as sending keeps up.
                    probe.min(cap.max(self.rate)).max(plateau)
                }
            }
        }
    }

    /// A congestion event: a 429 for a request sent at `sent_at`, answered at `now`.
    fn decrease(&mut self, sent_at: Instant, now: Instant, retry_after: Option<Duration>) -> f64 {
        let sent = (self.sent_in_second_before(sent_at) as f64).min(self.rate);
        let estimate = match self.phase {
            // Throttled at or below the plateau: the limit is lower than estimated.
            Phase::Recovery { estimate, .. } if sent < estimate * (1.0 - MARGIN / 2.0) => {
                self.hold = HOLD;
                sent * FAST_CONVERGENCE
            }
            Phase::Recovery { estimate, .. } => {
                if sent <= estimate * (1.0 + SAME_LIMIT) {
                    self.hold = (self.hold * 2).min(MAX_HOLD);
                } else {
                    self.hold = HOLD;
                }
                sent
            }
            Phase::SlowStart => sent,
        }
        .max(self.min_rate);
        let from = (estimate * BETA).max(self.min_rate);
        self.phase = Phase::Recovery {
            epoch: now
                .checked_add(retry_after.unwrap_or(Duration::ZERO))
                .unwrap_or(now + crate::cli::MAX_DURATION),
            from,
            estimate,
        };
        self.last_decrease = Some(now);
        self.events += 1;
        tracing::debug!(
            estimate,
            from,
            hold_s = self.hold.as_secs(),
            "throttled: the limit looks like {estimate:.1}/s"
        );
        from
    }

    /// The rate to settle at below an estimated limit.
    fn plateau(&self, estimate: f64) -> f64 {
        (estimate * (1.0 - MARGIN)).clamp(self.min_rate, self.max_rate)
    }

    /// How many requests were sent in the second before `at`: what a server counting over a
    /// 1-s window had seen when it refused the request sent at `at`.
    fn sent_in_second_before(&self, at: Instant) -> usize {
        let start = at.checked_sub(WINDOW);
        self.count_sends(start, at)
    }

    /// The rate sent in the second before `at` (or since sending resumed after a gap, if that
    /// is shorter); `None` if too little was sent to tell.
    fn measured(&self, at: Instant) -> Option<f64> {
        let resumed = self.resumed?;
        let start = at.checked_sub(WINDOW).map_or(resumed, |s| s.max(resumed));
        let span = at.saturating_duration_since(start);
        if span < MIN_MEASURE {
            return None;
        }
        Some(self.count_sends(Some(start), at) as f64 / span.as_secs_f64())
    }

    /// Sends in `[start, end)` (from the oldest kept if `start` is `None`).
    fn count_sends(&self, start: Option<Instant>, end: Instant) -> usize {
        self.sends
            .iter()
            .rev()
            .skip_while(|t| **t >= end)
            .take_while(|t| start.is_none_or(|s| **t >= s))
            .count()
    }
}

#[cfg(test)]
mod simulation;

#[cfg(test)]
mod tests;
