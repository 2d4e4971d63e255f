//! `tecalis-status`: bulk status corrections for identity-verification processes, from a CSV,
//! through `PATCH {url}/customer/status`, safely enough to run from cron.
//!
//! The data flow is input → validate (every row, every problem, before any request) →
//! plan → send → results → summary. [`main`] is the whole program behind the thin binary.

#![warn(missing_docs)]

pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod core_dumps;
pub mod exit;
pub mod files;
pub mod input;
pub mod logging;
pub mod progress;
pub mod results;
pub mod retry;
pub mod sandbox;
pub mod send;
pub mod signals;
pub mod summary;
pub mod terminal;
pub mod text;
pub mod validate;

use crate::cli::{Cli, Command, LogFormat, ProgressMode};
use crate::exit::ExitCode;

/// Prints a command line that did not parse (or `--help`, `--version`) as clap does, and
/// returns its exit code; with `--log-format json` among the arguments, a usage error is one
/// JSON line (`kind` `usage`), like every other line on standard error.
pub fn parse_error(error: clap::Error) -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--log-format=json")
        || args
            .windows(2)
            .any(|w| w[0] == "--log-format" && w[1] == "json");
    if !json || !error.use_stderr() {
        error.exit()
    }
    let text = error.render().to_string();
    eprintln!(
        "{}",
        logging::json_line(
            logging::Level::Error,
            "usage",
            text.trim_end(),
            serde_json::Value::Null
        )
    );
    std::process::ExitCode::from(error.exit_code().clamp(0, 255) as u8)
}

/// Runs the command line and returns the exit code; prints every error itself.
pub fn main(cli: Cli) -> ExitCode {
    let progress = match &cli.command {
        // A bar needs a terminal: escape codes would garble a log file.
        Command::Run(args) => {
            !args.dry_run
                && std::io::IsTerminal::is_terminal(&std::io::stderr())
                && match args.progress {
                    ProgressMode::Never => false,
                    ProgressMode::Always => true,
                    ProgressMode::Auto => !cli.quiet && cli.log_format == LogFormat::Text,
                }
        }
        _ => false,
    };
    if let Command::Run(args) = &cli.command {
        // With standard error redirected, the bar may go to the confirmation's terminal.
        terminal::allow_progress_on_prompt_terminal(match args.progress {
            ProgressMode::Never => false,
            ProgressMode::Always => true,
            ProgressMode::Auto => !cli.quiet,
        });
    }
    logging::init(&cli, progress);
    // A run takes SIGINT and SIGTERM over from the start (they were blocked at the first line
    // of `main`, so one that came already is pending, not lost): a signal while the input is
    // read, validated or confirmed must stop it before anything is sent, not kill it without
    // its summary nor go unseen until sending starts. The other commands keep the default.
    match &cli.command {
        Command::Run(_) => {
            if let Err(error) = signals::install() {
                logging::error(&format!("cannot install the signal handlers: {error}"));
                return ExitCode::Fatal;
            }
        }
        _ => signals::unblock(),
    }
    // Before any key is read.
    if let Err(why) = core_dumps::disable() {
        tracing::warn!(
            "could not switch core dumps off ({why}); a crash could write the key to a core file"
        );
    }
    let result = match &cli.command {
        Command::Validate(args) => commands::validate(args),
        Command::Run(args) => commands::run(args, progress),
        Command::Report(args) => commands::report(args),
        Command::Completions { shell } => commands::completions(*shell),
        Command::Man(args) => commands::man(args),
        Command::Sandbox(args) => commands::sandbox(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            // Paths and cells inside an error are text like any other: never terminal control.
            logging::error(&text::escape_controls(&format!("{error:#}")));
            exit::code_for_error(&error)
        }
    }
}
