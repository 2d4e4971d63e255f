//! Secrets never leak, spreadsheet formulas are neutralised, key files are checked, and a
//! hostile input is refused without being read into memory.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{TestServer, Workdir, fresh_uuids};
use tecalis_status::sandbox::ErrorBody;

/// A run against a server that quotes every request back in a 4xx (as a debug gateway does):
/// `(in.csv, key.txt)` with rows sending `row_key` in the api_key column and rows sending the
/// default key, one input that writes the key into a column of its own name too.
fn echo_input(dir: &Workdir, row_key: &str, default_key: &str) {
    let uuids = fresh_uuids(12);
    let mut input = String::from("auth_uuid,state,reasons,api_key\n");
    for (i, u) in uuids.iter().enumerate() {
        let key = if i % 2 == 0 { row_key } else { "" };
        input.push_str(&format!("{u},KO,motivo {i},{key}\n"));
    }
    input.push_str(&format!(
        "not-a-uuid,OK,,{row_key}\n{},MAYBE,,{row_key}\n",
        uuids[0]
    ));
    dir.write("in.csv", &input);
    dir.write("key.txt", default_key);
}

#[test]
fn a_key_quoted_back_by_the_server_appears_in_no_file_and_no_stream() {
    // Keys with characters that JSON, percent- and form-encoding spell differently.
    let row_key = "row/key+7f3a9c1e=secret";
    let default_key = "Default-Key-5b2d8e4f-Secret";
    for status in [422, 400] {
        let dir = Workdir::new();
        let server = TestServer::start(|c| {
            c.accept_unknown = true;
            c.error_rate = 1.0;
            c.error_status = status;
            c.error_body = ErrorBody::Echo;
        });
        echo_input(&dir, row_key, default_key);
        let url = server.url();
        let mut streams: Vec<(String, String)> = Vec::new();
        for format in ["text", "json"] {
            let out = dir
                .cmd(&[
                    "run",
                    "in.csv",
                    "--url",
                    &url,
                    "--yes",
                    "--rate",
                    "1000",
                    "--skip-invalid",
                    "--force",
                    "--api-key-file",
                    "key.txt",
                    "-vv",
                    "--log-format",
                    format,
                    "--summary-json",
                    "summary.json",
                ])
                .env("RUST_LOG", "trace")
                .run();
            assert_eq!(out.code, 3, "{}", out.describe());
            assert!(
                out.stderr.lines().count() > 20,
                "the most verbose logging is on:\n{}",
                out.describe()
            );
            streams.push((format!("{format} stdout"), out.stdout.clone()));
            streams.push((format!("{format} stderr"), out.stderr.clone()));
            streams.push((format!("{format} results"), dir.read("in.results.csv")));
            streams.push((format!("{format} summary"), dir.read("summary.json")));
        }
        // The server did quote both keys back, and they were cut out where they stood.
        let results = dir.results("in.results.csv");
        for (line, parity) in [("4", "row key"), ("3", "default key")] {
            let row = results.iter().find(|r| r["line"] == line).unwrap();
            assert_eq!(row["outcome"], "rejected", "{parity}: {row:?}");
            assert!(
                row["error"].starts_with(&format!("HTTP {status}: Unprocessable request:"))
                    && row["error"].contains("\"api_key\":\"<redacted>\""),
                "{parity}: {row:?}"
            );
        }
        let report = dir
            .cmd(&["report", "in.results.csv", "--export-failed", "again.csv"])
            .expect(3);
        report.stdout_has("<redacted>");
        streams.push(("report stdout".into(), report.stdout.clone()));
        streams.push(("report stderr".into(), report.stderr.clone()));
        for (name, text) in &streams {
            let lower = text.to_ascii_lowercase();
            for key in [row_key, default_key] {
                for spelling in [key.to_string(), key.replace('/', "%2F").replace('+', "%2B")] {
                    assert!(
                        !lower.contains(&spelling.to_ascii_lowercase()),
                        "HTTP {status}: the key {key} leaked into {name}:\n{text}"
                    );
                }
            }
        }
        // The export re-runs the failed rows as they were written: the per-row key in its own
        // api_key column (the input's data) and nowhere else; the default key nowhere.
        let export = dir.read("again.csv");
        assert!(!export.contains(default_key), "{export}");
        let mut reader = csv::Reader::from_reader(export.as_bytes());
        let header = reader.headers().unwrap().clone();
        let key_column = header.iter().position(|h| h == "api_key").unwrap();
        for record in reader.records() {
            let record = record.unwrap();
            for (i, cell) in record.iter().enumerate() {
                assert!(i == key_column || !cell.contains(row_key), "{record:?}");
            }
        }
        assert_eq!(
            server.stats().requests,
            22,
            "the 11 valid rows were sent in each run"
        );
    }
}

/// A run whose every row is answered 422 with `body`, at `-v`, then `report` on its results.
fn run_against(body: ErrorBody, rows: usize) -> (Workdir, common::Output, common::Output) {
    let dir = Workdir::new();
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.error_rate = 1.0;
        c.error_status = 422;
        c.error_body = body;
    });
    dir.write_fresh("in.csv", rows, "OK", "");
    let run = dir
        .run_at(&server.url(), "in.csv", &["--rate", "1000", "-v"])
        .expect(3);
    assert_eq!(server.stats().requests, rows as u64, "each row once");
    let report = dir.cmd(&["report", "in.results.csv"]).expect(3);
    (dir, run, report)
}

#[test]
fn a_hostile_message_reaches_no_terminal_as_control_and_forges_no_line() {
    let (dir, run, report) = run_against(ErrorBody::Hostile, 3);
    for (name, text) in [("stderr", &run.stderr), ("report", &report.stdout)] {
        for byte in ['\u{1b}', '\u{7}', '\r'] {
            assert!(!text.contains(byte), "{byte:?} reached the {name}:\n{text}");
        }
        assert!(
            !text
                .lines()
                .any(|l| l.trim_start().starts_with("Summary: every row")),
            "a forged line in the {name}:\n{text}"
        );
        // What the server said is still shown, visibly escaped.
        assert!(
            text.contains(r"\u{1b}]0;pwned\u{7}\u{1b}[2JInjected error\r\nSummary: every row ok"),
            "{name}:\n{text}"
        );
    }
    let results = std::fs::read(dir.path("in.results.csv")).unwrap();
    assert!(!results.contains(&0x1b) && !results.contains(&0x07));
    assert_eq!(dir.results("in.results.csv")[0]["outcome"], "rejected");
    // The same at the most verbose, in JSON lines.
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.error_rate = 1.0;
        c.error_status = 422;
        c.error_body = ErrorBody::Hostile;
    });
    let json = dir
        .run_at(
            &server.url(),
            "in.csv",
            &["--force", "-vv", "--log-format", "json"],
        )
        .expect(3);
    for byte in ['\u{1b}', '\u{7}', '\r'] {
        assert!(!json.stderr.contains(byte), "{byte:?}:\n{}", json.stderr);
    }
    assert!(json.stderr.contains("pwned"), "{}", json.stderr);
}

#[test]
fn a_huge_message_is_cut_in_the_results_the_logs_and_the_report() {
    let (dir, run, report) = run_against(ErrorBody::Huge, 1);
    let results = dir.results("in.results.csv");
    let error = &results[0]["error"];
    assert!(error.starts_with("HTTP 422: EEEE"), "{error}");
    assert!(
        error.chars().count() < 1_000 && error.contains("more characters)"),
        "{} characters",
        error.chars().count()
    );
    assert!(
        std::fs::metadata(dir.path("in.results.csv")).unwrap().len() < 2_000,
        "the results file holds one row"
    );
    for (name, text) in [("stderr", &run.stderr), ("report", &report.stdout)] {
        assert!(text.contains("EEEE"), "{name} shows the message");
        assert!(text.len() < 4_000, "{name}: {} bytes", text.len());
    }
}

#[test]
fn a_dry_run_shows_no_key_either() {
    let dir = Workdir::new();
    dir.sample("corrections.csv");
    let out = dir
        .dry_run("corrections.csv", &["-vv"])
        .env("TECALIS_API_KEY", "dry-secret-0123")
        .env("RUST_LOG", "trace")
        .expect(0);
    assert!(!out.stderr.contains("dry-secret-0123") && !out.stdout.contains("dry-secret-0123"));
}

#[test]
fn formulas_from_the_input_and_the_server_are_neutralised() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    let uuids = fresh_uuids(4);
    let input = format!(
        "auth_uuid,state,reasons,note\n{},KO,=HYPERLINK(\"http://x\"),@SUM(A1)\n{},KO,+34 600 000 000,-1\n{},OK,\"\tTAB\",ok\n{},OK,'quoted,plain\n",
        uuids[0], uuids[1], uuids[2], uuids[3]
    );
    dir.write("in.csv", input);
    let url = server.url();
    dir.run_at(&url, "in.csv", &["--rate", "1000"]).expect(0);
    let bodies: Vec<String> = server
        .received()
        .iter()
        .map(|r| {
            r.body.clone().unwrap()["reasons"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert!(
        bodies.contains(&"=HYPERLINK(\"http://x\")".to_string()),
        "sent exactly as written: {bodies:?}"
    );
    let results = dir.results("in.results.csv");
    for r in &results {
        for (column, cell) in r {
            assert!(
                !matches!(
                    cell.as_bytes().first(),
                    Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
                ),
                "{column}: {cell:?}"
            );
        }
    }
    let first = results.iter().find(|r| r["line"] == "2").unwrap();
    assert_eq!(first["reasons"], "'=HYPERLINK(\"http://x\")");
    assert_eq!(
        first["remote_status_reasons"], "'=HYPERLINK(\"http://x\")",
        "the server's echo too"
    );
    assert_eq!(first["note"], "'@SUM(A1)");
    let second = results.iter().find(|r| r["line"] == "3").unwrap();
    assert_eq!(
        (second["reasons"].as_str(), second["note"].as_str()),
        ("'+34 600 000 000", "'-1")
    );
}

#[cfg(unix)]
#[test]
fn a_key_file_readable_by_others_gets_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Workdir::new();
    dir.sample("corrections.csv");
    let key = dir.write("key.txt", "k-123\n");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let args = [
        "run",
        "corrections.csv",
        "--dry-run",
        "--url",
        "https://api.invalid",
        "--api-key-file",
        "key.txt",
    ];
    dir.cmd(&args)
        .expect(0)
        .stderr_has("can be read by other users")
        .stderr_has("chmod 600");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = dir.cmd(&[&args[..], &["--force"]].concat()).expect(0);
    assert!(!out.stderr.contains("other users"));
}

#[test]
fn a_one_gigabyte_line_is_refused_without_reading_it() {
    // Streamed through standard input: if the reader tried to hold the line, this would
    // need a gigabyte; it stops after the first mebibyte and the writer sees a closed pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tecalis-status"))
        .args(["validate", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        let mut written: u64 = 0;
        if stdin.write_all(b"auth_uuid,state\n").is_err() {
            return written;
        }
        while written < (1 << 30) {
            if stdin.write_all(&chunk).is_err() {
                break;
            }
            written += chunk.len() as u64;
        }
        written
    });
    let out = child.wait_with_output().unwrap();
    let written = writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("<stdin>:2: the row starting on this line is longer than 1048576 bytes"),
        "{stderr}"
    );
    assert!(
        written < (1 << 30),
        "the reader stopped early; {written} bytes were written"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn the_process_dumps_no_core() {
    use std::io::BufRead;
    // The sandbox command stays up, so its limits can be read while it runs. It starts with
    // core dumps allowed (as far as the hard limit lets a shell raise them), so that the
    // zero seen below is its own doing.
    let mut child = Command::new("sh")
        .args([
            "-c",
            "ulimit -c \"$(ulimit -H -c)\"; exec \"$0\" sandbox --listen 127.0.0.1:0",
            env!("CARGO_BIN_EXE_tecalis-status"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("listening on"), "{first}");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], ["0", "0"], "{core}");
}

#[test]
fn the_export_keeps_the_formula_rule() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.error_rate = 1.0;
        c.error_status = 422;
    });
    let uuids = fresh_uuids(2);
    dir.write(
        "in.csv",
        format!(
            "auth_uuid,state,reasons,note\n{},KO,=HYPERLINK(\"http://x\"),@SUM(A1)\n{},KO,plain,-1\n",
            uuids[0], uuids[1]
        ),
    );
    dir.run_at(&server.url(), "in.csv", &["--rate", "1000"])
        .expect(3);
    dir.cmd(&["report", "in.results.csv", "--export-failed", "again.csv"])
        .expect(3);
    let export = dir.read("again.csv");
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(export.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 2, "{export}");
    assert_eq!(&rows[0][2], "'=HYPERLINK(\"http://x\")");
    assert_eq!(&rows[0][3], "'@SUM(A1)");
    assert_eq!((&rows[1][2], &rows[1][3]), ("plain", "'-1"));
}

#[cfg(unix)]
#[test]
fn man_pages_replace_a_link_instead_of_writing_through_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Workdir::new();
    std::fs::create_dir(dir.path("man1")).unwrap();
    let precious = dir.write("precious.txt", "keep me\n");
    std::os::unix::fs::symlink(&precious, dir.path("man1/tecalis-status-run.1")).unwrap();
    let out = dir.cmd(&["man", "--out-dir", "man1"]).expect(0);
    out.stdout_has("tecalis-status-run.1");
    assert_eq!(
        dir.read("precious.txt"),
        "keep me\n",
        "the link's target is untouched"
    );
    let page = dir.path("man1/tecalis-status-run.1");
    let meta = std::fs::symlink_metadata(&page).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the link was replaced by the page"
    );
    assert_eq!(meta.permissions().mode() & 0o777, 0o644);
    assert!(dir.read("man1/tecalis-status-run.1").contains(".TH"));
}

#[test]
fn problems_show_input_cells_escaped_and_cut() {
    let dir = Workdir::new();
    let uuid = &fresh_uuids(1)[0];
    dir.write(
        "in.csv",
        format!(
            "auth_uuid,state\n{uuid},\"OK\u{1b}]0;pwned\u{7}\r\nSummary: all fine\"\n{},OK\n",
            "x".repeat(100_000)
        ),
    );
    let out = dir.cmd(&["validate", "in.csv"]).expect(4);
    let all = format!("{}{}", out.stdout, out.stderr);
    for byte in ['\u{1b}', '\u{7}', '\r'] {
        assert!(!all.contains(byte), "{byte:?} printed:\n{all}");
    }
    assert!(
        !all.lines().any(|l| l.starts_with("Summary: all fine")),
        "{all}"
    );
    assert!(
        all.contains(r"OK\u{1b}]0;pwned\u{7}\r\nSummary: all fine"),
        "{all}"
    );
    assert!(all.contains("more characters)"), "{all}");
    assert!(all.len() < 4_000, "{} bytes printed", all.len());
}
