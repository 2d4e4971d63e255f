//! Signals from the moment the process starts: SIGINT or SIGTERM at once after the start, or
//! while a big input is read and
//! validated sends nothing, exits 130 and writes the `--summary-json` that says so; checked
//! on the sandbox's own record of what it received.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, Workdir, wait_for_main, wait_or_kill};

/// Two million valid rows: reading and validating them takes seconds, even on a fast machine.
const ROWS: u64 = 2_000_000;

fn write_big_input(dir: &Workdir) {
    let mut text = String::with_capacity(45 * ROWS as usize);
    text.push_str("auth_uuid,state,reasons\n");
    for i in 1..=ROWS {
        text.push_str(&format!("01930000-0000-7000-8000-{i:012x},OK,\n"));
    }
    dir.write("in.csv", text);
}

/// Waits until the process has taken SIGINT and SIGTERM over (Linux reports the caught
/// signals in /proc), so that the signal tests the run and not the start of the process.
fn wait_for_handlers(child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended before the signal: {status}");
        }
        if cfg!(not(target_os = "linux")) {
            std::thread::sleep(Duration::from_millis(500));
            return;
        }
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .unwrap_or(0);
        let wanted = (1 << (libc::SIGINT - 1)) | (1 << (libc::SIGTERM - 1));
        if caught & wanted == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "SIGINT and SIGTERM were never taken over"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs a big input against a sandbox, sends `signal` while it is read or validated, and
/// checks that nothing was sent, the exit code, the message and the JSON summary.
fn signal_before_sending(signal: &str) {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    write_big_input(&dir);
    let mut child = dir
        .run_at(
            &server.url(),
            "in.csv",
            &["--rate", "1000", "--summary-json", "s.json"],
        )
        .spawn();
    wait_for_handlers(&mut child);
    let signalled = Instant::now();
    let sent = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let (status, stderr) = wait_or_kill(
        &mut child,
        Duration::from_secs(60),
        &format!("SIG{signal} before sending"),
    );
    eprintln!(
        "SIG{signal}: exited {:?} after the signal",
        signalled.elapsed()
    );
    assert_eq!(
        status.code(),
        Some(130),
        "SIG{signal}: {status:?}\n{stderr}"
    );
    assert!(stderr.contains("nothing was sent"), "{stderr}");
    // The sandbox's own record: not one request.
    assert_eq!(server.stats().requests, 0, "{stderr}");
    assert!(server.received().is_empty());
    let summary: serde_json::Value = serde_json::from_str(&dir.read("s.json")).unwrap();
    assert_eq!(summary["exit_code"], 130, "{summary}");
    assert_eq!(summary["stopped"], "interrupted", "{summary}");
    assert_eq!(summary["rows_sent"], 0, "{summary}");
    let error = summary["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("interrupted while") && error.ends_with("nothing was sent"),
        "{summary}"
    );
    // Nothing was started either: no results file, no job record.
    assert!(!dir.exists("in.results.csv"));
}

#[test]
fn sigint_while_the_input_is_read_or_validated_sends_nothing() {
    signal_before_sending("INT");
}

#[test]
fn sigterm_while_the_input_is_read_or_validated_sends_nothing() {
    signal_before_sending("TERM");
}

/// How many runs each signal is sent to, at the start of each process.
const AT_START: usize = 20;

/// Sends `signal` to runs of a big input as soon as each has begun `main` (while it parses
/// its arguments and sets up, before its handlers exist, most of the time): no run may end by
/// the signal's default action. Each stops before sending anything with exit 130 and its
/// `--summary-json`; the sandbox received nothing.
fn signal_at_start(signal: libc::c_int, name: &str) {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    write_big_input(&dir);
    let mut before_handlers = 0;
    for round in 0..AT_START {
        let summary = format!("s{round}.json");
        let mut child = dir
            .run_at(
                &server.url(),
                "in.csv",
                &["--rate", "1000", "--summary-json", &summary],
            )
            .spawn();
        let installed = wait_for_main(&mut child);
        let pid = libc::pid_t::try_from(child.id()).expect("a pid fits");
        // SAFETY: kill only sends a signal to the child started just above.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        before_handlers += usize::from(!installed);
        let (status, stderr) = wait_or_kill(
            &mut child,
            Duration::from_secs(60),
            &format!("SIG{name} at start, round {round}"),
        );
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            None,
            "SIG{name} at start, round {round}: the run ended by the signal itself\n{stderr}"
        );
        assert_eq!(
            status.code(),
            Some(130),
            "SIG{name} at start, round {round}: {status:?}\n{stderr}"
        );
        assert!(stderr.contains("nothing was sent"), "{stderr}");
        let json: serde_json::Value = serde_json::from_str(&dir.read(&summary)).unwrap();
        assert_eq!(json["exit_code"], 130, "{json}");
        assert_eq!(json["stopped"], "interrupted", "{json}");
        assert_eq!(json["rows_sent"], 0, "{json}");
        assert!(
            json["error"]
                .as_str()
                .is_some_and(|e| e.ends_with("nothing was sent")),
            "{json}"
        );
    }
    eprintln!("SIG{name}: {before_handlers} of {AT_START} signals came before the handlers");
    // The sandbox's own record: not one request in all the rounds; nothing was started.
    assert_eq!(server.stats().requests, 0);
    assert!(server.received().is_empty());
    assert!(!dir.exists("in.results.csv"));
}

#[test]
fn sigint_at_process_start_is_handled_not_fatal() {
    signal_at_start(libc::SIGINT, "INT");
}

#[test]
fn sigterm_at_process_start_is_handled_not_fatal() {
    signal_at_start(libc::SIGTERM, "TERM");
}
