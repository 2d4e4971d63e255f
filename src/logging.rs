//! Log output on standard error: text or JSON, verbosity from `-v`/`--quiet`/`RUST_LOG`,
//! colours only on a terminal and never with `NO_COLOR`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::cli::{Cli, LogFormat};

/// The filter used when `RUST_LOG` is not set. Only this crate gets more verbose with `-v`:
/// the HTTP stack's own trace output is never switched on by our flags.
fn default_filter(cli: &Cli) -> String {
    let level = if cli.quiet {
        // Warnings stay: a key file readable by others must not be hidden by --quiet.
        "warn"
    } else {
        match cli.verbose {
            0 => "info",
            1 => "debug",
            _ => "trace",
        }
    };
    format!("warn,tecalis_status={level}")
}

static QUIET: AtomicBool = AtomicBool::new(false);

/// Whether `--quiet` was given: informational lines are left out; problems, errors and the
/// final summary are not.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Whether colours may be used on standard error.
pub fn colour_allowed() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the global subscriber. With `progress`, log lines go through the progress bar's
/// writer so that they do not tear the bar. Safe to call more than once (later calls do
/// nothing).
pub fn init(cli: &Cli, progress: bool) {
    QUIET.store(cli.quiet, Ordering::Relaxed);
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter(cli)));
    let (writer, indicatif) = if progress {
        let layer = tracing_indicatif::IndicatifLayer::new();
        let writer = BoxMakeWriter::new(layer.get_stderr_writer());
        // Only spans that ask for a bar (the run) get one.
        let layer = layer.with_filter(tracing_indicatif::filter::IndicatifFilter::new(false));
        (writer, Some(layer))
    } else {
        (BoxMakeWriter::new(std::io::stderr), None)
    };
    let fmt = match cli.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(writer)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(colour_allowed())
            .with_target(false)
            .with_writer(writer)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(indicatif)
        .try_init();
}
