//! Log output on standard error: text or JSON, verbosity from `-v`/`--quiet`/`RUST_LOG`,
//! colours only on a terminal and never with `NO_COLOR`. Every message that is not a
//! `tracing` event (problems, counts, refusals, the summary, errors) goes through [`emit`],
//! so that with `--log-format json` every line on standard error is one JSON object.

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
static JSON: AtomicBool = AtomicBool::new(false);

/// How serious a message is: the `level` of its JSON line, as `tracing` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Information: left out with `--quiet`.
    Info,
    /// Information that `--quiet` keeps (the final summary); `INFO` in JSON.
    Notice,
    /// Something to look at; the command goes on.
    Warn,
    /// The command failed or refused.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info | Level::Notice => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// Whether `--log-format json` was given.
pub fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Prints one message on standard error. As text: `text` as it is (it may hold several
/// lines). With `--log-format json`: one line, the object
/// `{"timestamp", "level", "kind", "message": text, ...fields}`, where `fields` (an object, or
/// null) adds what a script needs without parsing the text. Informational messages are left
/// out with `--quiet`. The progress bar, if any, is lifted while the message is printed.
pub fn emit(level: Level, kind: &str, text: &str, fields: serde_json::Value) {
    if level == Level::Info && quiet() {
        return;
    }
    let line = match json() {
        true => json_line(level, kind, text, fields),
        false => text.trim_end_matches('\n').to_string(),
    };
    tracing_indicatif::suspend_tracing_indicatif(|| {
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    });
    // With standard error redirected after a confirmation on the terminal, the end of the
    // run and an interruption are shown there too.
    if matches!(kind, "summary" | "next" | "interrupted") {
        crate::terminal::echo_on_prompt_terminal(text);
    }
}

/// The JSON line of [`emit`].
pub(crate) fn json_line(level: Level, kind: &str, text: &str, fields: serde_json::Value) -> String {
    json_line_at(level.as_str(), kind, text, fields)
}

/// The one shape of every JSON line on standard error: `timestamp`, `level` (as `tracing`
/// names it), `kind`, `message`, then `fields` (an object, or null).
fn json_line_at(level: &str, kind: &str, text: &str, fields: serde_json::Value) -> String {
    let mut object = serde_json::Map::new();
    object.insert(
        "timestamp".into(),
        humantime::format_rfc3339_micros(std::time::SystemTime::now())
            .to_string()
            .into(),
    );
    object.insert("level".into(), level.into());
    object.insert("kind".into(), kind.into());
    object.insert("message".into(), text.trim_end_matches('\n').into());
    if let serde_json::Value::Object(fields) = fields {
        object.extend(fields);
    }
    serde_json::Value::Object(object).to_string()
}

/// An error message (`error: ...` as text), kind `error`.
pub fn error(text: &str) {
    let text = text.strip_prefix("error: ").unwrap_or(text);
    emit(
        Level::Error,
        "error",
        &format!("error: {text}"),
        serde_json::Value::Null,
    );
}

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
    JSON.store(cli.log_format == LogFormat::Json, Ordering::Relaxed);
    if cli.log_format == LogFormat::Json {
        // A bug's message is a JSON line too (kind `panic`), so that a log stays readable.
        std::panic::set_hook(Box::new(|info| {
            use std::io::Write;
            let text =
                format!("internal error (a bug in tecalis-status, please report it): {info}");
            let line = json_line(Level::Error, "panic", &text, serde_json::Value::Null);
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }));
    }
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
            .event_format(JsonEvent)
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

/// A `tracing` event as a JSON line of the same shape as [`emit`]'s: kind `log` (or the
/// event's own `kind` field), its `target` (the module) and its fields at the top level.
struct JsonEvent;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for JsonEvent
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'w> tracing_subscriber::fmt::FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        _: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = match fields.0.remove("message") {
            Some(serde_json::Value::String(text)) => text,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let mut object = serde_json::Map::new();
        object.insert("target".into(), event.metadata().target().into());
        object.extend(fields.0);
        let line = json_line_at(
            event.metadata().level().as_str(),
            "log",
            &message,
            serde_json::Value::Object(object),
        );
        writeln!(writer, "{line}")
    }
}

/// An event's fields as JSON values.
#[derive(Default)]
struct Fields(serde_json::Map<String, serde_json::Value>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_line_is_one_object_with_the_fields() {
        let line = json_line(
            Level::Warn,
            "problem",
            "a\nb\n",
            serde_json::json!({"line": 3}),
        );
        assert!(!line.contains('\n'), "{line}");
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["level"], "WARN");
        assert_eq!(value["kind"], "problem");
        assert_eq!(value["message"], "a\nb");
        assert_eq!(value["line"], 3);
        assert!(value["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
