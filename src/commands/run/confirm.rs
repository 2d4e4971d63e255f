//! The interactive confirmation before anything is sent: what will happen, asked on the
//! terminal itself (even when standard error is redirected), and its refusal without one.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::time::Duration;

use crate::commands::per_state;
use crate::config::{KeySource, Plan};
use crate::validate::Scan;

/// Whether the user agreed to send.
pub(super) enum Confirmation {
    Go,
    Refused(String),
    /// Ctrl-C (or SIGTERM) at the question.
    Interrupted,
}

/// What the valid rows will really be: sent, or skipped as already ok (`--resume`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Work {
    /// Rows that will be sent.
    pub(super) to_send: u64,
    /// Valid rows already ok in the results file, with the same state and reasons.
    pub(super) skipped: u64,
    /// Of those, the rows whose `ok` line is in the results file already (not written again).
    pub(super) already_recorded: u64,
    /// The rows to send per state, indexed by `State::index`.
    pub(super) per_state: [u64; 3],
    /// The rows to send that send reasons.
    pub(super) with_reasons: u64,
    /// The rows to send without their own key (they use the default key).
    pub(super) without_key: u64,
}

/// What the confirmation shows besides the plan and the scan.
pub(super) struct Prompt {
    /// The rows that will really be sent, and those skipped as already ok (`--resume`).
    pub work: Work,
}

/// The text shown before the question: the target, the counts, the keys, the results file
/// and how long it should take.
fn describe(plan: &Plan, scan: &Scan, prompt: &Prompt) -> String {
    let work = prompt.work;
    let mut text = format!(
        "About to send {} PATCH request(s) to {}\n",
        work.to_send, plan.endpoint
    );
    if work.skipped > 0 {
        text.push_str(&format!(
            "  ({} row(s) already ok in {} with the same state and reasons are skipped)\n",
            work.skipped,
            crate::text::shown_path(&plan.output)
        ));
    }
    text.push_str(&format!("  states: {}\n", per_state(&work.per_state)));
    text.push_str(&format!(
        "  reasons: sent by {} row(s); the others leave the stored reasons as they are\n",
        work.with_reasons
    ));
    text.push_str(&format!("  key: {}\n", describe_keys(plan, &work)));
    if scan.invalid() > 0 {
        text.push_str(&format!(
            "  {} invalid row(s) will be recorded as invalid, not sent\n",
            scan.invalid()
        ));
    }
    let seconds = work.to_send as f64 / plan.rate.per_second;
    text.push_str(&format!(
        "  results: {}\n  rate: {}/s, at most {} at once: about {} at that rate\n",
        crate::text::shown_path(&plan.output),
        plan.rate.per_second,
        plan.concurrency,
        crate::text::human_duration(Duration::from_secs(seconds.ceil() as u64))
    ));
    text
}

/// Asks for confirmation on the terminal; refuses without one unless `--yes`. Ctrl-C at the
/// question ends the program with exit 130, saying that nothing was sent.
pub(super) async fn confirm(plan: &Plan, scan: &Scan, prompt: &Prompt) -> Confirmation {
    if plan.yes {
        return Confirmation::Go;
    }
    let refuse = || {
        Confirmation::Refused(
            "error: refusing to send without confirmation: standard input is not a terminal. Pass --yes to confirm (as a cron job must); nothing was sent".into(),
        )
    };
    if !std::io::stdin().is_terminal() {
        return refuse();
    }
    // The terminal itself, so that `2>run.log` does not hide the question.
    let Ok(tty) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        return refuse();
    };
    let mut out = &tty;
    let _ = write!(
        out,
        "{}Type yes to send, anything else to stop: ",
        describe(plan, scan, prompt)
    );
    let _ = out.flush();
    let Ok(reader) = tty.try_clone() else {
        return refuse();
    };
    // A thread of its own, not the runtime's blocking pool: after Ctrl-C the read is left
    // waiting on the terminal, and the runtime must not wait for it when the run ends.
    let (answered, read) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut answer = String::new();
        let read = BufReader::new(reader)
            .read_line(&mut answer)
            .map(|n| (n, answer));
        let _ = answered.send(read);
    });
    let answer = tokio::select! {
        read = read => read.ok().and_then(Result::ok),
        () = crate::signals::interrupted() => {
            let _ = writeln!(out);
            return Confirmation::Interrupted;
        }
    };
    let answer = match answer {
        None | Some((0, _)) => {
            // Ctrl-D: the cursor is still on the question's line.
            let _ = writeln!(out);
            return Confirmation::Refused(
                "not confirmed (no answer: end of input): nothing was sent".into(),
            );
        }
        Some((_, answer)) => answer,
    };
    if answer.trim() == "yes" {
        crate::terminal::keep_prompt_terminal(&tty);
        Confirmation::Go
    } else {
        Confirmation::Refused(format!(
            "not confirmed (the answer was {:?}, not yes): nothing was sent",
            crate::results::neutralise(answer.trim())
                .chars()
                .take(40)
                .collect::<String>()
        ))
    }
}

/// Where the keys of the rows to send come from, in words: the default key's source, each
/// row's own (the api_key column), or both with their counts.
pub(super) fn describe_keys(plan: &Plan, work: &Work) -> String {
    let own_key = work.to_send.saturating_sub(work.without_key);
    match (work.without_key, own_key) {
        (_, 0) => format!("from {}", describe_key_source(&plan.key_source)),
        (0, n) => format!("each row's own (api_key column, {n} row(s))"),
        (d, n) => format!(
            "{n} row(s) with their own (api_key column), {d} from {}",
            describe_key_source(&plan.key_source)
        ),
    }
}

/// Where the default key comes from, in words.
pub(super) fn describe_key_source(source: &KeySource) -> String {
    match source {
        KeySource::Environment => "TECALIS_API_KEY".into(),
        KeySource::File(path) => crate::text::shown_path(path),
        KeySource::Sandbox => "the sandbox's demo key".into(),
        KeySource::None => "the api_key column".into(),
    }
}
