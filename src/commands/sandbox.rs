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
    Ok(SandboxConfig {
        processes,
        accept_unknown: args.accept_unknown,
        prefix,
        latency: args.latency,
        jitter: args.jitter,
        error_rate: args.error_rate,
        error_status: args.error_status,
        rate_limit: args.rate_limit,
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
