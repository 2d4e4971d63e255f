//! The interactive confirmation before anything is sent, and its refusal without a terminal.

use std::io::{BufRead, IsTerminal, Write};

use super::describe_key_source;
use crate::commands::per_state;
use crate::config::Plan;
use crate::validate::Scan;

/// Whether the user agreed to send.
pub(super) enum Confirmation {
    Go,
    Refused(String),
}

/// Asks for confirmation on a terminal; refuses without one unless `--yes`.
pub(super) fn confirm(yes: bool, plan: &Plan, scan: &Scan) -> Confirmation {
    if yes {
        return Confirmation::Go;
    }
    if !std::io::stdin().is_terminal() {
        return Confirmation::Refused(
            "error: refusing to send without confirmation: standard input is not a terminal. Pass --yes to confirm (as a cron job must); nothing was sent".into(),
        );
    }
    eprintln!(
        "About to send {} PATCH request(s) to {}\n  states: {}\n  key from {}{}",
        scan.valid,
        plan.endpoint,
        per_state(scan),
        describe_key_source(&plan.key_source),
        if scan.invalid() > 0 {
            format!(
                "\n  {} invalid row(s) will be recorded as invalid",
                scan.invalid()
            )
        } else {
            String::new()
        }
    );
    eprint!("Type yes to continue: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return Confirmation::Refused("no answer: nothing was sent".into());
    }
    if answer.trim().eq_ignore_ascii_case("yes") || answer.trim().eq_ignore_ascii_case("y") {
        Confirmation::Go
    } else {
        Confirmation::Refused(format!(
            "not confirmed (the answer was {:?}, not yes): nothing was sent",
            answer.trim()
        ))
    }
}
