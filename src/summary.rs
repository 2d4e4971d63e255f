//! The collector (the one place results are written and counted), the progress display, and
//! the summary: on standard error at the end, and as JSON for audits.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tracing_indicatif::span_ext::IndicatifSpanExt;

use crate::exit::ExitCode;
use crate::results::{Outcome, ResultsWriter, RowResult};
use crate::runner::{Stop, StopReason, WRONG_KEY_ANSWERS};

/// How many 401s the summary lists by line and auth_uuid.
const EXAMPLES: usize = 5;

/// How many request bodies a dry run shows.
const PREVIEWS: usize = 3;

/// Counts and timings of a run, as the collector gathered them.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Rows per outcome, indexed by [`Outcome::index`].
    pub counts: [u64; 8],
    /// The first few 401 rows: line and auth_uuid.
    pub unauthorized: Vec<(u64, String)>,
    /// The first few rows that were rejected or failed: line, auth_uuid, error.
    pub failures: Vec<(u64, String, String)>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<StopReason>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Latency of the last attempt of each sent row, in milliseconds.
    pub latency: Histogram<u64>,
}

impl Tally {
    /// No rows yet.
    pub fn empty() -> Tally {
        Tally {
            counts: [0; 8],
            unauthorized: Vec::new(),
            failures: Vec::new(),
            stopped: None,
            elapsed: Duration::ZERO,
            latency: Histogram::new_with_bounds(1, 3_600_000, 3).expect("valid histogram bounds"),
        }
    }

    /// Rows recorded.
    pub fn rows(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Rows with this outcome.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.counts[outcome.index()]
    }

    /// The exit code the run's rows and stop reason call for.
    pub fn exit_code(&self) -> ExitCode {
        let rows = Outcome::ALL
            .iter()
            .filter(|o| self.count(**o) > 0)
            .fold(ExitCode::Success, |code, o| {
                code.merge(ExitCode::for_outcome(*o))
            });
        match self.stopped {
            Some(StopReason::Interrupted) => rows.merge(ExitCode::Interrupted),
            Some(StopReason::WrongKey | StopReason::TooManyUnauthorized) => {
                rows.merge(ExitCode::WrongCredentials)
            }
            Some(StopReason::CanaryFailed) | None => rows,
        }
    }

    fn percentile(&self, q: f64) -> Option<u64> {
        (!self.latency.is_empty()).then(|| self.latency.value_at_quantile(q))
    }

    /// The one-line counts: `ok 9, unauthorized 3`.
    pub fn counts_line(&self) -> String {
        let parts: Vec<String> = Outcome::ALL
            .iter()
            .filter(|o| self.count(**o) > 0)
            .map(|o| format!("{} {}", o.as_str(), self.count(*o)))
            .collect();
        if parts.is_empty() {
            "no rows".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// The summary printed on standard error at the end of a run.
    pub fn render(&self, results: &Path) -> String {
        let mut out = String::new();
        let seconds = self.elapsed.as_secs_f64();
        let rate = if seconds > 0.0 {
            self.rows() as f64 / seconds
        } else {
            0.0
        };
        out.push_str(&format!(
            "Summary: {} rows in {:.1}s ({:.1} rows/s)\n",
            self.rows(),
            seconds,
            rate
        ));
        out.push_str(&count_lines(&self.counts));
        if let (Some(p50), Some(p95), Some(p99)) = (
            self.percentile(0.5),
            self.percentile(0.95),
            self.percentile(0.99),
        ) {
            out.push_str(&format!(
                "Latency: p50 {p50} ms, p95 {p95} ms, p99 {p99} ms\n"
            ));
        }
        let unauthorized = self.count(Outcome::Unauthorized);
        if unauthorized > 0 {
            out.push_str(&format!(
                "401 Not authorized on {unauthorized} row(s): the key does not match these processes (a wrong key, or another customer's processes):\n"
            ));
            let mut examples = self.unauthorized.clone();
            examples.sort();
            for (line, uuid) in &examples {
                out.push_str(&format!("  line {line}: {uuid}\n"));
            }
            if unauthorized > self.unauthorized.len() as u64 {
                out.push_str(&format!(
                    "  … and {} more in the results file\n",
                    unauthorized - self.unauthorized.len() as u64
                ));
            }
        }
        if !self.failures.is_empty() {
            out.push_str("Rejected or failed:\n");
            for (line, uuid, error) in &self.failures {
                out.push_str(&format!("  line {line}: {uuid}: {error}\n"));
            }
        }
        if let Some(reason) = self.stopped {
            out.push_str(&format!("Stopped early: {}.\n", reason.describe()));
        }
        out.push_str(&format!("Results: {}\n", results.display()));
        out
    }
}

/// One line per outcome that happened: `  ok           9`, aligned, as summaries print them.
pub fn count_lines(counts: &[u64; 8]) -> String {
    Outcome::ALL
        .iter()
        .filter(|o| counts[o.index()] > 0)
        .map(|o| format!("  {:<13}{:>9}\n", o.as_str(), counts[o.index()]))
        .collect()
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
    let seconds = tally.elapsed.as_secs_f64();
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
        "elapsed_seconds": seconds,
        "rows": tally.rows(),
        "rows_per_second": if seconds > 0.0 { tally.rows() as f64 / seconds } else { 0.0 },
        "counts": counts,
        "latency_ms": {
            "p50": tally.percentile(0.5),
            "p95": tally.percentile(0.95),
            "p99": tally.percentile(0.99),
            "max": (!tally.latency.is_empty()).then(|| tally.latency.max()),
        },
        "unauthorized_examples": tally.unauthorized.iter().map(|(line, uuid)| json!({"line": line, "auth_uuid": uuid})).collect::<Vec<_>>(),
        "stopped": tally.stopped.map(|r| format!("{r:?}")),
        "exit_code": exit.code(),
    })
}

/// The one consumer of finished rows: writes each to the results file at once, counts it,
/// and decides the stops that depend on what came back (the wrong key, too many 401s).
pub struct Collector {
    writer: ResultsWriter,
    tally: Tally,
    stop: Arc<Stop>,
    started: Instant,
    total: u64,
    answered: u64,
    answered_all_unauthorized: bool,
    max_unauthorized: Option<u64>,
    span: tracing::Span,
    progress_bar: bool,
    previews: usize,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("writer", &self.writer)
            .finish()
    }
}

impl Collector {
    /// A collector writing to `writer`, expecting `total` rows.
    pub fn new(
        writer: ResultsWriter,
        stop: Arc<Stop>,
        total: u64,
        max_unauthorized: Option<u64>,
        span: tracing::Span,
        progress_bar: bool,
    ) -> Collector {
        Collector {
            writer,
            tally: Tally::empty(),
            stop,
            started: Instant::now(),
            total,
            answered: 0,
            answered_all_unauthorized: true,
            max_unauthorized,
            span,
            progress_bar,
            previews: 0,
        }
    }

    /// Writes and counts one finished row.
    pub fn record(&mut self, result: RowResult) -> anyhow::Result<()> {
        self.record_unflushed(result)?;
        self.flush()
    }

    /// Flushes the rows recorded so far to the results file.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.writer.flush()
    }

    /// Records one finished row without flushing; [`Collector::flush`] must follow before the
    /// run waits for anything.
    pub fn record_unflushed(&mut self, result: RowResult) -> anyhow::Result<()> {
        self.writer.write_unflushed(&result)?;
        let t = &mut self.tally;
        t.counts[result.outcome.index()] += 1;
        if let Some(ms) = result.latency_ms {
            let _ = t.latency.record(ms.clamp(1, 3_600_000));
        }
        match result.outcome {
            Outcome::Unauthorized => {
                if t.unauthorized.len() < EXAMPLES {
                    t.unauthorized
                        .push((result.row.line, result.row.auth_uuid.clone()));
                }
                if let Some(max) = self.max_unauthorized
                    && t.count(Outcome::Unauthorized) >= max
                {
                    self.stop.stop(StopReason::TooManyUnauthorized);
                }
            }
            Outcome::Rejected | Outcome::Failed if t.failures.len() < EXAMPLES => {
                t.failures.push((
                    result.row.line,
                    result.row.auth_uuid.clone(),
                    result.error.clone(),
                ));
            }
            Outcome::DryRun if self.previews < PREVIEWS && !crate::logging::quiet() => {
                self.previews += 1;
                let mut body = json!({
                    "auth_uuid": result.row.auth_uuid,
                    "api_key": "<redacted>",
                    "state": result.row.state,
                });
                if !result.row.reasons.is_empty() {
                    body["reasons"] = json!(result.row.reasons);
                }
                eprintln!("would send (line {}): {body}", result.row.line);
            }
            _ => {}
        }
        if let Some(status) = result.http_status {
            self.answered += 1;
            self.answered_all_unauthorized &= status == 401;
            if self.answered == WRONG_KEY_ANSWERS && self.answered_all_unauthorized {
                self.stop.stop(StopReason::WrongKey);
            }
        }
        if self.progress_bar {
            self.span.pb_inc(1);
            let rows = t.rows();
            if rows < 64 || rows.is_multiple_of(64) || rows == self.total {
                let line = t.counts_line();
                self.span.pb_set_message(&line);
            }
        }
        Ok(())
    }

    /// A log line with the progress so far, for runs without a progress bar (cron logs).
    pub fn log_progress(&self) {
        if self.progress_bar {
            return;
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = self.tally.rows() as f64 / elapsed.max(0.001);
        let left = self.total.saturating_sub(self.tally.rows());
        let eta = if rate > 0.0 {
            format!("{:.0}s", left as f64 / rate)
        } else {
            "unknown".into()
        };
        tracing::info!(
            "progress: {}/{} rows ({}), {:.1} rows/s, about {eta} left",
            self.tally.rows(),
            self.total,
            self.tally.counts_line(),
            rate
        );
    }

    /// Ends the run: the counts, timings and stop reason.
    pub fn finish(mut self) -> (Tally, PathBuf) {
        self.tally.elapsed = self.started.elapsed();
        self.tally.stopped = self.stop.reason();
        (self.tally, self.writer.path().to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(outcomes: &[(Outcome, u64)], stopped: Option<StopReason>) -> Tally {
        let mut counts = [0; 8];
        for (o, n) in outcomes {
            counts[o.index()] = *n;
        }
        Tally {
            counts,
            unauthorized: vec![],
            failures: vec![],
            stopped,
            elapsed: Duration::from_secs(1),
            latency: Histogram::new(3).unwrap(),
        }
    }

    #[test]
    fn exit_codes_follow_the_rows_and_the_stop() {
        assert_eq!(
            tally(&[(Outcome::Ok, 3), (Outcome::Skipped, 2)], None).exit_code(),
            ExitCode::Success
        );
        assert_eq!(
            tally(&[(Outcome::Ok, 3), (Outcome::Unauthorized, 1)], None).exit_code(),
            ExitCode::RowsFailed
        );
        assert_eq!(
            tally(&[(Outcome::Invalid, 1), (Outcome::Ok, 1)], None).exit_code(),
            ExitCode::RowsFailed
        );
        assert_eq!(
            tally(
                &[(Outcome::Unauthorized, 10), (Outcome::Cancelled, 5)],
                Some(StopReason::WrongKey)
            )
            .exit_code(),
            ExitCode::WrongCredentials
        );
        assert_eq!(
            tally(
                &[(Outcome::Ok, 1), (Outcome::Cancelled, 5)],
                Some(StopReason::Interrupted)
            )
            .exit_code(),
            ExitCode::Interrupted
        );
        assert_eq!(
            tally(&[(Outcome::Ok, 1)], Some(StopReason::Interrupted)).exit_code(),
            ExitCode::Interrupted
        );
        assert_eq!(
            tally(
                &[(Outcome::Failed, 1), (Outcome::Cancelled, 5)],
                Some(StopReason::CanaryFailed)
            )
            .exit_code(),
            ExitCode::RowsFailed
        );
        assert_eq!(
            tally(&[(Outcome::DryRun, 4)], None).exit_code(),
            ExitCode::Success
        );
    }

    #[test]
    fn the_counts_line_names_only_what_happened() {
        assert_eq!(
            tally(&[(Outcome::Ok, 9), (Outcome::Unauthorized, 3)], None).counts_line(),
            "ok 9, unauthorized 3"
        );
        assert_eq!(tally(&[], None).counts_line(), "no rows");
    }
}
