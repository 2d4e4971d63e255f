//! The `validate` and `run` commands: the data flow from the input file to the summary.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use tracing_indicatif::span_ext::IndicatifSpanExt;

use crate::cli::{InputArgs, RunArgs, ValidateArgs};
use crate::client::Client;
use crate::config::{KeySource, Plan};
use crate::exit::ExitCode;
use crate::input::{InputError, ReadOptions, Source};
use crate::report::{Outcome, ResultsWriter, RowResult, result_header};
use crate::resume::{Done, read_done};
use crate::retry::RetryPolicy;
use crate::runner::{self, Item, Sender, Stop, StopReason};
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::summary::{Audit, Collector, summary_json};
use crate::validate::{Checked, Rules, Scan, State, Validator};

/// The multi-threaded runtime that the network commands run on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Prints an input error and gives the exit code it calls for.
fn input_failure(error: InputError) -> ExitCode {
    eprintln!("error: {error}");
    if error.is_invalid_input() {
        ExitCode::InvalidInput
    } else {
        ExitCode::Fatal
    }
}

/// The input, how to read it and the rules to check it by, from the command line. Standard
/// input is spooled when the input will be read twice (`spool`).
fn open_input(args: &InputArgs, spool: bool) -> Result<(Source, ReadOptions, Rules), InputError> {
    let (options, rules) = input_settings(args)?;
    let source = if spool {
        Source::open(&args.input)?
    } else {
        Source::open_once(&args.input)?
    };
    Ok((source, options, rules))
}

/// The reading options and validation rules from the command line.
fn input_settings(args: &InputArgs) -> Result<(ReadOptions, Rules), InputError> {
    let options = ReadOptions::new(args.delimiter, args.encoding.as_deref())?;
    let rules = Rules {
        default_reasons: args
            .reasons
            .as_ref()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty()),
        max_reasons_len: args.max_reasons_len,
    };
    Ok((options, rules))
}

/// Opens the input and scans every row; prints each problem and the counts.
fn scan_input(source: &Source, options: &ReadOptions, rules: &Rules) -> Result<Scan, InputError> {
    let mut reader = source.reader(options)?;
    let scan = crate::validate::scan(&mut reader, rules)?;
    let file = source.display();
    let mut out = std::io::stderr().lock();
    for problem in &scan.problems {
        let _ = writeln!(out, "{}", problem.render(file));
    }
    if scan.rows > 0 && !crate::logging::quiet() {
        let _ = writeln!(out, "{file}: {}", scan_counts(&scan));
    }
    Ok(scan)
}

/// One line of counts: rows, valid, invalid, per state.
fn scan_counts(scan: &Scan) -> String {
    format!(
        "{} rows: {} valid ({}), {} invalid",
        scan.rows,
        scan.valid,
        per_state(scan),
        scan.invalid()
    )
}

fn per_state(scan: &Scan) -> String {
    State::ALL
        .iter()
        .map(|s| format!("{s} {}", scan.per_state[s.index()]))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `validate INPUT`: every problem, the counts, exit 0 or 4.
pub fn validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let scanned = open_input(&args.input, false)
        .and_then(|(source, options, rules)| Ok((scan_input(&source, &options, &rules)?, source)));
    let (scan, source) = match scanned {
        Ok(scanned) => scanned,
        Err(e) => return Ok(input_failure(e)),
    };
    let file = source.display();
    if scan.rows == 0 {
        if !crate::logging::quiet() {
            eprintln!("{file}: the header is fine and there are no rows: nothing to do");
        }
        return Ok(ExitCode::Success);
    }
    if scan.invalid() > 0 {
        eprintln!(
            "{file}: {} problem(s) in {} row(s); fix them, or let `run --skip-invalid` record those rows as invalid and send the rest",
            scan.problems.len(),
            scan.invalid()
        );
        Ok(ExitCode::InvalidInput)
    } else {
        if !crate::logging::quiet() {
            eprintln!("{file}: every row is valid");
        }
        Ok(ExitCode::Success)
    }
}

/// What identifies the input's content, for the audit and to notice a file that changes
/// between validation and sending.
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    sha256: String,
    len: u64,
    modified: Option<SystemTime>,
}

fn fingerprint(path: &Path) -> std::io::Result<Fingerprint> {
    let mut file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
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
    rules: Rules,
) -> anyhow::Result<ExitCode> {
    let sandbox = if args.sandbox {
        let sandbox = Sandbox::start("127.0.0.1:0", SandboxConfig::default()).await?;
        tracing::info!("started the built-in sandbox at {}", sandbox.url());
        Some(sandbox)
    } else {
        None
    };
    let plan = Plan::from_args(
        args,
        source.path(),
        source.is_stdin(),
        sandbox.as_ref().map(|s| s.url()).as_deref(),
    )?;
    let started_at = SystemTime::now();
    let before =
        fingerprint(source.path()).with_context(|| format!("cannot read {}", source.display()))?;
    let scan = match scan_input(&source, &options, &rules) {
        Ok(scan) => scan,
        Err(e) => return Ok(input_failure(e)),
    };
    let file = source.display();
    if scan.rows == 0 {
        if !crate::logging::quiet() {
            eprintln!(
                "{file}: the header is fine and there are no rows: nothing to do, nothing sent"
            );
        }
        return Ok(ExitCode::Success);
    }
    if scan.invalid() > 0 && !plan.skip_invalid && !plan.dry_run {
        eprintln!(
            "{file}: {} invalid row(s): nothing was sent. Fix them, or pass --skip-invalid to send the {} valid row(s) and record the others as invalid",
            scan.invalid(),
            scan.valid
        );
        return Ok(ExitCode::InvalidInput);
    }
    if scan.rows_without_key > 0 && plan.key.is_none() {
        bail!(
            "no API key: set TECALIS_API_KEY or pass --api-key-file PATH (or fill the api_key column of every row)"
        );
    }
    if !plan.dry_run && scan.valid > 0 {
        match confirm(args.yes, &plan, &scan) {
            Confirmation::Go => {}
            Confirmation::Refused(message) => {
                eprintln!("{message}");
                return Ok(ExitCode::Usage);
            }
        }
    }
    let done = if plan.resume {
        read_done(&plan.output)?
    } else {
        Done::default()
    };
    let reader = source
        .reader(&options)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let header = result_header(
        &reader
            .columns()
            .extras
            .iter()
            .map(|(_, n)| n.clone())
            .collect::<Vec<_>>(),
    );
    if !done.header.is_empty() && done.header != header {
        bail!(
            "{} has other columns than this input would write (the extra input columns differ); write to a new --output",
            plan.output.display()
        );
    }
    let writer = ResultsWriter::create(
        &plan.output,
        plan.existing,
        &header[crate::report::RESULT_COLUMNS.len()..],
    )?;
    if plan.resume && !done.is_empty() {
        tracing::info!(
            "resuming: {} row(s) already ok in {} are skipped",
            done.len(),
            plan.output.display()
        );
    }
    let after =
        fingerprint(source.path()).with_context(|| format!("cannot read {}", source.display()))?;
    if after != before {
        bail!(
            "{file} changed while it was being validated; nothing was sent. Run again on a file that is not being written"
        );
    }

    let stop = Arc::new(Stop::default());
    let client = if plan.dry_run {
        None
    } else {
        Some(Client::new(
            plan.endpoint.clone(),
            plan.timeout,
            plan.connect_timeout,
            plan.concurrency,
        )?)
    };
    let policy = RetryPolicy {
        retries: plan.retries,
        max_retry_after: args.max_retry_after,
        ..RetryPolicy::default()
    };
    let sender = Arc::new(Sender::new(
        client,
        plan.key.clone(),
        plan.rate,
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
    let signal_stop = stop.clone();
    let mut signals =
        crate::signals::Signals::listen().context("cannot install the signal handlers")?;
    let signals = tokio::spawn(async move {
        signals.recv().await;
        signal_stop.stop(StopReason::Interrupted);
        eprintln!(
            "interrupted: finishing the requests in flight and flushing the results; press Ctrl-C again to quit at once"
        );
        signals.recv().await;
        eprintln!(
            "interrupted again: quitting now; every finished row is already in the results file"
        );
        std::process::exit(ExitCode::Interrupted.code().into());
    });

    let span = tracing::info_span!("run", indicatif.pb_show = tracing::field::Empty);
    if progress {
        span.pb_set_style(&progress_style());
        span.pb_set_length(scan.rows);
    }
    let collector_span = span.clone();
    let mut collector = Collector::new(
        writer,
        stop.clone(),
        scan.rows,
        plan.max_unauthorized,
        collector_span,
        progress,
    );
    let validator = scan.validator.clone().expect("the scan sets the validator");
    let mut feed = Feed::new(reader, validator, done);
    let outcome = {
        let _entered = span.enter();
        runner::run(
            sender,
            futures::stream::iter(&mut feed),
            &mut collector,
            plan.concurrency,
            plan.canary,
            args.log_every,
        )
        .await
    };
    signals.abort();
    drop(span);
    outcome?;
    if let Some(e) = feed.error.take() {
        bail!("reading {file} a second time failed, after the rows above were recorded: {e}");
    }
    let (tally, results) = collector.finish();
    eprint!("{}", tally.render(&results));
    let mut exit = tally.exit_code();
    if plan.dry_run {
        eprintln!(
            "Dry run: nothing was sent. {}",
            if scan.invalid() > 0 {
                "Fix the invalid rows before the real run."
            } else {
                "Every row is valid."
            }
        );
        exit = if scan.invalid() > 0 {
            ExitCode::InvalidInput
        } else {
            ExitCode::Success
        };
    }
    if matches!(
        tally.stopped,
        Some(
            StopReason::Interrupted
                | StopReason::WrongKey
                | StopReason::TooManyUnauthorized
                | StopReason::CanaryFailed
        )
    ) || tally.count(Outcome::Failed) > 0
    {
        eprintln!(
            "To send the rows that did not end ok (rows already ok are not sent again), run:\n  {}",
            resume_command(std::env::args_os())
        );
    }
    if let Some(path) = &plan.summary_json {
        let audit = Audit {
            input: file.to_string(),
            input_sha256: before.sha256.clone(),
            url: plan.endpoint.to_string(),
            results: results.clone(),
            dry_run: plan.dry_run,
            started_at,
        };
        let json = serde_json::to_string_pretty(&summary_json(&tally, &audit, exit))
            .expect("JSON values serialise");
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write the summary {}", path.display()))?;
    }
    if let Some(sandbox) = sandbox {
        sandbox.stop().await;
    }
    Ok(exit)
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

fn progress_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(
        "{bar:30} {pos}/{len} rows · {msg} · {elapsed} · ETA {eta}",
    )
    .expect("the template is valid")
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
