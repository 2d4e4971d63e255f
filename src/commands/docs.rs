//! `completions SHELL` and `man`: the shell completions and the manual page, generated from
//! the clap definition so they never drift from the flags.

use crate::cli::Cli;
use crate::exit::ExitCode;

/// Prints the completions for `shell` on standard output.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut command = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(
        shell,
        &mut command,
        "tecalis-status",
        &mut std::io::stdout(),
    );
    Ok(ExitCode::Success)
}

/// Prints the manual page (roff) on standard output.
pub fn man() -> anyhow::Result<ExitCode> {
    let command = <Cli as clap::CommandFactory>::command();
    clap_mangen::Man::new(command)
        .render(&mut std::io::stdout())
        .map(|()| ExitCode::Success)
        .map_err(anyhow::Error::from)
}
