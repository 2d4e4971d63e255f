//! The `tecalis-status` binary: parse the command line, hand it to the library, exit with
//! the code it decides.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // First of all: a SIGINT or SIGTERM from now on waits for the run's handlers instead of
    // killing the process (the other commands unblock them again; see `signals`).
    tecalis_status::signals::block();
    match tecalis_status::cli::Cli::try_parse() {
        Ok(cli) => tecalis_status::main(cli).into(),
        Err(error) => {
            tecalis_status::signals::unblock();
            tecalis_status::parse_error(error)
        }
    }
}
