//! The `tecalis-status` binary: parse the command line, hand it to the library, exit with
//! the code it decides.

use clap::Parser;

/// mimalloc: the run allocates many small, short-lived buffers per row (bodies, cells,
/// answers); measured faster than the system allocator (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = tecalis_status::cli::Cli::parse();
    tecalis_status::main(cli).into()
}
