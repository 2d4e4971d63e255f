//! The sandbox's hidden rate limit, in the shapes vendors run: a sliding window (no window
//! of the length, wherever it starts, holds more than the limit), a fixed wall-clock window,
//! a token bucket with a burst, a per-minute quota nested under the per-second limit, and a
//! per-second limit that changes on a schedule. Refused requests never count, as with a
//! gateway that answers 429 before the request reaches the service. What is left of the
//! budget can be announced in rate-limit headers (`headers.rs`).

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

/// How a window counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LimitShape {
    /// A sliding window: no window of the length, wherever it starts, holds more.
    #[default]
    Sliding,
    /// Fixed windows on the wall clock (each second, each minute), counted from zero.
    Fixed,
    /// A token bucket refilled at the rate, holding `--limit-burst` tokens.
    Bucket,
}

/// The whole rate limit of a sandbox, as its flags describe it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitSpec {
    /// Requests per second (the bucket's refill rate), if limited per second.
    pub per_second: Option<u32>,
    /// How the per-second limit counts.
    pub shape: LimitShape,
    /// The bucket's capacity (default: one second's worth).
    pub burst: Option<u32>,
    /// Requests per minute, nested under the per-second limit (same shape, a bucket counts
    /// the minute as a sliding window).
    pub per_minute: Option<u32>,
    /// Changes of the per-second limit: from this long after the start (or a reset), this
    /// many per second.
    pub schedule: Vec<(Duration, u32)>,
}

impl LimitSpec {
    /// Whether any limit is set.
    pub fn is_limited(&self) -> bool {
        self.per_second.is_some() || self.per_minute.is_some()
    }
}

/// What is left of the tightest window after a request, for rate-limit headers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// The window's limit.
    pub limit: u32,
    /// Requests it still accepts now.
    pub remaining: u32,
    /// Until it has its whole limit again (a fixed window's end; a sliding window's oldest
    /// request expiring; a bucket full again).
    pub reset: Duration,
    /// The window's length.
    pub window: Duration,
}

/// One window (or bucket) of a limit.
#[derive(Debug, Clone)]
enum Rule {
    Sliding {
        limit: u32,
        length: Duration,
        accepted: VecDeque<Instant>,
    },
    Fixed {
        limit: u32,
        length: Duration,
        /// The instant that is a multiple of `length` on the wall clock.
        origin: Instant,
        index: u64,
        count: u32,
    },
    Bucket {
        rate: u32,
        burst: u32,
        tokens: f64,
        at: Instant,
    },
}

impl Rule {
    /// A rule of `limit` per `length`, in `spec`'s shape (a bucket counts a minute as a
    /// sliding window), its clock starting `now` when the wall clock says `epoch`.
    fn new(spec: &LimitSpec, limit: u32, length: Duration, now: Instant, epoch: Duration) -> Rule {
        let shape = match (spec.shape, length > Duration::from_secs(1)) {
            (LimitShape::Bucket, true) => LimitShape::Sliding,
            (shape, _) => shape,
        };
        match shape {
            LimitShape::Sliding => Rule::Sliding {
                limit,
                length,
                accepted: VecDeque::new(),
            },
            LimitShape::Fixed => {
                let into =
                    Duration::from_nanos((epoch.as_nanos() % length.as_nanos().max(1)) as u64);
                Rule::Fixed {
                    limit,
                    length,
                    origin: now.checked_sub(into).unwrap_or(now),
                    index: 0,
                    count: 0,
                }
            }
            LimitShape::Bucket => {
                let burst = spec.burst.unwrap_or(limit);
                Rule::Bucket {
                    rate: limit,
                    burst,
                    tokens: f64::from(burst),
                    at: now,
                }
            }
        }
    }

    /// Brings the rule to `now`; `Err(wait)` if it has no room for a request now.
    fn check(&mut self, now: Instant) -> Result<(), Duration> {
        match self {
            Rule::Sliding {
                limit,
                length,
                accepted,
            } => {
                while accepted
                    .front()
                    .is_some_and(|t| now.saturating_duration_since(*t) >= *length)
                {
                    accepted.pop_front();
                }
                if (accepted.len() as u64) < u64::from(*limit) {
                    return Ok(());
                }
                Err(accepted
                    .front()
                    .map_or(*length, |t| (*t + *length).saturating_duration_since(now)))
            }
            Rule::Fixed {
                limit,
                length,
                origin,
                index,
                count,
            } => {
                let now_index = (now.saturating_duration_since(*origin).as_nanos()
                    / length.as_nanos().max(1)) as u64;
                if now_index != *index {
                    *index = now_index;
                    *count = 0;
                }
                if count < limit {
                    return Ok(());
                }
                Err(fixed_end(*origin, *length, *index).saturating_duration_since(now))
            }
            Rule::Bucket {
                rate,
                burst,
                tokens,
                at,
            } => {
                let elapsed = now.saturating_duration_since(*at).as_secs_f64();
                *tokens = (*tokens + elapsed * f64::from(*rate)).min(f64::from(*burst));
                *at = now;
                if *tokens >= 1.0 {
                    return Ok(());
                }
                Err(match *rate {
                    0 => Duration::from_secs(1),
                    r => Duration::from_secs_f64((1.0 - *tokens) / f64::from(r)),
                })
            }
        }
    }

    /// Counts a request accepted at `now` (after a successful `check`).
    fn take(&mut self, now: Instant) {
        match self {
            Rule::Sliding { accepted, .. } => accepted.push_back(now),
            Rule::Fixed { count, .. } => *count += 1,
            Rule::Bucket { tokens, .. } => *tokens -= 1.0,
        }
    }

    /// What is left of this rule at `now`.
    fn budget(&self, now: Instant) -> Budget {
        match self {
            Rule::Sliding {
                limit,
                length,
                accepted,
            } => Budget {
                limit: *limit,
                remaining: limit.saturating_sub(accepted.len() as u32),
                reset: accepted.front().map_or(Duration::ZERO, |t| {
                    (*t + *length).saturating_duration_since(now)
                }),
                window: *length,
            },
            Rule::Fixed {
                limit,
                length,
                origin,
                index,
                count,
            } => Budget {
                limit: *limit,
                remaining: limit.saturating_sub(*count),
                reset: fixed_end(*origin, *length, *index).saturating_duration_since(now),
                window: *length,
            },
            Rule::Bucket {
                rate,
                burst,
                tokens,
                ..
            } => Budget {
                limit: *burst,
                remaining: tokens.max(0.0).floor() as u32,
                reset: match *rate {
                    0 => Duration::ZERO,
                    r => Duration::from_secs_f64(
                        ((f64::from(*burst) - tokens) / f64::from(r)).max(0.0),
                    ),
                },
                window: Duration::from_secs_f64(f64::from(*burst) / f64::from((*rate).max(1))),
            },
        }
    }

    fn set_limit(&mut self, new: u32) {
        match self {
            Rule::Sliding { limit, .. } | Rule::Fixed { limit, .. } => *limit = new,
            Rule::Bucket { rate, .. } => *rate = new,
        }
    }
}

/// The end of fixed window number `index`.
fn fixed_end(origin: Instant, length: Duration, index: u64) -> Instant {
    origin + length.saturating_mul(u32::try_from(index + 1).unwrap_or(u32::MAX))
}

/// A sandbox's whole limit: every rule must have room for a request to be accepted.
#[derive(Debug, Clone)]
pub struct Limiter {
    spec: LimitSpec,
    started: Instant,
    per_second: Option<Rule>,
    per_minute: Option<Rule>,
}

impl Limiter {
    /// The limiter `spec` describes, its clock starting `now`, its fixed windows on the
    /// wall clock.
    pub fn new(spec: LimitSpec, now: Instant) -> Limiter {
        let epoch = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Limiter::at_wall_clock(spec, now, epoch)
    }

    /// The limiter `spec` describes, its clock starting `now`, when the wall clock says
    /// `epoch` since 1970 (its fixed windows start on whole multiples of their length).
    pub fn at_wall_clock(spec: LimitSpec, now: Instant, epoch: Duration) -> Limiter {
        let per_second = spec
            .per_second
            .map(|n| Rule::new(&spec, n, Duration::from_secs(1), now, epoch));
        let per_minute = spec
            .per_minute
            .map(|n| Rule::new(&spec, n, Duration::from_secs(60), now, epoch));
        Limiter {
            spec,
            started: now,
            per_second,
            per_minute,
        }
    }

    /// Accepts a request arriving at `now`, or tells how long until one would be accepted;
    /// with what is left of the tightest window either way. `now` never goes backwards
    /// between calls (callers hold a lock and read the clock).
    pub fn admit(&mut self, now: Instant) -> (Result<(), Duration>, Option<Budget>) {
        let scheduled = self.scheduled(now);
        if let (Some(rule), Some(limit)) = (self.per_second.as_mut(), scheduled) {
            rule.set_limit(limit);
        }
        let mut wait = None;
        for rule in [self.per_second.as_mut(), self.per_minute.as_mut()]
            .into_iter()
            .flatten()
        {
            if let Err(w) = rule.check(now) {
                wait = Some(wait.map_or(w, |old: Duration| old.max(w)));
            }
        }
        if wait.is_none() {
            for rule in [self.per_second.as_mut(), self.per_minute.as_mut()]
                .into_iter()
                .flatten()
            {
                rule.take(now);
            }
        }
        let budget = [self.per_second.as_ref(), self.per_minute.as_ref()]
            .into_iter()
            .flatten()
            .map(|rule| rule.budget(now))
            .min_by(|a, b| a.remaining.cmp(&b.remaining).then(b.reset.cmp(&a.reset)));
        (wait.map_or(Ok(()), Err), budget)
    }

    /// The per-second limit the schedule sets at `now`, if it sets one.
    fn scheduled(&self, now: Instant) -> Option<u32> {
        let since = now.saturating_duration_since(self.started);
        self.spec
            .schedule
            .iter()
            .filter(|(from, _)| *from <= since)
            .max_by_key(|(from, _)| *from)
            .map(|(_, limit)| *limit)
            .or(self.spec.per_second)
    }

    /// Forgets every request and starts the schedule again (for `/_sandbox/reset`).
    pub fn clear(&mut self, now: Instant) {
        *self = Limiter::new(self.spec.clone(), now);
    }

    /// The least time this limiter, fresh, takes to accept `n` requests from a client that
    /// knows it: each request sent the moment there is room.
    pub fn ideal(spec: &LimitSpec, n: usize) -> Duration {
        let start = Instant::now();
        let mut limiter = Limiter::at_wall_clock(spec.clone(), start, Duration::ZERO);
        let mut now = start;
        let mut last = start;
        for _ in 0..n {
            while let (Err(wait), _) = limiter.admit(now) {
                now += wait.max(Duration::from_micros(100));
            }
            last = now;
        }
        last.duration_since(start)
    }
}

#[cfg(test)]
mod tests;
