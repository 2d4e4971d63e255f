//! The next step the tool prints, safe and said once: the run's end and `report` give the
//! same one (fix the key, resume, or correct and run the export), never both a resume and the
//! export; and the advice of a refused run never destroys a job or sends its ok rows again.
//! Against the real sandbox on loopback, checked on what it received.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, Workdir, csv_input, fresh_uuids, wait_or_kill};

/// `n` processes of another customer: the demo key gets 401 for each.
fn theirs(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("01930000-0000-7000-9000-{:012x}", i + 1))
        .collect()
}

fn with_theirs(config: &mut tecalis_status::sandbox::SandboxConfig, uuids: &[String]) {
    config.accept_unknown = true;
    for uuid in uuids {
        config.processes.push(tecalis_status::sandbox::Process::new(
            uuid.parse().unwrap(),
            "another-customer-key",
        ));
    }
}

fn input(dir: &Workdir, uuids: &[&String]) {
    let rows: Vec<(&str, &str, &str)> = uuids.iter().map(|u| (u.as_str(), "OK", "")).collect();
    dir.write("in.csv", csv_input(&rows));
}

/// Polls until `ready` holds, for at most 30 s.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn lines(dir: &Workdir) -> usize {
    std::fs::read_to_string(dir.path("in.results.csv"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn report_after_a_key_stop_says_to_fix_the_key_first() {
    let dir = Workdir::new();
    let uuids = fresh_uuids(30);
    // The demo customer's processes: another key gets 401 for each.
    let server = TestServer::start(|c| {
        for uuid in &uuids {
            c.processes.push(tecalis_status::sandbox::Process::new(
                uuid.parse().unwrap(),
                common::KEY,
            ));
        }
    });
    input(&dir, &uuids.iter().collect::<Vec<_>>());
    let wrong = "3f1c2a9e-5b7d-4e8f-a1c3-9d2e4f6a8b0c";
    // The wrong-key stop (exit 5), then a canary answered 401 (exit 3): each run says to fix
    // the key first, and so does `report` after it, with or without the export.
    for (flags, code) in [(vec!["--concurrency", "1"], 5), (vec!["--canary", "1"], 3)] {
        let out = dir
            .run_at(
                &server.url(),
                "in.csv",
                &[&flags[..], &["--force"]].concat(),
            )
            .env("TECALIS_API_KEY", wrong)
            .expect(code);
        out.stderr_has("Fix the API key first");
        let report = dir.cmd(&["report", "in.results.csv"]).expect(3);
        report
            .stdout_has("Fix the API key first")
            .stdout_has("--resume")
            .stdout_has("INCOMPLETE: 30 of the last run's 30 rows did not end ok.");
        let export = dir
            .cmd(&[
                "report",
                "in.results.csv",
                "--export-failed",
                "retry.csv",
                "--force",
            ])
            .expect(3);
        export
            .stdout_has("Fix the API key first")
            .stdout_has("do not run it now");
        assert!(!export.stdout.contains("correct them and run that file"));
    }
    // Fixed, the resume ends the job, and the report says so.
    dir.run_at(&server.url(), "in.csv", &["--resume"]).expect(0);
    let report = dir.cmd(&["report", "in.results.csv"]).expect(0);
    report.stdout_has("Complete: every row ended ok.");
    assert!(!report.stdout.contains("Fix the API key"));
}

#[test]
fn failed_rows_get_the_same_next_step_from_the_run_and_the_report() {
    let dir = Workdir::new();
    // Every row's first request is answered 503; without retries, each ends failed.
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.fail_first = 1;
    });
    let uuids = fresh_uuids(5);
    input(&dir, &uuids.iter().collect::<Vec<_>>());
    let out = dir
        .run_at(&server.url(), "in.csv", &["--retries", "0"])
        .expect(3);
    out.stderr_has("--resume");
    assert!(
        !out.stderr.contains("--export-failed"),
        "{}",
        out.describe()
    );
    let report = dir
        .cmd(&["report", "in.results.csv", "--export-failed", "retry.csv"])
        .expect(3);
    report
        .stdout_has("INCOMPLETE: 5 of the last run's 5 rows did not end ok.")
        .stdout_has("do not run it now")
        .stdout_has("Not finished: 5 row(s) failed")
        .stdout_has("--resume");
    assert!(!report.stdout.contains("correct them and run that file"));
    // Following it ends the job: every row sent once more, none twice more.
    dir.run_at(&server.url(), "in.csv", &["--resume"]).expect(0);
    assert_eq!(server.received().len(), 10);
    dir.cmd(&["report", "in.results.csv"])
        .expect(0)
        .stdout_has("Complete: every row ended ok.");
}

#[test]
fn an_interruption_that_cut_no_row_does_not_offer_a_resume() {
    let dir = Workdir::new();
    let theirs = theirs(3);
    // Slow answers: every row is in flight when the signal comes, and each finishes.
    let server = TestServer::start(|c| {
        with_theirs(c, &theirs);
        c.latency = Duration::from_secs(5);
    });
    let mine = fresh_uuids(2);
    input(&dir, &mine.iter().chain(&theirs).collect::<Vec<_>>());
    let mut child = dir
        .run_at(&server.url(), "in.csv", &["--concurrency", "5"])
        .spawn();
    wait_until("every row in flight", || server.stats().requests == 5);
    // SAFETY: kill only sends a signal to the child started above.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let (status, stderr) = wait_or_kill(&mut child, Duration::from_secs(60), "the run");
    assert_eq!(status.code(), Some(130), "{stderr}");
    let outcomes: Vec<String> = dir
        .results("in.results.csv")
        .into_iter()
        .map(|r| r["outcome"].clone())
        .collect();
    assert!(!outcomes.contains(&"cancelled".to_string()), "{outcomes:?}");
    // Nothing left that a resume could change: the rows to correct, by the export.
    assert!(stderr.contains("--export-failed"), "{stderr}");
    assert!(!stderr.contains("--resume"), "{stderr}");
    let report = dir
        .cmd(&["report", "in.results.csv", "--export-failed", "retry.csv"])
        .expect(3);
    report
        .stdout_has("INCOMPLETE: 3 of the last run's 5 rows did not end ok.")
        .stdout_has("correct them and run that file");
    assert!(!report.stdout.contains("--resume"), "{}", report.describe());
}

#[test]
fn a_preview_over_a_real_job_is_told_to_write_elsewhere_not_to_force() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    input(&dir, &fresh_uuids(3).iter().collect::<Vec<_>>());
    dir.run_at(&server.url(), "in.csv", &[]).expect(0);
    let results = dir.read("in.results.csv");
    let out = dir
        .dry_run("in.csv", &["--output", "in.results.csv"])
        .expect(1);
    out.stderr_has("choose another --output for the preview");
    assert!(!out.stderr.contains("--force"), "{}", out.describe());
    assert_eq!(dir.read("in.results.csv"), results);
    // A file that is not a job's results may still be replaced.
    dir.write("preview.csv", "old preview\n");
    dir.dry_run("in.csv", &["--output", "preview.csv"])
        .expect(1)
        .stderr_has("pass --force to replace it");
}

#[test]
fn a_resume_refused_for_a_new_column_advises_only_the_rows_not_ok() {
    let dir = Workdir::new();
    let theirs = theirs(2);
    let server = TestServer::start(|c| with_theirs(c, &theirs));
    let mine = fresh_uuids(4);
    let all: Vec<&String> = mine.iter().chain(&theirs).collect();
    input(&dir, &all);
    dir.run_at(&server.url(), "in.csv", &[]).expect(3);
    assert_eq!(server.received().len(), 6);
    // The input gets a column of its own; the resume is refused, and says what to do.
    let mut text = String::from("auth_uuid,state,reasons,ticket\n");
    for uuid in &all {
        text.push_str(&format!("{uuid},OK,,T-1\n"));
    }
    dir.write("in.csv", text);
    let out = dir.run_at(&server.url(), "in.csv", &["--resume"]).expect(1);
    out.stderr_has("no extra columns and this input has the extra columns ticket")
        .stderr_has("--export-failed");
    assert!(
        !out.stderr.contains("write to a new --output"),
        "{}",
        out.describe()
    );
    assert_eq!(
        server.received().len(),
        6,
        "the refused resume sent nothing"
    );
    // Followed: the export holds only the rows not ok, and running it sends only them.
    dir.cmd(&["report", "in.results.csv", "--export-failed", "retry.csv"])
        .expect(3)
        .stdout_has("Exported 2 row(s)")
        .stdout_has("correct them and run that file");
    dir.run_at(&server.url(), "retry.csv", &[]).expect(3);
    let again: Vec<String> = server.received()[6..]
        .iter()
        .filter_map(|r| Some(r.body.as_ref()?["auth_uuid"].as_str()?.to_string()))
        .collect();
    assert_eq!(again, theirs);
}

#[test]
fn report_after_a_killed_resume_does_not_say_the_input_changed() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.latency = Duration::from_millis(200);
    });
    input(&dir, &fresh_uuids(30).iter().collect::<Vec<_>>());
    let args = ["--concurrency", "2", "--rate", "1000"];
    let mut first = dir.run_at(&server.url(), "in.csv", &args).spawn();
    wait_until("a few rows recorded", || lines(&dir) > 4);
    // SAFETY: kill only sends a signal to the child started above.
    unsafe { libc::kill(first.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(first.wait().unwrap().code(), Some(130));
    let before = lines(&dir);
    let mut resume = dir
        .run_at(
            &server.url(),
            "in.csv",
            &[&args[..], &["--resume"]].concat(),
        )
        .spawn();
    wait_until("the resume recorded rows", || lines(&dir) > before + 2);
    resume.kill().unwrap();
    resume.wait().unwrap();
    let report = dir.cmd(&["report", "in.results.csv"]).expect(3);
    report
        .stdout_has("of the last run's 30 rows have no outcome yet")
        .stdout_has("have no line of the last run yet (it did not reach them");
    assert!(
        !report.stdout.contains("corrected or removed since"),
        "{}",
        report.describe()
    );
}

#[test]
fn the_export_keeps_every_line_of_rows_that_share_an_auth_uuid_so_the_user_chooses() {
    let server = TestServer::start(|c| c.accept_unknown = true);
    let dir = Workdir::new();
    let uuids = fresh_uuids(2);
    dir.write(
        "in.csv",
        csv_input(&[
            (&uuids[0], "KO", "first"),
            (&uuids[0], "OK", "second"),
            (&uuids[1], "OK", ""),
        ]),
    );
    let out = dir
        .run_at(&server.url(), "in.csv", &["--skip-invalid"])
        .run();
    assert_eq!(out.code, 3, "{}", out.describe());
    assert_eq!(server.received().len(), 1, "only the third row was sent");
    for (from, export) in [("the input", "a.csv"), ("the results", "b.csv")] {
        if from == "the results" {
            std::fs::rename(dir.path("in.csv"), dir.path("moved.csv")).unwrap();
        }
        let out = dir
            .cmd(&["report", "in.results.csv", "--export-failed", export])
            .run();
        assert_eq!(out.code, 3, "{from}: {}", out.describe());
        // Both listed, as both are counted.
        assert!(
            out.stdout
                .contains(&format!("line 2: {}: invalid", uuids[0]))
                && out
                    .stdout
                    .contains(&format!("line 3: {}: invalid", uuids[0])),
            "{from}: {}",
            out.describe()
        );
        let text = dir.read(export);
        // Both conflicting rows, as written: running the export makes the user choose again,
        // it never settles the conflict by dropping one.
        assert!(
            text.contains(&format!("{},KO,first", uuids[0])),
            "{from}: {text}"
        );
        assert!(
            text.contains(&format!("{},OK,second", uuids[0])),
            "{from}: {text}"
        );
        assert!(
            !text.contains(&uuids[1]),
            "{from}: the ok row is not exported: {text}"
        );
    }
}

#[test]
fn a_resume_against_another_server_is_refused_before_anything_is_sent() {
    // A job finished on one server; resumed with another --url, its rows ok on the first
    // were taken for done on the second, and the key that worked there disabled the
    // wrong-key stop here.
    let first = TestServer::start(|c| c.accept_unknown = true);
    let second = TestServer::start(|c| c.accept_unknown = true);
    let dir = Workdir::new();
    let uuids = fresh_uuids(5);
    let rows: Vec<(&str, &str, &str)> = uuids.iter().map(|u| (u.as_str(), "OK", "")).collect();
    dir.write("in.csv", csv_input(&rows));
    dir.run_at(&first.url(), "in.csv", &[]).expect(0);
    let results = dir.read("in.results.csv");
    let out = dir.run_at(&second.url(), "in.csv", &["--resume"]).run();
    assert_eq!(out.code, 1, "{}", out.describe());
    assert!(
        out.stderr
            .contains("a resume would skip the rows that ended ok there"),
        "{}",
        out.describe()
    );
    assert_eq!(
        second.received().len(),
        0,
        "nothing sent to the second server"
    );
    assert_eq!(dir.read("in.results.csv"), results, "the job untouched");
    // The same server resumes as before (nothing left to send).
    dir.run_at(&first.url(), "in.csv", &["--resume"]).expect(0);
    // A sandbox job is not resumed against a real server either (its rows are the demo
    // key's processes: ok in the sandbox, never sent anywhere real).
    let mine = common::bundled_uuids().0;
    dir.write(
        "demo.csv",
        csv_input(&[(&mine[0], "OK", ""), (&mine[1], "OK", "")]),
    );
    let out = dir
        .cmd(&[
            "run",
            "demo.csv",
            "--sandbox",
            "--yes",
            "--output",
            "sb.csv",
        ])
        .run();
    assert_eq!(out.code, 0, "{}", out.describe());
    let out = dir
        .run_at(
            &second.url(),
            "demo.csv",
            &["--resume", "--output", "sb.csv"],
        )
        .run();
    assert_eq!(out.code, 1, "{}", out.describe());
    assert!(out.stderr.contains("sent to sandbox"), "{}", out.describe());
    assert_eq!(
        second.received().len(),
        0,
        "nothing sent to the second server"
    );
}

#[test]
fn a_resume_with_the_url_corrected_after_nothing_ended_ok_is_allowed() {
    // A mistyped --url: every row failed or was cancelled, none ok, so nothing would be
    // skipped wrongly: the resume against the right URL sends every row.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = Workdir::new();
    let uuids = fresh_uuids(12);
    let rows: Vec<(&str, &str, &str)> = uuids.iter().map(|u| (u.as_str(), "OK", "")).collect();
    dir.write("in.csv", csv_input(&rows));
    dir.run_at(
        &format!("http://127.0.0.1:{port}"),
        "in.csv",
        &["--retries", "0"],
    )
    .expect(6);
    let server = TestServer::start(|c| c.accept_unknown = true);
    dir.run_at(&server.url(), "in.csv", &["--resume"]).expect(0);
    assert_eq!(server.received().len(), 12, "every row sent once");
}

#[test]
fn a_run_refused_beside_a_job_says_only_resume_keeps_its_ok_rows_from_being_sent_again() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    input(&dir, &fresh_uuids(3).iter().collect::<Vec<_>>());
    dir.run_at(&server.url(), "in.csv", &[]).expect(0);
    let out = dir.run_at(&server.url(), "in.csv", &[]).expect(1);
    out.stderr_has("pass --resume to continue it (rows already ok are not sent again)")
        .stderr_has("sends every row again, the ones already ok too");
    assert_eq!(server.received().len(), 3, "nothing sent again");
}

#[test]
fn an_export_of_no_rows_from_an_unfinished_job_says_there_is_nothing_to_run() {
    // A run killed after some rows, every recorded one ok: nothing to export, and the next
    // step is the resume (it said "do not run it now" of an empty file).
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    input(&dir, &fresh_uuids(5).iter().collect::<Vec<_>>());
    dir.run_at(&server.url(), "in.csv", &[]).expect(0);
    let text = dir.read("in.results.csv");
    let kept: Vec<&str> = text.lines().take(4).collect();
    dir.write("in.results.csv", format!("{}\n", kept.join("\n")));
    let out = dir
        .cmd(&["report", "in.results.csv", "--export-failed", "x.csv"])
        .run();
    assert_eq!(out.code, 3, "{}", out.describe());
    out.stdout_has("Exported 0 row(s)")
        .stdout_has("nothing to run; the job is not finished")
        .stdout_has("--resume");
    assert!(
        !out.stdout.contains("do not run it now"),
        "{}",
        out.describe()
    );
}
