//! The command line: subcommands, flags, help text and value parsers (clap derive only).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

mod values;

use values::parse_fraction;
pub use values::{
    LogFormat, MAX_DURATION, ProgressMode, Rate, RateMode, parse_delimiter, parse_duration,
    parse_positive_duration, parse_rate, parse_rate_mode,
};

/// Apply bulk status corrections to identity-verification processes, safely.
#[derive(Debug, Parser)]
#[command(name = "tecalis-status", version, about, long_about = None)]
#[command(
    before_help = "Start here: tecalis-status run samples/corrections.csv --sandbox --yes \
(a rehearsal against the built-in sandbox: nothing leaves this machine).",
    after_help = "Exit codes: 0 all ok, 1 fatal error, 2 usage error, 3 some rows failed, \
4 invalid input (nothing sent), 5 stopped: credentials evidently wrong, 6 stopped: server \
unreachable, 7 stopped: a quota (resume at the time the summary gives), 130 interrupted."
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
        after_help = "The last line for an auth_uuid that records an outcome is its final \
        outcome (each --resume appends a line for every row it sends; a `skipped` line records \
        none).\n\nExamples:\n  \
        tecalis-status report corrections.results.csv\n  \
        tecalis-status report corrections.results.csv --export-failed retry.csv\n\n\
        Exit codes: 0 the job is complete and every row ended ok or skipped, 1 the results \
        file cannot be read or the export cannot be written, 2 usage error, 3 the job is \
        incomplete or some rows did not end ok."
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
    /// format (copied from the input when it is unchanged, else rebuilt from the results),
    /// ready to correct and run again.
    #[arg(long)]
    pub export_failed: Option<PathBuf>,
    /// Replace an existing export file; only an earlier export (a file whose first line
    /// names an auth_uuid column) is ever replaced.
    #[arg(long)]
    pub force: bool,
}

/// How the input file is read and checked; shared by `validate` and `run`.
#[derive(Debug, Args, Clone)]
pub struct InputArgs {
    /// The CSV file of corrections (`auth_uuid,state[,reasons][,api_key]`), or `-` for
    /// standard input; or the spreadsheet itself (.xlsx or .ods).
    pub input: PathBuf,
    /// The sheet of a workbook to read; the first sheet when not given.
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// What to do with a workbook's hidden or filtered-out rows: `skip` leaves them out
    /// (counted), `include` sends them too. Without it, a workbook with such rows is refused.
    #[arg(long, value_enum, value_name = "skip|include")]
    pub hidden: Option<crate::input::Hidden>,
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
#[derive(Debug, Args, Clone)]
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
    /// Retries for transient failures (connection errors, timeouts, 408, 429, 500, 502, 503, 504; not 501 or other 5xx).
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
    /// Time limit for one request, e.g. `30s`, `1m`, `500ms`.
    #[arg(long, default_value = "30s", value_parser = parse_positive_duration)]
    pub timeout: Duration,
    /// The longest wait for a `Retry-After` (or a rate-limit reset) the run sits through; a
    /// longer one is a quota: the run stops (exit 7) and says when to resume.
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
    /// Requests accepted per second (see `--limit-shape`); more are answered 429 with
    /// `Retry-After`: the whole seconds until one would be accepted (see `--retry-after`).
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// How the rate limit counts: a sliding window, fixed wall-clock windows, or a token
    /// bucket holding `--limit-burst` tokens.
    #[arg(long, value_enum, default_value_t = crate::sandbox::LimitShape::Sliding)]
    pub limit_shape: crate::sandbox::LimitShape,
    /// With `--limit-shape bucket`: the bucket's capacity [default: one second's worth].
    #[arg(long)]
    pub limit_burst: Option<u32>,
    /// Requests accepted per minute as well (a quota nested under `--rate-limit`).
    #[arg(long)]
    pub limit_per_minute: Option<u32>,
    /// Changes of `--rate-limit` during the run: `20s=15,50s=60` is 15/s from 20 s after the
    /// start, 60/s from 50 s.
    #[arg(long)]
    pub limit_schedule: Option<String>,
    /// Announce the budget left in rate-limit headers on every answer.
    #[arg(long, value_enum, default_value_t = crate::sandbox::LimitHeaders::None)]
    pub limit_headers: crate::sandbox::LimitHeaders,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
