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
//! - **Errors are not success**: while errors (a 5xx without `Retry-After`, a 408) are
//!   [`ERROR_SHARE`] or more of the last [`ERROR_ANSWERS`] answers, the target does
//!   not rise; errors never lower it either. A 503 with `Retry-After` is throttling.
//! - It never raises the target into the unknown (slow start, probing) beyond
//!   [`MEASURED_HEADROOM`] times the rate actually sent in the last second: when latency or
//!   the concurrency ceiling caps sending, the target stays near what is sent.
//!
//! Wiring: call [`AdaptiveRate::on_send`] for every send slot taken (retries included) and
//! [`AdaptiveRate::on_answer`] for every attempt's outcome with its send and answer instants
//! (a `Retry-After` as the run honours it, after `--max-retry-after`), then give the pacer
//! the rate it returns. It is plain data: share it behind a mutex (the worker does, in
//! `worker.rs`; the run command builds it from `--max-rate`).

use std::time::{Duration, Instant};

use history::{History, natural_window};

use crate::client::RateBudget;

/// The rate of the first requests, requests/s (or `max_rate` if lower).
pub const INITIAL_RATE: f64 = 5.0;
/// The lowest rate the controller goes down to, requests/s (or `max_rate` if lower).
pub const MIN_RATE: f64 = 1.0;
/// Requests/s added per un-throttled answer in slow start.
pub const SLOW_START_GAIN: f64 = 1.6;
/// The fraction of the estimated limit the target drops to on a congestion event.
pub const BETA: f64 = 0.8;
/// How far below the estimated limit the target settles.
pub const MARGIN: f64 = 0.03;
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
/// While at least this share of the last [`ERROR_ANSWERS`] answers are errors (a 5xx
/// without `Retry-After`, a 408), the target does not rise: the answers that did succeed
/// among them say nothing good about a server in trouble. Errors never lower it either.
pub const ERROR_SHARE: f64 = 0.1;
/// The answers [`ERROR_SHARE`] is counted over: the last ones, however old (a time window
/// holds few answers at a low rate, and a run of successes in it raised the rate under 60%
/// of errors; a count holds a storm from its first errors, and 20 clean answers end it).
pub const ERROR_ANSWERS: usize = 20;

/// What came back for one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A 429, with the `Retry-After` wait if it carried one.
    Throttled {
        /// The server's `Retry-After`, as the run honours it.
        retry_after: Option<Duration>,
    },
    /// Any other HTTP answer below 500: the server took the request at this rate.
    Answered,
    /// A 5xx without `Retry-After` (or a 408): neither success nor throttling; the rate
    /// never climbs on errors.
    Error,
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
    /// Sends, answers, events: what the measurements come from.
    history: History,
    events: u64,
    /// Throttling answers in all.
    throttled: u64,
    /// A fixed rate: the controller only watches; its target stays at the rate.
    watching: bool,
    /// The sustained rate the last rate-limit headers announced: the target stays below it.
    announced: Option<f64>,
    /// The lowest sustained rate any rate-limit headers announced.
    lowest_announced: Option<f64>,
    /// The highest target so far.
    peak: f64,
    /// Whether each of the last [`ERROR_ANSWERS`] HTTP answers was an error.
    recent: std::collections::VecDeque<bool>,
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
            history: History::default(),
            events: 0,
            throttled: 0,
            watching: false,
            announced: None,
            lowest_announced: None,
            peak: INITIAL_RATE.min(max_rate),
            recent: std::collections::VecDeque::new(),
        }
    }

    /// A controller that only watches a run at the fixed rate `rate`: its target stays there,
    /// and it tells what the server allowed ([`AdaptiveRate::suggested`]).
    pub fn watching(rate: f64) -> AdaptiveRate {
        let mut c = AdaptiveRate::new(rate);
        c.rate = c.max_rate;
        c.peak = c.max_rate;
        c.watching = true;
        c
    }

    /// What the controller found so far.
    pub fn found(&self) -> Found {
        Found {
            settled: self.settled(),
            suggested: self.suggested(),
            longest_window: self.history.longest_window(),
            rate: self.rate,
            peak: self.peak,
            max_rate: self.max_rate,
            events: self.events,
            throttled: self.throttled,
            paused: Duration::ZERO,
            fixed: None,
            taken: self.history.accepted_after_throttling(),
            announced: self.lowest_announced,
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

    /// What to pass as `--rate` next time: the rate the server sustained, never above the
    /// settled rate (a limit that went down at the end) nor the ceiling; `None` if the run
    /// could not tell it.
    pub fn suggested(&self) -> Option<f64> {
        if let Some(announced) = self.lowest_announced {
            // The server said its policy: that, or less if it accepted less.
            let measured = self.history.suggest().unwrap_or(f64::INFINITY);
            return Some(announced.min(measured).min(self.max_rate));
        }
        let settled = self.settled()?;
        let sustained = self.history.suggest()?;
        if self.watching {
            return Some(sustained.min(self.max_rate));
        }
        Some(sustained.min(settled).min(self.max_rate))
    }

    /// How many congestion events (decreases) there were.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Takes in the budget an answer's rate-limit headers announce: the target stays below
    /// the sustained rate of the policy (the limit over the window: said, or the one its reset
    /// falls in), so that the budget is not exhausted; it starts there if it was lower. The
    /// worker pauses the run when nothing is left ([`crate::client::RateBudget::remaining`]).
    pub fn on_budget(&mut self, budget: &RateBudget) {
        let window = budget
            .window
            .unwrap_or_else(|| natural_window(budget.reset));
        self.history.saw_window(window);
        let Some(sustained) = budget.sustained(window) else {
            return;
        };
        self.announced = Some(sustained);
        self.lowest_announced = Some(
            self.lowest_announced
                .map_or(sustained, |l| l.min(sustained)),
        );
        if self.watching {
            return;
        }
        let target = (sustained * (1.0 - MARGIN)).clamp(self.min_rate, self.max_rate);
        if self.phase == Phase::SlowStart && self.rate < target {
            self.rate = target;
        }
        self.rate = self.rate.min(target);
        self.peak = self.peak.max(self.rate);
    }

    /// Records that a request (first attempt or retry) was sent at `at`.
    pub fn on_send(&mut self, at: Instant) {
        self.history.on_send(at);
    }

    /// Takes in the answer to a request sent at `sent_at` that came back at `answered_at`,
    /// and returns the new target rate.
    pub fn on_answer(&mut self, sent_at: Instant, answered_at: Instant, answer: Answer) -> f64 {
        let accepted = answer == Answer::Answered;
        let throttled = matches!(answer, Answer::Throttled { .. });
        self.history
            .on_answer(sent_at, answered_at, accepted, throttled);
        if answer != Answer::NoAnswer {
            self.recent.push_back(answer == Answer::Error);
            if self.recent.len() > ERROR_ANSWERS {
                self.recent.pop_front();
            }
        }
        let rate = match answer {
            Answer::NoAnswer | Answer::Error => self.rate,
            Answer::Answered if self.erring() => self.rate,
            Answer::Answered => self.grow(answered_at),
            Answer::Throttled { retry_after } => {
                self.throttled += 1;
                if let Some(wait) = retry_after {
                    self.history.saw_window(wait);
                }
                let new_event = self.last_decrease.is_none_or(|d| sent_at >= d);
                if new_event {
                    self.decrease(sent_at, answered_at, retry_after)
                } else {
                    self.rate
                }
            }
        };
        let ceiling = self
            .announced
            .map_or(self.max_rate, |a| (a * (1.0 - MARGIN)).min(self.max_rate));
        self.rate = match self.watching {
            true => self.max_rate,
            false => rate.clamp(self.min_rate.min(ceiling), ceiling),
        };
        self.peak = self.peak.max(self.rate);
        self.rate
    }

    /// Whether errors are at least [`ERROR_SHARE`] of the last [`ERROR_ANSWERS`] answers:
    /// the server is in trouble, and the target holds.
    fn erring(&self) -> bool {
        let errors = self.recent.iter().filter(|error| **error).count();
        errors > 0 && errors as f64 >= ERROR_SHARE * self.recent.len() as f64
    }

    /// The target after an un-throttled answer at `now`.
    fn grow(&self, now: Instant) -> f64 {
        let cap = self
            .history
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
        // What a server counting over a 1-s window had seen when it refused the request; with
        // too little sent to tell (right after a pause), what the target was.
        let sent = self
            .history
            .measured(sent_at)
            .unwrap_or(self.rate)
            .min(self.rate);
        // What the server accepted since the last event: a burst it let through (a token
        // bucket's) is not in it.
        let accepted = self.history.on_event(sent_at, now);
        let estimate = match self.phase {
            // Throttled before probing, or at or below the plateau: the limit is lower than
            // estimated (a burst inflated the estimate, or the limit went down).
            Phase::Recovery {
                epoch, estimate, ..
            } if sent < estimate * (1.0 - MARGIN / 2.0)
                || sent_at < epoch + RECOVERY + self.hold =>
            {
                self.hold = HOLD;
                match accepted {
                    Some(accepted) => accepted.min(sent),
                    None => sent * FAST_CONVERGENCE,
                }
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
        if let Phase::Recovery { estimate: old, .. } = self.phase
            && (estimate - old).abs() > old * SAME_LIMIT
        {
            self.history.limit_changed();
        }
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
}

mod found;
mod history;

pub use found::Found;

#[cfg(test)]
mod shapes;
#[cfg(test)]
mod simulation;

#[cfg(test)]
mod tests;
