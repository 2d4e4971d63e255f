//! Pure validation: a CSV record in, a request to send or the list of its problems out; and
//! the whole-file scan that finds every problem, duplicates included, before anything is sent.

use std::fmt;

use secrecy::SecretString;
use serde::Serialize;
use uuid::Uuid;

use crate::input::{Columns, CsvInput, InputError};

/// The states the endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum State {
    /// `OK`.
    #[serde(rename = "OK")]
    Ok,
    /// `KO`.
    #[serde(rename = "KO")]
    Ko,
    /// `CANCELLED`.
    #[serde(rename = "CANCELLED")]
    Cancelled,
}

impl State {
    /// Every state, in the order summaries list them.
    pub const ALL: [State; 3] = [State::Ok, State::Ko, State::Cancelled];

    /// The text sent to the endpoint.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Ko => "KO",
            State::Cancelled => "CANCELLED",
        }
    }

    /// Position in [`State::ALL`], for per-state counters.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Parses a state cell: trimmed, case-insensitive.
    pub fn parse(text: &str) -> Option<State> {
        let upper = text.trim().to_ascii_uppercase();
        State::ALL.into_iter().find(|s| s.as_str() == upper)
    }

    /// The state a mistyped value most likely meant, if one is close.
    pub fn suggest(text: &str) -> Option<State> {
        let upper = text.trim().to_uppercase();
        let alias = match upper.as_str() {
            "CANCELED" | "CANCEL" | "CANCELADO" | "CANCELADA" | "ANULADO" => Some(State::Cancelled),
            "0K" | "OKAY" | "VALID" | "VALIDO" | "VÁLIDO" | "APROBADO" => Some(State::Ok),
            "K0" | "NOK" | "NO_OK" | "INVALID" | "RECHAZADO" => Some(State::Ko),
            _ => None,
        };
        alias.or_else(|| {
            State::ALL
                .into_iter()
                .map(|s| (strsim::damerau_levenshtein(&upper, s.as_str()), s))
                .filter(|(distance, s)| *distance <= 2 && *distance < s.as_str().len())
                .min_by_key(|(distance, _)| *distance)
                .map(|(_, s)| s)
        })
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Validation settings that come from the command line.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Reasons sent for rows whose `reasons` cell is empty (`--reasons`).
    pub default_reasons: Option<String>,
    /// The longest reasons accepted, in characters (`--max-reasons-len`).
    pub max_reasons_len: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            default_reasons: None,
            max_reasons_len: 2000,
        }
    }
}

/// What is wrong with one cell or one row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The row has a different number of fields than the header.
    #[error("{} where the header has {expected}{hint}", count_fields(*found))]
    FieldCount {
        /// Fields in the row.
        found: usize,
        /// Fields in the header.
        expected: usize,
        /// A likely cause.
        hint: &'static str,
    },
    /// A cell is not valid UTF-8.
    #[error(
        "not valid UTF-8 (byte 0x{byte:02X}); if the file was saved by a spreadsheet on Windows, run again with --encoding windows-1252"
    )]
    NotUtf8 {
        /// The first offending byte.
        byte: u8,
    },
    /// A required cell is empty.
    #[error("empty; every row needs {what}")]
    Empty {
        /// What the cell should hold.
        what: &'static str,
    },
    /// The auth_uuid is not a canonical UUID.
    #[error(
        "\"{}\" is not a UUID in canonical form (36 characters like 0190b5a2-7c3e-7d41-9b2a-5f6e1d2c3b4a)",
        crate::text::safe_input_text(value)
    )]
    BadUuid {
        /// The cell, trimmed.
        value: String,
    },
    /// The state is not one of OK, KO, CANCELLED.
    #[error("\"{}\" is not a state: use OK, KO or CANCELLED{}", crate::text::safe_input_text(value), suggestion.map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    UnknownState {
        /// The cell, trimmed.
        value: String,
        /// The closest state, if any.
        suggestion: Option<State>,
    },
    /// The reasons are longer than the limit.
    #[error(
        "{length} characters, more than the limit of {max}; shorten the text or raise --max-reasons-len"
    )]
    ReasonsTooLong {
        /// Characters in the reasons.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// The same process appears on two rows.
    #[error(
        "{uuid} appears on lines {first} and {second}; rows are sent concurrently, so their order could not be honoured: keep one row per auth_uuid"
    )]
    Duplicate {
        /// The auth_uuid.
        uuid: Uuid,
        /// The first line with it.
        first: u64,
        /// Another line with it.
        second: u64,
    },
}

/// "1 field", "4 fields".
fn count_fields(n: usize) -> String {
    if n == 1 {
        "1 field".to_string()
    } else {
        format!("{n} fields")
    }
}

/// A problem and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// Line in the input where the row starts (the header is line 1).
    pub line: u64,
    /// The column's header name; `None` for the row as a whole.
    pub column: Option<String>,
    /// What is wrong.
    pub problem: Problem,
}

impl RowProblem {
    /// `FILE:LINE: column NAME: message`, the form every problem is printed in.
    pub fn render(&self, file: &str) -> String {
        match &self.column {
            Some(column) => format!(
                "{file}:{}: column {}: {}",
                self.line,
                crate::text::safe_input_text(column),
                self.problem
            ),
            None => format!("{file}:{}: {}", self.line, self.problem),
        }
    }
}

/// One input row, as read: the cells the results file repeats.
#[derive(Debug, Clone)]
pub struct Row {
    /// Line where the row starts.
    pub line: u64,
    /// The auth_uuid cell, trimmed.
    pub auth_uuid: String,
    /// The state cell, trimmed (upper-case once valid).
    pub state: String,
    /// The reasons that are sent (after `--reasons`), or the cell as written if invalid.
    pub reasons: String,
    /// The row's own key from an `api_key` column; never printed.
    pub api_key: Option<SecretString>,
    /// The other columns, in header order.
    pub extras: Vec<String>,
}

/// What a valid row asks the endpoint to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The parsed auth_uuid.
    pub uuid: Uuid,
    /// The state to set.
    pub state: State,
    /// The reasons to send; `None` means the key is not sent and the stored ones stay.
    pub reasons: Option<String>,
}

/// A row after validation.
#[derive(Debug, Clone)]
pub enum Checked {
    /// Ready to send.
    Valid(Row, Request),
    /// Not to be sent, with every problem found.
    Invalid(Row, Vec<RowProblem>),
}

/// Decodes a cell as UTF-8, or says which byte is wrong.
fn cell_text(bytes: &[u8]) -> Result<&str, Problem> {
    std::str::from_utf8(bytes).map_err(|e| Problem::NotUtf8 {
        byte: bytes[e.valid_up_to()],
    })
}

/// Validates one record. Duplicates are not seen here: they need the whole file (see
/// [`scan`]).
pub fn check_record(
    columns: &Columns,
    record: &csv::ByteRecord,
    line: u64,
    rules: &Rules,
) -> Checked {
    let mut problems = Vec::new();
    let mut problem = |column: Option<usize>, problem: Problem| {
        problems.push(RowProblem {
            line,
            column: column.map(|c| columns.name(c)),
            problem,
        })
    };
    let expected = columns.names.len();
    // A row may stop early when the cells it leaves out are optional (a hand-written
    // `uuid,OK` under an `auth_uuid,state,reasons` header): they are empty. A row with more
    // cells than the header, or without a required cell, is an error.
    let required = columns.auth_uuid.max(columns.state);
    let short_but_whole = record.len() < expected && record.len() > required;
    if record.len() != expected && !short_but_whole {
        let hint = if record.len() > expected {
            ": a reasons text with the delimiter in it must be in double quotes"
        } else {
            ": fill the missing cells or remove the row"
        };
        problem(
            None,
            Problem::FieldCount {
                found: record.len(),
                expected,
                hint,
            },
        );
    }
    let mut text = |index: Option<usize>| -> String {
        let Some(index) = index else {
            return String::new();
        };
        let bytes = record.get(index).unwrap_or_default();
        match cell_text(bytes) {
            Ok(text) => text.trim().to_string(),
            Err(p) => {
                problem(Some(index), p);
                String::from_utf8_lossy(bytes).trim().to_string()
            }
        }
    };
    let auth_uuid = text(Some(columns.auth_uuid));
    let state_cell = text(Some(columns.state));
    let reasons_cell = text(columns.reasons);
    let api_key = text(columns.api_key);
    let extras: Vec<String> = columns.extras.iter().map(|(i, _)| text(Some(*i))).collect();

    let uuid = if auth_uuid.is_empty() {
        problem(
            Some(columns.auth_uuid),
            Problem::Empty {
                what: "the auth_uuid of a process",
            },
        );
        None
    } else {
        match parse_canonical_uuid(&auth_uuid) {
            Some(uuid) => Some(uuid),
            None => {
                problem(
                    Some(columns.auth_uuid),
                    Problem::BadUuid {
                        value: auth_uuid.clone(),
                    },
                );
                None
            }
        }
    };
    let state = if state_cell.is_empty() {
        problem(
            Some(columns.state),
            Problem::Empty {
                what: "a state: OK, KO or CANCELLED",
            },
        );
        None
    } else {
        let state = State::parse(&state_cell);
        if state.is_none() {
            problem(
                Some(columns.state),
                Problem::UnknownState {
                    value: state_cell.clone(),
                    suggestion: State::suggest(&state_cell),
                },
            );
        }
        state
    };
    let reasons = if reasons_cell.is_empty() {
        rules.default_reasons.clone().filter(|r| !r.is_empty())
    } else {
        Some(reasons_cell.clone())
    };
    if let Some(text) = &reasons {
        let length = text.chars().count();
        if length > rules.max_reasons_len {
            problem(
                columns.reasons,
                Problem::ReasonsTooLong {
                    length,
                    max: rules.max_reasons_len,
                },
            );
        }
    }
    let api_key = (!api_key.is_empty()).then(|| SecretString::from(api_key));
    match (uuid, state, problems.is_empty()) {
        (Some(uuid), Some(state), true) => Checked::Valid(
            Row {
                line,
                auth_uuid,
                state: state.as_str().to_string(),
                reasons: reasons.clone().unwrap_or_default(),
                api_key,
                extras,
            },
            Request {
                uuid,
                state,
                reasons,
            },
        ),
        _ => Checked::Invalid(
            Row {
                line,
                auth_uuid,
                state: state_cell,
                reasons: reasons_cell,
                api_key,
                extras,
            },
            problems,
        ),
    }
}

/// Parses only the canonical hyphenated 36-character form (any version, either case).
pub fn parse_canonical_uuid(text: &str) -> Option<Uuid> {
    if text.len() != 36 {
        return None;
    }
    Uuid::try_parse(text).ok()
}

/// Lines that share an auth_uuid with another line, found by [`scan`], so that the sending
/// pass can refuse them without holding the file in memory.
#[derive(Debug, Clone, Default)]
pub struct Duplicates {
    /// (line, another line with the same auth_uuid, the auth_uuid), sorted by line.
    lines: Vec<(u64, u64, Uuid)>,
}

impl Duplicates {
    /// The problem of `line` if it is a duplicate.
    pub fn problem(&self, line: u64) -> Option<RowProblem> {
        let i = self
            .lines
            .binary_search_by_key(&line, |(l, _, _)| *l)
            .ok()?;
        let (line, other, uuid) = self.lines[i];
        Some(RowProblem {
            line,
            column: Some("auth_uuid".to_string()),
            problem: Problem::Duplicate {
                uuid,
                first: line.min(other),
                second: line.max(other),
            },
        })
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
    /// Valid rows without their own api_key (they need the default key).
    pub rows_without_key: u64,
    /// Every key of the `api_key` column, to cut out of whatever a server says.
    pub keys: crate::text::Redactor,
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
    seen.sort_unstable();
    let mut duplicates = Vec::new();
    for group in seen.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        let uuid = Uuid::from_u64_pair(group[0].0[0], group[0].0[1]);
        for (i, (_, tagged)) in group.iter().enumerate() {
            let line = tagged & LINE_MASK;
            let state = tagged >> TAG_SHIFT;
            let other = if i == 0 { group[1].1 } else { group[0].1 } & LINE_MASK;
            duplicates.push((line, other, uuid));
            if state > 0 {
                // It passed every other rule, so it was counted valid.
                scan.valid -= 1;
                scan.per_state[(state - 1) as usize] -= 1;
            }
        }
    }
    drop(seen);
    duplicates.sort_unstable_by_key(|(line, _, _)| *line);
    let duplicates = Duplicates { lines: duplicates };
    for &(line, _, _) in &duplicates.lines {
        scan.problems.extend(duplicates.problem(line));
    }
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
    use secrecy::ExposeSecret;

    const U1: &str = "01900000-0000-7000-8000-000000000001";
    const U2: &str = "01900000-0000-7000-8000-000000000002";

    fn columns(header: &str) -> Columns {
        let text = format!("{header}\n");
        CsvInput::new(
            Box::new(std::io::Cursor::new(text.into_bytes())),
            "t.csv",
            &ReadOptions::default(),
        )
        .unwrap()
        .columns()
        .clone()
    }

    fn check(header: &str, cells: &[&str], rules: &Rules) -> Checked {
        let record = csv::ByteRecord::from(cells.to_vec());
        check_record(&columns(header), &record, 7, rules)
    }

    fn problems(cells: &[&str]) -> Vec<Problem> {
        match check("auth_uuid,state,reasons", cells, &Rules::default()) {
            Checked::Invalid(_, p) => p.into_iter().map(|p| p.problem).collect(),
            Checked::Valid(..) => vec![],
        }
    }

    #[test]
    fn a_valid_row_becomes_a_request() {
        let Checked::Valid(row, request) = check(
            "auth_uuid,state,reasons",
            &[&format!("  {U1} "), " ko ", " Documento ilegible, repetir "],
            &Rules::default(),
        ) else {
            panic!("should be valid")
        };
        assert_eq!(row.line, 7);
        assert_eq!(row.auth_uuid, U1);
        assert_eq!(request.state, State::Ko);
        assert_eq!(
            request.reasons.as_deref(),
            Some("Documento ilegible, repetir")
        );
    }

    #[test]
    fn empty_reasons_are_not_sent_unless_a_default_is_given() {
        let Checked::Valid(_, request) = check(
            "auth_uuid,state,reasons",
            &[U1, "OK", "  "],
            &Rules::default(),
        ) else {
            panic!()
        };
        assert_eq!(request.reasons, None);
        let rules = Rules {
            default_reasons: Some("bulk fix".into()),
            ..Rules::default()
        };
        let Checked::Valid(_, request) = check("auth_uuid,state,reasons", &[U1, "OK", ""], &rules)
        else {
            panic!()
        };
        assert_eq!(request.reasons.as_deref(), Some("bulk fix"));
        let Checked::Valid(_, request) = check("auth_uuid,state", &[U1, "OK"], &rules) else {
            panic!()
        };
        assert_eq!(request.reasons.as_deref(), Some("bulk fix"));
    }

    #[test]
    fn uuids_must_be_canonical() {
        assert!(
            problems(&["not-a-uuid", "OK", ""])
                .iter()
                .any(|p| matches!(p, Problem::BadUuid { .. }))
        );
        assert!(matches!(
            problems(&["0190000000007000800000000000000a", "OK", ""])[0],
            Problem::BadUuid { .. }
        ));
        assert!(matches!(
            problems(&["{01900000-0000-7000-8000-000000000001}", "OK", ""])[0],
            Problem::BadUuid { .. }
        ));
        assert!(matches!(
            problems(&["", "OK", ""])[0],
            Problem::Empty { .. }
        ));
        assert!(problems(&["01900000-0000-7000-8000-00000000000A", "OK", ""]).is_empty());
    }

    #[test]
    fn states_are_case_insensitive_with_suggestions() {
        assert_eq!(State::parse(" cancelled "), Some(State::Cancelled));
        assert_eq!(State::parse("Ok"), Some(State::Ok));
        assert_eq!(State::suggest("CANCELED"), Some(State::Cancelled));
        assert_eq!(State::suggest("canceld"), Some(State::Cancelled));
        assert_eq!(State::suggest("0k"), Some(State::Ok));
        assert_eq!(State::suggest("K0"), Some(State::Ko));
        assert_eq!(State::suggest("PENDING"), None);
        let message = problems(&[U1, "Canceled", ""])[0].to_string();
        assert!(message.contains("did you mean CANCELLED?"), "{message}");
    }

    #[test]
    fn long_reasons_are_refused_at_the_limit() {
        let rules = Rules {
            max_reasons_len: 5,
            ..Rules::default()
        };
        assert!(matches!(
            check("auth_uuid,state,reasons", &[U1, "OK", "ñññññ"], &rules),
            Checked::Valid(..)
        ));
        let Checked::Invalid(_, p) =
            check("auth_uuid,state,reasons", &[U1, "OK", "ñññññx"], &rules)
        else {
            panic!()
        };
        assert_eq!(p[0].problem, Problem::ReasonsTooLong { length: 6, max: 5 });
        assert_eq!(p[0].column.as_deref(), Some("reasons"));
    }

    #[test]
    fn every_problem_of_a_row_is_reported() {
        let p = problems(&["nope", "MAYBE", "x", "extra"]);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(matches!(
            p[0],
            Problem::FieldCount {
                found: 4,
                expected: 3,
                ..
            }
        ));
    }

    #[test]
    fn non_utf8_cells_point_to_encoding() {
        let record = csv::ByteRecord::from(vec![U1.as_bytes(), b"OK", b"Cami\xf3n"]);
        let Checked::Invalid(_, p) = check_record(
            &columns("auth_uuid,state,reasons"),
            &record,
            3,
            &Rules::default(),
        ) else {
            panic!()
        };
        assert_eq!(p[0].problem, Problem::NotUtf8 { byte: 0xF3 });
        assert!(
            p[0].render("f.csv")
                .starts_with("f.csv:3: column reasons: not valid UTF-8")
        );
        assert!(p[0].problem.to_string().contains("--encoding windows-1252"));
    }

    #[test]
    fn a_row_key_is_kept_secret() {
        let Checked::Valid(row, _) = check(
            "auth_uuid,state,api_key",
            &[U1, "OK", "sekret-key"],
            &Rules::default(),
        ) else {
            panic!()
        };
        assert_eq!(row.api_key.as_ref().unwrap().expose_secret(), "sekret-key");
        assert!(!format!("{row:?}").contains("sekret-key"));
    }

    #[test]
    fn the_scan_names_both_lines_of_a_duplicate_and_fixes_the_counts() {
        let text = format!(
            "auth_uuid,state\n{U1},OK\n{U2},KO\n{},cancelled\nbad,OK\n",
            U1.to_uppercase()
        );
        let mut input = CsvInput::new(
            Box::new(std::io::Cursor::new(text.into_bytes())),
            "t.csv",
            &ReadOptions::default(),
        )
        .unwrap();
        let scan = scan(&mut input, &Rules::default()).unwrap();
        assert_eq!((scan.rows, scan.valid, scan.invalid()), (4, 1, 3));
        assert_eq!(scan.per_state, [0, 1, 0]);
        let lines: Vec<u64> = scan.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![2, 4, 5]);
        let rendered = scan.problems[0].render("t.csv");
        assert!(rendered.contains("lines 2 and 4"), "{rendered}");
        let validator = scan.validator.unwrap();
        assert!(validator.duplicates.problem(4).is_some());
        assert!(validator.duplicates.problem(3).is_none());
    }
}
