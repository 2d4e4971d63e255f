//! Interrupting and repeating a run: SIGINT then `--resume`, `kill -9` then `--resume`, the
//! lock on the results file, the canary, and a corrected input resuming only what changed.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{TestServer, Workdir, bundled_uuids, csv_input};

/// Polls until the results file holds at least `rows` data lines; panics after 20 s.
fn wait_for_rows(dir: &Workdir, name: &str, rows: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines = std::fs::read_to_string(dir.path(name))
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines > rows {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never reached {rows} rows"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &std::process::Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The final outcome of each auth_uuid: the last line wins.
fn final_outcomes(dir: &Workdir, name: &str) -> HashMap<String, String> {
    dir.results(name)
        .into_iter()
        .map(|r| (r["auth_uuid"].clone(), r["outcome"].clone()))
        .collect()
}

/// How many requests the sandbox received for each auth_uuid.
fn sends_per_uuid(server: &TestServer) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for r in server.received() {
        let uuid = r.body.unwrap()["auth_uuid"].as_str().unwrap().to_string();
        *counts.entry(uuid).or_default() += 1;
    }
    counts
}

fn slow_server() -> TestServer {
    TestServer::start(|c| {
        c.accept_unknown = true;
        c.latency = Duration::from_millis(100);
    })
}

fn slow_input(dir: &Workdir, rows: usize) -> Vec<String> {
    dir.write_fresh("in.csv", rows, "KO", "motivo")
}

/// `run in.csv` against `url`, two rows at a time, plus `more`.
fn slow_run(dir: &Workdir, url: &str, more: &[&str]) -> common::Cmd {
    let args = [&["--concurrency", "2", "--rate", "1000"], more].concat();
    dir.run_at(url, "in.csv", &args)
}

#[test]
fn sigint_finishes_in_flight_rows_and_resume_completes_the_job() {
    let dir = Workdir::new();
    let server = slow_server();
    let uuids = slow_input(&dir, 40);
    let url = server.url();
    let child = slow_run(&dir, &url, &[]).spawn();
    wait_for_rows(&dir, "in.results.csv", 4);
    signal(&child, "INT");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by a signal"), "{stderr}");
    assert!(
        stderr.contains("--resume"),
        "the resume command is printed: {stderr}"
    );
    let first = final_outcomes(&dir, "in.results.csv");
    assert_eq!(
        first.len(),
        40,
        "every row is recorded, the unsent ones cancelled"
    );
    let ok_before: Vec<&String> = first
        .iter()
        .filter(|(_, o)| *o == "ok")
        .map(|(u, _)| u)
        .collect();
    assert!(!ok_before.is_empty() && ok_before.len() < 40);
    dir.cmd(&["report", "in.results.csv"])
        .expect(3)
        .stdout_has("Not finished: ")
        .stdout_has("--resume");
    assert!(first.values().any(|o| o == "cancelled"));
    // Every request that reached the server before the stop was answered and recorded ok.
    assert_eq!(server.received().len(), ok_before.len());

    slow_run(&dir, &url, &["--resume"])
        .expect(0)
        .stderr_has("skipped");
    let last = final_outcomes(&dir, "in.results.csv");
    for uuid in &uuids {
        assert!(
            matches!(last[uuid].as_str(), "ok" | "skipped"),
            "{uuid}: {}",
            last[uuid]
        );
    }
    let sends = sends_per_uuid(&server);
    for uuid in &uuids {
        assert_eq!(sends.get(uuid), Some(&1), "{uuid} sent exactly once in all");
    }
}

#[test]
fn kill_9_then_resume_sends_again_only_what_was_in_flight() {
    let dir = Workdir::new();
    let server = slow_server();
    let uuids = slow_input(&dir, 30);
    let url = server.url();
    let mut child = slow_run(&dir, &url, &[]).spawn();
    wait_for_rows(&dir, "in.results.csv", 5);
    child.kill().unwrap();
    child.wait().unwrap();
    let ok_before: Vec<String> = final_outcomes(&dir, "in.results.csv")
        .into_iter()
        .filter(|(_, o)| o == "ok")
        .map(|(u, _)| u)
        .collect();
    assert!(ok_before.len() >= 5);
    // The job is not complete, and report says so with the number of rows missing.
    let recorded = dir.results("in.results.csv").len();
    assert!(recorded < 30, "the kill came before the end");
    let report = dir.cmd(&["report", "in.results.csv"]).expect(3);
    report
        .stdout_has(&format!(
            "INCOMPLETE: {} of the last run's 30 rows have no outcome yet",
            30 - recorded
        ))
        .stdout_has("Not complete.");

    slow_run(&dir, &url, &["--resume"]).expect(0);
    dir.cmd(&["report", "in.results.csv"])
        .expect(0)
        .stdout_has("Complete: every row ended ok.");
    let sends = sends_per_uuid(&server);
    for uuid in &ok_before {
        assert_eq!(
            sends[uuid], 1,
            "{uuid} was recorded ok before the kill and must not be sent again"
        );
    }
    let twice = uuids
        .iter()
        .filter(|u| sends.get(*u).copied().unwrap_or(0) > 1)
        .count();
    assert!(
        twice <= 2,
        "only rows in flight at the kill (concurrency 2) may be sent twice; {twice} were"
    );
    let last = final_outcomes(&dir, "in.results.csv");
    assert!(
        uuids
            .iter()
            .all(|u| matches!(last[u].as_str(), "ok" | "skipped"))
    );
}

#[test]
fn a_second_run_on_a_locked_results_file_refuses() {
    let dir = Workdir::new();
    let server = slow_server();
    // Long enough (2000 rows at 20/s) that the first run is certainly still writing when the
    // others start, however loaded the machine: it is stopped by a signal below.
    slow_input(&dir, 2000);
    let url = server.url();
    let child = dir
        .run_at(&url, "in.csv", &["--concurrency", "2", "--rate", "20"])
        .spawn();
    wait_for_rows(&dir, "in.results.csv", 1);
    let before = server.stats().requests;
    slow_run(&dir, &url, &["--resume"])
        .expect(1)
        .stderr_has("is locked by another run");
    slow_run(&dir, &url, &["--force"])
        .expect(1)
        .stderr_has("is locked by another run");
    signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    // The refused runs sent nothing: every request is accounted for by the first run's rows.
    let recorded_ok = dir
        .results("in.results.csv")
        .iter()
        .filter(|r| r["outcome"] == "ok")
        .count() as u64;
    assert_eq!(server.stats().requests, recorded_ok);
    assert!(server.stats().requests >= before);
}

#[test]
fn the_canary_stops_on_a_401() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    let (mine, theirs) = bundled_uuids();
    let rows = [
        (mine[0].as_str(), "OK", ""),
        (theirs[0].as_str(), "OK", ""),
        (mine[1].as_str(), "OK", ""),
        (mine[2].as_str(), "OK", ""),
        (mine[3].as_str(), "KO", ""),
    ];
    dir.write("in.csv", csv_input(&rows));
    let url = server.url();
    let out = dir
        .run_at(&url, "in.csv", &["--rate", "1000", "--canary", "3"])
        .expect(3);
    out.stderr_has("a canary row did not end ok");
    assert_eq!(
        server.stats().requests,
        2,
        "one at a time: nothing after the failed canary"
    );
    let outcomes: Vec<String> = dir
        .results("in.results.csv")
        .into_iter()
        .map(|r| r["outcome"].clone())
        .collect();
    assert_eq!(
        outcomes,
        ["ok", "unauthorized", "cancelled", "cancelled", "cancelled"]
    );
    // The same canary row reaching --max-unauthorized is a credentials stop: exit 5.
    dir.run_at(
        &url,
        "in.csv",
        &[
            "--rate",
            "1000",
            "--canary",
            "3",
            "--max-unauthorized",
            "1",
            "--force",
        ],
    )
    .expect(5)
    .stderr_has("--max-unauthorized");
}

#[test]
fn a_passing_canary_lets_the_rest_run() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.latency = Duration::from_millis(30);
    });
    dir.write_fresh("in.csv", 12, "OK", "");
    let url = server.url();
    dir.run_at(
        &url,
        "in.csv",
        &["--rate", "1000", "--concurrency", "4", "--canary", "3"],
    )
    .expect(0);
    let received = server.received();
    assert_eq!(received.len(), 12);
    // The canaries went one at a time: each arrived after the previous one was answered.
    for pair in received[..3].windows(2) {
        assert!(pair[1].at_ms >= pair[0].at_ms + 30.0, "{pair:?}");
    }
}

#[test]
fn a_corrected_input_resumes_only_what_changed_or_failed() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("corrections.csv");
    let url = server.url();
    dir.run_at(&url, "corrections.csv", &["--rate", "1000"])
        .expect(3);
    assert_eq!(server.stats().requests, 12);
    // Correct the file: new reasons for line 3; the three 401 rows stay (still not ok).
    let corrected = dir.read("corrections.csv").replace(
        "\"Documento ilegible, por favor repita la captura\"",
        "Documento ilegible (segundo intento)",
    );
    dir.write("corrections.csv", corrected);
    let out = dir
        .run_at(&url, "corrections.csv", &["--rate", "1000", "--resume"])
        .expect(3);
    out.stderr_has("skipped");
    let received = server.received();
    let resent: Vec<String> = received[12..]
        .iter()
        .map(|r| {
            r.body.clone().unwrap()["auth_uuid"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        resent.len(),
        4,
        "the changed row and the three 401s: {resent:?}"
    );
    assert!(resent.contains(&"0193a1b2-c7a5-70ee-9531-985d5d9dc9f8".to_string()));
    let last = final_outcomes(&dir, "corrections.results.csv");
    // The eight rows skipped keep their ok line (none is written again); the changed row's
    // new line is ok.
    assert_eq!(last.values().filter(|o| *o == "skipped").count(), 0);
    assert_eq!(last.values().filter(|o| *o == "ok").count(), 9);
    assert_eq!(last["0193a1b2-c7a5-70ee-9531-985d5d9dc9f8"], "ok");
}

#[test]
fn a_second_sigint_quits_at_once() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.slow_rate = 1.0;
        c.slow_delay = Duration::from_secs(3600);
    });
    slow_input(&dir, 3);
    let url = server.url();
    let child = dir
        .run_at(
            &url,
            "in.csv",
            &[
                "--timeout",
                "1h",
                "--concurrency",
                "1",
                "--summary-json",
                "s.json",
            ],
        )
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.stats().slow == 0 {
        assert!(Instant::now() < deadline, "the first request never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&child, "INT");
    // The first SIGINT waits for the request in flight (an hour); the second quits.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut child = child;
    loop {
        signal(&child, "INT");
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(130));
            break;
        }
        assert!(Instant::now() < deadline, "a second SIGINT did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Even quitting at once, it says how to send the rest, with the program as it was run.
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    // What it says of the results file is true: with the results thread, rows that had just
    // finished may still be queued; it used to say every finished row was in the file.
    assert!(
        stderr.contains("interrupted again: quitting now; the results file holds the rows written so far: the requests in flight, and rows that had just finished and were not written yet, have no line there and are sent again by the command below"),
        "{stderr}"
    );
    assert!(!stderr.contains("every finished row"), "{stderr}");
    // The JSON summary is written too, saying that the counts are not known.
    let summary: serde_json::Value = serde_json::from_str(&dir.read("s.json")).unwrap();
    assert_eq!(summary["exit_code"], 130);
    assert!(summary["counts"].is_null());
    assert!(
        summary["error"]
            .as_str()
            .unwrap()
            .contains("quit at once on a second interrupt")
    );
    let resume = format!(
        "\n  {} run in.csv --url {url} --yes --timeout 1h --concurrency 1 --summary-json s.json --resume",
        env!("CARGO_BIN_EXE_tecalis-status")
    );
    assert!(stderr.contains(&resume), "{resume:?} in:\n{stderr}");
}

/// A results file's last line that lost only its line break (a crash between the cells and
/// the break) is torn: a resume cuts it under the lock before reading, so its row is sent
/// again, and the job is then complete. Without the cut-then-read order, the row was taken
/// for done from the line about to be cut, and `report` said INCOMPLETE on a complete job.
#[test]
fn a_torn_last_line_is_cut_before_the_resume_reads_what_is_done() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    let uuids = dir.write_fresh("in.csv", 12, "KO", "motivo");
    let url = server.url();
    dir.run_at(&url, "in.csv", &[]).expect(0);
    let text = dir.read("in.results.csv");
    let last_uuid = dir.results("in.results.csv").last().unwrap()["auth_uuid"].clone();
    dir.write("in.results.csv", text.trim_end_matches('\n'));
    dir.cmd(&["report", "in.results.csv"])
        .expect(3)
        .stdout_has("the last line is not whole")
        .stdout_has("INCOMPLETE: 1 of the last run's 12 rows");
    dir.run_at(&url, "in.csv", &["--resume"])
        .expect(0)
        .stderr_has("cut off a torn last line");
    let sends = sends_per_uuid(&server);
    assert_eq!(
        sends[&last_uuid], 2,
        "the row of the torn line is sent again"
    );
    assert_eq!(sends.values().sum::<usize>(), 13, "and only it");
    dir.cmd(&["report", "in.results.csv"])
        .expect(0)
        .stdout_has("Complete: every row ended ok.");
    let last = final_outcomes(&dir, "in.results.csv");
    assert!(
        uuids
            .iter()
            .all(|u| last[u] == "ok" || last[u] == "skipped")
    );
}

/// Only the last line can be torn: a damaged line before it is an error naming it, for
/// `report` and for `--resume` (it was skipped silently, and its row counted as missing).
#[test]
fn a_damaged_line_before_the_last_is_an_error_naming_it() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    dir.write_fresh("in.csv", 5, "KO", "motivo");
    let url = server.url();
    dir.run_at(&url, "in.csv", &[]).expect(0);
    let text = dir.read("in.results.csv");
    let mut lines: Vec<&str> = text.lines().collect();
    let cut = &lines[2][..30];
    lines[2] = cut;
    dir.write("in.results.csv", lines.join("\n") + "\n");
    dir.cmd(&["report", "in.results.csv"])
        .expect(1)
        .stderr_has("in.results.csv, line 3:");
    dir.run_at(&url, "in.csv", &["--resume"])
        .expect(1)
        .stderr_has("in.results.csv, line 3:");
    assert_eq!(
        server.received().len(),
        5,
        "nothing sent by the refused resume"
    );
}

/// After an interruption the next step is to resume; the export says not to run it then
/// (resuming sends its rows too, so doing both sent them twice).
#[test]
fn after_an_interruption_the_export_is_not_offered_beside_the_resume() {
    let dir = Workdir::new();
    let server = slow_server();
    slow_input(&dir, 30);
    let url = server.url();
    let mut child = slow_run(&dir, &url, &[]).spawn();
    wait_for_rows(&dir, "in.results.csv", 3);
    signal(&child, "INT");
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let report = dir
        .cmd(&["report", "in.results.csv", "--export-failed", "retry.csv"])
        .expect(3);
    report
        .stdout_has("--resume")
        .stdout_has("do not run it now");
    assert!(
        !report.stdout.contains("correct them and run that file"),
        "{}",
        report.describe()
    );
}
