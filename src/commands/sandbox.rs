//! `sandbox`: the thin orchestration of the stand-in server: flags to a [`SandboxConfig`],
//! start, print the address first on standard output, serve until interrupted.

use std::io::Write;

use anyhow::bail;
use axum::http::StatusCode;

use crate::cli::SandboxArgs;
use crate::exit::ExitCode;
use crate::sandbox::{Sandbox, SandboxConfig, seed};

/// The configuration the `sandbox` subcommand's flags describe.
pub fn config(args: &SandboxArgs) -> anyhow::Result<SandboxConfig> {
    let processes = match &args.seed {
        Some(path) => seed::load(path)?,
        None => seed::bundled(),
    };
    let prefix = args.prefix.trim_end_matches('/').to_string();
    if !prefix.is_empty() && !prefix.starts_with('/') {
        bail!("--prefix must start with `/`, e.g. /v1");
    }
    if StatusCode::from_u16(args.error_status).is_err() {
        bail!("--error-status {} is not an HTTP status", args.error_status);
    }
    if args.limit_burst.is_some() && args.limit_shape != crate::sandbox::LimitShape::Bucket {
        bail!("--limit-burst is the capacity of a token bucket: add --limit-shape bucket");
    }
    if args.limit_schedule.is_some() && args.rate_limit.is_none() {
        bail!("--limit-schedule changes --rate-limit: give the starting --rate-limit too");
    }
    Ok(SandboxConfig {
        processes,
        accept_unknown: args.accept_unknown,
        prefix,
        latency: args.latency,
        jitter: args.jitter,
        error_rate: args.error_rate,
        error_status: args.error_status,
        rate_limit: args.rate_limit,
        limit_shape: args.limit_shape,
        limit_burst: args.limit_burst,
        limit_per_minute: args.limit_per_minute,
        limit_schedule: match &args.limit_schedule {
            Some(text) => parse_schedule(text)?,
            None => Vec::new(),
        },
        limit_headers: args.limit_headers,
        drop_rate: args.drop_rate,
        slow_rate: args.slow_rate,
        slow_delay: args.slow_delay,
        keep_requests: args.keep_requests,
        keep_bytes: args.keep_bytes,
        idle_timeout: args.idle_timeout,
        ignore_changes: args.ignore_changes,
        fail_first: args.fail_first,
        retry_after: args.retry_after.clone(),
        error_body: args.error_body,
        ok_body: args.ok_body,
    })
}

/// Reads `--limit-schedule`: `AFTER=LIMIT` pairs separated by commas, e.g. `20s=15,50s=60`.
fn parse_schedule(text: &str) -> anyhow::Result<Vec<(std::time::Duration, u32)>> {
    text.split(',')
        .map(|step| {
            let parsed = step.split_once('=').and_then(|(after, limit)| {
                Some((
                    humantime::parse_duration(after.trim()).ok()?,
                    limit.trim().parse::<u32>().ok()?,
                ))
            });
            parsed.ok_or_else(|| {
                anyhow::anyhow!(
                    "--limit-schedule: `{step}` is not AFTER=LIMIT; write e.g. `20s=15,50s=60` (15/s from 20 s after the start, 60/s from 50 s)"
                )
            })
        })
        .collect()
}

/// `sandbox`: serves until SIGINT or SIGTERM, then exits 0.
pub fn sandbox(args: &SandboxArgs) -> anyhow::Result<ExitCode> {
    let config = config(args)?;
    super::runtime()?.block_on(serve(&args.listen, config))?;
    Ok(ExitCode::Success)
}

async fn serve(listen: &str, config: SandboxConfig) -> anyhow::Result<()> {
    let count = config.processes.len();
    let sandbox = Sandbox::start(listen, config).await?;
    if sandbox.exposed() {
        tracing::warn!(
            "the sandbox listens on {}, beyond loopback: anyone who can reach it can read the rehearsed rows at /_sandbox/requests; use --listen 127.0.0.1:PORT unless that is what you want",
            sandbox.addr()
        );
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", sandbox.url())?;
        out.flush()?;
    }
    tracing::info!(
        "sandbox serving {count} processes; PATCH {}/customer/status, inspection under /_sandbox/",
        sandbox.url()
    );
    crate::signals::interrupted().await;
    sandbox.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_schedule_reads_after_equals_limit_pairs() {
        assert_eq!(
            parse_schedule("20s=15, 50s=60").unwrap(),
            vec![(Duration::from_secs(20), 15), (Duration::from_secs(50), 60)]
        );
        let error = parse_schedule("20s=15,fast").unwrap_err().to_string();
        assert!(error.contains("`fast` is not AFTER=LIMIT"), "{error}");
    }
}
