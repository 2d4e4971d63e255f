//! The scan of a whole file before anything is sent: every row checked, every problem found,
//! auth_uuids repeated on several lines included.

use std::hash::{Hash, Hasher};

use uuid::Uuid;

use super::lines::{Duplicates, Validator};
use super::{Checked, RowProblem, Rules, check_record, parse_canonical_uuid};
use crate::input::{CsvInput, InputError};

/// What the scan of the whole file found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Data rows read.
    pub rows: u64,
    /// Rows that can be sent.
    pub valid: u64,
    /// Valid rows per state, indexed by [`State::index`].
    pub per_state: [u64; 3],
    /// The problems of the lowest lines, at most [`KEPT_PROBLEMS`], sorted by line and
    /// column (a file of millions of bad rows must not hold them all in memory).
    pub problems: Vec<RowProblem>,
    /// Problems found beyond those kept in [`Scan::problems`].
    pub problems_not_kept: u64,
    /// Blank rows skipped (blank lines, lines of blanks or of delimiters only).
    pub blank_rows: u64,
    /// A workbook's hidden or filtered-out rows left out (`--hidden skip`).
    pub hidden_skipped: u64,
    /// Valid rows without their own api_key (they need the default key).
    pub rows_without_key: u64,
    /// Every key of the `api_key` column, to cut out of whatever a server says.
    pub keys: crate::text::Redactor,
    /// Valid rows that send reasons (their own, or the `--reasons` default).
    pub rows_with_reasons: u64,
    /// Rows identical in every cell to an earlier valid row: not sent again, not invalid.
    pub repeated: u64,
    /// (line, the earlier line it repeats), sorted by line, for the warnings.
    pub repeats: Vec<(u64, u64)>,
    /// The validator for the sending pass, duplicates included.
    pub validator: Option<Validator>,
}

/// The most problems a scan keeps (and prints): the lowest lines'. More are counted.
pub const KEPT_PROBLEMS: usize = 10_000;

impl Scan {
    /// Every problem found, kept or not.
    pub fn problem_count(&self) -> u64 {
        self.problems.len() as u64 + self.problems_not_kept
    }

    /// Rows with at least one problem.
    pub fn invalid(&self) -> u64 {
        self.rows - self.valid - self.repeated
    }
}

/// The tag of a valid row in the scan's table: its state index + 1 (0: not valid).
const TAG_SHIFT: u32 = 56;
const LINE_MASK: u64 = (1 << TAG_SHIFT) - 1;

/// A valid row's share of the counts, to take back if a later line shows it is not valid.
#[derive(Debug, Clone, Copy)]
struct Share {
    state: usize,
    without_key: bool,
    with_reasons: bool,
}

impl Scan {
    fn count(&mut self, share: Share, add: bool) {
        let step = |n: &mut u64| if add { *n += 1 } else { *n -= 1 };
        step(&mut self.valid);
        step(&mut self.per_state[share.state]);
        if share.without_key {
            step(&mut self.rows_without_key);
        }
        if share.with_reasons {
            step(&mut self.rows_with_reasons);
        }
    }
}

/// A hash of every cell, to tell rows identical in every cell from rows that differ.
fn record_hash(record: &csv::ByteRecord) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    for cell in record.iter() {
        cell.hash(&mut hasher);
    }
    hasher.finish()
}

/// Whether `record`, read right after another row of a CSV file, looks like the rest of
/// that row cut by an unquoted line break: fewer cells than the header, and no auth_uuid
/// (neither in its first cell nor in the auth_uuid column).
fn looks_like_rest(record: &csv::ByteRecord, columns: &crate::input::Columns) -> bool {
    let is_uuid = |i: usize| {
        record
            .get(i)
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|c| parse_canonical_uuid(c.trim()))
            .is_some()
    };
    record.len() < columns.names.len() && !is_uuid(0) && !is_uuid(columns.auth_uuid)
}

/// Reads every row of `input` and finds every problem, including auth_uuids repeated on
/// several lines, rows identical to an earlier one, and rows split by an unquoted line
/// break. Memory grows only with the number of rows times 32 bytes (the UUIDs, lines and
/// row hashes kept for duplicate detection); problems beyond [`KEPT_PROBLEMS`] are only
/// counted.
pub fn scan(input: &mut CsvInput, rules: &Rules) -> Result<Scan, InputError> {
    let columns = input.columns().clone();
    let is_csv = input.sheet().is_none();
    let mut scan = Scan::default();
    // (uuid as two words, line | tag << TAG_SHIFT, hash of the row's cells).
    let mut seen: Vec<([u64; 2], u64, u64)> = Vec::new();
    let key = |uuid: Uuid| {
        let (hi, lo) = uuid.as_u64_pair();
        [hi, lo]
    };
    let mut duplicates = Duplicates::default();
    // The previous row: its line, its share of the counts if valid, the blank rows before it.
    let mut previous: Option<(u64, Option<Share>)> = None;
    let mut blank_before = input.blank_rows();
    let mut record = csv::ByteRecord::new();
    while let Some(line) = input.next_record(&mut record)? {
        scan.rows += 1;
        // Right after the previous row: no blank row skipped in between.
        let right_after = blank_before == input.blank_rows();
        blank_before = input.blank_rows();
        let split_from = previous
            .filter(|_| is_csv && right_after && looks_like_rest(&record, &columns))
            .map(|(first, share)| {
                // The row before holds only part of its cells: it is not valid either.
                if let Some(share) = share {
                    scan.count(share, false);
                    if let Some(last) = seen.last_mut() {
                        last.1 &= LINE_MASK;
                    }
                }
                duplicates.splits.push((first, line, false));
                duplicates.splits.push((line, first, true));
                scan.problems
                    .push(super::lines::split_problem(first, line, false));
                first
            });
        let checked = check_record(&columns, &record, line, rules);
        let checked = match (checked, split_from) {
            (checked, None) => checked,
            (Checked::Valid(row, _) | Checked::Repeat(row, _), Some(first)) => {
                Checked::Invalid(row, vec![super::lines::split_problem(line, first, true)])
            }
            (Checked::Invalid(row, mut problems), Some(first)) => {
                problems.push(super::lines::split_problem(line, first, true));
                Checked::Invalid(row, problems)
            }
        };
        previous = Some((line, None));
        match checked {
            Checked::Valid(row, request) => {
                let tag = request.state.index() as u64 + 1;
                seen.push((
                    key(request.uuid),
                    (line & LINE_MASK) | (tag << TAG_SHIFT),
                    record_hash(&record),
                ));
                let share = Share {
                    state: request.state.index(),
                    without_key: row.api_key.is_none(),
                    with_reasons: request.reasons.is_some(),
                };
                scan.count(share, true);
                if let Some(key) = &row.api_key {
                    scan.keys.add(key);
                }
                previous = Some((line, Some(share)));
            }
            Checked::Invalid(row, problems) => {
                if let Some(key) = &row.api_key {
                    scan.keys.add(key);
                }
                if let Some(uuid) = parse_canonical_uuid(&row.auth_uuid) {
                    seen.push((key(uuid), line & LINE_MASK, record_hash(&record)));
                }
                // Rows come in line order: the first problems are the lowest lines'.
                let room = KEPT_PROBLEMS.saturating_sub(scan.problems.len());
                scan.problems_not_kept += problems.len().saturating_sub(room) as u64;
                scan.problems.extend(problems.into_iter().take(room));
            }
            // check_record sees one row: only the validator, after the scan, knows repeats.
            Checked::Repeat(..) => unreachable!("check_record never returns a repeat"),
        }
    }
    scan.blank_rows = input.blank_rows();
    scan.hidden_skipped = input.hidden_skipped();
    seen.sort_unstable_by_key(|(uuid, tagged, _)| (*uuid, tagged & LINE_MASK));
    for group in seen.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        let uuid = Uuid::from_u64_pair(group[0].0[0], group[0].0[1]);
        let identical = group.iter().all(|(_, _, hash)| *hash == group[0].2);
        let first = group[0].1 & LINE_MASK;
        let mut lines = Vec::with_capacity(group.len());
        for (_, tagged, _) in group {
            let line = tagged & LINE_MASK;
            let state = tagged >> TAG_SHIFT;
            if identical {
                // Rows identical in every cell are one row: the first is sent (or refused
                // with its own problems), the others are repeats of it, accounted for.
                if line != first && state > 0 {
                    duplicates.repeats.push((line, first));
                    scan.valid -= 1;
                    scan.per_state[(state - 1) as usize] -= 1;
                    scan.repeated += 1;
                }
                continue;
            }
            duplicates.lines.push((line, duplicates.groups.len()));
            lines.push(line);
            if state > 0 {
                // It passed every other rule, so it was counted valid.
                scan.valid -= 1;
                scan.per_state[(state - 1) as usize] -= 1;
            }
        }
        if !identical {
            duplicates.groups.push((uuid, lines));
        }
    }
    drop(seen);
    duplicates.lines.sort_unstable_by_key(|(line, _)| *line);
    duplicates.repeats.sort_unstable();
    duplicates.splits.sort_unstable();
    scan.problems.extend(duplicates.problems());
    scan.problems
        .sort_by(|a, b| a.line.cmp(&b.line).then_with(|| a.column.cmp(&b.column)));
    if scan.problems.len() > KEPT_PROBLEMS {
        scan.problems_not_kept += (scan.problems.len() - KEPT_PROBLEMS) as u64;
        scan.problems.truncate(KEPT_PROBLEMS);
    }
    scan.repeats = duplicates.repeats.clone();
    scan.validator = Some(Validator {
        rules: rules.clone(),
        duplicates,
    });
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::ReadOptions;

    const U1: &str = "01900000-0000-7000-8000-000000000001";
    const U2: &str = "01900000-0000-7000-8000-000000000002";

    fn scan_text(text: &str) -> Scan {
        let mut input = CsvInput::new(
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            "t.csv",
            &ReadOptions::default(),
        )
        .unwrap();
        scan(&mut input, &Rules::default()).unwrap()
    }

    #[test]
    fn the_scan_names_every_line_of_a_duplicate_once_and_fixes_the_counts() {
        let scan = scan_text(&format!(
            "auth_uuid,state\n{U1},OK\n{U2},KO\n{},cancelled\nbad,OK\n{U1},KO\n",
            U1.to_uppercase()
        ));
        assert_eq!((scan.rows, scan.valid, scan.invalid()), (5, 1, 4));
        assert_eq!(scan.per_state, [0, 1, 0]);
        let lines: Vec<u64> = scan.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![2, 5]);
        let rendered = scan.problems[0].render("t.csv:");
        assert!(
            rendered.starts_with(&format!(
                "t.csv:2: column auth_uuid: {U1} appears on lines 2, 4 and 6;"
            )),
            "{rendered}"
        );
        let validator = scan.validator.unwrap();
        for line in [2, 4, 6] {
            let problem = validator.duplicates.problem(line).unwrap();
            assert_eq!(problem.line, line);
            assert!(problem.render("t.csv:").contains("lines 2, 4 and 6"));
        }
        assert!(validator.duplicates.problem(3).is_none());
    }

    #[test]
    fn blank_rows_are_counted_not_checked() {
        let scan = scan_text(&format!("auth_uuid;state\r\n{U1};OK\r\n;;\r\n\r\n  \r\n"));
        assert_eq!((scan.rows, scan.valid, scan.blank_rows), (1, 1, 3));
        assert!(scan.problems.is_empty());
    }

    #[test]
    fn problems_beyond_the_kept_ones_are_counted_and_the_lowest_lines_kept() {
        let mut text = format!("auth_uuid,state\n{U1},OK\n");
        for _ in 0..KEPT_PROBLEMS + 5 {
            text.push_str("bad,OK\n");
        }
        text.push_str(&format!("{U1},KO\n"));
        let scan = scan_text(&text);
        assert_eq!(scan.problems.len(), KEPT_PROBLEMS);
        assert_eq!(scan.problem_count(), KEPT_PROBLEMS as u64 + 6);
        assert_eq!(scan.invalid(), KEPT_PROBLEMS as u64 + 7);
        assert_eq!(
            scan.problems[0].line, 2,
            "the duplicate's first line is kept"
        );
        assert_eq!(scan.problems.last().unwrap().line, KEPT_PROBLEMS as u64 + 1);
    }
}
