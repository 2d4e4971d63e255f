//! `run INPUT`: validate everything, check the plan, confirm, then send every row through the
//! runner into the results file, and summarise.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;

mod confirm;
mod end;
mod feed;
mod open;
mod prepare;
mod resume_command;
mod sending;

use end::{summary_output, write_summary_json};

use confirm::Prompt;
use feed::Feed;
use open::open_results;
use sending::{Around, send};

use crate::cli::RunArgs;
use crate::config::{Plan, SummaryFile};
use crate::exit::ExitCode;
use crate::files::Output;
use crate::results::{JobRecord, job_path, new_key_salt};
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::send::Tally;
use crate::summary::{Audit, summary_json};

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
    // Read at the door, so that the JSON summary is written even when the flags make no plan.
    let summary = SummaryFile::from_args(args);
    let mut ending = Ending::default();
    if let Some(summary) = &summary {
        let audit = door_audit(args, started_at, None);
        crate::signals::on_second(end::quit_summary(summary, &audit, None, false));
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_inner(args, progress, &mut ending)
    }));
    // `said`: the message of a run that stopped before sending, already printed.
    let (code, error, said) = match result {
        Ok(Ok(code)) => (code, None, None),
        Ok(Err(error)) => match error.downcast::<prepare::Early>() {
            Ok(early) => (early.code, None, Some(early.message)),
            Err(error) => (crate::exit::code_for_error(&error), Some(error), None),
        },
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
                None,
            )
        }
    };
    if let Some(summary) = &summary {
        let audit = ending
            .audit
            .unwrap_or_else(|| door_audit(args, started_at, ending.output.clone()));
        let tally = ending.tally.unwrap_or_else(Tally::empty);
        let mut json = summary_json(&tally, &audit, code);
        // Every run that did not succeed says why, whatever stopped it.
        let why = match (&error, said) {
            (Some(error), _) => Some(format!("{error:#}")),
            (None, Some(said)) if code != ExitCode::Success => Some(said),
            _ => None,
        };
        if let Some(why) = why {
            json["error"] = why.into();
        }
        if code == ExitCode::Interrupted && json["stopped"].is_null() {
            json["stopped"] = "interrupted".into();
        }
        if let Err(e) = write_summary_json(summary, ending.output.as_deref(), &json)
            && error.is_none()
        {
            // With an error of the run's own, that one is said (it is usually the same).
            crate::logging::error(&format!("{e:#}"));
            return Ok(code.merge(ExitCode::Fatal));
        }
    }
    match error {
        Some(error) => Err(error),
        None => Ok(code),
    }
}

/// The audit fields known at the command's door, before a plan.
fn door_audit(args: &RunArgs, started_at: SystemTime, results: Option<PathBuf>) -> Audit {
    Audit {
        input: args.input.input.display().to_string(),
        input_sha256: String::new(),
        url: String::new(),
        results: results.unwrap_or_default(),
        dry_run: args.dry_run,
        started_at,
    }
}

fn run_inner(args: &RunArgs, progress: bool, ending: &mut Ending) -> anyhow::Result<ExitCode> {
    // One thread: handing each row between threads cost more than the work on the row
    // (measured in BENCHMARKS.md).
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(async {
            let sandbox = match args.sandbox {
                true => {
                    let sandbox = Sandbox::start("127.0.0.1:0", SandboxConfig::default()).await?;
                    tracing::info!("started the built-in sandbox at {}", sandbox.url());
                    Some(sandbox)
                }
                false => None,
            };
            let sandbox_url = sandbox.as_ref().map(|s| s.url());
            // The command's door: from here on, the plan is the whole configuration.
            let plan = Plan::from_args(args, sandbox_url.as_deref(), progress)?;
            let exit = run_plan(&plan, ending).await;
            if let Some(sandbox) = sandbox {
                sandbox.stop().await;
            }
            exit
        })
}

async fn run_plan(plan: &Plan, ending: &mut Ending) -> anyhow::Result<ExitCode> {
    let source = prepare::open(plan).await?;
    let audit = Audit {
        input: match source.is_stdin() {
            true => source.display().to_string(),
            false => absolute(source.path()),
        },
        // Every pass reads the private snapshot taken when the input was opened: this is the
        // hash of exactly what is validated and sent.
        input_sha256: source.sha256().unwrap_or_default().to_string(),
        url: plan.endpoint.to_string(),
        results: PathBuf::from(absolute(&plan.output)),
        dry_run: plan.dry_run,
        started_at: SystemTime::now(),
    };
    ending.audit = Some(audit.clone());
    if let Some(summary) = &plan.summary_json {
        crate::signals::on_second(end::quit_summary(
            summary,
            &audit,
            Some(&plan.output),
            false,
        ));
    }
    // Every output is checked before the input is even scanned: a bad path fails the run
    // before anything is sent or touched.
    let inputs = plan.input.files();
    let mut outputs = vec![
        Output::new("the results file", &plan.output)
            .existing(plan.existing)
            .locked()
            .hint(match plan.dry_run {
                // The results of a real run (its job record is beside it): --force would
                // replace them with the preview, and the job's record of what was applied
                // would be gone.
                true if job_path(&plan.output).exists() => {
                    "it holds the results of a real run (its job record is beside it): choose another --output for the preview, and keep that file for `report` and --resume"
                }
                true => "pass --force to replace it, or --output to write elsewhere",
                // A job: only --resume keeps its ok rows from being sent again.
                false if !plan.sandbox && job_path(&plan.output).exists() => {
                    "it holds a job's results: pass --resume to continue it (rows already ok are not sent again); --force, or another --output, starts a new job that sends every row again, the ones already ok too"
                }
                false => "pass --resume to continue that run, --force to replace it, or --output to write elsewhere",
            }),
    ];
    if !plan.dry_run {
        outputs.push(JobRecord::output(&plan.output));
    }
    if let Some(summary) = &plan.summary_json {
        outputs.push(summary_output(summary));
    }
    ending.output = Some(plan.output.clone());
    let results_file = crate::files::check(&inputs, outputs)?.remove(0);
    let (source, scan) = prepare::scan(plan, source).await?;
    let (results_file, done) = prepare::done(plan, results_file).await?;
    // A resume continues the job of the results file: its record's key fingerprints too, when
    // the record is this user's alone (a planted one could say a wrong key made rows ok).
    let trusted = crate::files::trusted("the job record", &job_path(&plan.output)).is_ok();
    let previous = match plan.resume && trusted && plan.output.exists() {
        true => JobRecord::read(&plan.output).ok().flatten(),
        false => None,
    };
    let target = target_of(plan);
    // Only when the resume would skip rows: with none ok there (a mistyped --url, say, that
    // stopped as unreachable), resuming elsewhere is safe.
    if let Some(before) = previous.as_ref().and_then(|p| p.target.as_deref())
        && !plan.dry_run
        && !done.is_empty()
        && before != target
    {
        let shown = crate::text::shown_path(&plan.output);
        anyhow::bail!(
            "{shown} is the job of rows sent to {}, and this run sends to {}: a resume would skip the rows that ended ok there, which are not ok here; nothing was sent. To send every row to {}, give a new --output; if it is the same service under another address, send only the rows that did not end ok: `tecalis-status report {shown} --export-failed FILE`, then run FILE",
            crate::text::safe_input_text(before),
            crate::text::safe_input_text(&target),
            crate::text::safe_input_text(&target),
        );
    }
    let (source, done, work) = prepare::count_work(plan, source, &scan, done).await?;
    let prompt = Prompt { work };
    prepare::check_before_sending(plan, &scan, source.display(), &prompt).await?;
    let reader = source
        .reader(&plan.input.options)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let writer = open_results(plan, results_file, &reader, &done, &work)?;
    let job = (!plan.dry_run).then(|| JobRecord {
        version: env!("CARGO_PKG_VERSION").to_string(),
        target: Some(target),
        input: (!source.is_stdin())
            .then(|| std::fs::canonicalize(source.path()).ok())
            .flatten(),
        input_sha256: audit.input_sha256.clone(),
        delimiter: reader.delimiter() as char,
        encoding: plan.input.encoding.clone(),
        sheet: reader.sheet().map(String::from),
        columns: reader.columns().names.clone(),
        rows: scan.rows,
        lines_before: done.lines,
        already_recorded: work.already_recorded,
        started_at: humantime::format_rfc3339_millis(audit.started_at).to_string(),
        finished_at: None,
        exit_code: None,
        key_salt: previous
            .as_ref()
            .map(|p| p.key_salt.clone())
            .filter(|salt| !salt.is_empty())
            .unwrap_or_else(new_key_salt),
        keys_ok: previous.map(|p| p.keys_ok).unwrap_or_default(),
        fix_key_first: false,
        quota_until: None,
    });
    if let Some(job) = &job {
        job.write(&plan.output, &inputs)?;
    }
    let key_proof = key_proof(plan, job.as_ref());
    let feed = Feed::new(
        reader,
        scan.validator
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the input was not validated before sending (a bug)"))?,
        done,
    );
    // A second Ctrl-C quits at once: the JSON summary is still written, saying so.
    let on_quit = plan
        .summary_json
        .as_ref()
        .map(|summary| end::quit_summary(summary, &audit, Some(&plan.output), true));
    let around = Around {
        file: source.display(),
        work,
        on_quit,
        key_proven: key_proof.proven,
        on_first_default_key_ok: key_proof.record,
    };
    let tally = send(plan, &scan, feed, writer, around).await?;
    let exit = end::report_end(plan, &scan, &tally, &audit);
    if let Some(mut job) = job {
        if let Some(fingerprint) = key_proof
            .fingerprint
            .filter(|_| key_proof.recorded.load(std::sync::atomic::Ordering::SeqCst))
        {
            job.keys_ok.push(fingerprint);
        }
        job.finished_at = Some(humantime::format_rfc3339_millis(SystemTime::now()).to_string());
        job.exit_code = Some(exit.code());
        job.fix_key_first = end::key_stop(&tally);
        job.quota_until = tally
            .quota
            .as_ref()
            .map(|q| humantime::format_rfc3339_seconds(q.until).to_string());
        job.write(&plan.output, &inputs)?;
    }
    ending.tally = Some(tally);
    Ok(exit)
}

/// What the job knows of the default key: whether it already made rows of the job `ok`
/// (then a resume's first 401s are not a wrong key), and if not, the hook that records it
/// in the job record at the first row it makes `ok`.
struct KeyProof {
    /// The key already made rows of this job ok.
    proven: bool,
    /// Writes the job record with the key's fingerprint added (when not proven yet).
    record: Option<Box<dyn FnOnce() + Send>>,
    /// The fingerprint to add to the record written at the end, once `recorded`.
    fingerprint: Option<String>,
    /// Set by `record` when it ran.
    recorded: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

fn key_proof(plan: &Plan, job: Option<&JobRecord>) -> KeyProof {
    let recorded = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (Some(job), Some(key)) = (job, plan.key.as_ref()) else {
        return KeyProof {
            proven: false,
            record: None,
            fingerprint: None,
            recorded,
        };
    };
    if job.key_made_rows_ok(key) {
        return KeyProof {
            proven: true,
            record: None,
            fingerprint: None,
            recorded,
        };
    }
    let fingerprint = job.key_fingerprint(key);
    let mut proved = job.clone();
    proved.keys_ok.push(fingerprint.clone());
    let output = plan.output.clone();
    let inputs: Vec<PathBuf> = plan
        .input
        .files()
        .into_iter()
        .map(Path::to_path_buf)
        .collect();
    let done = recorded.clone();
    let record = Box::new(move || {
        let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
        match proved.write(&output, &inputs) {
            Ok(()) => done.store(true, std::sync::atomic::Ordering::SeqCst),
            // Not fatal: the job only does not know yet that the key works for it.
            Err(e) => tracing::warn!("could not update the job record: {e:#}"),
        }
    });
    KeyProof {
        proven: false,
        record: Some(record),
        fingerprint: Some(fingerprint),
        recorded,
    }
}

/// A path as an absolute one, for the audit (the file itself may not exist yet).
fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// Where this run sends, as its job record keeps it: the endpoint with any credentials in it
/// hidden, or `sandbox` for a sandbox (`--sandbox`, or a rehearsal's: each start has a new
/// address, and a sandbox job may only be resumed against a sandbox).
fn target_of(plan: &Plan) -> String {
    let rehearsal = std::env::var_os("TECALIS_REHEARSAL_RESUME").is_some();
    match plan.sandbox || rehearsal {
        true => "sandbox".to_string(),
        false => crate::config::redact_userinfo(plan.endpoint.as_str()),
    }
}
