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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{CsvInput, ReadOptions};
    use secrecy::ExposeSecret;

    const U1: &str = "01900000-0000-7000-8000-000000000001";

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
}
