//! The `report` command: the final outcome of every row of a results file (the last line for
//! an auth_uuid wins, as for `--resume`), the 401s and the failures, and an export of what did
//! not end ok in the input format.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};

use crate::cli::ReportArgs;
use crate::exit::ExitCode;
use crate::results::{Outcome, RESULT_COLUMNS, restore_cell};
use crate::results::{RowKey, read_lines};
use crate::summary::count_lines;

/// How many 401s and failures the report lists by line.
const LISTED: usize = 20;

/// Runs `report`.
pub fn report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let path = &args.results;
    // First pass: where the last line of each row is. Memory: one entry per row, not the
    // rows themselves.
    let mut last: HashMap<RowKey, u64> = HashMap::new();
    let file = read_lines(path, |n, record, _| {
        last.insert(RowKey::of(record), n);
        Ok(())
    })?;

    // Second pass: count the final lines, list the problems, export what did not end ok.
    let mut export = match &args.export_failed {
        Some(target) => Some(export_writer(target, &file.header, args.force)?),
        None => None,
    };
    let mut counts = [0u64; 8];
    let mut unauthorized = Vec::new();
    let mut failures = Vec::new();
    let mut exported = 0u64;
    read_lines(path, |n, record, outcome| {
        if last.get(&RowKey::of(record)) != Some(&n) {
            return Ok(());
        }
        counts[outcome.index()] += 1;
        let line = &record[0];
        let uuid = restore_cell(&record[1]);
        match outcome {
            Outcome::Unauthorized => unauthorized.push(format!("line {line}: {uuid}")),
            Outcome::Rejected | Outcome::Failed | Outcome::Invalid | Outcome::Cancelled => failures
                .push(format!(
                    "line {line}: {uuid}: {} {}",
                    outcome.as_str(),
                    restore_cell(&record[8])
                )),
            _ => {}
        }
        if !matches!(outcome, Outcome::Ok | Outcome::Skipped)
            && let Some(writer) = export.as_mut()
        {
            let mut row = vec![
                restore_cell(&record[1]),
                restore_cell(&record[2]),
                restore_cell(&record[3]),
            ];
            row.extend(record.iter().skip(RESULT_COLUMNS.len()).map(restore_cell));
            writer
                .write_record(&row)
                .context("cannot write the export")?;
            exported += 1;
        }
        Ok(())
    })?;
    if let Some(mut writer) = export {
        writer.flush().context("cannot write the export")?;
    }
    let lines = file.lines + file.torn;
    let torn = file.torn;

    let rows: u64 = counts.iter().sum();
    let mut out = format!(
        "{}: {rows} rows (final outcome of each, from {lines} lines)\n",
        path.display()
    );
    out.push_str(&count_lines(&counts));
    list(
        &mut out,
        "401 Not authorized (the key does not match these processes):",
        &unauthorized,
    );
    list(&mut out, "Not applied:", &failures);
    if torn > 0 {
        out.push_str(&format!(
            "{torn} line(s) were not whole (a run was killed while writing) and were ignored\n"
        ));
    }
    if let Some(target) = &args.export_failed {
        out.push_str(&format!(
            "Exported {exported} row(s) that did not end ok to {}: correct them and run that file.\n",
            target.display()
        ));
    }
    eprint!("{out}");
    let done = counts[Outcome::Ok.index()] + counts[Outcome::Skipped.index()];
    Ok(if done == rows {
        ExitCode::Success
    } else {
        ExitCode::RowsFailed
    })
}

fn list(out: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    out.push_str(title);
    out.push('\n');
    for item in items.iter().take(LISTED) {
        out.push_str(&format!("  {item}\n"));
    }
    if items.len() > LISTED {
        out.push_str(&format!("  … and {} more\n", items.len() - LISTED));
    }
}

/// The export file: the input columns, then the extra columns under their input names.
fn export_writer(
    target: &Path,
    header: &[String],
    force: bool,
) -> anyhow::Result<csv::Writer<std::fs::File>> {
    if target.exists() && !force {
        bail!(
            "{} already exists: pass --force to overwrite it",
            target.display()
        );
    }
    let mut writer = csv::Writer::from_path(target)
        .with_context(|| format!("cannot write {}", target.display()))?;
    let mut columns = vec![
        "auth_uuid".to_string(),
        "state".to_string(),
        "reasons".to_string(),
    ];
    columns.extend(
        header[RESULT_COLUMNS.len()..]
            .iter()
            .map(|h| h.strip_prefix("input_").unwrap_or(h).to_string()),
    );
    writer
        .write_record(&columns)
        .context("cannot write the export")?;
    Ok(writer)
}
