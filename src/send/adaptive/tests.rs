//! Unit tests of the `--rate auto` controller: each rule on its own, in explicit time.

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Sends at `rate` for `seconds` from `start`, every request answered un-throttled 1 ms later;
/// returns the last send time.
fn steady(c: &mut AdaptiveRate, start: Instant, rate: f64, seconds: f64) -> Instant {
    let n = (rate * seconds) as u64;
    let mut t = start;
    for i in 0..n {
        t = start + Duration::from_secs_f64(i as f64 / rate);
        c.on_send(t);
        c.on_answer(t, t + ms(1), Answer::Answered);
    }
    t
}

#[test]
fn starts_conservative_and_grows_while_unthrottled() {
    let mut c = AdaptiveRate::new(100.0);
    assert_eq!(c.rate(), INITIAL_RATE);
    assert_eq!(c.settled(), None);
    let t0 = Instant::now();
    let mut t = t0;
    while t < t0 + Duration::from_secs(5) {
        c.on_send(t);
        c.on_answer(t, t + ms(1), Answer::Answered);
        t += Duration::from_secs_f64(1.0 / c.rate());
    }
    assert_eq!(c.rate(), 100.0, "capped at max_rate");
}

#[test]
fn decreases_once_per_congestion_event_and_estimates_the_sent_rate() {
    let mut c = AdaptiveRate::new(1000.0);
    let t0 = Instant::now();
    // Force a known rate: 40/s sent for 2 s, the target well above it.
    c.rate = 100.0;
    let t = steady(&mut c, t0, 40.0, 2.0);
    let sent = t + ms(25);
    c.on_send(sent);
    let rate = c.on_answer(sent, sent + ms(5), Answer::Throttled { retry_after: None });
    assert!(
        (rate - 40.0 * BETA).abs() < 2.0,
        "drops to BETA x the measured 40/s, not the 100/s target: {rate}"
    );
    assert_eq!(c.events(), 1);
    // 429s for requests sent before the decrease are the same event.
    let again = c.on_answer(
        sent + ms(1),
        sent + ms(8),
        Answer::Throttled { retry_after: None },
    );
    assert_eq!(again, rate);
    assert_eq!(c.events(), 1);
    let settled = c.settled().expect("throttled once");
    assert!((settled - 40.0 * (1.0 - MARGIN)).abs() < 2.0, "{settled}");
}

#[test]
fn recovers_to_the_plateau_holds_then_probes() {
    let mut c = AdaptiveRate::new(1000.0);
    let t0 = Instant::now();
    c.rate = 50.0;
    let t = steady(&mut c, t0, 50.0, 2.0);
    c.on_answer(
        t,
        t + ms(1),
        Answer::Throttled {
            retry_after: Some(ms(1000)),
        },
    );
    let epoch = t + ms(1) + ms(1000);
    let at = |c: &mut AdaptiveRate, d: Duration| {
        let now = epoch + d;
        c.on_send(now);
        c.on_answer(now, now, Answer::Answered)
    };
    // During the Retry-After pause the target stays at the decreased rate.
    assert_eq!(at(&mut c, ms(0)), c.rate());
    let during = at(&mut c, ms(1000));
    assert!(during > 40.0 && during < 47.5, "concave recovery: {during}");
    // Keep sending at the plateau so that the measured rate allows probing.
    let plateau = 50.0 * (1.0 - MARGIN);
    let hold_end = epoch + RECOVERY + HOLD;
    steady(&mut c, epoch + RECOVERY, plateau, HOLD.as_secs_f64());
    assert!((c.rate() - plateau).abs() < 0.01, "holds: {}", c.rate());
    steady(&mut c, hold_end, plateau, 3.0);
    assert!(c.rate() > plateau * 1.05, "probes above: {}", c.rate());
}

#[test]
fn does_not_raise_the_target_far_beyond_what_is_sent() {
    let mut c = AdaptiveRate::new(1000.0);
    let t0 = Instant::now();
    // Sending is capped at 20/s (latency x concurrency); answers keep coming.
    let mut t = t0;
    for _ in 0..200 {
        c.on_send(t);
        c.on_answer(t, t + ms(1), Answer::Answered);
        t += ms(50);
    }
    assert!(c.rate() <= MEASURED_HEADROOM * 20.0 + 1.0, "{}", c.rate());
    assert!(c.rate() >= 20.0, "{}", c.rate());
}

#[test]
fn no_answer_changes_nothing_and_the_floor_holds() {
    let mut c = AdaptiveRate::new(100.0);
    let t0 = Instant::now();
    assert_eq!(c.on_answer(t0, t0 + ms(5), Answer::NoAnswer), INITIAL_RATE);
    for i in 0..50 {
        let t = t0 + ms(100 * i + 10);
        c.on_send(t);
        c.on_answer(t, t + ms(1), Answer::Throttled { retry_after: None });
    }
    assert!(c.rate() >= MIN_RATE);
    assert_eq!(
        AdaptiveRate::new(0.5).rate(),
        0.5,
        "max_rate below the start"
    );
}

#[test]
fn throttled_below_the_estimate_lowers_it_faster() {
    let mut c = AdaptiveRate::new(1000.0);
    let t0 = Instant::now();
    c.rate = 100.0;
    let t = steady(&mut c, t0, 100.0, 2.0);
    c.on_answer(t, t + ms(1), Answer::Throttled { retry_after: None });
    assert!((c.settled().unwrap() - 100.0 * (1.0 - MARGIN)).abs() < 1.5);
    // The real limit is lower: throttled again at the plateau, 95/s.
    let t = steady(&mut c, t + RECOVERY * 2, 95.0, 2.0);
    c.on_send(t + ms(10));
    c.on_answer(
        t + ms(10),
        t + ms(11),
        Answer::Throttled { retry_after: None },
    );
    // The server accepted about 95/s since the last event: the limit is at most that, and
    // the plateau goes below it.
    let settled = c.settled().unwrap();
    assert!(
        settled < 95.0 * (1.0 - MARGIN / 2.0) && settled > 70.0,
        "{settled}"
    );
    assert_eq!(c.events(), 2);
}

#[test]
fn a_probe_that_finds_the_same_limit_doubles_the_hold() {
    let mut c = AdaptiveRate::new(1000.0);
    let t0 = Instant::now();
    c.rate = 40.0;
    let t = steady(&mut c, t0, 40.0, 2.0);
    c.on_answer(t, t + ms(1), Answer::Throttled { retry_after: None });
    assert_eq!(c.hold, HOLD);
    let probe = t + RECOVERY + HOLD + Duration::from_secs(3);
    let t = steady(&mut c, probe, 40.5, 2.0);
    c.on_send(t + ms(5));
    c.on_answer(
        t + ms(5),
        t + ms(6),
        Answer::Throttled { retry_after: None },
    );
    assert_eq!(c.hold, HOLD * 2);
}

/// Sends at the controller's own rate for `seconds` from `start`; every `of`-th answer in
/// `errors` of them is a 5xx without `Retry-After`, the others succeed. Returns the highest
/// target seen and the last send time.
fn storm(
    c: &mut AdaptiveRate,
    start: Instant,
    seconds: u64,
    errors: u64,
    of: u64,
) -> (f64, Instant) {
    let (mut t, mut highest, mut i) = (start, c.rate(), 0u64);
    while t < start + Duration::from_secs(seconds) {
        c.on_send(t);
        let answer = match i % of < errors {
            true => Answer::Error,
            false => Answer::Answered,
        };
        highest = highest.max(c.on_answer(t, t + ms(20), answer));
        t += Duration::from_secs_f64(1.0 / c.rate());
        i += 1;
    }
    (highest, t)
}

#[test]
fn a_storm_of_errors_never_raises_the_rate() {
    // Issue 20, "Errors are not success": 60% of the answers are 503s without Retry-After.
    // The 40% that succeed used to raise the rate (slow start added to it at each).
    let mut c = AdaptiveRate::new(100.0);
    let (highest, _) = storm(&mut c, Instant::now(), 20, 3, 5);
    assert_eq!(highest, INITIAL_RATE, "the rate rose under 60% errors");
    // After a throttled spell too: the recovery and the probes hold while errors come.
    let mut c = AdaptiveRate::new(1000.0);
    let t0 = Instant::now();
    c.rate = 40.0;
    let t = steady(&mut c, t0, 40.0, 2.0);
    let low = c.on_answer(t, t + ms(1), Answer::Throttled { retry_after: None });
    let (highest, t) = storm(&mut c, t + ms(2), 60, 3, 5);
    assert_eq!(
        highest, low,
        "the rate rose under 60% errors after a spell: {highest} from {low}"
    );
    // Errors never lower it either; once they stop, it recovers.
    assert_eq!(c.rate(), low);
    let end = steady(&mut c, t, low, 5.0);
    assert!(
        c.rate() > low,
        "no recovery after the errors stopped: {}",
        c.rate()
    );
    // A few errors (5%, as the rehearsal's sandbox gives) do not hold slow start.
    let mut c = AdaptiveRate::new(100.0);
    let (highest, _) = storm(&mut c, end, 5, 1, 20);
    assert_eq!(highest, 100.0, "5% of errors held the rate");
}

#[test]
fn the_rate_sent_is_counted_over_the_last_second_even_from_sends_out_of_order() {
    let mut h = History::default();
    let t0 = Instant::now();
    // 5,000 a second for 3 s, then one send stamped 2 ms early (a time read just before
    // another thread's): the history stays in order and the last second holds 5,000.
    for i in 0..15_000u64 {
        h.on_send(t0 + Duration::from_micros(200 * i));
    }
    let last = t0 + Duration::from_micros(200 * 14_999);
    h.on_send(last - ms(2));
    let measured = h.measured(last + Duration::from_micros(200)).unwrap();
    assert!((measured - 5_001.0).abs() <= 2.0, "{measured}");
    // Half a second later, with nothing sent since: half as many in the last second.
    let later = h.measured(last + ms(500)).unwrap();
    assert!((later - 2_501.0).abs() <= 2.0, "{later}");
}
