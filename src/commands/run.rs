//! `run INPUT`: validate everything, check the plan, confirm, then send every row through the
//! runner into the results file, and summarise.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use super::{input_failure, open_input, per_state, scan_input};
use crate::cli::RunArgs;
use crate::client::Client;
use crate::config::{KeySource, Plan};
use crate::exit::ExitCode;
use crate::input::{CsvInput, InputError, ReadOptions, Source};
use crate::report::{Outcome, RESULT_COLUMNS, ResultsWriter, RowResult, result_header};
use crate::resume::{Done, read_done};
use crate::retry::RetryPolicy;
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::send::{self, Collector, Item, Pacer, Stop, Tally, Worker};
use crate::summary::{Audit, summary_json};
use crate::validate::{Checked, Scan, Validator};

/// What identifies the input's content, for the audit and to notice a file that changes
/// between validation and sending.
#[derive(Debug)]
struct Fingerprint {
    sha256: String,
    len: u64,
    modified: Option<SystemTime>,
}

fn fingerprint(path: &Path) -> std::io::Result<Fingerprint> {
    let mut file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Fingerprint {
        sha256,
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

impl Fingerprint {
    /// Whether the file still has the size and modification time it had when hashed: a write
    /// changes the modification time, so the file is not read a second time to find out.
    fn still_matches(&self, path: &Path) -> std::io::Result<bool> {
        let meta = std::fs::metadata(path)?;
        Ok(meta.len() == self.len && meta.modified().ok() == self.modified)
    }
}

/// `run INPUT`: validate, plan, confirm, send, record, summarise.
pub fn run(args: &RunArgs, progress: bool) -> anyhow::Result<ExitCode> {
    if args.input.input.as_os_str() == "-" && args.output.is_none() {
        eprintln!("error: the input is standard input, so --output FILE is required");
        return Ok(ExitCode::Usage);
    }
    let (source, options, rules) = match open_input(&args.input, true) {
        Ok(opened) => opened,
        Err(e) => return Ok(input_failure(e)),
    };
    // One thread: handing each row between threads cost more than the work on the row
    // (measured in BENCHMARKS.md).
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(run_async(args, progress, source, options, rules))
}

async fn run_async(
    args: &RunArgs,
    progress: bool,
    source: Source,
    options: ReadOptions,
    rules: crate::validate::Rules,
) -> anyhow::Result<ExitCode> {
    let sandbox = if args.sandbox {
        let sandbox = Sandbox::start("127.0.0.1:0", SandboxConfig::default()).await?;
        tracing::info!("started the built-in sandbox at {}", sandbox.url());
        Some(sandbox)
    } else {
        None
    };
    let sandbox_url = sandbox.as_ref().map(|s| s.url());
    let plan = Plan::from_args(
        args,
        source.path(),
        source.is_stdin(),
        sandbox_url.as_deref(),
    )?;
    let audit = Audit {
        input: source.display().to_string(),
        input_sha256: String::new(),
        url: plan.endpoint.to_string(),
        results: plan.output.clone(),
        dry_run: plan.dry_run,
        started_at: SystemTime::now(),
    };
    let before =
        fingerprint(source.path()).with_context(|| format!("cannot read {}", source.display()))?;
    let audit = Audit {
        input_sha256: before.sha256.clone(),
        ..audit
    };
    let scan = match scan_input(&source, &options, &rules) {
        Ok(scan) => scan,
        Err(e) => return Ok(input_failure(e)),
    };
    if let Some(code) = check_before_sending(args, &plan, &scan, source.display())? {
        write_summary_json(&plan, &Tally::empty(), &audit, code)?;
        return Ok(code);
    }
    let done = if plan.resume {
        read_done(&plan.output)?
    } else {
        Done::default()
    };
    let reader = source
        .reader(&options)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let writer = open_results(&plan, &reader, &done)?;
    let unchanged = before
        .still_matches(source.path())
        .with_context(|| format!("cannot read {}", source.display()))?;
    if !unchanged {
        bail!(
            "{} changed while it was being validated; nothing was sent. Run again on a file that is not being written",
            source.display()
        );
    }
    let feed = Feed::new(
        reader,
        scan.validator.clone().expect("the scan sets the validator"),
        done,
    );
    let (tally, results) =
        send(args, &plan, &scan, feed, writer, progress, source.display()).await?;
    let exit = report_end(&plan, &scan, &tally, &results);
    write_summary_json(&plan, &tally, &audit, exit)?;
    if let Some(sandbox) = sandbox {
        sandbox.stop().await;
    }
    Ok(exit)
}

/// Everything that stops a run before anything is sent: nothing to do, invalid rows, no key,
/// no confirmation. `Some(code)` to stop with.
fn check_before_sending(
    args: &RunArgs,
    plan: &Plan,
    scan: &Scan,
    file: &str,
) -> anyhow::Result<Option<ExitCode>> {
    if scan.rows == 0 {
        if !crate::logging::quiet() {
            eprintln!(
                "{file}: the header is fine and there are no rows: nothing to do, nothing sent"
            );
        }
        return Ok(Some(ExitCode::Success));
    }
    if scan.invalid() > 0 && !plan.skip_invalid && !plan.dry_run {
        eprintln!(
            "{file}: {} invalid row(s): nothing was sent. Fix them, or pass --skip-invalid to send the {} valid row(s) and record the others as invalid",
            scan.invalid(),
            scan.valid
        );
        return Ok(Some(ExitCode::InvalidInput));
    }
    if scan.rows_without_key > 0 && plan.key.is_none() {
        bail!(
            "no API key: set TECALIS_API_KEY or pass --api-key-file PATH (or fill the api_key column of every row)"
        );
    }
    if !plan.dry_run
        && scan.valid > 0
        && let Confirmation::Refused(message) = confirm(args.yes, plan, scan)
    {
        eprintln!("{message}");
        return Ok(Some(ExitCode::Usage));
    }
    Ok(None)
}

/// Opens (and locks) the results file, checking that appending keeps its columns.
fn open_results(plan: &Plan, reader: &CsvInput, done: &Done) -> anyhow::Result<ResultsWriter> {
    let extras: Vec<String> = reader
        .columns()
        .extras
        .iter()
        .map(|(_, n)| n.clone())
        .collect();
    let header = result_header(&extras);
    if !done.header.is_empty() && done.header != header {
        bail!(
            "{} has other columns than this input would write (the extra input columns differ); write to a new --output",
            plan.output.display()
        );
    }
    let writer =
        ResultsWriter::create(&plan.output, plan.existing, &header[RESULT_COLUMNS.len()..])?;
    if plan.resume && !done.is_empty() {
        tracing::info!(
            "resuming: {} row(s) already ok in {} are skipped",
            done.len(),
            plan.output.display()
        );
    }
    Ok(writer)
}

/// Sends every row: the client, the pacer and workers, the signal handlers, the progress bar
/// and the collector, until every row is recorded.
async fn send(
    args: &RunArgs,
    plan: &Plan,
    scan: &Scan,
    mut feed: Feed,
    writer: ResultsWriter,
    progress: bool,
    file: &str,
) -> anyhow::Result<(Tally, PathBuf)> {
    let stop = Arc::new(Stop::default());
    let client = match plan.dry_run {
        true => None,
        false => Some(Client::new(
            plan.endpoint.clone(),
            plan.timeout,
            plan.connect_timeout,
            plan.concurrency,
        )?),
    };
    let policy = RetryPolicy {
        retries: plan.retries,
        max_retry_after: args.max_retry_after,
        ..RetryPolicy::default()
    };
    let worker = Arc::new(Worker::new(
        client,
        plan.key.clone(),
        Arc::new(Pacer::new(plan.rate.per_second)),
        policy,
        stop.clone(),
    ));
    if !plan.dry_run {
        tracing::info!(
            "sending {} row(s) to {} (key from {}), at most {} at once, {} per second",
            scan.valid,
            plan.endpoint,
            describe_key_source(&plan.key_source),
            plan.concurrency,
            plan.rate.per_second
        );
    }
    let signals = crate::signals::stop_on_signal(stop.clone())
        .context("cannot install the signal handlers")?;
    let display = crate::progress::Progress::new(scan.rows, progress, args.log_every);
    let mut collector = Collector::new(writer, stop, plan.max_unauthorized, display);
    let items = futures::stream::iter(&mut feed);
    let outcome = send::run(worker, items, &mut collector, plan.concurrency, plan.canary).await;
    signals.abort();
    outcome?;
    if let Some(e) = feed.error.take() {
        bail!("reading {file} a second time failed, after the rows above were recorded: {e}");
    }
    Ok(collector.finish())
}

/// Prints the summary and what to do next; returns the exit code.
fn report_end(plan: &Plan, scan: &Scan, tally: &Tally, results: &Path) -> ExitCode {
    eprint!("{}", crate::summary::render(tally, results));
    if plan.dry_run {
        let invalid = scan.invalid() > 0;
        eprintln!(
            "Dry run: nothing was sent. {}",
            if invalid {
                "Fix the invalid rows before the real run."
            } else {
                "Every row is valid."
            }
        );
        let code = if invalid {
            ExitCode::InvalidInput
        } else {
            ExitCode::Success
        };
        return code.merge(tally.exit_code());
    }
    let resumable = tally.stopped.is_some() || tally.count(Outcome::Failed) > 0;
    if resumable {
        eprintln!(
            "To send the rows that did not end ok (rows already ok are not sent again), run:\n  {}",
            resume_command(std::env::args_os())
        );
    }
    tally.exit_code()
}

/// Writes `--summary-json`, if asked, also when the run stopped before sending.
fn write_summary_json(
    plan: &Plan,
    tally: &Tally,
    audit: &Audit,
    exit: ExitCode,
) -> anyhow::Result<()> {
    let Some(path) = &plan.summary_json else {
        return Ok(());
    };
    let json = serde_json::to_string_pretty(&summary_json(tally, audit, exit))
        .expect("JSON values serialise");
    std::fs::write(path, json + "\n")
        .with_context(|| format!("cannot write the summary {}", path.display()))
}

/// The command line that resumes this run: the same arguments, without `--force` (which
/// would start over) and with `--resume`. It never holds the key: no flag takes one.
fn resume_command(args: impl Iterator<Item = std::ffi::OsString>) -> String {
    let mut words: Vec<String> = args
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| a != "--force")
        .collect();
    if !words.iter().any(|w| w == "--resume") {
        words.push("--resume".into());
    }
    if let Some(program) = words.first_mut() {
        *program = "tecalis-status".into();
    }
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

fn describe_key_source(source: &KeySource) -> String {
    match source {
        KeySource::Environment => "TECALIS_API_KEY".into(),
        KeySource::File(path) => path.display().to_string(),
        KeySource::Sandbox => "the sandbox's demo key".into(),
        KeySource::None => "the api_key column".into(),
    }
}

/// The second pass over the input: every row validated again (with the duplicates found by
/// the scan) and handed to the runner in order, so memory does not grow with the file. It
/// runs on the runner's own thread: reading a buffered file costs less than handing rows
/// between threads.
struct Feed {
    reader: crate::input::CsvInput,
    columns: crate::input::Columns,
    validator: Validator,
    done: Done,
    record: csv::ByteRecord,
    /// Why reading stopped early, if it did.
    error: Option<InputError>,
}

impl Feed {
    fn new(reader: crate::input::CsvInput, validator: Validator, done: Done) -> Feed {
        Feed {
            columns: reader.columns().clone(),
            reader,
            validator,
            done,
            record: csv::ByteRecord::new(),
            error: None,
        }
    }
}

impl Iterator for Feed {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        let line = match self.reader.next_record(&mut self.record) {
            Ok(line) => line?,
            Err(e) => {
                self.error = Some(e);
                return None;
            }
        };
        Some(
            match self.validator.check(&self.columns, &self.record, line) {
                Checked::Valid(row, request) => {
                    if self.done.contains(&request) {
                        Item::Done(Box::new(RowResult::unsent(
                            row,
                            Outcome::Skipped,
                            "ok in a previous run".into(),
                        )))
                    } else {
                        Item::Send(row, request)
                    }
                }
                Checked::Invalid(row, problems) => {
                    let error = problems
                        .iter()
                        .map(|p| match &p.column {
                            Some(c) => format!("{c}: {}", p.problem),
                            None => p.problem.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    Item::Done(Box::new(RowResult::unsent(row, Outcome::Invalid, error)))
                }
            },
        )
    }
}

/// Whether the user agreed to send.
enum Confirmation {
    Go,
    Refused(String),
}

/// Asks for confirmation on a terminal; refuses without one unless `--yes`.
fn confirm(yes: bool, plan: &Plan, scan: &Scan) -> Confirmation {
    if yes {
        return Confirmation::Go;
    }
    if !std::io::stdin().is_terminal() {
        return Confirmation::Refused(
            "error: refusing to send without confirmation: standard input is not a terminal. Pass --yes to confirm (as a cron job must); nothing was sent".into(),
        );
    }
    eprintln!(
        "About to send {} PATCH request(s) to {}\n  states: {}\n  key from {}{}",
        scan.valid,
        plan.endpoint,
        per_state(scan),
        describe_key_source(&plan.key_source),
        if scan.invalid() > 0 {
            format!(
                "\n  {} invalid row(s) will be recorded as invalid",
                scan.invalid()
            )
        } else {
            String::new()
        }
    );
    eprint!("Type yes to continue: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return Confirmation::Refused("no answer: nothing was sent".into());
    }
    if answer.trim().eq_ignore_ascii_case("yes") || answer.trim().eq_ignore_ascii_case("y") {
        Confirmation::Go
    } else {
        Confirmation::Refused(format!(
            "not confirmed (the answer was {:?}, not yes): nothing was sent",
            answer.trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resume_command_repeats_the_run_with_resume() {
        let args = [
            "/usr/bin/tecalis-status",
            "run",
            "my file.csv",
            "--force",
            "--reasons",
            "it's",
            "--yes",
        ]
        .into_iter()
        .map(std::ffi::OsString::from);
        assert_eq!(
            resume_command(args),
            "tecalis-status run 'my file.csv' --reasons 'it'\\''s' --yes --resume"
        );
        let again = ["x", "run", "a.csv", "--resume"]
            .into_iter()
            .map(std::ffi::OsString::from);
        assert_eq!(resume_command(again), "tecalis-status run a.csv --resume");
    }

    #[test]
    fn fingerprints_change_with_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(&path, "abc").unwrap();
        let a = fingerprint(&path).unwrap();
        assert_eq!(
            a.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        std::fs::write(&path, "abd").unwrap();
        assert_ne!(fingerprint(&path).unwrap().sha256, a.sha256);
    }
}
