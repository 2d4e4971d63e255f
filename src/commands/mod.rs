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
    // The scan reads the input a second time only to decide candidate duplicates.
    let scan = crate::validate::scan(&mut reader, rules, &mut || source.reader(options))?;
    let file = source.display();
    let at = reader.location();
    for problem in &scan.problems {
        emit(
            Level::Error,
            "problem",
            &problem.render(&at),
            json!({
                "file": file,
                "sheet": reader.sheet(),
                "line": problem.line,
                "column": problem.column,
                "problem": problem.problem.to_string(),
            }),
        );
    }
    if scan.problems_not_kept > 0 {
        emit(
            Level::Error,
            "problems_not_shown",
            &format!(
                "{file}: {} more problem(s) after line {} not shown (the first {} are): fix \
                 these and validate again",
                scan.problems_not_kept,
                scan.problems.last().map_or(0, |p| p.line),
                scan.problems.len()
            ),
            json!({"file": file, "not_shown": scan.problems_not_kept}),
        );
    }
    for (line, first) in &scan.repeats {
        emit(
            Level::Warn,
            "repeat",
            &format!(
                "{at}{line}: identical in every cell to line {first}: one row, sent once (as line {first}); this line is recorded as skipped"
            ),
            json!({"file": file, "line": line, "repeats": first}),
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
    let repeated = match scan.repeated {
        0 => String::new(),
        n => format!(", {n} identical repeat(s) of another row, sent once"),
    };
    let hidden = match scan.hidden_skipped {
        0 => String::new(),
        n => format!(", {n} hidden row(s) left out (--hidden skip)"),
    };
    format!(
        "{} rows: {} valid ({}), {} invalid{repeated}{blank}{hidden}",
        scan.rows,
        scan.valid,
        per_state(&scan.per_state),
        scan.invalid()
    )
}

/// Counts per state, in words: `OK 3, KO 1, CANCELLED 0`.
pub(crate) fn per_state(counts: &[u64; 3]) -> String {
    State::ALL
        .iter()
        .map(|s| format!("{s} {}", counts[s.index()]))
        .collect::<Vec<_>>()
        .join(", ")
}
