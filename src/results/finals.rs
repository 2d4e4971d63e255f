//! The final outcome of each row of a job, for `report` and `--export-failed`, in a compact
//! table (24 bytes a row): which line decides the row's outcome (its last line that records
//! one: a `skipped` line decides nothing), and whether the last run recorded the row.

use std::path::Path;

use super::reader::{ResultsFile, RowKey, read_lines};
use super::table::{Merge, Table};
use crate::results::Outcome;

/// What the lines say about one row, packed in 8 bytes: the deciding line (0: none, only
/// `skipped` lines; 40 bits), its outcome, whether a line of the last run is about the row,
/// and for the export: a mark (the row was found in the input), whether the reasons it was
/// sent with are wanted, and which of the export's few distinct reasons they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Final(u64);

const LINE_MASK: u64 = (1 << 40) - 1;
const REASONS_SHIFT: u32 = 40;
const REASONS_MASK: u64 = 0xffff << REASONS_SHIFT;
const OUTCOME_SHIFT: u32 = 56;
const OUTCOME_MASK: u64 = 0xf << OUTCOME_SHIFT;
const WANTS_REASONS: u64 = 1 << 60;
const CURRENT: u64 = 1 << 62;
const MARKED: u64 = 1 << 63;
/// The flags a later line keeps from an earlier one.
const FLAGS: u64 = CURRENT | MARKED | WANTS_REASONS | REASONS_MASK;

impl Final {
    fn new(line: u64, outcome: Outcome, current: bool) -> Final {
        let decides = if outcome == Outcome::Skipped {
            0
        } else {
            (line & LINE_MASK) | ((outcome.index() as u64) << OUTCOME_SHIFT)
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
            _ => Outcome::ALL[((self.0 & OUTCOME_MASK) >> OUTCOME_SHIFT) as usize],
        }
    }

    /// Whether line `n`, which recorded `own`, is where the row is listed and exported: the
    /// line that decides it, or any line of a row refused as `invalid` (rows sharing an
    /// auth_uuid with different cells: each is shown, so that the user chooses).
    pub fn shown_at(self, n: u64, own: Outcome) -> bool {
        self.line() == n || (own == Outcome::Invalid && self.outcome() == Outcome::Invalid)
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

    /// Whether [`Final::want_reasons`] was called.
    pub fn wants_reasons(self) -> bool {
        self.0 & WANTS_REASONS != 0
    }

    /// Notes that the export wants the reasons the row was sent with.
    pub fn want_reasons(&mut self) {
        self.0 |= WANTS_REASONS;
    }

    /// The number given by [`Final::set_reasons`], if any.
    pub fn reasons(self) -> Option<u16> {
        match (self.0 & REASONS_MASK) >> REASONS_SHIFT {
            0 => None,
            n => Some(n as u16 - 1),
        }
    }

    /// Notes which reasons (a number below `u16::MAX`) the row was sent with.
    pub fn set_reasons(&mut self, n: u16) {
        let stored = u64::from(n.min(u16::MAX - 1)) + 1;
        self.0 = (self.0 & !REASONS_MASK) | (stored << REASONS_SHIFT);
    }
}

impl Merge for Final {
    fn merge(&mut self, newer: Self) {
        let decides = match newer.line() {
            0 => self.0 & (LINE_MASK | OUTCOME_MASK),
            _ => newer.0 & (LINE_MASK | OUTCOME_MASK),
        };
        self.0 = decides | (self.0 & FLAGS) | (newer.0 & (CURRENT | MARKED | WANTS_REASONS));
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

    /// What the lines say about the row of `key`, to change.
    pub fn get_mut(&mut self, key: RowKey) -> Option<&mut Final> {
        self.table.get_mut(key.packed())
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
        f.want_reasons();
        f.set_reasons(7);
        f.merge(Final::new(13, Outcome::Cancelled, true));
        assert!(f.marked() && f.failed() && f.wants_reasons());
        assert_eq!((f.line(), f.reasons()), (13, Some(7)));
        assert_eq!(
            Final::new(4, Outcome::Skipped, true).outcome(),
            Outcome::Skipped
        );
    }
}
