//! `validate INPUT`: check the file offline, print every problem and the counts; sends nothing.

use super::{input_failure, open_input, scan_input};
use crate::cli::ValidateArgs;
use crate::exit::ExitCode;

/// `validate INPUT`: every problem, the counts, exit 0 or 4.
pub fn validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let scanned = open_input(&args.input, false)
        .and_then(|(source, options, rules)| Ok((scan_input(&source, &options, &rules)?, source)));
    let (scan, source) = match scanned {
        Ok(scanned) => scanned,
        Err(e) => return Ok(input_failure(e)),
    };
    let file = source.display();
    if scan.rows == 0 {
        if !crate::logging::quiet() {
            eprintln!("{file}: the header is fine and there are no rows: nothing to do");
        }
        return Ok(ExitCode::Success);
    }
    if scan.invalid() > 0 {
        eprintln!(
            "{file}: {} problem(s) in {} row(s); fix them, or let `run --skip-invalid` record those rows as invalid and send the rest",
            scan.problems.len(),
            scan.invalid()
        );
        Ok(ExitCode::InvalidInput)
    } else {
        if !crate::logging::quiet() {
            eprintln!("{file}: every row is valid");
        }
        Ok(ExitCode::Success)
    }
}
