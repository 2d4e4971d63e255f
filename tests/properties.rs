//! Property tests of the reader's contract: every physical row of the input is accounted for
//! (a row read, with its cells and its line; a blank row skipped; or an error naming its
//! line), in every dialect the tool claims to read, and no corruption of a quote or a
//! delimiter loses a row silently. Most cases drive the library in-process (the same reader
//! and validator that `validate` and `run --dry-run` use); a few run the binary's dry run.

mod common;

use std::io::Cursor;

use proptest::prelude::*;
use tecalis_status::input::{CsvInput, InputError, ReadOptions};
use tecalis_status::validate::{Checked, Problem, Rules, Scan, scan};

/// How a file is written.
#[derive(Debug, Clone)]
struct Dialect {
    delimiter: u8,
    quote_all: bool,
    /// `\n`, `\r\n` or `\r`.
    end: &'static str,
    encoding: Encoding,
    sep_line: bool,
    /// Blank lines after the rows: "", blanks, or delimiters only.
    trailing: Vec<Blank>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Encoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16Be,
    Windows1252,
}

#[derive(Debug, Clone, Copy)]
enum Blank {
    Empty,
    Blanks,
    Delimiters,
}

/// One generated row: its cells as written, and whether it should be blank-free valid.
#[derive(Debug, Clone)]
struct GenRow {
    /// `None`: a valid auth_uuid, made distinct by its position; `Some`: invalid text.
    bad_uuid: Option<String>,
    upper_uuid: bool,
    state: String,
    reasons: String,
    note: String,
    /// Blank lines written before the row.
    blanks_before: Vec<Blank>,
}

/// What a row must read back as: line, auth_uuid, state, reasons, note, valid.
type Expected = (u64, String, String, String, String, bool);

fn arb_blank() -> impl Strategy<Value = Blank> {
    prop_oneof![
        Just(Blank::Empty),
        Just(Blank::Blanks),
        Just(Blank::Delimiters)
    ]
}

fn arb_dialect() -> impl Strategy<Value = Dialect> {
    (
        prop_oneof![Just(b','), Just(b';'), Just(b'\t'), Just(b'|')],
        any::<bool>(),
        prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        prop_oneof![
            Just(Encoding::Utf8),
            Just(Encoding::Utf8Bom),
            Just(Encoding::Utf16Le),
            Just(Encoding::Utf16Be),
            Just(Encoding::Windows1252)
        ],
        any::<bool>(),
        proptest::collection::vec(arb_blank(), 0..3),
    )
        .prop_map(
            |(delimiter, quote_all, end, encoding, sep_line, trailing)| Dialect {
                delimiter,
                quote_all,
                end,
                encoding,
                sep_line,
                trailing,
            },
        )
}

/// Text with everything that breaks naive readers: delimiters, quotes, line breaks of every
/// kind, accents, the euro sign (windows-1252 has it), emoji, formula starters, blanks.
const TEXT: &str = "[a-zA-Z0-9 ,;|\t\"\n\r'áéñÑü€😀=+@-]{0,30}";

fn arb_row() -> impl Strategy<Value = GenRow> {
    (
        prop_oneof![4 => Just(None), 1 => "[g-z][a-z0-9-]{0,11}".prop_map(Some)],
        any::<bool>(),
        prop_oneof![
            4 => prop_oneof![Just("OK"), Just("ko"), Just(" Cancelled "), Just("KO")].prop_map(String::from),
            1 => prop_oneof![Just(""), Just("MAYBE"), Just("canceled")].prop_map(String::from),
        ],
        TEXT,
        TEXT,
        proptest::collection::vec(arb_blank(), 0..2),
    )
        .prop_map(
            |(bad_uuid, upper_uuid, state, reasons, note, blanks_before)| GenRow {
                bad_uuid,
                upper_uuid,
                state,
                reasons,
                note,
                blanks_before,
            },
        )
}

/// Physical line breaks in a cell: `\r\n`, a bare `\r` and a bare `\n` each count one.
fn breaks(text: &str) -> u64 {
    let bytes = text.as_bytes();
    bytes
        .iter()
        .enumerate()
        .filter(|(i, b)| **b == b'\r' || (**b == b'\n' && (*i == 0 || bytes[i - 1] != b'\r')))
        .count() as u64
}

fn blank_line(blank: Blank, delimiter: u8) -> String {
    match blank {
        Blank::Empty => String::new(),
        Blank::Blanks => "  ".into(),
        Blank::Delimiters => (delimiter as char).to_string().repeat(3),
    }
}

/// Writes the rows in the dialect with the csv crate's writer; returns the text (before
/// encoding) and the rows it must read back as.
fn write(rows: &[GenRow], dialect: &Dialect, seed: u64) -> (String, Vec<Expected>) {
    let terminator = match dialect.end {
        "\r\n" => csv::Terminator::CRLF,
        "\r" => csv::Terminator::Any(b'\r'),
        _ => csv::Terminator::Any(b'\n'),
    };
    let mut builder = csv::WriterBuilder::new();
    builder
        .delimiter(dialect.delimiter)
        .terminator(terminator)
        .quote_style(if dialect.quote_all {
            csv::QuoteStyle::Always
        } else {
            csv::QuoteStyle::Necessary
        });
    let mut out = Vec::new();
    let record = |out: &mut Vec<u8>, cells: [&str; 4]| {
        let mut writer = builder.from_writer(Vec::new());
        writer.write_record(cells).unwrap();
        out.extend(writer.into_inner().unwrap());
    };
    let raw = |out: &mut Vec<u8>, text: &str| out.extend_from_slice(text.as_bytes());
    let mut line = 1;
    if dialect.sep_line {
        raw(
            &mut out,
            &format!("sep={}{}", dialect.delimiter as char, dialect.end),
        );
        line += 1;
    }
    record(&mut out, ["auth_uuid", "state", "reasons", "note"]);
    line += 1;
    let mut expected = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        for blank in &row.blanks_before {
            raw(
                &mut out,
                &format!("{}{}", blank_line(*blank, dialect.delimiter), dialect.end),
            );
            line += 1;
        }
        let uuid = match &row.bad_uuid {
            Some(text) => text.clone(),
            None => {
                let uuid = uuid::Uuid::from_u128(((seed as u128) << 64) | i as u128).to_string();
                if row.upper_uuid {
                    uuid.to_uppercase()
                } else {
                    uuid
                }
            }
        };
        record(&mut out, [&uuid, &row.state, &row.reasons, &row.note]);
        let state = tecalis_status::validate::State::parse(&row.state);
        let valid = row.bad_uuid.is_none() && state.is_some();
        expected.push((
            line,
            uuid.trim().to_string(),
            // Sent upper-case when valid; recorded as written (trimmed) when not.
            match state {
                Some(state) if valid => state.as_str().to_string(),
                _ => row.state.trim().to_string(),
            },
            row.reasons.trim().to_string(),
            row.note.trim().to_string(),
            valid,
        ));
        line += 1 + breaks(&row.reasons) + breaks(&row.note);
    }
    for blank in &dialect.trailing {
        raw(
            &mut out,
            &format!("{}{}", blank_line(*blank, dialect.delimiter), dialect.end),
        );
    }
    let text = String::from_utf8(out).unwrap();
    (text, expected)
}

/// The bytes of `text` in the dialect's encoding, and the options that read them (the
/// encoding actually used: windows-1252 falls back to UTF-8 when a character has no place).
fn encode(text: &str, encoding: Encoding) -> (Vec<u8>, ReadOptions) {
    let plain = ReadOptions::default();
    match encoding {
        Encoding::Utf8 => (text.as_bytes().to_vec(), plain),
        Encoding::Utf8Bom => ([&b"\xEF\xBB\xBF"[..], text.as_bytes()].concat(), plain),
        Encoding::Utf16Le => {
            let mut bytes = vec![0xFF, 0xFE];
            bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            (bytes, plain)
        }
        Encoding::Utf16Be => {
            let mut bytes = vec![0xFE, 0xFF];
            bytes.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
            (bytes, plain)
        }
        Encoding::Windows1252 => {
            let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
            if unmappable {
                (text.as_bytes().to_vec(), plain)
            } else {
                (
                    bytes.into_owned(),
                    ReadOptions::new(None, Some("windows-1252")).unwrap(),
                )
            }
        }
    }
}

/// Reads as `run` does: the scan, then every record through the scan's validator (as the
/// dry run records it).
fn read(bytes: &[u8], options: &ReadOptions) -> Result<(Scan, Vec<Expected>), InputError> {
    let open = || CsvInput::new(Box::new(Cursor::new(bytes.to_vec())), "p.csv", options);
    let rules = Rules::default();
    let scan = scan(&mut open()?, &rules, &mut || open())?;
    let validator = scan.validator.clone().expect("the scan sets the validator");
    let mut input = open()?;
    let columns = input.columns().clone();
    let mut record = csv::ByteRecord::new();
    let mut rows = Vec::new();
    while let Some(line) = input.next_record(&mut record)? {
        let (row, valid) = match validator.check(&columns, &record, line) {
            Checked::Valid(row, _) => (row, true),
            Checked::Invalid(row, _) | Checked::Repeat(row, _) => (row, false),
        };
        let note = row.extras.first().cloned().unwrap_or_default();
        rows.push((row.line, row.auth_uuid, row.state, row.reasons, note, valid));
    }
    Ok((scan, rows))
}

/// Every data line of `expected` is accounted for in what was read from a corrupted file: a
/// row read at that line, or a problem whose message names it.
fn accounted(expected: &[Expected], scan: &Scan, rows: &[Expected]) -> Result<(), String> {
    for (line, uuid, ..) in expected {
        // Read at its line, or read with its auth_uuid at another line: a corruption that
        // drops the byte between a `\r` and a `\n` inside a quoted cell turns two line breaks
        // into one, and every later row moves up a line, lost by none.
        let read = rows
            .iter()
            .any(|r| r.0 == *line || (!uuid.is_empty() && r.1 == *uuid));
        let named = scan.problems.iter().any(|p| match &p.problem {
            Problem::SwallowedRow { swallowed, .. } => swallowed.contains(line),
            _ => p.line == *line,
        });
        if !read && !named {
            return Err(format!(
                "line {line} ({uuid}) was lost: rows {rows:?}, problems {:?}",
                scan.problems
            ));
        }
    }
    // A valid row read at a line holds that line's auth_uuid: rows are never shifted.
    for row in rows.iter().filter(|r| r.5) {
        if let Some(original) = expected.iter().find(|e| e.0 == row.0)
            && original.1 != row.1
        {
            return Err(format!(
                "line {}: read {row:?}, written {original:?}",
                row.0
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Corruption {
    DropQuote(prop::sample::Index),
    DropDelimiter(prop::sample::Index),
    AddDelimiter(prop::sample::Index),
    AddQuote(prop::sample::Index),
}

fn arb_corruption() -> impl Strategy<Value = Corruption> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Corruption::DropQuote),
        any::<prop::sample::Index>().prop_map(Corruption::DropDelimiter),
        any::<prop::sample::Index>().prop_map(Corruption::AddDelimiter),
        any::<prop::sample::Index>().prop_map(Corruption::AddQuote),
    ]
}

/// Applies a corruption to the text; `None` when there is nothing to corrupt.
fn corrupt(text: &str, delimiter: u8, corruption: &Corruption) -> Option<String> {
    let positions = |byte: u8| -> Vec<usize> {
        text.bytes()
            .enumerate()
            .filter(|(_, b)| *b == byte)
            .map(|(i, _)| i)
            .collect()
    };
    // Not between the `\r` and the `\n` of one line break: that would add a line, which is
    // not the corruption under test (and shifts every later line).
    let bytes = text.as_bytes();
    let boundaries: Vec<usize> = (0..=text.len())
        .filter(|i| text.is_char_boundary(*i))
        .filter(|i| !(*i > 0 && bytes[i - 1] == b'\r' && bytes.get(*i) == Some(&b'\n')))
        .collect();
    let mut bytes = text.as_bytes().to_vec();
    match corruption {
        Corruption::DropQuote(i) | Corruption::DropDelimiter(i) => {
            let byte = if matches!(corruption, Corruption::DropQuote(_)) {
                b'"'
            } else {
                delimiter
            };
            let all = positions(byte);
            if all.is_empty() {
                return None;
            }
            bytes.remove(all[i.index(all.len())]);
        }
        Corruption::AddDelimiter(i) | Corruption::AddQuote(i) => {
            let byte = if matches!(corruption, Corruption::AddQuote(_)) {
                b'"'
            } else {
                delimiter
            };
            bytes.insert(boundaries[i.index(boundaries.len())], byte);
        }
    }
    String::from_utf8(bytes).ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    /// What the csv writer writes, in every dialect, reads back cell for cell with its line.
    #[test]
    fn every_dialect_reads_back_cell_for_cell(
        rows in proptest::collection::vec(arb_row(), 1..16),
        dialect in arb_dialect(),
        seed in any::<u64>(),
    ) {
        let (text, expected) = write(&rows, &dialect, seed);
        let (bytes, options) = encode(&text, dialect.encoding);
        let (scan, got) = read(&bytes, &options).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&got, &expected, "{:?}", text);
        prop_assert_eq!(scan.rows, expected.len() as u64);
        prop_assert_eq!(scan.valid, expected.iter().filter(|e| e.5).count() as u64);
        let blanks = rows.iter().map(|r| r.blanks_before.len()).sum::<usize>() + dialect.trailing.len();
        prop_assert_eq!(scan.blank_rows, blanks as u64);
    }

    /// One dropped or added quote or delimiter never loses a row silently: the file is
    /// refused, or every row's line is read or named by a problem.
    #[test]
    fn a_corrupted_file_never_loses_a_row_silently(
        rows in proptest::collection::vec(arb_row(), 1..12),
        dialect in arb_dialect(),
        corruption in arb_corruption(),
        seed in any::<u64>(),
    ) {
        // Rows with an auth_uuid, the only rows that could be sent: a line swallowed by a
        // quote is recognised by its auth_uuid (SPEC), the rest by the quoting rules.
        let rows: Vec<GenRow> = rows.into_iter().map(|r| GenRow { bad_uuid: None, ..r }).collect();
        let dialect = Dialect { encoding: Encoding::Utf8, ..dialect };
        let (text, expected) = write(&rows, &dialect, seed);
        let Some(broken) = corrupt(&text, dialect.delimiter, &corruption) else {
            return Ok(());
        };
        if let Ok((scan, got)) = read(broken.as_bytes(), &ReadOptions::default()) {
            accounted(&expected, &scan, &got).map_err(|e| TestCaseError::fail(format!("{e}\n{broken:?}")))?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// The same through the binary: `run --dry-run` records every row in its preview file.
    #[test]
    fn the_dry_run_records_every_row(
        rows in proptest::collection::vec(arb_row(), 1..8),
        dialect in arb_dialect(),
        seed in any::<u64>(),
    ) {
        let (text, expected) = write(&rows, &dialect, seed);
        let (bytes, options) = encode(&text, dialect.encoding);
        let dir = common::Workdir::new();
        dir.write("in.csv", &bytes);
        let mut args = vec!["--output", "preview.csv"];
        if options.encoding.is_some() {
            args.extend(["--encoding", "windows-1252"]);
        }
        let out = dir.dry_run("in.csv", &args).env("TECALIS_API_KEY", "k").run();
        let all_valid = expected.iter().all(|e| e.5);
        prop_assert_eq!(out.code, if all_valid { 0 } else { 4 }, "{}", out.describe());
        let mut reader = csv::Reader::from_path(dir.path("preview.csv")).unwrap();
        let mut got = Vec::new();
        for record in reader.records() {
            let r = record.unwrap();
            let cell = |i: usize| r[i].strip_prefix('\'').unwrap_or(&r[i]).to_string();
            got.push((cell(0).parse::<u64>().unwrap(), cell(1), cell(2), cell(3), cell(14), &r[4] == "dry_run"));
        }
        prop_assert_eq!(got, expected);
    }
}

fn read_all(bytes: Vec<u8>, options: &ReadOptions) {
    let open = || CsvInput::new(Box::new(Cursor::new(bytes.clone())), "p.csv", options);
    if let Ok(mut input) = open() {
        let _ = scan(&mut input, &Rules::default(), &mut || open());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        read_all(bytes.clone(), &ReadOptions::default());
        read_all(bytes, &ReadOptions::new(None, Some("windows-1252")).unwrap());
    }

    #[test]
    fn csv_like_text_never_panics(
        header in prop_oneof![Just("auth_uuid,state,reasons\n"), Just("sep=;\rauth_uuid;state\r\n"), Just("\u{feff}auth_uuid\tstate\treasons\n")],
        body in "[a-f0-9\\-,;\t|\"\r\n OKCANL]{0,400}",
        delimiter in proptest::option::of(prop_oneof![Just(b','), Just(b';'), Just(b'\t'), Just(b'|')]),
    ) {
        let options = ReadOptions {
            delimiter,
            ..ReadOptions::default()
        };
        read_all(format!("{header}{body}").into_bytes(), &options);
    }

    #[test]
    fn deep_quoting_and_long_lines_never_panic(quotes in 0usize..5000, width in 0usize..20000) {
        let text = format!("auth_uuid,state,reasons\n{}{}\n", "\"".repeat(quotes), "x".repeat(width));
        read_all(text.into_bytes(), &ReadOptions::default());
    }
}
