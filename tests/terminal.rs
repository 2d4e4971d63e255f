//! The progress display: a bar when standard error is a terminal (run under a
//! pseudo-terminal with util-linux `script`), plain log lines when it is not.

mod common;

use common::pty::Pty;
use common::{TestServer, Workdir};

fn input(dir: &Workdir, n: usize) {
    dir.write_fresh("in.csv", n, "OK", "");
}

/// Runs the binary with `args` under a pseudo-terminal; returns its exit code and the screen.
fn under_pty(dir: &Workdir, args: &str, no_color: bool) -> (Option<i32>, String) {
    typed_under_pty(dir, args, no_color, "")
}

/// Like [`under_pty`], with `typed` typed at the terminal.
fn typed_under_pty(
    dir: &Workdir,
    args: &str,
    no_color: bool,
    typed: &str,
) -> (Option<i32>, String) {
    typed_at_prompt(dir, args, no_color, "", typed)
}

/// Like [`typed_under_pty`], typing only once the screen shows `prompt` (for keys, such as
/// Ctrl-C, that must reach the program while it waits at the question).
fn typed_at_prompt(
    dir: &Workdir,
    args: &str,
    no_color: bool,
    prompt: &str,
    typed: &str,
) -> (Option<i32>, String) {
    let mut pty = Pty::start_with(dir, args, no_color);
    if !prompt.is_empty() {
        pty.wait_for(prompt);
    }
    pty.type_keys(typed.as_bytes());
    pty.finish()
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
        .run_at(&url, "in.csv", &["--rate", "100", "--log-every", "100ms"])
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

#[test]
fn an_interactive_run_asks_before_sending() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    input(&dir, 3);
    let args = format!("run in.csv --url {} --rate 100", server.url());
    let (code, screen) = typed_under_pty(&dir, &args, true, "no\n");
    assert_eq!(code, Some(2), "{screen}");
    assert!(
        screen.contains(&format!(
            "About to send 3 PATCH request(s) to {}/customer/status",
            server.url()
        )),
        "{screen}"
    );
    assert!(
        screen.contains("states: OK 3, KO 0, CANCELLED 0"),
        "{screen}"
    );
    assert!(
        screen.contains("not confirmed (the answer was \"no\", not yes): nothing was sent"),
        "{screen}"
    );
    assert_eq!(server.stats().requests, 0);
    let (code, screen) = typed_under_pty(&dir, &args, true, "yes\n");
    assert_eq!(code, Some(0), "{screen}");
    assert_eq!(server.stats().requests, 3);
}

#[test]
fn the_question_is_asked_on_the_terminal_even_when_standard_error_is_redirected() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    input(&dir, 3);
    let args = format!("run in.csv --url {} --rate 100 2>run.log", server.url());
    // Only the word yes confirms: `y` is refused.
    let (code, screen) = typed_under_pty(&dir, &args, true, "y\n");
    assert_eq!(code, Some(2), "{screen}");
    assert!(
        screen.contains("About to send 3 PATCH request(s)"),
        "{screen}"
    );
    assert!(screen.contains("results: in.results.csv"), "{screen}");
    assert!(screen.contains("rate: 100/s"), "{screen}");
    assert!(screen.contains("key: from TECALIS_API_KEY"), "{screen}");
    assert_eq!(server.stats().requests, 0);
    let (code, screen) = typed_under_pty(&dir, &args, true, "yes\n");
    assert_eq!(code, Some(0), "{screen}");
    assert_eq!(server.stats().requests, 3);
}

#[test]
fn end_of_input_or_ctrl_c_at_the_question_sends_nothing_and_says_so() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    input(&dir, 3);
    let args = format!("run in.csv --url {} --rate 100", server.url());
    // Ctrl-D, then Ctrl-C, as typed on a terminal.
    let (code, screen) = typed_under_pty(&dir, &args, true, "\u{4}");
    assert_eq!(code, Some(2), "{screen}");
    assert!(screen.contains("no answer: end of input"), "{screen}");
    let with_summary = format!("{args} --summary-json cc.json");
    let (code, screen) = typed_at_prompt(&dir, &with_summary, true, "Type yes", "\u{3}");
    assert_eq!(code, Some(130), "{screen}");
    let summary: serde_json::Value = serde_json::from_str(&dir.read("cc.json")).unwrap();
    assert_eq!(
        summary["exit_code"], 130,
        "the summary is written on Ctrl-C too"
    );
    assert!(
        screen.contains("interrupted at the confirmation: nothing was sent"),
        "{screen}"
    );
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn the_confirmation_of_a_resume_counts_the_rows_left() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    input(&dir, 3);
    let url = server.url();
    dir.run_at(&url, "in.csv", &["--rate", "1000"]).expect(0);
    // Two more rows, one of them KO: the resume sends those two only.
    let uuids = common::fresh_uuids(5);
    let rows: Vec<(&str, &str, &str)> = uuids
        .iter()
        .enumerate()
        .map(|(i, u)| (u.as_str(), if i == 4 { "KO" } else { "OK" }, ""))
        .collect();
    dir.write("in.csv", common::csv_input(&rows));
    let args = format!("run in.csv --url {url} --rate 1 --resume");
    let (code, screen) = typed_under_pty(&dir, &args, true, "no\n");
    assert_eq!(code, Some(2), "{screen}");
    assert!(
        screen.contains(&format!(
            "About to send 2 PATCH request(s) to {url}/customer/status"
        )),
        "{screen}"
    );
    assert!(
        screen.contains(
            "(3 row(s) already ok in in.results.csv with the same state and reasons are skipped)"
        ),
        "{screen}"
    );
    assert!(
        screen.contains("states: OK 1, KO 1, CANCELLED 0"),
        "{screen}"
    );
    // Two rows at 1/s: two seconds, not five.
    assert!(screen.contains("about 2s at that rate"), "{screen}");
    assert_eq!(server.stats().requests, 3);
}
