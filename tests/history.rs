//! Random histories of one job against the sandbox (with 503s, resets, slow answers and rows
//! of another customer answered 401), checking SPEC's "A job, whatever happens to it" after
//! every step: no row sent that is not in the input as validated, with exactly its cells; a
//! resume never sends again a row already ok; `report` says Complete only when the sandbox
//! holds every row of the last run; following the printed next step never sends an ok row
//! twice; a rehearsal never touches the job.
//!
//! Seeded and replayable: a failure prints its seed and history. `HISTORY_SEED=N` replays one
//! seed; `HISTORY_CASES=N` (and `HISTORY_BASE=M`, the first seed) runs more:
//! `HISTORY_CASES=2000 HISTORY_BASE=$RANDOM cargo test --release --test history`;
//! `HISTORY_VERBOSE=1` prints every history played.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::job::{Row, done_rows, input_text, recorded, requested, row, uuid_of, whole_lines};
use common::{TestServer, Workdir, wait_for_main};
use tecalis_status::sandbox::Process;

const REHEARSE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/rehearse.sh");
const RESULTS: &str = "in.results.csv";
const JOB: &str = "in.results.csv.job.json";

/// One history: the job's directory, its sandbox, its input, and what happened so far.
struct History {
    seed: u64,
    rng: StdRng,
    dir: Workdir,
    server: TestServer,
    rows: Vec<Row>,
    /// The input of the last run that wrote the job record.
    last_run: Vec<Row>,
    next_uuid: u64,
    log: Vec<String>,
}

impl History {
    fn new(seed: u64) -> History {
        let mut rng = StdRng::seed_from_u64(seed);
        let others = rng.random_range(0..=2usize);
        let other_uuids: Vec<String> = (0..others).map(|i| uuid_of(1000 + i as u64)).collect();
        let server = TestServer::start(|c| {
            c.accept_unknown = true;
            c.latency = Duration::from_millis(5);
            c.jitter = Duration::from_millis(10);
            c.error_rate = 0.05;
            c.drop_rate = 0.02;
            c.slow_rate = 0.03;
            c.slow_delay = Duration::from_millis(150);
            for u in &other_uuids {
                c.processes
                    .push(Process::new(u.parse().expect("a UUID"), "another-customer"));
            }
        });
        let n = rng.random_range(8..30u64);
        let mut rows: Vec<Row> = (1..=n).map(|i| row(i, &mut rng)).collect();
        rows.extend(other_uuids.iter().map(|u| Row {
            uuid: u.clone(),
            state: "KO".into(),
            reasons: String::new(),
        }));
        let dir = Workdir::new();
        dir.write("in.csv", input_text(&rows));
        History {
            seed,
            rng,
            dir,
            server,
            rows,
            last_run: Vec::new(),
            next_uuid: n + 1,
            log: Vec::new(),
        }
    }

    /// Fails with the seed, the history so far and how to replay it.
    fn fail(&self, what: String) -> ! {
        panic!(
            "history seed {} failed: {what}\nhistory:\n  {}\nreplay: HISTORY_SEED={} cargo test --test history",
            self.seed,
            self.log.join("\n  "),
            self.seed
        )
    }

    fn check(&self, holds: bool, what: impl FnOnce() -> String) {
        if !holds {
            self.fail(what());
        }
    }

    fn results_text(&self) -> String {
        std::fs::read_to_string(self.dir.path(RESULTS)).unwrap_or_default()
    }

    fn job_text(&self) -> String {
        std::fs::read_to_string(self.dir.path(JOB)).unwrap_or_default()
    }

    /// The requests received after the first `from`.
    fn sent_since(&self, from: usize) -> Vec<Row> {
        self.server.received()[from..]
            .iter()
            .filter_map(requested)
            .collect()
    }

    /// `run in.csv` with `mode`, to its end or stopped by `signal` after `after_ms`; then the
    /// invariants of a run: every request is a row of the input with its cells, and a resume
    /// sends no row already ok.
    fn run(&mut self, mode: &str, signal: Option<(&str, u64)>) {
        let before = self.server.received().len();
        let done = done_rows(&whole_lines(&self.results_text()));
        let job_before = self.job_text();
        let url = self.server.url();
        let mut args = vec!["--concurrency", "3", "--rate", "400", "--timeout", "5s"];
        if !mode.is_empty() {
            args.push(mode);
        }
        let cmd = self.dir.run_at(&url, "in.csv", &args);
        let code = match signal {
            None => cmd.run().code,
            Some((name, after_ms)) => {
                let mut child = cmd.spawn();
                // From the first line of `main`: before it the process is the loader's, and
                // a signal takes its default action whatever the program does.
                if name != "KILL" {
                    wait_for_main(&mut child);
                }
                std::thread::sleep(Duration::from_millis(after_ms));
                let _ = std::process::Command::new("kill")
                    .args([&format!("-{name}"), &child.id().to_string()])
                    .status();
                let code = child.wait().expect("the run ends").code().unwrap_or(-1);
                // Handlers from process start: a SIGINT or SIGTERM never kills the run.
                if name != "KILL" && code == -1 {
                    self.fail(format!("SIG{name} after {after_ms} ms killed the run"));
                }
                code
            }
        };
        self.log.push(format!(
            "run {mode} {signal:?} -> exit {code} ({} rows in input)",
            self.rows.len()
        ));
        if self.job_text() != job_before {
            self.last_run = self.rows.clone();
            // A run that ended by itself or on a signal (130) accounts for every row it had.
            if [0, 3, 130].contains(&code) {
                let (rows, recorded) = self.last_run_recorded();
                self.check(rows == recorded, || {
                    format!("the run ended {code} with {recorded} of its {rows} rows recorded")
                });
            }
        }
        let input: HashSet<&Row> = self.rows.iter().collect();
        for sent in self.sent_since(before) {
            self.check(input.contains(&sent), || {
                format!("sent {sent:?}, which is not a row of the input")
            });
            if mode == "--resume" {
                self.check(done.get(&sent.uuid) != Some(&sent), || {
                    format!("the resume sent {sent:?} again, already ok in the results")
                });
            }
        }
    }

    /// The rows of the last run by its job record, and how many whole lines it recorded.
    fn last_run_recorded(&self) -> (u64, u64) {
        recorded(&self.job_text(), &self.results_text())
    }

    /// Cuts 1 to 40 bytes off the results file's end (a crash while writing).
    fn cut_tail(&mut self) {
        let text = self.results_text();
        if text.is_empty() {
            return;
        }
        let cut = self.rng.random_range(1..=40usize).min(text.len());
        let path = self.dir.path(RESULTS);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open the results");
        file.set_len((text.len() - cut) as u64).expect("cut");
        self.log.push(format!("cut {cut} bytes off the results"));
    }

    /// Changes a state, adds a row or removes one.
    fn edit(&mut self) {
        let what = self.rng.random_range(0..3);
        match what {
            0 if !self.rows.is_empty() => {
                let i = self.rng.random_range(0..self.rows.len());
                let state = ["OK", "KO", "CANCELLED"][self.rng.random_range(0..3)];
                self.rows[i].state = state.to_string();
                self.log.push(format!("edit: line {} -> {state}", i + 2));
            }
            1 => {
                let new = row(self.next_uuid, &mut self.rng);
                self.next_uuid += 1;
                self.log.push(format!("edit: add {}", new.uuid));
                self.rows.push(new);
            }
            _ if self.rows.len() > 1 => {
                let i = self.rng.random_range(0..self.rows.len());
                let gone = self.rows.remove(i);
                self.log.push(format!("edit: remove {}", gone.uuid));
            }
            _ => {}
        }
        self.dir.write("in.csv", input_text(&self.rows));
    }

    /// A rehearsal beside the job, with flags that once made it touch the job: the job's
    /// files and the sandbox's record are untouched.
    fn rehearse(&mut self) -> Option<i32> {
        let choice = self.rng.random_range(0..5);
        self.rehearse_with(choice)
    }

    fn rehearse_with(&mut self, choice: u32) -> Option<i32> {
        let url = self.server.url();
        let flags: Vec<&str> = match choice {
            0 => vec![],
            1 => vec!["--summary-json", "s.json"],
            2 => vec!["--resume"],
            3 => vec!["-o", RESULTS, "--force"],
            _ => vec!["--url", &url],
        };
        let (results, job, received) = (
            self.results_text(),
            self.job_text(),
            self.server.received().len(),
        );
        let out = std::process::Command::new("bash")
            .arg(REHEARSE)
            .arg("in.csv")
            .args(&flags)
            .args(["--rate", "400"])
            .current_dir(self.dir.path(""))
            .env("TECALIS_BIN", env!("CARGO_BIN_EXE_tecalis-status"))
            .env_remove("TECALIS_URL")
            .env_remove("TECALIS_API_KEY")
            .output()
            .expect("bash runs");
        self.log.push(format!(
            "rehearse {flags:?} -> exit {:?}",
            out.status.code()
        ));
        self.check(
            self.results_text() == results && self.job_text() == job,
            || "the rehearsal changed the job's results or job record".into(),
        );
        self.check(self.server.received().len() == received, || {
            "the rehearsal sent to the job's server".into()
        });
        out.status.code()
    }

    /// `report`: Complete (exit 0) only when the sandbox holds every row of the last run.
    fn report(&mut self) {
        if !self.dir.exists(RESULTS) {
            return;
        }
        let out = self.dir.cmd(&["report", RESULTS]).run();
        self.log.push(format!("report -> exit {}", out.code));
        // The job record and the whole lines say what report must say.
        if let Ok(job) = serde_json::from_str::<serde_json::Value>(&self.job_text()) {
            let rows = job["rows"].as_u64().unwrap_or(0);
            let before = job["lines_before"].as_u64().unwrap_or(0) as usize;
            let lines = whole_lines(&self.results_text());
            let last_run = lines.get(before..).unwrap_or_default();
            let already = job["already_recorded"].as_u64().unwrap_or(0);
            let missing = rows.saturating_sub(last_run.len() as u64 + already);
            let all_ok = last_run
                .iter()
                .all(|l| l.outcome == "ok" || l.outcome == "skipped");
            let expected = format!("INCOMPLETE: {missing} of the last run's {rows} rows");
            self.check(missing == 0 || out.stdout.contains(&expected), || {
                format!("report should say {expected:?}:\n{}", out.describe())
            });
            self.check(missing > 0 || !all_ok || out.code == 0, || {
                format!(
                    "every row of the last run is recorded ok, but report says otherwise:\n{}",
                    out.describe()
                )
            });
        }
        if out.code != 0 {
            self.check(out.code == 3 || out.code == 1, || {
                format!("report exit {}: {}", out.code, out.describe())
            });
            return;
        }
        self.check(out.stdout.contains("Complete: every row ended ok."), || {
            out.describe()
        });
        for row in &self.last_run {
            let held = self.server.process(&row.uuid).status;
            self.check(held.eq_ignore_ascii_case(&row.state), || {
                format!(
                    "report says Complete, but the sandbox holds {held} for {row:?}\n{}",
                    out.describe()
                )
            });
        }
    }

    /// `report --export-failed`, then the next step it prints: resume, or run the export;
    /// neither sends a row already ok.
    fn export_and_follow(&mut self) {
        if !self.dir.exists(RESULTS) || self.job_text().is_empty() {
            return;
        }
        let out = self
            .dir
            .cmd(&["report", RESULTS, "--export-failed", "retry.csv", "--force"])
            .run();
        self.log
            .push(format!("report --export-failed -> exit {}", out.code));
        let resume = out.stdout.contains("--resume");
        let run_export = out.stdout.contains("correct them and run that file");
        self.check(!(resume && run_export), || {
            format!("both resume and run the export:\n{}", out.describe())
        });
        if run_export {
            let done = done_rows(&whole_lines(&self.results_text()));
            let before = self.server.received().len();
            let url = self.server.url();
            let args = ["-o", "retry.results.csv", "--force", "--rate", "400"];
            let code = self.dir.run_at(&url, "retry.csv", &args).run().code;
            self.log.push(format!("run the export -> exit {code}"));
            for sent in self.sent_since(before) {
                self.check(done.get(&sent.uuid) != Some(&sent), || {
                    format!("running the export sent {sent:?}, already ok")
                });
            }
        } else if resume {
            self.run("--resume", None);
        }
    }

    fn step(&mut self) {
        let after = self.rng.random_range(0..600);
        let mode = ["", "--resume", "--resume", "--force"][self.rng.random_range(0..4)];
        match self.rng.random_range(0..10) {
            0..=1 => self.run(mode, None),
            2 => self.run(mode, Some(("INT", after))),
            3 => self.run(mode, Some(("TERM", after))),
            4 => self.run(mode, Some(("KILL", after))),
            5 => self.cut_tail(),
            6 => self.edit(),
            7 => drop(self.rehearse()),
            8 => self.report(),
            _ => self.export_and_follow(),
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn random_histories_of_one_job_keep_its_promises() {
    let seeds: Vec<u64> = match env_u64("HISTORY_SEED") {
        Some(seed) => vec![seed],
        None => {
            let base = env_u64("HISTORY_BASE").unwrap_or(1);
            (base..base + env_u64("HISTORY_CASES").unwrap_or(20)).collect()
        }
    };
    let steps = env_u64("HISTORY_STEPS").unwrap_or(10);
    for seed in seeds {
        let mut history = History::new(seed);
        for _ in 0..steps {
            history.step();
        }
        // Whatever happened, the advice at the end is safe to follow.
        history.export_and_follow();
        history.report();
        if std::env::var_os("HISTORY_VERBOSE").is_some() {
            eprintln!("seed {seed}:\n  {}", history.log.join("\n  "));
        }
    }
}

/// The rehearsal once wrote the real job's results when given --summary-json, and sent to
/// any --url: it must refuse those and leave the job as it was.
#[test]
fn a_rehearsal_beside_a_job_never_touches_it() {
    let mut history = History::new(7);
    history.run("", None);
    // Plain, --summary-json, --resume: rehearsed into its own files (exit 3: the 401 row).
    for choice in 0..3 {
        let code = history.rehearse_with(choice);
        history.check(code == Some(3), || {
            format!("rehearsal {choice}: exit {code:?}")
        });
    }
    // The resume appended the rows not ok (the 401s) and no line for the rows already ok.
    let rehearsal = history.dir.results("in.rehearsal.csv");
    let first = history.rows.len();
    history.check(
        rehearsal.len() > first
            && rehearsal[first..]
                .iter()
                .all(|l| l["outcome"] == "unauthorized"),
        || "the rehearsal's own results hold its runs".into(),
    );
    // Onto the job's results, or to another server: refused, nothing run.
    for choice in 3..5 {
        let code = history.rehearse_with(choice);
        history.check(code == Some(2), || {
            format!("rehearsal {choice}: exit {code:?}")
        });
    }
}
