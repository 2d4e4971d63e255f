//! Scale: a slow disk does not stall the sending (the results are written and synced on
//! their own thread), and a regular input file is read twice without being copied into
//! `$TMPDIR`, the snapshot's guarantee kept by checking each block as it is read again.

mod common;

use common::{TestServer, Workdir};

/// Every sync of the results file takes 1.5 s (a debug-build hook): the schedule at 20/s
/// still sends a request about every 50 ms, by the server's own clock. With the sync on the
/// runtime's thread, each sync stopped the sending for 1.5 s.
#[test]
fn a_slow_sync_does_not_stall_the_schedule() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    dir.write_fresh("in.csv", 80, "OK", "");
    let out = dir
        .run_at(
            &server.url(),
            "in.csv",
            &["--rate", "20", "--concurrency", "4"],
        )
        .env("TECALIS_TEST_SYNC_DELAY_MS", "1500")
        .run()
        .expect_code(0);
    let mut at: Vec<f64> = server.received().iter().map(|r| r.at_ms).collect();
    assert_eq!(at.len(), 80, "{}", out.describe());
    at.sort_by(f64::total_cmp);
    let widest = at.windows(2).map(|w| w[1] - w[0]).fold(0.0f64, f64::max);
    // The schedule's gap is 50 ms; a stall by a sync is 1,500 ms. The bound leaves room for
    // a loaded machine.
    assert!(
        widest < 900.0,
        "the sending stalled for {widest:.0} ms between two requests"
    );
    let rows = dir.results("in.results.csv");
    assert_eq!(rows.len(), 80);
    assert!(rows.iter().all(|r| r["outcome"] == "ok"));
}

/// The run's open files while it sends: none is in `$TMPDIR` (where the input used to be
/// copied), and the input is read in place. Standard input is still copied there (unnamed).
#[cfg(target_os = "linux")]
#[test]
fn a_regular_input_file_is_not_copied_into_tmpdir() {
    let dir = Workdir::new();
    let tmp = tempfile::tempdir().unwrap();
    let tmp_path = tmp.path().canonicalize().unwrap();
    let server = TestServer::start(|c| c.accept_unknown = true);
    dir.write_fresh("in.csv", 30, "OK", "");
    let open_files = |child: &std::process::Child| -> Vec<String> {
        let fds = format!("/proc/{}/fd", child.id());
        std::fs::read_dir(fds)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| std::fs::read_link(e.path()).ok())
                    .map(|p| p.display().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    for stdin in [false, true] {
        let input = if stdin { "-" } else { "in.csv" };
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tecalis-status"));
        command
            .args([
                "run",
                input,
                "--url",
                &server.url(),
                "--yes",
                "--rate",
                "10",
            ])
            .args(["--concurrency", "1", "--force", "--output", "out.csv"])
            .current_dir(dir.path("."))
            .env("TECALIS_API_KEY", common::KEY)
            .env("TMPDIR", &tmp_path)
            .stdin(match stdin {
                true => std::fs::File::open(dir.path("in.csv")).unwrap().into(),
                false => std::process::Stdio::null(),
            })
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = command.spawn().unwrap();
        let before = server.stats().requests;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while server.stats().requests < before + 3 {
            assert!(std::time::Instant::now() < deadline, "the run never sent");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let files = open_files(&child);
        let _ = child.kill();
        let _ = child.wait();
        let in_tmp: Vec<&String> = files
            .iter()
            .filter(|f| f.starts_with(tmp_path.to_str().unwrap()))
            .collect();
        let reads_input = files.iter().any(|f| f.ends_with("/in.csv"));
        if stdin {
            assert!(!in_tmp.is_empty(), "standard input is spooled: {files:?}");
        } else {
            assert!(in_tmp.is_empty(), "the input was copied: {in_tmp:?}");
            assert!(reads_input, "the input is read in place: {files:?}");
        }
    }
}
