//! The corpus under `tests/data/`: files as real spreadsheets export them, each read by
//! `validate`, by `run --dry-run` (cell for cell, line for line) and by a real run against
//! the sandbox on loopback (the bodies the server received), against its `.expected` rows.
//! Workbooks (.xlsx, .ods) are read the same way, their sheet row numbers as lines.

mod common;

use std::path::Path;

use common::{TestServer, Workdir};

const FILES: [&str; 12] = [
    "excel-es-windows1252.csv",
    "excel-csv-utf8.csv",
    "excel-mac.csv",
    "excel-sep-line.csv",
    "excel-unicode-text.txt",
    "libreoffice.csv",
    "google-sheets.csv",
    "numbers-es.csv",
    "workbook.xlsx",
    "workbook.ods",
    "libreoffice.xlsx",
    "libreoffice.ods",
];

/// A corpus file's expectations.
struct Expected {
    args: Vec<String>,
    blank_rows: u64,
    /// A workbook's hidden rows left out (`--hidden skip`).
    hidden_rows: u64,
    /// line, auth_uuid, state, reasons, extras…
    rows: Vec<Vec<String>>,
}

fn expected(file: &str) -> Expected {
    // A workbook's expectations are in `NAME.xlsx.expected` (several formats share a stem).
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let stem = Path::new(file).file_stem().unwrap().to_str().unwrap();
    let path = Some(data.join(format!("{file}.expected")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| data.join(format!("{stem}.expected")));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut args = Vec::new();
    let mut blank_rows = 0;
    let mut hidden_rows = 0;
    for comment in text.lines().filter_map(|l| l.strip_prefix("# ")) {
        if let Some(a) = comment.strip_prefix("args: ") {
            args = a.split_whitespace().map(String::from).collect();
        } else if let Some(n) = comment.strip_prefix("blank rows: ") {
            blank_rows = n.parse().unwrap();
        } else if let Some(n) = comment.strip_prefix("hidden rows: ") {
            hidden_rows = n.parse().unwrap();
        }
    }
    let body: String = text
        .split_inclusive('\n')
        .filter(|l| !l.starts_with('#'))
        .collect();
    let rows = csv::Reader::from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    Expected {
        args,
        blank_rows,
        hidden_rows,
        rows,
    }
}

fn copy(dir: &Workdir, file: &str) {
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(file),
    )
    .unwrap();
    dir.write(file, bytes);
}

#[test]
fn every_export_validates_with_its_row_and_blank_counts() {
    let dir = Workdir::new();
    for file in FILES {
        copy(&dir, file);
        let want = expected(file);
        let mut args = vec!["validate", file];
        args.extend(want.args.iter().map(String::as_str));
        let out = dir.cmd(&args).expect(0);
        let n = want.rows.len();
        let blank = match want.blank_rows {
            0 => String::new(),
            b => format!(", {b} blank row(s) skipped"),
        };
        let hidden = match want.hidden_rows {
            0 => String::new(),
            h => format!(", {h} hidden row(s) left out (--hidden skip)"),
        };
        out.stderr_has(&format!("{file}: {n} rows: {n} valid"))
            .stderr_has(&format!("0 invalid{blank}{hidden}\n"));
    }
}

#[test]
fn every_export_previews_cell_for_cell() {
    let dir = Workdir::new();
    for file in FILES {
        copy(&dir, file);
        let want = expected(file);
        let preview = format!("{file}.preview.csv");
        let mut args = vec!["--output", preview.as_str()];
        args.extend(want.args.iter().map(String::as_str));
        dir.dry_run(file, &args)
            .env("TECALIS_API_KEY", "k")
            .expect(0);
        let mut reader = csv::Reader::from_path(dir.path(&preview)).unwrap();
        let got: Vec<Vec<String>> = reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                assert_eq!(&r[4], "dry_run", "{file}: {r:?}");
                // Undo the results file's formula guard.
                let cell = |c: &str| c.strip_prefix('\'').unwrap_or(c).to_string();
                (0..4).chain(14..r.len()).map(|i| cell(&r[i])).collect()
            })
            .collect();
        assert_eq!(got, want.rows, "{file}");
    }
}

#[test]
fn every_export_sends_exactly_its_rows() {
    let server = TestServer::start(|c| c.accept_unknown = true);
    let dir = Workdir::new();
    let url = server.url();
    let mut sent = 0;
    for file in FILES {
        copy(&dir, file);
        let want = expected(file);
        let output = format!("{file}.results.csv");
        let mut args = vec!["--output", output.as_str()];
        args.extend(want.args.iter().map(String::as_str));
        dir.run_at(&url, file, &args).expect(0);
        let received = server.received();
        let bodies: Vec<&serde_json::Value> = received[sent..]
            .iter()
            .map(|r| r.body.as_ref().expect("a JSON body"))
            .collect();
        sent = received.len();
        assert_eq!(bodies.len(), want.rows.len(), "{file}");
        for row in &want.rows {
            let body = bodies
                .iter()
                .find(|b| b["auth_uuid"] == row[1].as_str())
                .unwrap_or_else(|| panic!("{file}: line {} never sent", row[0]));
            assert_eq!(body["state"], row[2].as_str(), "{file}");
            if row[3].is_empty() {
                assert!(body.get("reasons").is_none(), "{file}: {body}");
            } else {
                assert_eq!(body["reasons"], row[3].as_str(), "{file}");
            }
        }
    }
}
