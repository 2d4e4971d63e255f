//! Where the run's features meet: one rule for standard input, an `error` in every failed
//! JSON summary, every duration flag bounded, the true counts of a resume, and key-first
//! advice after a canary answered 401. Against the real sandbox on loopback.

mod common;

use std::time::Duration;

use common::{TestServer, Workdir, bundled_uuids, csv_input, fresh_uuids, wait_or_kill};

fn summary(dir: &Workdir) -> serde_json::Value {
    serde_json::from_str(&dir.read("s.json")).expect("the JSON summary")
}

#[test]
fn standard_input_without_output_is_a_usage_error() {
    let dir = Workdir::new();
    let out = dir
        .run_at("http://127.0.0.1:9", "-", &["--summary-json", "s.json"])
        .stdin(csv_input(&[(&fresh_uuids(1)[0], "OK", "")]))
        .expect(2);
    out.stderr_has("the input is standard input, so --output FILE is required");
    let json = summary(&dir);
    assert_eq!(json["exit_code"], 2, "{json}");
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.contains("--output FILE is required")),
        "{json}"
    );
}

#[test]
fn every_failed_run_says_why_in_its_json_summary() {
    let dir = Workdir::new();
    // An input that does not exist: exit 1, and the summary names it.
    let out = dir
        .run_at(
            "http://127.0.0.1:9",
            "nosuch.csv",
            &["--summary-json", "s.json"],
        )
        .expect(1);
    out.stderr_has("nosuch.csv");
    let json = summary(&dir);
    assert_eq!(json["exit_code"], 1, "{json}");
    let error = json["error"].as_str().unwrap_or_default();
    assert!(error.contains("nosuch.csv"), "{json}");
    // An invalid row: exit 4, nothing sent, and the summary says so.
    dir.write("bad.csv", "auth_uuid,state\nnot-a-uuid,OK\n");
    dir.run_at(
        "http://127.0.0.1:9",
        "bad.csv",
        &["--summary-json", "s.json", "--force"],
    )
    .expect(4);
    let json = summary(&dir);
    assert_eq!(json["exit_code"], 4, "{json}");
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.contains("1 invalid row(s): nothing was sent")),
        "{json}"
    );
    // No --yes and no terminal: exit 2, refused, said.
    dir.write("good.csv", csv_input(&[(&fresh_uuids(1)[0], "OK", "")]));
    dir.cmd(&[
        "run",
        "good.csv",
        "--url",
        "http://127.0.0.1:9",
        "--summary-json",
        "s.json",
        "--force",
    ])
    .env("TECALIS_API_KEY", common::KEY)
    .expect(2);
    let json = summary(&dir);
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.contains("refusing to send without confirmation")),
        "{json}"
    );
}

#[test]
fn every_duration_flag_is_bounded_at_parse() {
    let dir = Workdir::new();
    dir.write("in.csv", csv_input(&[(&fresh_uuids(1)[0], "OK", "")]));
    for flag in [
        "--timeout",
        "--connect-timeout",
        "--max-retry-after",
        "--log-every",
    ] {
        let out = dir
            .run_at("http://127.0.0.1:9", "in.csv", &[flag, "500000000000y"])
            .expect(2);
        out.stderr_has("longer than a week");
        assert!(!dir.exists("in.results.csv"), "{flag}");
    }
    for flag in ["--latency", "--jitter", "--slow-delay", "--idle-timeout"] {
        // Refused at parse, the sandbox never starts serving (it would serve until killed).
        let mut child = dir
            .cmd(&["sandbox", "--listen", "127.0.0.1:0", flag, "8d"])
            .spawn();
        let (status, stderr) = wait_or_kill(
            &mut child,
            Duration::from_secs(30),
            &format!("sandbox {flag} 8d (not refused)"),
        );
        assert_eq!(status.code(), Some(2), "{flag}: {stderr}");
        assert!(stderr.contains("longer than a week"), "{flag}: {stderr}");
    }
    // A week is taken.
    dir.dry_run("in.csv", &["--max-retry-after", "7d"])
        .env("TECALIS_API_KEY", common::KEY)
        .expect(0);
}

#[test]
fn an_endless_pause_does_not_overflow_the_clock() {
    let pacer = tecalis_status::send::Pacer::new(10.0);
    pacer.pause(Duration::MAX, true);
    assert!(pacer.paused().is_some());
}

#[test]
fn a_resume_counts_and_sends_only_the_rows_left() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    let uuids = fresh_uuids(20);
    let first: Vec<(&str, &str, &str)> =
        uuids[..12].iter().map(|u| (u.as_str(), "OK", "")).collect();
    dir.write("in.csv", csv_input(&first));
    dir.run_at(&server.url(), "in.csv", &["--rate", "1000"])
        .expect(0);
    assert_eq!(server.stats().requests, 12);
    // The input grows by 8 rows, and one row already ok asks for another state now.
    let mut second: Vec<(&str, &str, &str)> =
        uuids.iter().map(|u| (u.as_str(), "OK", "")).collect();
    second[3].1 = "KO";
    dir.write("in.csv", csv_input(&second));
    let out = dir
        .run_at(&server.url(), "in.csv", &["--rate", "1000", "--resume"])
        .expect(0);
    out.stderr_has("resuming: 11 row(s) already ok in in.results.csv are skipped, 9 to send");
    out.stderr_has("sending 9 row(s) to");
    // The sandbox's own record: 9 more requests, the changed row among them.
    let received = server.received();
    assert_eq!(received.len(), 21, "{}", out.describe());
    let again: Vec<&str> = received[12..]
        .iter()
        .filter_map(|r| r.body.as_ref()?["auth_uuid"].as_str())
        .collect();
    assert!(again.contains(&uuids[3].as_str()), "{again:?}");
    for uuid in uuids[..12].iter().filter(|u| *u != &uuids[3]) {
        assert!(!again.contains(&uuid.as_str()), "{uuid} sent again");
    }
}

#[test]
fn a_canary_answered_401_says_to_fix_the_key_first() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    let (mine, _) = bundled_uuids();
    let rows: Vec<(&str, &str, &str)> = mine.iter().map(|u| (u.as_str(), "OK", "")).collect();
    dir.write("in.csv", csv_input(&rows));
    let out = dir
        .run_at(
            &server.url(),
            "in.csv",
            &["--rate", "1000", "--canary", "1"],
        )
        .env("TECALIS_API_KEY", "wrong-key")
        .run();
    assert_ne!(out.code, 0, "{}", out.describe());
    assert_eq!(server.stats().requests, 1, "{}", out.describe());
    out.stderr_has("Fix the API key first");
    assert!(
        !out.stderr
            .contains("To send the rows that did not end ok (rows already ok"),
        "{}",
        out.describe()
    );
}
