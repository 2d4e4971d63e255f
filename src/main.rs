//! The `tecalis-status` binary: parse the command line, hand it to the library, exit with
//! the code it decides.

use clap::Parser;

fn main() -> std::process::ExitCode {
    match tecalis_status::cli::Cli::try_parse() {
        Ok(cli) => tecalis_status::main(cli).into(),
        Err(error) => tecalis_status::parse_error(error),
    }
}
