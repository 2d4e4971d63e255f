//! The summary's words on the rate: what `--rate auto` found and the rate to pass next time,
//! a fixed rate the server throttled, and a quota that stopped the run.

use serde_json::{Value, json};

use crate::send::Quota;
use crate::send::adaptive::Found;

/// The summary's `Rate:` line: what `--rate auto` found, or, at a fixed rate the server
/// throttled, how much and what it allowed; `None` at a fixed rate never throttled.
pub(super) fn describe_rate(found: &Found) -> Option<String> {
    match found.fixed {
        Some(fixed) if found.throttled > 0 => Some(describe_fixed_rate(fixed, found)),
        Some(_) => None,
        None => Some(describe_auto_rate(found)),
    }
}

/// A fixed rate the server throttled: how many 429s, how long paused, what it allowed.
fn describe_fixed_rate(fixed: f64, found: &Found) -> String {
    let mut what = format!(
        "fixed at {fixed}/s, faster than the server allows: {} answer(s) were 429 and the run \
         was paused {} in all",
        found.throttled,
        crate::text::human_duration(found.paused),
    );
    if let Some(taken) = found.taken {
        what.push_str(&format!(
            "; once it began to throttle, the server took {taken:.1}/s"
        ));
    }
    match found.suggested {
        Some(allowed) => format!(
            "{what}; the server allowed {:.1}/s — pass --rate {} next time (or --rate auto)",
            floor_tenth(allowed),
            rate_flag(allowed)
        ),
        None => format!(
            "{what}; what the server sustains could not be told from this run (too short after \
             the first 429) — pass --rate auto next time to find it"
        ),
    }
}

/// What `--rate auto` found, and what to pass as `--rate` next time.
fn describe_auto_rate(found: &Found) -> String {
    if let Some(announced) = found.announced {
        let advice = match found.suggested {
            Some(s) => format!("pass --rate {} next time", rate_flag(s)),
            None => "use --rate auto again".to_string(),
        };
        return format!(
            "auto, paced from the server's rate-limit headers (its policy allows {:.1}/s); \
             {} answer(s) were 429 — {advice}",
            floor_tenth(announced),
            found.throttled
        );
    }
    match (found.settled, found.suggested) {
        (Some(settled), Some(suggested)) => format!(
            "auto, settled at {settled:.1}/s after {} throttled spell(s); the server sustained \
             {:.1}/s over its longest window ({}) — pass --rate {} next time",
            found.events,
            floor_tenth(suggested),
            crate::text::human_duration(found.longest_window),
            rate_flag(suggested)
        ),
        (Some(settled), None) => format!(
            "auto, settled at {settled:.1}/s after {} throttled spell(s); no rate to suggest for \
             next time: the run was too short after the first throttling to measure what the \
             server sustains over its longest window ({}) — use --rate auto again",
            found.events,
            crate::text::human_duration(found.longest_window),
        ),
        (None, _) if found.reached_ceiling() => format!(
            "auto, the server never throttled: its limit was not found, and the ceiling \
             --max-rate {:.1}/s was reached — pass --rate {} next time, or a higher --max-rate \
             to look further",
            found.max_rate,
            rate_flag(found.max_rate)
        ),
        (None, _) => format!(
            "auto, the server never throttled: its limit was not found, and the ceiling \
             --max-rate {:.1}/s was not reached (it went up to {:.1}/s: the run was short, or \
             latency and --concurrency held it)",
            found.max_rate, found.peak
        ),
    }
}

/// A `--rate` value at or just below `per_second`, never above it: whole requests per
/// second from 100/s, tenths below (a whole number would drop up to a seventh of 7.9/s), per
/// minute below one a second.
fn rate_flag(per_second: f64) -> String {
    if per_second >= 100.0 {
        format!("{}", per_second.floor() as u64)
    } else if per_second >= 1.0 {
        let tenths = tenths_below(per_second);
        match tenths % 10 {
            0 => format!("{}", tenths / 10),
            _ => format!("{}.{}", tenths / 10, tenths % 10),
        }
    } else {
        format!("{}/min", ((per_second * 60.0).floor() as u64).max(1))
    }
}

/// When a quota stopped the run: when the server takes requests again.
pub(super) fn describe_quota(quota: &Quota) -> String {
    let mut text = format!(
        "Quota: the server asked to wait {} (longer than --max-retry-after {}); it takes requests again at {}: resume then (command below).\n",
        crate::text::human_duration(quota.wait),
        crate::text::human_duration(quota.max_retry_after),
        humantime::format_rfc3339_seconds(quota.until),
    );
    // A wait of minutes is a quota per minute or per hour that every resume would meet again:
    // the flag that waits through it, rounded up to whole minutes.
    if quota.wait <= std::time::Duration::from_secs(3600) {
        let minutes = quota.wait.as_secs().div_ceil(60).max(1);
        text.push_str(&format!(
            "If the server's quota is per minute or per hour, every resume will meet it again: add --max-retry-after {minutes}m to wait through such pauses instead of stopping.\n"
        ));
    }
    text
}

/// A quota in the JSON summary.
pub(super) fn quota_json(quota: &Quota) -> Value {
    json!({
        "wait_seconds": round_thousandth(quota.wait.as_secs_f64()),
        "max_retry_after_seconds": round_thousandth(quota.max_retry_after.as_secs_f64()),
        "takes_requests_again_at": humantime::format_rfc3339_seconds(quota.until).to_string(),
        "resume_command": quota.resume_command,
    })
}

/// A figure to one decimal, as the text shows it: a controller's sum of steps is not
/// `59.400000000000034` in a summary.
pub(super) fn round_tenth(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// A rate the server is known to allow, to one decimal, never above it (as `--rate` is
/// suggested): 6.86/s is 6.8, not 6.9.
/// The text and the JSON both show it so, beside the `--rate` it suggests (`rate_flag`).
fn floor_tenth(value: f64) -> f64 {
    tenths_below(value) as f64 / 10.0
}

/// The whole tenths in `value`, never more: 17.46 holds 174. A hair above the float's error,
/// so that 17.3 (17.29999… once multiplied) holds 173.
fn tenths_below(value: f64) -> u64 {
    (value * 10.0 + 1e-9).floor().max(0.0) as u64
}

/// A figure to a thousandth: seconds to the millisecond, in the JSON summary.
pub(super) fn round_thousandth(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// `--rate auto` in the JSON summary: the rate settled on (what to pass as `--rate` next
/// time), or why there is none.
pub(super) fn auto_rate_json(found: &Found) -> Value {
    if let Some(fixed) = found.fixed {
        return json!({
            "mode": "fixed",
            "per_second": round_tenth(fixed),
            "throttled_answers": found.throttled,
            "paused_seconds": round_tenth(found.paused.as_secs_f64()),
            "allowed_per_second": found.suggested.map(floor_tenth),
            "taken_after_throttling_per_second": found.taken.map(round_tenth),
            "suggested_rate": found.suggested.map(rate_flag),
        });
    }
    json!({
        "mode": "auto",
        "throttled_answers": found.throttled,
        "paused_seconds": round_tenth(found.paused.as_secs_f64()),
        "announced_per_second": found.announced.map(floor_tenth),
        "settled_per_second": found.settled.map(round_tenth),
        "sustained_per_second": found.suggested.map(floor_tenth),
        "longest_window_seconds": round_thousandth(found.longest_window.as_secs_f64()),
        "suggested_rate": found.suggested.map(rate_flag).or_else(|| (found.settled.is_none() && found.reached_ceiling()).then(|| rate_flag(found.max_rate))),
        "limit_found": found.settled.is_some(),
        "ceiling_reached": found.reached_ceiling(),
        "max_rate_per_second": round_tenth(found.max_rate),
        "peak_per_second": round_tenth(found.peak),
        "final_per_second": round_tenth(found.rate),
        "throttled_spells": found.events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::ExitCode;
    use crate::send::Tally;
    use crate::summary::{render, summary_json};
    use std::path::Path;
    use std::time::Duration;

    #[test]
    fn auto_rate_names_the_settled_rate_or_why_there_is_none() {
        let mut tally = Tally::empty();
        let settled = Found {
            settled: Some(38.04),
            suggested: Some(37.2),
            longest_window: std::time::Duration::from_secs(1),
            rate: 38.04,
            peak: 52.0,
            max_rate: 100.0,
            events: 2,
            throttled: 3,
            paused: Duration::from_millis(2500),
            fixed: None,
            taken: Some(27.5),
            announced: None,
        };
        tally.auto_rate = Some(settled);
        let text = render(&tally, Path::new("r.csv"));
        assert!(
            text.contains("Rate: auto, settled at 38.0/s after 2 throttled spell(s); the server sustained 37.2/s over its longest window (1s)"),
            "{text}"
        );
        assert!(text.contains("pass --rate 37.2 next time"), "{text}");
        let audit = crate::summary::tests::test_audit(false);
        let json = summary_json(&tally, &audit, ExitCode::Success);
        // Rounded as the text shows them.
        assert_eq!(json["rate"]["settled_per_second"], 38.0);
        assert_eq!(json["rate"]["suggested_rate"], "37.2");
        // Too short to tell what the server sustains: nothing rather than something wrong.
        tally.auto_rate = Some(Found {
            suggested: None,
            longest_window: std::time::Duration::from_secs(60),
            ..settled
        });
        let text = render(&tally, Path::new("r.csv"));
        assert!(text.contains("no rate to suggest for next time"), "{text}");
        assert!(text.contains("longest window (1m)"), "{text}");
        assert!(!text.contains("pass --rate"), "{text}");
        let json = summary_json(&tally, &audit, ExitCode::Success);
        assert_eq!(json["rate"]["suggested_rate"], Value::Null);
        let ceiling = Found {
            settled: None,
            peak: 100.0,
            ..settled
        };
        tally.auto_rate = Some(ceiling);
        let text = render(&tally, Path::new("r.csv"));
        assert!(text.contains("its limit was not found, and the ceiling --max-rate 100.0/s was reached — pass --rate 100 next time"), "{text}");
        tally.auto_rate = Some(Found {
            peak: 23.0,
            ..ceiling
        });
        let text = render(&tally, Path::new("r.csv"));
        assert!(
            text.contains("was not reached (it went up to 23.0/s"),
            "{text}"
        );
        assert_eq!(rate_flag(0.5), "30/min");
        assert_eq!(rate_flag(6.97), "6.9");
        assert_eq!(rate_flag(30.0), "30");
        assert_eq!(rate_flag(142.5), "142");
        // A fixed rate the server throttled: the 429s, the pause, what it allowed.
        tally.auto_rate = Some(Found {
            fixed: Some(100.0),
            suggested: Some(28.6),
            ..settled
        });
        let text = render(&tally, Path::new("r.csv"));
        assert!(
            text.contains("Rate: fixed at 100/s, faster than the server allows: 3 answer(s) were 429 and the run was paused 2.5s in all; once it began to throttle, the server took 27.5/s; the server allowed 28.6/s — pass --rate 28.6 next time (or --rate auto)"),
            "{text}"
        );
        let json = summary_json(&tally, &audit, ExitCode::Success);
        assert_eq!(json["rate"]["mode"], "fixed");
        assert_eq!(json["rate"]["throttled_answers"], 3);
        assert_eq!(json["rate"]["paused_seconds"], 2.5);
        assert_eq!(json["rate"]["suggested_rate"], "28.6");
        // Never throttled: nothing to say in the text.
        tally.auto_rate = Some(Found {
            fixed: Some(100.0),
            throttled: 0,
            ..settled
        });
        assert!(!render(&tally, Path::new("r.csv")).contains("Rate:"));
        // Paced from rate-limit headers.
        tally.auto_rate = Some(Found {
            announced: Some(30.0),
            suggested: Some(30.0),
            throttled: 0,
            ..settled
        });
        let text = render(&tally, Path::new("r.csv"));
        assert!(
            text.contains("Rate: auto, paced from the server's rate-limit headers (its policy allows 30.0/s); 0 answer(s) were 429 — pass --rate 30 next time"),
            "{text}"
        );
        // A figure the server is known to allow is floored in the text as in the JSON, so
        // that it never reads above the --rate it suggests (17.46/s is 17.4, not 17.5).
        tally.auto_rate = Some(Found {
            suggested: Some(17.46),
            ..settled
        });
        let text = render(&tally, Path::new("r.csv"));
        assert!(
            text.contains("the server sustained 17.4/s over its longest window (1s) — pass --rate 17.4 next time"),
            "{text}"
        );
        let json = summary_json(&tally, &audit, ExitCode::Success);
        assert_eq!(json["rate"]["sustained_per_second"], 17.4);
        tally.auto_rate = Some(Found {
            fixed: Some(100.0),
            suggested: Some(28.67),
            ..settled
        });
        let text = render(&tally, Path::new("r.csv"));
        assert!(
            text.contains("the server allowed 28.6/s — pass --rate 28.6 next time"),
            "{text}"
        );
        tally.auto_rate = Some(Found {
            announced: Some(30.96),
            suggested: Some(30.0),
            ..settled
        });
        let text = render(&tally, Path::new("r.csv"));
        assert!(text.contains("(its policy allows 30.9/s)"), "{text}");
        assert_eq!(rate_flag(17.3), "17.3");
        assert_eq!(floor_tenth(17.3), 17.3);
        tally.auto_rate = None;
        assert!(!render(&tally, Path::new("r.csv")).contains("Rate:"));
        assert_eq!(
            summary_json(&tally, &audit, ExitCode::Success)["rate"],
            Value::Null
        );
    }
}
