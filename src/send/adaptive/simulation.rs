//! The controller against a simulated vendor with a hidden sliding-window rate limit, in
//! simulated time: the run's pacing (no burst, a whole-run pause on a 429, retries that hold
//! a worker), the figures the benchmark measures for real. `cargo test --lib adaptive --
//! --nocapture` prints them.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use super::{AdaptiveRate, Answer};
use crate::sandbox::{LimitSpec, Limiter};

/// One simulated run.
pub(super) struct Scenario {
    /// Requests accepted in any 1-s sliding window.
    pub(super) limit: usize,
    /// Time from a send to its answer; the server decides halfway.
    pub(super) latency: Duration,
    /// `Retry-After` on 429s, or none (the run then pauses for a backoff). With
    /// [`Window::Sandbox`], any value means the sandbox's own: the whole seconds until a
    /// request would be accepted.
    pub(super) retry_after: Option<Duration>,
    pub(super) max_rate: f64,
    pub(super) rows: usize,
    /// How the server counts.
    pub(super) window: Window,
}

/// How the simulated server enforces its limit of `limit` per second.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Window {
    /// A 1-s sliding window of the requests it accepted.
    Sliding,
    /// A 1-s sliding window of every request, refused ones included (stricter).
    SlidingAll,
    /// Calendar seconds from the start (today's sandbox).
    Fixed,
    /// A token bucket holding one second's worth, refilled continuously.
    Bucket,
    /// The sandbox's own limiter (`--rate-limit` and the `--limit-*` flags), its fixed
    /// windows starting at the run's start.
    Sandbox(LimitSpec),
}

#[derive(Debug)]
pub(super) struct Figures {
    pub(super) elapsed: f64,
    pub(super) requests: usize,
    pub(super) throttled: usize,
    pub(super) failed: usize,
    pub(super) highest_rate: f64,
    pub(super) settled: Option<f64>,
    pub(super) suggested: Option<f64>,
    pub(super) events: u64,
    /// The target at the end.
    pub(super) rate: f64,
}

/// A request in flight: (answered at, sent at, accepted, attempt, Retry-After).
type InFlight = (Instant, Instant, bool, u32, Option<Duration>);

const CONCURRENCY: usize = 64;
const RETRIES: u32 = 3;

pub(super) fn simulate(s: &Scenario) -> Figures {
    let t0 = Instant::now();
    let mut sandbox = match &s.window {
        Window::Sandbox(spec) => Some(Limiter::at_wall_clock(spec.clone(), t0, Duration::ZERO)),
        _ => None,
    };
    let mut c = AdaptiveRate::new(s.max_rate);
    let mut now = t0;
    let mut fresh = s.rows;
    // Rows waiting out a backoff, each holding a worker: (ready at, attempt number next).
    let mut sleeping: Vec<(Instant, u32)> = Vec::new();
    let mut in_flight: BinaryHeap<Reverse<InFlight>> = BinaryHeap::new();
    let mut window: VecDeque<Instant> = VecDeque::new();
    let mut tokens = s.limit as f64;
    let mut refilled = t0;
    let mut last_slot: Option<Instant> = None;
    let mut pause_until = t0;
    // SIM_TRACE=1 prints every 429 and the rate after it.
    let trace = std::env::var_os("SIM_TRACE").is_some();
    let mut f = Figures {
        elapsed: 0.0,
        requests: 0,
        throttled: 0,
        failed: 0,
        highest_rate: c.rate(),
        settled: None,
        suggested: None,
        events: 0,
        rate: 0.0,
    };
    loop {
        let workers_busy = in_flight.len() + sleeping.len();
        let row_ready = if fresh > 0 && workers_busy < CONCURRENCY {
            Some(now)
        } else {
            sleeping.iter().map(|(at, _)| *at).min()
        };
        let send_at = row_ready.map(|ready| {
            let slot = last_slot.map_or(t0, |l| l + Duration::from_secs_f64(1.0 / c.rate()));
            ready.max(slot).max(pause_until).max(now)
        });
        let next_answer = in_flight.peek().map(|Reverse(a)| a.0);
        match (send_at, next_answer) {
            (None, None) => break,
            (Some(send), answer) if answer.is_none_or(|a| send < a) => {
                now = send;
                let attempt = match sleeping.iter().position(|(at, _)| *at <= send) {
                    Some(i) => sleeping.swap_remove(i).1,
                    None => {
                        fresh -= 1;
                        1
                    }
                };
                c.on_send(now);
                last_slot = Some(now);
                f.requests += 1;
                let arrival = now + s.latency / 2;
                let mut wait = None;
                let accepted = match &s.window {
                    Window::Sandbox(_) => {
                        let limiter = sandbox.as_mut().expect("built for this window");
                        let (admitted, _) = limiter.admit(arrival);
                        wait = admitted.err();
                        wait.is_none()
                    }
                    Window::Bucket => {
                        let elapsed = arrival.duration_since(refilled).as_secs_f64();
                        tokens = (tokens + elapsed * s.limit as f64).min(s.limit as f64);
                        refilled = arrival;
                        let ok = tokens >= 1.0;
                        if ok {
                            tokens -= 1.0;
                        }
                        ok
                    }
                    Window::Fixed => {
                        let second = arrival.duration_since(t0).as_secs();
                        window.retain(|t| t.duration_since(t0).as_secs() == second);
                        window.push_back(arrival);
                        window.len() <= s.limit
                    }
                    Window::Sliding | Window::SlidingAll => {
                        while window
                            .front()
                            .is_some_and(|t| arrival.duration_since(*t) >= Duration::from_secs(1))
                        {
                            window.pop_front();
                        }
                        let ok = window.len() < s.limit;
                        if ok || s.window == Window::SlidingAll {
                            window.push_back(arrival);
                        }
                        ok
                    }
                };
                // The sandbox's Retry-After: whole seconds, rounded up.
                let retry_after = match (wait, s.retry_after) {
                    (Some(w), Some(_)) => Some(Duration::from_secs(
                        w.as_secs() + u64::from(w.subsec_nanos() > 0),
                    )),
                    _ => s.retry_after,
                };
                in_flight.push(Reverse((
                    now + s.latency,
                    now,
                    accepted,
                    attempt,
                    retry_after,
                )));
            }
            (_, None) => unreachable!("a send is always possible when no answer is due"),
            (_, Some(_)) => {
                let Reverse((answered, sent, accepted, attempt, retry_after)) =
                    in_flight.pop().expect("peeked");
                now = answered;
                if accepted {
                    c.on_answer(sent, now, Answer::Answered);
                } else {
                    f.throttled += 1;
                    c.on_answer(sent, now, Answer::Throttled { retry_after });
                    // The run's own rule: a 429 pauses every worker for Retry-After or, without
                    // it, for the row's backoff (RetryPolicy's midpoint: 0.375 s, doubling).
                    let wait = retry_after.unwrap_or_else(|| {
                        Duration::from_millis(375) * 2u32.pow(attempt.saturating_sub(1))
                    });
                    pause_until = pause_until.max(now + wait);
                    if attempt <= RETRIES {
                        sleeping.push((now + wait, attempt + 1));
                    } else {
                        f.failed += 1;
                    }
                }
                f.highest_rate = f.highest_rate.max(c.rate());
                if trace && !accepted {
                    println!(
                        "  {:7.2} s: 429 (sent {:.2} s); rate now {:.1}/s, settled {:?}",
                        now.duration_since(t0).as_secs_f64(),
                        sent.duration_since(t0).as_secs_f64(),
                        c.rate(),
                        c.settled()
                    );
                }
            }
        }
    }
    f.elapsed = now.duration_since(t0).as_secs_f64();
    f.settled = c.settled();
    f.suggested = c.suggested();
    f.events = c.events();
    f.rate = c.rate();
    f
}

#[test]
fn auto_rate_finds_hidden_limits_within_the_targets() {
    let ra = Some(Duration::from_secs(1));
    let ms = Duration::from_millis;
    // (name, limit, latency, retry_after, max_rate): the benchmark's scenarios, 20 s ideal each.
    let cases = [
        ("8/s", 8, ms(1), ra, 100.0),
        ("40/s, 150 ms latency", 40, ms(150), ra, 100.0),
        ("150/s, max-rate 1000", 150, ms(1), ra, 1000.0),
        ("40/s, no Retry-After", 40, ms(1), None, 100.0),
        ("40/s, no Retry-After, 150 ms", 40, ms(150), None, 100.0),
    ];
    let mut failures = Vec::new();
    for window in [Window::Sliding, Window::SlidingAll] {
        for (name, limit, latency, retry_after, max_rate) in cases {
            let rows = limit * 20;
            let s = Scenario {
                limit,
                latency,
                retry_after,
                max_rate,
                rows,
                window: window.clone(),
            };
            let f = simulate(&s);
            let ideal = rows as f64 / limit as f64;
            let share = f.throttled as f64 / f.requests as f64;
            println!(
                "{name:<30} {:<10} {rows:>5} rows: {:6.2} s = {:.3} x ideal {ideal:.0} s; \
                 429s {:>3}/{:<5} = {:5.2}%; events {}; settled {}; highest {:.1}/s",
                format!("{window:?}"),
                f.elapsed,
                f.elapsed / ideal,
                f.throttled,
                f.requests,
                share * 100.0,
                f.events,
                f.settled.map_or("-".into(), |r| format!("{r:.1}/s")),
                f.highest_rate,
            );
            assert_eq!(f.failed, 0, "{name}: {f:?}");
            assert!(f.highest_rate <= max_rate, "{name}: {f:?}");
            if f.elapsed > 1.25 * ideal || share > 0.03 {
                failures.push(name);
            }
        }
    }
    assert!(failures.is_empty(), "missed the targets: {failures:?}");
}

#[test]
fn auto_rate_stays_at_max_rate_below_the_limit() {
    let s = Scenario {
        limit: 1000,
        latency: Duration::from_millis(1),
        retry_after: Some(Duration::from_secs(1)),
        max_rate: 50.0,
        rows: 1000,
        window: Window::Sliding,
    };
    let f = simulate(&s);
    assert_eq!(f.throttled, 0);
    assert!(f.highest_rate <= 50.0);
    assert!(f.elapsed < 1000.0 / 50.0 * 1.25, "{f:?}");
}

#[test]
fn auto_rate_keeps_every_rate_within_its_bounds() {
    // A limit above max_rate is never searched for; a limit under the floor is not chased.
    for (limit, max_rate) in [(1000, 50.0), (1, 100.0)] {
        let s = Scenario {
            limit,
            latency: Duration::from_millis(1),
            retry_after: Some(Duration::from_secs(1)),
            max_rate,
            rows: 40,
            window: Window::Sliding,
        };
        let f = simulate(&s);
        assert!(f.highest_rate <= max_rate, "{f:?}");
        assert_eq!(f.failed, 0, "{f:?}");
    }
}

#[test]
fn auto_rate_copes_with_other_kinds_of_limit() {
    // A fixed window (today's sandbox) or a token bucket lets a burst through, so the first
    // estimate can be high; the controller must still converge and finish every row.
    let ra = Some(Duration::from_secs(1));
    for window in [Window::Fixed, Window::Bucket] {
        for (limit, latency) in [(8, 1), (40, 150), (150, 1)] {
            let rows = limit * 20;
            let s = Scenario {
                limit,
                latency: Duration::from_millis(latency),
                retry_after: ra,
                max_rate: 1000.0,
                rows,
                window: window.clone(),
            };
            let f = simulate(&s);
            let ideal = rows as f64 / limit as f64;
            let share = f.throttled as f64 / f.requests as f64;
            println!(
                "{limit:>3}/s {latency:>3} ms {:<7} {rows:>5} rows: {:6.2} s = {:.3} x ideal; \
                 429s {:>3}/{:<5} = {:5.2}%; events {}; settled {}",
                format!("{window:?}"),
                f.elapsed,
                f.elapsed / ideal,
                f.throttled,
                f.requests,
                share * 100.0,
                f.events,
                f.settled.map_or("-".into(), |r| format!("{r:.1}/s")),
            );
            assert_eq!(f.failed, 0, "{window:?} {limit}: {f:?}");
            assert!(f.elapsed < 1.6 * ideal, "{window:?} {limit}: {f:?}");
            assert!(share < 0.06, "{window:?} {limit}: {f:?}");
        }
    }
}
