//! The end of a run on standard error: the summary (one JSON object with `--log-format
//! json`) and what to do next: the command that resumes, or what to fix before resuming. The
//! dry run's closing line goes to standard output, after its preview. And the JSON summary
//! file (`--summary-json`), written at every exit.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use super::resume_command::resume_command;
use crate::config::{Plan, SummaryFile};
use crate::exit::ExitCode;
use crate::files::{Existing, Output};
use crate::logging::{Level, emit};
use crate::results::Outcome;
use crate::send::{StopReason, Tally};
use crate::summary::Audit;
use crate::validate::Scan;

/// `TECALIS_URL` from the environment, when it is set.
pub(super) fn env_url() -> Option<String> {
    std::env::var("TECALIS_URL").ok()
}

/// The command that resumes this run, as it was run; in a rehearsal (`contrib/rehearse.sh`
/// sets `TECALIS_REHEARSAL_RESUME`), the rehearsal's own command instead: its sandbox is
/// stopped by then, and the run's command would name it.
pub(super) fn this_resume_command() -> String {
    if let Some(rehearsal) = std::env::var("TECALIS_REHEARSAL_RESUME")
        .ok()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
    {
        return format!(
            "{}   (continues the rehearsal against a new sandbox)",
            crate::text::escape_controls(&rehearsal)
        );
    }
    let command = resume_command(std::env::args_os(), env_url().as_deref());
    // A command that reads standard input would wait for it, typed at the terminal.
    match std::env::args_os().skip(2).any(|a| a == "-") {
        true => format!(
            "cat SAME-INPUT-FILE | {command}   (the input was standard input: feed it the same data again)"
        ),
        false => command,
    }
}

/// What `run --sandbox` says when the built-in sandbox answered 401 to the first rows: it
/// knows only the bundled processes, so the user's own file cannot be sent to it.
const SANDBOX_UNKNOWN_ROWS: &str = "The built-in sandbox (--sandbox) knows only the bundled processes (samples/sandbox-processes.json) and answers 401 Not authorized to any other auth_uuid: the key is not what is wrong. To rehearse your own file, run `contrib/rehearse.sh FILE` (a local sandbox that accepts your auth_uuids, with faults), or start `tecalis-status sandbox --accept-unknown --listen 127.0.0.1:8080` and run against it with `--url http://127.0.0.1:8080` (docs/sandbox.md, \"Rehearsing a real file\").";

/// Prints the summary and what to do next; returns the exit code.
pub(super) fn report_end(plan: &Plan, scan: &Scan, tally: &Tally, audit: &Audit) -> ExitCode {
    let exit = match plan.dry_run {
        true if scan.invalid() > 0 => ExitCode::InvalidInput.merge(tally.exit_code()),
        true => ExitCode::Success.merge(tally.exit_code()),
        false => tally.exit_code(),
    };
    let sandbox_unknown = plan.sandbox && tally.stopped == Some(StopReason::WrongKey);
    let mut text = crate::summary::render(tally, &plan.output);
    if sandbox_unknown {
        text = text.replace(
            StopReason::WrongKey.describe(),
            "the first answers were all 401 Not authorized: the built-in sandbox does not know these processes",
        );
    }
    emit(
        Level::Notice,
        "summary",
        &text,
        json!({ "summary": crate::summary::summary_json(tally, audit, exit) }),
    );
    if plan.dry_run {
        finish_preview(plan, tally);
        let invalid = scan.invalid() > 0;
        let previewed = tally.rows();
        // An interrupted dry run stops at once: the rows after it were validated (the counts
        // above say so) but are not in the preview, and that must be said.
        let cut = match previewed < scan.rows {
            true => format!(
                " Interrupted: the preview holds {previewed} of the {} rows; the other {} were validated but not written to it.",
                scan.rows,
                scan.rows - previewed
            ),
            false => String::new(),
        };
        emit(
            Level::Notice,
            "dry_run",
            &format!(
                "Dry run: nothing was sent. {}{cut}",
                match invalid {
                    true => "Fix the invalid rows before the real run.",
                    false => "Every row is valid.",
                }
            ),
            json!({ "invalid": scan.invalid(), "previewed": previewed, "rows": scan.rows }),
        );
        return exit;
    }
    if sandbox_unknown {
        emit(
            Level::Error,
            "next",
            SANDBOX_UNKNOWN_ROWS,
            json!({ "resume_command": null }),
        );
        return exit;
    }
    let wrong_key = key_stop(tally);
    // What a resume would send that may yet end ok: rows never sent (the run stopped before
    // them) and rows that failed for a transient reason. An interruption that cut nothing
    // (the last rows were in flight) leaves nothing to resume: the next step is then the
    // same as after a run that ended by itself, as `report` says too.
    let resumable =
        wrong_key || tally.count(Outcome::Cancelled) > 0 || tally.count(Outcome::Failed) > 0;
    if resumable {
        let command = this_resume_command();
        let text = match (wrong_key, &tally.quota) {
            (false, Some(quota)) => format!(
                "The server takes requests again at {}. At that time or later, run (rows already ok are not sent again):\n  {command}",
                humantime::format_rfc3339_seconds(quota.until)
            ),
            (true, _) => format!(
                "Fix the API key first (TECALIS_API_KEY, --api-key-file, or the api_key column of these rows): resumed with the same key, the rows would be answered 401 again. Then, to send the rows that did not end ok, run:\n  {command}"
            ),
            (false, None) => format!(
                "To send the rows that did not end ok (rows already ok are not sent again), run:\n  {command}"
            ),
        };
        emit(
            Level::Notice,
            "next",
            &text,
            json!({
                "resume_command": command,
                "fix_key_first": wrong_key,
                "takes_requests_again_at": tally.quota.as_ref().map(|q| humantime::format_rfc3339_seconds(q.until).to_string()),
            }),
        );
    } else if tally.count(Outcome::Ok) + tally.count(Outcome::Skipped) < tally.rows() {
        // Nothing to resume (a resume would get the same answers): the rows to correct.
        let command = export_command(&plan.output);
        emit(
            Level::Notice,
            "next",
            &format!(
                "To see the rows that were not applied and write them to a file to correct and run again:\n  {command}"
            ),
            json!({ "resume_command": null, "export_command": command }),
        );
    }
    exit
}

/// Whether the run stopped because of the key, so that the next step is to fix it first:
/// resumed with the same key, the rows would be answered 401 again. A canary that got a 401
/// is such a stop too. The job record keeps it for `report`.
pub(super) fn key_stop(tally: &Tally) -> bool {
    match tally.stopped {
        Some(StopReason::WrongKey | StopReason::TooManyUnauthorized) => true,
        Some(StopReason::CanaryFailed) => tally.count(Outcome::Unauthorized) > 0,
        _ => false,
    }
}

/// `report RESULTS --export-failed NAME.failed.csv`, with the program as it was run.
fn export_command(results: &Path) -> String {
    let program = std::env::args()
        .next()
        .unwrap_or_else(|| "tecalis-status".into());
    let stem = results
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "results".into());
    let stem = stem.strip_suffix(".results").unwrap_or(&stem);
    let export = results.with_file_name(format!("{stem}.failed.csv"));
    [
        program.as_str(),
        "report",
        &results.to_string_lossy(),
        "--export-failed",
        &export.to_string_lossy(),
    ]
    .iter()
    .map(|w| super::resume_command::shell_quote(w))
    .collect::<Vec<_>>()
    .join(" ")
}

/// Closes the dry run's preview on standard output: how many more bodies there are, and
/// where all of them are.
fn finish_preview(plan: &Plan, tally: &Tally) {
    let shown = tally
        .count(Outcome::DryRun)
        .min(crate::progress::PREVIEWS as u64);
    let more = tally.count(Outcome::DryRun) - shown;
    if more > 0 {
        let _ = writeln!(
            std::io::stdout().lock(),
            "… and {more} more (every row is in {})",
            crate::text::shown_path(&plan.output)
        );
    }
}

/// What a second signal writes to `--summary-json` before the process quits at once: exit
/// 130 and why. While sending (`sending`), the requests in flight have no outcome and the
/// counts are not known there; before, nothing was sent.
pub(super) fn quit_summary(
    summary: &SummaryFile,
    audit: &Audit,
    results: Option<&Path>,
    sending: bool,
) -> Box<dyn FnOnce() + Send> {
    let (summary, audit) = (summary.clone(), audit.clone());
    let results = results.map(Path::to_path_buf);
    Box::new(move || {
        let mut json = crate::summary::summary_json(&Tally::empty(), &audit, ExitCode::Interrupted);
        json["stopped"] = "interrupted".into();
        json["error"] = match (sending, &results) {
            (true, Some(results)) => {
                json["counts"] = serde_json::Value::Null;
                json["rows"] = serde_json::Value::Null;
                format!(
                    "quit at once on a second interrupt: the requests in flight have no outcome, and the counts are not known here; `tecalis-status report {}` gives the outcome of every row recorded",
                    results.display()
                )
            }
            _ => "interrupted twice before sending: quit at once; nothing was sent".to_string(),
        }
        .into();
        let _ = write_summary_json(&summary, results.as_deref(), &json);
    })
}

/// `--summary-json` as an output: replaced with --force, and by the runs of the same job
/// (--resume), whose command repeats the flag.
pub(super) fn summary_output(summary: &SummaryFile) -> Output {
    Output::new("the JSON summary", &summary.path)
        .existing(match summary.replace {
            true => Existing::Replace,
            false => Existing::Refuse,
        })
        .by_rename()
        .hint("pass --force to replace it, or choose another --summary-json")
}

/// Writes the JSON summary by the rule of every output: never onto the input or the results
/// file, never through a link, replaced only when allowed.
pub(super) fn write_summary_json(
    summary: &SummaryFile,
    results: Option<&Path>,
    json: &serde_json::Value,
) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(json).context("cannot write the JSON summary")? + "\n";
    let inputs: Vec<&Path> = summary.input.iter().map(PathBuf::as_path).collect();
    // The results file is named too, so that the summary is never written over it, even
    // when neither exists yet.
    let mut outputs: Vec<Output> = results
        .map(|r| Output::new("the results file", r).existing(Existing::Append))
        .into_iter()
        .collect();
    outputs.push(summary_output(summary));
    Ok(crate::files::write_whole(
        &inputs,
        outputs,
        text.as_bytes(),
    )?)
}
