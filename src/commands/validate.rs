//! `validate INPUT`: check the file offline, print every problem and the counts; sends nothing.

use super::{input_failure, open_input, scan_input};
use crate::cli::ValidateArgs;
use crate::config::InputPlan;
use crate::exit::ExitCode;
use crate::logging::{Level, emit};
use serde_json::json;

/// `validate INPUT`: every problem, the counts, exit 0 or 4.
pub fn validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let scanned = InputPlan::from_args(&args.input).and_then(|input| {
        let source = open_input(&input, false)?;
        Ok((scan_input(&source, &input.options, &input.rules)?, source))
    });
    let (scan, source) = match scanned {
        Ok(scanned) => scanned,
        Err(e) => return Ok(input_failure(e)),
    };
    let file = source.display();
    if scan.rows == 0 {
        emit(
            Level::Info,
            "validated",
            &format!("{file}: the header is fine and there are no rows: nothing to do"),
            json!({"file": file, "rows": 0, "invalid": 0}),
        );
        return Ok(ExitCode::Success);
    }
    if scan.invalid() > 0 {
        emit(
            Level::Error,
            "validated",
            &format!(
                "{file}: {} problem(s) in {} row(s); fix them, or let `run --skip-invalid` record those rows as invalid and send the rest",
                scan.problems.len(),
                scan.invalid()
            ),
            json!({"file": file, "rows": scan.rows, "invalid": scan.invalid(), "problems": scan.problems.len()}),
        );
        Ok(ExitCode::InvalidInput)
    } else {
        emit(
            Level::Info,
            "validated",
            &format!("{file}: every row is valid"),
            json!({"file": file, "rows": scan.rows, "invalid": 0}),
        );
        Ok(ExitCode::Success)
    }
}
