//! The summary's words on the rate: what `--rate auto` found and the rate to pass next time,
//! a fixed rate the server throttled, and a quota that stopped the run.

use serde_json::{Value, json};

use crate::send::Quota;
use crate::send::adaptive::Found;

/// What `--rate auto` found, and what to pass as `--rate` next time.
pub(super) fn describe_auto_rate(found: &Found) -> String {
    match (found.settled, found.suggested) {
        (Some(settled), Some(suggested)) => format!(
            "auto, settled at {settled:.1}/s after {} throttled spell(s); the server sustained \
             {suggested:.1}/s over its longest window ({}) — pass --rate {} next time",
            found.events,
            humantime::format_duration(found.longest_window),
            rate_flag(suggested)
        ),
        (Some(settled), None) => format!(
            "auto, settled at {settled:.1}/s after {} throttled spell(s); no rate to suggest for \
             next time: the run was too short after the first throttling to measure what the \
             server sustains over its longest window ({}) — use --rate auto again",
            found.events,
            humantime::format_duration(found.longest_window),
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

/// A `--rate` value at or just below `per_second`: whole requests per second, or per minute
/// below one a second.
fn rate_flag(per_second: f64) -> String {
    if per_second >= 1.0 {
        format!("{}", per_second.floor() as u64)
    } else {
        format!("{}/min", ((per_second * 60.0).floor() as u64).max(1))
    }
}

/// When a quota stopped the run: when the server takes requests again.
pub(super) fn describe_quota(quota: &Quota) -> String {
    format!(
        "Quota: the server asked to wait {} (longer than --max-retry-after {}); it takes requests again at {}: resume then (command below).\n",
        humantime::format_duration(quota.wait),
        humantime::format_duration(quota.max_retry_after),
        humantime::format_rfc3339_seconds(quota.until),
    )
}

/// A quota in the JSON summary.
pub(super) fn quota_json(quota: &Quota) -> Value {
    json!({
        "wait_seconds": quota.wait.as_secs_f64(),
        "max_retry_after_seconds": quota.max_retry_after.as_secs_f64(),
        "takes_requests_again_at": humantime::format_rfc3339_seconds(quota.until).to_string(),
        "resume_command": quota.resume_command,
    })
}

/// `--rate auto` in the JSON summary: the rate settled on (what to pass as `--rate` next
/// time), or why there is none.
pub(super) fn auto_rate_json(found: &Found) -> Value {
    json!({
        "mode": "auto",
        "settled_per_second": found.settled,
        "sustained_per_second": found.suggested,
        "longest_window_seconds": found.longest_window.as_secs_f64(),
        "suggested_rate": found.suggested.map(rate_flag).or_else(|| (found.settled.is_none() && found.reached_ceiling()).then(|| rate_flag(found.max_rate))),
        "limit_found": found.settled.is_some(),
        "ceiling_reached": found.reached_ceiling(),
        "max_rate_per_second": found.max_rate,
        "peak_per_second": found.peak,
        "final_per_second": found.rate,
        "throttled_spells": found.events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::ExitCode;
    use crate::send::Tally;
    use crate::summary::{Audit, render, summary_json};
    use std::path::Path;
    use std::time::SystemTime;

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
        };
        tally.auto_rate = Some(settled);
        let text = render(&tally, Path::new("r.csv"));
        assert!(
            text.contains("Rate: auto, settled at 38.0/s after 2 throttled spell(s); the server sustained 37.2/s over its longest window (1s)"),
            "{text}"
        );
        assert!(text.contains("pass --rate 37 next time"), "{text}");
        let audit = Audit {
            input: "in.csv".into(),
            input_sha256: String::new(),
            url: String::new(),
            results: "r.csv".into(),
            dry_run: false,
            started_at: SystemTime::now(),
        };
        let json = summary_json(&tally, &audit, ExitCode::Success);
        assert_eq!(json["rate"]["settled_per_second"], 38.04);
        assert_eq!(json["rate"]["suggested_rate"], "37");
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
        tally.auto_rate = None;
        assert!(!render(&tally, Path::new("r.csv")).contains("Rate:"));
        assert_eq!(
            summary_json(&tally, &audit, ExitCode::Success)["rate"],
            Value::Null
        );
    }
}
