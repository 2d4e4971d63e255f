//! The results file: its columns and their order, the default file name, the outcome of each
//! row, the writer (used by the collector alone) and the reader (the one last-line rule that
//! `--resume` and `report` share).

mod finals;
mod job;
mod outcome;
mod reader;
mod table;
mod tail;
mod writer;

use std::path::{Path, PathBuf};

use anyhow::bail;

pub use finals::{Final, Finals, read_finals};
pub use job::{JobRecord, job_path, new_key_salt};
pub use outcome::{Counts, Outcome, Remote, RowResult, neutralise, restore_cell};
pub use reader::{Done, ResultsFile, RowKey, read_done, read_lines, resume_in};
pub use writer::{ResultsWriter, SYNC_EVERY};

/// The fixed columns of the results file, in order; extra input columns follow.
pub const RESULT_COLUMNS: [&str; 14] = [
    "line",
    "auth_uuid",
    "state",
    "reasons",
    "outcome",
    "http_status",
    "attempts",
    "latency_ms",
    "error",
    "process_uuid",
    "remote_status",
    "remote_status_reasons",
    "remote_updated_at",
    "finished_at",
];

/// The kind of run, for the default results file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// A real run: `NAME.results.csv`.
    Real,
    /// A dry run: `NAME.dry-run.csv`, so that a preview never blocks the real run.
    DryRun,
    /// A run against the built-in sandbox: `NAME.sandbox-results.csv`, a rehearsal that
    /// never blocks the real run either.
    Sandbox,
}

/// The results file name used when `--output` is not given: `NAME.results.csv` beside an
/// input `NAME.csv`, or the dry-run and sandbox variants of [`RunKind`].
pub fn default_output(input: &Path, kind: RunKind) -> PathBuf {
    let suffix = match kind {
        RunKind::Real => "results.csv",
        RunKind::DryRun => "dry-run.csv",
        RunKind::Sandbox => "sandbox-results.csv",
    };
    let is_csv = input
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let base = if is_csv {
        input.with_extension("")
    } else {
        input.to_path_buf()
    };
    let mut name = base.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    base.with_file_name(name)
}

/// Checks that a header is a results file's: the fixed columns first.
pub fn check_results_header(header: &[String], file: &Path) -> anyhow::Result<()> {
    if header.len() < RESULT_COLUMNS.len() || header[..RESULT_COLUMNS.len()] != RESULT_COLUMNS {
        bail!(
            "{} is not a results file of tecalis-status (its header differs); give the file that `run` wrote",
            file.display()
        );
    }
    Ok(())
}

/// The header row: the fixed columns, then the extra input columns (renamed `input_NAME`
/// where a name clashes with a fixed one, neutralised like cells).
pub fn result_header(extras: &[String]) -> Vec<String> {
    let mut header: Vec<String> = RESULT_COLUMNS.iter().map(|c| c.to_string()).collect();
    for extra in extras {
        let clashes = header.iter().any(|h| h.eq_ignore_ascii_case(extra));
        // A name is a cell like any other: formula-safe (`=HYPERLINK(...)` as a column name).
        header.push(if clashes {
            format!("input_{extra}")
        } else {
            neutralise(extra).into_owned()
        });
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_reversibly() {
        for cell in [
            "=1+1", "+34 600", "-x", "@SUM(A1)", "\tx", "\rx", "'quoted", "plain", "",
        ] {
            let safe = neutralise(cell);
            assert!(!matches!(
                safe.as_bytes().first(),
                Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
            ));
            assert_eq!(restore_cell(&safe), cell);
        }
        assert_eq!(neutralise("=cmd"), "'=cmd");
        assert_eq!(neutralise("ok"), "ok");
    }

    #[test]
    fn default_names_sit_beside_the_input() {
        assert_eq!(
            default_output(Path::new("dir/fix.csv"), RunKind::Real),
            PathBuf::from("dir/fix.results.csv")
        );
        assert_eq!(
            default_output(Path::new("fix.CSV"), RunKind::DryRun),
            PathBuf::from("fix.dry-run.csv")
        );
        assert_eq!(
            default_output(Path::new("fix.txt"), RunKind::Real),
            PathBuf::from("fix.txt.results.csv")
        );
        assert_eq!(
            default_output(Path::new("fix.csv"), RunKind::Sandbox),
            PathBuf::from("fix.sandbox-results.csv")
        );
    }

    #[test]
    fn clashing_extra_columns_are_renamed() {
        let header = result_header(&["ticket".into(), "Outcome".into()]);
        assert_eq!(&header[14..], ["ticket", "input_Outcome"]);
    }

    #[test]
    fn outcomes_round_trip_by_name() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
            assert_eq!(Outcome::ALL[o.index()], o);
        }
    }
}
