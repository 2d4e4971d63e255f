//! The slips a spreadsheet user makes, through the built binary and the sandbox on loopback:
//! a line break in a cell that the export did not quote, the tool's own results file given as
//! input, a column whose name suggests a credential, rows repeated identically.

mod common;

use common::{TestServer, Workdir, fresh_uuids};

#[test]
fn an_unquoted_line_break_flags_both_lines_and_skip_invalid_sends_no_half_reason() {
    let server = TestServer::start(|c| c.accept_unknown = true);
    let dir = Workdir::new();
    let u = fresh_uuids(3);
    // As `ssconvert … quoting-mode=never` writes a cell with a line break, tab-separated.
    let text = format!(
        "auth_uuid\tstate\treasons\n{}\tOK\tbien\n{}\tKO\tFalta el reverso\ndel documento\n{}\tKO\tilegible\n",
        u[0], u[1], u[2]
    );
    dir.write("split.tsv", &text);
    dir.cmd(&["validate", "split.tsv"])
        .expect(4)
        .stderr_has("split.tsv:3: the row seems to go on on line 4")
        .stderr_has("split.tsv:4: this line has fewer cells than the header and no auth_uuid: it looks like the rest of the row on line 3")
        .stderr_has("4 rows: 2 valid");
    dir.run_at(
        &server.url(),
        "split.tsv",
        &["--skip-invalid", "--output", "r.csv"],
    )
    .expect(3);
    let mut sent: Vec<String> = server
        .received()
        .iter()
        .map(|r| r.body.as_ref().expect("a body")["auth_uuid"].to_string())
        .collect();
    sent.sort();
    assert_eq!(sent, [format!("\"{}\"", u[0]), format!("\"{}\"", u[2])]);
    let results = dir.results("r.csv");
    let mut outcomes: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r["line"].as_str(), r["outcome"].as_str()))
        .collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        [("2", "ok"), ("3", "invalid"), ("4", "invalid"), ("5", "ok")],
        "every line accounted for, both parts of the split row invalid"
    );
}

#[test]
fn a_short_row_with_its_auth_uuid_is_not_taken_for_a_split() {
    let dir = Workdir::new();
    let u = fresh_uuids(2);
    dir.write(
        "short.csv",
        format!("auth_uuid,state,reasons\n{},OK,bien\n{},KO\n", u[0], u[1]),
    );
    dir.cmd(&["validate", "short.csv"])
        .expect(0)
        .stderr_has("2 rows: 2 valid");
}

#[test]
fn the_tools_own_results_file_is_refused_pointing_to_export_failed() {
    let server = TestServer::start(|c| c.accept_unknown = true);
    let dir = Workdir::new();
    dir.write_fresh("in.csv", 2, "OK", "=SUMA(A1)");
    dir.dry_run("in.csv", &["--output", "preview.csv"])
        .env("TECALIS_API_KEY", "k")
        .expect(0);
    dir.run_at(&server.url(), "in.csv", &["--output", "results.csv"])
        .expect(0);
    let sent = server.received().len();
    for file in ["preview.csv", "results.csv"] {
        dir.cmd(&["validate", file])
            .expect(4)
            .stderr_has(&format!(
                "{file}:1: this is a results or preview file written by tecalis-status"
            ))
            .stderr_has("report --export-failed");
        dir.run_at(&server.url(), file, &[]).expect(4);
    }
    assert_eq!(server.received().len(), sent, "nothing more was sent");
}

#[test]
fn a_column_named_like_a_credential_is_refused_and_never_sent_or_written() {
    let server = TestServer::start(|c| c.accept_unknown = true);
    let dir = Workdir::new();
    let u = fresh_uuids(1);
    for (header, position) in [
        ("auth_uuid,state,customer_api_key", 3),
        ("auth_uuid,clave_api,state", 2),
        ("api_key_cliente,auth_uuid,state", 1),
        ("auth_uuid,state,Password", 3),
        ("auth_uuid,state,api_key,token", 4),
        ("auth_uuid,state,Contraseña", 3),
        ("auth_uuid,state,passwd", 3),
        ("auth_uuid,state,llave_cliente", 3),
        ("auth_uuid,state,Bearer", 3),
        ("pwd,auth_uuid,state", 1),
    ] {
        let names: Vec<&str> = header.split(',').collect();
        let cells: Vec<String> = names
            .iter()
            .map(|n| match *n {
                "auth_uuid" => u[0].clone(),
                "state" => "OK".to_string(),
                _ => "SECRET-VALUE-42".to_string(),
            })
            .collect();
        dir.write("keys.csv", format!("{header}\n{}\n", cells.join(",")));
        let name = names[position - 1];
        let out = dir.cmd(&["validate", "keys.csv"]).expect(4);
        out.stderr_has(&format!(
            "keys.csv:1: column {position} (`{name}`): the name suggests a credential"
        ));
        assert!(!out.describe().contains("SECRET-VALUE-42"), "{header}");
        let out = dir
            .run_at(&server.url(), "keys.csv", &["--output", "r.csv"])
            .expect(4);
        assert!(!out.describe().contains("SECRET-VALUE-42"), "{header}");
        assert!(!dir.exists("r.csv"), "{header}: no results file");
    }
    assert_eq!(server.received().len(), 0);
}

#[test]
fn identical_rows_are_one_row_sent_once_and_rows_that_differ_stay_an_error() {
    let server = TestServer::start(|c| c.accept_unknown = true);
    let dir = Workdir::new();
    let u = fresh_uuids(2);
    dir.write(
        "twice.csv",
        format!(
            "auth_uuid,state,reasons\n{a},OK,revisado\n{b},KO,ilegible\n{a},OK,revisado\n",
            a = u[0],
            b = u[1]
        ),
    );
    dir.cmd(&["validate", "twice.csv"])
        .expect(0)
        .stderr_has(
            "twice.csv:4: identical in every cell to line 2: one row, sent once (as line 2)",
        )
        .stderr_has("3 rows: 2 valid (OK 1, KO 1, CANCELLED 0), 0 invalid, 1 identical repeat(s)");
    dir.run_at(&server.url(), "twice.csv", &["--output", "r.csv"])
        .expect(0);
    let bodies: Vec<String> = server
        .received()
        .iter()
        .map(|r| r.body.as_ref().expect("a body")["auth_uuid"].to_string())
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert_eq!(
        bodies.iter().filter(|b| b.contains(&u[0])).count(),
        1,
        "sent once"
    );
    let results = dir.results("r.csv");
    let repeat = results
        .iter()
        .find(|r| r["line"] == "4")
        .expect("line 4 is accounted for");
    assert_eq!(repeat["outcome"], "skipped");
    assert!(repeat["error"].contains("identical in every cell to line 2"));
    // The same auth_uuid with another state is still an error on both lines.
    dir.write(
        "differ.csv",
        format!("auth_uuid,state\n{a},OK\n{a},KO\n", a = u[0]),
    );
    dir.cmd(&["validate", "differ.csv"])
        .expect(4)
        .stderr_has("appears on lines 2 and 3");
}
