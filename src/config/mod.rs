//! Raw flags in, a validated plan out: the endpoint URL and its https rule, where the key
//! comes from, the output file, and the sending limits.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use reqwest::Url;
use secrecy::SecretString;

mod endpoint;
mod input;
mod key;

pub use crate::client::is_loopback;
pub use endpoint::{ENDPOINT_PATH, endpoint, redact_userinfo};
pub use input::InputPlan;
pub use key::{KeySource, check_key, load_key};

use crate::cli::{Rate, RateMode, RunArgs};
use crate::exit::UsageError;
use crate::files::Existing;
use crate::results::{self, RunKind};

/// Requests in flight at most with a fixed rate, unless `--concurrency`.
pub const DEFAULT_CONCURRENCY: u32 = 4;
/// Requests in flight at most with `--rate auto`, unless `--concurrency`: high enough that
/// latency does not cap the rate (64 in flight at 500 ms is 128/s, above the default
/// `--max-rate`).
pub const DEFAULT_AUTO_CONCURRENCY: u32 = 64;
/// `--max-rate` unless given.
pub const DEFAULT_MAX_RATE: f64 = 100.0;

/// Everything a run needs, checked: after parsing, the only configuration the steps of
/// `run` receive.
#[derive(Debug)]
pub struct Plan {
    /// The input and how to read and check it.
    pub input: InputPlan,
    /// Whether the target is the sandbox started in this process (`--sandbox`).
    pub sandbox: bool,
    /// The full endpoint, `{url}/customer/status`.
    pub endpoint: Url,
    /// The default key, for rows without their own.
    pub key: Option<SecretString>,
    /// Where the default key came from.
    pub key_source: KeySource,
    /// Requests in flight at most (with `--rate auto`, a ceiling).
    pub concurrency: usize,
    /// Requests per second, retries included; with `--rate auto`, the rate it starts at.
    pub rate: Rate,
    /// `--rate auto`: the ceiling the adaptive rate never passes (`--max-rate`); `None` for a
    /// fixed rate.
    pub auto_max_rate: Option<Rate>,
    /// Retries for transient failures.
    pub retries: u32,
    /// Time limit for one request.
    pub timeout: Duration,
    /// Time limit to connect.
    pub connect_timeout: Duration,
    /// The longest `Retry-After` honoured (`--max-retry-after`).
    pub max_retry_after: Duration,
    /// Stop after this many 401s in all.
    pub max_unauthorized: Option<u64>,
    /// Send this many valid rows one at a time first.
    pub canary: Option<u64>,
    /// The results file.
    pub output: PathBuf,
    /// What to do if it exists.
    pub existing: Existing,
    /// Where to write the JSON summary, and how.
    pub summary_json: Option<SummaryFile>,
    /// Stop after validation and show what would be sent.
    pub dry_run: bool,
    /// Send the valid rows even if some are invalid.
    pub skip_invalid: bool,
    /// Whether `--resume` was given.
    pub resume: bool,
    /// Whether to send without asking (`--yes`).
    pub yes: bool,
    /// Whether to draw the progress bar.
    pub progress: bool,
    /// Without a bar, how often to log a progress line.
    pub log_every: Duration,
}

/// The `--summary-json` file, and what it may replace.
#[derive(Debug, Clone)]
pub struct SummaryFile {
    /// Where to write it.
    pub path: PathBuf,
    /// The input file, which it may never be (`None` for standard input).
    pub input: Option<PathBuf>,
    /// Whether an existing one is replaced: with `--force`, and by the runs of the same job
    /// (`--resume`), whose command repeats the flag.
    pub replace: bool,
}

impl SummaryFile {
    /// The `--summary-json` of a run's flags, if given. Read at the command's door, so that
    /// the summary is written even when the rest of the flags do not make a plan.
    pub fn from_args(args: &RunArgs) -> Option<SummaryFile> {
        args.summary_json.as_ref().map(|path| SummaryFile {
            path: path.clone(),
            input: (args.input.input.as_os_str() != "-").then(|| args.input.input.clone()),
            replace: args.force || args.resume,
        })
    }
}

impl Plan {
    /// Validates the run's flags. `sandbox_url` is the base URL of an in-process sandbox
    /// (`run --sandbox`), which also supplies the demo key; `progress` whether to draw the
    /// bar (decided with the logging).
    pub fn from_args(
        args: &RunArgs,
        sandbox_url: Option<&str>,
        progress: bool,
    ) -> anyhow::Result<Plan> {
        let input = InputPlan::from_args(&args.input)?;
        // The one rule for standard input (a usage error, like clap's own), checked first:
        // nothing is read before the plan is whole.
        let output = match &args.output {
            Some(path) => path.clone(),
            None if input.stdin => {
                return Err(UsageError(
                    "the input is standard input, so --output FILE is required".into(),
                )
                .into());
            }
            None => results::default_output(
                &input.path,
                if args.dry_run {
                    RunKind::DryRun
                } else if args.sandbox {
                    RunKind::Sandbox
                } else {
                    RunKind::Real
                },
            ),
        };
        let (endpoint, key, key_source) = match sandbox_url {
            Some(_) if args.url.is_some() && args.url != std::env::var("TECALIS_URL").ok() => {
                return Err(UsageError(
                    "--sandbox and --url cannot be combined: --sandbox runs against a sandbox in this process".into(),
                )
                .into());
            }
            Some(url) => (
                endpoint(url, false)?,
                Some(SecretString::from(crate::sandbox::DEMO_API_KEY)),
                KeySource::Sandbox,
            ),
            None => {
                let Some(url) = args.url.as_deref() else {
                    bail!(
                        "no URL: set TECALIS_URL or pass --url (e.g. https://api.example.com), or try the built-in sandbox with --sandbox"
                    );
                };
                let endpoint = endpoint(url, args.allow_insecure_http)?;
                let (key, source) = load_key(args.api_key_file.as_deref())?;
                (endpoint, key, source)
            }
        };
        if let Some(key) = &key {
            check_key(key)?;
        }
        // Every output file follows one rule, previews and rehearsals included: an existing
        // one is replaced only with --force (appended with --resume).
        let existing = if args.resume {
            Existing::Append
        } else if args.force {
            Existing::Replace
        } else {
            Existing::Refuse
        };
        if args.resume && args.dry_run {
            bail!(
                "--resume and --dry-run cannot be combined: a dry run writes its own preview file"
            );
        }
        if args.canary == Some(0) {
            bail!("--canary needs at least 1 row");
        }
        let (rate, auto_max_rate) = pacing(args.rate, args.max_rate)?;
        Ok(Plan {
            input,
            sandbox: sandbox_url.is_some(),
            endpoint,
            key,
            key_source,
            concurrency: concurrency(args.rate, args.concurrency) as usize,
            rate,
            auto_max_rate,
            retries: args.retries,
            timeout: args.timeout,
            connect_timeout: args.connect_timeout,
            max_retry_after: args.max_retry_after,
            max_unauthorized: args.max_unauthorized,
            canary: args.canary,
            output,
            existing,
            summary_json: SummaryFile::from_args(args),
            dry_run: args.dry_run,
            skip_invalid: args.skip_invalid,
            resume: args.resume,
            yes: args.yes,
            progress,
            log_every: args.log_every,
        })
    }
}

/// The fixed rate (or, with `--rate auto`, the starting rate) and the auto mode's ceiling.
fn pacing(mode: RateMode, max_rate: Option<Rate>) -> anyhow::Result<(Rate, Option<Rate>)> {
    match mode {
        RateMode::Fixed(rate) => {
            if max_rate.is_some() {
                bail!("--max-rate only applies with --rate auto; with a fixed --rate, drop it");
            }
            Ok((rate, None))
        }
        RateMode::Auto => {
            let max = max_rate.unwrap_or(Rate {
                per_second: DEFAULT_MAX_RATE,
            });
            let start = Rate {
                per_second: crate::send::adaptive::INITIAL_RATE.min(max.per_second),
            };
            Ok((start, Some(max)))
        }
    }
}

/// `--concurrency`, or its default: 4 with a fixed rate, 64 (a ceiling) with `--rate auto`.
pub fn concurrency(mode: RateMode, given: Option<u32>) -> u32 {
    given.unwrap_or(match mode {
        RateMode::Fixed(_) => DEFAULT_CONCURRENCY,
        RateMode::Auto => DEFAULT_AUTO_CONCURRENCY,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(flags: &[&str]) -> anyhow::Result<Plan> {
        use clap::Parser;
        let argv = [&["tecalis-status", "run", "in.csv", "--dry-run"], flags].concat();
        let cli = crate::cli::Cli::try_parse_from(argv).expect("the flags parse");
        let crate::cli::Command::Run(args) = cli.command else {
            unreachable!("a run command")
        };
        Plan::from_args(&args, Some("http://127.0.0.1:9"), false)
    }

    #[test]
    fn auto_rate_raises_the_default_concurrency_and_carries_its_ceiling() {
        let fixed = plan(&[]).unwrap();
        assert_eq!(fixed.concurrency, 4);
        assert_eq!(fixed.rate.per_second, 10.0);
        assert_eq!(fixed.auto_max_rate, None);
        let auto = plan(&["--rate", "auto"]).unwrap();
        assert_eq!(auto.concurrency, 64);
        assert_eq!(auto.auto_max_rate.unwrap().per_second, 100.0);
        assert_eq!(auto.rate.per_second, crate::send::adaptive::INITIAL_RATE);
        let capped = plan(&[
            "--rate",
            "auto",
            "--max-rate",
            "120/min",
            "--concurrency",
            "8",
        ])
        .unwrap();
        assert_eq!(capped.concurrency, 8);
        assert_eq!(capped.auto_max_rate.unwrap().per_second, 2.0);
        assert_eq!(
            capped.rate.per_second, 2.0,
            "starts no higher than the ceiling"
        );
        let err = plan(&["--rate", "20", "--max-rate", "50"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--max-rate only applies with --rate auto"),
            "{err}"
        );
    }
}
