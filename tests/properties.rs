//! Property tests of the reader and the validator: no input panics them, and what the csv
//! writer writes reads back as the same rows whatever the delimiter.

use std::io::Cursor;

use proptest::prelude::*;
use tecalis_status::input::{CsvInput, ReadOptions};
use tecalis_status::validate::{Checked, Rules, State, scan};

fn read_all(bytes: Vec<u8>, options: &ReadOptions) {
    if let Ok(mut input) = CsvInput::new(Box::new(Cursor::new(bytes)), "p.csv", options) {
        let _ = scan(&mut input, &Rules::default());
    }
}

fn arb_state() -> impl Strategy<Value = State> {
    prop_oneof![Just(State::Ok), Just(State::Ko), Just(State::Cancelled)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        read_all(bytes.clone(), &ReadOptions::default());
        read_all(bytes, &ReadOptions::new(None, Some("windows-1252")).unwrap());
    }

    #[test]
    fn csv_like_text_never_panics(
        header in prop_oneof![Just("auth_uuid,state,reasons\n"), Just("auth_uuid;state\r\n"), Just("\u{feff}auth_uuid\tstate\treasons\n")],
        body in "[a-f0-9\\-,;\t|\"\r\n OKCANL]{0,400}",
        delimiter in proptest::option::of(prop_oneof![Just(b','), Just(b';'), Just(b'\t'), Just(b'|')]),
    ) {
        let options = ReadOptions { delimiter, encoding: None };
        read_all(format!("{header}{body}").into_bytes(), &options);
    }

    #[test]
    fn deep_quoting_and_long_lines_never_panic(quotes in 0usize..5000, width in 0usize..20000) {
        let text = format!("auth_uuid,state,reasons\n{}{}\n", "\"".repeat(quotes), "x".repeat(width));
        read_all(text.into_bytes(), &ReadOptions::default());
    }

    #[test]
    fn written_rows_read_back_the_same(
        rows in proptest::collection::vec((any::<u128>(), arb_state(), "[^\u{0}\u{feff}]{0,60}", "[a-zA-Z0-9 ,;\"\n]{0,20}"), 1..30),
        delimiter in prop_oneof![Just(b','), Just(b';'), Just(b'\t'), Just(b'|')],
    ) {
        let mut writer = csv::WriterBuilder::new().delimiter(delimiter).from_writer(Vec::new());
        writer.write_record(["auth_uuid", "state", "reasons", "note"]).unwrap();
        let mut expected = Vec::new();
        for (i, (n, state, reasons, note)) in rows.iter().enumerate() {
            // Distinct UUIDs: duplicates are a different property.
            let uuid = uuid::Uuid::from_u128(n.wrapping_add(i as u128) ^ ((i as u128) << 100));
            let lower = state.as_str().to_lowercase();
            writer.write_record([uuid.to_string().as_str(), lower.as_str(), reasons.as_str(), note.as_str()]).unwrap();
            expected.push((uuid, *state, reasons.trim().to_string(), note.trim().to_string()));
        }
        expected.dedup_by_key(|e| e.0);
        prop_assume!(expected.len() == rows.len());
        let bytes = writer.into_inner().unwrap();
        let mut input = CsvInput::new(Box::new(Cursor::new(bytes)), "p.csv", &ReadOptions { delimiter: Some(delimiter), encoding: None }).unwrap();
        let columns = input.columns().clone();
        let mut record = csv::ByteRecord::new();
        let mut got = Vec::new();
        while let Some(line) = input.next_record(&mut record).unwrap() {
            match tecalis_status::validate::check_record(&columns, &record, line, &Rules { max_reasons_len: 10_000, ..Rules::default() }) {
                Checked::Valid(row, request) => got.push((request.uuid, request.state, request.reasons.unwrap_or_default(), row.extras[0].clone())),
                Checked::Invalid(row, problems) => prop_assert!(false, "line {} invalid: {:?}", row.line, problems),
            }
        }
        prop_assert_eq!(got, expected);
    }
}
