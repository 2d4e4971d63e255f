//! Tests of the reader as a whole: dialects, line endings, the header and its messages.

use std::io::Cursor;

use super::*;

const U1: &str = "01900000-0000-7000-8000-000000000001";

fn open_with(text: &[u8], options: &ReadOptions) -> Result<CsvInput, InputError> {
    CsvInput::new(Box::new(Cursor::new(text.to_vec())), "t.csv", options)
}

fn open(text: &[u8]) -> Result<CsvInput, InputError> {
    open_with(text, &ReadOptions::default())
}

/// Every row as (line, cells).
fn rows(input: &mut CsvInput) -> Vec<(u64, Vec<String>)> {
    let mut record = csv::ByteRecord::new();
    let mut out = Vec::new();
    while let Some(line) = input.next_record(&mut record).unwrap() {
        let cells = record
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        out.push((line, cells));
    }
    out
}

#[test]
fn detects_each_delimiter_from_the_header() {
    assert_eq!(detect_delimiter(b"auth_uuid,state,reasons\n"), b',');
    assert_eq!(detect_delimiter(b"auth_uuid;state;reasons\r\n"), b';');
    assert_eq!(detect_delimiter(b"auth_uuid\tstate\n"), b'\t');
    assert_eq!(detect_delimiter(b"auth_uuid|state|reasons"), b'|');
    assert_eq!(detect_delimiter(b"\"a;b\",c,d\nx;y;z;w;v"), b',');
    assert_eq!(detect_delimiter(b"auth_uuid;state\rx,y,z,w"), b';');
    assert_eq!(detect_delimiter(b"auth_uuid\n"), b',');
}

#[test]
fn header_matches_case_and_blanks_and_keeps_extras() {
    let input = open(b" Auth_UUID ;STATE; ticket ;Reasons\n").unwrap();
    let c = input.columns();
    assert_eq!(
        (c.auth_uuid, c.state, c.reasons, c.api_key),
        (0, 1, Some(3), None)
    );
    assert_eq!(c.extras, vec![(2, "ticket".to_string())]);
    assert_eq!(input.delimiter(), b';');
}

#[test]
fn header_problems_are_named_without_cell_values() {
    assert!(matches!(open(b""), Err(InputError::Empty { .. })));
    assert!(matches!(
        open(b"\r\n  \r\n;;\r\n"),
        Err(InputError::Empty { .. })
    ));
    let err = open(format!("{U1},OK,secret-key-123\n").as_bytes()).unwrap_err();
    assert!(matches!(err, InputError::NoHeader { line: 1, .. }), "{err}");
    assert!(!err.to_string().contains(U1), "{err}");
    let err = open(b"secret-key-123,OK\n").unwrap_err().to_string();
    assert!(err.contains("no auth_uuid and state column"), "{err}");
    assert!(!err.contains("secret-key-123"), "{err}");
    let err = open(b"auth_uuid,reasons\n").unwrap_err().to_string();
    assert!(
        err.contains("t.csv:1: the header has no state column"),
        "{err}"
    );
    let err = open(b"auth_uuid,state,State\n").unwrap_err().to_string();
    assert!(err.contains("columns 2 and 3"), "{err}");
    assert!(matches!(
        open(b"auth_\xffuuid,state\n"),
        Err(InputError::HeaderNotUtf8 { .. })
    ));
}

#[test]
fn near_miss_names_are_refused_with_the_suggestion() {
    for (header, position, known) in [
        ("auth_uuid,state,reason", 3, "reasons"),
        ("auth_uuid,state,reasons,apikey", 4, "api_key"),
        ("auth_uuid,state,API-Key", 3, "api_key"),
        ("auth_uuid,state,api key", 3, "api_key"),
        ("auth_uuid,status,reasons", 2, "state"),
        ("uuid,state", 1, "auth_uuid"),
        ("auth-uuid,state", 1, "auth_uuid"),
        ("auth_uuid,state,Motivo", 3, "reasons"),
        ("auth_uuid,state,reasosn", 3, "reasons"),
    ] {
        match open(format!("{header}\n").as_bytes()) {
            Err(InputError::NearMiss { misses, .. }) => {
                assert_eq!(misses, vec![(position, known)], "{header}")
            }
            other => panic!("{header}: {other:?}"),
        }
    }
    // Every look-alike at once, not only the first.
    match open(b"uuid,status,reason\n") {
        Err(InputError::NearMiss { misses, .. }) => {
            assert_eq!(misses, vec![(1, "auth_uuid"), (2, "state"), (3, "reasons")])
        }
        other => panic!("{other:?}"),
    }
    // Next to the real column, a look-alike is just another column.
    let input = open(b"auth_uuid,state,status,ticket,agent,notes\n").unwrap();
    assert_eq!(input.columns().extras.len(), 4);
    let message = open(b"auth_uuid,state,reason\n").unwrap_err().to_string();
    assert!(
        message.contains("column 3") && message.contains("`reasons`"),
        "{message}"
    );
}

#[test]
fn a_forced_wrong_delimiter_gets_a_hint() {
    let options = ReadOptions {
        delimiter: Some(b','),
        ..ReadOptions::default()
    };
    let err = open_with(b"auth_uuid;state\n", &options)
        .unwrap_err()
        .to_string();
    assert!(err.contains("--delimiter ';'"), "{err}");
}

#[test]
fn every_line_ending_gives_the_same_rows_and_lines() {
    for end in ["\n", "\r\n", "\r"] {
        let text = [
            "\u{feff}auth_uuid;state;reasons",
            &format!("{U1};OK;\"two{end}lines\""),
            "",
            "  ",
            ";;",
            " ; ; ",
            "b;KO;x",
            "",
            ";;",
        ]
        .join(end);
        let mut input = open(text.as_bytes()).unwrap();
        let got = rows(&mut input);
        assert_eq!(
            got,
            vec![
                (2, vec![U1.into(), "OK".into(), format!("two{end}lines")]),
                (8, vec!["b".into(), "KO".into(), "x".into()]),
            ],
            "{end:?}"
        );
        assert_eq!(input.blank_rows(), 6, "{end:?}");
    }
}

#[test]
fn excel_sep_line_sets_the_delimiter() {
    let mut input = open(b"sep=;\r\nauth_uuid;state;reasons\r\na;OK;x, y\r\n").unwrap();
    assert_eq!(input.delimiter(), b';');
    assert_eq!(input.columns().header_line, 2);
    assert_eq!(
        rows(&mut input),
        vec![(3, vec!["a".into(), "OK".into(), "x, y".into()])]
    );
    let input = open(b"\"sep=|\"\nauth_uuid|state\n").unwrap();
    assert_eq!(input.delimiter(), b'|');
    // --delimiter beats the sep line.
    let options = ReadOptions {
        delimiter: Some(b','),
        ..ReadOptions::default()
    };
    let input = open_with(b"sep=;\nauth_uuid,state\n", &options).unwrap();
    assert_eq!(input.delimiter(), b',');
}

#[test]
fn an_open_quote_is_named_at_its_line() {
    let text =
        format!("auth_uuid,state,reasons\n{U1},OK,fine\n{U1},KO,\"never closed\n{U1},OK,x\n");
    let mut input = open(text.as_bytes()).unwrap();
    let mut record = csv::ByteRecord::new();
    assert_eq!(input.next_record(&mut record).unwrap(), Some(2));
    let err = input.next_record(&mut record).unwrap_err();
    assert!(
        matches!(err, InputError::UnclosedQuote { line: 3, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("t.csv:3: a quote opened on this line is never closed")
    );
}

#[test]
fn a_huge_record_is_refused_without_reading_it_whole() {
    let mut text = b"auth_uuid,state\n".to_vec();
    text.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
    let mut input = open(&text).unwrap();
    let mut record = csv::ByteRecord::new();
    let err = input.next_record(&mut record).unwrap_err();
    assert!(
        matches!(
            err,
            InputError::RecordTooLong {
                line: 2,
                open_quote: None,
                ..
            }
        ),
        "{err}"
    );
    // Many short lines inside one quoted cell are one record: the limit holds across them.
    let mut text = b"auth_uuid,state,reasons\na,OK,\"".to_vec();
    for _ in 0..(MAX_RECORD_BYTES / 10 + 1) {
        text.extend_from_slice(b"123456789\n");
    }
    let mut input = open(&text).unwrap();
    let err = input.next_record(&mut record).unwrap_err();
    assert!(
        matches!(
            err,
            InputError::RecordTooLong {
                line: 2,
                open_quote: Some(2),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn utf16_with_a_bom_is_decoded_and_binary_is_refused() {
    let text = "auth_uuid\tstate\r\na\tOK\r\n";
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
    let mut input = open(&bytes).unwrap();
    assert_eq!(input.delimiter(), b'\t');
    assert_eq!(rows(&mut input), vec![(2, vec!["a".into(), "OK".into()])]);
    assert!(matches!(
        open(b"auth_uuid,state\n\0\0\x01"),
        Err(InputError::Binary { .. })
    ));
}

#[test]
fn an_encoding_keeps_delimiter_detection_on() {
    let options = ReadOptions::new(None, Some("windows-1252")).unwrap();
    let mut input = open_with(
        b"auth_uuid;state;reasons\r\na;OK;Cami\xf3n, \x80 5\r\n;;\r\n",
        &options,
    )
    .unwrap();
    assert_eq!(input.delimiter(), b';');
    assert_eq!(
        rows(&mut input),
        vec![(2, vec!["a".into(), "OK".into(), "Camión, € 5".into()])]
    );
    assert!(ReadOptions::new(None, Some("klingon")).is_err());
    assert!(encoding_label("klingon").is_err());
    assert_eq!(encoding_label("latin1").unwrap(), "latin1");
}
