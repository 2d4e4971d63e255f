//! Test harness: a temporary working directory, the built binary run in it (printing the
//! command, exit code, stdout and stderr when an expectation fails), and a real sandbox on
//! loopback port 0.

#![allow(dead_code)]

pub mod job;
pub mod pty;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tecalis_status::sandbox::{Process, Received, Sandbox, SandboxConfig, Stats};
use uuid::Uuid;

/// The bundled demo key (the sandbox's first customer).
pub const KEY: &str = tecalis_status::sandbox::DEMO_API_KEY;

/// A temporary directory in which the binary runs.
pub struct Workdir {
    dir: tempfile::TempDir,
}

/// What a finished command left behind.
#[derive(Debug)]
pub struct Output {
    /// The command line, for messages.
    pub command: String,
    /// Its exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Panics, showing everything, unless the exit code is `code`.
    pub fn expect_code(self, code: i32) -> Output {
        if self.code != code {
            panic!(
                "expected exit code {code}, got {}\n{}",
                self.code,
                self.describe()
            );
        }
        self
    }

    /// Everything about the run, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "command: {}\nexit code: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }

    /// Panics unless standard output contains `text`.
    pub fn stdout_has(&self, text: &str) -> &Output {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}\n{}",
            self.describe()
        );
        self
    }

    /// Panics unless standard error contains `text`.
    pub fn stderr_has(&self, text: &str) -> &Output {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}\n{}",
            self.describe()
        );
        self
    }
}

impl Default for Workdir {
    fn default() -> Self {
        Self::new()
    }
}

impl Workdir {
    /// A fresh empty directory.
    pub fn new() -> Workdir {
        Workdir {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write a fixture");
        path
    }

    /// Reads a file as text.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// Whether a file exists.
    pub fn exists(&self, name: &str) -> bool {
        self.path(name).exists()
    }

    /// A command for the binary with `args`, in this directory, with a clean environment.
    pub fn cmd(&self, args: &[&str]) -> Cmd {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tecalis-status"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("TECALIS_URL")
            .env_remove("TECALIS_API_KEY")
            .env_remove("RUST_LOG")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("ALL_PROXY")
            .env("NO_COLOR", "1");
        Cmd {
            command,
            shown: format!("tecalis-status {}", args.join(" ")),
            stdin: None,
        }
    }

    /// Writes an input `name` of `n` fresh rows (see [`fresh_uuids`]) with `state` and
    /// `reasons`; returns their auth_uuids.
    pub fn write_fresh(&self, name: &str, n: usize, state: &str, reasons: &str) -> Vec<String> {
        let uuids = fresh_uuids(n);
        let rows: Vec<(&str, &str, &str)> =
            uuids.iter().map(|u| (u.as_str(), state, reasons)).collect();
        self.write(name, csv_input(&rows));
        uuids
    }

    /// `run INPUT --url URL --yes EXTRA…` with the demo key in the environment: how most tests
    /// send a file (a later `.env("TECALIS_API_KEY", …)` replaces the key).
    pub fn run_at(&self, url: &str, input: &str, extra: &[&str]) -> Cmd {
        let mut args = vec!["run", input, "--url", url, "--yes"];
        args.extend_from_slice(extra);
        self.cmd(&args).env("TECALIS_API_KEY", KEY)
    }

    /// `run INPUT --dry-run --url https://api.invalid EXTRA…`: a dry run never connects, so
    /// the URL only has to pass the configuration checks.
    pub fn dry_run(&self, input: &str, extra: &[&str]) -> Cmd {
        let mut args = vec!["run", input, "--dry-run", "--url", "https://api.invalid"];
        args.extend_from_slice(extra);
        self.cmd(&args)
    }

    /// Copies a bundled sample into the directory.
    pub fn sample(&self, name: &str) -> PathBuf {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples")
            .join(name);
        let target = self.path(name);
        std::fs::copy(&source, &target).expect("copy a sample");
        target
    }

    /// The whole rows of a results CSV, as maps from column name to cell. A torn last line
    /// (a run killed mid-write) is left out, as every reader of results files does.
    pub fn results(&self, name: &str) -> Vec<std::collections::HashMap<String, String>> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(self.path(name))
            .expect("a results file");
        let headers = reader.headers().expect("a header").clone();
        let finished = headers.iter().position(|h| h == "finished_at");
        reader
            .records()
            .filter_map(Result::ok)
            .filter(|r| r.len() == headers.len())
            .filter(|r| finished.is_none_or(|i| r[i].ends_with('Z')))
            .map(|r| {
                headers
                    .iter()
                    .zip(r.iter())
                    .map(|(h, v)| (h.to_string(), v.to_string()))
                    .collect()
            })
            .collect()
    }
}

/// A command about to run.
pub struct Cmd {
    command: Command,
    shown: String,
    stdin: Option<Vec<u8>>,
}

impl Cmd {
    /// Sets an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Cmd {
        self.command.env(key, value);
        self
    }

    /// Feeds standard input.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(bytes.into());
        self
    }

    /// Runs to the end.
    pub fn run(mut self) -> Output {
        self.command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::piped());
        let mut child = self.command.spawn().expect("the binary starts");
        let input = self.stdin.take().unwrap_or_default();
        let mut pipe = child.stdin.take().expect("piped stdin");
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
        let out = child.wait_with_output().expect("the binary runs");
        let _ = writer.join();
        Output {
            command: self.shown,
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Starts without waiting (for signal tests).
    pub fn spawn(mut self) -> std::process::Child {
        self.command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        self.command.spawn().expect("the binary starts")
    }

    /// Runs and expects `code`.
    pub fn expect(self, code: i32) -> Output {
        self.run().expect_code(code)
    }
}

/// A real sandbox on 127.0.0.1 port 0, served by its own runtime while the test runs the
/// binary against it.
pub struct TestServer {
    runtime: tokio::runtime::Runtime,
    sandbox: Sandbox,
}

impl TestServer {
    /// Starts the sandbox with the bundled processes and `configure` applied.
    pub fn start(configure: impl FnOnce(&mut SandboxConfig)) -> TestServer {
        TestServer::start_at("127.0.0.1:0", configure)
    }

    /// Starts it at `address` (`127.0.0.1:PORT`): the same server back at the same URL
    /// (a resume refuses a job sent to another URL).
    pub fn start_at(address: &str, configure: impl FnOnce(&mut SandboxConfig)) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let mut config = SandboxConfig::default();
        configure(&mut config);
        let sandbox = runtime
            .block_on(Sandbox::start(address, config))
            .expect("the sandbox starts");
        TestServer { runtime, sandbox }
    }

    /// The base URL.
    pub fn url(&self) -> String {
        self.sandbox.url()
    }

    /// The requests received, in order.
    pub fn received(&self) -> Vec<Received> {
        self.sandbox.received()
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.sandbox.stats()
    }

    /// A process as it is now.
    pub fn process(&self, auth_uuid: &str) -> Process {
        self.sandbox
            .process(Uuid::parse_str(auth_uuid).expect("a UUID"))
            .expect("a known process")
    }

    /// Runs a future on the server's runtime (for HTTP checks from the test).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

/// UUIDs of the bundled processes: the demo customer's, then the other customer's.
pub fn bundled_uuids() -> (Vec<String>, Vec<String>) {
    let processes = tecalis_status::sandbox::seed::bundled();
    let (mine, theirs): (Vec<_>, Vec<_>) = processes.into_iter().partition(|p| p.api_key == KEY);
    (
        mine.into_iter().map(|p| p.auth_uuid.to_string()).collect(),
        theirs
            .into_iter()
            .map(|p| p.auth_uuid.to_string())
            .collect(),
    )
}

/// `n` distinct UUIDs for processes created on first use (`accept_unknown`).
pub fn fresh_uuids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("01930000-0000-7000-8000-{:012x}", i + 1))
        .collect()
}

/// A CSV input with a header and one `uuid,state,reasons` row per entry.
pub fn csv_input(rows: &[(&str, &str, &str)]) -> String {
    let mut text = String::from("auth_uuid,state,reasons\n");
    for (uuid, state, reasons) in rows {
        text.push_str(&format!("{uuid},{state},{reasons}\n"));
    }
    text
}

/// Waits for a spawned run to end, killing it (and failing) after `limit`; its exit status
/// and standard error.
pub fn wait_or_kill(
    child: &mut std::process::Child,
    limit: std::time::Duration,
    what: &str,
) -> (std::process::ExitStatus, String) {
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    (status, stderr)
}

/// The signal mask of `pid` named `field` in /proc (`SigBlk`, `SigCgt`), 0 when unknown.
pub fn signal_mask(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .unwrap_or(0)
}

/// Waits, without sleeping, until the first line of `main` has run in the child (SIGINT and
/// SIGTERM blocked): before that the process is still the dynamic loader's, and a signal
/// takes its default action whatever the program does. Returns whether the handlers were
/// already in place then (a signal sent now tests `install`, not the start); false too when
/// the child already ended (a short run), whose status `wait` still gives.
pub fn wait_for_main(child: &mut std::process::Child) -> bool {
    let both = (1 << (libc::SIGINT - 1)) | (1 << (libc::SIGTERM - 1));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if signal_mask(child.id(), "SigBlk") & both == both {
            return signal_mask(child.id(), "SigCgt") & both == both;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "SIGINT and SIGTERM were never blocked at the start of main"
        );
    }
}
