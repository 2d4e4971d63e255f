//! Opening the run's results file: checked and locked before, its columns kept when a run
//! appends to it (`--resume`).

use std::path::Path;

use anyhow::bail;

use super::confirm::Work;
use crate::config::Plan;
use crate::files::{Checked, Existing};
use crate::input::CsvInput;
use crate::results::{Done, RESULT_COLUMNS, ResultsWriter, result_header, resume_in};

/// The results file before sending: checked only, or (when resuming an existing one) already
/// opened, locked, cut of a torn last line and read.
pub(super) enum Results {
    /// Checked, opened only once the run is confirmed.
    Checked(Checked),
    /// Opened and locked by [`take_results`].
    Locked(std::fs::File),
}

/// Reads what a resumed results file holds: lock → cut the torn last line → read through the
/// same descriptor, so that a row whose line is cut is not taken for done, and no other run
/// can write in between. A new results file is only checked here (nothing is created before
/// the run is confirmed).
/// Called on `--resume` when the results file exists (a big one takes a while: run it off
/// the runtime's thread).
pub(super) fn take_results(checked: Checked, output: &Path) -> anyhow::Result<(Results, Done)> {
    let file = checked
        .open()?
        .into_file()
        .map_err(|_| anyhow::anyhow!("the results file is written in place"))?;
    let done = resume_in(&file, output)?;
    Ok((Results::Locked(file), done))
}

/// Opens (and locks) the checked results file, checking first that appending keeps its
/// columns.
pub(super) fn open_results(
    plan: &Plan,
    results: Results,
    reader: &CsvInput,
    done: &Done,
    work: &Work,
) -> anyhow::Result<ResultsWriter> {
    let extras: Vec<String> = reader
        .columns()
        .extras
        .iter()
        .map(|(_, n)| n.clone())
        .collect();
    let header = result_header(&extras);
    if !done.header.is_empty() && done.header != header {
        // A new --output would send every row again, the ones already ok too: the advice
        // keeps to the rows that did not end ok.
        let listed = |names: &[String]| match names.is_empty() {
            true => "no extra columns".to_string(),
            false => format!(
                "the extra columns {}",
                crate::text::safe_input_text(&names.join(", "))
            ),
        };
        let before = done.header.get(RESULT_COLUMNS.len()..).unwrap_or_default();
        bail!(
            "{} holds {} and this input has {}: a resume appends lines of the same columns, so it cannot continue that run with this input. Either give the input back the columns of that run and resume, or send only the rows that did not end ok as a job of their own: `tecalis-status report {} --export-failed FILE`, add the new columns to FILE, and run it (a new --output with this input would send every row again, those already ok too)",
            crate::text::shown_path(&plan.output),
            listed(before),
            listed(&extras),
            crate::text::shown_path(&plan.output),
        );
    }
    let file = match results {
        Results::Locked(file) => file,
        Results::Checked(checked) => checked
            .open()?
            .into_file()
            .map_err(|_| anyhow::anyhow!("the results file is written in place"))?,
    };
    let writer = ResultsWriter::new(
        file,
        &plan.output,
        plan.existing == Existing::Append,
        &header,
    )?;
    if done.torn_bytes_cut > 0 {
        tracing::warn!(
            "{}: cut off a torn last line ({} bytes) left by a run that was stopped while writing; that row is sent again",
            crate::text::shown_path(&plan.output),
            done.torn_bytes_cut
        );
    }
    if plan.resume && work.skipped > 0 {
        tracing::info!(
            "resuming: {} row(s) already ok in {} are skipped, {} to send",
            work.skipped,
            crate::text::shown_path(&plan.output),
            work.to_send
        );
    }
    Ok(writer)
}
