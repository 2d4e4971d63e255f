//! The progress display: a bar when standard error is a terminal (run under a
//! pseudo-terminal with util-linux `script`), plain log lines when it is not.

mod common;

use std::process::Command;

use common::{KEY, TestServer, Workdir, csv_input, fresh_uuids};

fn input(dir: &Workdir, n: usize) {
    let uuids = fresh_uuids(n);
    let rows: Vec<(&str, &str, &str)> = uuids.iter().map(|u| (u.as_str(), "OK", "")).collect();
    dir.write("in.csv", csv_input(&rows));
}

#[test]
fn a_terminal_gets_a_progress_bar() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    input(&dir, 120);
    let command = format!(
        "{} run in.csv --url {} --yes --rate 200 --concurrency 4",
        env!("CARGO_BIN_EXE_tecalis-status"),
        server.url()
    );
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .current_dir(dir.path(""))
        .env("TECALIS_API_KEY", KEY)
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .output()
        .expect("util-linux script runs");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{screen}");
    assert!(screen.contains("/120 rows"), "no bar drawn:\n{screen}");
    assert!(screen.contains("ETA"), "{screen}");
    assert!(
        screen.contains("\u{1b}[2K"),
        "the bar redraws its line:\n{screen}"
    );
    assert!(screen.contains("Summary: 120 rows"), "{screen}");
}

#[test]
fn without_a_terminal_only_plain_log_lines_appear() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    input(&dir, 60);
    let url = server.url();
    let out = dir
        .cmd(&[
            "run",
            "in.csv",
            "--url",
            &url,
            "--yes",
            "--rate",
            "100",
            "--log-every",
            "100ms",
        ])
        .env("TECALIS_API_KEY", KEY)
        .expect(0);
    assert!(out.stderr.contains("progress: "), "{}", out.describe());
    assert!(out.stderr.contains("/60 rows (ok "), "{}", out.describe());
    assert!(
        !out.stderr.contains('\u{1b}'),
        "no escape codes in a log file:\n{}",
        out.describe()
    );
    assert!(!out.stderr.contains("ETA"), "{}", out.describe());
}

#[test]
fn progress_never_logs_lines_even_on_a_terminal() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    input(&dir, 40);
    let command = format!(
        "{} run in.csv --url {} --yes --rate 100 --progress never --log-every 100ms",
        env!("CARGO_BIN_EXE_tecalis-status"),
        server.url()
    );
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .current_dir(dir.path(""))
        .env("TECALIS_API_KEY", KEY)
        .env("NO_COLOR", "1")
        .output()
        .expect("util-linux script runs");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(screen.contains("progress: "), "{screen}");
    assert!(!screen.contains("ETA"), "{screen}");
    assert!(
        !screen.contains('\u{1b}'),
        "NO_COLOR: no colour codes either:\n{screen}"
    );
}
