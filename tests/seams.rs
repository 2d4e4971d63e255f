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

/// The auth_uuids of `n` processes of another customer, seeded into the sandbox by
/// [`with_theirs`]: the demo key gets 401 for each.
fn theirs(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("01930000-0000-7000-9000-{:012x}", i + 1))
        .collect()
}

fn with_theirs(config: &mut tecalis_status::sandbox::SandboxConfig, uuids: &[String]) {
    for uuid in uuids {
        config.processes.push(tecalis_status::sandbox::Process::new(
            uuid.parse().unwrap(),
            "another-customer-key",
        ));
    }
}

/// The auth_uuids of the requests the sandbox received after the first `from`.
fn sent_since(server: &TestServer, from: usize) -> Vec<String> {
    server.received()[from..]
        .iter()
        .filter_map(|r| Some(r.body.as_ref()?["auth_uuid"].as_str()?.to_string()))
        .collect()
}

#[test]
fn a_key_that_made_rows_of_the_job_ok_is_not_called_wrong_on_resume() {
    let dir = Workdir::new();
    let theirs = theirs(12);
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        with_theirs(c, &theirs);
    });
    let mine = fresh_uuids(20);
    let rows: Vec<(&str, &str, &str)> = mine
        .iter()
        .chain(&theirs)
        .map(|u| (u.as_str(), "OK", ""))
        .collect();
    dir.write("in.csv", csv_input(&rows));
    // The first run: 20 rows ok, then 12 rows of another customer answered 401.
    dir.run_at(&server.url(), "in.csv", &["--concurrency", "1"])
        .expect(3);
    let job = dir.read("in.results.csv.job.json");
    assert!(!job.contains(common::KEY), "the key in the job record");
    // The resume sends the 12 rows first; all 401 again, and the same key made 20 rows of
    // this job ok: not a wrong key. Every one is sent and recorded, none cancelled.
    let out = dir.run_at(&server.url(), "in.csv", &["--resume"]).expect(3);
    assert!(
        !out.stderr.contains("evidently wrong"),
        "{}",
        out.describe()
    );
    let mut again = sent_since(&server, 32);
    again.sort();
    assert_eq!(again, theirs, "{}", out.describe());
    let results = dir.results("in.results.csv");
    let last: Vec<&str> = results[32..]
        .iter()
        .map(|r| r["outcome"].as_str())
        .collect();
    // The 20 rows already ok are counted (the job record's already_recorded), not written.
    assert_eq!(last.iter().filter(|o| **o == "unauthorized").count(), 12);
    assert_eq!(last.len(), 12, "{last:?}");
    // --max-unauthorized still stops it.
    dir.run_at(
        &server.url(),
        "in.csv",
        &["--resume", "--concurrency", "1", "--max-unauthorized", "3"],
    )
    .expect(5);
    assert_eq!(sent_since(&server, 44).len(), 3);
    // Another key made nothing of this job ok: its first ten 401s are a wrong key.
    let out = dir
        .run_at(&server.url(), "in.csv", &["--resume", "--concurrency", "1"])
        .env("TECALIS_API_KEY", "00000000-0000-4000-8000-000000000000")
        .expect(5);
    out.stderr_has("evidently wrong");
    assert_eq!(sent_since(&server, 47).len(), 10, "{}", out.describe());
    // And that run did not make the wrong key known to the job, nor forget the right one.
    dir.run_at(&server.url(), "in.csv", &["--resume", "--concurrency", "1"])
        .env("TECALIS_API_KEY", "00000000-0000-4000-8000-000000000000")
        .expect(5);
    dir.run_at(&server.url(), "in.csv", &["--resume"]).expect(3);
}

#[test]
fn the_job_knows_the_key_works_from_its_first_ok_row_even_after_kill_9() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.latency = Duration::from_millis(100);
    });
    dir.write_fresh("in.csv", 200, "OK", "");
    let mut child = dir
        .run_at(
            &server.url(),
            "in.csv",
            &["--concurrency", "2", "--rate", "1000"],
        )
        .spawn();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    // The job record is written before the first ok row is: once one is in the results file,
    // the record knows the key.
    while !std::fs::read_to_string(dir.path("in.results.csv"))
        .unwrap_or_default()
        .contains(",ok,")
    {
        assert!(std::time::Instant::now() < deadline, "no row ended ok");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let job: serde_json::Value =
        serde_json::from_str(&dir.read("in.results.csv.job.json")).unwrap();
    assert_eq!(job["exit_code"], serde_json::Value::Null, "killed: {job}");
    assert_eq!(job["keys_ok"].as_array().map(Vec::len), Some(1), "{job}");
}
