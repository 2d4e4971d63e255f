//! Raw flags in, a validated plan out: the endpoint URL and its https rule, where the key
//! comes from, the output file, and the sending limits.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};

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

/// The path appended to the base URL.
pub const ENDPOINT_PATH: &str = "customer/status";

/// Where the default key came from, for messages (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `TECALIS_API_KEY`.
    Environment,
    /// `--api-key-file PATH`.
    File(PathBuf),
    /// The built-in sandbox's demo key.
    Sandbox,
    /// No default key: every row must carry its own.
    None,
}

/// Everything a run needs, checked.
#[derive(Debug)]
pub struct Plan {
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
    /// Stop after this many 401s in all.
    pub max_unauthorized: Option<u64>,
    /// Send this many valid rows one at a time first.
    pub canary: Option<u64>,
    /// The results file.
    pub output: PathBuf,
    /// What to do if it exists.
    pub existing: Existing,
    /// Where to write the JSON summary.
    pub summary_json: Option<PathBuf>,
    /// Stop after validation and show what would be sent.
    pub dry_run: bool,
    /// Send the valid rows even if some are invalid.
    pub skip_invalid: bool,
    /// Whether `--resume` was given.
    pub resume: bool,
}

/// Builds `{base}/customer/status` and applies the https rule: plain http is allowed only to
/// a loopback host unless `allow_insecure_http`. A base that already ends in the endpoint's
/// path, or that carries a query string or fragment, is a [`UsageError`] that shows the value
/// to use: guessing would send every row to a path the operator did not mean.
pub fn endpoint(base: &str, allow_insecure_http: bool) -> anyhow::Result<Url> {
    let base = base.trim();
    let mut url = Url::parse(base).map_err(|_| {
        UsageError(format!(
            "the URL {:?} is not valid: write it in full, e.g. https://api.example.com",
            redact_userinfo(base)
        ))
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        // Checked first, so that no later message repeats the credentials.
        return Err(UsageError(
            "the URL must not carry credentials (user:password@): the key goes in TECALIS_API_KEY or --api-key-file".into(),
        )
        .into());
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback(&url) && !allow_insecure_http {
                bail!(
                    "refusing plain http:// to {}: the API key would cross the network unencrypted; use https://, or pass --allow-insecure-http if you really mean it",
                    url.host_str().unwrap_or("")
                );
            }
        }
        other => bail!("the URL scheme {other}:// is not supported: use https://"),
    }
    if url.host_str().is_none_or(str::is_empty) {
        bail!("the URL {base:?} has no host");
    }
    let path = url.path().trim_end_matches('/').to_string();
    let suffix = format!("/{ENDPOINT_PATH}");
    let extra = url.query().is_some() || url.fragment().is_some();
    if extra || path.ends_with(&suffix) {
        let mut suggested = url.clone();
        suggested.set_query(None);
        suggested.set_fragment(None);
        suggested.set_path(path.strip_suffix(&suffix).unwrap_or(&path));
        let what = if extra {
            "carries a query string or fragment, which the endpoint does not take"
        } else {
            "already ends in /customer/status, which the tool appends itself"
        };
        return Err(UsageError(format!(
            "the URL (--url or TECALIS_URL) {what}: pass the base URL, --url {}",
            suggested.as_str().trim_end_matches('/')
        ))
        .into());
    }
    url.set_path(&format!("{path}/{ENDPOINT_PATH}"));
    Ok(url)
}

/// A URL as text with any `user:password@` replaced, for messages about a URL that did not
/// parse (a parsed one is refused before it is shown).
pub fn redact_userinfo(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..authority_end].rfind('@') {
        Some(at) => format!("{}<redacted>@{}", &url[..start], &url[start + at + 1..]),
        None => url.to_string(),
    }
}

/// Whether the URL's host is this machine.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Reads the default key: `--api-key-file` (its first line, without a UTF-8 BOM, surrounding
/// blanks or `\r`, as Windows Notepad saves it) or `TECALIS_API_KEY`.
pub fn load_key(api_key_file: Option<&Path>) -> anyhow::Result<(Option<SecretString>, KeySource)> {
    if let Some(path) = api_key_file {
        // The file's whole text is wiped once the key is taken from it.
        let text = secrecy::zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the key file {}", path.display()))?,
        );
        warn_if_readable_by_others(path);
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        if text.trim().is_empty() {
            bail!("the key file {} is empty", path.display());
        }
        // A bare `\r` ends a line too (an old Mac editor).
        let first = text.split(['\n', '\r']).next().unwrap_or("");
        let key = first.trim().to_string();
        if key.is_empty() {
            bail!(
                "the first line of the key file {} is empty; the key must be on the first line",
                path.display()
            );
        }
        return Ok((
            Some(SecretString::from(key)),
            KeySource::File(path.to_path_buf()),
        ));
    }
    // The copy read from the environment is wiped; the environment itself is not touched.
    match std::env::var("TECALIS_API_KEY").map(secrecy::zeroize::Zeroizing::new) {
        Ok(key) if !key.trim().is_empty() => Ok((
            Some(SecretString::from(key.trim().to_string())),
            KeySource::Environment,
        )),
        _ => Ok((None, KeySource::None)),
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                "the key file {} can be read by other users (mode {:o}); run: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Checks a key for characters that cannot be sent as they are (a pasted newline or a
/// quote), without ever showing it.
pub fn check_key(key: &SecretString) -> anyhow::Result<()> {
    if key.expose_secret().chars().any(char::is_control) {
        bail!("the API key contains control characters; check TECALIS_API_KEY or the key file");
    }
    Ok(())
}

impl Plan {
    /// Validates the run's flags. `sandbox_url` is the base URL of an in-process sandbox
    /// (`run --sandbox`), which also supplies the demo key.
    pub fn from_args(
        args: &RunArgs,
        input: &Path,
        input_is_stdin: bool,
        sandbox_url: Option<&str>,
    ) -> anyhow::Result<Plan> {
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
        let output = match &args.output {
            Some(path) => path.clone(),
            None if input_is_stdin => {
                bail!("the input is standard input, so --output FILE is required")
            }
            None => results::default_output(
                input,
                if args.dry_run {
                    RunKind::DryRun
                } else if args.sandbox {
                    RunKind::Sandbox
                } else {
                    RunKind::Real
                },
            ),
        };
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
            endpoint,
            key,
            key_source,
            concurrency: concurrency(args.rate, args.concurrency) as usize,
            rate,
            auto_max_rate,
            retries: args.retries,
            timeout: args.timeout,
            connect_timeout: args.connect_timeout,
            max_unauthorized: args.max_unauthorized,
            canary: args.canary,
            output,
            existing,
            summary_json: args.summary_json.clone(),
            dry_run: args.dry_run,
            skip_invalid: args.skip_invalid,
            resume: args.resume,
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
        Plan::from_args(
            &args,
            Path::new("in.csv"),
            false,
            Some("http://127.0.0.1:9"),
        )
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

    #[test]
    fn the_endpoint_path_is_appended_once() {
        let e = |u| endpoint(u, false).unwrap().to_string();
        assert_eq!(
            e("https://api.example.com"),
            "https://api.example.com/customer/status"
        );
        assert_eq!(
            e("https://api.example.com/"),
            "https://api.example.com/customer/status"
        );
        assert_eq!(
            e("https://api.example.com/v1/"),
            "https://api.example.com/v1/customer/status"
        );
        assert_eq!(
            e("http://127.0.0.1:8080/v1"),
            "http://127.0.0.1:8080/v1/customer/status"
        );
        assert_eq!(
            e("http://localhost:1"),
            "http://localhost:1/customer/status"
        );
        assert_eq!(e("http://[::1]:1"), "http://[::1]:1/customer/status");
    }

    #[test]
    fn plain_http_is_refused_off_loopback() {
        let err = endpoint("http://api.example.com", false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--allow-insecure-http"), "{err}");
        assert!(endpoint("http://api.example.com", true).is_ok());
        assert!(endpoint("http://127.0.0.2:9", false).is_ok());
        assert!(endpoint("ftp://api.example.com", true).is_err());
        assert!(endpoint("api.example.com", false).is_err());
        assert!(endpoint("https://user:pw@api.example.com", false).is_err());
    }

    #[test]
    fn a_full_endpoint_or_a_query_is_a_usage_error_that_shows_the_value_to_use() {
        for (given, shown) in [
            (
                "https://api.example.com/customer/status",
                "--url https://api.example.com",
            ),
            (
                "https://api.example.com/v1/customer/status/",
                "--url https://api.example.com/v1",
            ),
            (
                "https://api.example.com/v1?token=1",
                "--url https://api.example.com/v1",
            ),
            (
                "https://api.example.com/#x",
                "--url https://api.example.com",
            ),
        ] {
            let err = endpoint(given, false).unwrap_err();
            assert!(err.downcast_ref::<UsageError>().is_some(), "{given}");
            assert!(err.to_string().ends_with(shown), "{given}: {err}");
        }
    }

    #[test]
    fn credentials_in_a_url_are_never_echoed() {
        for url in [
            "https://bob:s3cret@api.example.com",
            "ht tp://bob:s3cret@x/",
        ] {
            let err = endpoint(url, false).unwrap_err().to_string();
            assert!(!err.contains("s3cret"), "{err}");
        }
        assert_eq!(
            redact_userinfo("https://u:p@host/x@y"),
            "https://<redacted>@host/x@y"
        );
        assert_eq!(redact_userinfo("https://host/a@b"), "https://host/a@b");
    }

    #[test]
    fn keys_with_control_characters_are_refused_without_showing_them() {
        let err = check_key(&SecretString::from("abc\ndef"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("abc"));
        assert!(check_key(&SecretString::from("9d3c8a52-6f0e")).is_ok());
    }
}
