//! `report --export-failed`: the rows whose final outcome is not ok, ready to correct and run
//! again. Copied from the input itself when it is still there unchanged (every column under
//! its own name, the per-row `api_key` included, cells as written), otherwise rebuilt from
//! the results file, with a note saying what could not be recovered.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::Context;

use crate::files::{Checked, Existing, Output, OutputFile};
use crate::input::{ReadOptions, Source};
use crate::results::{JobRecord, RESULT_COLUMNS, RowKey, neutralise, restore_cell};
use crate::validate::parse_canonical_uuid;

/// The rows to export: their keys, and their results lines for when the input is gone.
#[derive(Debug, Default)]
pub(super) struct Failed {
    keys: HashSet<RowKey>,
    /// The reasons each row was sent with (the results' `reasons` column): the run's
    /// `--reasons` where the input's cell was empty.
    sent_reasons: HashMap<RowKey, String>,
    records: Vec<csv::StringRecord>,
    header: Option<csv::StringRecord>,
}

impl Failed {
    /// Notes one final results line that did not end ok.
    pub(super) fn add(&mut self, record: &csv::StringRecord) {
        let key = RowKey::of(record);
        self.keys.insert(key);
        self.sent_reasons
            .insert(key, restore_cell(&record[3]).to_string());
        self.records.push(record.clone());
    }

    /// Keeps the results header, to name the extra columns of rebuilt rows.
    pub(super) fn set_header(&mut self, header: &[String]) {
        self.header = Some(csv::StringRecord::from(header.to_vec()));
    }
}

/// What the export wrote.
pub(super) struct Written {
    /// Rows written.
    pub rows: u64,
    /// How they were obtained, when that matters to the operator.
    pub note: String,
    /// Cells written with a leading `'` for spreadsheet safety.
    pub neutralised: u64,
}

/// The export as an output, by the rule of every output file: never through a link, never
/// onto the results file it reads or the job's input (also through a link), replaced only with
/// `--force`, private, written whole (a temporary file beside it, renamed).
fn output(target: &Path, force: bool) -> Output {
    Output::new("the export", target)
        .existing(if force {
            Existing::Replace
        } else {
            Existing::Refuse
        })
        .by_rename()
}

/// Refuses, before anything is read or written, an export that breaks the rule of every
/// output (see [`output`]).
pub(super) fn check_target(
    target: &Path,
    results: &Path,
    job: Option<&JobRecord>,
    force: bool,
) -> anyhow::Result<Checked> {
    crate::files::never_an_output("the job record", &crate::results::job_path(results));
    let mut sources = vec![results];
    if let Some(input) = job.and_then(|j| j.input.as_deref()) {
        sources.push(input);
    }
    Ok(crate::files::check(&sources, vec![output(target, force)])?.remove(0))
}

/// Writes the export into the checked output and commits it.
pub(super) fn write(
    checked: Checked,
    failed: &Failed,
    job: Option<&JobRecord>,
) -> anyhow::Result<Written> {
    let mut file = checked.open()?;
    let mut writer = csv::Writer::from_writer(&mut file);
    let written = match unchanged_input(job) {
        Some((job, source)) => from_input(&mut writer, failed, job, &source)?,
        None => from_results(&mut writer, failed, job)?,
    };
    writer.flush().context("cannot write the export")?;
    drop(writer);
    file.commit()?;
    Ok(written)
}

/// The input of the job, if it is still there with the same content: a snapshot of it,
/// hashed as it is copied, so that the rows exported are the bytes whose hash matched.
fn unchanged_input(job: Option<&JobRecord>) -> Option<(&JobRecord, Source)> {
    let job = job?;
    let source = Source::open(job.input.as_deref()?).ok()?;
    (source.sha256()? == job.input_sha256).then_some((job, source))
}

/// The cells, formula-safe; counts in `changed` the cells that got a leading `'`.
fn safe<'a>(cells: impl Iterator<Item = &'a str>, changed: &mut u64) -> Vec<String> {
    cells
        .map(|c| {
            let safe = neutralise(c);
            if safe.len() != c.len() {
                *changed += 1;
            }
            safe.into_owned()
        })
        .collect()
}

/// Copies the failed rows from the input, in input order.
fn from_input(
    writer: &mut csv::Writer<&mut OutputFile>,
    failed: &Failed,
    job: &JobRecord,
    source: &Source,
) -> anyhow::Result<Written> {
    let path = source.path();
    // A workbook: the sheet the run read; its hidden rows are read too, since only the
    // failed rows (by auth_uuid or line) are copied.
    let options = ReadOptions {
        sheet: job.sheet.clone(),
        hidden: Some(crate::input::Hidden::Include),
        ..ReadOptions::new(Some(job.delimiter as u8), job.encoding.as_deref())
            .map_err(|e| anyhow::anyhow!("{e}"))?
    };
    let mut reader = source
        .reader(&options)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let columns = reader.columns().clone();
    let mut changed = 0;
    // A row whose reasons cell was empty was sent with the run's --reasons: the export
    // carries those reasons, so that running it sends what was sent (a reasons column is
    // added when the input had none).
    let sent_reasons = |key: &RowKey| {
        failed
            .sent_reasons
            .get(key)
            .map(String::as_str)
            .unwrap_or_default()
    };
    let add_reasons =
        columns.reasons.is_none() && failed.keys.iter().any(|key| !sent_reasons(key).is_empty());
    let mut names = columns.names.clone();
    if add_reasons {
        names.push("reasons".into());
    }
    writer
        .write_record(safe(names.iter().map(String::as_str), &mut changed))
        .context("cannot write the export")?;
    let mut filled = 0u64;
    let mut record = csv::ByteRecord::new();
    let mut rows = 0;
    let mut found = HashSet::new();
    while let Some(line) = reader
        .next_record(&mut record)
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        let uuid = record
            .get(columns.auth_uuid)
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|c| parse_canonical_uuid(c.trim()));
        let key = match uuid {
            Some(uuid) => RowKey::Uuid(uuid.as_u128()),
            None => RowKey::Line(line),
        };
        if failed.keys.contains(&key) && found.insert(key) {
            let mut text: Vec<String> = record
                .iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            let sent = sent_reasons(&key);
            match columns.reasons {
                Some(at)
                    if !sent.is_empty() && text.get(at).is_none_or(|c| c.trim().is_empty()) =>
                {
                    if text.len() <= at {
                        text.resize(at + 1, String::new());
                    }
                    text[at] = sent.to_string();
                    filled += 1;
                }
                None if add_reasons => {
                    text.resize(columns.names.len(), String::new());
                    text.push(sent.to_string());
                    filled += u64::from(!sent.is_empty());
                }
                _ => {}
            }
            let cells = safe(text.iter().map(String::as_str), &mut changed);
            writer
                .write_record(&cells)
                .context("cannot write the export")?;
            rows += 1;
        }
    }
    let missing = failed.keys.len() - found.len();
    let filled = match filled {
        0 => String::new(),
        n => format!(
            "; {n} row(s) whose reasons cell was empty carry the reasons they were sent with (the run's --reasons), so that running the export sends the same"
        ),
    };
    let note = if missing > 0 {
        format!(
            " (copied from {}; {missing} failed row(s) of earlier runs are not in it any more and were left out: see the results file{filled})",
            crate::text::shown_path(path)
        )
    } else {
        format!(
            " (copied from {}, every column as written{filled})",
            crate::text::shown_path(path)
        )
    };
    Ok(Written {
        rows,
        note,
        neutralised: changed,
    })
}

/// Rebuilds the failed rows from the results file: auth_uuid, state, reasons and the extra
/// columns under their input names. Per-row keys are not in the results, so they are lost.
fn from_results(
    writer: &mut csv::Writer<&mut OutputFile>,
    failed: &Failed,
    job: Option<&JobRecord>,
) -> anyhow::Result<Written> {
    let mut header = vec!["auth_uuid", "state", "reasons"];
    let extras: Vec<&str> = failed
        .header
        .as_ref()
        .map(|h| {
            h.iter()
                .skip(RESULT_COLUMNS.len())
                .map(input_name)
                .collect()
        })
        .unwrap_or_default();
    header.extend(extras.iter().copied());
    let mut changed = 0;
    writer
        .write_record(safe(header.into_iter(), &mut changed))
        .context("cannot write the export")?;
    for record in &failed.records {
        let mut row = vec![
            restore_cell(&record[1]),
            restore_cell(&record[2]),
            restore_cell(&record[3]),
        ];
        row.extend(record.iter().skip(RESULT_COLUMNS.len()).map(restore_cell));
        writer
            .write_record(safe(row.into_iter(), &mut changed))
            .context("cannot write the export")?;
    }
    let had_keys = job.is_some_and(|j| {
        j.columns
            .iter()
            .any(|c| c.trim().eq_ignore_ascii_case("api_key"))
    });
    let why = match job.and_then(|j| j.input.as_ref()) {
        Some(input) => format!(
            "the input {} is gone or has changed",
            crate::text::shown_path(input)
        ),
        None => "the input was standard input or is unknown".to_string(),
    };
    let note = if had_keys {
        format!(
            " (rebuilt from the results file because {why}: the input's api_key column is NOT in it, so these rows would run with the default key; add the keys back before running it)"
        )
    } else {
        format!(" (rebuilt from the results file because {why})")
    };
    Ok(Written {
        rows: failed.records.len() as u64,
        note,
        neutralised: changed,
    })
}

/// The input name of an extra results column: the results file renames an extra column that
/// clashes with a fixed one to `input_NAME`; any other name is the input's own.
fn input_name(header: &str) -> &str {
    match header.strip_prefix("input_") {
        Some(name) if RESULT_COLUMNS.iter().any(|c| c.eq_ignore_ascii_case(name)) => name,
        _ => header,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_renamed_clashing_columns_lose_their_prefix() {
        assert_eq!(input_name("input_outcome"), "outcome");
        assert_eq!(input_name("input_x"), "input_x");
        assert_eq!(input_name("Ticket"), "Ticket");
    }
}
