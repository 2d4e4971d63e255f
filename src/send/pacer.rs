//! The pacer: hands out send slots on a schedule measured from the start (each slot one
//! period after the one before, not after the moment it was taken, so the rate does not
//! drift), with no burst above the rate, and holds every slot while a whole-run pause (a 429
//! or a `Retry-After`) lasts. The rate can be changed while the run goes (`--rate auto`).
//!
//! Not `governor`: its limiter has one quota for life, and `--rate auto` changes the rate on
//! most answers, so it had to be rebuilt at every change, and its `until_ready` woke every
//! waiting worker to race for each slot. The whole schedule here is "the next slot is one
//! period after the last" (GCRA with a burst of one), a few lines that a rate change only
//! reads differently; workers queue for it in order and one timer runs at a time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::stop::Stop;

/// How late a slot may be taken and still keep the schedule: tokio's timer wakes up on the
/// next millisecond.
///
/// Measured (BENCHMARKS.md, section 3): on a virtual machine whose wake-ups are often later
/// than this, the restarts make `--rate 100` send about 95 a second. Keeping the schedule
/// through wake-ups up to half a period late sent 99.5 to 99.9 a second, but a slot taken late
/// followed by slots on time puts more than the rate into some 1-s window: at exactly the
/// limit of a sliding window of 30/s, 19 answers 429 of 619 and twice the time, against none.
/// A few percent slower is the safer side for a tool whose operators set `--rate` to the
/// vendor's limit.
const LATE: Duration = Duration::from_millis(1);

/// One period at `per_second`: a day at most (an absurd rate is clamped, not a panic).
fn period_of(per_second: f64) -> Duration {
    Duration::try_from_secs_f64(1.0 / per_second)
        .unwrap_or(Duration::MAX)
        .clamp(Duration::from_nanos(1), Duration::from_secs(86_400))
}

/// A rate any schedule can keep: positive and finite.
fn sane(per_second: f64) -> f64 {
    if per_second.is_finite() && per_second > 0.0 {
        per_second
    } else {
        f64::MIN_POSITIVE
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
    /// The rate in slots per second; a change wakes the worker waiting for its slot.
    rate: watch::Sender<f64>,
    /// Workers queue here for their slot, first come first served, so that rows go out in
    /// input order and only the first in line waits on a timer.
    queue: tokio::sync::Mutex<()>,
    pause: Mutex<Option<Pause>>,
    /// When the last slot was due: the next is one period later.
    last_slot: Mutex<Option<Instant>>,
    /// How long the run was paused in all (overlapping pauses counted once).
    paused_total: Mutex<Duration>,
}

impl Pacer {
    /// A pacer at `per_second` slots a second; the first slot is free, the next one period
    /// later.
    pub fn new(per_second: f64) -> Pacer {
        Pacer {
            rate: watch::Sender::new(sane(per_second)),
            queue: tokio::sync::Mutex::new(()),
            pause: Mutex::new(None),
            last_slot: Mutex::new(None),
            paused_total: Mutex::new(Duration::ZERO),
        }
    }

    /// How long the run was paused in all so far (overlapping pauses counted once; a pause
    /// going on counted to its end).
    pub fn paused_total(&self) -> Duration {
        *self.paused_total.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The rate in slots per second.
    pub fn rate(&self) -> f64 {
        *self.rate.borrow()
    }

    /// Changes the rate from now on. The next slot comes one new period after the last slot
    /// (or at once, if none was handed out): no burst at the switch, and no period lost
    /// either, however often the rate changes (`--rate auto` changes it on most answers). A
    /// worker waiting for its slot moves to the new rate.
    pub fn set_rate(&self, per_second: f64) {
        self.rate.send_replace(sane(per_second));
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
            let from = pause.map_or(now, |p| p.until.max(now));
            *self.paused_total.lock().unwrap_or_else(|p| p.into_inner()) +=
                until.saturating_duration_since(from);
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

    /// Waits in the queue for the next slot: one period after the last one was due. A slot
    /// taken late by at most [`LATE`] (the timer's granularity) keeps the schedule, so that
    /// wake-up delays do not add up to a slower rate; a later one (a loaded machine, an idle
    /// run, a pause) starts it again from now: no catching up, so that no two slots are ever
    /// closer than a period less [`LATE`], and a server counting over any window never sees
    /// more than the rate (a catch-up after a late wake-up cost 17 answers 429 at exactly the
    /// limit of a sliding window, on a loaded machine).
    async fn next_slot(&self) {
        let _turn = self.queue.lock().await;
        let mut changes = self.rate.subscribe();
        loop {
            let period = period_of(*changes.borrow_and_update());
            let due = {
                // Tokio's clock, so that tests can pause it.
                let now = tokio::time::Instant::now().into_std();
                let mut last = self.last_slot.lock().unwrap_or_else(|p| p.into_inner());
                let due = last.and_then(|l| l.checked_add(period)).unwrap_or(now);
                if due <= now {
                    *last = Some(match now.saturating_duration_since(due) <= LATE {
                        true => due,
                        false => now,
                    });
                    return;
                }
                due
            };
            tokio::select! {
                _ = tokio::time::sleep_until(due.into()) => {}
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
    use std::sync::Arc;

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

    #[tokio::test(start_paused = true)]
    async fn the_schedule_is_measured_from_the_start() {
        // Each worker takes 3 ms after its slot before asking for the next (sending): slots
        // still come every 20 ms from the first, not every 23 ms.
        let pacer = Pacer::new(50.0);
        let stop = Stop::default();
        let started = tokio::time::Instant::now();
        for _ in 0..101 {
            assert!(pacer.slot(&stop).await);
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(2000) && took < Duration::from_millis(2010),
            "{took:?}"
        );
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
        // Overlapping pauses count once.
        let total = pacer.paused_total();
        assert!(
            total >= Duration::from_millis(300) && total < Duration::from_millis(400),
            "{total:?}"
        );
        let stop = Stop::default();
        pacer.pause(Duration::from_secs(60), false);
        stop.stop(super::super::stop::StopReason::Interrupted);
        assert!(!pacer.slot(&stop).await);
    }
}
