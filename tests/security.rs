//! Issue 21, the third security pass: other users' files, the key file and the job record
//! never outputs, per-row keys held to the default key's rules, paths and headers safe.
//! Each test fails without its fix (see the commit messages).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::{TestServer, Workdir};

/// `nobody`'s uid: the tests run as root, so a file can be given to another user.
const NOBODY: u32 = 65534;

fn give_away(dir: &Workdir, name: &str) {
    std::os::unix::fs::chown(dir.path(name), Some(NOBODY), Some(NOBODY))
        .expect("chown (the tests run as root)");
}

#[test]
fn an_output_another_user_owns_or_may_write_is_refused_even_with_force() {
    let server = TestServer::start(|c| c.accept_unknown = true);
    let dir = Workdir::new();
    dir.write_fresh("in.csv", 3, "OK", "");
    for (how, flag) in [
        ("nobody", "--force"),
        ("0666", "--force"),
        ("nobody", "--resume"),
    ] {
        dir.write("in.results.csv", "planted\n");
        match how {
            "nobody" => give_away(&dir, "in.results.csv"),
            _ => std::fs::set_permissions(
                dir.path("in.results.csv"),
                std::fs::Permissions::from_mode(0o666),
            )
            .unwrap(),
        }
        let out = dir.run_at(&server.url(), "in.csv", &[flag]).run();
        assert_eq!(out.code, 1, "{how} {flag}: {}", out.describe());
        assert!(
            out.stderr.contains("belongs to another user")
                || out.stderr.contains("can be written by other users"),
            "{}",
            out.describe()
        );
        assert_eq!(dir.read("in.results.csv"), "planted\n", "untouched");
        std::fs::remove_file(dir.path("in.results.csv")).unwrap();
    }
    // The same for the JSON summary, replaced by rename.
    dir.write("s.json", "{}");
    give_away(&dir, "s.json");
    let out = dir
        .run_at(
            &server.url(),
            "in.csv",
            &["--summary-json", "s.json", "--force"],
        )
        .run();
    assert_eq!(out.code, 1, "{}", out.describe());
    assert_eq!(dir.read("s.json"), "{}");
    assert_eq!(server.received().len(), 0, "nothing was sent");
}

#[test]
fn a_planted_ok_line_is_not_trusted_by_resume() {
    let server = TestServer::start(|_| {});
    let dir = Workdir::new();
    let mine = common::bundled_uuids().0;
    dir.write(
        "in.csv",
        common::csv_input(&[(&mine[0], "KO", ""), (&mine[1], "KO", "")]),
    );
    // A first run that failed everything (wrong key), then another user marks row 1 ok.
    let out = dir
        .run_at(&server.url(), "in.csv", &[])
        .env("TECALIS_API_KEY", "wrong-key-0000000000")
        .run();
    assert_eq!(out.code, 3, "{}", out.describe());
    let mut text = dir.read("in.results.csv");
    let line = text.lines().nth(1).unwrap().replace("unauthorized", "ok");
    text.push_str(&line);
    text.push('\n');
    dir.write("in.results.csv", &text);
    std::fs::set_permissions(
        dir.path("in.results.csv"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let before = server.received().len();
    let out = dir.run_at(&server.url(), "in.csv", &["--resume"]).run();
    assert_eq!(out.code, 1, "{}", out.describe());
    assert_eq!(server.received().len(), before, "nothing sent");
    assert!(
        out.stderr.contains("can be written by other users"),
        "{}",
        out.describe()
    );
    // report does not take the planted line's word either: it says "Complete" of nothing.
    let out = dir.cmd(&["report", "in.results.csv"]).run();
    assert_eq!(out.code, 1, "{}", out.describe());
    assert!(
        out.stderr.contains("can be written by other users"),
        "{}",
        out.describe()
    );
    assert!(!out.stdout.contains("Complete"), "{}", out.describe());
    // A job record another user wrote (it names the input the export copies rows from) is
    // refused by report and its export: nothing is exported to be run.
    std::fs::set_permissions(
        dir.path("in.results.csv"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    give_away(&dir, "in.results.csv.job.json");
    let out = dir
        .cmd(&["report", "in.results.csv", "--export-failed", "retry.csv"])
        .run();
    assert_eq!(out.code, 1, "{}", out.describe());
    assert!(out.stderr.contains("the job record"), "{}", out.describe());
    assert!(
        out.stderr.contains("belongs to another user"),
        "{}",
        out.describe()
    );
    assert!(!dir.path("retry.csv").exists(), "no export");
}

#[test]
fn the_key_file_and_the_job_record_are_never_outputs() {
    let server = TestServer::start(|c| c.accept_unknown = true);
    let dir = Workdir::new();
    dir.write_fresh("in.csv", 2, "OK", "");
    dir.write("key.txt", format!("{}\n", common::KEY));
    std::fs::set_permissions(dir.path("key.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let url = server.url();
    for extra in [
        &["-o", "key.txt", "--force"][..],
        &["--summary-json", "key.txt", "--force"][..],
    ] {
        let mut args = vec![
            "run",
            "in.csv",
            "--url",
            &url,
            "--yes",
            "--api-key-file",
            "key.txt",
        ];
        args.extend_from_slice(extra);
        let out = dir.cmd(&args).run();
        assert_eq!(out.code, 1, "{}", out.describe());
        assert!(out.stderr.contains("is the key file"), "{}", out.describe());
        assert_eq!(dir.read("key.txt"), format!("{}\n", common::KEY));
    }
    assert_eq!(server.received().len(), 0);
    let out = dir
        .cmd(&[
            "run",
            "in.csv",
            "--url",
            &url,
            "--yes",
            "--api-key-file",
            "key.txt",
        ])
        .run();
    assert_eq!(out.code, 0, "{}", out.describe());
    let record = dir.read("in.results.csv.job.json");
    let out = dir
        .cmd(&[
            "report",
            "in.results.csv",
            "--export-failed",
            "in.results.csv.job.json",
            "--force",
        ])
        .run();
    assert_eq!(out.code, 1, "{}", out.describe());
    assert!(out.stderr.contains("job record"), "{}", out.describe());
    assert_eq!(
        dir.read("in.results.csv.job.json"),
        record,
        "the record untouched"
    );
    // Nor a summary, in a dry run (which writes no record of its own) or a run.
    for dry in [true, false] {
        let mut args = vec![
            "run",
            "in.csv",
            "--url",
            &url,
            "--yes",
            "--api-key-file",
            "key.txt",
        ];
        if dry {
            args.push("--dry-run");
        } else {
            args.extend(["-o", "other.csv"]);
        }
        args.extend(["--summary-json", "in.results.csv.job.json", "--force"]);
        let out = dir.cmd(&args).run();
        assert_eq!(out.code, 1, "{}", out.describe());
        assert_eq!(
            dir.read("in.results.csv.job.json"),
            record,
            "the record untouched"
        );
    }
}

#[test]
fn a_row_key_with_a_line_break_or_an_escape_is_invalid_and_never_shown() {
    let dir = Workdir::new();
    let uuids = common::fresh_uuids(3);
    dir.write(
        "in.csv",
        format!(
            "auth_uuid,state,api_key\n{},OK,\"line1-SECRET\nline2\"\n{},OK,esc\u{1b}[2J-SECRET\n{},OK,fine-key\n",
            uuids[0], uuids[1], uuids[2]
        ),
    );
    let out = dir.cmd(&["validate", "in.csv"]).run();
    assert_eq!(out.code, 4, "{}", out.describe());
    assert_eq!(
        out.stderr.matches("control character").count(),
        2,
        "{}",
        out.describe()
    );
    assert!(!out.stderr.contains("SECRET") && !out.stdout.contains("SECRET"));
}

#[test]
fn a_key_file_that_never_ends_is_refused_at_once() {
    let dir = Workdir::new();
    dir.write_fresh("in.csv", 1, "OK", "");
    let started = Instant::now();
    let out = dir
        .dry_run("in.csv", &["--api-key-file", "/dev/zero"])
        .run();
    assert_eq!(out.code, 1, "{}", out.describe());
    assert!(out.stderr.contains("more than"), "{}", out.describe());
    // Generous: unbounded, it reads for ever.
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// A named pipe that nothing writes to: opening it used to wait for ever (and SIGTERM did not
/// end the wait); it reads as an empty key file at once. A pipe being written is read whole.
#[test]
fn a_key_file_that_is_a_pipe_with_no_writer_does_not_hang() {
    let dir = Workdir::new();
    dir.write_fresh("in.csv", 1, "OK", "");
    let fifo = dir.path("key.fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    let mut child = dir
        .dry_run("in.csv", &["--api-key-file", "key.fifo"])
        .spawn();
    // Generous: without the fix it waits for ever.
    let (status, stderr) =
        common::wait_or_kill(&mut child, Duration::from_secs(60), "a FIFO key file");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the key file key.fifo is empty"),
        "{stderr}"
    );
    // A pipe with a writer (as `<(command)` gives) is read as before.
    let out = std::process::Command::new("bash")
        .current_dir(dir.path(""))
        .env("TECALIS_BIN", env!("CARGO_BIN_EXE_tecalis-status"))
        .args([
            "-c",
            "\"$TECALIS_BIN\" run in.csv --dry-run --url https://api.invalid --api-key-file <(sleep 0.5; echo piped-key-0001)",
        ])
        .output()
        .expect("bash runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn paths_reach_the_terminal_escaped() {
    let dir = Workdir::new();
    let name = "in\u{1b}[2J.csv";
    let mine = common::bundled_uuids().0;
    dir.write(name, common::csv_input(&[(&mine[0], "KO", "")]));
    let out = dir
        .dry_run(name, &["--api-key-file", "no\u{1b}]0;pwned\u{7}.txt"])
        .run();
    assert_eq!(out.code, 1, "{}", out.describe());
    assert!(!out.stderr.contains('\u{1b}'), "{}", out.describe());
    assert!(out.stderr.contains("\\u{1b}"), "{}", out.describe());
    // A job record whose input holds an escape sequence, shown by report --export-failed.
    let server = TestServer::start(|_| {});
    let out = dir
        .run_at(&server.url(), name, &["-o", "r\u{1b}[2J.csv"])
        .env("TECALIS_API_KEY", "wrong-key-0000000000")
        .run();
    assert_eq!(out.code, 3, "{}", out.describe());
    assert!(
        !out.stderr.contains('\u{1b}') && !out.stdout.contains('\u{1b}'),
        "{}",
        out.describe()
    );
    // Any error that names a path (here: not a results file), wherever it is raised.
    let out = dir.cmd(&["report", name]).run();
    assert_eq!(out.code, 1, "{}", out.describe());
    assert!(!out.stderr.contains('\u{1b}'), "{}", out.describe());
    let out = dir
        .cmd(&["report", "r\u{1b}[2J.csv", "--export-failed", "failed.csv"])
        .run();
    assert!(
        !out.stderr.contains('\u{1b}') && !out.stdout.contains('\u{1b}'),
        "{}",
        out.describe()
    );
}

#[test]
fn a_formula_in_the_header_is_neutralised() {
    let server = TestServer::start(|c| c.accept_unknown = true);
    let dir = Workdir::new();
    let uuid = &common::fresh_uuids(1)[0];
    dir.write(
        "in.csv",
        format!("auth_uuid,state,\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\n{uuid},OK,note\n"),
    );
    let out = dir.run_at(&server.url(), "in.csv", &[]).run();
    assert_eq!(out.code, 0, "{}", out.describe());
    let header = dir
        .read("in.results.csv")
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert!(
        !header.contains(",=") && !header.contains(",\"="),
        "{header}"
    );
    assert!(header.contains("HYPERLINK"), "{header}");
}

const WRAPPER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/contrib/cron/tecalis-status-cron.sh"
);

/// The cron wrapper on `input` under cron's umask 022, with the demo key in a key file and
/// `flags` after the input.
fn cron(dir: &Workdir, input: &str, url: &str, flags: &[&str]) -> std::process::Command {
    let key = dir.write("api-key", format!("{}\n", common::KEY));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg("umask 022 && exec bash \"$0\" \"$@\"")
        .arg(WRAPPER)
        .arg(dir.path(input))
        .args(flags)
        .env_remove("TECALIS_API_KEY")
        .env_remove("TECALIS_RUN_FLAGS")
        .env("TECALIS_BIN", env!("CARGO_BIN_EXE_tecalis-status"))
        .env("TECALIS_URL", url)
        .env("TECALIS_KEY_FILE", &key);
    command
}

fn mode(dir: &Workdir, name: &str) -> u32 {
    std::fs::symlink_metadata(dir.path(name))
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_cron_log_is_private_new_and_never_written_through_a_link() {
    let server = TestServer::start(|c| c.accept_unknown = true);
    let dir = Workdir::new();
    dir.write_fresh("in.csv", 2, "OK", "");
    dir.write("precious.txt", "keep me");
    std::os::unix::fs::symlink(dir.path("precious.txt"), dir.path("in.log")).unwrap();
    std::os::unix::fs::symlink(dir.path("precious.txt"), dir.path("in.log.1")).unwrap();
    let out = cron(&dir, "in.csv", &server.url(), &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(dir.read("precious.txt"), "keep me");
    let meta = std::fs::symlink_metadata(dir.path("in.log")).unwrap();
    assert!(meta.file_type().is_file(), "a regular file of its own");
    assert_eq!(mode(&dir, "in.log"), 0o600, "private under umask 022");
    assert!(dir.read("in.log").contains("\"summary\""), "the run's log");
    for name in ["in.results.csv", "in.summary.json"] {
        assert_eq!(mode(&dir, name), 0o600, "{name}");
    }
    // A second run: the first log moves aside, the new one is again a new private file; and
    // with no logs kept, a link planted at the log's name is replaced, never followed.
    let out = cron(&dir, "in.csv", &server.url(), &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(mode(&dir, "in.log"), 0o600);
    std::fs::remove_file(dir.path("in.log")).unwrap();
    std::os::unix::fs::symlink(dir.path("precious.txt"), dir.path("in.log")).unwrap();
    let out = cron(&dir, "in.csv", &server.url(), &[])
        .env("TECALIS_LOG_KEEP", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(dir.read("precious.txt"), "keep me");
    assert!(
        std::fs::symlink_metadata(dir.path("in.log"))
            .unwrap()
            .file_type()
            .is_file()
    );
    assert_eq!(mode(&dir, "in.log"), 0o600);
}

#[test]
fn the_cron_wrapper_passes_run_flags_on() {
    let server = TestServer::start(|c| c.accept_unknown = true);
    let dir = Workdir::new();
    dir.write_fresh("in.csv", 2, "KO", "");
    let out = cron(
        &dir,
        "in.csv",
        &server.url(),
        &["--reasons", "from the wrapper", "--rate", "50"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let received = server.received();
    assert_eq!(received.len(), 2);
    for r in received {
        let body = r.body.expect("a JSON body");
        assert_eq!(body["reasons"], "from the wrapper", "{body}");
    }
}

/// Issue 21.3 (the header rule is h24's, in src/validate): a column whose name suggests a
/// credential but is not `api_key` never reaches the preview, the results or an export, and
/// its rows are not sent with the default key silently.
#[test]
fn a_key_column_under_another_name_reaches_no_file_and_no_stream() {
    let server = TestServer::start(|c| c.accept_unknown = true);
    let url = server.url();
    let secret = "Zq81-key-like-cell-7c2f";
    for name in [
        "customer_api_key",
        "clave_api",
        "api_key_cliente",
        "key",
        "token",
        "secret",
        "password",
        "clave",
    ] {
        let dir = Workdir::new();
        let uuids = common::fresh_uuids(2);
        dir.write(
            "in.csv",
            format!(
                "auth_uuid,state,{name}\n{},OK,{secret}\n{},KO,{secret}\n",
                uuids[0], uuids[1]
            ),
        );
        let preview = dir
            .dry_run("in.csv", &[])
            .env("TECALIS_API_KEY", common::KEY)
            .run();
        let run = dir.run_at(&url, "in.csv", &["-o", "r.csv"]).run();
        let report = dir
            .cmd(&["report", "r.csv", "--export-failed", "f.csv"])
            .run();
        let mut seen = vec![
            preview.stdout,
            preview.stderr,
            run.stdout.clone(),
            run.stderr.clone(),
            report.stdout,
            report.stderr,
        ];
        for file in ["in.dry-run.csv", "r.csv", "f.csv"] {
            if dir.exists(file) {
                seen.push(dir.read(file));
            }
        }
        for text in &seen {
            assert!(!text.contains(secret), "{name}: the cell leaked: {text}");
        }
        assert_eq!(
            run.code,
            4,
            "{name}: refused, nothing sent: {}",
            run.describe()
        );
    }
    assert!(
        server.received().is_empty(),
        "no row sent with the default key"
    );
}

/// Issue 20's quota seen through the wrapper: exit 7 is passed on, with when to come back.
#[test]
fn the_cron_wrapper_says_when_a_quota_lets_the_job_resume() {
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.rate_limit = Some(2);
        c.retry_after = Some("3600".to_string());
    });
    let dir = Workdir::new();
    dir.write_fresh("in.csv", 20, "OK", "");
    let out = cron(
        &dir,
        "in.csv",
        &server.url(),
        &["--rate", "1000", "--max-retry-after", "2s"],
    )
    .output()
    .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "{said}");
    assert!(said.contains("quota"), "{said}");
    assert!(
        said.contains("takes requests again at 20"),
        "a time: {said}"
    );
    assert!(said.contains("resumes"), "{said}");
}
