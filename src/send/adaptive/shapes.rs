//! The controller against the sandbox's own limiter in each shape vendors run, in simulated
//! time: the time against the least the limiter allows, the share of 429s, the settled rate
//! and the suggestion for next time against the true sustained limit. `cargo test --lib
//! shapes -- --nocapture` prints the figures.

use std::time::Duration;

use super::simulation::{Figures, Scenario, Window, simulate};
use crate::sandbox::{LimitShape, LimitSpec, Limiter};

/// One shape: its limiter, the sustained limit at the end of the run, the rows.
struct Shape {
    name: &'static str,
    spec: LimitSpec,
    /// The rate the limiter sustains (at the end of the run, for a schedule).
    sustained: f64,
    rows: usize,
    latency_ms: u64,
}

fn per_second(n: u32, shape: LimitShape) -> LimitSpec {
    LimitSpec {
        per_second: Some(n),
        shape,
        ..LimitSpec::default()
    }
}

/// Runs `shape` and prints its figures; returns them with the ideal time in seconds.
fn run(shape: &Shape) -> (Figures, f64) {
    let scenario = Scenario {
        limit: 0,
        latency: Duration::from_millis(shape.latency_ms),
        retry_after: Some(Duration::from_secs(1)),
        max_rate: 1000.0,
        rows: shape.rows,
        window: Window::Sandbox(shape.spec.clone()),
    };
    let f = simulate(&scenario);
    let ideal = Limiter::ideal(&shape.spec, shape.rows).as_secs_f64();
    println!(
        "{:<34} {:>5} rows: {:7.2} s = {:.3} x ideal {ideal:6.1} s; 429s {:>3}/{:<5} = {:5.2}%; \
         settled {}; suggested {} (sustained {}/s); final {:.1}/s",
        shape.name,
        shape.rows,
        f.elapsed,
        f.elapsed / ideal,
        f.throttled,
        f.requests,
        100.0 * f.throttled as f64 / f.requests as f64,
        f.settled.map_or("-".into(), |r| format!("{r:.1}/s")),
        f.suggested.map_or("-".into(), |r| format!("{r:.1}/s")),
        shape.sustained,
        f.rate,
    );
    (f, ideal)
}

/// The shapes of issue 20, each about 40-60 s of ideal work.
fn shapes() -> Vec<Shape> {
    vec![
        Shape {
            name: "sliding 30/s",
            spec: per_second(30, LimitShape::Sliding),
            sustained: 30.0,
            rows: 1200,
            latency_ms: 20,
        },
        Shape {
            name: "token bucket 40/s, burst 40",
            spec: per_second(40, LimitShape::Bucket),
            sustained: 40.0,
            rows: 1600,
            latency_ms: 20,
        },
        Shape {
            name: "token bucket 10/s, burst 100",
            spec: LimitSpec {
                burst: Some(100),
                ..per_second(10, LimitShape::Bucket)
            },
            sustained: 10.0,
            rows: 500,
            latency_ms: 20,
        },
        Shape {
            name: "fixed window 40/s",
            spec: per_second(40, LimitShape::Fixed),
            sustained: 40.0,
            rows: 1600,
            latency_ms: 20,
        },
        Shape {
            name: "50/s and 1,200/min (fixed)",
            spec: LimitSpec {
                per_minute: Some(1200),
                ..per_second(50, LimitShape::Fixed)
            },
            sustained: 20.0,
            rows: 3000,
            latency_ms: 20,
        },
        Shape {
            name: "40/s, 15/s from 20 s, 60/s from 50 s",
            spec: LimitSpec {
                schedule: vec![(Duration::from_secs(20), 15), (Duration::from_secs(50), 60)],
                ..per_second(40, LimitShape::Sliding)
            },
            sustained: 60.0,
            rows: 3000,
            latency_ms: 20,
        },
    ]
}

#[test]
fn every_shape_settles_near_its_limit_and_the_suggestion_is_never_above_it() {
    for shape in shapes() {
        let (f, ideal) = run(&shape);
        let name = shape.name;
        let limit = shape.sustained;
        assert_eq!(f.failed, 0, "{name}: {f:?}");
        // The suggestion: never above the sustained limit, not below 85% of it; or nothing
        // where no clean span covered 8 of the longest windows: the per-minute quota, and a
        // bucket whose refill during each pause keeps the estimate a little high, so that the
        // 429s come every few seconds all through a 40-s run.
        let nested = shape.spec.per_minute.is_some();
        let bucket = shape.spec.shape == LimitShape::Bucket;
        match f.suggested {
            Some(s) => assert!(
                s <= limit && s >= 0.85 * limit,
                "{name}: suggested {s}/s for a sustained {limit}/s"
            ),
            None => assert!(nested || bucket, "{name}: no suggestion"),
        }
        // The settled rate: near the limit it follows (the per-second one under a quota,
        // which the run's pauses keep to the quota: the time below says so).
        let settled = f.settled.expect("throttled at least once");
        let near = if nested { 50.0 } else { limit };
        assert!(
            settled >= 0.85 * near && settled <= 1.15 * near,
            "{name}: settled at {settled}/s, limit {near}/s"
        );
        // Time and 429s: the targets (1.10 x ideal, under 1%) hold in the benchmark's longer
        // runs; a 40-s simulated run carries the start and one Retry-After pause per probe
        // (about 1.12 x), the 10/s bucket's burst of 100 costs about 15 throttled spells to
        // converge (3.7% of 520 requests), and a limit raised 4x is found one hold later.
        let (time, share) = match name {
            n if n.contains("burst 100") => (1.10, 0.04),
            n if n.contains("from 50 s") => (1.25, 0.01),
            _ => (1.13, 0.01),
        };
        assert!(
            f.elapsed <= time * ideal,
            "{name}: {:.3} x ideal",
            f.elapsed / ideal
        );
        assert!(
            f.throttled as f64 <= share * f.requests as f64,
            "{name}: {} 429s of {}",
            f.throttled,
            f.requests
        );
    }
}

#[test]
fn a_5xx_storm_never_raises_the_rate() {
    use super::{AdaptiveRate, Answer};
    use std::time::Instant;
    let t0 = Instant::now();
    let mut c = AdaptiveRate::new(100.0);
    let start = c.rate();
    for i in 0..200u64 {
        let t = t0 + Duration::from_millis(10 * i);
        c.on_send(t);
        c.on_answer(t, t + Duration::from_millis(1), Answer::Error);
    }
    assert_eq!(c.rate(), start, "errors are not success");
    assert_eq!(c.events(), 0, "nor throttling");
}
