//! The `tecalis-status` binary: parse the command line, hand it to the library, exit with
//! the code it decides.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = tecalis_status::cli::Cli::parse();
    tecalis_status::main(cli).into()
}
