//! Workbooks given directly (.xlsx, .ods): what cannot be sent as the spreadsheet shows it is
//! refused naming the cell or the row, the sheet is chosen by `--sheet`, the format is told
//! by content; a real run sends the rows the sheet shows. The files come from
//! `tests/data/make-workbooks.py`; the accepted cases are in `tests/corpus.rs`.

mod common;

use std::path::Path;

use common::{TestServer, Workdir};

fn copy(dir: &Workdir, file: &str, to: &str) {
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(file),
    )
    .expect("a corpus file");
    dir.write(to, bytes);
}

#[test]
fn a_number_a_date_or_an_uncalculated_formula_is_refused_naming_every_cell() {
    let dir = Workdir::new();
    copy(&dir, "typed.xlsx", "typed.xlsx");
    dir.cmd(&["validate", "typed.xlsx"])
        .expect(4)
        .stderr_has("typed.xlsx: 3 cell(s) cannot be sent as written")
        .stderr_has("Correcciones!B2 (column state): a number (5), not text")
        .stderr_has("Correcciones!C3 (column reasons): a date, not text")
        .stderr_has("Correcciones!C4: a formula with no saved value");
    copy(&dir, "typed.ods", "typed.ods");
    dir.cmd(&["validate", "typed.ods"])
        .expect(4)
        .stderr_has("Correcciones!B2 (column state): a number (5), not text")
        .stderr_has("Correcciones!C3 (column reasons): a date (2026-01-05), not text");
}

#[test]
fn hidden_and_filtered_rows_are_never_sent_silently() {
    let server = TestServer::start(|c| c.accept_unknown = true);
    let dir = Workdir::new();
    for file in [
        "workbook.xlsx",
        "workbook.ods",
        "libreoffice.xlsx",
        "libreoffice.ods",
    ] {
        copy(&dir, file, file);
        let refusal = format!(
            "{file}: sheet Correcciones: row(s) 8, 9 are hidden or filtered out in the spreadsheet"
        );
        dir.cmd(&["validate", file])
            .expect(4)
            .stderr_has(&refusal)
            .stderr_has("--hidden skip");
        dir.run_at(&server.url(), file, &[])
            .expect(4)
            .stderr_has(&refusal);
    }
    assert_eq!(server.received().len(), 0, "nothing was sent");
}

#[test]
fn a_run_sends_the_rows_the_sheet_shows_and_records_their_sheet_rows() {
    let server = TestServer::start(|c| c.accept_unknown = true);
    let dir = Workdir::new();
    copy(&dir, "workbook.xlsx", "workbook.xlsx");
    dir.run_at(
        &server.url(),
        "workbook.xlsx",
        &["--hidden", "skip", "--output", "r.csv"],
    )
    .expect(0)
    .stderr_has("2 hidden row(s) left out (--hidden skip)");
    let received = server.received();
    let mut sent: Vec<String> = received
        .iter()
        .map(|r| r.body.as_ref().expect("a body")["auth_uuid"].to_string())
        .collect();
    sent.sort();
    assert_eq!(sent.len(), 6);
    assert!(
        !sent
            .iter()
            .any(|u| u.contains("000000000006") || u.contains("000000000007"))
    );
    let results = dir.results("r.csv");
    let lines: Vec<&str> = results.iter().map(|r| r["line"].as_str()).collect();
    assert_eq!(lines, ["2", "3", "4", "5", "6", "10"]);
    assert!(results.iter().all(|r| r["outcome"] == "ok"));
}

#[test]
fn the_sheet_is_chosen_by_name_and_an_unknown_one_lists_the_sheets() {
    let dir = Workdir::new();
    for file in ["workbook.xlsx", "workbook.ods"] {
        copy(&dir, file, file);
        dir.cmd(&["validate", file, "--sheet", "Otra"])
            .expect(0)
            .stderr_has(&format!("{file}: 1 rows: 1 valid"));
        dir.cmd(&["validate", file, "--sheet", "Hoja1"])
            .expect(4)
            .stderr_has(
                "the workbook has no sheet named `Hoja1`; its sheets are: `Correcciones`, `Otra`",
            );
    }
}

/// A hidden first sheet is not the one a spreadsheet opens on: without `--sheet` nothing of
/// it is sent; with `--sheet` the sheet shown is sent as it is.
#[test]
fn a_hidden_first_sheet_is_not_read_without_sheet() {
    let dir = Workdir::new();
    for file in ["hidden-sheet.xlsx", "hidden-sheet.ods"] {
        let server = TestServer::start(|c| c.accept_unknown = true);
        copy(&dir, file, file);
        let refusal = format!(
            "{file}: its first sheet, `Antigua`, is hidden in the spreadsheet, so it is not the sheet you see when you open the file; pass --sheet NAME to say which sheet to read (its sheets are: `Antigua`, `Correcciones`)"
        );
        dir.cmd(&["validate", file]).expect(4).stderr_has(&refusal);
        dir.run_at(&server.url(), file, &[])
            .expect(4)
            .stderr_has(&refusal);
        assert_eq!(server.received().len(), 0, "{file}: nothing was sent");
        let results = format!("{file}.results.csv");
        dir.run_at(
            &server.url(),
            file,
            &["--sheet", "Correcciones", "--output", &results],
        )
        .expect(0);
        let received = server.received();
        assert_eq!(received.len(), 1, "{file}: the one row of the sheet shown");
        let body = received[0].body.as_ref().expect("a body");
        assert_eq!(body["state"], "OK", "{file}: the sheet shown was sent");
        assert_eq!(body["reasons"], "la buena");
    }
}

/// A value far from the table makes the span of the sheet's cells huge: refused before it is
/// read (calamine would hold every cell of it and abort asking for gigabytes), nothing sent.
#[test]
fn a_value_far_from_the_table_is_refused_before_the_sheet_is_read() {
    let server = TestServer::start(|c| c.accept_unknown = true);
    let dir = Workdir::new();
    for (file, span) in [
        ("far-cell.xlsx", "A1:XFD1048576 (17179869184 cells)"),
        ("repeated-cell.ods", "A1:NTP2002 (20020000 cells)"),
    ] {
        copy(&dir, file, file);
        let refusal = format!(
            "{file}: sheet Correcciones: its cells span {span}, more than this tool reads (16777216)"
        );
        dir.cmd(&["validate", file]).expect(4).stderr_has(&refusal);
        dir.run_at(&server.url(), file, &[])
            .expect(4)
            .stderr_has(&refusal);
    }
    assert_eq!(server.received().len(), 0, "nothing was sent");
}

#[test]
fn problems_name_the_sheet_and_its_row_and_show_invisible_characters() {
    let dir = Workdir::new();
    copy(&dir, "problems.xlsx", "problems.xlsx");
    dir.cmd(&["validate", "problems.xlsx"])
        .expect(4)
        .stderr_has("problems.xlsx:Correcciones!3: column state: \"CANCELED\" is not a state")
        .stderr_has(
            "problems.xlsx:Correcciones!4: column auth_uuid: \"\\u{200b}0193c001-1a2b-7c3d-8e4f-000000000023\" is not a UUID",
        )
        .stderr_has("3 rows: 1 valid");
}

#[test]
fn the_format_is_told_by_content_not_by_name() {
    let dir = Workdir::new();
    // A workbook whose name says CSV is still read as the workbook it is.
    copy(&dir, "workbook.ods", "rows.csv");
    dir.cmd(&["validate", "rows.csv", "--hidden", "include"])
        .expect(0)
        .stderr_has("rows.csv: 8 rows: 8 valid");
    // An old binary .xls is named as such, not as a text file with NUL bytes.
    dir.write("old.xls", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0\0\0");
    dir.cmd(&["validate", "old.xls"])
        .expect(4)
        .stderr_has("old.xls is an old Excel workbook (.xls)")
        .stderr_has("save it as .xlsx");
    // A zip file that is no workbook.
    copy(&dir, "workbook.xlsx", "w.zip");
    let mut bytes = std::fs::read(dir.path("w.zip")).expect("copied");
    let mut renamed = 0;
    while let Some(at) = bytes.windows(15).position(|w| w == b"xl/workbook.xml") {
        bytes[at..at + 2].copy_from_slice(b"zz");
        renamed += 1;
    }
    assert_eq!(renamed, 2, "the local and the central entry");
    dir.write("w.zip", bytes);
    dir.cmd(&["validate", "w.zip"])
        .expect(4)
        .stderr_has("w.zip: cannot read it as a workbook");
}

#[test]
fn export_failed_copies_the_failed_rows_of_the_sheet_that_was_run_as_csv() {
    // The sandbox knows none of these processes: every row fails and is exported.
    let server = TestServer::start(|_| {});
    let dir = Workdir::new();
    copy(&dir, "workbook.ods", "workbook.ods");
    for (args, rows) in [(vec!["--hidden", "skip"], 6), (vec!["--sheet", "Otra"], 1)] {
        let mut run_args = vec!["--output", "r.csv", "--force"];
        run_args.extend(args.iter().copied());
        dir.run_at(&server.url(), "workbook.ods", &run_args).run();
        dir.cmd(&["report", "r.csv", "--export-failed", "retry.csv", "--force"])
            .run();
        let mut reader = csv::Reader::from_path(dir.path("retry.csv")).expect("the export");
        let exported: Vec<csv::StringRecord> =
            reader.records().map(|r| r.expect("a record")).collect();
        assert_eq!(exported.len(), rows, "{args:?}");
        if rows == 1 {
            assert_eq!(&exported[0][0], "0193c001-1a2b-7c3d-8e4f-000000000009");
        } else {
            assert_eq!(
                reader.headers().expect("a header"),
                vec!["auth_uuid", "state", "reasons", "nota"]
            );
            assert_eq!(&exported[2][2], "Línea 1\nLínea 2");
            assert_eq!(&exported[2][3], "", "as wide as the header");
            assert_eq!(&exported[5][2], "Revisado hoy");
        }
    }
}
