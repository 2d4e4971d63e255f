//! What `report` concludes, in words: the notes on rows it left out, the INCOMPLETE line with
//! its exact count, and one next step (fix the key, resume, or correct and run the export),
//! the same one the run printed at its end; never both a resume and the export.

use super::Completeness;
use crate::results::{Counts, Outcome};

/// The facts the conclusion is drawn from.
pub(super) struct Facts<'a> {
    /// The final outcome of each row of the last run.
    pub(super) counts: &'a Counts,
    /// Whether the last run recorded every row it had.
    pub(super) completeness: &'a Completeness,
    /// Rows recorded only by earlier runs.
    pub(super) earlier_only: usize,
    /// The last run stopped because of the key (from the job record).
    pub(super) fix_key_first: bool,
    /// The last run stopped for a quota: when the server takes requests again (job record).
    pub(super) quota_until: Option<&'a str>,
    /// Whether an export is written.
    pub(super) exporting: bool,
}

/// What the next step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Every row ended ok.
    Nothing,
    /// Wait for the run that writes the file, then report again.
    Wait,
    /// Fix the key, then resume.
    FixKeyThenResume,
    /// Resume: rows were never sent, or failed for a transient reason, or have no outcome.
    Resume,
    /// Correct the rows that did not end ok and run them (the export): a resume would get
    /// the same answers.
    Correct,
    /// Not known (no job record).
    Unknown,
}

/// The rows of the last run that did not end ok (`ok` or `skipped`).
fn not_ok(counts: &Counts) -> u64 {
    counts.total() - counts[Outcome::Ok] - counts[Outcome::Skipped]
}

impl Facts<'_> {
    /// The one next step.
    pub(super) fn next(&self) -> Next {
        let counts = self.counts;
        match self.completeness {
            Completeness::Unknown => Next::Unknown,
            Completeness::Missing { running: true, .. } => Next::Wait,
            Completeness::Missing { .. } => Next::Resume,
            Completeness::Complete if not_ok(counts) == 0 => Next::Nothing,
            Completeness::Complete if self.fix_key_first => Next::FixKeyThenResume,
            Completeness::Complete if counts[Outcome::Cancelled] + counts[Outcome::Failed] > 0 => {
                Next::Resume
            }
            Completeness::Complete => Next::Correct,
        }
    }

    /// The notes on rows left out of the counts, each a line.
    pub(super) fn notes(&self) -> String {
        if self.earlier_only == 0 {
            return String::new();
        }
        let n = self.earlier_only;
        match self.completeness {
            // The last run recorded every row it had: these are not among them.
            Completeness::Complete => format!(
                "{n} row(s) recorded only by earlier runs of this file are not in the last run's input (corrected or removed since) and are left out of the counts\n"
            ),
            // The last run stopped before it reached them, or they are no longer in its
            // input: which, only the input could tell.
            _ => format!(
                "{n} row(s) recorded by earlier runs of this file have no line of the last run yet (it did not reach them, or they are no longer in its input) and are left out of the counts\n"
            ),
        }
    }

    /// The INCOMPLETE line for a job whose last run recorded every row, not all ok.
    pub(super) fn not_all_ok(&self) -> String {
        let not_ok = not_ok(self.counts);
        match (self.completeness, not_ok) {
            (Completeness::Complete, 1..) => format!(
                "INCOMPLETE: {not_ok} of the last run's {} rows did not end ok.\n",
                self.counts.total()
            ),
            _ => String::new(),
        }
    }

    /// How the export line ends: what to do with the file.
    pub(super) fn export_advice(&self, rows: u64) -> &'static str {
        match (self.next(), rows) {
            (Next::Nothing | Next::Correct, 0) => ": nothing to correct or run",
            (Next::FixKeyThenResume | Next::Resume | Next::Wait, 0) => {
                ": nothing to run; the job is not finished (see below). Export again once it is finished"
            }
            (Next::Nothing | Next::Correct, _) => ": correct them and run that file",
            // No job record: only the rows recorded can tell; rows never sent or failed are
            // for a resume.
            (Next::Unknown, _)
                if self.counts[Outcome::Cancelled] + self.counts[Outcome::Failed] == 0 =>
            {
                ": correct them and run that file"
            }
            (Next::FixKeyThenResume | Next::Resume | Next::Wait | Next::Unknown, _) => {
                "; do not run it now: the job is not finished, and the same run command with --resume sends these rows too (doing both would send them twice). Export again once it is finished"
            }
        }
    }

    /// The closing line: the verdict and the one next step.
    pub(super) fn verdict(&self) -> String {
        let counts = self.counts;
        let cancelled = counts[Outcome::Cancelled];
        let failed = counts[Outcome::Failed];
        let left = match (cancelled, failed) {
            (0, _) => {
                format!("{failed} row(s) failed (no answer or a transient error after the retries)")
            }
            (_, 0) => format!(
                "{cancelled} row(s) were never sent (cancelled: the run stopped before them)"
            ),
            _ => format!(
                "{cancelled} row(s) were never sent (cancelled: the run stopped before them) and {failed} failed (no answer or a transient error after the retries)"
            ),
        };
        match self.next() {
            Next::Nothing => "Complete: every row ended ok.".into(),
            Next::Wait | Next::Resume | Next::Unknown
                if !matches!(self.completeness, Completeness::Complete) =>
            {
                "Not complete.".into()
            }
            Next::FixKeyThenResume => "Not complete: the last run stopped because of the key. Fix the API key first (TECALIS_API_KEY, --api-key-file, or the api_key column of these rows): resumed with the same key, the rows would be answered 401 again. Then send the rows that did not end ok with the same run command and --resume (rows already ok are not sent again).".into(),
            Next::Resume => match self.quota_until {
                Some(until) => format!(
                    "Not finished: {left}. The last run stopped for the server's quota, which takes requests again at {until}: then send them with the same run command and --resume (rows already ok are not sent again)."
                ),
                None => format!(
                    "Not finished: {left}. Send them with the same run command and --resume (rows already ok are not sent again)."
                ),
            },
            _ => match self.exporting {
                true => "Not complete: the rows above got a final answer, so a resume would get the same answers again; correct them and run them (the export).".into(),
                false => "Not complete: the rows above got a final answer, so a resume would get the same answers again. To write them to a file to correct and run, add --export-failed FILE to this command.".into(),
            },
        }
    }
}
