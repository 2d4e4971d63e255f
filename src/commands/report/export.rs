//! `report --export-failed`: the rows whose final outcome is not ok, ready to correct and run
//! again. Copied from the input itself when it is still there unchanged (every column under
//! its own name, the per-row `api_key` included, cells as written), otherwise rebuilt from
//! the results file, with a note saying what could not be recovered.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;

use crate::files::{Checked, Existing, Output, OutputFile};
use crate::input::{CsvInput, ReadOptions, Source};
use crate::results::{
    Final, Finals, JobRecord, Outcome, RESULT_COLUMNS, RowKey, neutralise, read_lines, restore_cell,
};
use crate::validate::parse_canonical_uuid;

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
    if let Some(key_file) = std::env::var_os("TECALIS_API_KEY_FILE") {
        crate::files::never_an_output("the key file", Path::new(&key_file));
    }
    let mut sources = vec![results];
    if let Some(input) = job.and_then(|j| j.input.as_deref()) {
        sources.push(input);
    }
    let checked = crate::files::check(&sources, vec![output(target, force)])?.remove(0);
    if force {
        not_replacing_another_kind_of_file(target)?;
    }
    Ok(checked)
}

/// `--force` replaces an earlier export, never a file of another kind: `report` does not know
/// the run's key file (given by a flag to `run`), and `--export-failed KEYFILE --force`
/// destroyed it. An existing file whose first line names no `auth_uuid` column is refused.
fn not_replacing_another_kind_of_file(target: &Path) -> anyhow::Result<()> {
    use std::io::Read;
    let Ok(file) = std::fs::File::open(target) else {
        return Ok(());
    };
    let mut start = Vec::new();
    // A regular file's first 4 KiB; the output rules refuse anything else afterwards.
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Ok(());
    }
    file.take(4096).read_to_end(&mut start)?;
    let first = String::from_utf8_lossy(&start);
    let first = first.lines().next().unwrap_or("").to_ascii_lowercase();
    if start.is_empty() || first.contains("auth_uuid") {
        return Ok(());
    }
    anyhow::bail!(
        "the export {} exists and is not an export of rows (its first line names no auth_uuid column): --force replaces only an earlier export; choose another path",
        crate::text::safe_input_text(&target.display().to_string())
    )
}

/// Writes the export into the checked output and commits it: the rows of the last run whose
/// final outcome in `finals` is not ok, streamed (the input or the results file read again,
/// each row looked up), so that memory does not grow with them.
pub(super) fn write(
    checked: Checked,
    finals: &mut Finals,
    results: &Path,
    job: Option<&JobRecord>,
) -> anyhow::Result<Written> {
    let mut file = checked.open()?;
    // A row is exported as it is, also one with fewer cells than the header (no reasons
    // cell at the end): the input reader takes it so.
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(&mut file);
    let written = match unchanged_input(job) {
        Some((job, source)) => from_input(&mut writer, finals, results, job, &source)?,
        None => from_results(&mut writer, finals, results, job)?,
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

/// The input of the job, opened for one more pass.
fn reopen(source: &Source, job: &JobRecord) -> anyhow::Result<CsvInput> {
    // A workbook: the sheet the run read; its hidden rows are read too, since only the
    // failed rows (by auth_uuid or line) are copied.
    let options = ReadOptions {
        sheet: job.sheet.clone(),
        hidden: Some(crate::input::Hidden::Include),
        ..ReadOptions::new(Some(job.delimiter as u8), job.encoding.as_deref())
            .map_err(|e| anyhow::anyhow!("{e}"))?
    };
    source.reader(&options).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Each record of the input with its row's key, in order.
fn each_row(
    reader: &mut CsvInput,
    mut each: impl FnMut(RowKey, &csv::ByteRecord) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let at = reader.columns().auth_uuid;
    let mut record = csv::ByteRecord::new();
    while let Some(line) = reader
        .next_record(&mut record)
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        let uuid = record
            .get(at)
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|c| parse_canonical_uuid(c.trim()));
        let key = match uuid {
            Some(uuid) => RowKey::Uuid(uuid.as_u128()),
            None => RowKey::Line(line),
        };
        each(key, &record)?;
    }
    Ok(())
}

/// Whether a row's reasons cell is empty (or the input has no reasons column).
fn no_reasons(record: &csv::ByteRecord, column: Option<usize>) -> bool {
    column.is_none_or(|at| {
        record
            .get(at)
            .is_none_or(|c| c.iter().all(u8::is_ascii_whitespace))
    })
}

/// The reasons that failed rows with an empty reasons cell were sent with (the run's
/// `--reasons`), by number: a pass over the input notes those rows, a pass over the results
/// file reads their reasons. Few distinct values (one per run that sent), so memory stays
/// that of the table.
fn sent_reasons(
    source: &Source,
    job: &JobRecord,
    finals: &mut Finals,
    results: &Path,
) -> anyhow::Result<Vec<String>> {
    let mut reader = reopen(source, job)?;
    let column = reader.columns().reasons;
    each_row(&mut reader, |key, record| {
        if let Some(f) = finals.get_mut(key)
            && f.failed()
            && no_reasons(record, column)
        {
            f.want_reasons();
        }
        Ok(())
    })?;
    let mut pool: Vec<String> = Vec::new();
    let mut numbers: HashMap<String, u16> = HashMap::new();
    read_lines(results, |n, record, _| {
        let key = RowKey::of(record);
        let Some(f) = finals.get_mut(key) else {
            return Ok(());
        };
        if !(f.wants_reasons() && f.line() == n) {
            return Ok(());
        }
        let reasons = restore_cell(&record[3]);
        let number = match numbers.get(reasons) {
            Some(&number) => number,
            None if pool.len() < usize::from(u16::MAX - 1) => {
                let number = pool.len() as u16;
                pool.push(reasons.to_string());
                numbers.insert(reasons.to_string(), number);
                number
            }
            // More distinct --reasons than runs could give: the cell stays as it is.
            None => return Ok(()),
        };
        f.set_reasons(number);
        Ok(())
    })?;
    Ok(pool)
}

/// Copies the failed rows from the input, in input order. A row whose reasons cell was
/// empty was sent with the run's `--reasons`: the export carries those reasons, so that
/// running it sends what was sent (a reasons column is added when the input had none).
fn from_input(
    writer: &mut csv::Writer<&mut OutputFile>,
    finals: &mut Finals,
    results: &Path,
    job: &JobRecord,
    source: &Source,
) -> anyhow::Result<Written> {
    let path = source.path();
    let pool = sent_reasons(source, job, finals, results)?;
    let sent = |f: Final| f.reasons().map_or("", |n| pool[usize::from(n)].as_str());
    let mut reader = reopen(source, job)?;
    let columns = reader.columns().clone();
    let add_reasons =
        columns.reasons.is_none() && finals.rows().any(|f| f.failed() && !sent(f).is_empty());
    let mut names = columns.names.clone();
    if add_reasons {
        names.push("reasons".into());
    }
    let mut changed = 0;
    // A header name is never sent: its `'` is not one the user must remove (not counted).
    writer
        .write_record(safe(names.iter().map(String::as_str), &mut 0))
        .context("cannot write the export")?;
    let (mut rows, mut filled) = (0, 0u64);
    each_row(&mut reader, |key, record| {
        let Some(f) = finals.get(key).filter(|f| f.failed()) else {
            return Ok(());
        };
        // Each row once, but every line of rows refused for sharing an auth_uuid with
        // different cells: the user chooses between them, not the export.
        if finals.mark(key) && f.outcome() != Outcome::Invalid {
            return Ok(());
        }
        let mut text: Vec<String> = record
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let reasons = sent(f);
        match columns.reasons {
            Some(at) if !reasons.is_empty() && no_reasons(record, Some(at)) => {
                if text.len() <= at {
                    text.resize(at + 1, String::new());
                }
                text[at] = reasons.to_string();
                filled += 1;
            }
            None if add_reasons => {
                text.resize(columns.names.len(), String::new());
                text.push(reasons.to_string());
                filled += u64::from(!reasons.is_empty());
            }
            _ => {}
        }
        let cells = safe(text.iter().map(String::as_str), &mut changed);
        writer
            .write_record(&cells)
            .context("cannot write the export")?;
        rows += 1;
        Ok(())
    })?;
    let missing = finals.rows().filter(|f| f.failed() && !f.marked()).count();
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
    finals: &Finals,
    results: &Path,
    job: Option<&JobRecord>,
) -> anyhow::Result<Written> {
    let mut header = vec!["auth_uuid", "state", "reasons"];
    let extras = finals.file.header.iter().skip(RESULT_COLUMNS.len());
    header.extend(extras.map(|h| input_name(h)));
    let mut changed = 0;
    // A header name is never sent: its `'` is not one the user must remove (not counted).
    writer
        .write_record(safe(header.into_iter(), &mut 0))
        .context("cannot write the export")?;
    let mut rows = 0;
    // Each failed row once: at the line that decides its outcome; and every line of the last
    // run of rows refused for sharing an auth_uuid with different cells (the user chooses).
    let lines_before = finals.lines_before;
    read_lines(results, |n, record, outcome| {
        let decides = finals.get(RowKey::of(record)).is_some_and(|f| {
            f.failed() && (n > lines_before || f.line() == n) && f.shown_at(n, outcome)
        });
        if !decides {
            return Ok(());
        }
        let mut row = vec![
            restore_cell(&record[1]),
            restore_cell(&record[2]),
            restore_cell(&record[3]),
        ];
        row.extend(record.iter().skip(RESULT_COLUMNS.len()).map(restore_cell));
        writer
            .write_record(safe(row.into_iter(), &mut changed))
            .context("cannot write the export")?;
        rows += 1;
        Ok(())
    })?;
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
        rows,
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
