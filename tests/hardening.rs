//! Secrets never leak, spreadsheet formulas are neutralised, key files are checked, and a
//! hostile input is refused without being read into memory.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{TestServer, Workdir, fresh_uuids};

#[test]
fn the_key_appears_nowhere_at_any_verbosity() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.error_rate = 0.3;
        c.error_body = tecalis_status::sandbox::ErrorBody::Html;
    });
    let row_key = "row-key-7f3a9c1e-secret";
    let default_key = "default-key-5b2d8e4f-secret";
    let uuids = fresh_uuids(20);
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
    let url = server.url();
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
                "--retries",
                "1",
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
            out.stderr.lines().count() > 50,
            "the most verbose logging is on:\n{}",
            out.describe()
        );
        for (name, text) in [
            ("stdout", out.stdout.as_str()),
            ("stderr", out.stderr.as_str()),
            ("results", dir.read("in.results.csv").as_str()),
            ("summary", dir.read("summary.json").as_str()),
        ] {
            for key in [row_key, default_key] {
                assert!(!text.contains(key), "{format}: the key leaked into {name}");
            }
        }
    }
    // The keys were really used: rows with the row key and rows with the default key matched.
    assert!(
        server
            .received()
            .iter()
            .any(|r| r.key_matched == Some(true))
    );
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
