//! Opening the run's results file: checked and locked before, its columns kept when a run
//! appends to it (`--resume`).

use anyhow::bail;

use super::confirm::Work;
use crate::config::Plan;
use crate::files::{Checked, Existing};
use crate::input::CsvInput;
use crate::results::{Done, ResultsWriter, result_header};

/// Opens (and locks) the checked results file, checking first that appending keeps its
/// columns.
pub(super) fn open_results(
    plan: &Plan,
    checked: Checked,
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
        bail!(
            "{} has other columns than this input would write (the extra input columns differ); write to a new --output",
            crate::text::shown_path(&plan.output)
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
        &header,
    )?;
    if writer.torn_bytes_cut > 0 {
        tracing::warn!(
            "{}: cut off a torn last line ({} bytes) left by a run that was stopped while writing; that row is sent again",
            crate::text::shown_path(&plan.output),
            writer.torn_bytes_cut
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
