//! The operator's side: help and version, completions and the man page, `report` and its
//! export, and the cron and systemd recipes of the README.

mod common;

use std::process::Command;

use common::{KEY, TestServer, Workdir};

/// The count on the summary line `  OUTCOME   N`.
fn count(text: &str, outcome: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        (words.len() >= 2 && words[0] == outcome)
            .then(|| words[1].parse().ok())
            .flatten()
    })
}

#[test]
fn every_subcommand_has_help_with_examples() {
    let dir = Workdir::new();
    for sub in ["validate", "run", "sandbox", "report", "completions", "man"] {
        let out = dir.cmd(&[sub, "--help"]).expect(0);
        assert!(
            out.stdout.contains("Example"),
            "{sub} --help has no examples:\n{}",
            out.stdout
        );
    }
    let out = dir.cmd(&["--help"]).expect(0);
    assert!(out.stdout.contains("Exit codes"));
    let out = dir.cmd(&["--version"]).expect(0);
    assert_eq!(
        out.stdout.trim(),
        format!("tecalis-status {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn completions_and_the_man_page_generate() {
    let dir = Workdir::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = dir.cmd(&["completions", shell]).expect(0);
        assert!(out.stdout.contains("tecalis-status"), "{shell}");
        assert!(
            out.stdout.contains("dry-run") && out.stdout.contains("export-failed"),
            "{shell}"
        );
    }
    let out = dir.cmd(&["man"]).expect(0);
    assert!(
        out.stdout.starts_with(".ie") || out.stdout.contains(".TH tecalis-status"),
        "{}",
        &out.stdout[..200]
    );
    assert!(out.stdout.contains("validate"));
}

#[test]
fn report_follows_the_last_line_and_exports_what_failed() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("corrections-excel-es.csv");
    dir.sample("corrections.csv");
    let url = server.url();
    dir.run_at(&url, "corrections.csv", &["--rate", "1000"])
        .expect(3);
    // A second pass appends lines: the 401 rows are 401 again, the rest skipped.
    dir.run_at(&url, "corrections.csv", &["--rate", "1000", "--resume"])
        .expect(3);
    let out = dir
        .cmd(&[
            "report",
            "corrections.results.csv",
            "--export-failed",
            "retry.csv",
        ])
        .expect(3);
    out.stdout_has("12 rows (the final outcome of each, from 24 lines)")
        .stdout_has("line 8: 0193a1b2-daba-78c0-98f1-35d25f557203")
        .stdout_has("Exported 3 row(s)")
        .stdout_has("Complete, but not every row ended ok.");
    assert_eq!(count(&out.stdout, "skipped"), Some(9));
    assert_eq!(count(&out.stdout, "unauthorized"), Some(3));
    let exported = dir.read("retry.csv");
    assert!(
        exported.starts_with("auth_uuid,state,reasons\n"),
        "{exported}"
    );
    assert_eq!(exported.lines().count(), 4);
    assert!(exported.contains(
        "0193a1b2-edcf-78ef-83ba-ea9e13deef86,CANCELLED,\"Duplicado de otro proceso, se anula\""
    ));
    // The export is a valid input, ready to correct and run again.
    dir.cmd(&["validate", "retry.csv"]).expect(0);
    dir.cmd(&[
        "report",
        "corrections.results.csv",
        "--export-failed",
        "retry.csv",
    ])
    .expect(1)
    .stderr_has("--force");

    // Extra columns come back under their input names.
    dir.run_at(&url, "corrections-excel-es.csv", &["--rate", "1000"])
        .env("TECALIS_API_KEY", "wrong")
        .expect(3);
    dir.cmd(&[
        "report",
        "corrections-excel-es.results.csv",
        "--export-failed",
        "retry-es.csv",
    ])
    .expect(3);
    // Copied from the input, which is still there: its own column names, cells as written.
    let exported = dir.read("retry-es.csv");
    assert!(
        exported.starts_with("Auth_UUID,State,Reasons,Ticket\n"),
        "{exported}"
    );
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(exported.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 4, "{exported}");
    assert_eq!(&rows[0][2], "Revisado; correcto");
    assert_eq!(&rows[1][3], "INC-4101");
}

#[test]
fn report_exits_0_when_every_row_is_done_and_refuses_other_files() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    dir.write(
        "in.csv",
        "auth_uuid,state\n01930000-0000-7000-8000-000000000001,OK\n",
    );
    let url = server.url();
    dir.run_at(&url, "in.csv", &[]).expect(0);
    let out = dir.cmd(&["report", "in.results.csv"]).expect(0);
    assert_eq!(count(&out.stdout, "ok"), Some(1));
    out.stdout_has("Complete: every row ended ok.");
    dir.cmd(&["report", "in.csv"])
        .expect(1)
        .stderr_has("not a results file");
}

#[test]
fn the_cron_recipe_runs_and_reports_by_exit_code() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("corrections.csv");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/cron/tecalis-status-cron.sh"
    );
    let cron = |key: &str| {
        Command::new("bash")
            .arg(script)
            .arg(dir.path("corrections.csv"))
            .env("TECALIS_BIN", env!("CARGO_BIN_EXE_tecalis-status"))
            .env("TECALIS_URL", server.url())
            .env("TECALIS_API_KEY", key)
            .output()
            .unwrap()
    };
    let out = cron(KEY);
    assert_eq!(out.status.code(), Some(3));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("tecalis-status report"), "{said}");
    let summary: serde_json::Value =
        serde_json::from_str(&dir.read("corrections.summary.json")).unwrap();
    assert_eq!(summary["counts"]["ok"], 9);
    let log = dir.read("corrections.log");
    assert!(
        log.lines()
            .any(|l| l.starts_with('{') && l.contains("\"level\":\"INFO\"")),
        "JSON log lines:\n{log}"
    );
    assert!(!log.contains(KEY));
    // Re-running is safe: the nine ok rows are skipped, only the three 401s are sent again.
    let before = server.stats().requests;
    assert_eq!(cron(KEY).status.code(), Some(3));
    assert_eq!(server.stats().requests - before, 3);
}

#[test]
fn the_systemd_timer_schedule_is_valid() {
    let timer = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/systemd/tecalis-status.timer"
    ))
    .unwrap();
    let calendar = timer
        .lines()
        .find_map(|l| l.strip_prefix("OnCalendar="))
        .expect("an OnCalendar line");
    let service = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/systemd/tecalis-status.service"
    ))
    .unwrap();
    assert!(service.contains("ExecStart=/usr/local/bin/tecalis-status-cron.sh "));
    assert!(
        !service.contains("TECALIS_API_KEY="),
        "the key never goes in the unit"
    );
    match Command::new("systemd-analyze")
        .args(["calendar", calendar])
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("systemd-analyze is not installed ({e}); the schedule was not checked"),
    }
}
