//! `validate` and `run --dry-run` on every accepted and rejected input variant, through the
//! built binary.

mod common;

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
    for line in 2..=13 {
        out.stderr_has(&format!("with-problems.csv:{line}: "));
    }
    out.stderr_has("12 invalid");
}

#[test]
fn accepted_variants_are_valid() {
    let dir = Workdir::new();
    let variants: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "bom.csv",
            format!("\u{feff}auth_uuid,state\n{U1},OK\n").into_bytes(),
            vec![],
        ),
        (
            "semicolon.csv",
            format!("auth_uuid;state;reasons\n{U1};KO;a, b\n").into_bytes(),
            vec![],
        ),
        (
            "tab.tsv",
            format!("auth_uuid\tstate\treasons\n{U1}\tKO\ta; b, c\n").into_bytes(),
            vec![],
        ),
        (
            "pipe.csv",
            format!("auth_uuid|state\n{U1}|OK\n").into_bytes(),
            vec![],
        ),
        (
            "crlf.csv",
            format!("auth_uuid,state,reasons\r\n{U1},OK,x\r\n{U2},KO,\r\n").into_bytes(),
            vec![],
        ),
        (
            "quoted.csv",
            format!("auth_uuid,state,reasons\n{U1},KO,\"two\nlines, \"\"quoted\"\"\"\n{U2},OK,\n")
                .into_bytes(),
            vec![],
        ),
        (
            "lower.csv",
            format!("AUTH_UUID , State\n{U1}, cancelled \n{U2},ok\n").into_bytes(),
            vec![],
        ),
        (
            "extras.csv",
            format!("ticket,auth_uuid,state,agent\nINC-1,{U1},OK,ana\n").into_bytes(),
            vec![],
        ),
        (
            "latin1.csv",
            format!("auth_uuid,state,reasons\n{U1},KO,Revisi")
                .into_bytes()
                .into_iter()
                .chain(b"\xf3n\n".iter().copied())
                .collect(),
            vec!["--encoding", "latin1"],
        ),
        (
            "forced.csv",
            format!("auth_uuid;state\n{U1};OK\n").into_bytes(),
            vec!["--delimiter", ";"],
        ),
        (
            "short.csv",
            format!("auth_uuid,state,reasons,ticket\n{U1},OK\n{U2},KO,motivo\n").into_bytes(),
            vec![],
        ),
        (
            "excel-trailing.csv",
            format!("auth_uuid;state;reasons;;\r\n{U1};OK;;;\r\n").into_bytes(),
            vec![],
        ),
        (
            "uppercase-uuid.csv",
            format!("auth_uuid,state\n{}\tOK\n", U1.to_uppercase())
                .replace('\t', ",")
                .into_bytes(),
            vec![],
        ),
    ];
    for (name, contents, extra) in variants {
        let out = validate(&dir, name, &contents, &extra);
        assert_eq!(out.code, 0, "{name} should be valid\n{}", out.describe());
        out.stderr_has("every row is valid");
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
    .expect_code(1)
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
