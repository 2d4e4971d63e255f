//! `tecalis-status`: bulk status corrections for identity-verification processes, from a CSV,
//! through `PATCH {url}/customer/status`, safely enough to run from cron.
//!
//! The data flow is input → validate (every row, every problem, before any request) →
//! plan → runner → report. [`main`] is the whole program behind the thin binary.

#![warn(missing_docs)]

pub mod adaptive;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod exit;
pub mod input;
pub mod logging;
pub mod report;
pub mod resume;
pub mod retry;
pub mod review;
pub mod runner;
pub mod sandbox;
pub mod signals;
pub mod summary;
pub mod validate;

use crate::cli::{Cli, Command, LogFormat, ProgressMode};
use crate::exit::ExitCode;

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
    logging::init(&cli, progress);
    let result = match &cli.command {
        Command::Validate(args) => commands::validate(args),
        Command::Run(args) => commands::run(args, progress),
        Command::Report(args) => review::report(args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(
                *shell,
                &mut command,
                "tecalis-status",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::Success)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command)
                .render(&mut std::io::stdout())
                .map(|()| ExitCode::Success)
                .map_err(anyhow::Error::from)
        }
        Command::Sandbox(args) => commands::runtime()
            .and_then(|rt| rt.block_on(sandbox::serve(args)))
            .map(|()| ExitCode::Success),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::Fatal
        }
    }
}
