//! `tecalis-status`: bulk status corrections for identity-verification processes, from a CSV,
//! through `PATCH {url}/customer/status`, safely enough to run from cron.
//!
//! The data flow is input → validate (every row, every problem, before any request) →
//! plan → runner → report. [`main`] is the whole program behind the thin binary.

pub mod cli;
pub mod exit;
pub mod input;
pub mod logging;
pub mod report;
pub mod sandbox;
pub mod signals;
pub mod validate;

use std::io::Write;

use crate::cli::{Cli, Command, InputArgs, ValidateArgs};
use crate::exit::ExitCode;
use crate::input::{InputError, ReadOptions, Source};
use crate::validate::{Rules, Scan, State};

/// Runs the command line and returns the exit code; prints every error itself.
pub fn main(cli: Cli) -> ExitCode {
    logging::init(&cli, false);
    let result = match cli.command {
        Command::Validate(args) => validate_command(&args),
        Command::Sandbox(args) => runtime()
            .and_then(|rt| rt.block_on(sandbox::serve(&args)))
            .map(|()| ExitCode::Success),
        Command::Run(_) => {
            eprintln!("error: not implemented yet");
            Ok(ExitCode::Fatal)
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::Fatal
        }
    }
}

/// The multi-threaded runtime that the network commands run on.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))
}

/// Prints an input error and gives the exit code it calls for.
fn input_failure(error: InputError) -> ExitCode {
    eprintln!("error: {error}");
    if error.is_invalid_input() {
        ExitCode::InvalidInput
    } else {
        ExitCode::Fatal
    }
}

/// The reading options and validation rules from the command line.
fn input_settings(args: &InputArgs) -> Result<(ReadOptions, Rules), InputError> {
    let options = ReadOptions::new(args.delimiter, args.encoding.as_deref())?;
    let rules = Rules {
        default_reasons: args.reasons.as_ref().map(|r| r.trim().to_string()),
        max_reasons_len: args.max_reasons_len,
    };
    Ok((options, rules))
}

/// Opens the input and scans every row; prints each problem.
fn scan_input(source: &Source, options: &ReadOptions, rules: &Rules) -> Result<Scan, InputError> {
    let mut reader = source.reader(options)?;
    let scan = validate::scan(&mut reader, rules)?;
    let stderr = std::io::stderr();
    let mut out = stderr.lock();
    for problem in &scan.problems {
        let _ = writeln!(out, "{}", problem.render(source.display()));
    }
    Ok(scan)
}

/// One line of counts: rows, valid, invalid, per state.
fn scan_counts(scan: &Scan) -> String {
    let states = State::ALL
        .iter()
        .map(|s| format!("{s} {}", scan.per_state[s.index()]))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{} rows: {} valid ({states}), {} invalid",
        scan.rows,
        scan.valid,
        scan.invalid()
    )
}

fn validate_command(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let (options, rules) = match input_settings(&args.input) {
        Ok(settings) => settings,
        Err(e) => return Ok(input_failure(e)),
    };
    let source = match Source::open(&args.input.input) {
        Ok(source) => source,
        Err(e) => return Ok(input_failure(e)),
    };
    let scan = match scan_input(&source, &options, &rules) {
        Ok(scan) => scan,
        Err(e) => return Ok(input_failure(e)),
    };
    let file = source.display();
    if scan.rows == 0 {
        eprintln!("{file}: the header is fine and there are no rows: nothing to do");
        return Ok(ExitCode::Success);
    }
    eprintln!("{file}: {}", scan_counts(&scan));
    if scan.invalid() > 0 {
        eprintln!(
            "{file}: {} problem(s) in {} row(s); fix them, or let `run --skip-invalid` record those rows as invalid and send the rest",
            scan.problems.len(),
            scan.invalid()
        );
        Ok(ExitCode::InvalidInput)
    } else {
        eprintln!("{file}: every row is valid");
        Ok(ExitCode::Success)
    }
}
