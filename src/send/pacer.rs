//! The pacer: hands out send slots on a schedule measured from the start (governor's GCRA),
//! with no burst above the rate, and holds every slot while a whole-run pause (a 429 or a
//! `Retry-After`) lasts. The rate can be changed while the run goes (`--rate auto`).

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::watch;

use super::stop::Stop;

/// One rate's schedule: the limiter and the rate it was built for.
#[derive(Debug, Clone)]
struct Schedule {
    limiter: Arc<DefaultDirectRateLimiter>,
    per_second: f64,
    /// No slot of this schedule before this instant: one new period after the last slot
    /// handed out when the rate changed.
    not_before: Option<Instant>,
}

impl Schedule {
    /// A limiter that lets one request through every `1/per_second`, with no burst.
    fn new(per_second: f64) -> Schedule {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            f64::MIN_POSITIVE
        };
        // A day between slots at most: governor counts in u64 nanoseconds.
        let period = Duration::try_from_secs_f64(1.0 / per_second)
            .unwrap_or(Duration::MAX)
            .clamp(Duration::from_nanos(1), Duration::from_secs(86_400));
        let quota = Quota::with_period(period)
            .expect("the period is not zero")
            .allow_burst(NonZeroU32::MIN);
        Schedule {
            limiter: Arc::new(RateLimiter::direct(quota)),
            per_second,
            not_before: None,
        }
    }

    /// One period of this schedule.
    fn period(&self) -> Duration {
        Duration::try_from_secs_f64(1.0 / self.per_second).unwrap_or(Duration::MAX)
    }

    /// Waits for this schedule's next slot.
    async fn ready(&self) {
        if let Some(at) = self.not_before {
            tokio::time::sleep_until(at.into()).await;
        }
        self.limiter.until_ready().await;
    }
}

/// Why the run is paused and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    /// When sending may start again.
    pub until: Instant,
    /// Whether the server named the wait (`Retry-After`); otherwise it is a 429's backoff.
    pub retry_after: bool,
}

/// Hands out send slots; shared by every worker.
#[derive(Debug)]
pub struct Pacer {
    schedule: watch::Sender<Schedule>,
    /// Workers queue here for the limiter, first come first served, so that rows go out in
    /// input order (governor alone wakes its waiters in no particular order).
    queue: tokio::sync::Mutex<()>,
    pause: Mutex<Option<Pause>>,
    /// When the last slot was handed out, so that a rate change keeps the schedule's phase.
    last_slot: Mutex<Option<Instant>>,
}

impl Pacer {
    /// A pacer at `per_second` slots a second; the first slot is free, the next one period
    /// later.
    pub fn new(per_second: f64) -> Pacer {
        Pacer {
            schedule: watch::Sender::new(Schedule::new(per_second)),
            queue: tokio::sync::Mutex::new(()),
            pause: Mutex::new(None),
            last_slot: Mutex::new(None),
        }
    }

    /// The rate in slots per second.
    pub fn rate(&self) -> f64 {
        self.schedule.borrow().per_second
    }

    /// Changes the rate from now on. The next slot comes one new period after the last slot
    /// handed out (or after the switch, if none was): no burst at the switch, and no period
    /// lost either, however often the rate changes (`--rate auto` changes it on most
    /// answers). A worker waiting on the old schedule moves to the new one.
    pub fn set_rate(&self, per_second: f64) {
        let mut schedule = Schedule::new(per_second);
        let last = *self.last_slot.lock().unwrap_or_else(|p| p.into_inner());
        match last {
            Some(last) => schedule.not_before = last.checked_add(schedule.period()),
            None => {
                let _ = schedule.limiter.check();
            }
        }
        self.schedule.send_replace(schedule);
    }

    /// Pauses every slot for `wait` from now (a longer pause already set stays).
    pub fn pause(&self, wait: Duration, retry_after: bool) {
        let now = Instant::now();
        // Never an overflow, whatever a server asks: beyond any flag's bound, a pause is as
        // good as endless.
        let until = now
            .checked_add(wait)
            .unwrap_or_else(|| now + crate::cli::MAX_DURATION);
        let mut pause = self.pause.lock().unwrap_or_else(|p| p.into_inner());
        if pause.is_none_or(|p| p.until < until) {
            *pause = Some(Pause { until, retry_after });
        }
    }

    /// The pause in force now, if any.
    pub fn paused(&self) -> Option<Pause> {
        let pause = *self.pause.lock().unwrap_or_else(|p| p.into_inner());
        pause.filter(|p| p.until > Instant::now())
    }

    /// Waits for the end of any pause and for a send slot. `false` if the run stopped first.
    pub async fn slot(&self, stop: &Stop) -> bool {
        loop {
            if stop.is_stopped() {
                return false;
            }
            if let Some(pause) = self.paused() {
                tokio::select! {
                    _ = tokio::time::sleep_until(pause.until.into()) => continue,
                    _ = stop.stopped() => return false,
                }
            }
            tokio::select! {
                _ = self.next_slot() => {}
                _ = stop.stopped() => return false,
            }
            // A pause may have begun while this worker waited for its slot.
            if self.paused().is_none() {
                return !stop.is_stopped();
            }
        }
    }

    /// Waits in the queue for the next slot of the current schedule.
    async fn next_slot(&self) {
        let _turn = self.queue.lock().await;
        let mut changes = self.schedule.subscribe();
        loop {
            let schedule = changes.borrow_and_update().clone();
            tokio::select! {
                _ = schedule.ready() => {
                    *self.last_slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                    return;
                }
                changed = changes.changed() => {
                    if changed.is_err() {
                        // The pacer is gone; nothing is waiting for this slot.
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn slots(pacer: &Pacer, n: usize) -> Duration {
        let stop = Stop::default();
        let started = Instant::now();
        for _ in 0..n {
            assert!(pacer.slot(&stop).await);
        }
        started.elapsed()
    }

    #[tokio::test]
    async fn slots_follow_the_rate_with_no_burst() {
        let pacer = Pacer::new(50.0);
        // The first slot is free, each next one 20 ms later: 9 periods at least.
        let took = slots(&pacer, 10).await;
        assert!(took >= Duration::from_millis(175), "{took:?}");
        assert_eq!(pacer.rate(), 50.0);
        // Rates no schedule can keep are clamped, not a panic.
        for absurd in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300] {
            let pacer = Pacer::new(absurd);
            assert!(pacer.slot(&Stop::default()).await);
        }
    }

    #[tokio::test]
    async fn the_rate_changes_while_running() {
        let pacer = Arc::new(Pacer::new(1.0));
        slots(&pacer, 1).await;
        // A worker waits on the old schedule (its next slot is a second away)...
        let waiting = tokio::spawn({
            let pacer = pacer.clone();
            async move { slots(&pacer, 5).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        // ...and moves to the new one: five slots at 100/s, far less than five seconds.
        pacer.set_rate(100.0);
        assert_eq!(pacer.rate(), 100.0);
        let took = waiting.await.unwrap();
        assert!(took < Duration::from_millis(3_000), "{took:?}");
        // No burst at a switch: the first slot of the new schedule is taken by the switch.
        pacer.set_rate(4.0);
        let took = slots(&pacer, 2).await;
        assert!(took >= Duration::from_millis(450), "{took:?}");
    }

    #[tokio::test]
    async fn frequent_rate_changes_keep_the_schedule() {
        // `--rate auto` changes the rate on most answers: a change must not push the next
        // slot a whole period away, or changes every 5 ms at 50/s would hold every slot.
        let pacer = Arc::new(Pacer::new(50.0));
        let changer = tokio::spawn({
            let pacer = pacer.clone();
            async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    pacer.set_rate(50.0);
                }
            }
        });
        // 20 slots: 380 ms on schedule; the bound is generous for a loaded machine.
        let took = tokio::time::timeout(Duration::from_secs(5), slots(&pacer, 20)).await;
        changer.abort();
        let took = took.expect("the slots kept coming while the rate changed");
        assert!(took >= Duration::from_millis(350), "a burst: {took:?}");
    }

    #[tokio::test]
    async fn a_pause_holds_every_slot_and_a_stop_ends_the_wait() {
        let pacer = Pacer::new(1000.0);
        pacer.pause(Duration::from_millis(300), true);
        assert!(pacer.paused().is_some_and(|p| p.retry_after));
        // A shorter pause does not cut a longer one.
        pacer.pause(Duration::from_millis(10), false);
        assert!(pacer.paused().is_some_and(|p| p.retry_after));
        let took = slots(&pacer, 1).await;
        assert!(took >= Duration::from_millis(290), "{took:?}");
        let stop = Stop::default();
        pacer.pause(Duration::from_secs(60), false);
        stop.stop(super::super::stop::StopReason::Interrupted);
        assert!(!pacer.slot(&stop).await);
    }
}
