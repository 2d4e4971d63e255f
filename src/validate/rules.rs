//! The rules for one row: a CSV record in, a request to send or every problem of the row out.

use secrecy::SecretString;
use uuid::Uuid;

use super::{Problem, RowProblem, State};
use crate::input::Columns;

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
    /// Identical in every cell to the earlier line given, which is sent: not sent again.
    Repeat(Row, u64),
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
    if let Some(swallowed) = swallowed_row(record, line, columns.delimiter) {
        problem(None, swallowed);
    }
    let expected = columns.names.len();
    // A row may stop early when the cells it leaves out are optional (a hand-written
    // `uuid,OK` under an `auth_uuid,state,reasons` header): they are empty. It may run on
    // with empty cells (a spreadsheet's trailing `,,,`). A row with data beyond the header,
    // or without a required cell, is an error: data would be lost.
    let required = columns.auth_uuid.max(columns.state);
    let blank = |cell: &[u8]| cell.trim_ascii().is_empty();
    let data_beyond = record.iter().skip(expected).any(|cell| !blank(cell));
    if data_beyond || record.len() <= required {
        let hint = if data_beyond {
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
    for (index, cell) in record.iter().enumerate().take(expected) {
        if columns.names[index].is_empty() && !blank(cell) {
            problem(
                None,
                Problem::UnnamedColumn {
                    position: index + 1,
                },
            );
        }
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
    if api_key.chars().any(char::is_control) {
        problem(columns.api_key, Problem::KeyHasControls);
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

/// Line breaks inside a cell followed by what looks like the start of another row (spaces,
/// an auth_uuid perhaps in quotes, then the delimiter): the mark of a quote never closed,
/// which swallowed the rows after it. `line` is the line where the record starts; the
/// problem names the line of the first such cell and every swallowed line.
fn swallowed_row(record: &csv::ByteRecord, line: u64, delimiter: u8) -> Option<Problem> {
    let mut at = line;
    let mut found: Option<(u64, Vec<u64>)> = None;
    for cell in record.iter() {
        if !cell.iter().any(|b| *b == b'\n' || *b == b'\r') {
            continue;
        }
        let opened = at;
        for (i, &byte) in cell.iter().enumerate() {
            let after_cr = i > 0 && cell[i - 1] == b'\r';
            let next_is_lf = cell.get(i + 1) == Some(&b'\n');
            if byte == b'\r' || (byte == b'\n' && !after_cr) {
                at += 1;
            }
            let ends_break = (byte == b'\r' && !next_is_lf) || byte == b'\n';
            if ends_break && looks_like_row(&cell[i + 1..], delimiter) {
                found.get_or_insert_with(|| (opened, Vec::new())).1.push(at);
            }
        }
    }
    found.map(|(opened, swallowed)| Problem::SwallowedRow { opened, swallowed })
}

/// Whether `text` starts like a row: spaces, an auth_uuid (perhaps quoted), the delimiter.
fn looks_like_row(text: &[u8], delimiter: u8) -> bool {
    let text = skip_spaces(text);
    let text = text.strip_prefix(b"\"").unwrap_or(text);
    let Some((uuid, rest)) = text.split_at_checked(36) else {
        return false;
    };
    let rest = rest.strip_prefix(b"\"").unwrap_or(rest);
    skip_spaces(rest).first() == Some(&delimiter)
        && std::str::from_utf8(uuid).is_ok_and(|u| parse_canonical_uuid(u).is_some())
}

fn skip_spaces(text: &[u8]) -> &[u8] {
    let n = text.iter().take_while(|b| **b == b' ').count();
    &text[n..]
}

/// Parses only the canonical hyphenated 36-character form (any version, either case).
pub fn parse_canonical_uuid(text: &str) -> Option<Uuid> {
    if text.len() != 36 {
        return None;
    }
    Uuid::try_parse(text).ok()
}
