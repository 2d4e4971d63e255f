//! `run` end to end against the real sandbox on loopback, asserting on what the sandbox
//! received: bodies, counts, concurrency, pacing, retries, outcomes and exit codes.

mod common;

use std::time::{Duration, Instant};

use common::{KEY, TestServer, Workdir, bundled_uuids, csv_input, fresh_uuids};
use serde_json::{Value, json};

/// `run INPUT --url SERVER --yes` plus `extra`, with the demo key in the environment.
fn run(dir: &Workdir, server: &TestServer, input: &str, extra: &[&str]) -> common::Output {
    dir.run_at(&server.url(), input, &[&["--rate", "1000"], extra].concat())
        .run()
}

fn bodies(server: &TestServer) -> Vec<Value> {
    server
        .received()
        .into_iter()
        .map(|r| r.body.expect("a JSON body"))
        .collect()
}

#[test]
fn each_valid_row_is_sent_once_with_the_exact_body() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("corrections.csv");
    let out = run(&dir, &server, "corrections.csv", &[]).expect_code(3);
    out.stderr_has("ok                   9")
        .stderr_has("unauthorized         3");
    let mut sent = bodies(&server);
    assert_eq!(sent.len(), 12, "{}", out.describe());
    sent.sort_by_key(|b| b["auth_uuid"].as_str().unwrap().to_string());
    let first = sent
        .iter()
        .find(|b| b["auth_uuid"] == "0193a1b2-c3d4-726b-b2a7-4de452e6b438")
        .unwrap();
    assert_eq!(
        first,
        &json!({"auth_uuid": "0193a1b2-c3d4-726b-b2a7-4de452e6b438", "state": "OK"}),
        "an empty reasons cell sends no reasons key"
    );
    let with_comma = sent
        .iter()
        .find(|b| b["auth_uuid"] == "0193a1b2-c7a5-70ee-9531-985d5d9dc9f8")
        .unwrap();
    assert_eq!(
        with_comma["reasons"],
        "Documento ilegible, por favor repita la captura"
    );
    let lower = sent
        .iter()
        .find(|b| b["auth_uuid"] == "0193a1b2-cf47-7f2a-953f-48f1a09f76b5")
        .unwrap();
    assert_eq!(lower["state"], "OK", "sent upper-case");
    let matched = server
        .received()
        .iter()
        .filter(|r| r.key_matched == Some(true))
        .count();
    assert_eq!(matched, 9);
}

#[test]
fn results_have_the_spec_columns_and_the_remote_echo() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("corrections.csv");
    run(
        &dir,
        &server,
        "corrections.csv",
        &["--summary-json", "summary.json"],
    )
    .expect_code(3);
    let raw = dir.read("corrections.results.csv");
    assert!(raw.starts_with("line,auth_uuid,state,reasons,outcome,http_status,attempts,latency_ms,error,process_uuid,remote_status,remote_status_reasons,remote_updated_at,finished_at\n"));
    let results = dir.results("corrections.results.csv");
    assert_eq!(results.len(), 12);
    let row3 = results.iter().find(|r| r["line"] == "3").unwrap();
    assert_eq!(row3["outcome"], "ok");
    assert_eq!(row3["http_status"], "200");
    assert_eq!(row3["attempts"], "1");
    assert_eq!(row3["remote_status"], "KO");
    assert_eq!(
        row3["remote_status_reasons"],
        "Documento ilegible, por favor repita la captura"
    );
    assert!(
        !row3["process_uuid"].is_empty()
            && !row3["remote_updated_at"].is_empty()
            && !row3["finished_at"].is_empty()
    );
    let row2 = results.iter().find(|r| r["line"] == "2").unwrap();
    assert_eq!(
        row2["remote_status_reasons"], "Pendiente de revisión",
        "reasons absent: the stored ones stay"
    );
    let row8 = results.iter().find(|r| r["line"] == "8").unwrap();
    assert_eq!(
        (row8["outcome"].as_str(), row8["http_status"].as_str()),
        ("unauthorized", "401")
    );
    assert_eq!(
        row8["error"],
        "HTTP 401: Not authorized (internal_code 401)"
    );
    let summary: Value = serde_json::from_str(&dir.read("summary.json")).unwrap();
    assert_eq!(summary["counts"]["ok"], 9);
    assert_eq!(summary["counts"]["unauthorized"], 3);
    assert_eq!(summary["counts"]["cancelled"], 0);
    assert_eq!(summary["exit_code"], 3);
    assert_eq!(summary["input_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(summary["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        summary["url"]
            .as_str()
            .unwrap()
            .ends_with("/customer/status")
    );
    assert_eq!(
        summary["unauthorized_examples"].as_array().unwrap().len(),
        3
    );
}

#[test]
fn the_summary_calls_out_the_401s_by_line() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("corrections.csv");
    let out = run(&dir, &server, "corrections.csv", &[]);
    out.stderr_has("401 Not authorized on 3 row(s)")
        .stderr_has("line 8: 0193a1b2-daba-78c0-98f1-35d25f557203")
        .stderr_has("line 11: ")
        .stderr_has("line 13: ")
        .stderr_has("Latency: p50");
}

#[test]
fn the_key_comes_from_the_right_source() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = false);
    let (mine, theirs) = bundled_uuids();
    let other_key = tecalis_status::sandbox::seed::bundled()
        .into_iter()
        .find(|p| p.api_key != KEY)
        .unwrap()
        .api_key;
    // A row's api_key overrides the default key; the other rows use the key file.
    dir.write(
        "in.csv",
        format!(
            "auth_uuid,state,api_key\n{},OK,\n{},KO,{other_key}\n",
            mine[0], theirs[0]
        ),
    );
    dir.write("key.txt", format!("{KEY}\n"));
    let url = server.url();
    let out = dir
        .run_at(&url, "in.csv", &["--api-key-file", "key.txt"])
        .env("TECALIS_API_KEY", "not-this-one")
        .expect(0);
    assert!(!out.stderr.contains(&other_key) && !out.stderr.contains(KEY));
    assert!(
        server
            .received()
            .iter()
            .all(|r| r.key_matched == Some(true))
    );
    assert!(
        !dir.read("in.results.csv").contains(&other_key),
        "the row key is never echoed"
    );
}

#[test]
fn invalid_input_sends_nothing_unless_skip_invalid() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("with-problems.csv");
    run(&dir, &server, "with-problems.csv", &[])
        .expect_code(4)
        .stderr_has("nothing was sent");
    assert_eq!(server.stats().requests, 0);
    assert!(!dir.exists("with-problems.results.csv"));
    let out = run(&dir, &server, "with-problems.csv", &["--skip-invalid"]).expect_code(3);
    assert_eq!(server.stats().requests, 1, "{}", out.describe());
    let results = dir.results("with-problems.results.csv");
    assert_eq!(
        results.iter().filter(|r| r["outcome"] == "invalid").count(),
        12
    );
    let bad = results.iter().find(|r| r["line"] == "3").unwrap();
    assert!(
        bad["error"].contains("auth_uuid: \"0193a1b2-c7a5-70ee-9531-zzzz\" is not a UUID"),
        "{bad:?}"
    );
}

#[test]
fn a_dry_run_sends_nothing() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("corrections.csv");
    run(&dir, &server, "corrections.csv", &["--dry-run"]).expect_code(0);
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn in_flight_never_exceeds_the_concurrency() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.latency = Duration::from_millis(40);
    });
    dir.write_fresh("in.csv", 40, "OK", "");
    run(&dir, &server, "in.csv", &["--concurrency", "3"]).expect_code(0);
    let stats = server.stats();
    assert_eq!(stats.requests, 40);
    assert!(stats.max_in_flight <= 3, "{stats:?}");
    assert!(
        stats.max_in_flight >= 2,
        "the rows did run concurrently: {stats:?}"
    );
}

#[test]
fn no_second_holds_more_than_the_rate() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    dir.write_fresh("in.csv", 30, "KO", "x");
    let url = server.url();
    let started = Instant::now();
    dir.run_at(&url, "in.csv", &["--rate", "10", "--concurrency", "8"])
        .expect(0);
    // 30 slots at 10/s: the first is free, the last 2.9 s later. Load only slows a run down,
    // so this lower bound cannot flake; without a pacer the run takes a few milliseconds.
    assert!(started.elapsed() >= Duration::from_millis(2_800));
    let mut times: Vec<f64> = server.received().iter().map(|r| r.at_ms).collect();
    assert_eq!(times.len(), 30);
    times.sort_by(f64::total_cmp);
    // On the server's own record, generously: a stalled server can bunch a few requests
    // together, but no second holds twice the rate (all 30 would, unpaced).
    for (i, start) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .take_while(|t| **t < start + 1000.0)
            .count();
        assert!(
            in_window <= 20,
            "{in_window} requests in the second from {start} ms: {times:?}"
        );
    }
    let span = times[29] - times[0];
    assert!(span >= 1_700.0, "30 requests in {span} ms at 10/s");
}

#[test]
fn transient_errors_are_retried_and_counted() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.error_rate = 1.0;
        c.error_status = 503;
    });
    dir.write_fresh("in.csv", 3, "OK", "");
    let out = run(&dir, &server, "in.csv", &["--retries", "2"]).expect_code(3);
    assert_eq!(
        server.stats().requests,
        9,
        "3 rows x (1 + 2 retries)\n{}",
        out.describe()
    );
    let results = dir.results("in.results.csv");
    for r in &results {
        assert_eq!(
            (
                r["outcome"].as_str(),
                r["attempts"].as_str(),
                r["http_status"].as_str()
            ),
            ("failed", "3", "503")
        );
        assert!(r["error"].contains("HTTP 503: Injected error"), "{r:?}");
    }
    out.stderr_has("--resume");
}

#[test]
fn other_4xx_are_rejected_without_retry() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.error_rate = 1.0;
        c.error_status = 422;
    });
    let uuids = fresh_uuids(2);
    dir.write(
        "in.csv",
        csv_input(&[(&uuids[0], "OK", ""), (&uuids[1], "KO", "")]),
    );
    run(&dir, &server, "in.csv", &["--retries", "3"]).expect_code(3);
    assert_eq!(server.stats().requests, 2, "never retried");
    let results = dir.results("in.results.csv");
    assert!(
        results.iter().all(|r| r["outcome"] == "rejected"
            && r["attempts"] == "1"
            && r["http_status"] == "422")
    );
}

#[test]
fn retry_after_pauses_the_whole_run() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.rate_limit = Some(3);
    });
    dir.write_fresh("in.csv", 12, "OK", "");
    let out = run(
        &dir,
        &server,
        "in.csv",
        &["--retries", "10", "--concurrency", "4"],
    )
    .expect_code(0);
    let received = server.received();
    let first_429 = received
        .iter()
        .find(|r| r.status == 429)
        .unwrap_or_else(|| panic!("no 429\n{}", out.describe()));
    // Retry-After: 1 pauses every worker from the moment the client reads it, which is after
    // the server recorded it: what the server records in the next second can only be the
    // requests already in flight (at most concurrency - 1), however slow the machine.
    let during_pause = received
        .iter()
        .filter(|r| r.seq > first_429.seq && r.at_ms < first_429.at_ms + 990.0)
        .count();
    assert!(
        during_pause <= 3,
        "{during_pause} during the pause: {received:?}"
    );
    let results = dir.results("in.results.csv");
    assert_eq!(results.iter().filter(|r| r["outcome"] == "ok").count(), 12);
    let attempts: u32 = results
        .iter()
        .map(|r| r["attempts"].parse::<u32>().unwrap())
        .sum();
    assert_eq!(
        attempts as usize,
        received.len(),
        "every attempt is counted"
    );
    assert!(attempts > 12);
}

#[test]
fn a_429_on_a_rows_last_attempt_pauses_the_next_rows() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.fail_first = 1;
        c.error_status = 429;
        c.retry_after = Some("2".into());
    });
    dir.write_fresh("in.csv", 3, "OK", "");
    let out = run(
        &dir,
        &server,
        "in.csv",
        &["--retries", "0", "--concurrency", "1"],
    )
    .expect_code(3);
    let received = server.received();
    assert_eq!(received.len(), 3, "no retries: {}", out.describe());
    assert!(received.iter().all(|r| r.status == 429));
    // Each row's only attempt is answered 429 with Retry-After: 2, which pauses the run: the
    // next row waits. Unpaused, the rows would go out a millisecond apart.
    for pair in received.windows(2) {
        let gap = pair[1].at_ms - pair[0].at_ms;
        assert!(
            gap >= 1_000.0,
            "the next row went out {gap} ms later: {received:?}"
        );
    }
    let results = dir.results("in.results.csv");
    assert!(
        results
            .iter()
            .all(|r| r["outcome"] == "failed" && r["http_status"] == "429" && r["attempts"] == "1")
    );
}

#[test]
fn sigint_during_a_million_row_dry_run_exits_130_promptly() {
    let dir = Workdir::new();
    let mut text = String::with_capacity(42_000_000);
    text.push_str("auth_uuid,state,reasons\n");
    for i in 1..=1_000_000u64 {
        text.push_str(&format!("01930000-0000-7000-8000-{i:012x},OK,\n"));
    }
    dir.write("in.csv", text);
    let mut child = dir
        .dry_run("in.csv", &[])
        .env("TECALIS_API_KEY", KEY)
        .spawn();
    // Wait for the sending pass (every row validated, the handlers installed, rows being
    // recorded), then interrupt it.
    let preview = dir.path("in.dry-run.csv");
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::metadata(&preview).map_or(true, |m| m.len() < 100_000) {
        assert!(
            Instant::now() < deadline,
            "the dry run never started recording"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the dry run ended before the signal: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let signalled = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = signalled + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("SIGINT ignored for 10 s by a dry run");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!("the dry run exited {:?} after SIGINT", signalled.elapsed());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by a signal"), "{stderr}");
    let rows = dir.results("in.dry-run.csv");
    // What the preview lacks is said: no row goes unaccounted for.
    assert!(
        stderr.contains(&format!(
            "Interrupted: the preview holds {} of the 1000000 rows",
            rows.len()
        )),
        "{stderr}"
    );
    assert!(!rows.is_empty() && rows.len() < 1_000_000, "{}", rows.len());
    // An interrupted dry run records nothing after the signal: no `cancelled` row, only
    // the rows previewed before it.
    let previewed = rows.iter().filter(|r| r["outcome"] == "dry_run").count();
    assert!(previewed > 0, "{previewed}");
    assert_eq!(previewed, rows.len(), "rows recorded after the signal");
}

#[test]
fn a_wrong_key_stops_after_ten_401s() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    let (mine, _) = bundled_uuids();
    let rows: Vec<(&str, &str, &str)> = mine.iter().map(|u| (u.as_str(), "OK", "")).collect();
    dir.write("in.csv", csv_input(&rows));
    let url = server.url();
    let out = dir
        .run_at(&url, "in.csv", &["--rate", "1000", "--concurrency", "1"])
        .env("TECALIS_API_KEY", "wrong-key")
        .expect(5);
    out.stderr_has("the API key is evidently wrong");
    assert_eq!(server.stats().requests, 10);
    let results = dir.results("in.results.csv");
    assert_eq!(results.len(), 12, "every row is recorded");
    assert_eq!(
        results
            .iter()
            .filter(|r| r["outcome"] == "unauthorized")
            .count(),
        10
    );
    assert_eq!(
        results
            .iter()
            .filter(|r| r["outcome"] == "cancelled")
            .count(),
        2
    );
    assert!(!out.stderr.contains("wrong-key"));
}

#[test]
fn max_unauthorized_stops_the_run() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("corrections.csv");
    let out = run(
        &dir,
        &server,
        "corrections.csv",
        &["--max-unauthorized", "2", "--concurrency", "1"],
    )
    .expect_code(5);
    out.stderr_has("--max-unauthorized");
    assert_eq!(
        server.stats().requests,
        10,
        "rows 2..=11: the second 401 is on line 11"
    );
    let results = dir.results("corrections.results.csv");
    assert_eq!(
        results
            .iter()
            .filter(|r| r["outcome"] == "cancelled")
            .count(),
        2
    );
}

#[test]
fn all_ok_exits_0() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    dir.write_fresh("in.csv", 5, "CANCELLED", "r");
    run(&dir, &server, "in.csv", &[]).expect_code(0);
    assert_eq!(server.stats().requests, 5);
}

#[test]
fn without_a_terminal_or_yes_nothing_is_sent() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("corrections.csv");
    let url = server.url();
    dir.cmd(&["run", "corrections.csv", "--url", &url])
        .env("TECALIS_API_KEY", KEY)
        .expect(2)
        .stderr_has("--yes");
    assert_eq!(server.stats().requests, 0);
    assert!(!dir.exists("corrections.results.csv"));
}

#[test]
fn an_existing_results_file_is_not_overwritten() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("corrections.csv");
    dir.write("corrections.results.csv", "precious\n");
    run(&dir, &server, "corrections.csv", &[])
        .expect_code(1)
        .stderr_has("--resume");
    assert_eq!(server.stats().requests, 0);
    assert_eq!(dir.read("corrections.results.csv"), "precious\n");
    run(&dir, &server, "corrections.csv", &["--force"]).expect_code(3);
    assert_eq!(dir.results("corrections.results.csv").len(), 12);
}

#[test]
fn standard_input_needs_an_output() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    let input = csv_input(&[(&fresh_uuids(1)[0], "OK", "")]);
    let url = server.url();
    dir.run_at(&url, "-", &[])
        .stdin(input.clone())
        .expect(2)
        .stderr_has("--output");
    dir.run_at(&url, "-", &["--output", "out.csv"])
        .stdin(input)
        .expect(0);
    assert_eq!(dir.results("out.csv").len(), 1);
}

#[test]
fn the_built_in_sandbox_runs_the_quick_start() {
    let dir = Workdir::new();
    dir.sample("corrections.csv");
    let out = dir
        .cmd(&["run", "corrections.csv", "--sandbox", "--yes"])
        .expect(3);
    out.stderr_has("ok                   9");
    assert_eq!(dir.results("corrections.sandbox-results.csv").len(), 12);
    // Repeating a rehearsal replaces its file only when asked, like every output.
    dir.cmd(&["run", "corrections.csv", "--sandbox", "--yes"])
        .expect(1)
        .stderr_has("--force to replace it");
    dir.cmd(&["run", "corrections.csv", "--sandbox", "--yes", "--force"])
        .expect(3);
}

#[test]
fn missing_key_is_a_configuration_error() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("corrections.csv");
    let url = server.url();
    dir.cmd(&["run", "corrections.csv", "--url", &url, "--yes"])
        .expect(1)
        .stderr_has("TECALIS_API_KEY");
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn the_json_summary_is_written_even_when_nothing_is_sent() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("with-problems.csv");
    run(
        &dir,
        &server,
        "with-problems.csv",
        &["--summary-json", "s.json"],
    )
    .expect_code(4);
    let summary: Value = serde_json::from_str(&dir.read("s.json")).unwrap();
    assert_eq!(summary["exit_code"], 4);
    assert_eq!(summary["rows"], 0);
    assert_eq!(summary["input_sha256"].as_str().unwrap().len(), 64);
}
