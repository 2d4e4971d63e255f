//! The tally of a run: rows per outcome, examples of every outcome that is not ok, rows
//! sent, latency, the stop reason, and the exit code they call for.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::adaptive::Found;
use super::stop::{Quota, StopReason};
use crate::exit::ExitCode;
use crate::results::{Counts, Outcome, RowResult};

/// How many rows of each outcome that is not ok the summaries list, lowest lines first.
pub const EXAMPLES: usize = 5;

/// One row named in a summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The input line.
    pub line: u64,
    /// The row's auth_uuid, safe to print (controls escaped, length capped).
    pub auth_uuid: String,
    /// What went wrong, safe to print (controls escaped, length capped).
    pub error: String,
}

/// Counts and timings of a run, as the collector gathered them.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Rows per outcome.
    pub counts: Counts,
    /// Rows sent at least once (not dry runs, skipped, invalid or cancelled rows).
    pub sent: u64,
    /// Rows that stayed `ok` although the server echoed other `status_reasons` than the
    /// reasons sent.
    pub reasons_differ: u64,
    /// The lowest lines of every outcome that is not ok, at most [`EXAMPLES`] each, indexed
    /// by [`Outcome::index`].
    pub examples: Vec<Vec<Example>>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<StopReason>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Latency of the last attempt of each sent row, in milliseconds.
    pub latency: Histogram<u64>,
    /// What the rate controller found: `--rate auto`'s, or at a fixed rate the one that
    /// only watched (`Found::fixed`); `None` in a dry run.
    pub auto_rate: Option<Found>,
    /// The quota that stopped the run, if one did.
    pub quota: Option<Quota>,
}

impl Tally {
    /// No rows yet.
    pub fn empty() -> Tally {
        Tally {
            counts: Counts::default(),
            sent: 0,
            reasons_differ: 0,
            examples: vec![Vec::new(); Outcome::ALL.len()],
            stopped: None,
            elapsed: Duration::ZERO,
            latency: Histogram::new_with_bounds(1, 3_600_000, 3).expect("valid histogram bounds"),
            auto_rate: None,
            quota: None,
        }
    }

    /// Counts one finished row.
    pub fn add(&mut self, result: &RowResult) {
        let index = result.outcome.index();
        self.counts[result.outcome] += 1;
        if result.attempts > 0 {
            self.sent += 1;
        }
        if result.reasons_differ {
            self.reasons_differ += 1;
        }
        // Latency is the time to an answer: an attempt that got none (refused, reset, timed
        // out) has no latency to report.
        if let (Some(ms), Some(_)) = (result.latency_ms, result.http_status) {
            let _ = self.latency.record(ms.clamp(1, 3_600_000));
        }
        if matches!(
            result.outcome,
            Outcome::Ok | Outcome::Skipped | Outcome::DryRun
        ) {
            return;
        }
        let examples = &mut self.examples[index];
        // Rows finish roughly in input order: most rows are past the lowest lines kept.
        if examples.len() == EXAMPLES && examples.last().is_some_and(|e| e.line < result.row.line) {
            return;
        }
        // Both come from the input or a server: made safe once, for every summary.
        examples.push(Example {
            line: result.row.line,
            auth_uuid: crate::text::safe_input_text(&result.row.auth_uuid),
            error: crate::text::safe_input_text(&result.error),
        });
        examples.sort_by_key(|e| e.line);
        examples.truncate(EXAMPLES);
    }

    /// Rows recorded.
    pub fn rows(&self) -> u64 {
        self.counts.total()
    }

    /// Rows with this outcome.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.counts[outcome]
    }

    /// The lowest lines with this outcome (none for ok, skipped and dry-run rows).
    pub fn examples(&self, outcome: Outcome) -> &[Example] {
        &self.examples[outcome.index()]
    }

    /// Rows sent per second of the run, if any row was sent.
    pub fn sent_per_second(&self) -> Option<f64> {
        let seconds = self.elapsed.as_secs_f64();
        (self.sent > 0 && seconds > 0.0).then(|| self.sent as f64 / seconds)
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
            Some(StopReason::Unreachable) => rows.merge(ExitCode::Unreachable),
            Some(StopReason::Quota) => rows.merge(ExitCode::Quota),
            Some(StopReason::CanaryFailed) | None => rows,
        }
    }

    /// A latency percentile in milliseconds, if any row was answered.
    pub fn percentile(&self, q: f64) -> Option<u64> {
        (!self.latency.is_empty()).then(|| self.latency.value_at_quantile(q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(outcomes: &[(Outcome, u64)], stopped: Option<StopReason>) -> Tally {
        let mut tally = Tally::empty();
        for (o, n) in outcomes {
            tally.counts[*o] = *n;
        }
        tally.stopped = stopped;
        tally
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
                &[(Outcome::Failed, 10), (Outcome::Cancelled, 5)],
                Some(StopReason::Unreachable)
            )
            .exit_code(),
            ExitCode::Unreachable
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
            tally(
                &[
                    (Outcome::Ok, 3),
                    (Outcome::Failed, 1),
                    (Outcome::Cancelled, 5)
                ],
                Some(StopReason::Quota)
            )
            .exit_code(),
            ExitCode::Quota
        );
        assert_eq!(
            tally(&[(Outcome::DryRun, 4)], None).exit_code(),
            ExitCode::Success
        );
    }

    #[test]
    fn examples_keep_the_lowest_lines_of_each_outcome_that_is_not_ok() {
        let mut tally = Tally::empty();
        for line in [40, 9, 30, 12, 50, 7, 8, 60, 3] {
            let row = crate::validate::Row {
                line,
                auth_uuid: format!("u{line}"),
                state: "OK".into(),
                reasons: String::new(),
                api_key: None,
                extras: Vec::new(),
            };
            let outcome = if line == 60 {
                Outcome::Ok
            } else {
                Outcome::Failed
            };
            let mut result = RowResult::unsent(row, outcome, format!("e{line}"));
            result.attempts = 1;
            tally.add(&result);
        }
        let lines: Vec<u64> = tally
            .examples(Outcome::Failed)
            .iter()
            .map(|e| e.line)
            .collect();
        assert_eq!(lines, vec![3, 7, 8, 9, 12]);
        assert!(tally.examples(Outcome::Ok).is_empty());
        assert_eq!(tally.sent, 9);
        assert_eq!(tally.count(Outcome::Failed), 8);
    }
}
