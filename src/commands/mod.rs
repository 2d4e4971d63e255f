//! One module per command, each the thin orchestration of its command; and the input
//! helpers that `validate` and `run` share (open, scan, print the problems and counts).

mod docs;
mod report;
mod run;
mod sandbox;
mod validate;

use anyhow::Context;
use serde_json::json;

pub use docs::{completions, man};
pub use report::report;
pub use run::run;
pub use sandbox::sandbox;
pub use validate::validate;

use crate::config::InputPlan;
use crate::exit::ExitCode;
use crate::input::{InputError, ReadOptions, Source};
use crate::logging::{Level, emit};
use crate::validate::{Rules, Scan, State};

/// The multi-threaded runtime that the sandbox serves on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Prints an input error and gives the exit code it calls for.
pub(crate) fn input_failure(error: InputError) -> ExitCode {
    crate::logging::error(&error.to_string());
    if error.is_invalid_input() {
        ExitCode::InvalidInput
    } else {
        ExitCode::Fatal
    }
}

/// Opens the input. Standard input is spooled when the input will be read twice (`spool`).
pub(crate) fn open_input(input: &InputPlan, spool: bool) -> Result<Source, InputError> {
    if spool {
        Source::open(&input.path)
    } else {
        Source::open_once(&input.path)
    }
}

/// Opens the input and scans every row; prints each problem and the counts.
pub(crate) fn scan_input(
    source: &Source,
    options: &ReadOptions,
    rules: &Rules,
) -> Result<Scan, InputError> {
    let mut reader = source.reader(options)?;
    let scan = crate::validate::scan(&mut reader, rules)?;
    let file = source.display();
    for problem in &scan.problems {
        emit(
            Level::Error,
            "problem",
            &problem.render(file),
            json!({
                "file": file,
                "line": problem.line,
                "column": problem.column,
                "problem": problem.problem.to_string(),
            }),
        );
    }
    if scan.rows > 0 {
        let states: serde_json::Map<String, serde_json::Value> = State::ALL
            .iter()
            .map(|s| (s.to_string(), json!(scan.per_state[s.index()])))
            .collect();
        emit(
            Level::Info,
            "counts",
            &format!("{file}: {}", scan_counts(&scan)),
            json!({
                "file": file,
                "rows": scan.rows,
                "valid": scan.valid,
                "invalid": scan.invalid(),
                "states": states,
            }),
        );
    }
    Ok(scan)
}

/// One line of counts: rows, valid, invalid, per state.
fn scan_counts(scan: &Scan) -> String {
    let blank = match scan.blank_rows {
        0 => String::new(),
        n => format!(", {n} blank row(s) skipped"),
    };
    format!(
        "{} rows: {} valid ({}), {} invalid{blank}",
        scan.rows,
        scan.valid,
        per_state(scan),
        scan.invalid()
    )
}

pub(crate) fn per_state(scan: &Scan) -> String {
    State::ALL
        .iter()
        .map(|s| format!("{s} {}", scan.per_state[s.index()]))
        .collect::<Vec<_>>()
        .join(", ")
}
