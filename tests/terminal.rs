//! The progress display: a bar when standard error is a terminal (run under a
//! pseudo-terminal with util-linux `script`), plain log lines when it is not.

mod common;

use std::process::Command;

use common::{KEY, TestServer, Workdir};

fn input(dir: &Workdir, n: usize) {
    dir.write_fresh("in.csv", n, "OK", "");
}

/// Runs the binary with `args` under a pseudo-terminal; returns its exit code and the screen.
fn under_pty(dir: &Workdir, args: &str, no_color: bool) -> (Option<i32>, String) {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_tecalis-status"));
    let mut script = Command::new("script");
    script
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .current_dir(dir.path(""))
        .env("TECALIS_API_KEY", KEY)
        .env_remove("RUST_LOG");
    if no_color {
        script.env("NO_COLOR", "1");
    } else {
        script.env_remove("NO_COLOR");
    }
    let out = script.output().expect("util-linux script runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_terminal_gets_a_progress_bar() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    input(&dir, 120);
    let args = format!(
        "run in.csv --url {} --yes --rate 200 --concurrency 4",
        server.url()
    );
    let (code, screen) = under_pty(&dir, &args, false);
    assert_eq!(code, Some(0), "{screen}");
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
    let args = format!(
        "run in.csv --url {} --yes --rate 100 --progress never --log-every 100ms",
        server.url()
    );
    let (code, screen) = under_pty(&dir, &args, true);
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("progress: "), "{screen}");
    assert!(!screen.contains("ETA"), "{screen}");
    assert!(
        !screen.contains('\u{1b}'),
        "NO_COLOR: no colour codes either:\n{screen}"
    );
}
