//! `report RESULTS`: the final outcome of every row of a results file (the last line for an
//! auth_uuid wins, as for `--resume`), whether the job is complete (from the job record the
//! run writes before its first request), and an export of exactly what did not end ok.

mod export;
mod next;

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::cli::ReportArgs;
use crate::exit::ExitCode;
use crate::results::{
    Counts, JobRecord, Outcome, RowKey, job_path, read_finals, read_lines, restore_cell,
};
use crate::text::safe_input_text;

/// How many 401s and failures the report lists by line.
const LISTED: usize = 20;

/// Whether the job behind a results file has an outcome for every row.
#[derive(Debug, PartialEq, Eq)]
enum Completeness {
    /// The last run recorded every row it had.
    Complete,
    /// The last run recorded fewer rows than it had: killed, crashed or still running.
    Missing {
        missing: u64,
        rows: u64,
        running: bool,
    },
    /// No job record: the tool cannot tell.
    Unknown,
}

/// Runs `report`.
pub fn report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let path = &args.results;
    crate::files::trusted("the results file", path)?;
    crate::files::trusted("the job record", &job_path(path))?;
    let job = JobRecord::read(path)?;
    let export_to = match &args.export_failed {
        Some(target) => Some(export::check_target(
            target,
            path,
            job.as_ref(),
            args.force,
        )?),
        None => None,
    };
    // First pass: the final outcome of each row, and whether the last run recorded it (the
    // job is the last run's rows: a row corrected or removed from the input since an earlier
    // run is no longer part of it). Memory: 24 bytes a row, not the rows themselves.
    let lines_before = job.as_ref().map_or(0, |j| j.lines_before);
    let already_recorded = job.as_ref().map_or(0, |j| j.already_recorded);
    let mut finals = read_finals(path, lines_before)?;
    let not_current = finals.rows().filter(|f| !f.current()).count();
    // The rows the last run skipped as ok have no line of that run; the others of earlier runs
    // only are the rows corrected or removed since.
    let earlier_only =
        not_current.saturating_sub(usize::try_from(already_recorded).unwrap_or(usize::MAX));

    // Second pass: each line of the last run is one input row (a repeat of a row counts as
    // the row does); the problems are listed once, at the line that decides them, but rows
    // refused for sharing an auth_uuid with different cells at each of their lines (the
    // export copies each of them too).
    let mut counts = Counts::default();
    counts[Outcome::Skipped] = already_recorded;
    let mut unauthorized = Listed::default();
    let mut failures = Listed::default();
    let exporting = export_to.is_some();
    read_lines(path, |n, record, own| {
        if n <= lines_before {
            return Ok(());
        }
        let key = RowKey::of(record);
        let outcome = finals.counted(key);
        counts[outcome] += 1;
        if finals.get(key).is_none_or(|f| !f.shown_at(n, own)) {
            return Ok(());
        }
        let line: u64 = record[0].parse().unwrap_or(0);
        let uuid = safe_input_text(restore_cell(&record[1]));
        match outcome {
            Outcome::Ok | Outcome::Skipped | Outcome::DryRun => {}
            Outcome::Unauthorized => unauthorized.push((line, format!("line {line}: {uuid}"))),
            _ => failures.push((
                line,
                format!(
                    "line {line}: {uuid}: {} {}",
                    outcome.as_str(),
                    safe_input_text(restore_cell(&record[8]))
                ),
            )),
        }
        Ok(())
    })?;
    let file = &finals.file;

    let completeness = match &job {
        None => Completeness::Unknown,
        Some(job) => {
            let recorded = file.lines.saturating_sub(job.lines_before) + job.already_recorded;
            match job.rows.saturating_sub(recorded) {
                0 => Completeness::Complete,
                missing => Completeness::Missing {
                    missing,
                    rows: job.rows,
                    running: is_being_written(path),
                },
            }
        }
    };

    let rows = counts.total();
    let mut out = format!(
        "{}: {rows} rows (the final outcome of each, from {} lines)\n",
        crate::text::shown_path(path),
        file.lines + u64::from(file.torn)
    );
    for (outcome, n) in counts.nonzero() {
        let note = match outcome {
            Outcome::Skipped => "   (applied in an earlier run: ok)",
            _ => "",
        };
        out.push_str(&crate::summary::count_line(outcome, n, note));
    }
    list(
        &mut out,
        "401 Not authorized (the key does not match these processes):",
        unauthorized,
    );
    list(&mut out, "Not applied:", failures);
    let facts = next::Facts {
        counts: &counts,
        completeness: &completeness,
        earlier_only,
        fix_key_first: job.as_ref().is_some_and(|j| j.fix_key_first),
        quota_until: job.as_ref().and_then(|j| j.quota_until.as_deref()),
        exporting,
    };
    out.push_str(&facts.notes());
    if file.torn {
        out.push_str(
            "the last line is not whole (a run was stopped while writing it) and was ignored: its row has no outcome\n",
        );
    }
    match &completeness {
        Completeness::Complete => out.push_str(&facts.not_all_ok()),
        Completeness::Missing {
            missing,
            rows,
            running,
        } => out.push_str(&format!(
            "INCOMPLETE: {missing} of the last run's {rows} rows have no outcome yet: {}, then report again.\n",
            if *running {
                "a run is still writing this file: wait for it to finish"
            } else {
                "the run was killed or crashed before it recorded them: finish it with the same run command and --resume"
            }
        )),
        Completeness::Unknown => out.push_str(&format!(
            "UNKNOWN whether the job is complete: there is no job record ({}) beside this file, so the number of rows the run had is not known. The counts above cover only the rows recorded.\n",
            crate::text::shown_path(&job_path(path))
        )),
    }
    if let (Some(target), Some(checked)) = (&args.export_failed, export_to) {
        let written = export::write(checked, &mut finals, path, job.as_ref())?;
        out.push_str(&format!(
            "Exported {} row(s) that did not end ok to {}{}{}.\n",
            written.rows,
            crate::text::shown_path(target),
            written.note,
            facts.export_advice(written.rows)
        ));
        if written.neutralised > 0 {
            out.push_str(&format!(
                "{} cell(s) of the export begin with a ' added for spreadsheet safety (their text starts with = + - or @): remove that ' before running the file, or it is sent as part of the text.\n",
                written.neutralised
            ));
        }
    }
    out.push_str(&facts.verdict());
    out.push('\n');
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`report R | head`) is a normal end, not an error.
    let _ = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush());
    let all_ok = counts[Outcome::Ok] + counts[Outcome::Skipped] == rows;
    Ok(if completeness == Completeness::Complete && all_ok {
        ExitCode::Success
    } else {
        ExitCode::RowsFailed
    })
}

/// Whether a run holds the results file's lock now.
fn is_being_written(path: &Path) -> bool {
    std::fs::File::open(path).context("open").is_ok_and(|file| {
        matches!(
            file.try_lock_shared(),
            Err(std::fs::TryLockError::WouldBlock)
        )
    })
}

/// The first [`LISTED`] items by line, and how many there were: memory for the lines
/// printed, not for every row that failed.
#[derive(Debug, Default)]
struct Listed {
    /// The lowest lines seen so far, the highest on top.
    first: std::collections::BinaryHeap<(u64, String)>,
    total: usize,
}

impl Listed {
    fn push(&mut self, item: (u64, String)) {
        self.total += 1;
        if self.first.len() == LISTED && self.first.peek().is_some_and(|top| *top <= item) {
            return;
        }
        self.first.push(item);
        if self.first.len() > LISTED {
            self.first.pop();
        }
    }
}

fn list(out: &mut String, title: &str, items: Listed) {
    if items.total == 0 {
        return;
    }
    out.push_str(title);
    out.push('\n');
    for (_, item) in items.first.into_sorted_vec() {
        out.push_str(&format!("  {item}\n"));
    }
    if items.total > LISTED {
        out.push_str(&format!(
            "  … and {} more in the results file\n",
            items.total - LISTED
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_lines_are_kept() {
        let mut listed = Listed::default();
        for line in (1..=100u64).rev() {
            listed.push((line, format!("line {line}")));
        }
        let mut out = String::new();
        list(&mut out, "Not applied:", listed);
        let expected: String = (1..=20).map(|l| format!("  line {l}\n")).collect();
        assert_eq!(
            out,
            format!("Not applied:\n{expected}  … and 80 more in the results file\n")
        );
    }
}
