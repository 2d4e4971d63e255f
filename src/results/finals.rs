//! The final outcome of each row of a job, for `report` and `--export-failed`, in a compact
//! table (24 bytes a row): which line decides the row's outcome (its last line that records
//! one: a `skipped` line decides nothing), and whether the last run recorded the row.

use std::path::Path;

use super::reader::{ResultsFile, RowKey, read_lines};
use super::table::{Merge, Table};
use crate::results::Outcome;

/// What the lines say about one row, packed in 8 bytes: the deciding line (0: none, only
/// `skipped` lines), its outcome, whether a line of the last run is about the row, and a mark
/// for the export (the row was found in the input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Final(u64);

const LINE_BITS: u32 = 56;
const LINE_MASK: u64 = (1 << LINE_BITS) - 1;
const OUTCOME_MASK: u64 = 0xf << LINE_BITS;
const CURRENT: u64 = 1 << 62;
const MARKED: u64 = 1 << 63;

impl Final {
    fn new(line: u64, outcome: Outcome, current: bool) -> Final {
        let decides = if outcome == Outcome::Skipped {
            0
        } else {
            (line & LINE_MASK) | ((outcome.index() as u64) << LINE_BITS)
        };
        Final(decides | if current { CURRENT } else { 0 })
    }

    /// The line that decides the row's outcome; 0 when only `skipped` lines are about it.
    pub fn line(self) -> u64 {
        self.0 & LINE_MASK
    }

    /// The row's final outcome: its deciding line's, or `skipped` without one.
    pub fn outcome(self) -> Outcome {
        match self.line() {
            0 => Outcome::Skipped,
            _ => Outcome::ALL[((self.0 & OUTCOME_MASK) >> LINE_BITS) as usize],
        }
    }

    /// Whether a line of the last run is about the row.
    pub fn current(self) -> bool {
        self.0 & CURRENT != 0
    }

    /// Whether the row is part of the last run and did not end ok: what an export holds.
    pub fn failed(self) -> bool {
        self.current() && !matches!(self.outcome(), Outcome::Ok | Outcome::Skipped)
    }

    /// Whether [`Final::mark`] was called.
    pub fn marked(self) -> bool {
        self.0 & MARKED != 0
    }

    /// Marks the row (the export: found in the input).
    pub fn mark(&mut self) {
        self.0 |= MARKED;
    }
}

impl Merge for Final {
    fn merge(&mut self, newer: Self) {
        let decides = match newer.line() {
            0 => self.0 & (LINE_MASK | OUTCOME_MASK),
            _ => newer.0 & (LINE_MASK | OUTCOME_MASK),
        };
        self.0 = decides | ((self.0 | newer.0) & (CURRENT | MARKED));
    }
}

/// Every row of a results file and what its lines say.
#[derive(Debug)]
pub struct Finals {
    table: Table<Final>,
    /// The file, as read.
    pub file: ResultsFile,
    /// The lines before the last run (from its job record).
    pub lines_before: u64,
}

/// Reads the final outcome of every row of a results file; lines after `lines_before` are the
/// last run's.
pub fn read_finals(path: &Path, lines_before: u64) -> anyhow::Result<Finals> {
    let mut table = Table::default();
    let file = read_lines(path, |n, record, outcome| {
        let key = RowKey::of(record).packed();
        table.note(key, Final::new(n, outcome, n > lines_before));
        Ok(())
    })?;
    table.finish();
    Ok(Finals {
        table,
        file,
        lines_before,
    })
}

impl Finals {
    /// What the lines say about the row of `key`.
    pub fn get(&self, key: RowKey) -> Option<Final> {
        self.table.get(key.packed()).copied()
    }

    /// Marks the row of `key`; whether it was marked already.
    pub fn mark(&mut self, key: RowKey) -> bool {
        match self.table.get_mut(key.packed()) {
            Some(f) => {
                let was = f.marked();
                f.mark();
                was
            }
            None => false,
        }
    }

    /// The outcome a line of the last run about the row `key` counts as: its row's final
    /// outcome, so that a repeat of a row counts as the row does; `skipped` for a row
    /// that an earlier run's line says is ok.
    pub fn counted(&self, key: RowKey) -> Outcome {
        match self.get(key) {
            Some(f) if f.line() > self.lines_before || f.outcome() != Outcome::Ok => f.outcome(),
            _ => Outcome::Skipped,
        }
    }

    /// Every row's value.
    pub fn rows(&self) -> impl Iterator<Item = Final> + '_ {
        self.table.values().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skipped_line_decides_nothing_and_the_last_run_is_remembered() {
        let mut f = Final::new(3, Outcome::Failed, false);
        f.merge(Final::new(9, Outcome::Skipped, true));
        assert_eq!(
            (f.line(), f.outcome(), f.current()),
            (3, Outcome::Failed, true)
        );
        f.merge(Final::new(12, Outcome::Ok, false));
        assert_eq!(
            (f.line(), f.outcome(), f.current()),
            (12, Outcome::Ok, true)
        );
        f.mark();
        f.merge(Final::new(13, Outcome::Cancelled, true));
        assert!(f.marked() && f.failed());
        assert_eq!(
            Final::new(4, Outcome::Skipped, true).outcome(),
            Outcome::Skipped
        );
    }
}
