//! What goes where: a command's primary output on standard output (the report, the dry
//! run's preview), problems, logs and the summary on standard error; with `--log-format
//! json`, every line of standard error one JSON object; the command that resumes a run.

mod common;

use common::{KEY, TestServer, Workdir, bundled_uuids};
use serde_json::Value;

/// Every line of standard error as a JSON object (the test fails on any other line), each
/// of one shape: a timestamp, a level, a kind and a message.
fn json_lines(stderr: &str) -> Vec<Value> {
    assert!(!stderr.is_empty(), "nothing on standard error");
    stderr
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\nin:\n{stderr}"));
            assert!(value.is_object(), "{line}");
            for field in ["timestamp", "level", "kind", "message"] {
                assert!(value[field].is_string(), "no {field}: {line}");
            }
            value
        })
        .collect()
}

/// The lines of one `kind`.
fn of_kind<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["kind"] == kind).collect()
}

#[test]
fn json_logs_a_run_with_401s_whole() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("corrections.csv");
    let out = dir
        .run_at(
            &server.url(),
            "corrections.csv",
            &["--log-format", "json", "-vv"],
        )
        .expect(3);
    let lines = json_lines(&out.stderr);
    // The lines of tracing (here the attempts, at -vv) have the same shape: kind `log`,
    // with the module and their own fields.
    let logs = of_kind(&lines, "log");
    assert!(logs.len() >= 12, "{}", out.stderr);
    assert!(
        logs.iter()
            .all(|l| l["target"].as_str().unwrap().starts_with("tecalis_status")),
        "{}",
        out.stderr
    );
    let counts = of_kind(&lines, "counts");
    assert_eq!(counts.len(), 1, "{}", out.stderr);
    assert_eq!(counts[0]["rows"], 12);
    assert_eq!(counts[0]["states"]["CANCELLED"], 3);
    let summary = of_kind(&lines, "summary");
    assert_eq!(summary.len(), 1, "one object for the whole summary");
    let summary = &summary[0]["summary"];
    assert_eq!(summary["counts"]["ok"], 9);
    assert_eq!(summary["counts"]["unauthorized"], 3);
    assert_eq!(summary["exit_code"], 3);
    assert_eq!(summary["examples"]["unauthorized"][0]["line"], 8);
    // The text summary is in the message too, for a person reading the log.
    assert!(
        of_kind(&lines, "summary")[0]["message"]
            .as_str()
            .unwrap()
            .contains("401 Not authorized on 3 row(s)")
    );
    // The progress and start lines of tracing are JSON too, with the message at the top.
    assert!(
        lines.iter().any(|l| l["message"]
            .as_str()
            .unwrap()
            .starts_with("sending 12 row(s)")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(KEY));
    assert_eq!(out.stdout, "");
    // Exit 3 with nothing to resume (401s): the next step is the export of those rows.
    let next = of_kind(&lines, "next");
    assert_eq!(next.len(), 1, "{}", out.stderr);
    let export = next[0]["export_command"].as_str().unwrap();
    assert!(
        export.ends_with(" report corrections.results.csv --export-failed corrections.failed.csv"),
        "{export}"
    );
}

#[test]
fn near_miss_header_names_are_one_per_line() {
    let dir = Workdir::new();
    dir.write("near.csv", "uuid,status\n");
    let out = dir.cmd(&["validate", "near.csv"]).expect(4);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("near.csv:1: column "))
        .collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(lines[0].contains("looks like `auth_uuid`") && lines[1].contains("looks like `state`"));
}

#[test]
fn json_logs_failures_and_the_command_that_resumes() {
    let dir = Workdir::new();
    // Every auth_uuid's first request is answered 503, and there is no retry: all fail.
    let server = TestServer::start(|c| c.fail_first = 1);
    dir.sample("corrections.csv");
    let url = server.url();
    let out = dir
        .cmd(&[
            "run",
            "corrections.csv",
            "--yes",
            "--retries",
            "0",
            "--log-format",
            "json",
        ])
        .env("TECALIS_URL", &url)
        .env("TECALIS_API_KEY", KEY)
        .expect(3);
    let lines = json_lines(&out.stderr);
    let summary = &of_kind(&lines, "summary")[0]["summary"];
    assert_eq!(summary["counts"]["failed"], 12, "{}", out.stderr);
    assert_eq!(summary["examples"]["failed"].as_array().unwrap().len(), 5);
    let next = of_kind(&lines, "next");
    assert_eq!(next.len(), 1, "{}", out.stderr);
    // The URL came from the environment: the command carries it, and names the program as
    // it was run.
    assert_eq!(
        next[0]["resume_command"],
        format!(
            "TECALIS_URL={url} {} run corrections.csv --yes --retries 0 --log-format json --resume",
            env!("CARGO_BIN_EXE_tecalis-status")
        )
    );
    assert_eq!(next[0]["fix_key_first"], false);
    assert_eq!(server.stats().requests, 12);
}

#[test]
fn json_logs_the_wrong_key_stop_and_max_unauthorized() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    let (ours, _) = bundled_uuids();
    let rows: Vec<String> = ours.iter().map(|u| format!("{u},OK")).collect();
    dir.write("in.csv", format!("auth_uuid,state\n{}\n", rows.join("\n")));
    let out = dir
        .run_at(
            &server.url(),
            "in.csv",
            &["--log-format", "json", "--concurrency", "1"],
        )
        .env("TECALIS_API_KEY", "wrong-key-1234")
        .expect(5);
    let lines = json_lines(&out.stderr);
    let summary = &of_kind(&lines, "summary")[0]["summary"];
    assert_eq!(summary["stopped"], "wrong_key");
    assert_eq!(summary["counts"]["unauthorized"], 10);
    assert_eq!(summary["counts"]["cancelled"], ours.len() - 10);
    let next = of_kind(&lines, "next");
    assert_eq!(next[0]["fix_key_first"], true, "{}", out.stderr);
    assert!(
        next[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Fix the API key first")
    );
    assert!(!out.stderr.contains("wrong-key-1234"));

    // --max-unauthorized: the other customer's rows of the sample.
    dir.sample("corrections.csv");
    let out = dir
        .run_at(
            &server.url(),
            "corrections.csv",
            &[
                "--log-format",
                "json",
                "--max-unauthorized",
                "1",
                "--concurrency",
                "1",
            ],
        )
        .expect(5);
    let lines = json_lines(&out.stderr);
    let summary = &of_kind(&lines, "summary")[0]["summary"];
    assert_eq!(summary["stopped"], "too_many_unauthorized");
    assert_eq!(summary["counts"]["unauthorized"], 1);
    assert_eq!(of_kind(&lines, "next")[0]["fix_key_first"], true);
}

#[test]
fn json_logs_validation_problems_refusals_and_errors() {
    let dir = Workdir::new();
    dir.write(
        "bad.csv",
        "auth_uuid,state\nnot-a-uuid,OK\n01930000-0000-7000-8000-000000000001,MAYBE\n01930000-0000-7000-8000-000000000002,KO\n",
    );
    let out = dir
        .cmd(&["validate", "bad.csv", "--log-format", "json"])
        .expect(4);
    let lines = json_lines(&out.stderr);
    let problems = of_kind(&lines, "problem");
    assert_eq!(problems.len(), 2, "{}", out.stderr);
    assert_eq!(problems[0]["line"], 2);
    assert_eq!(problems[0]["column"], "auth_uuid");
    assert_eq!(problems[0]["level"], "ERROR");
    assert_eq!(problems[1]["line"], 3);
    assert_eq!(problems[1]["column"], "state");
    let counts = of_kind(&lines, "counts")[0];
    assert_eq!(counts["rows"], 3);
    assert_eq!(counts["invalid"], 2);
    assert_eq!(of_kind(&lines, "validated")[0]["problems"], 2);

    // The same file in a run: the problems, then the refusal to send.
    let out = dir
        .run_at("http://127.0.0.1:9", "bad.csv", &["--log-format", "json"])
        .expect(4);
    let lines = json_lines(&out.stderr);
    assert_eq!(of_kind(&lines, "problem").len(), 2);
    assert_eq!(of_kind(&lines, "invalid")[0]["invalid"], 2);

    // No --yes without a terminal: the refusal is a JSON line.
    dir.write(
        "ok.csv",
        "auth_uuid,state\n01930000-0000-7000-8000-000000000001,OK\n",
    );
    let out = dir
        .cmd(&[
            "run",
            "ok.csv",
            "--url",
            "http://127.0.0.1:9",
            "--log-format",
            "json",
        ])
        .env("TECALIS_API_KEY", KEY)
        .expect(2);
    let refused = of_kind(&json_lines(&out.stderr), "refused")[0].clone();
    assert!(refused["message"].as_str().unwrap().contains("--yes"));
    assert_eq!(refused["sent"], 0);

    // An error that ends the program (main's `error: ...`).
    let out = dir
        .cmd(&["validate", "missing.csv", "--log-format", "json"])
        .run();
    assert_ne!(out.code, 0);
    let errors = of_kind(&json_lines(&out.stderr), "error")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(errors.len(), 1, "{}", out.stderr);
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("missing.csv")
    );
    let out = dir
        .cmd(&[
            "run",
            "ok.csv",
            "--url",
            "https://api.example.com/customer/status",
            "--yes",
            "--log-format",
            "json",
        ])
        .env("TECALIS_API_KEY", KEY)
        .run();
    assert_eq!(out.code, 2, "{}", out.describe());
    assert_eq!(
        of_kind(&json_lines(&out.stderr), "error")[0]["level"],
        "ERROR"
    );
    // A command line that does not parse.
    let out = dir
        .cmd(&["run", "ok.csv", "--rate", "fast", "--log-format", "json"])
        .expect(2);
    let usage = of_kind(&json_lines(&out.stderr), "usage")[0].clone();
    assert!(usage["message"].as_str().unwrap().contains("--rate"));
}

#[test]
fn each_command_writes_its_output_to_its_stream() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("corrections.csv");
    // validate: problems and counts are diagnostics, on standard error; nothing on standard
    // output.
    let out = dir.cmd(&["validate", "corrections.csv"]).expect(0);
    assert_eq!(out.stdout, "");
    out.stderr_has("corrections.csv: 12 rows: 12 valid");

    // The dry run: the preview (the target, three bodies, how many more) on standard output;
    // the counts and the summary on standard error.
    let out = dir
        .dry_run("corrections.csv", &[])
        .env("TECALIS_API_KEY", KEY)
        .expect(0);
    let stdout: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(stdout.len(), 5, "{}", out.describe());
    assert_eq!(
        stdout[0],
        "Dry run: the bodies that would be sent to https://api.invalid/customer/status (key redacted), the first 3 of 12:"
    );
    assert!(
        stdout[1].starts_with("would send (line 2): {"),
        "{}",
        stdout[1]
    );
    assert!(
        stdout[3].starts_with("would send (line 4): {"),
        "{}",
        stdout[3]
    );
    assert_eq!(
        stdout[4],
        "… and 9 more (every row is in corrections.dry-run.csv)"
    );
    assert!(!out.stderr.contains("would send"), "{}", out.stderr);
    out.stderr_has("Summary: 12 rows")
        .stderr_has("Dry run: nothing was sent.");

    // run: nothing on standard output; the summary on standard error.
    let out = dir.run_at(&server.url(), "corrections.csv", &[]).expect(3);
    assert_eq!(out.stdout, "");
    out.stderr_has("Summary: 12 rows")
        .stderr_has("Results: corrections.results.csv");

    // report: all of it on standard output, nothing on standard error.
    let out = dir.cmd(&["report", "corrections.results.csv"]).expect(3);
    assert_eq!(out.stderr, "");
    out.stdout_has("12 rows").stdout_has("line 8: ");
}

#[test]
fn the_builtin_sandbox_says_it_does_not_know_the_users_rows() {
    let dir = Workdir::new();
    dir.write_fresh("mine.csv", 30, "OK", "");
    let out = dir
        .cmd(&["run", "mine.csv", "--sandbox", "--yes"])
        .expect(5);
    out.stderr_has("the built-in sandbox does not know these processes")
        .stderr_has("knows only the bundled processes")
        .stderr_has("contrib/rehearse.sh")
        .stderr_has("sandbox --accept-unknown");
    let stopped = out
        .stderr
        .lines()
        .find(|l| l.starts_with("Stopped early:"))
        .unwrap();
    assert!(!stopped.contains("evidently wrong"), "{stopped}");
    assert!(!out.stderr.contains("--resume"), "{}", out.stderr);
}
