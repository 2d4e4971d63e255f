//! Tests of the row rules.

use super::*;
use crate::input::Columns;
use crate::input::{CsvInput, ReadOptions};
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
        Checked::Valid(..) | Checked::Repeat(..) => vec![],
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
    let Checked::Invalid(_, p) = check("auth_uuid,state,reasons", &[U1, "OK", "ñññññx"], &rules)
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
        p[0].render("f.csv:")
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
fn trailing_empty_cells_are_fine_but_data_beyond_the_header_is_not() {
    let rules = Rules::default();
    assert!(matches!(
        check("auth_uuid,state,reasons", &[U1, "OK", "x", "", " "], &rules),
        Checked::Valid(..)
    ));
    let Checked::Invalid(_, p) = check("auth_uuid,state,reasons", &[U1, "OK", "a", " b"], &rules)
    else {
        panic!()
    };
    assert!(matches!(p[0].problem, Problem::FieldCount { found: 4, .. }));
}

#[test]
fn data_under_an_unnamed_column_is_an_error_on_its_line() {
    let rules = Rules::default();
    assert!(matches!(
        check("auth_uuid;state;reasons;;", &[U1, "OK", "", "", ""], &rules),
        Checked::Valid(..)
    ));
    let Checked::Invalid(_, p) = check(
        "auth_uuid;state;reasons;;",
        &[U1, "KO", "Documento ilegible", " repetir", ""],
        &rules,
    ) else {
        panic!()
    };
    assert_eq!(p[0].problem, Problem::UnnamedColumn { position: 4 });
    assert!(
        p[0].render("f.csv:")
            .starts_with("f.csv:7: column 4 has no name")
    );
}

#[test]
fn a_cell_that_swallowed_another_row_names_both_lines() {
    let rules = Rules::default();
    let swallowed = format!("never closed\r\nmore\r\n{U2},OK,x\r\n");
    let Checked::Invalid(_, p) = check("auth_uuid,state,reasons", &[U1, "KO", &swallowed], &rules)
    else {
        panic!()
    };
    assert_eq!(
        p[0].problem,
        Problem::SwallowedRow {
            opened: 7,
            swallowed: vec![9]
        }
    );
    for end in ["\n", "\r"] {
        let cell = format!("a{end}\"{U2}\";OK");
        let Checked::Invalid(_, p) = check("auth_uuid;state;reasons", &[U1, "KO", &cell], &rules)
        else {
            panic!("{end:?}")
        };
        assert_eq!(
            p[0].problem,
            Problem::SwallowedRow {
                opened: 7,
                swallowed: vec![8]
            }
        );
    }
    // A line break followed by other text, or a UUID not followed by the delimiter, is fine.
    for cell in [format!("a\nb, {U2}"), format!("see\n{U2} below")] {
        assert!(
            matches!(
                check("auth_uuid,state,reasons", &[U1, "OK", &cell], &rules),
                Checked::Valid(..)
            ),
            "{cell:?}"
        );
    }
}
