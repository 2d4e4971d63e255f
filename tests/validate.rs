//! `validate` and `run --dry-run` on every accepted and rejected input variant, through the
//! built binary.

mod common;

use std::path::Path;

use common::Workdir;

const U1: &str = "0193a1b2-c3d4-726b-b2a7-4de452e6b438";
const U2: &str = "0193a1b2-c7a5-70ee-9531-985d5d9dc9f8";
const U3: &str = "0193a1b2-cb76-78d0-9738-f7d93d9c1724";

fn validate(dir: &Workdir, name: &str, contents: &[u8], extra: &[&str]) -> common::Output {
    dir.write(name, contents);
    let mut args = vec!["validate", name];
    args.extend_from_slice(extra);
    dir.cmd(&args).run()
}

#[test]
fn the_bundled_samples_are_valid() {
    let dir = Workdir::new();
    for sample in ["corrections.csv", "corrections-excel-es.csv"] {
        dir.sample(sample);
        dir.cmd(&["validate", sample])
            .expect(0)
            .stderr_has("every row is valid");
    }
    dir.sample("with-problems.csv");
    let out = dir.cmd(&["validate", "with-problems.csv"]).expect(4);
    // Line 13 repeats line 2's auth_uuid: one message, at line 2, names both.
    for line in 2..=12 {
        out.stderr_has(&format!("with-problems.csv:{line}: "));
    }
    out.stderr_has("appears on lines 2 and 13;");
    out.stderr_has("12 invalid");
}

/// The rows a dry run of `name` recorded: (line, auth_uuid, state, reasons, extra columns),
/// after checking that every row is `dry_run`. The results file's formula guard is undone.
fn dry_run_rows(dir: &Workdir, name: &str, extra: &[&str]) -> Vec<Vec<String>> {
    let output = format!("{name}.preview.csv");
    let mut args = vec!["--output", output.as_str()];
    args.extend_from_slice(extra);
    dir.dry_run(name, &args)
        .env("TECALIS_API_KEY", "k")
        .expect(0);
    let mut reader = csv::Reader::from_path(dir.path(&output)).expect("the preview");
    let header = reader.headers().expect("a header").clone();
    let outcome = header.iter().position(|h| h == "outcome").expect("outcome");
    let fixed = header
        .iter()
        .position(|h| h == "finished_at")
        .expect("finished_at")
        + 1;
    reader
        .records()
        .map(|r| {
            let r = r.expect("a whole record");
            assert_eq!(&r[outcome], "dry_run", "{name}: {r:?}");
            let restore = |c: &str| c.strip_prefix('\'').unwrap_or(c).to_string();
            (0..4)
                .chain(fixed..r.len())
                .map(|i| restore(&r[i]))
                .collect()
        })
        .collect()
}

/// The expected row: line, auth_uuid, state, reasons, extras.
fn row(line: u64, uuid: &str, state: &str, reasons: &str, extras: &[&str]) -> Vec<String> {
    let mut row = vec![line.to_string(), uuid.into(), state.into(), reasons.into()];
    row.extend(extras.iter().map(|e| e.to_string()));
    row
}

/// A file name, its bytes, extra flags, and the rows it must yield.
type Variant = (&'static str, Vec<u8>, Vec<&'static str>, Vec<Vec<String>>);

#[test]
fn accepted_variants_are_read_cell_for_cell() {
    let dir = Workdir::new();
    let latin1: Vec<u8> = format!("auth_uuid,state,reasons\n{U1},KO,Revisi")
        .into_bytes()
        .into_iter()
        .chain(b"\xf3n\n".iter().copied())
        .collect();
    let variants: Vec<Variant> = vec![
        (
            "bom.csv",
            format!("\u{feff}auth_uuid,state\n{U1},OK\n").into_bytes(),
            vec![],
            vec![row(2, U1, "OK", "", &[])],
        ),
        (
            "semicolon.csv",
            format!("auth_uuid;state;reasons\n{U1};KO;a, b\n").into_bytes(),
            vec![],
            vec![row(2, U1, "KO", "a, b", &[])],
        ),
        (
            "tab.tsv",
            format!("auth_uuid\tstate\treasons\n{U1}\tKO\ta; b, c\n").into_bytes(),
            vec![],
            vec![row(2, U1, "KO", "a; b, c", &[])],
        ),
        (
            "pipe.csv",
            format!("auth_uuid|state\n{U1}|OK\n").into_bytes(),
            vec![],
            vec![row(2, U1, "OK", "", &[])],
        ),
        (
            "crlf.csv",
            format!("auth_uuid,state,reasons\r\n{U1},OK,x\r\n{U2},KO,\r\n").into_bytes(),
            vec![],
            vec![row(2, U1, "OK", "x", &[]), row(3, U2, "KO", "", &[])],
        ),
        (
            "mac.csv",
            format!(
                "auth_uuid;state;reasons\r{U1};OK;x\r\r;;\r{U2};KO;\"a\rb\"\r{U3};CANCELLED;z\r"
            )
            .into_bytes(),
            vec![],
            vec![
                row(2, U1, "OK", "x", &[]),
                row(5, U2, "KO", "a\rb", &[]),
                row(7, U3, "CANCELLED", "z", &[]),
            ],
        ),
        (
            "quoted.csv",
            format!("auth_uuid,state,reasons\n{U1},KO,\"two\nlines, \"\"quoted\"\"\"\n{U2},OK,\n")
                .into_bytes(),
            vec![],
            vec![
                row(2, U1, "KO", "two\nlines, \"quoted\"", &[]),
                row(4, U2, "OK", "", &[]),
            ],
        ),
        (
            "lower.csv",
            format!("AUTH_UUID , State\n{U1}, cancelled \n{U2},ok\n").into_bytes(),
            vec![],
            vec![row(2, U1, "CANCELLED", "", &[]), row(3, U2, "OK", "", &[])],
        ),
        (
            "extras.csv",
            format!("ticket,auth_uuid,state,agent\nINC-1,{U1},OK,ana\n").into_bytes(),
            vec![],
            vec![row(2, U1, "OK", "", &["INC-1", "ana"])],
        ),
        (
            "latin1.csv",
            latin1,
            vec!["--encoding", "latin1"],
            vec![row(2, U1, "KO", "Revisión", &[])],
        ),
        (
            "forced.csv",
            format!("auth_uuid;state\n{U1};OK\n").into_bytes(),
            vec!["--delimiter", ";"],
            vec![row(2, U1, "OK", "", &[])],
        ),
        (
            "short.csv",
            format!("auth_uuid,state,reasons,ticket\n{U1},OK\n{U2},KO,motivo\n").into_bytes(),
            vec![],
            vec![
                row(2, U1, "OK", "", &[""]),
                row(3, U2, "KO", "motivo", &[""]),
            ],
        ),
        (
            "excel-trailing.csv",
            format!("auth_uuid;state;reasons;;\r\n{U1};OK;;;\r\n;;;;\r\n\r\n").into_bytes(),
            vec![],
            vec![row(2, U1, "OK", "", &[])],
        ),
        (
            "sep.csv",
            format!("sep=;\r\nauth_uuid;state;reasons\r\n{U1};KO;a, b\r\n").into_bytes(),
            vec![],
            vec![row(3, U1, "KO", "a, b", &[])],
        ),
        (
            "uppercase-uuid.csv",
            format!("auth_uuid,state\n{},OK\n", U1.to_uppercase()).into_bytes(),
            vec![],
            vec![row(2, &U1.to_uppercase(), "OK", "", &[])],
        ),
    ];
    for (name, contents, extra, expected) in variants {
        let out = validate(&dir, name, &contents, &extra);
        assert_eq!(out.code, 0, "{name} should be valid\n{}", out.describe());
        out.stderr_has("every row is valid").stderr_has(&format!(
            "{} rows: {} valid",
            expected.len(),
            expected.len()
        ));
        assert_eq!(dry_run_rows(&dir, name, &extra), expected, "{name}");
    }
}

#[test]
fn a_quoted_newline_does_not_shift_line_numbers() {
    let dir = Workdir::new();
    let out = validate(
        &dir,
        "q.csv",
        format!("auth_uuid,state,reasons\n{U1},KO,\"a\nb\nc\"\nbad,OK,\n").as_bytes(),
        &[],
    );
    assert_eq!(out.code, 4, "{}", out.describe());
    out.stderr_has("q.csv:5: column auth_uuid: \"bad\" is not a UUID");
}

#[test]
fn rejected_variants_name_the_line_and_column() {
    let dir = Workdir::new();
    let long = "x".repeat(2001);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "bad-uuid.csv",
            format!("auth_uuid,state\n{U1},OK\nnot-a-uuid,OK\n"),
            "bad-uuid.csv:3: column auth_uuid: \"not-a-uuid\" is not a UUID",
        ),
        (
            "state.csv",
            format!("auth_uuid,state\n{U1},CANCELED\n"),
            "state.csv:2: column state: \"CANCELED\" is not a state: use OK, KO or CANCELLED (did you mean CANCELLED?)",
        ),
        (
            "dup.csv",
            format!("auth_uuid,state\n{U1},OK\n{U2},OK\n{U1},KO\n"),
            "appears on lines 2 and 4",
        ),
        (
            "long.csv",
            format!("auth_uuid,state,reasons\n{U1},KO,{long}\n"),
            "long.csv:2: column reasons: 2001 characters, more than the limit of 2000",
        ),
        (
            "fields.csv",
            format!("auth_uuid,state,reasons\n{U1},KO,a,b\n"),
            "fields.csv:2: 4 fields where the header has 3: a reasons text with the delimiter in it must be in double quotes",
        ),
        (
            "empty-state.csv",
            format!("auth_uuid,state\n{U1},\n"),
            "empty-state.csv:2: column state: empty",
        ),
    ];
    for (name, contents, expected) in cases {
        let out = validate(&dir, name, contents.as_bytes(), &[]);
        assert_eq!(out.code, 4, "{name}\n{}", out.describe());
        out.stderr_has(expected);
    }
}

#[test]
fn every_problem_is_reported_sorted_by_line() {
    let dir = Workdir::new();
    let out = validate(
        &dir,
        "many.csv",
        format!("auth_uuid,state\nbad1,OK\n{U1},NOPE\n{U2},OK\nbad2,KO\n{U3},\n").as_bytes(),
        &[],
    );
    assert_eq!(out.code, 4);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("many.csv:") && !l.starts_with("many.csv: "))
        .collect();
    let numbers: Vec<&str> = lines.iter().map(|l| l.split(':').nth(1).unwrap()).collect();
    assert_eq!(numbers, ["2", "3", "5", "6"], "{}", out.describe());
    out.stderr_has("5 rows: 1 valid (OK 1, KO 0, CANCELLED 0), 4 invalid");
}

#[test]
fn file_level_problems_exit_4_or_1() {
    let dir = Workdir::new();
    validate(&dir, "empty.csv", b"", &[])
        .expect_code(4)
        .stderr_has("empty.csv: the file is empty");
    validate(&dir, "noheader.csv", format!("{U1},OK\n").as_bytes(), &[])
        .expect_code(4)
        .stderr_has("looks like data");
    validate(&dir, "missing.csv", b"auth_uuid,reasons\n", &[])
        .expect_code(4)
        .stderr_has("no state column");
    validate(
        &dir,
        "semi.csv",
        b"auth_uuid;state\n",
        &["--delimiter", ","],
    )
    .expect_code(4)
    .stderr_has("--delimiter ';'");
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let out = validate(&dir, "garbage.bin", &garbage, &[]);
    assert_eq!(out.code, 4, "{}", out.describe());
    assert!(out.stderr.contains("garbage.bin"), "{}", out.describe());
    dir.cmd(&["validate", "nope.csv"])
        .expect(1)
        .stderr_has("nope.csv: cannot read");
    validate(
        &dir,
        "x.csv",
        b"auth_uuid,state\n",
        &["--encoding", "klingon"],
    )
    .expect_code(2)
    .stderr_has("unknown encoding");
}

#[test]
fn a_header_without_rows_is_nothing_to_do() {
    let dir = Workdir::new();
    validate(&dir, "header.csv", b"auth_uuid,state,reasons\r\n", &[])
        .expect_code(0)
        .stderr_has("no rows: nothing to do");
}

#[test]
fn latin1_without_encoding_points_to_the_flag() {
    let dir = Workdir::new();
    let mut bytes = format!("auth_uuid,state,reasons\n{U1},KO,Revisi").into_bytes();
    bytes.extend_from_slice(b"\xf3n manual\n");
    let out = validate(&dir, "win.csv", &bytes, &[]);
    assert_eq!(out.code, 4);
    out.stderr_has("win.csv:2: column reasons: not valid UTF-8 (byte 0xF3)")
        .stderr_has("--encoding windows-1252");
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let dir = Workdir::new();
    dir.cmd(&["validate", "-"])
        .stdin(format!("auth_uuid,state\n{U1},OK\n"))
        .expect(0)
        .stderr_has("<stdin>: 1 rows");
    dir.cmd(&["validate", "-"])
        .stdin("auth_uuid,state\nnope,OK\n")
        .expect(4)
        .stderr_has("<stdin>:2: column auth_uuid");
}

/// Standard input read once is copied as it is read, so that the scan's second pass (for
/// the rows that share an auth_uuid) can read it again: both lines named, repeats found.
#[test]
fn duplicates_in_standard_input_name_every_line() {
    let dir = Workdir::new();
    let out = dir
        .cmd(&["validate", "-"])
        .stdin(format!(
            "auth_uuid,state\n{U1},OK\n{U2},KO\n{U1},KO\n{U2},KO\n{U3},OK\n"
        ))
        .expect(4);
    out.stderr_has(&format!(
        "<stdin>:2: column auth_uuid: {U1} appears on lines 2 and 4;"
    ));
    out.stderr_has("<stdin>:5: identical in every cell to line 3");
    out.stderr_has("<stdin>: 5 rows: 2 valid (OK 1, KO 1, CANCELLED 0), 2 invalid");
}

/// Without a temporary folder to copy standard input into, the error says so and where.
#[test]
fn standard_input_without_a_temporary_folder_says_where_the_copy_was_to_go() {
    let dir = Workdir::new();
    let missing = dir.path("no-such-folder");
    dir.cmd(&["validate", "-"])
        .env("TMPDIR", missing.to_str().unwrap())
        .stdin(format!("auth_uuid,state\n{U1},OK\n"))
        .expect(1)
        .stderr_has("in the temporary folder ")
        .stderr_has("no-such-folder (set TMPDIR to another)");
}

#[test]
fn the_reasons_limit_can_be_raised() {
    let dir = Workdir::new();
    let contents = format!("auth_uuid,state,reasons\n{U1},KO,{}\n", "é".repeat(2500));
    validate(&dir, "l.csv", contents.as_bytes(), &[]).expect_code(4);
    validate(
        &dir,
        "l.csv",
        contents.as_bytes(),
        &["--max-reasons-len", "3000"],
    )
    .expect_code(0);
}

#[test]
fn usage_errors_exit_2() {
    let dir = Workdir::new();
    dir.cmd(&["validate"]).expect(2);
    dir.cmd(&["frobnicate"]).expect(2);
    dir.cmd(&["run", "x.csv", "--rate", "fast"]).expect(2);
}

#[test]
fn a_dry_run_sends_nothing_and_shows_redacted_bodies() {
    let dir = Workdir::new();
    dir.sample("corrections.csv");
    let out = dir
        .dry_run("corrections.csv", &[])
        .env("TECALIS_API_KEY", "top-secret-key-123")
        .expect(0);
    // The preview is the dry run's output: on standard output.
    out.stdout_has("would send (line 2)")
        .stdout_has("\"api_key\":\"<redacted>\"")
        .stderr_has("nothing was sent");
    assert!(!out.stderr.contains("top-secret-key-123"));
    assert!(!out.stdout.contains("top-secret-key-123"));
    let results = dir.results("corrections.dry-run.csv");
    assert_eq!(results.len(), 12);
    assert!(
        results
            .iter()
            .all(|r| r["outcome"] == "dry_run" && r["attempts"] == "0")
    );
    let raw = dir.read("corrections.dry-run.csv");
    assert!(!raw.contains("top-secret-key-123"));
    // The preview never blocks the real run's default results file.
    assert!(!dir.exists("corrections.results.csv"));
}

#[test]
fn a_dry_run_of_an_invalid_file_records_the_invalid_rows_and_exits_4() {
    let dir = Workdir::new();
    dir.sample("with-problems.csv");
    let out = dir
        .dry_run("with-problems.csv", &[])
        .env("TECALIS_API_KEY", "k")
        .expect(4);
    out.stderr_has("with-problems.csv:3: column auth_uuid");
    let results = dir.results("with-problems.dry-run.csv");
    let invalid: Vec<&str> = results
        .iter()
        .filter(|r| r["outcome"] == "invalid")
        .map(|r| r["line"].as_str())
        .collect();
    assert_eq!(invalid.len(), 12);
    assert!(
        invalid.contains(&"2") && invalid.contains(&"13"),
        "both lines of a duplicate are invalid"
    );
    let last = results.iter().find(|r| r["line"] == "14").unwrap();
    assert_eq!(last["outcome"], "dry_run");
}

#[test]
fn a_dry_run_checks_the_configuration() {
    let dir = Workdir::new();
    dir.sample("corrections.csv");
    dir.cmd(&["run", "corrections.csv", "--dry-run"])
        .env("TECALIS_API_KEY", "k")
        .expect(1)
        .stderr_has("no URL");
    dir.cmd(&[
        "run",
        "corrections.csv",
        "--dry-run",
        "--url",
        "http://api.example.com",
    ])
    .env("TECALIS_API_KEY", "k")
    .expect(1)
    .stderr_has("--allow-insecure-http");
    dir.cmd(&[
        "run",
        "corrections.csv",
        "--dry-run",
        "--url",
        "https://api.example.com",
        "--api-key-file",
        "missing.key",
    ])
    .expect(1)
    .stderr_has("cannot read the key file missing.key");
}

#[test]
fn extra_columns_are_carried_through_to_the_results() {
    let dir = Workdir::new();
    dir.sample("corrections-excel-es.csv");
    dir.dry_run("corrections-excel-es.csv", &[])
        .env("TECALIS_API_KEY", "k")
        .expect(0);
    let results = dir.results("corrections-excel-es.dry-run.csv");
    assert_eq!(results[0]["Ticket"], "INC-4100");
    assert_eq!(results[0]["reasons"], "Revisado; correcto");
    assert_eq!(results[3]["state"], "OK", "states are written upper-case");
}

#[test]
fn no_row_is_lost_to_a_quote_or_a_delimiter() {
    let dir = Workdir::new();
    // A quote never closed: an error at the line where it opened, nothing read as valid.
    let out = validate(
        &dir,
        "open.csv",
        format!("auth_uuid,state,reasons\n{U1},KO,\"never closed\n{U2},OK,x\n{U3},OK,y\n")
            .as_bytes(),
        &[],
    );
    assert_eq!(out.code, 4, "{}", out.describe());
    out.stderr_has("open.csv:2: a quote opened on this line is never closed");
    assert!(
        !out.stderr.contains("every row is valid"),
        "{}",
        out.describe()
    );
    // Closed by a later quote with text after it: an error naming both lines.
    let out = validate(
        &dir,
        "late.csv",
        format!(
            "auth_uuid,state,reasons\r\n{U1},KO,\"never closed\r\n{U2},OK,x\r\n{U3},KO,\"fine\"\r\n"
        )
        .as_bytes(),
        &[],
    );
    assert_eq!(out.code, 4, "{}", out.describe());
    out.stderr_has("late.csv:4: text follows the closing quote of a cell that opened on line 2");
    // Closed cleanly by a later quote (5 inches): the row that swallowed the others names
    // every line it swallowed.
    let out = validate(
        &dir,
        "inches.csv",
        format!("auth_uuid,state,reasons\r\n{U1},KO,\"never closed\r\n{U2},OK,x\r\n{U3},KO,pantalla 5\"\r\n")
            .as_bytes(),
        &[],
    );
    assert_eq!(out.code, 4, "{}", out.describe());
    out.stderr_has("inches.csv:2: the quoted cell that opens on line 2 runs on over lines 3 and 4, which look like other rows");
    // With --skip-invalid the swallowing row is recorded as invalid, naming the lost line.
    dir.dry_run(
        "inches.csv",
        &["--skip-invalid", "--output", "late.out.csv"],
    )
    .env("TECALIS_API_KEY", "k")
    .expect(4);
    let results = dir.results("late.out.csv");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["outcome"], "invalid");
    assert!(
        results[0]["error"].contains("lines 3 and 4"),
        "{:?}",
        results[0]
    );
    // An unquoted delimiter in the reasons, under LibreOffice's unnamed trailing columns.
    let out = validate(
        &dir,
        "cut.csv",
        format!("auth_uuid,state,reasons,,,\n{U1},KO,Foto borrosa, repetir,,\n{U2},OK,,,,\n")
            .as_bytes(),
        &[],
    );
    assert_eq!(out.code, 4, "{}", out.describe());
    out.stderr_has("cut.csv:2: column 4 has no name in the header but holds data");
    out.stderr_has("2 rows: 1 valid");
}

#[test]
fn near_miss_columns_are_refused_and_header_messages_show_no_cells() {
    let dir = Workdir::new();
    for (header, position, known) in [
        ("auth_uuid,state,reason", 3, "reasons"),
        ("auth_uuid,state,apikey", 3, "api_key"),
        ("auth_uuid,state,api-key", 3, "api_key"),
        ("auth_uuid,status", 2, "state"),
        ("uuid,state", 1, "auth_uuid"),
    ] {
        validate(&dir, "near.csv", format!("{header}\n{U1},OK,x\n").as_bytes(), &[])
            .expect_code(4)
            .stderr_has(&format!(
                "near.csv:1: column {position} of the header is not a known column but looks like `{known}`"
            ));
    }
    // A headerless file whose first row holds a key: the message does not print it.
    let secret = "7f3c9a10-dead-beef-0000-5ecre7000000";
    let out = validate(
        &dir,
        "nohead.csv",
        format!("{U1},OK,{secret}\n").as_bytes(),
        &[],
    );
    assert_eq!(out.code, 4);
    out.stderr_has("nohead.csv:1: the first row looks like data");
    let out = validate(
        &dir,
        "nohead2.csv",
        format!("{secret};OK\n").as_bytes(),
        &[],
    );
    assert_eq!(out.code, 4);
    assert!(
        !out.stderr.contains(secret) && !out.stderr.contains(U1),
        "{}",
        out.describe()
    );
}

#[test]
fn a_repeated_auth_uuid_is_one_message_naming_every_line() {
    let dir = Workdir::new();
    let out = validate(
        &dir,
        "dup3.csv",
        format!("auth_uuid,state\n{U1},OK\n{U1},KO\n{U1},OK\n{U2},OK\n").as_bytes(),
        &[],
    );
    assert_eq!(out.code, 4);
    let messages: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("appears on"))
        .collect();
    assert_eq!(messages.len(), 1, "{}", out.describe());
    assert!(messages[0].starts_with(&format!(
        "dup3.csv:2: column auth_uuid: {U1} appears on lines 2, 3 and 4;"
    )));
    out.stderr_has("4 rows: 1 valid (OK 1, KO 0, CANCELLED 0), 3 invalid");
}

#[test]
fn the_spanish_excel_export_needs_only_the_encoding() {
    let dir = Workdir::new();
    let mut bytes = format!("auth_uuid;state;reasons\r\n{U1};KO;Revisi").into_bytes();
    bytes.extend_from_slice(b"\xf3n, firma \x80\r\n;;\r\n\r\n");
    let out = validate(&dir, "es.csv", &bytes, &[]);
    assert_eq!(out.code, 4);
    out.stderr_has("es.csv:2: column reasons: not valid UTF-8")
        .stderr_has("--encoding windows-1252");
    validate(&dir, "es.csv", &bytes, &["--encoding", "windows-1252"])
        .expect_code(0)
        .stderr_has("1 rows: 1 valid (OK 0, KO 1, CANCELLED 0), 0 invalid, 2 blank row(s) skipped");
    assert_eq!(
        dry_run_rows(&dir, "es.csv", &["--encoding", "windows-1252"]),
        vec![row(2, U1, "KO", "Revisión, firma €", &[])]
    );
}

#[test]
fn a_notepad_key_file_is_read_without_its_bom() {
    let server = common::TestServer::start(|_| {});
    let dir = Workdir::new();
    let (mine, _) = common::bundled_uuids();
    let rows: Vec<(&str, &str, &str)> = mine[..2].iter().map(|u| (u.as_str(), "OK", "")).collect();
    dir.write("in.csv", common::csv_input(&rows));
    dir.write("notepad.key", format!("\u{feff}{}\r\n", common::KEY));
    dir.write("blank-first.key", format!("  \r\n{}\r\n", common::KEY));
    dir.write("empty.key", "\u{feff}\r\n");
    let url = server.url();
    dir.cmd(&[
        "run",
        "in.csv",
        "--url",
        &url,
        "--yes",
        "--api-key-file",
        "blank-first.key",
    ])
    .expect(1)
    .stderr_has("the first line of the key file blank-first.key is empty");
    dir.cmd(&[
        "run",
        "in.csv",
        "--url",
        &url,
        "--yes",
        "--api-key-file",
        "empty.key",
    ])
    .expect(1)
    .stderr_has("the key file empty.key is empty");
    assert_eq!(server.received().len(), 0);
    dir.cmd(&[
        "run",
        "in.csv",
        "--url",
        &url,
        "--yes",
        "--api-key-file",
        "notepad.key",
    ])
    .expect(0);
    let received = server.received();
    assert_eq!(received.len(), 2);
    assert!(
        received.iter().all(|r| r.key_matched == Some(true)),
        "{received:?}"
    );
}

/// Standard input is spooled into a file with no name: while the run reads it, and after a
/// `kill -9`, the temporary folder holds nothing (the input may carry an api_key column).
#[cfg(target_os = "linux")]
#[test]
fn spooled_standard_input_leaves_nothing_on_disk_even_after_kill_9() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let dir = Workdir::new();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tecalis-status"))
        .args([
            "run",
            "-",
            "--dry-run",
            "--url",
            "https://api.invalid",
            "-o",
            "out.csv",
        ])
        .current_dir(dir.path(""))
        .env("TMPDIR", tmp.path())
        .env("TECALIS_API_KEY", "k")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("auth_uuid,state,api_key\n{U1},OK,row-secret-key\n").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    // Wait (with a generous deadline) until the process holds its spool open.
    let fds = format!("/proc/{}/fd", child.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    let spool = loop {
        let held = std::fs::read_dir(&fds)
            .into_iter()
            .flatten()
            .flatten()
            .find_map(|fd| {
                let target = std::fs::read_link(fd.path()).ok()?;
                target.starts_with(tmp.path()).then_some(target)
            });
        if let Some(target) = held {
            break target;
        }
        assert!(
            Instant::now() < deadline,
            "the spool never appeared in {fds}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(spool.to_string_lossy().ends_with("(deleted)"), "{spool:?}");
    let names = |p: &Path| std::fs::read_dir(p).unwrap().count();
    assert_eq!(
        names(tmp.path()),
        0,
        "the spool has a name while the run reads it"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(names(tmp.path()), 0, "something was left after kill -9");
}

#[test]
fn every_setting_combines_with_every_other() {
    let dir = Workdir::new();
    // Standard input (spooled), windows-1252, bare CR, a sep= line, formatted empty rows, and
    // both --encoding and --delimiter given.
    let mut bytes = format!("sep=;\rauth_uuid;state;reasons\r{U1};KO;\"Cami").into_bytes();
    bytes.extend_from_slice(b"\xf3n;\rparado\"\r;;\r");
    bytes.extend_from_slice(format!("{U2};ok;\r;;\r").as_bytes());
    let out = dir
        .dry_run(
            "-",
            &[
                "-o",
                "p.csv",
                "--encoding",
                "windows-1252",
                "--delimiter",
                ";",
            ],
        )
        .env("TECALIS_API_KEY", "k")
        .stdin(bytes.clone())
        .expect(0);
    out.stderr_has("2 rows: 2 valid (OK 1, KO 1, CANCELLED 0), 0 invalid, 2 blank row(s) skipped");
    let results = dir.results("p.csv");
    let rows: Vec<(&str, &str, &str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["line"].as_str(),
                r["auth_uuid"].as_str(),
                r["state"].as_str(),
                r["reasons"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [("3", U1, "KO", "Camión;\rparado"), ("6", U2, "OK", "")]
    );
    // The same without --delimiter: the sep= line decides; without it, detection does.
    validate(&dir, "f.csv", &bytes, &["--encoding", "windows-1252"]).expect_code(0);
    validate(&dir, "g.csv", &bytes[6..], &["--encoding", "latin1"]).expect_code(0);
}

#[test]
fn a_single_byte_encoding_asked_for_a_utf8_file_is_refused_not_misread() {
    let dir = Workdir::new();
    let row = format!("auth_uuid,state,reasons\n{U1},OK,raz\u{f3}n\n");
    let out = validate(
        &dir,
        "u8.csv",
        row.as_bytes(),
        &["--encoding", "windows-1252"],
    );
    assert_eq!(out.code, 1, "{}", out.describe());
    out.stderr_has("u8.csv is UTF-8")
        .stderr_has("Run again without --encoding");
    // With Excel's UTF-8 byte-order mark the file says what it is: the flag is overruled.
    let with_bom = [b"\xEF\xBB\xBF".as_slice(), row.as_bytes()].concat();
    dir.write("bom.csv", &with_bom);
    let out = dir
        .dry_run("bom.csv", &["--encoding", "windows-1252"])
        .env("TECALIS_API_KEY", "k")
        .expect(0);
    assert!(
        out.stdout.contains("\"reasons\":\"raz\u{f3}n\""),
        "{}",
        out.describe()
    );
    // A real windows-1252 file still reads with the flag.
    let latin = [
        b"auth_uuid,state,reasons\n".as_slice(),
        format!("{U1},OK,raz").as_bytes(),
        b"\xF3n\n",
    ]
    .concat();
    let out = validate(&dir, "w.csv", &latin, &["--encoding", "windows-1252"]);
    assert_eq!(out.code, 0, "{}", out.describe());
}
