//! The scan of a whole file before anything is sent: every row checked, every problem found,
//! auth_uuids repeated on several lines included.
//!
//! Memory does not grow with the rows beyond 8 bytes each: the first pass keeps only a
//! fingerprint of each row's auth_uuid. Fingerprints seen more than once are candidates; only
//! then does a second pass read the file again and keep the candidate rows (their whole
//! auth_uuid, their line, a 128-bit keyed hash of their cells), so that the auth_uuids said to
//! repeat do repeat, and every line is named, even when two different auth_uuids share a
//! fingerprint. A file with very many duplicates takes several second passes, each for as
//! many candidate rows as fit in [`ROWS_PER_PASS`].

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};

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

impl Scan {
    /// Keeps `problems` while there is room, counts them otherwise. Rows come in line order
    /// (a split row's problem is its first part's, the row just before): the problems kept
    /// are the lowest lines'.
    fn keep(&mut self, problems: Vec<RowProblem>) {
        let room = KEPT_PROBLEMS.saturating_sub(self.problems.len());
        self.problems_not_kept += problems.len().saturating_sub(room) as u64;
        self.problems.extend(problems.into_iter().take(room));
    }
}

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

/// The 8-byte fingerprint of an auth_uuid: a keyed mix (random keys per process, so no input
/// can be made to collide on purpose), cut to `mask` (all bits, but for the tests that force
/// collisions). Two rows with the same auth_uuid always share it; two that share it are only
/// candidates, decided by the second pass.
#[derive(Debug, Clone, Copy)]
struct Fingerprint {
    keys: [u64; 2],
    mask: u64,
}

impl Fingerprint {
    fn new(mask: u64) -> Fingerprint {
        let random = RandomState::new();
        Fingerprint {
            keys: [random.hash_one(0u8), random.hash_one(1u8)],
            mask,
        }
    }

    fn of(&self, uuid: Uuid) -> u64 {
        let (hi, lo) = uuid.as_u64_pair();
        let product = u128::from(hi ^ self.keys[0]) * u128::from(lo ^ self.keys[1]);
        ((product as u64) ^ ((product >> 64) as u64)) & self.mask
    }
}

/// The auth_uuid of a record, when its cell holds one (valid or not otherwise): the cell as
/// [`check_record`] reads it (UTF-8, trimmed), in the canonical form.
fn record_uuid(record: &csv::ByteRecord, column: usize) -> Option<Uuid> {
    let cell = std::str::from_utf8(record.get(column)?).ok()?;
    parse_canonical_uuid(cell.trim())
}

/// Whether `record`, read right after another row of a CSV file, looks like the rest of
/// that row cut by an unquoted line break: fewer cells than the header, and no auth_uuid
/// (neither in its first cell nor in the auth_uuid column).
fn looks_like_rest(record: &csv::ByteRecord, columns: &crate::input::Columns) -> bool {
    record.len() < columns.names.len()
        && record_uuid(record, 0).is_none()
        && record_uuid(record, columns.auth_uuid).is_none()
}

/// A way to read the input again from its start, for the second pass.
pub type Again<'a> = &'a mut dyn FnMut() -> Result<CsvInput, InputError>;

/// Reads every row of `input` and finds every problem, including auth_uuids repeated on
/// several lines, rows identical to an earlier one, and rows split by an unquoted line
/// break. Memory grows with the rows by 8 bytes each (a fingerprint of the auth_uuid), and
/// otherwise with the lines related to others (duplicates, repeats, split rows); problems
/// beyond [`KEPT_PROBLEMS`] are only counted. When two rows share a fingerprint, `again`
/// reopens the input for a second pass over those rows only.
pub fn scan(input: &mut CsvInput, rules: &Rules, again: Again<'_>) -> Result<Scan, InputError> {
    scan_with(
        input,
        rules,
        again,
        Fingerprint::new(u64::MAX),
        ROWS_PER_PASS,
    )
}

fn scan_with(
    input: &mut CsvInput,
    rules: &Rules,
    again: Again<'_>,
    fingerprint: Fingerprint,
    per_pass: usize,
) -> Result<Scan, InputError> {
    let columns = input.columns().clone();
    let is_csv = input.sheet().is_none();
    let mut scan = Scan::default();
    // The fingerprint of every row's auth_uuid, when it has one.
    let mut prints: Vec<u64> = Vec::new();
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
                }
                duplicates.splits.push((first, line, false));
                duplicates.splits.push((line, first, true));
                scan.keep(vec![super::lines::split_problem(first, line, false)]);
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
                // The same auth_uuid as `record_uuid` reads, already parsed.
                prints.push(fingerprint.of(request.uuid));
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
                if let Some(uuid) = record_uuid(&record, columns.auth_uuid) {
                    prints.push(fingerprint.of(uuid));
                }
                scan.keep(problems);
            }
            // check_record sees one row: only the validator, after the scan, knows repeats.
            Checked::Repeat(..) => unreachable!("check_record never returns a repeat"),
        }
    }
    scan.blank_rows = input.blank_rows();
    scan.hidden_skipped = input.hidden_skipped();
    duplicates.splits.sort_unstable();
    prints.sort_unstable();
    let passes = Candidates::of(prints, per_pass);
    let mut groups = Vec::new();
    for pass in 0..passes.count() {
        let found = candidate_rows(again()?, rules, &duplicates, &passes, pass, fingerprint)?;
        settle(&mut scan, &mut duplicates, &mut groups, found);
    }
    // Groups in the order of their first lines.
    groups.sort_unstable_by_key(|(_, lines): &(Uuid, Vec<u64>)| lines[0]);
    for (index, (_, lines)) in groups.iter().enumerate() {
        duplicates
            .lines
            .extend(lines.iter().map(|line| (*line, index)));
    }
    duplicates.groups = groups;
    duplicates.lines.sort_unstable_by_key(|(line, _)| *line);
    duplicates.repeats.sort_unstable();
    // One problem per repeated auth_uuid, groups in the order of their first lines: beyond
    // the first KEPT_PROBLEMS of them none can be among the lowest lines kept.
    let groups = duplicates.groups.len();
    scan.problems
        .extend(duplicates.problems().take(KEPT_PROBLEMS));
    scan.problems_not_kept += groups.saturating_sub(KEPT_PROBLEMS) as u64;
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

/// The fingerprints seen more than once, sorted, cut into the ranges that one second pass
/// each handles: as many rows as fit in [`ROWS_PER_PASS`] (or one fingerprint's, if more),
/// so that the second pass's memory does not grow with the duplicates either.
#[derive(Debug)]
struct Candidates {
    prints: Vec<u64>,
    /// Where each pass's range starts in `prints`, then `prints.len()`.
    starts: Vec<usize>,
}

impl Candidates {
    /// From every row's fingerprint, sorted; reuses their memory.
    fn of(mut prints: Vec<u64>, per_pass: usize) -> Candidates {
        let mut kept = 0;
        let mut starts = vec![0];
        let mut rows_in_pass = 0;
        let mut i = 0;
        while i < prints.len() {
            let print = prints[i];
            let run = prints[i..].iter().take_while(|p| **p == print).count();
            if run > 1 {
                if rows_in_pass > 0 && rows_in_pass + run > per_pass {
                    starts.push(kept);
                    rows_in_pass = 0;
                }
                rows_in_pass += run;
                prints[kept] = print;
                kept += 1;
            }
            i += run;
        }
        prints.truncate(kept);
        prints.shrink_to_fit();
        if kept == 0 {
            starts.clear();
        } else {
            starts.push(kept);
        }
        Candidates { prints, starts }
    }

    /// How many second passes are needed (0: no fingerprint was seen twice).
    fn count(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// The sorted fingerprints that pass `pass` handles.
    fn of_pass(&self, pass: usize) -> &[u64] {
        &self.prints[self.starts[pass]..self.starts[pass + 1]]
    }
}

/// The most candidate rows one second pass gathers (40 bytes each: 40 MiB).
const ROWS_PER_PASS: usize = 1 << 20;

/// A candidate row, as the second pass keeps it: 40 bytes.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    uuid: [u64; 2],
    /// The line, with the row's share of the counts in the top bits if it was counted
    /// valid (see [`pack`]).
    tagged: u64,
    /// A 128-bit keyed hash of every cell (random keys per process).
    cells: [u64; 2],
}

const TAG_SHIFT: u32 = 56;
const LINE_MASK: u64 = (1 << TAG_SHIFT) - 1;

/// A line with its share of the counts, if valid, in the top byte: state index + 1 in two
/// bits, then whether it needs the default key, whether it sends reasons.
fn pack(line: u64, share: Option<Share>) -> u64 {
    let tag = share.map_or(0, |s| {
        (s.state as u64 + 1) | (u64::from(s.without_key) << 2) | (u64::from(s.with_reasons) << 3)
    });
    (line & LINE_MASK) | (tag << TAG_SHIFT)
}

/// The line and share packed by [`pack`].
fn unpack(tagged: u64) -> (u64, Option<Share>) {
    let tag = tagged >> TAG_SHIFT;
    let share = (tag & 3 != 0).then(|| Share {
        state: (tag & 3) as usize - 1,
        without_key: tag & 4 != 0,
        with_reasons: tag & 8 != 0,
    });
    (tagged & LINE_MASK, share)
}

/// One second pass: reads the input again and keeps the rows whose fingerprint is one of
/// this pass's candidates. Rows are checked again exactly as the first pass checked them
/// (a part of a split row was not counted valid), so their shares can be taken back.
fn candidate_rows(
    mut input: CsvInput,
    rules: &Rules,
    duplicates: &Duplicates,
    passes: &Candidates,
    pass: usize,
    fingerprint: Fingerprint,
) -> Result<Vec<Candidate>, InputError> {
    let prints = passes.of_pass(pass);
    let (low, high) = (prints[0], prints[prints.len() - 1]);
    let columns = input.columns().clone();
    let cell_keys = [RandomState::new(), RandomState::new()];
    let mut found = Vec::new();
    let mut record = csv::ByteRecord::new();
    while let Some(line) = input.next_record(&mut record)? {
        let Some(uuid) = record_uuid(&record, columns.auth_uuid) else {
            continue;
        };
        let print = fingerprint.of(uuid);
        if print < low || print > high || prints.binary_search(&print).is_err() {
            continue;
        }
        let split = duplicates.split_problem(line).is_some();
        let share = match check_record(&columns, &record, line, rules) {
            Checked::Valid(row, request) if !split => Some(Share {
                state: request.state.index(),
                without_key: row.api_key.is_none(),
                with_reasons: request.reasons.is_some(),
            }),
            _ => None,
        };
        let cells = cell_keys.each_ref().map(|keys| {
            let mut hasher = keys.build_hasher();
            for cell in record.iter() {
                cell.hash(&mut hasher);
            }
            hasher.finish()
        });
        let (hi, lo) = uuid.as_u64_pair();
        found.push(Candidate {
            uuid: [hi, lo],
            tagged: pack(line, share),
            cells,
        });
    }
    Ok(found)
}

/// Applies what a second pass found, per auth_uuid: rows identical in every cell are one
/// row (the first sent or refused with its own problems, the others repeats of it); rows
/// that share an auth_uuid but differ are all refused, each naming every line (added to
/// `groups`). Candidates alone under their auth_uuid only shared a fingerprint.
fn settle(
    scan: &mut Scan,
    duplicates: &mut Duplicates,
    groups: &mut Vec<(Uuid, Vec<u64>)>,
    mut found: Vec<Candidate>,
) {
    found.sort_unstable_by_key(|c| (c.uuid, c.tagged & LINE_MASK));
    for group in found
        .chunk_by(|a, b| a.uuid == b.uuid)
        .filter(|g| g.len() > 1)
    {
        let identical = group.iter().all(|c| c.cells == group[0].cells);
        let (first, _) = unpack(group[0].tagged);
        let mut lines = Vec::with_capacity(group.len());
        for candidate in group {
            let (line, share) = unpack(candidate.tagged);
            if identical {
                if line != first
                    && let Some(share) = share
                {
                    // Not sent: no key needed, no reasons sent.
                    duplicates.repeats.push((line, first));
                    scan.count(share, false);
                    scan.repeated += 1;
                }
                continue;
            }
            lines.push(line);
            if let Some(share) = share {
                // It passed every other rule, so it was counted valid.
                scan.count(share, false);
            }
        }
        if !identical {
            let uuid = Uuid::from_u64_pair(group[0].uuid[0], group[0].uuid[1]);
            groups.push((uuid, lines));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::ReadOptions;

    const U1: &str = "01900000-0000-7000-8000-000000000001";
    const U2: &str = "01900000-0000-7000-8000-000000000002";

    fn scan_text(text: &str) -> Scan {
        scan_masked(text, u64::MAX).0
    }

    fn scan_masked(text: &str, mask: u64) -> (Scan, usize) {
        scan_tuned(text, mask, ROWS_PER_PASS)
    }

    /// Scans `text` with fingerprints cut to `mask` and at most `per_pass` candidate rows a
    /// second pass; also says how often it was read.
    fn scan_tuned(text: &str, mask: u64, per_pass: usize) -> (Scan, usize) {
        let open = || {
            CsvInput::new(
                Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
                "t.csv",
                &ReadOptions::default(),
            )
            .unwrap()
        };
        let mut reads = 1;
        let mut again = || {
            reads += 1;
            Ok(open())
        };
        let scan = scan_with(
            &mut open(),
            &Rules::default(),
            &mut again,
            Fingerprint::new(mask),
            per_pass,
        );
        (scan.unwrap(), reads)
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

    /// Rows that share a fingerprint but not an auth_uuid, or an auth_uuid but not every
    /// cell: the second pass decides each exactly, whatever the fingerprints say.
    #[test]
    fn fingerprint_collisions_are_decided_exactly_by_the_second_pass() {
        const U3: &str = "01900000-0000-7000-8000-000000000003";
        let text = format!(
            "auth_uuid,state,reasons\n{U1},OK,a\n{U2},KO,b\n{U1},KO,a\n{U3},OK,c\n\
             {U2},KO,b\nbad,OK,x\n{U3},OK,c \n{U2},KO,b\n"
        );
        let exact = scan_masked(&text, u64::MAX);
        // A mask of 0: every auth_uuid has the same fingerprint; of 1: two fingerprints.
        for mask in [0, 1, u64::MAX] {
            let (scan, reads) = scan_masked(&text, mask);
            assert_eq!(reads, 2, "mask {mask:#x}: duplicates need the second pass");
            assert_eq!(
                (scan.rows, scan.valid, scan.repeated, scan.invalid()),
                (8, 1, 2, 5),
                "mask {mask:#x}"
            );
            // U2's three rows are identical: one row, sent once (as line 3).
            assert_eq!(scan.repeats, vec![(6, 3), (9, 3)], "mask {mask:#x}");
            let rendered: Vec<String> = scan.problems.iter().map(|p| p.render("t.csv:")).collect();
            assert_eq!(rendered.len(), 3, "mask {mask:#x}: {rendered:?}");
            assert!(
                rendered[0].starts_with(&format!(
                    "t.csv:2: column auth_uuid: {U1} appears on lines 2 and 4;"
                )),
                "mask {mask:#x}: {rendered:?}"
            );
            assert!(
                rendered[1].starts_with("t.csv:5: column auth_uuid:"),
                "{rendered:?}"
            );
            assert!(
                rendered[2].starts_with("t.csv:7: column auth_uuid:"),
                "{rendered:?}"
            );
            assert!(rendered[1].contains(&format!("{U3} appears on lines 5 and 8;")));
            assert_eq!(
                rendered,
                exact
                    .0
                    .problems
                    .iter()
                    .map(|p| p.render("t.csv:"))
                    .collect::<Vec<_>>()
            );
            let validator = scan.validator.unwrap();
            assert_eq!(validator.duplicates.repeat_of(9), Some(3));
            assert!(validator.duplicates.problem(8).is_some());
            assert!(validator.duplicates.problem(3).is_none());
        }
        // One candidate row a pass at most: every group has its own pass (a group's rows are
        // never cut across passes), with the same findings.
        for (mask, passes) in [(0, 1), (u64::MAX, 3)] {
            let (scan, reads) = scan_tuned(&text, mask, 1);
            assert_eq!(reads, 1 + passes, "mask {mask:#x}");
            assert_eq!(
                (scan.valid, scan.repeated, scan.repeats.clone()),
                (1, 2, vec![(6, 3), (9, 3)])
            );
            let rendered: Vec<String> = scan.problems.iter().map(|p| p.render("t.csv:")).collect();
            let expected: Vec<String> = exact
                .0
                .problems
                .iter()
                .map(|p| p.render("t.csv:"))
                .collect();
            assert_eq!(rendered, expected, "mask {mask:#x}");
        }
        // Distinct auth_uuids that all collide: read twice, nothing found.
        let distinct = format!("auth_uuid,state\n{U1},OK\n{U2},KO\n{U3},OK\n");
        for (mask, expected_reads) in [(0, 2), (u64::MAX, 1)] {
            let (scan, reads) = scan_masked(&distinct, mask);
            assert_eq!(reads, expected_reads, "mask {mask:#x}");
            assert_eq!((scan.valid, scan.repeated), (3, 0), "mask {mask:#x}");
            assert!(scan.problems.is_empty(), "mask {mask:#x}");
            assert!(scan.validator.unwrap().duplicates.is_empty());
        }
    }

    /// A repeat is not sent: it takes back its share of the rows needing the default key and
    /// of the rows sending reasons, not only of the valid rows.
    #[test]
    fn a_repeat_takes_back_its_whole_share_of_the_counts() {
        let scan = scan_text(&format!(
            "auth_uuid,state,reasons\n{U1},OK,why\n{U1},OK,why\n{U2},KO,\n"
        ));
        assert_eq!((scan.valid, scan.repeated), (2, 1));
        assert_eq!((scan.rows_without_key, scan.rows_with_reasons), (2, 1));
    }

    /// A file of rows split in two by unquoted line breaks keeps at most [`KEPT_PROBLEMS`]
    /// problems while it is read, too (the first part's problem went around the limit: the
    /// list grew with the split rows, to be cut only at the end; its capacity tells).
    #[test]
    fn split_rows_beyond_the_kept_problems_are_counted() {
        let mut text = String::from("auth_uuid,state,reasons\n");
        let pairs = 2 * KEPT_PROBLEMS + 10;
        for i in 0..pairs {
            text.push_str(&format!(
                "01900000-0000-7000-8000-{i:012x},OK,first\nrest\n"
            ));
        }
        let per_pair = scan_text(&text[..text.find("rest\n").unwrap() + 5]).problem_count();
        let scan = scan_text(&text);
        assert_eq!((scan.rows, scan.valid), (2 * pairs as u64, 0));
        assert_eq!(scan.problems.len(), KEPT_PROBLEMS);
        assert_eq!(scan.problem_count(), per_pair * pairs as u64);
        let lines: Vec<u64> = scan.problems.iter().map(|p| p.line).collect();
        assert!(lines.is_sorted() && lines[0] == 2, "the lowest lines kept");
        assert!(scan.problems.capacity() < 2 * KEPT_PROBLEMS);
    }

    /// Very many repeated auth_uuids: at most [`KEPT_PROBLEMS`] of their messages are made
    /// (the list held one per auth_uuid before it was cut), the rest counted.
    #[test]
    fn duplicates_beyond_the_kept_problems_are_counted() {
        let mut text = String::from("auth_uuid,state\n");
        let groups = 2 * KEPT_PROBLEMS + 10;
        for i in 0..groups {
            let uuid = format!("01900000-0000-7000-8000-{i:012x}");
            text.push_str(&format!("{uuid},OK\n{uuid},KO\n"));
        }
        let scan = scan_text(&text);
        assert_eq!((scan.valid, scan.invalid()), (0, 2 * groups as u64));
        assert_eq!(scan.problems.len(), KEPT_PROBLEMS);
        assert_eq!(scan.problem_count(), groups as u64);
        assert_eq!(scan.problems.last().unwrap().line, 2 * KEPT_PROBLEMS as u64);
        assert!(scan.problems.capacity() < 2 * KEPT_PROBLEMS);
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
