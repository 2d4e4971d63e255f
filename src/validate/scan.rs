//! The scan of a whole file before anything is sent: every row checked, every problem found,
//! auth_uuids repeated on several lines included.

use uuid::Uuid;

use super::{Checked, Problem, RowProblem, Rules, check_record, parse_canonical_uuid};
use crate::input::{Columns, CsvInput, InputError};

/// Lines that share an auth_uuid with another line, found by [`scan`], so that the sending
/// pass can refuse them without holding the file in memory.
#[derive(Debug, Clone, Default)]
pub struct Duplicates {
    /// (line, index in `groups`), sorted by line.
    lines: Vec<(u64, usize)>,
    /// Each repeated auth_uuid with every line that holds it, in order.
    groups: Vec<(Uuid, Vec<u64>)>,
}

impl Duplicates {
    /// The problem of `line` if it is a duplicate: one message naming every line.
    pub fn problem(&self, line: u64) -> Option<RowProblem> {
        let i = self.lines.binary_search_by_key(&line, |(l, _)| *l).ok()?;
        Some(self.group_problem(self.lines[i].1, line))
    }

    fn group_problem(&self, group: usize, line: u64) -> RowProblem {
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
    fn problems(&self) -> impl Iterator<Item = RowProblem> + '_ {
        (0..self.groups.len()).map(|g| self.group_problem(g, self.groups[g].1[0]))
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

/// Validates a row with everything the scan learned: its own rules and the duplicates.
#[derive(Debug, Clone)]
pub struct Validator {
    /// The rules from the command line.
    pub rules: Rules,
    /// The duplicate lines found by the scan.
    pub duplicates: Duplicates,
}

impl Validator {
    /// Validates one record, marking it invalid if it is one of the duplicates.
    pub fn check(&self, columns: &Columns, record: &csv::ByteRecord, line: u64) -> Checked {
        let checked = check_record(columns, record, line, &self.rules);
        match self.duplicates.problem(line) {
            None => checked,
            Some(duplicate) => match checked {
                Checked::Valid(row, _) => Checked::Invalid(row, vec![duplicate]),
                Checked::Invalid(row, mut problems) => {
                    problems.push(duplicate);
                    Checked::Invalid(row, problems)
                }
            },
        }
    }
}

/// What the scan of the whole file found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Data rows read.
    pub rows: u64,
    /// Rows that can be sent.
    pub valid: u64,
    /// Valid rows per state, indexed by [`State::index`].
    pub per_state: [u64; 3],
    /// Every problem, sorted by line and column.
    pub problems: Vec<RowProblem>,
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
    /// The validator for the sending pass, duplicates included.
    pub validator: Option<Validator>,
}

impl Scan {
    /// Rows with at least one problem.
    pub fn invalid(&self) -> u64 {
        self.rows - self.valid
    }
}

/// Reads every row of `input` and finds every problem, including auth_uuids repeated on
/// several lines. Memory grows only with the number of rows times 24 bytes (the UUIDs and
/// lines kept for duplicate detection) and with the number of problems.
pub fn scan(input: &mut CsvInput, rules: &Rules) -> Result<Scan, InputError> {
    let columns = input.columns().clone();
    let mut scan = Scan::default();
    // (uuid as two words, line | tag << 56) where the tag is the state index + 1 when the
    // row is otherwise valid, 0 when not: 24 bytes a row (a u128 would align to 32).
    let mut seen: Vec<([u64; 2], u64)> = Vec::new();
    let key = |uuid: Uuid| {
        let (hi, lo) = uuid.as_u64_pair();
        [hi, lo]
    };
    const TAG_SHIFT: u32 = 56;
    const LINE_MASK: u64 = (1 << TAG_SHIFT) - 1;
    let mut record = csv::ByteRecord::new();
    while let Some(line) = input.next_record(&mut record)? {
        scan.rows += 1;
        match check_record(&columns, &record, line, rules) {
            Checked::Valid(row, request) => {
                let tag = request.state.index() as u64 + 1;
                seen.push((key(request.uuid), (line & LINE_MASK) | (tag << TAG_SHIFT)));
                scan.valid += 1;
                scan.per_state[request.state.index()] += 1;
                match &row.api_key {
                    Some(key) => scan.keys.add(key),
                    None => scan.rows_without_key += 1,
                }
                if request.reasons.is_some() {
                    scan.rows_with_reasons += 1;
                }
            }
            Checked::Invalid(row, problems) => {
                if let Some(key) = &row.api_key {
                    scan.keys.add(key);
                }
                if let Some(uuid) = parse_canonical_uuid(&row.auth_uuid) {
                    seen.push((key(uuid), line & LINE_MASK));
                }
                scan.problems.extend(problems);
            }
        }
    }
    scan.blank_rows = input.blank_rows();
    scan.hidden_skipped = input.hidden_skipped();
    seen.sort_unstable();
    let mut duplicates = Duplicates::default();
    for group in seen.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        let uuid = Uuid::from_u64_pair(group[0].0[0], group[0].0[1]);
        let mut lines = Vec::with_capacity(group.len());
        for (_, tagged) in group {
            let line = tagged & LINE_MASK;
            let state = tagged >> TAG_SHIFT;
            duplicates.lines.push((line, duplicates.groups.len()));
            lines.push(line);
            if state > 0 {
                // It passed every other rule, so it was counted valid.
                scan.valid -= 1;
                scan.per_state[(state - 1) as usize] -= 1;
            }
        }
        lines.sort_unstable();
        duplicates.groups.push((uuid, lines));
    }
    drop(seen);
    duplicates.lines.sort_unstable_by_key(|(line, _)| *line);
    scan.problems.extend(duplicates.problems());
    scan.problems
        .sort_by(|a, b| a.line.cmp(&b.line).then_with(|| a.column.cmp(&b.column)));
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
}
