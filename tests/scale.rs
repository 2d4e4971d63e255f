//! Scale: a slow disk does not stall the sending (the results are written and synced on
//! their own thread), and a regular input file is read twice without being copied into
//! `$TMPDIR`, the snapshot's guarantee kept by checking each block as it is read again; and
//! `validate`'s memory grows by about 8 bytes a row.

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

/// `validate` keeps 8 bytes a row for its duplicate detection (a fingerprint of the
/// auth_uuid), no longer 32 (the UUID, the line and a hash of the cells): from 1 row to
/// 500,000 its peak memory (the kernel's count for that process alone, from `wait4`) grows by
/// about 4 MB, against about 16 MB before. The file ends with a duplicate and a repeat of
/// rows far above them, which the second pass names exactly.
#[cfg(target_os = "linux")]
#[test]
fn validate_keeps_about_eight_bytes_a_row() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let dir = Workdir::new();
    let uuid = |i: u64| {
        format!(
            "01930000-0000-7{:03x}-8{:03x}-{i:012x}",
            i >> 20 & 0xfff,
            i >> 8 & 0xfff
        )
    };
    let rows = 500_000;
    let mut big = std::io::BufWriter::new(std::fs::File::create(dir.path("big.csv")).unwrap());
    writeln!(big, "auth_uuid,state").unwrap();
    for i in 0..rows {
        writeln!(big, "{},OK", uuid(i)).unwrap();
    }
    writeln!(big, "{},KO", uuid(7)).unwrap();
    writeln!(big, "{},OK", uuid(11)).unwrap();
    big.flush().unwrap();
    drop(big);
    dir.write("one.csv", format!("auth_uuid,state\n{},OK\n", uuid(1)));
    // (peak RSS in KB, exit code, standard error) of `validate NAME`.
    let validate = |name: &str| {
        #[allow(
            clippy::zombie_processes,
            reason = "reaped by wait4 below, for its usage"
        )]
        let child = Command::new(env!("CARGO_BIN_EXE_tecalis-status"))
            .args(["validate", name])
            .current_dir(dir.path("."))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path("stderr.txt")).unwrap())
            .spawn()
            .unwrap();
        let mut status = 0;
        // SAFETY: plain out-parameters for wait4 on our own child, which std has not waited.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
        assert_eq!(pid, child.id() as i32);
        let stderr = std::fs::read_to_string(dir.path("stderr.txt")).unwrap();
        (usage.ru_maxrss, libc::WEXITSTATUS(status), stderr)
    };
    let (small, code, _) = validate("one.csv");
    assert_eq!(code, 0);
    let (peak, code, stderr) = validate("big.csv");
    assert_eq!(code, 4, "{stderr}");
    let first = rows + 2;
    assert!(
        stderr.contains(&format!(
            "big.csv:9: column auth_uuid: {} appears on lines 9 and {first};",
            uuid(7)
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "big.csv:{}: identical in every cell to line 13",
            first + 1
        )),
        "{stderr}"
    );
    let grown_mb = (peak - small) as f64 / 1024.0;
    assert!(
        grown_mb < 9.0,
        "validate grew by {grown_mb:.1} MB from 1 row to {rows} (8 bytes a row is 4 MB)"
    );
}
