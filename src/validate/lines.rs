//! What the scan learns about lines in relation to other lines, for the sending pass to
//! apply without holding the file: auth_uuids repeated on rows that differ (an error naming
//! every line), rows identical to an earlier one (sent once), and rows split in two by a
//! line break that the export did not quote (an error on both lines).

use uuid::Uuid;

use super::{Checked, Problem, RowProblem, Rules, check_record};
use crate::input::Columns;

/// The lines the scan found related to other lines. Memory grows with those lines only.
#[derive(Debug, Clone, Default)]
pub struct Duplicates {
    /// (line, index in `groups`), sorted by line.
    pub(super) lines: Vec<(u64, usize)>,
    /// Each auth_uuid repeated on rows that differ, with every line that holds it, in order.
    pub(super) groups: Vec<(Uuid, Vec<u64>)>,
    /// (line, the earlier line it is identical to), sorted by line.
    pub(super) repeats: Vec<(u64, u64)>,
    /// (line, the other part's line, whether this is the rest), sorted by line.
    pub(super) splits: Vec<(u64, u64, bool)>,
}

impl Duplicates {
    /// The problem of `line` if it is a duplicate: one message naming every line.
    pub fn problem(&self, line: u64) -> Option<RowProblem> {
        let i = self.lines.binary_search_by_key(&line, |(l, _)| *l).ok()?;
        Some(self.group_problem(self.lines[i].1, line))
    }

    pub(super) fn group_problem(&self, group: usize, line: u64) -> RowProblem {
        let (uuid, lines) = &self.groups[group];
        RowProblem {
            line,
            column: Some("auth_uuid".to_string()),
            problem: Problem::Duplicate {
                uuid: *uuid,
                lines: lines.clone(),
            },
        }
    }

    /// One problem per repeated auth_uuid, at its first line, for the scan's list.
    pub(super) fn problems(&self) -> impl Iterator<Item = RowProblem> + '_ {
        (0..self.groups.len()).map(|g| self.group_problem(g, self.groups[g].1[0]))
    }

    /// The earlier line that `line` is identical to, in every cell.
    pub fn repeat_of(&self, line: u64) -> Option<u64> {
        let i = self.repeats.binary_search_by_key(&line, |(l, _)| *l).ok()?;
        Some(self.repeats[i].1)
    }

    /// The problem of `line` if it is one part of a row split by a line break.
    pub fn split_problem(&self, line: u64) -> Option<RowProblem> {
        let i = self
            .splits
            .binary_search_by_key(&line, |(l, _, _)| *l)
            .ok()?;
        let (line, other, rest) = self.splits[i];
        Some(split_problem(line, other, rest))
    }

    /// How many lines are duplicates.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether no line is a duplicate.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// The problem of one part of a split row.
pub(super) fn split_problem(line: u64, other: u64, rest: bool) -> RowProblem {
    RowProblem {
        line,
        column: None,
        problem: Problem::SplitRow { other, rest },
    }
}

/// Validates a row with everything the scan learned: its own rules, the duplicates, the
/// identical repeats and the split rows.
#[derive(Debug, Clone)]
pub struct Validator {
    /// The rules from the command line.
    pub rules: Rules,
    /// The lines related to other lines, found by the scan.
    pub duplicates: Duplicates,
}

impl Validator {
    /// Validates one record, marking it invalid if it is one of the duplicates or part of a
    /// split row, and as a repeat if it is identical to an earlier row that is sent.
    pub fn check(&self, columns: &Columns, record: &csv::ByteRecord, line: u64) -> Checked {
        let checked = check_record(columns, record, line, &self.rules);
        let found: Vec<RowProblem> = [
            self.duplicates.problem(line),
            self.duplicates.split_problem(line),
        ]
        .into_iter()
        .flatten()
        .collect();
        match checked {
            Checked::Valid(row, request) if found.is_empty() => {
                match self.duplicates.repeat_of(line) {
                    Some(first) => Checked::Repeat(row, first),
                    None => Checked::Valid(row, request),
                }
            }
            Checked::Valid(row, _) => Checked::Invalid(row, found),
            Checked::Invalid(row, mut problems) => {
                problems.extend(found);
                Checked::Invalid(row, problems)
            }
            repeat @ Checked::Repeat(..) => repeat,
        }
    }
}
