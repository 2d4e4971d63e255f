//! What a row came to: its [`Outcome`], the server's [`Remote`] echo, the [`RowResult`] that
//! becomes one line of the results file, [`Counts`] per outcome, and the spreadsheet-safe
//! cell rule.

use std::ops::{Index, IndexMut};
use std::time::SystemTime;

use serde::Serialize;

use crate::validate::Row;

/// The final outcome of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 2xx: the state was applied.
    Ok,
    /// 2xx, but the echoed `status` differs from the state sent: the change did not take.
    Mismatch,
    /// 401: the key and the auth_uuid do not match.
    Unauthorized,
    /// Another 4xx: the server refused the request; not retried.
    Rejected,
    /// Transient errors left after the retries.
    Failed,
    /// Never sent: the row is invalid.
    Invalid,
    /// Not sent: already `ok` in a previous run (`--resume`).
    Skipped,
    /// Not sent: dry run.
    DryRun,
    /// Not sent: the run stopped before this row.
    Cancelled,
}

impl Outcome {
    /// Every outcome, in the order summaries list them.
    pub const ALL: [Outcome; 9] = [
        Outcome::Ok,
        Outcome::Skipped,
        Outcome::DryRun,
        Outcome::Mismatch,
        Outcome::Unauthorized,
        Outcome::Rejected,
        Outcome::Failed,
        Outcome::Invalid,
        Outcome::Cancelled,
    ];

    /// The name used in the results file and the JSON summary.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Mismatch => "mismatch",
            Outcome::Unauthorized => "unauthorized",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
            Outcome::Invalid => "invalid",
            Outcome::Skipped => "skipped",
            Outcome::DryRun => "dry_run",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// Parses the name written by [`Outcome::as_str`].
    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == text)
    }

    /// Position in [`Outcome::ALL`], for counters (several times a row: a match, not a
    /// search; the unit test `outcomes_round_trip_by_name` checks it against `ALL`).
    pub fn index(self) -> usize {
        match self {
            Outcome::Ok => 0,
            Outcome::Skipped => 1,
            Outcome::DryRun => 2,
            Outcome::Mismatch => 3,
            Outcome::Unauthorized => 4,
            Outcome::Rejected => 5,
            Outcome::Failed => 6,
            Outcome::Invalid => 7,
            Outcome::Cancelled => 8,
        }
    }
}

/// What the server said about the process in a 200 answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Remote {
    /// `data.process_uuid`.
    pub process_uuid: String,
    /// `data.status`.
    pub status: String,
    /// `data.status_reasons`.
    pub status_reasons: String,
    /// `data.updated_at`.
    pub updated_at: String,
    /// `data.auth_uuid`: the process the answer is about, compared with the row's (not a
    /// column of the results file).
    pub auth_uuid: String,
}

impl Remote {
    /// Whether the answer names another process than the one the row is about: an echoed
    /// `auth_uuid` that is not `sent` (in any case or spelling of the same UUID). An answer
    /// without one names none.
    pub fn names_another_process(&self, sent: &uuid::Uuid) -> bool {
        let echoed = self.auth_uuid.trim();
        !echoed.is_empty() && !uuid::Uuid::try_parse(echoed).is_ok_and(|u| u == *sent)
    }
}

/// The record of one finished row: one line of the results file.
#[derive(Debug, Clone)]
pub struct RowResult {
    /// The input row.
    pub row: Row,
    /// How it ended.
    pub outcome: Outcome,
    /// The HTTP status of the last answer, if any.
    pub http_status: Option<u16>,
    /// Requests sent for this row (0 if never sent).
    pub attempts: u32,
    /// Duration of the last attempt, in milliseconds.
    pub latency_ms: Option<u64>,
    /// What went wrong, or a note; empty when all went well.
    pub error: String,
    /// Reasons were sent and the server echoed other `status_reasons` (a warning: the row
    /// stays `ok`, with a note in `error`).
    pub reasons_differ: bool,
    /// The process as the server returned it, on success.
    pub remote: Option<Remote>,
    /// When the row finished.
    pub finished_at: SystemTime,
    /// Already ok in the results file from an earlier run (`--resume`): counted, not written
    /// again, so that resuming a finished job does not grow its file.
    pub already_recorded: bool,
}

impl RowResult {
    /// A row that was never sent.
    pub fn unsent(row: Row, outcome: Outcome, error: String) -> RowResult {
        RowResult {
            row,
            outcome,
            http_status: None,
            attempts: 0,
            latency_ms: None,
            error,
            reasons_differ: false,
            remote: None,
            finished_at: SystemTime::now(),
            already_recorded: false,
        }
    }
}

/// Makes a cell safe to open in a spreadsheet: a cell that a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@`, tab, carriage return first) gets a leading `'`. A cell that
/// already starts with `'` gets one too, so that [`restore_cell`] is its exact inverse.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\'') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// The inverse of [`neutralise`], for readers of a results file.
pub fn restore_cell(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

/// A count per outcome, indexed by [`Outcome`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts([u64; Outcome::ALL.len()]);

impl Counts {
    /// Rows counted, in all.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The outcomes that happened, with their counts, in the order summaries list them.
    pub fn nonzero(&self) -> impl Iterator<Item = (Outcome, u64)> + '_ {
        Outcome::ALL
            .into_iter()
            .map(|o| (o, self[o]))
            .filter(|(_, n)| *n > 0)
    }
}

impl Index<Outcome> for Counts {
    type Output = u64;

    fn index(&self, outcome: Outcome) -> &u64 {
        &self.0[outcome.index()]
    }
}

impl IndexMut<Outcome> for Counts {
    fn index_mut(&mut self, outcome: Outcome) -> &mut u64 {
        &mut self.0[outcome.index()]
    }
}
