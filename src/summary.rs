//! The summary of a run: the text on standard error at the end, and the JSON for audits
//! (`--summary-json`), both from the collector's [`Tally`].

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::exit::ExitCode;
use crate::results::{Counts, Outcome};
use crate::send::Tally;
use crate::send::tally::Example;

mod rate;

use rate::{
    auto_rate_json, describe_quota, describe_rate, quota_json, round_tenth, round_thousandth,
};

/// One line per outcome that happened: `  ok           9`, aligned, as summaries print them.
/// Only the outcomes that happened.
pub fn count_lines(counts: &Counts) -> String {
    counts
        .nonzero()
        .map(|(o, n)| count_line(o, n, ""))
        .collect()
}

/// One outcome's line, aligned as every summary prints it: `  ok           9`, then `note`.
pub fn count_line(outcome: Outcome, n: u64, note: &str) -> String {
    format!("  {:<13}{n:>9}{note}\n", outcome.as_str())
}

/// The summary printed on standard error at the end of a run.
pub fn render(tally: &Tally, results: &Path) -> String {
    let mut out = String::new();
    // The time is the run's and the rate the rows sent's: rows skipped or cancelled took none.
    let rows = match tally.rows() {
        1 => "1 row".to_string(),
        n => format!("{n} rows"),
    };
    let pace = match tally.sent_per_second() {
        Some(rate) => format!(
            "{} sent in {}, {rate:.1} rows/s",
            tally.sent,
            crate::text::human_duration(tally.elapsed)
        ),
        None => format!(
            "no requests sent, {}",
            crate::text::human_duration(tally.elapsed)
        ),
    };
    out.push_str(&format!("Summary: {rows} ({pace})\n"));
    out.push_str(&count_lines(&tally.counts));
    if let (Some(p50), Some(p95), Some(p99)) = (
        tally.percentile(0.5),
        tally.percentile(0.95),
        tally.percentile(0.99),
    ) {
        out.push_str(&format!(
            "Latency: p50 {p50} ms, p95 {p95} ms, p99 {p99} ms\n"
        ));
    }
    if let Some(line) = tally.auto_rate.as_ref().and_then(describe_rate) {
        out.push_str(&format!("Rate: {line}\n"));
    }
    for (outcome, title, with_error) in [
        (
            Outcome::Unauthorized,
            "401 Not authorized on {n} row(s): the key does not match these processes (a wrong key, or another customer's processes):",
            false,
        ),
        (
            Outcome::Mismatch,
            "Mismatch on {n} row(s): the server answered 200 but its echo shows another status (the change did not take):",
            true,
        ),
    ] {
        let n = tally.count(outcome);
        if n > 0 {
            out.push_str(&title.replace("{n}", &n.to_string()));
            out.push('\n');
            list(&mut out, tally.examples(outcome).to_vec(), n, with_error);
        }
    }
    let failing = tally.count(Outcome::Rejected) + tally.count(Outcome::Failed);
    if failing > 0 {
        out.push_str("Rejected or failed:\n");
        let mut examples = tally.examples(Outcome::Rejected).to_vec();
        examples.extend_from_slice(tally.examples(Outcome::Failed));
        list(&mut out, examples, failing, true);
    }
    if tally.reasons_differ > 0 {
        out.push_str(&format!(
            "Reasons differ on {} ok row(s): the server echoed other status_reasons than the reasons sent (a warning; see remote_status_reasons in the results)\n",
            tally.reasons_differ
        ));
    }
    if let Some(reason) = tally.stopped {
        out.push_str(&format!("Stopped early: {}.\n", reason.describe()));
    }
    if let Some(quota) = &tally.quota {
        out.push_str(&describe_quota(quota));
    }
    out.push_str(&format!("Results: {}\n", crate::text::shown_path(results)));
    out
}

/// The lowest lines of `examples`, by line, then how many more of `total` are in the file.
fn list(out: &mut String, mut examples: Vec<Example>, total: u64, with_error: bool) {
    examples.sort_by_key(|e| e.line);
    examples.truncate(crate::send::tally::EXAMPLES);
    for e in &examples {
        match with_error {
            true => out.push_str(&format!(
                "  line {}: {}: {}\n",
                e.line, e.auth_uuid, e.error
            )),
            false => out.push_str(&format!("  line {}: {}\n", e.line, e.auth_uuid)),
        }
    }
    if total > examples.len() as u64 {
        out.push_str(&format!(
            "  … and {} more in the results file\n",
            total - examples.len() as u64
        ));
    }
}

/// What an audit needs beside the counts.
#[derive(Debug, Clone)]
pub struct Audit {
    /// The input as the user named it.
    pub input: String,
    /// SHA-256 of the input's bytes, hex.
    pub input_sha256: String,
    /// The endpoint.
    pub url: String,
    /// The results file.
    pub results: PathBuf,
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// When the run started.
    pub started_at: SystemTime,
}

/// The JSON summary (`--summary-json`).
pub fn summary_json(tally: &Tally, audit: &Audit, exit: ExitCode) -> Value {
    let counts: serde_json::Map<String, Value> = Outcome::ALL
        .iter()
        .map(|o| (o.as_str().to_string(), json!(tally.count(*o))))
        .collect();
    let examples: serde_json::Map<String, Value> = Outcome::ALL
        .iter()
        .filter(|o| !tally.examples(**o).is_empty())
        .map(|o| {
            let rows: Vec<Value> = tally
                .examples(*o)
                .iter()
                .map(|e| json!({"line": e.line, "auth_uuid": e.auth_uuid, "error": e.error}))
                .collect();
            (o.as_str().to_string(), json!(rows))
        })
        .collect();
    json!({
        "tool": "tecalis-status",
        "version": env!("CARGO_PKG_VERSION"),
        "input": audit.input,
        "input_sha256": audit.input_sha256,
        "url": audit.url,
        "results": audit.results.display().to_string(),
        "dry_run": audit.dry_run,
        "started_at": humantime::format_rfc3339_millis(audit.started_at).to_string(),
        "finished_at": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        "elapsed_seconds": round_thousandth(tally.elapsed.as_secs_f64()),
        "rows": tally.rows(),
        "rows_sent": tally.sent,
        "rows_per_second": tally.sent_per_second().map(round_tenth),
        "rate": tally.auto_rate.as_ref().map(auto_rate_json),
        "counts": counts,
        "reasons_differ": tally.reasons_differ,
        "latency_ms": {
            "p50": tally.percentile(0.5),
            "p95": tally.percentile(0.95),
            "p99": tally.percentile(0.99),
            "max": (!tally.latency.is_empty()).then(|| tally.latency.max()),
        },
        "unauthorized_examples": tally.examples(Outcome::Unauthorized).iter().map(|e| json!({"line": e.line, "auth_uuid": e.auth_uuid})).collect::<Vec<_>>(),
        "examples": examples,
        "stopped": tally.stopped.map(|r| snake_case(&format!("{r:?}"))),
        "quota": tally.quota.as_ref().map(quota_json),
        "exit_code": exit.code(),
    })
}

/// `WrongKey` → `wrong_key`: the JSON's names, not Rust's.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::RowResult;

    /// The audit of a run of `in.csv` into `r.csv`, for the JSON summary.
    pub(super) fn test_audit(dry_run: bool) -> Audit {
        Audit {
            input: "in.csv".into(),
            input_sha256: String::new(),
            url: String::new(),
            results: "r.csv".into(),
            dry_run,
            started_at: SystemTime::now(),
        }
    }

    fn result(line: u64, outcome: Outcome, attempts: u32) -> RowResult {
        let row = crate::validate::Row {
            line,
            auth_uuid: format!("u{line}"),
            state: "OK".into(),
            reasons: String::new(),
            api_key: None,
            extras: Vec::new(),
        };
        let mut result = RowResult::unsent(row, outcome, format!("e{line}"));
        result.attempts = attempts;
        result
    }

    #[test]
    fn failures_are_listed_by_line_with_how_many_more() {
        let mut tally = Tally::empty();
        tally.elapsed = std::time::Duration::from_secs(2);
        for line in (2..20).rev() {
            let outcome = if line % 2 == 0 {
                Outcome::Rejected
            } else {
                Outcome::Failed
            };
            tally.add(&result(line, outcome, 1));
        }
        let text = render(&tally, Path::new("r.csv"));
        let listed: Vec<&str> = text.lines().filter(|l| l.starts_with("  line ")).collect();
        assert_eq!(
            listed,
            vec![
                "  line 2: u2: e2",
                "  line 3: u3: e3",
                "  line 4: u4: e4",
                "  line 5: u5: e5",
                "  line 6: u6: e6"
            ]
        );
        assert!(
            text.contains("  … and 13 more in the results file"),
            "{text}"
        );
        assert!(text.contains("(18 sent in 2s, 9.0 rows/s)"), "{text}");
    }

    #[test]
    fn rows_not_sent_give_no_rate() {
        let mut tally = Tally::empty();
        tally.elapsed = std::time::Duration::from_millis(3);
        for line in 2..1000 {
            tally.add(&result(line, Outcome::DryRun, 0));
        }
        let text = render(&tally, Path::new("r.csv"));
        assert!(
            text.starts_with("Summary: 998 rows (no requests sent, 3ms)"),
            "{text}"
        );
        let audit = test_audit(true);
        let json = summary_json(&tally, &audit, ExitCode::Success);
        assert_eq!(json["rows_per_second"], Value::Null);
        assert_eq!(json["rows_sent"], 0);
    }

    #[test]
    fn the_json_figures_are_rounded_as_the_text_shows_them() {
        let mut tally = Tally::empty();
        tally.elapsed = std::time::Duration::from_micros(65_432_109);
        for line in 2..9 {
            tally.add(&result(line, Outcome::Ok, 1));
        }
        let text = render(&tally, Path::new("r.csv"));
        assert!(
            text.starts_with("Summary: 7 rows (7 sent in 1m 5s, 0.1 rows/s)"),
            "{text}"
        );
        let audit = test_audit(false);
        let json = summary_json(&tally, &audit, ExitCode::Success);
        assert_eq!(json["elapsed_seconds"], 65.432);
        assert_eq!(json["rows_per_second"], 0.1);
    }

    #[test]
    fn the_json_has_examples_of_every_outcome_that_is_not_ok() {
        let mut tally = Tally::empty();
        for (line, outcome) in [
            (2, Outcome::Ok),
            (3, Outcome::Unauthorized),
            (4, Outcome::Rejected),
            (5, Outcome::Failed),
            (6, Outcome::Cancelled),
            (7, Outcome::Invalid),
        ] {
            tally.add(&result(line, outcome, 1));
        }
        let audit = test_audit(false);
        let json = summary_json(&tally, &audit, ExitCode::RowsFailed);
        let examples = json["examples"].as_object().unwrap();
        let mut names: Vec<&str> = examples.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(
            names,
            vec!["cancelled", "failed", "invalid", "rejected", "unauthorized"]
        );
        assert_eq!(
            examples["failed"][0],
            json!({"line": 5, "auth_uuid": "u5", "error": "e5"})
        );
    }
}
