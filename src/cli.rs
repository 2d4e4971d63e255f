//! The command line: subcommands, flags, help text and value parsers (clap derive only).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Apply bulk status corrections to identity-verification processes, safely.
#[derive(Debug, Parser)]
#[command(name = "tecalis-status", version, about, long_about = None)]
#[command(
    before_help = "Start here: tecalis-status run samples/corrections.csv --sandbox --yes \
(a rehearsal against the built-in sandbox: nothing leaves this machine).",
    after_help = "Exit codes: 0 all ok, 1 fatal error, 2 usage error, 3 some rows failed, \
4 invalid input (nothing sent), 5 stopped: credentials evidently wrong, 6 stopped: server \
unreachable, 130 interrupted."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Print less: warnings, errors and the command's result only.
    #[arg(long, short, global = true, help_heading = "Global options")]
    pub quiet: bool,
    /// More log output (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(long, short, global = true, action = clap::ArgAction::Count, help_heading = "Global options")]
    pub verbose: u8,
    /// Format of log lines on standard error: `json` makes every line one JSON object.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, help_heading = "Global options")]
    pub log_format: LogFormat,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check an input file offline and report every problem; sends nothing.
    #[command(
        after_help = "Examples:\n  tecalis-status validate corrections.csv\n  \
        tecalis-status validate --encoding windows-1252 export.csv\n  \
        cat corrections.csv | tecalis-status validate -"
    )]
    Validate(ValidateArgs),
    /// Validate, then send one PATCH per row and write a results CSV.
    #[command(
        after_help = "Examples:\n  tecalis-status run samples/corrections.csv --sandbox --yes\n  \
        TECALIS_URL=https://api.example.com TECALIS_API_KEY=... tecalis-status run corrections.csv\n  \
        tecalis-status run corrections.csv --dry-run --api-key-file ~/.tecalis-key\n  \
        tecalis-status run corrections.csv --resume --yes"
    )]
    Run(Box<RunArgs>),
    /// Serve a local stand-in of the endpoint, for rehearsals, tests and benchmarks.
    #[command(after_help = "Examples:\n  tecalis-status sandbox\n  \
        tecalis-status sandbox --listen 127.0.0.1:0 --latency 100ms --error-rate 0.05\n  \
        tecalis-status sandbox --rate-limit 50 --accept-unknown")]
    Sandbox(SandboxArgs),
    /// Read a results file and print the final outcome of the job; export what did not end ok.
    #[command(
        after_help = "The last line for an auth_uuid is its final outcome (a results file \
        holds one line per row and run after --resume).\n\nExamples:\n  \
        tecalis-status report corrections.results.csv\n  \
        tecalis-status report corrections.results.csv --export-failed retry.csv\n\n\
        Exit codes: 0 every row ended ok or skipped, 3 some did not, 1 the file cannot be read."
    )]
    Report(ReportArgs),
    /// Print shell completions to standard output.
    #[command(
        after_help = "Examples:\n  tecalis-status completions bash > /etc/bash_completion.d/tecalis-status\n  \
        tecalis-status completions zsh > \"${fpath[1]}/_tecalis-status\"\n  \
        tecalis-status completions fish > ~/.config/fish/completions/tecalis-status.fish"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff) to standard output, or write every page to a folder.
    #[command(
        after_help = "Examples:\n  tecalis-status man > /usr/local/share/man/man1/tecalis-status.1\n  \
        tecalis-status man run | man -l -\n  \
        tecalis-status man --out-dir /usr/local/share/man/man1"
    )]
    Man(ManArgs),
}

/// `man [COMMAND]`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The subcommand whose page to print (`run`, `validate`, …); the top page without one.
    pub command: Option<String>,
    /// Write every page (tecalis-status.1, tecalis-status-run.1, …) into this folder instead.
    #[arg(long, conflicts_with = "command")]
    pub out_dir: Option<PathBuf>,
}

/// `report RESULTS`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A results file written by `run`.
    pub results: PathBuf,
    /// Write the rows whose final outcome is not `ok`/`skipped` to this file, in the input
    /// format (auth_uuid,state,reasons and the extra columns), ready to correct and run again.
    #[arg(long)]
    pub export_failed: Option<PathBuf>,
    /// Overwrite the export file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// How the input file is read and checked; shared by `validate` and `run`.
#[derive(Debug, Args, Clone)]
pub struct InputArgs {
    /// The CSV file of corrections (`auth_uuid,state[,reasons][,api_key]`), or `-` for
    /// standard input.
    pub input: PathBuf,
    /// Field delimiter; detected among `,` `;` tab `|` when not given.
    #[arg(long, value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,
    /// Character encoding of the input, e.g. `windows-1252` or `latin1`. UTF-8 by default.
    #[arg(long, value_parser = crate::input::encoding_label)]
    pub encoding: Option<String>,
    /// Reasons to send for rows whose `reasons` cell is empty (by default such rows send no
    /// reasons, leaving the stored ones unchanged).
    #[arg(long)]
    pub reasons: Option<String>,
    /// The longest `reasons` text accepted, in characters.
    #[arg(long, default_value_t = 2000)]
    pub max_reasons_len: usize,
}

/// `validate INPUT`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The input and how to read it.
    #[command(flatten)]
    pub input: InputArgs,
}

/// `run INPUT`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The input and how to read it.
    #[command(flatten)]
    pub input: InputArgs,
    /// Validate and show what would be sent (key redacted), then stop; sends nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run against a sandbox started in this process with the bundled processes and key
    /// (TECALIS_URL and TECALIS_API_KEY are then ignored).
    #[arg(long, conflicts_with = "api_key_file")]
    pub sandbox: bool,
    /// Base URL of the API, e.g. https://api.example.com; `/customer/status` is appended.
    #[arg(long, env = "TECALIS_URL", hide_env_values = true)]
    pub url: Option<String>,
    /// Read the API key from this file (first line). Otherwise TECALIS_API_KEY is used.
    #[arg(long)]
    pub api_key_file: Option<PathBuf>,
    /// Results CSV. Default: NAME.results.csv beside an input NAME.csv.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Overwrite an existing results file.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Continue a previous run: rows already `ok` in the results file are not sent again.
    #[arg(long)]
    pub resume: bool,
    /// Send the valid rows even if some are invalid; those are recorded as `invalid`.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Requests in flight at most [default: 4; with `--rate auto`: 64, a ceiling, so that
    /// the number in flight follows rate × latency].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: Option<u32>,
    /// Requests per second across the run, retries included: `10`, `10/s`, `300/min`; or
    /// `auto` to find the vendor's limit: start low, speed up while answers come back
    /// un-throttled, slow down on a 429.
    #[arg(long, default_value = "10", value_parser = parse_rate_mode)]
    pub rate: RateMode,
    /// With `--rate auto`: the rate it never passes [default: 100/s].
    #[arg(long, value_parser = parse_rate)]
    pub max_rate: Option<Rate>,
    /// Retries for transient failures (connection errors, timeouts, 408, 429, 5xx).
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
    /// Time limit for one request, e.g. `30s`, `1m`, `500ms`.
    #[arg(long, default_value = "30s", value_parser = parse_positive_duration)]
    pub timeout: Duration,
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub max_retry_after: Duration,
    /// Time limit for establishing a connection.
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration)]
    pub connect_timeout: Duration,
    /// Allow plain http:// to a host that is not loopback.
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// Stop after this many 401 answers in all (the rest is recorded `cancelled`).
    #[arg(long)]
    pub max_unauthorized: Option<u64>,
    /// Send the first N valid rows one at a time first; stop unless all are `ok`.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub canary: Option<u64>,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,
    /// Also write the summary as JSON to this file.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
    /// Progress bar on standard error: `auto` draws it on a terminal unless `--quiet` or JSON
    /// logs; `always` on a terminal even then; `never` logs progress lines instead.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Without a progress bar, log a progress line this often (e.g. for cron logs).
    #[arg(long, default_value = "5s", value_parser = parse_positive_duration)]
    pub log_every: Duration,
}

/// `sandbox`.
#[derive(Debug, Args, Clone)]
pub struct SandboxArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Processes to serve (JSON list or CSV with `auth_uuid,api_key` and optional fields).
    /// Default: the bundled samples.
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Create processes for unseen auth_uuids on first use instead of answering 401.
    #[arg(long)]
    pub accept_unknown: bool,
    /// Serve the API under this path prefix, e.g. `/v1`.
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// Added latency for every answer, e.g. `100ms`.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub latency: Duration,
    /// Random extra latency, up to this much, added to `--latency`.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub jitter: Duration,
    /// Fraction (0..1) of requests answered with `--error-status`.
    #[arg(long, default_value_t = 0.0, value_parser = parse_fraction)]
    pub error_rate: f64,
    /// The status of injected errors.
    #[arg(long, default_value_t = 503)]
    pub error_status: u16,
    /// Requests accepted in any sliding 1-second window; more are answered 429 with
    /// `Retry-After: 1` (see `--retry-after`).
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Fraction (0..1) of requests whose connection is reset without an answer.
    #[arg(long, default_value_t = 0.0, value_parser = parse_fraction)]
    pub drop_rate: f64,
    /// Fraction (0..1) of requests answered only after `--slow-delay`.
    #[arg(long, default_value_t = 0.0, value_parser = parse_fraction)]
    pub slow_rate: f64,
    /// How late a slow answer comes.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub slow_delay: Duration,
    /// How many received requests are kept for `/_sandbox/requests` (oldest dropped first).
    #[arg(long, default_value_t = 100_000)]
    pub keep_requests: usize,
    /// How many bytes of received requests are kept for `/_sandbox/requests` (oldest dropped
    /// first).
    #[arg(long, default_value_t = 32 << 20)]
    pub keep_bytes: usize,
    /// Close a connection that sends no complete request within this (half-open or idle
    /// keep-alive connections); `0s` for no limit.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Answer 200 with the process as it is, without applying the change (the echoed
    /// `status` then differs from the state sent).
    #[arg(long)]
    pub ignore_changes: bool,
    /// Answer the first N requests for each auth_uuid with `--error-status` (e.g. 503 then 200).
    #[arg(long, default_value_t = 0)]
    pub fail_first: u32,
    /// `Retry-After` on injected 429 and 503 answers and on `--rate-limit`'s 429s: seconds
    /// (`2`), `date:N` for an HTTP date N seconds ahead, `none` for no header, or any text.
    /// Default: `1` on 429s from `--rate-limit` only.
    #[arg(long)]
    pub retry_after: Option<String>,
    /// Body of injected errors: the vendor's JSON, an HTML page, none, the request quoted back
    /// (key included), a message with terminal escapes, or a 200,000-character message.
    #[arg(long, value_enum, default_value_t = crate::sandbox::ErrorBody::Json)]
    pub error_body: crate::sandbox::ErrorBody,
    /// Body of 200 answers: the vendor's, malformed JSON, 8 MiB, or none.
    #[arg(long, value_enum, default_value_t = crate::sandbox::OkBody::Normal)]
    pub ok_body: crate::sandbox::OkBody,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// When to draw the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// On a terminal, unless `--quiet` or `--log-format json`.
    Auto,
    /// On a terminal, even with `--quiet` or `--log-format json`.
    Always,
    /// Never; log a progress line every `--log-every` instead.
    Never,
}

/// A sending rate, as requests per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests per second (may be fractional, e.g. 30/min = 0.5).
    pub per_second: f64,
}

impl Rate {
    /// The time between two consecutive send slots.
    pub fn period(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second)
    }
}

/// What `--rate` asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateMode {
    /// A fixed rate.
    Fixed(Rate),
    /// `auto`: the rate adapts to the server's throttling, up to `--max-rate`.
    Auto,
}

/// Parses `auto`, or a fixed rate as [`parse_rate`] does.
pub fn parse_rate_mode(text: &str) -> Result<RateMode, String> {
    if text.trim().eq_ignore_ascii_case("auto") {
        Ok(RateMode::Auto)
    } else {
        parse_rate(text)
            .map(RateMode::Fixed)
            .map_err(|e| format!("{e}; or `auto` to find the server's limit"))
    }
}

/// Parses `10`, `10/s`, `10/sec`, `600/min`, `3600/h`.
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let text = text.trim();
    let (number, unit) = match text.split_once('/') {
        Some((n, u)) => (n.trim(), u.trim().to_ascii_lowercase()),
        None => (text, "s".to_string()),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a rate: write e.g. 10, 10/s or 600/min"))?;
    let seconds = match unit.as_str() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        other => return Err(format!("unknown rate unit `{other}`: use /s, /min or /h")),
    };
    let per_second = value / seconds;
    if !per_second.is_finite() || per_second <= 0.0 || per_second > 1_000_000.0 {
        return Err(format!(
            "rate `{text}` must be above 0 and at most 1000000/s"
        ));
    }
    Ok(Rate { per_second })
}

/// Parses a human duration such as `30s`, `500ms`, `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}): write e.g. 30s, 500ms or 2m"))
}

/// Parses a duration that must be above zero (a time limit of 0 would fail every request).
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err(format!("`{text}` is zero: give a time above 0, e.g. 30s")),
        d => Ok(d),
    }
}

/// Parses a single-byte delimiter: `,` `;` `|`, or `tab` / `\t`.
pub fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        "comma" => Ok(b','),
        "semicolon" => Ok(b';'),
        "pipe" => Ok(b'|'),
        t if t.len() == 1 && t.is_ascii() && t != "\"" && t != "\n" && t != "\r" => {
            Ok(t.as_bytes()[0])
        }
        _ => Err(format!(
            "`{text}` is not a delimiter: use one character such as , ; | or the word tab"
        )),
    }
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number between 0 and 1"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("`{text}` must be between 0 and 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_in_every_unit() {
        assert_eq!(parse_rate("10").unwrap().per_second, 10.0);
        assert_eq!(parse_rate("10/s").unwrap().per_second, 10.0);
        assert_eq!(parse_rate("600/min").unwrap().per_second, 10.0);
        assert_eq!(parse_rate("3600/h").unwrap().per_second, 1.0);
        assert_eq!(
            parse_rate("30/min").unwrap().period(),
            Duration::from_secs(2)
        );
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("10/day").is_err());
    }

    #[test]
    fn the_rate_flag_takes_auto_or_a_rate() {
        assert_eq!(parse_rate_mode("auto"), Ok(RateMode::Auto));
        assert_eq!(parse_rate_mode(" Auto "), Ok(RateMode::Auto));
        assert_eq!(
            parse_rate_mode("600/min"),
            Ok(RateMode::Fixed(Rate { per_second: 10.0 }))
        );
        let err = parse_rate_mode("automatic").unwrap_err();
        assert!(err.contains("is not a rate"), "{err}");
    }

    #[test]
    fn delimiters_parse() {
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        assert_eq!(parse_delimiter("tab"), Ok(b'\t'));
        assert_eq!(parse_delimiter("\\t"), Ok(b'\t'));
        assert!(parse_delimiter(";;").is_err());
        assert!(parse_delimiter("\"").is_err());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_positive_duration("0s").is_err());
        assert_eq!(parse_positive_duration("1ms"), Ok(Duration::from_millis(1)));
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
