//! Before anything is sent: the input read and validated on a thread of its own (so that a
//! signal is seen at once, whatever the size of the input), the rows a resume really sends
//! counted, and the checks that stop a run before its first request (nothing to do, invalid
//! rows, no key, no confirmation, a signal).

use anyhow::bail;
use serde_json::json;

use super::confirm::{Confirmation, Prompt, Work, confirm};
use super::feed::Feed;
use super::open::{Results, take_results};
use crate::commands::{input_failure, open_input, scan_input};
use crate::config::Plan;
use crate::exit::ExitCode;
use crate::files::Checked;
use crate::input::{InputError, Source};
use crate::logging::{Level, emit};
use crate::results::{Done, Outcome};
use crate::send::Item;
use crate::signals::unless_interrupted;
use crate::validate::Scan;

/// A run that ends before its first request, its reason already printed: the exit code, and
/// the message for the JSON summary's `error`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(super) struct Early {
    /// The exit code.
    pub(super) code: ExitCode,
    /// What was said.
    pub(super) message: String,
}

/// Every valid row is sent.
fn all_valid(scan: &Scan) -> Work {
    Work {
        to_send: scan.valid,
        skipped: 0,
        already_recorded: 0,
        per_state: scan.per_state,
        with_reasons: scan.rows_with_reasons,
        without_key: scan.rows_without_key,
    }
}

/// Stops the run for a signal that came before sending: says so, nothing was sent.
fn interrupted(while_doing: &str) -> anyhow::Error {
    let message = format!("interrupted {while_doing}: nothing was sent");
    emit(
        Level::Error,
        "interrupted",
        &message,
        json!({"sent": 0, "stopped": "interrupted"}),
    );
    Early {
        code: ExitCode::Interrupted,
        message,
    }
    .into()
}

/// Stops the run for an input that cannot be read or is not CSV: says so.
fn input_stop(error: InputError) -> anyhow::Error {
    let message = error.to_string();
    Early {
        code: input_failure(error),
        message,
    }
    .into()
}

/// Stops the run if a signal came since the last look.
fn unless_signalled(while_doing: &str) -> anyhow::Result<()> {
    match crate::signals::received() {
        true => Err(interrupted(while_doing)),
        false => Ok(()),
    }
}

/// Opens the input (standard input is copied first, which may take long).
pub(super) async fn open(plan: &Plan) -> anyhow::Result<Source> {
    let input = plan.input.clone();
    match unless_interrupted(move || open_input(&input, true)).await? {
        None => Err(interrupted("while reading the input")),
        Some(Err(e)) => Err(input_stop(e)),
        Some(Ok(source)) => Ok(source),
    }
}

/// Reads and validates every row, printing each problem and the counts.
pub(super) async fn scan(plan: &Plan, source: Source) -> anyhow::Result<(Source, Scan)> {
    let (options, rules) = (plan.input.options.clone(), plan.input.rules.clone());
    let scanned = unless_interrupted(move || {
        let scan = scan_input(&source, &options, &rules);
        (source, scan)
    })
    .await?;
    match scanned {
        None => Err(interrupted("while validating the input")),
        Some((_, Err(e))) => Err(input_stop(e)),
        Some((source, Ok(scan))) => Ok((source, scan)),
    }
}

/// The rows already ok in the results file, on `--resume` (a big file takes a while), and
/// the results file: locked, cut of a torn last line and read when it exists and the run
/// resumes, only checked otherwise.
pub(super) async fn done(plan: &Plan, checked: Checked) -> anyhow::Result<(Results, Done)> {
    if !plan.resume || !plan.output.exists() {
        return Ok((Results::Checked(checked), Done::default()));
    }
    let path = plan.output.clone();
    match unless_interrupted(move || take_results(checked, &path)).await? {
        None => Err(interrupted("while reading the results file")),
        Some(taken) => taken,
    }
}

/// How many valid rows a run really sends: all, or on `--resume` those not already ok with
/// the same state and reasons (a second pass over the input, the same one sending makes).
pub(super) async fn count_work(
    plan: &Plan,
    source: Source,
    scan: &Scan,
    done: Done,
) -> anyhow::Result<(Source, Done, Work)> {
    let (Some(validator), false) = (scan.validator.clone(), done.is_empty()) else {
        return Ok((source, done, all_valid(scan)));
    };
    let options = plan.input.options.clone();
    let counted = unless_interrupted(move || {
        let reader = match source.reader(&options) {
            Ok(reader) => reader,
            Err(e) => return (source, Err(e), Done::default()),
        };
        let mut feed = Feed::new(reader, validator, done);
        let mut work = Work::default();
        for item in &mut feed {
            match item {
                Item::Send(row, request) => {
                    work.to_send += 1;
                    work.without_key += u64::from(row.api_key.is_none());
                    work.per_state[request.state.index()] += 1;
                    work.with_reasons += u64::from(request.reasons.is_some());
                }
                Item::Done(row) if row.outcome == Outcome::Skipped => {
                    work.skipped += 1;
                    work.already_recorded += u64::from(row.already_recorded);
                }
                Item::Done(_) => {}
            }
        }
        let (done, error) = feed.into_parts();
        (source, error.map_or(Ok(work), Err), done)
    })
    .await?;
    match counted {
        None => Err(interrupted(
            "while comparing the input with the results file",
        )),
        Some((_, Err(e), _)) => Err(input_stop(e)),
        Some((source, Ok(work), done)) => Ok((source, done, work)),
    }
}

/// Everything that stops a run before anything is sent: nothing to do, invalid rows, no key,
/// no confirmation, a signal.
pub(super) async fn check_before_sending(
    plan: &Plan,
    scan: &Scan,
    file: &str,
    prompt: &Prompt,
) -> anyhow::Result<()> {
    if scan.rows == 0 {
        let message = format!(
            "{file}: the header is fine and there are no rows: nothing to do, nothing sent"
        );
        emit(
            Level::Info,
            "nothing_to_do",
            &message,
            json!({"file": file, "rows": 0}),
        );
        return Err(Early {
            code: ExitCode::Success,
            message,
        }
        .into());
    }
    if scan.invalid() > 0 && !plan.skip_invalid && !plan.dry_run {
        let message = format!(
            "{file}: {} invalid row(s): nothing was sent. Fix them, or pass --skip-invalid to send the {} valid row(s) and record the others as invalid",
            scan.invalid(),
            scan.valid
        );
        emit(
            Level::Error,
            "invalid",
            &message,
            json!({"file": file, "invalid": scan.invalid(), "valid": scan.valid}),
        );
        return Err(Early {
            code: ExitCode::InvalidInput,
            message,
        }
        .into());
    }
    if scan.rows_without_key > 0 && plan.key.is_none() {
        bail!(
            "no API key: set TECALIS_API_KEY or pass --api-key-file PATH (or fill the api_key column of every row)"
        );
    }
    if plan.dry_run || scan.valid == 0 {
        return unless_signalled("before the dry run's preview");
    }
    match confirm(plan, scan, prompt).await {
        Confirmation::Go => unless_signalled("at the confirmation"),
        Confirmation::Refused(message) => {
            emit(Level::Error, "refused", &message, json!({"sent": 0}));
            Err(Early {
                code: ExitCode::Usage,
                message,
            }
            .into())
        }
        Confirmation::Interrupted => Err(interrupted("at the confirmation")),
    }
}
