//! The results CSV: its columns, the outcome of each row, spreadsheet-safe cells, and the
//! writer that the collector alone uses, flushing each row as it finishes.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::validate::Row;

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

/// The final outcome of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 2xx: the state was applied.
    Ok,
    /// 401: the key and the auth_uuid do not match.
    Unauthorized,
    /// Another 4xx: the server refused the request; not retried.
    Rejected,
    /// Transient errors left after the retries.
    Failed,
    /// Never sent: the row is invalid.
    Invalid,
    /// Not sent: already `ok` in a previous run (`--resume`).
    Skipped,
    /// Not sent: dry run.
    DryRun,
    /// Not sent: the run stopped before this row.
    Cancelled,
}

impl Outcome {
    /// Every outcome, in the order summaries list them.
    pub const ALL: [Outcome; 8] = [
        Outcome::Ok,
        Outcome::Skipped,
        Outcome::DryRun,
        Outcome::Unauthorized,
        Outcome::Rejected,
        Outcome::Failed,
        Outcome::Invalid,
        Outcome::Cancelled,
    ];

    /// The name used in the results file and the JSON summary.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Unauthorized => "unauthorized",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
            Outcome::Invalid => "invalid",
            Outcome::Skipped => "skipped",
            Outcome::DryRun => "dry_run",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// Parses the name written by [`Outcome::as_str`].
    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == text)
    }

    /// Position in [`Outcome::ALL`], for counters.
    pub fn index(self) -> usize {
        Outcome::ALL
            .iter()
            .position(|o| *o == self)
            .expect("every outcome is in ALL")
    }
}

/// What the server said about the process in a 200 answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Remote {
    /// `data.process_uuid`.
    pub process_uuid: String,
    /// `data.status`.
    pub status: String,
    /// `data.status_reasons`.
    pub status_reasons: String,
    /// `data.updated_at`.
    pub updated_at: String,
}

/// The record of one finished row: one line of the results file.
#[derive(Debug, Clone)]
pub struct RowResult {
    /// The input row.
    pub row: Row,
    /// How it ended.
    pub outcome: Outcome,
    /// The HTTP status of the last answer, if any.
    pub http_status: Option<u16>,
    /// Requests sent for this row (0 if never sent).
    pub attempts: u32,
    /// Duration of the last attempt, in milliseconds.
    pub latency_ms: Option<u64>,
    /// What went wrong, or a note; empty when all went well.
    pub error: String,
    /// The process as the server returned it, on success.
    pub remote: Option<Remote>,
    /// When the row finished.
    pub finished_at: SystemTime,
}

impl RowResult {
    /// A row that was never sent.
    pub fn unsent(row: Row, outcome: Outcome, error: String) -> RowResult {
        RowResult {
            row,
            outcome,
            http_status: None,
            attempts: 0,
            latency_ms: None,
            error,
            remote: None,
            finished_at: SystemTime::now(),
        }
    }
}

/// Makes a cell safe to open in a spreadsheet: a cell that a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@`, tab, carriage return first) gets a leading `'`. A cell that
/// already starts with `'` gets one too, so that [`restore_cell`] is its exact inverse.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\'') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// The inverse of [`neutralise`], for readers of a results file.
pub fn restore_cell(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

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

/// How to treat an existing results file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingFile {
    /// Refuse to start if it exists.
    Refuse,
    /// Truncate it (`--force`, or a dry run's own preview file).
    Overwrite,
    /// Append to it (`--resume`).
    Append,
}

/// The results CSV, locked for the whole run, with each row flushed as it is written.
pub struct ResultsWriter {
    writer: csv::Writer<File>,
    path: PathBuf,
}

impl std::fmt::Debug for ResultsWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultsWriter")
            .field("path", &self.path)
            .finish()
    }
}

impl ResultsWriter {
    /// Opens (and locks) the results file; writes the header unless appending to a file that
    /// already has one.
    pub fn create(
        path: &Path,
        existing: ExistingFile,
        extras: &[String],
    ) -> anyhow::Result<ResultsWriter> {
        let shown = path.display();
        let exists = path.exists();
        if exists && existing == ExistingFile::Refuse {
            bail!(
                "{shown} already exists: pass --resume to continue that run, --force to overwrite it, or --output to write elsewhere"
            );
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot open the results file {shown}"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "{shown} is locked by another run of tecalis-status that is writing it; wait for it to finish or choose another --output"
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock the results file {shown}"));
            }
        }
        let has_content = file.metadata().map(|m| m.len() > 0).unwrap_or(false);
        let write_header = match existing {
            ExistingFile::Append if has_content => {
                file.seek(SeekFrom::End(0))
                    .with_context(|| format!("cannot append to {shown}"))?;
                ensure_ends_with_newline(&mut file)
                    .with_context(|| format!("cannot append to {shown}"))?;
                false
            }
            _ => {
                file.set_len(0)
                    .with_context(|| format!("cannot truncate {shown}"))?;
                true
            }
        };
        let mut writer = csv::WriterBuilder::new().flexible(false).from_writer(file);
        if write_header {
            writer
                .write_record(result_header(extras))
                .and_then(|_| writer.flush().map_err(csv::Error::from))
                .with_context(|| format!("cannot write the results file {shown}"))?;
        }
        Ok(ResultsWriter {
            writer,
            path: path.to_path_buf(),
        })
    }

    /// Writes one finished row and flushes it to the operating system, so that an
    /// interrupted run loses nothing that finished.
    pub fn write(&mut self, result: &RowResult) -> anyhow::Result<()> {
        self.write_unflushed(result)?;
        self.flush()
    }

    /// Flushes the rows written so far to the operating system.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.writer
            .flush()
            .with_context(|| format!("cannot write the results file {}", self.path.display()))
    }

    /// Writes one finished row into the buffer; [`ResultsWriter::flush`] must follow before
    /// the run waits for anything.
    pub fn write_unflushed(&mut self, result: &RowResult) -> anyhow::Result<()> {
        let r = result;
        let empty = Remote::default();
        let remote = r.remote.as_ref().unwrap_or(&empty);
        let mut numbers = [
            itoa::Buffer::new(),
            itoa::Buffer::new(),
            itoa::Buffer::new(),
            itoa::Buffer::new(),
        ];
        let [line, status, attempts, latency] = &mut numbers;
        let finished = humantime::format_rfc3339_millis(r.finished_at).to_string();
        let fixed: [Cow<'_, str>; 14] = [
            Cow::Borrowed(line.format(r.row.line)),
            neutralise(&r.row.auth_uuid),
            neutralise(&r.row.state),
            neutralise(&r.row.reasons),
            Cow::Borrowed(r.outcome.as_str()),
            Cow::Borrowed(r.http_status.map(|s| status.format(s)).unwrap_or("")),
            Cow::Borrowed(attempts.format(r.attempts)),
            Cow::Borrowed(r.latency_ms.map(|ms| latency.format(ms)).unwrap_or("")),
            neutralise(&r.error),
            neutralise(&remote.process_uuid),
            neutralise(&remote.status),
            neutralise(&remote.status_reasons),
            neutralise(&remote.updated_at),
            Cow::Owned(finished),
        ];
        let extras: Vec<Cow<'_, str>> = r.row.extras.iter().map(|e| neutralise(e)).collect();
        self.writer
            .write_record(fixed.iter().chain(extras.iter()).map(|c| c.as_bytes()))
            .with_context(|| format!("cannot write the results file {}", self.path.display()))?;
        Ok(())
    }

    /// Where the results go.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A crash can leave a last line without its newline; start appending on a fresh line.
fn ensure_ends_with_newline(file: &mut File) -> std::io::Result<()> {
    use std::io::Read;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    file.seek(SeekFrom::End(0))?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
    }
    Ok(())
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
/// where a name clashes with a fixed one).
pub fn result_header(extras: &[String]) -> Vec<String> {
    let mut header: Vec<String> = RESULT_COLUMNS.iter().map(|c| c.to_string()).collect();
    for extra in extras {
        let clashes = header.iter().any(|h| h.eq_ignore_ascii_case(extra));
        header.push(if clashes {
            format!("input_{extra}")
        } else {
            extra.clone()
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
