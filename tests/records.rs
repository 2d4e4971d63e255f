//! Truthful records and safe mistakes: the JSON summary at every exit, a `--url` that would
//! send elsewhere refused, a torn results file resumed right, and an export that never writes
//! over its own source and re-runs exactly what failed.

mod common;

use common::{KEY, TestServer, Workdir, bundled_uuids, csv_input, fresh_uuids};
use serde_json::Value;

#[test]
fn the_json_summary_is_written_on_a_fatal_exit_too() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    dir.write_fresh("in.csv", 2, "OK", "");
    dir.write("in.results.csv", "not ours\n");
    let out = dir
        .run_at(&server.url(), "in.csv", &["--summary-json", "s.json"])
        .expect(1);
    out.stderr_has("already exists");
    let json: Value = serde_json::from_str(&dir.read("s.json")).unwrap();
    assert_eq!(json["exit_code"], 1, "{json}");
    assert!(
        json["error"].as_str().unwrap().contains("already exists"),
        "{json}"
    );
    assert_eq!(json["counts"]["ok"], 0);
    assert_eq!(server.stats().requests, 0, "nothing was sent");
    assert_eq!(
        dir.read("in.results.csv"),
        "not ours\n",
        "nothing was touched"
    );
}

#[test]
fn a_url_with_the_endpoint_or_a_query_is_refused_with_the_value_to_use() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    dir.write_fresh("in.csv", 2, "OK", "");
    let base = server.url();
    for (url, shown) in [
        (format!("{base}/customer/status"), format!("--url {base}")),
        (format!("{base}/?x=1"), format!("--url {base}")),
    ] {
        dir.run_at(&url, "in.csv", &[]).expect(2).stderr_has(&shown);
    }
    assert_eq!(server.stats().requests, 0, "nothing was sent");
    assert!(!dir.exists("in.results.csv"));
}

#[test]
fn a_results_file_torn_inside_quotes_is_resumed_with_every_final_outcome_right() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    let (mine, theirs) = bundled_uuids();
    // Reasons with a line break, so that a torn record ends inside quotes.
    let reasons = "\"two\nlines\"";
    let rows: Vec<(&str, &str, &str)> = vec![
        (mine[0].as_str(), "OK", reasons),
        (mine[1].as_str(), "KO", reasons),
        (theirs[0].as_str(), "OK", reasons),
    ];
    dir.write("in.csv", csv_input(&rows));
    // Only the first row has run: its line is whole. The second was being written when the
    // run died: its record stops inside the quoted reasons.
    dir.write("first.csv", csv_input(&rows[..1]));
    dir.run_at(&server.url(), "first.csv", &["-o", "in.results.csv"])
        .expect(0);
    let whole = dir.read("in.results.csv");
    let torn = format!("3,{},KO,\"two\nli", mine[1]);
    dir.write("in.results.csv", format!("{whole}{torn}"));
    dir.run_at(&server.url(), "in.csv", &["--resume"])
        .expect(3)
        .stderr_has("cut off a torn last line");
    let rows = dir.results("in.results.csv");
    let last: std::collections::HashMap<_, _> = rows
        .iter()
        .map(|r| (r["auth_uuid"].clone(), r["outcome"].clone()))
        .collect();
    // The first row is already ok: skipped, and its line not written again.
    assert_eq!(last[&mine[0]], "ok");
    assert_eq!(last[&mine[1]], "ok");
    assert_eq!(last[&theirs[0]], "unauthorized");
    assert_eq!(rows.len(), 3, "one whole line, then two appended");
    let report = dir.cmd(&["report", "in.results.csv"]).expect(3);
    report
        .stdout_has("unauthorized")
        .stdout_has(&theirs[0])
        .stdout_has("INCOMPLETE: 1 of the last run's 3 rows did not end ok.");
}

#[test]
fn an_export_never_writes_over_the_results_it_reads() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("corrections.csv");
    dir.run_at(&server.url(), "corrections.csv", &[]).expect(3);
    let before = std::fs::read(dir.path("corrections.results.csv")).unwrap();
    dir.cmd(&[
        "report",
        "corrections.results.csv",
        "--export-failed",
        "corrections.results.csv",
        "--force",
    ])
    .expect(1)
    .stderr_has("is the input corrections.results.csv");
    std::os::unix::fs::symlink(dir.path("corrections.results.csv"), dir.path("link.csv")).unwrap();
    dir.cmd(&[
        "report",
        "corrections.results.csv",
        "--export-failed",
        "link.csv",
        "--force",
    ])
    .expect(1);
    assert_eq!(
        std::fs::read(dir.path("corrections.results.csv")).unwrap(),
        before,
        "the results file is byte for byte intact"
    );
}

#[test]
fn an_export_keeps_every_input_column_and_the_per_row_key() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    let uuids = fresh_uuids(2);
    let (_, theirs) = bundled_uuids();
    // One row with the default key (accepted), one with its own wrong key (401), and a
    // column of the user's own named like a renamed results column.
    dir.write(
        "in.csv",
        format!(
            "auth_uuid,state,api_key,input_x,ticket\n{},OK,,a,T-1\n{},KO,not-their-key,=b,T-2\n{},OK,,c,T-3\n",
            uuids[0], theirs[0], uuids[1]
        ),
    );
    dir.run_at(&server.url(), "in.csv", &[]).expect(3);
    let results = dir.read("in.results.csv");
    assert!(!results.contains("not-their-key"), "keys never in results");
    dir.cmd(&["report", "in.results.csv", "--export-failed", "retry.csv"])
        .expect(3)
        .stdout_has("1 cell(s) of the export begin with a ' added for spreadsheet safety");
    let exported = dir.read("retry.csv");
    assert_eq!(
        exported,
        format!(
            "auth_uuid,state,api_key,input_x,ticket\n{},KO,not-their-key,'=b,T-2\n",
            theirs[0]
        )
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path("retry.csv"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the export holds a key: private");
    }
    let _ = KEY;
}

#[test]
fn an_output_onto_the_input_is_refused_and_the_input_stays_intact() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    dir.write_fresh("in.csv", 3, "OK", "x");
    let before = std::fs::read(dir.path("in.csv")).unwrap();
    std::os::unix::fs::symlink(dir.path("in.csv"), dir.path("link.csv")).unwrap();
    std::fs::hard_link(dir.path("in.csv"), dir.path("hard.csv")).unwrap();
    for output in ["in.csv", "link.csv", "hard.csv"] {
        let out = dir
            .run_at(&server.url(), "in.csv", &["-o", output, "--force"])
            .expect(1);
        assert!(
            out.stderr.contains("is the input") || out.stderr.contains("symbolic link"),
            "{}",
            out.describe()
        );
        dir.run_at(
            &server.url(),
            "in.csv",
            &["--summary-json", output, "--force"],
        )
        .expect(1);
    }
    assert_eq!(std::fs::read(dir.path("in.csv")).unwrap(), before);
    assert_eq!(server.stats().requests, 0, "nothing was sent");
}

#[test]
fn an_input_rewritten_during_the_run_does_not_change_what_is_sent() {
    use sha2::{Digest, Sha256};
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    let uuids = dir.write_fresh("in.csv", 10, "OK", "first");
    let original = std::fs::read(dir.path("in.csv")).unwrap();
    let child = dir
        .run_at(
            &server.url(),
            "in.csv",
            &[
                "--rate",
                "5",
                "--concurrency",
                "1",
                "--summary-json",
                "s.json",
            ],
        )
        .spawn();
    // Once sending has begun, the file is rewritten with other rows.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.stats().requests == 0 {
        assert!(std::time::Instant::now() < deadline, "the run never sent");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let others: Vec<(String, &str, &str)> = fresh_uuids(40)[20..]
        .iter()
        .map(|u| (u.clone(), "KO", "second"))
        .collect();
    let rows: Vec<(&str, &str, &str)> = others
        .iter()
        .map(|(u, s, r)| (u.as_str(), *s, *r))
        .collect();
    dir.write("in.csv", csv_input(&rows));
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: Vec<(String, String)> = server
        .received()
        .into_iter()
        .map(|r| {
            let body = r.body.unwrap();
            (
                body["auth_uuid"].as_str().unwrap().to_string(),
                body["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(sent.len(), 10, "exactly the rows that were validated");
    for (uuid, state) in &sent {
        assert!(uuids.contains(uuid) && state == "OK", "{uuid} {state}");
    }
    let json: Value = serde_json::from_str(&dir.read("s.json")).unwrap();
    let hash: String = Sha256::digest(&original)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        json["input_sha256"],
        hash.as_str(),
        "the hash of what was sent"
    );
}

#[test]
fn report_counts_the_rows_of_the_job_as_it_is_after_a_corrected_resume() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    let uuids = fresh_uuids(3);
    // Line 4's auth_uuid is cut short: invalid, recorded as such with --skip-invalid.
    let short = &uuids[2][..30];
    let first = format!(
        "auth_uuid,state\n{},OK\n{},OK\n{short},OK\n",
        uuids[0], uuids[1]
    );
    dir.write("in.csv", &first);
    dir.run_at(&server.url(), "in.csv", &["--skip-invalid"])
        .expect(3);
    // The operator corrects it and resumes: every row of the job ends ok.
    dir.write(
        "in.csv",
        csv_input(&[
            (&uuids[0], "OK", ""),
            (&uuids[1], "OK", ""),
            (&uuids[2], "OK", ""),
        ]),
    );
    dir.run_at(&server.url(), "in.csv", &["--resume"]).expect(0);
    let out = dir.cmd(&["report", "in.results.csv"]).expect(0);
    out.stdout_has("3 rows (the final outcome of each")
        .stdout_has("1 row(s) recorded only by earlier runs")
        .stdout_has("Complete: every row ended ok.");
}
