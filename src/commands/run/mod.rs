//! `run INPUT`: validate everything, check the plan, confirm, then send every row through the
//! runner into the results file, and summarise.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, bail};

mod confirm;
mod feed;
mod fingerprint;
mod resume_command;

use confirm::{Confirmation, Prompt, confirm};
use feed::Feed;
use fingerprint::fingerprint;
use resume_command::resume_command;

use super::{input_failure, open_input, scan_input};
use crate::cli::RunArgs;
use crate::client::Client;
use crate::config::{KeySource, Plan};
use crate::exit::ExitCode;
use crate::files::{Checked, Existing, Output};
use crate::input::{CsvInput, ReadOptions, Source};
use crate::results::{Done, read_done};
use crate::results::{JobRecord, Outcome, RESULT_COLUMNS, ResultsWriter, result_header};
use crate::retry::RetryPolicy;
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::send::adaptive::AdaptiveRate;
use crate::send::{self, Collector, Pacer, Stop, Tally, Worker};
use crate::summary::{Audit, summary_json};
use crate::validate::Scan;

/// What is known of a run as it goes, for the JSON summary written at every exit.
#[derive(Debug, Default)]
struct Ending {
    /// The audit fields, once the plan is made.
    audit: Option<Audit>,
    /// The counts, once sending ended.
    tally: Option<Tally>,
    /// The results file, once chosen.
    output: Option<PathBuf>,
}

/// `run INPUT`: validate, plan, confirm, send, record, summarise. Whatever happens after the
/// arguments are parsed (a fatal error, even a bug), `--summary-json` is written with the exit
/// code, so that a cron job never reads the previous run's.
pub fn run(args: &RunArgs, progress: bool) -> anyhow::Result<ExitCode> {
    let started_at = SystemTime::now();
    let mut ending = Ending::default();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_inner(args, progress, &mut ending)
    }));
    let (code, error) = match result {
        Ok(Ok(code)) => (code, None),
        Ok(Err(error)) => (crate::exit::code_for_error(&error), Some(error)),
        Err(_) => {
            // The panic hook has printed what happened; say what it means for the job.
            let recorded = match &ending.output {
                Some(path) => format!(
                    "every row that finished before it is in {}; `tecalis-status report {}` shows them, and the same command with --resume sends the rest",
                    path.display(),
                    resume_command::shell_quote(&path.display().to_string())
                ),
                None => "nothing was sent".to_string(),
            };
            (
                ExitCode::Fatal,
                Some(anyhow::anyhow!(
                    "internal error (a bug in tecalis-status, please report it): {recorded}"
                )),
            )
        }
    };
    if args.summary_json.is_some() {
        let audit = ending.audit.unwrap_or_else(|| Audit {
            input: args.input.input.display().to_string(),
            input_sha256: String::new(),
            url: String::new(),
            results: ending.output.clone().unwrap_or_default(),
            dry_run: args.dry_run,
            started_at,
        });
        let tally = ending.tally.unwrap_or_else(Tally::empty);
        let mut json = summary_json(&tally, &audit, code);
        if let Some(error) = &error {
            json["error"] = serde_json::Value::String(format!("{error:#}"));
        }
        if let Err(e) = write_summary_json(args, ending.output.as_deref(), &json) {
            // The run's own error, if any, matters more; this one is said as well.
            eprintln!("error: {e:#}");
            if error.is_none() {
                return Ok(code.merge(ExitCode::Fatal));
            }
        }
    }
    match error {
        Some(error) => Err(error),
        None => Ok(code),
    }
}

fn run_inner(args: &RunArgs, progress: bool, ending: &mut Ending) -> anyhow::Result<ExitCode> {
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
        .block_on(run_async(args, progress, source, options, rules, ending))
}

async fn run_async(
    args: &RunArgs,
    progress: bool,
    source: Source,
    options: ReadOptions,
    rules: crate::validate::Rules,
    ending: &mut Ending,
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
    ending.audit = Some(audit.clone());
    // Every output is checked before the input is even scanned: a bad path fails the run
    // before anything is sent or touched.
    let inputs = input_paths(&source);
    let mut outputs = vec![
        Output::new("the results file", &plan.output)
            .existing(plan.existing)
            .locked()
            .hint("pass --resume to continue that run, --force to replace it, or --output to write elsewhere"),
    ];
    if !plan.dry_run {
        outputs.push(JobRecord::output(&plan.output));
    }
    if let Some(path) = &args.summary_json {
        outputs.push(summary_output(path, args));
    }
    ending.output = Some(plan.output.clone());
    let results_file = crate::files::check(&inputs, outputs)?.remove(0);
    let scan = match scan_input(&source, &options, &rules) {
        Ok(scan) => scan,
        Err(e) => return Ok(input_failure(e)),
    };
    let done = if plan.resume {
        read_done(&plan.output)?
    } else {
        Done::default()
    };
    let prompt = Prompt {
        already_ok: done.len(),
    };
    if let Some(code) = check_before_sending(args, &plan, &scan, source.display(), &prompt).await? {
        return Ok(code);
    }
    let reader = source
        .reader(&options)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let writer = open_results(&plan, results_file, &reader, &done)?;
    let unchanged = before
        .still_matches(source.path())
        .with_context(|| format!("cannot read {}", source.display()))?;
    if !unchanged {
        bail!(
            "{} changed while it was being validated; nothing was sent. Run again on a file that is not being written",
            source.display()
        );
    }
    let job = (!plan.dry_run).then(|| JobRecord {
        version: env!("CARGO_PKG_VERSION").to_string(),
        input: (!source.is_stdin())
            .then(|| std::fs::canonicalize(source.path()).ok())
            .flatten(),
        input_sha256: audit.input_sha256.clone(),
        delimiter: reader.delimiter() as char,
        encoding: args.input.encoding.clone(),
        columns: reader.columns().names.clone(),
        rows: scan.rows,
        lines_before: done.lines,
        started_at: humantime::format_rfc3339_millis(audit.started_at).to_string(),
        finished_at: None,
        exit_code: None,
    });
    if let Some(job) = &job {
        job.write(&plan.output, &inputs)?;
    }
    let feed = Feed::new(
        reader,
        scan.validator.clone().expect("the scan sets the validator"),
        done,
    );
    let (tally, results) =
        send(args, &plan, &scan, feed, writer, progress, source.display()).await?;
    let exit = report_end(&plan, &scan, &tally, &results);
    if let Some(mut job) = job {
        job.finished_at = Some(humantime::format_rfc3339_millis(SystemTime::now()).to_string());
        job.exit_code = Some(exit.code());
        job.write(&plan.output, &inputs)?;
    }
    ending.tally = Some(tally);
    if let Some(sandbox) = sandbox {
        sandbox.stop().await;
    }
    Ok(exit)
}

/// Everything that stops a run before anything is sent: nothing to do, invalid rows, no key,
/// no confirmation. `Some(code)` to stop with.
async fn check_before_sending(
    args: &RunArgs,
    plan: &Plan,
    scan: &Scan,
    file: &str,
    prompt: &Prompt,
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
        && let Confirmation::Refused(message) = confirm(args.yes, plan, scan, prompt).await
    {
        eprintln!("{message}");
        return Ok(Some(ExitCode::Usage));
    }
    Ok(None)
}

/// The input files a run reads, which no output may be: none for standard input (its spool is
/// private).
fn input_paths(source: &Source) -> Vec<&Path> {
    if source.is_stdin() {
        Vec::new()
    } else {
        vec![source.path()]
    }
}

/// `--summary-json` as an output: replaced with --force, and by the runs of the same job
/// (--resume), whose command repeats the flag.
fn summary_output(path: &Path, args: &RunArgs) -> Output {
    Output::new("the JSON summary", path)
        .existing(if args.force || args.resume {
            Existing::Replace
        } else {
            Existing::Refuse
        })
        .by_rename()
        .hint("pass --force to replace it, or choose another --summary-json")
}

/// Opens (and locks) the checked results file, checking first that appending keeps its
/// columns.
fn open_results(
    plan: &Plan,
    checked: Checked,
    reader: &CsvInput,
    done: &Done,
) -> anyhow::Result<ResultsWriter> {
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
    let file = checked
        .open()?
        .into_file()
        .map_err(|_| anyhow::anyhow!("the results file is written in place"))?;
    let writer = ResultsWriter::new(
        file,
        &plan.output,
        plan.existing == Existing::Append,
        &header[RESULT_COLUMNS.len()..],
    )?;
    if writer.torn_bytes_cut > 0 {
        tracing::warn!(
            "{}: cut off a torn last line ({} bytes) left by a run that was stopped while writing; that row is sent again",
            plan.output.display(),
            writer.torn_bytes_cut
        );
    }
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
    let pacer = Arc::new(Pacer::new(plan.rate.per_second));
    let mut worker = Worker::new(
        client,
        plan.key.clone(),
        pacer.clone(),
        policy,
        stop.clone(),
    );
    if let Some(max) = plan.auto_max_rate {
        worker = worker.with_auto_rate(AdaptiveRate::new(max.per_second));
    }
    let worker = Arc::new(worker);
    if !plan.dry_run {
        tracing::info!(
            "sending {} row(s) to {} (key from {}), at most {} at once, {}",
            scan.valid,
            plan.endpoint,
            describe_key_source(&plan.key_source),
            plan.concurrency,
            match plan.auto_max_rate {
                Some(max) => format!(
                    "--rate auto from {}/s up to {}/s at most",
                    plan.rate.per_second, max.per_second
                ),
                None => format!("{} per second", plan.rate.per_second),
            }
        );
    }
    let signals = crate::signals::stop_on_signal(stop.clone())
        .context("cannot install the signal handlers")?;
    let display = crate::progress::Progress::new(scan.rows, progress, args.log_every);
    let mut collector = Collector::new(writer, stop, plan.max_unauthorized, display);
    if plan.auto_max_rate.is_some() {
        collector.show_rate(pacer);
    }
    let items = futures::stream::iter(&mut feed);
    let outcome = send::run(
        worker.clone(),
        items,
        &mut collector,
        plan.concurrency,
        plan.canary,
    )
    .await;
    signals.abort();
    outcome?;
    if let Some(e) = feed.error.take() {
        bail!("reading {file} a second time failed, after the rows above were recorded: {e}");
    }
    let (mut tally, results) = collector.finish()?;
    // A dry run sends nothing: the controller found nothing to tell.
    tally.auto_rate = worker
        .auto_rate()
        .filter(|_| tally.sent > 0 && !plan.dry_run);
    Ok((tally, results))
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

/// Writes the JSON summary by the rule of every output: never onto the input or the results
/// file, never through a link, replaced only when allowed.
fn write_summary_json(
    args: &RunArgs,
    results: Option<&Path>,
    json: &serde_json::Value,
) -> anyhow::Result<()> {
    let Some(path) = &args.summary_json else {
        return Ok(());
    };
    let text = serde_json::to_string_pretty(json).expect("JSON values serialise") + "\n";
    let inputs: Vec<&Path> = match args.input.input.as_os_str() == "-" {
        true => Vec::new(),
        false => vec![&args.input.input],
    };
    // The results file is named too, so that the summary is never written over it, even
    // when neither exists yet.
    let mut outputs: Vec<Output> = results
        .map(|r| Output::new("the results file", r).existing(Existing::Append))
        .into_iter()
        .collect();
    outputs.push(summary_output(path, args));
    let mut file = crate::files::check(&inputs, outputs)?
        .pop()
        .expect("one checked output per output")
        .open()?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write the summary {}", path.display()))?;
    file.commit()?;
    Ok(())
}

fn describe_key_source(source: &KeySource) -> String {
    match source {
        KeySource::Environment => "TECALIS_API_KEY".into(),
        KeySource::File(path) => path.display().to_string(),
        KeySource::Sandbox => "the sandbox's demo key".into(),
        KeySource::None => "the api_key column".into(),
    }
}
