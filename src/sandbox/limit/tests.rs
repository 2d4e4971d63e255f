//! The limiter's shapes, each against its definition.

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn spec(per_second: u32, shape: LimitShape) -> LimitSpec {
    LimitSpec {
        per_second: Some(per_second),
        shape,
        ..LimitSpec::default()
    }
}

/// How many of `arrivals` (offsets from `start`) are accepted.
fn accepted(
    limiter: &mut Limiter,
    start: Instant,
    arrivals: impl Iterator<Item = u64>,
) -> Vec<u64> {
    arrivals
        .filter(|at| limiter.admit(start + ms(*at)).0.is_ok())
        .collect()
}

#[test]
fn a_sliding_window_limits_any_second_wherever_it_starts() {
    // A fixed window per calendar second would accept 3 at 0.9 s and 3 more at 1.1 s.
    let start = Instant::now();
    let mut limiter = Limiter::new(spec(3, LimitShape::Sliding), start);
    for _ in 0..3 {
        assert!(limiter.admit(start + ms(900)).0.is_ok());
    }
    assert_eq!(limiter.admit(start + ms(1100)).0, Err(ms(800)));
    assert_eq!(limiter.admit(start + ms(1899)).0, Err(ms(1)));
    assert!(limiter.admit(start + ms(1900)).0.is_ok());
    // A request every 37 ms for 5 s: never more than 4 in a second, about 4 a second.
    let mut limiter = Limiter::new(spec(4, LimitShape::Sliding), start);
    let ok = accepted(&mut limiter, start, (0..135).map(|i| i * 37));
    for (i, first) in ok.iter().enumerate() {
        let within = ok[i..].iter().take_while(|at| **at - first < 1000).count();
        assert!(within <= 4, "{within} accepted within 1 s of #{i}");
    }
    assert!(ok.len() >= 18, "{}", ok.len());
}

#[test]
fn refused_requests_do_not_count_and_zero_refuses_all() {
    let start = Instant::now();
    let mut limiter = Limiter::new(spec(1, LimitShape::Sliding), start);
    assert!(limiter.admit(start).0.is_ok());
    for i in 1..10 {
        assert!(limiter.admit(start + ms(i * 50)).0.is_err());
    }
    assert!(limiter.admit(start + ms(1000)).0.is_ok());
    let mut closed = Limiter::new(spec(0, LimitShape::Sliding), start);
    assert_eq!(closed.admit(start).0, Err(Duration::from_secs(1)));
    limiter.clear(start + ms(1001));
    assert!(limiter.admit(start + ms(1001)).0.is_ok());
}

#[test]
fn a_fixed_window_counts_calendar_seconds() {
    let start = Instant::now();
    let mut limiter = Limiter::new(spec(5, LimitShape::Fixed), start);
    // 100 requests, one every 10 ms: at most 5 in each wall-clock second, 5 a second in all.
    let ok = accepted(&mut limiter, start, (0..400).map(|i| i * 10));
    assert!((15..=25).contains(&ok.len()), "{}", ok.len());
    let (_, budget) = limiter.admit(start + ms(4000));
    let budget = budget.unwrap();
    assert_eq!(budget.limit, 5);
    assert!(budget.reset <= Duration::from_secs(1), "{budget:?}");
}

#[test]
fn a_token_bucket_lets_its_burst_through_then_the_rate() {
    let start = Instant::now();
    let mut limiter = Limiter::new(
        LimitSpec {
            burst: Some(100),
            ..spec(10, LimitShape::Bucket)
        },
        start,
    );
    // 1,000 requests at once: the burst of 100 only.
    let ok = accepted(&mut limiter, start, std::iter::repeat_n(0, 1000));
    assert_eq!(ok.len(), 100);
    // Then 50/s for 10 s: the refill, 10/s.
    let ok = accepted(&mut limiter, start, (1..=500).map(|i| i * 20));
    assert!((99..=101).contains(&ok.len()), "{}", ok.len());
    let (refused, budget) = limiter.admit(start + ms(10_000));
    assert!(refused.is_err());
    assert_eq!(budget.unwrap().remaining, 0);
}

#[test]
fn a_minute_quota_nested_under_the_second_limit() {
    let start = Instant::now();
    let mut limiter = Limiter::new(
        LimitSpec {
            per_minute: Some(120),
            ..spec(50, LimitShape::Fixed)
        },
        start,
    );
    // 40/s for 60 s: the minute quota of 120 holds it to 120 in every wall-clock minute.
    let ok = accepted(&mut limiter, start, (0..2400).map(|i| i * 25));
    assert!((120..=240).contains(&ok.len()), "{}", ok.len());
    // A refusal by the minute quota asks for a long wait, and the headers show the minute.
    let mut limiter = Limiter::new(
        LimitSpec {
            per_minute: Some(3),
            ..spec(50, LimitShape::Sliding)
        },
        start,
    );
    let ok = accepted(&mut limiter, start, (0..10).map(|i| i * 10));
    assert_eq!(ok.len(), 3);
    let (refused, budget) = limiter.admit(start + ms(200));
    assert_eq!(refused, Err(ms(59_800)));
    let budget = budget.unwrap();
    assert_eq!((budget.limit, budget.remaining), (3, 0));
    assert_eq!(budget.window, Duration::from_secs(60));
}

#[test]
fn the_limit_follows_its_schedule() {
    let start = Instant::now();
    let mut limiter = Limiter::new(
        LimitSpec {
            schedule: vec![(Duration::from_secs(2), 2), (Duration::from_secs(4), 8)],
            ..spec(4, LimitShape::Sliding)
        },
        start,
    );
    let per_second: Vec<usize> = (0..6u64)
        .map(|s| accepted(&mut limiter, start, (0..100).map(|i| s * 1000 + i * 10)).len())
        .collect();
    assert_eq!(per_second, vec![4, 4, 2, 2, 8, 8]);
}
