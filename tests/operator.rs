//! The operator's side: help and version, completions and the man page, `report` and its
//! export, and the cron, systemd and rehearsal recipes of the README, run as written.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{KEY, TestServer, Workdir};

/// The count on the summary line `  OUTCOME   N`.
fn count(text: &str, outcome: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        (words.len() >= 2 && words[0] == outcome)
            .then(|| words[1].parse().ok())
            .flatten()
    })
}

#[test]
fn every_subcommand_has_help_with_examples() {
    let dir = Workdir::new();
    for sub in ["validate", "run", "sandbox", "report", "completions", "man"] {
        let out = dir.cmd(&[sub, "--help"]).expect(0);
        assert!(
            out.stdout.contains("Example"),
            "{sub} --help has no examples:\n{}",
            out.stdout
        );
    }
    let out = dir.cmd(&["--help"]).expect(0);
    assert!(out.stdout.contains("Exit codes"));
    let out = dir.cmd(&["--version"]).expect(0);
    assert_eq!(
        out.stdout.trim(),
        format!("tecalis-status {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn completions_and_the_man_page_generate() {
    let dir = Workdir::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = dir.cmd(&["completions", shell]).expect(0);
        assert!(out.stdout.contains("tecalis-status"), "{shell}");
        assert!(
            out.stdout.contains("dry-run") && out.stdout.contains("export-failed"),
            "{shell}"
        );
    }
    let out = dir.cmd(&["man"]).expect(0);
    assert!(
        out.stdout.starts_with(".ie") || out.stdout.contains(".TH tecalis-status"),
        "{}",
        &out.stdout[..200]
    );
    assert!(out.stdout.contains("validate"));
}

#[test]
fn report_follows_the_last_line_and_exports_what_failed() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("corrections-excel-es.csv");
    dir.sample("corrections.csv");
    let url = server.url();
    dir.run_at(&url, "corrections.csv", &["--rate", "1000"])
        .expect(3);
    // A second pass appends lines for the 401 rows (401 again); the rest are skipped, counted
    // in the job record but not written again.
    dir.run_at(&url, "corrections.csv", &["--rate", "1000", "--resume"])
        .expect(3);
    let out = dir
        .cmd(&[
            "report",
            "corrections.results.csv",
            "--export-failed",
            "retry.csv",
        ])
        .expect(3);
    out.stdout_has("12 rows (the final outcome of each, from 15 lines)")
        .stdout_has("line 8: 0193a1b2-daba-78c0-98f1-35d25f557203")
        .stdout_has("Exported 3 row(s)")
        .stdout_has("INCOMPLETE: 3 of the last run's 12 rows did not end ok.")
        .stdout_has("correct them and run that file");
    assert!(!out.stdout.contains("--resume"), "{}", out.describe());
    assert_eq!(count(&out.stdout, "skipped"), Some(9));
    assert_eq!(count(&out.stdout, "unauthorized"), Some(3));
    let exported = dir.read("retry.csv");
    assert!(
        exported.starts_with("auth_uuid,state,reasons\n"),
        "{exported}"
    );
    assert_eq!(exported.lines().count(), 4);
    assert!(exported.contains(
        "0193a1b2-edcf-78ef-83ba-ea9e13deef86,CANCELLED,\"Duplicado de otro proceso, se anula\""
    ));
    // The export is a valid input, ready to correct and run again.
    dir.cmd(&["validate", "retry.csv"]).expect(0);
    dir.cmd(&[
        "report",
        "corrections.results.csv",
        "--export-failed",
        "retry.csv",
    ])
    .expect(1)
    .stderr_has("--force");

    // Extra columns come back under their input names.
    dir.run_at(&url, "corrections-excel-es.csv", &["--rate", "1000"])
        .env("TECALIS_API_KEY", "wrong")
        .expect(3);
    dir.cmd(&[
        "report",
        "corrections-excel-es.results.csv",
        "--export-failed",
        "retry-es.csv",
    ])
    .expect(3);
    // Copied from the input, which is still there: its own column names, cells as written.
    let exported = dir.read("retry-es.csv");
    assert!(
        exported.starts_with("Auth_UUID,State,Reasons,Ticket\n"),
        "{exported}"
    );
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(exported.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 4, "{exported}");
    assert_eq!(&rows[0][2], "Revisado; correcto");
    assert_eq!(&rows[1][3], "INC-4101");
}

#[test]
fn report_exits_0_when_every_row_is_done_and_refuses_other_files() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    dir.write(
        "in.csv",
        "auth_uuid,state\n01930000-0000-7000-8000-000000000001,OK\n",
    );
    let url = server.url();
    dir.run_at(&url, "in.csv", &[]).expect(0);
    let out = dir.cmd(&["report", "in.results.csv"]).expect(0);
    assert_eq!(count(&out.stdout, "ok"), Some(1));
    out.stdout_has("Complete: every row ended ok.");
    dir.cmd(&["report", "in.csv"])
        .expect(1)
        .stderr_has("not a results file");
}

const WRAPPER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/contrib/cron/tecalis-status-cron.sh"
);
const REHEARSE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/rehearse.sh");
const BIN: &str = env!("CARGO_BIN_EXE_tecalis-status");

/// The user's documentation: the README and docs/, where the recipes now live
/// (docs/unattended.md, docs/sandbox.md).
fn readme() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut text = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    for page in ["unattended", "sandbox", "running", "security-and-files"] {
        text.push_str(&std::fs::read_to_string(format!("{root}/docs/{page}.md")).unwrap());
    }
    text
}

/// Every line of a log is one JSON object (as `jq` needs); the objects.
fn json_log(log: &str) -> Vec<serde_json::Value> {
    assert!(!log.is_empty(), "an empty log");
    log.lines()
        .map(|l| {
            let value: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {l:?}"));
            assert!(value.is_object() && value["message"].is_string(), "{l}");
            value
        })
        .collect()
}

fn summaries(log: &str) -> Vec<serde_json::Value> {
    json_log(log)
        .into_iter()
        .filter(|l| l["kind"] == "summary")
        .collect()
}

/// A cron wrapper run on `input`, with the demo key in a key file.
fn cron(dir: &Workdir, input: &str, url: &str) -> Command {
    let key = dir.write("api-key", format!("{KEY}\n"));
    set_private(&key);
    let mut command = Command::new("bash");
    command
        .arg(WRAPPER)
        .arg(dir.path(input))
        .env_remove("TECALIS_API_KEY")
        .env("TECALIS_BIN", BIN)
        .env("TECALIS_URL", url)
        .env("TECALIS_KEY_FILE", &key);
    command
}

fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn the_cron_recipe_runs_and_reports_by_exit_code() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    dir.sample("corrections.csv");
    let out = cron(&dir, "corrections.csv", &server.url())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("tecalis-status report"), "{said}");
    let summary: serde_json::Value =
        serde_json::from_str(&dir.read("corrections.summary.json")).unwrap();
    assert_eq!(summary["counts"]["ok"], 9);
    // The log is JSON lines, every one of them, the summary included.
    let log = dir.read("corrections.log");
    let runs = summaries(&log);
    assert_eq!(runs.len(), 1, "{log}");
    assert_eq!(runs[0]["summary"]["counts"]["unauthorized"], 3);
    assert!(!log.contains(KEY));
    // Re-running is safe: the nine ok rows are skipped, only the three 401s are sent again;
    // the first run's log moves to corrections.log.1.
    let before = server.stats().requests;
    let again = cron(&dir, "corrections.csv", &server.url())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(3));
    assert_eq!(server.stats().requests - before, 3);
    assert_eq!(summaries(&dir.read("corrections.log.1")), runs);
    let second = summaries(&dir.read("corrections.log"));
    assert_eq!(second.len(), 1);
    assert_eq!(second[0]["summary"]["counts"]["skipped"], 9);
}

#[test]
fn the_cron_logs_are_one_per_run_and_bounded() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    dir.write_fresh("in.csv", 2, "OK", "");
    for _ in 0..4 {
        let out = cron(&dir, "in.csv", &server.url())
            .env("TECALIS_LOG_KEEP", "2")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    assert!(dir.exists("in.log") && dir.exists("in.log.1") && dir.exists("in.log.2"));
    assert!(
        !dir.exists("in.log.3"),
        "more logs kept than TECALIS_LOG_KEEP"
    );
    for log in ["in.log", "in.log.1", "in.log.2"] {
        assert_eq!(
            summaries(&dir.read(log)).len(),
            1,
            "{log}: one run per file"
        );
    }
    // The first run sent both rows; the later ones, none.
    assert_eq!(
        summaries(&dir.read("in.log"))[0]["summary"]["counts"]["skipped"],
        2
    );
    assert_eq!(server.stats().requests, 2);
}

/// The crontab line of the README, with its paths moved into `dir`.
fn crontab_line(dir: &Workdir, url: &str) -> String {
    let readme = readme();
    let line = readme
        .lines()
        .skip_while(|l| !l.starts_with("# crontab -e"))
        .nth(1)
        .expect("a crontab line after `# crontab -e` in the README");
    // The five schedule fields, then the command.
    let mut command = line;
    for _ in 0..5 {
        command = command.trim_start();
        command = &command[command.find(' ').expect("five schedule fields")..];
    }
    let root = dir.path("").display().to_string();
    command
        .trim()
        .replace("/srv/tecalis/in/", &format!("{root}in/"))
        .replace("/etc/tecalis-status/api-key", &format!("{root}api-key"))
        .replace("/usr/local/bin/", &format!("{root}bin/"))
        .replace("https://api.example.com", url)
}

#[test]
fn the_crontab_line_works_under_crons_path() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    std::fs::create_dir(dir.path("in")).unwrap();
    std::fs::create_dir(dir.path("bin")).unwrap();
    // Installed as the README says: the wrapper and the binary in one folder.
    std::fs::copy(WRAPPER, dir.path("bin/tecalis-status-cron.sh")).unwrap();
    std::os::unix::fs::symlink(BIN, dir.path("bin/tecalis-status")).unwrap();
    let key = dir.write("api-key", format!("{KEY}\n"));
    set_private(&key);
    let line = crontab_line(&dir, &server.url());
    let cron = || {
        Command::new("env")
            .args(["-i", "PATH=/usr/bin:/bin", "SHELL=/bin/sh"])
            .arg(format!("HOME={}", dir.path("").display()))
            .args(["/bin/sh", "-c", &line])
            .current_dir(dir.path(""))
            .output()
            .unwrap()
    };
    // No file for today: nothing runs, nothing is said.
    let out = cron();
    assert_eq!(out.status.code(), Some(0), "{out:?}\n{line}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    assert_eq!(server.stats().requests, 0);
    // Today's file, named as cron's `date` names it.
    let today = Command::new("env")
        .args(["-i", "PATH=/usr/bin:/bin", "date", "+%F"])
        .output()
        .unwrap();
    let today = String::from_utf8(today.stdout).unwrap().trim().to_string();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/samples/corrections.csv"),
        dir.path(&format!("in/{today}.csv")),
    )
    .unwrap();
    let out = cron();
    assert_eq!(out.status.code(), Some(3), "{out:?}\n{line}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("some rows were not applied"), "{said}");
    let results = dir.results(&format!("in/{today}.results.csv"));
    assert_eq!(results.len(), 12);
    assert_eq!(results.iter().filter(|r| r["outcome"] == "ok").count(), 9);
    let log = dir.read(&format!("in/{today}.log"));
    assert_eq!(summaries(&log).len(), 1);
    assert_eq!(server.stats().requests, 12);
}

#[test]
fn the_cron_wrapper_passes_a_group_signal_on_once() {
    use std::os::unix::process::CommandExt;
    let dir = Workdir::new();
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.latency = Duration::from_millis(200);
    });
    dir.write_fresh("in.csv", 200, "OK", "");
    let mut child = cron(&dir, "in.csv", &server.url())
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.stats().requests < 3 {
        assert!(Instant::now() < deadline, "the run never started sending");
        std::thread::sleep(Duration::from_millis(20));
    }
    // As `timeout`, a shutdown or a terminal does: the signal to the whole process group.
    let killed = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the wrapper did not end");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut said = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut said).unwrap();
    // The wrapper waited for its child and exits with its code, with its message.
    assert_eq!(status.code(), Some(130), "{said}");
    assert!(said.contains("interrupted"), "{said}");
    // The child stopped cleanly, once: the results flushed, the rest cancelled, the summary
    // written, no "interrupted again".
    let log = dir.read("in.log");
    let lines = json_log(&log);
    let interrupted: Vec<_> = lines
        .iter()
        .filter(|l| l["kind"] == "interrupted")
        .collect();
    assert_eq!(interrupted.len(), 1, "{log}");
    let summary = &summaries(&log)[0]["summary"];
    assert_eq!(summary["exit_code"], 130);
    let results = dir.results("in.results.csv");
    assert_eq!(results.len(), 200, "every row recorded");
    let ok = results.iter().filter(|r| r["outcome"] == "ok").count() as u64;
    assert!(results.iter().any(|r| r["outcome"] == "cancelled"));
    assert_eq!(summary["counts"]["ok"], ok);
    let json: serde_json::Value = serde_json::from_str(&dir.read("in.summary.json")).unwrap();
    assert_eq!(json["exit_code"], 130);
    // Nothing is sent after the stop: every request the server saw is a recorded row.
    assert_eq!(server.stats().requests, ok);
}

/// `contrib/rehearse.sh INPUT ARGS…` in `dir`.
fn rehearse(dir: &Workdir, args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(REHEARSE)
        .args(args)
        .current_dir(dir.path(""))
        .env("TECALIS_BIN", BIN)
        .env_remove("TECALIS_URL")
        .env_remove("TECALIS_API_KEY")
        .output()
        .unwrap()
}

/// (line, outcome) of each line of a results file, by line (rows are recorded as they
/// finish; the lines of one input line keep their order).
fn outcomes(dir: &Workdir, results: &str) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = dir
        .results(results)
        .into_iter()
        .map(|r| (r["line"].clone(), r["outcome"].clone()))
        .collect();
    rows.sort_by_key(|(line, _)| line.parse::<u64>().unwrap());
    rows
}

#[test]
fn the_rehearsal_takes_its_flags_and_rehearses_a_401_and_a_wrong_key() {
    let dir = Workdir::new();
    dir.sample("corrections.csv");
    let out = rehearse(&dir, &["corrections.csv", "--rate", "100"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let first = outcomes(&dir, "corrections.rehearsal.csv");
    assert_eq!(first.len(), 12);
    // The first row plays a process of another customer; the others are accepted.
    assert_eq!(first[0], ("2".to_string(), "unauthorized".to_string()));
    assert!(first[1..].iter().all(|(_, o)| o == "ok"), "{first:?}");
    // Again: replaced, not refused.
    let out = rehearse(&dir, &["corrections.csv", "--rate", "100"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(dir.results("corrections.rehearsal.csv").len(), 12);
    // --resume continues the rehearsal: the ok rows are skipped (no line written again),
    // the 401 is sent again.
    let out = rehearse(&dir, &["corrections.csv", "--resume", "--rate", "100"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let resumed = outcomes(&dir, "corrections.rehearsal.csv");
    assert_eq!(resumed.len(), 13);
    assert_eq!(resumed.iter().filter(|(_, o)| o == "skipped").count(), 0);
    assert_eq!(resumed[0], ("2".to_string(), "unauthorized".to_string()));
    assert_eq!(resumed[1], ("2".to_string(), "unauthorized".to_string()));
    // --output elsewhere, with --force.
    let out = rehearse(
        &dir,
        &["corrections.csv", "--output", "elsewhere.csv", "--force"],
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(dir.results("elsewhere.csv").len(), 12);
    // --wrong-key: the wrong-key stop, as the real run would show it.
    dir.write_fresh("mine.csv", 30, "KO", "rehearsed");
    let out = rehearse(&dir, &["mine.csv", "--wrong-key"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Fix the API key first"), "{stderr}");
    let rows = outcomes(&dir, "mine.rehearsal.csv");
    // The stop comes after the first 10 answers; the rows already in flight (at most
    // --concurrency - 1 more, 4 by default) finish, and a row waiting to retry an injected
    // 503 keeps that answer (`failed`).
    let count = |outcome: &str| rows.iter().filter(|(_, o)| o == outcome).count();
    assert!((10..=13).contains(&count("unauthorized")), "{rows:?}");
    assert!(count("failed") <= 3, "{rows:?}");
    assert!(count("cancelled") >= 30 - 13 - 3, "{rows:?}");
    assert_eq!(
        count("unauthorized") + count("failed") + count("cancelled"),
        30,
        "{rows:?}"
    );
    // F22: the next step is true when it is read. The run's own resume command named the
    // rehearsal's sandbox, stopped by then; it is the rehearsal's command, which works.
    let commands: Vec<&str> = stderr.lines().filter(|l| l.starts_with("  ")).collect();
    assert!(
        commands.iter().all(|l| !l.contains("127.0.0.1")),
        "a command names the stopped sandbox:\n{stderr}"
    );
    let again = stderr
        .lines()
        .skip_while(|l| !l.ends_with("to send the rows that did not end ok, run:"))
        .nth(1)
        .unwrap_or_else(|| panic!("no resume command:\n{stderr}"));
    let again = again
        .trim()
        .strip_suffix("(continues the rehearsal against a new sandbox)")
        .unwrap_or_else(|| panic!("{again}"))
        .trim();
    assert!(
        again.ends_with("rehearse.sh mine.csv --resume") && !again.contains("--wrong-key"),
        "{again}"
    );
    // The real job's command is a run of its own: no rehearsal file, nothing taken for done.
    let real = stderr
        .lines()
        .skip_while(|l| !l.starts_with("The real job is a run of its own"))
        .nth(1)
        .unwrap_or_else(|| panic!("no real command:\n{stderr}"));
    assert!(
        real.trim()
            .ends_with("run mine.csv --url URL --api-key-file KEY-FILE")
            && !real.contains("rehearsal")
            && !real.contains("--resume"),
        "{real}"
    );
    // Run as printed, it continues the rehearsal (the key fixed: the rows are accepted but
    // the one held for another customer).
    let out = Command::new("bash")
        .arg("-c")
        .arg(again)
        .current_dir(dir.path(""))
        .env("TECALIS_BIN", BIN)
        .env_remove("TECALIS_URL")
        .env_remove("TECALIS_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let rows = outcomes(&dir, "mine.rehearsal.csv");
    assert_eq!(rows.len(), 60, "{rows:?}");
    assert_eq!(
        rows.iter().filter(|(_, o)| o == "ok").count(),
        29,
        "{rows:?}"
    );
}

#[test]
fn a_rehearsal_without_the_tool_says_so() {
    // A newcomer who built the tool but did not install it: every step of the script failed
    // with its errors hidden, and it said only "the sandbox did not start".
    let dir = Workdir::new();
    dir.sample("corrections.csv");
    let missing = dir.path("not-installed/tecalis-status");
    let out = Command::new("bash")
        .arg(REHEARSE)
        .arg("corrections.csv")
        .current_dir(dir.path(""))
        .env("TECALIS_BIN", &missing)
        .env_remove("TECALIS_URL")
        .env_remove("TECALIS_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{} is not found", missing.display()))
            && stderr.contains("TECALIS_BIN")
            && stderr.contains("nothing was run")
            && !stderr.contains("the sandbox did not start"),
        "{stderr}"
    );
    assert!(!dir.exists("corrections.rehearsal.csv"));
}

#[test]
fn a_rehearsal_stopped_by_ctrl_c_does_not_blame_curl() {
    use std::os::unix::process::CommandExt;
    // Ctrl-C goes to the whole foreground group: the run stops cleanly, but its sandbox stops
    // too, and the script said "(curl is not installed)" of a curl that was there.
    let dir = Workdir::new();
    dir.write_fresh("in.csv", 300, "OK", "");
    let mut child = Command::new("bash")
        .arg(REHEARSE)
        .args(["in.csv", "--rate", "20"])
        .current_dir(dir.path(""))
        .env("TECALIS_BIN", BIN)
        .env_remove("TECALIS_URL")
        .env_remove("TECALIS_API_KEY")
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut said = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut said).unwrap();
        said
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.exists("in.rehearsal.csv") || dir.read("in.rehearsal.csv").lines().count() < 6 {
        assert!(
            Instant::now() < deadline,
            "the rehearsal never started sending"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the rehearsal did not end");
        std::thread::sleep(Duration::from_millis(50));
    };
    let said = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{said}");
    let received = said
        .lines()
        .find(|l| l.starts_with("rehearse.sh: the sandbox received: "))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(
        !received.contains("curl is not installed")
            && (received.contains("no longer answers") || received.contains("\"requests\"")),
        "{said}"
    );
    // The rehearsal itself stopped as a run does: every row recorded, the rest cancelled.
    let rows = outcomes(&dir, "in.rehearsal.csv");
    assert_eq!(rows.len(), 300, "{rows:?}");
    assert!(rows.iter().any(|(_, o)| o == "cancelled"), "{rows:?}");
}

#[test]
fn the_rehearsal_by_hand_in_the_readme_is_the_scripts() {
    let readme = readme();
    let start = readme
        .find("By hand, the same thing is")
        .expect("the by-hand recipe");
    let block = &readme[start..];
    let block = &block[block.find("```sh\n").unwrap() + 6..];
    let block = &block[..block.find("```").unwrap()];
    // The same sandbox as the script's: the same seed and faults.
    let script = std::fs::read_to_string(REHEARSE).unwrap();
    let faults = "--latency 20ms --jitter 30ms --error-rate 0.05 --rate-limit 50";
    assert!(block.contains(faults) && script.contains(faults), "{block}");
    for both in [
        r#"sed -n 's/.*"auth_uuid":"\([^"]*\)".*/\1/p' | head -n 1"#,
        r"printf 'auth_uuid,api_key\n%s,another-customers-key\n'",
        "--accept-unknown",
        "TECALIS_API_KEY=rehearsal",
        "--dry-run",
        "--url http://127.0.0.1:9",
    ] {
        assert!(block.contains(both), "{both} not in the README's recipe");
        assert!(script.contains(both), "{both} not in rehearse.sh");
    }
    // Run it as written, on a free port, with the binary for `tecalis-status`.
    let dir = Workdir::new();
    dir.write(
        "my-corrections.csv",
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/corrections.csv"
        ))
        .unwrap(),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script_text = block
        .replace("tecalis-status ", &format!("{BIN} "))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    let out = Command::new("bash")
        .args(["-c", &script_text])
        .current_dir(dir.path(""))
        .env_remove("TECALIS_URL")
        .env_remove("TECALIS_API_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}\n{script_text}");
    let by_hand = outcomes(&dir, "my-corrections.rehearsal.csv");
    // And the script on the same file: the same outcome for every line.
    let out = rehearse(
        &dir,
        &["my-corrections.csv", "--rate", "20", "--concurrency", "8"],
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let mut scripted = outcomes(&dir, "my-corrections.rehearsal.csv");
    let mut by_hand = by_hand;
    by_hand.sort();
    scripted.sort();
    assert_eq!(by_hand, scripted);
    assert_eq!(
        by_hand.iter().filter(|(_, o)| o == "unauthorized").count(),
        1
    );
    let _: PathBuf = dir.path("seed.csv");
    assert!(dir.read("seed.csv").starts_with("auth_uuid,api_key\n"));
}

fn contrib(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("contrib/systemd")
            .join(name),
    )
    .unwrap()
}

#[test]
fn the_systemd_units_say_what_they_need() {
    // Always checked, whatever is installed: the settings the README describes.
    let timer = contrib("tecalis-status.timer");
    let calendar = timer
        .lines()
        .find_map(|l| l.strip_prefix("OnCalendar="))
        .expect("an OnCalendar line");
    assert_eq!(calendar, "Mon..Fri *-*-* 02:30:00");
    assert!(timer.contains("Persistent=true"));
    let service = contrib("tecalis-status.service");
    for setting in [
        "User=tecalis",
        "EnvironmentFile=/etc/tecalis-status/env",
        "Environment=TECALIS_KEY_FILE=/etc/tecalis-status/api-key",
        "/usr/local/bin/tecalis-status-cron.sh",
        "/srv/tecalis/in/$$(date +%%F).csv",
        "KillMode=mixed",
        "KillSignal=SIGTERM",
    ] {
        assert!(service.contains(setting), "{setting} not in the unit");
    }
    assert!(
        !service.contains("TECALIS_API_KEY="),
        "the key never goes in the unit"
    );
    let readme = readme();
    for need in [
        "useradd --system",
        "/etc/tecalis-status/env",
        "/etc/tecalis-status/api-key",
        "/srv/tecalis/in",
    ] {
        assert!(readme.contains(need), "the README does not say {need}");
    }
}

#[test]
fn systemd_analyze_accepts_the_timer_and_the_unit() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/systemd");
    let timer = contrib("tecalis-status.timer");
    let calendar = timer
        .lines()
        .find_map(|l| l.strip_prefix("OnCalendar="))
        .unwrap();
    let analyze = match Command::new("systemd-analyze")
        .args(["calendar", calendar])
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            assert!(
                std::env::var_os("TECALIS_REQUIRE_SYSTEMD_ANALYZE").is_none(),
                "systemd-analyze is required here (.ci/run installs it): {e}"
            );
            // Loud on purpose: `cargo test -- --nocapture` and the test's name say it.
            eprintln!(
                "SKIPPED: systemd-analyze is not installed ({e}); the timer's schedule and the unit were not checked by systemd (install the Debian package `systemd`)"
            );
            return;
        }
    };
    assert!(
        analyze.status.success(),
        "{}",
        String::from_utf8_lossy(&analyze.stderr)
    );
    let verify = Command::new("systemd-analyze")
        .args(["verify", &format!("{dir}/tecalis-status.service")])
        .output()
        .unwrap();
    let complaints = String::from_utf8_lossy(&verify.stderr);
    assert!(
        !complaints.contains("tecalis-status.service:"),
        "systemd-analyze verify: {complaints}"
    );
}

/// F11: rows whose reasons cell was empty were sent with the run's `--reasons`; the export
/// copied the input's empty cell, so running it sent no reasons at all. It carries the
/// reasons the server received, in the input's reasons column or in one it adds.
#[test]
fn the_export_carries_the_reasons_default_the_rows_were_sent_with() {
    let dir = Workdir::new();
    let server = TestServer::start(|_| {});
    let url = server.url();
    // The demo key does not match these two bundled processes: both end unauthorized.
    let (daba, e62d) = (
        "0193a1b2-daba-78c0-98f1-35d25f557203",
        "0193a1b2-e62d-7ba9-97ee-05cde00902c7",
    );
    dir.write(
        "in.csv",
        format!("auth_uuid,state,reasons,Ticket\n{daba},KO,,T1\n{e62d},KO,Documento caducado,T2\n"),
    );
    dir.write("bare.csv", format!("auth_uuid,state\n{daba},KO\n"));
    for input in ["in", "bare"] {
        dir.run_at(&url, &format!("{input}.csv"), &["--reasons", "bulk fix"])
            .expect(3);
        let out = dir
            .cmd(&[
                "report",
                &format!("{input}.results.csv"),
                "--export-failed",
                &format!("{input}.failed.csv"),
            ])
            .expect(3);
        out.stdout_has("1 row(s) whose reasons cell was empty carry the reasons they were sent with (the run's --reasons)");
        let export = dir.read(&format!("{input}.failed.csv"));
        let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(export.as_bytes())
            .records()
            .map(Result::unwrap)
            .collect();
        let header = csv::Reader::from_reader(export.as_bytes())
            .headers()
            .unwrap()
            .clone();
        let reasons = header.iter().position(|h| h == "reasons").unwrap();
        // What the server received for the row is what the export will send.
        let received: Vec<String> = server
            .received()
            .iter()
            .filter_map(|r| r.body.clone())
            .filter(|b| b["auth_uuid"] == daba)
            .map(|b| b["reasons"].as_str().unwrap_or_default().to_string())
            .collect();
        assert!(received.iter().all(|r| r == "bulk fix"), "{received:?}");
        assert_eq!(&rows[0][0], daba, "{export}");
        assert_eq!(&rows[0][reasons], "bulk fix", "{input}: {export}");
        if input == "in" {
            assert!(
                export.starts_with("auth_uuid,state,reasons,Ticket\n"),
                "{export}"
            );
            assert_eq!(&rows[0][3], "T1", "{export}");
            assert_eq!(&rows[1][reasons], "Documento caducado", "{export}");
        } else {
            assert!(export.starts_with("auth_uuid,state,reasons\n"), "{export}");
        }
        // Run without --reasons, the export sends what was sent.
        dir.cmd(&["validate", &format!("{input}.failed.csv")])
            .expect(0);
    }
}
