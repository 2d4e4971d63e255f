//! The sending step of `run`: the client, the pacer (fixed or adaptive) and the workers, the
//! signal handlers, the progress display and the collector, until every row is recorded.

use std::io::Write;
use std::sync::Arc;

use anyhow::bail;

use super::confirm::{Work, describe_keys};
use super::end;
use super::feed::Feed;
use crate::client::Client;
use crate::config::Plan;
use crate::results::ResultsWriter;
use crate::retry::RetryPolicy;
use crate::send::adaptive::AdaptiveRate;
use crate::send::{self, Collector, Pacer, Stop, Tally, Worker};
use crate::validate::Scan;

/// What goes around the sending besides the plan: the display and the signal handling.
pub(super) struct Around<'a> {
    /// The input's name, for messages.
    pub(super) file: &'a str,
    /// The rows that will really be sent (a resume: the rows left).
    pub(super) work: Work,
    /// What a second Ctrl-C does before it quits (writes `--summary-json`).
    pub(super) on_quit: Option<Box<dyn FnOnce() + Send>>,
    /// The default key already made rows of this job ok (no wrong-key stop).
    pub(super) key_proven: bool,
    /// Records in the job that the default key works, at its first row `ok`.
    pub(super) on_first_default_key_ok: Option<Box<dyn FnOnce() + Send>>,
}

/// Sends every row: the client, the pacer and workers, the signal handlers, the progress bar
/// and the collector, until every row is recorded.
pub(super) async fn send(
    plan: &Plan,
    scan: &Scan,
    feed: Feed,
    writer: ResultsWriter,
    around: Around<'_>,
) -> anyhow::Result<Tally> {
    let Around {
        file,
        work,
        on_quit,
        key_proven,
        on_first_default_key_ok,
    } = around;
    let stop = Arc::new(Stop::default());
    // Every key in use: the default key and every key of the api_key column.
    let mut redactor = scan.keys.clone();
    if let Some(key) = &plan.key {
        redactor.add(key);
    }
    let client = match plan.dry_run {
        true => None,
        false => Some(Client::new(
            plan.endpoint.clone(),
            plan.timeout,
            plan.connect_timeout,
            plan.concurrency,
            redactor,
        )?),
    };
    let policy = RetryPolicy {
        retries: plan.retries,
        max_retry_after: plan.max_retry_after,
        ..RetryPolicy::default()
    };
    let pacer = Arc::new(Pacer::new(plan.rate.per_second));
    let mut worker = Worker::new(
        client,
        plan.key.clone(),
        pacer.clone(),
        policy,
        stop.clone(),
    );
    worker = match plan.auto_max_rate {
        Some(max) => worker.with_auto_rate(AdaptiveRate::new(max.per_second)),
        // At a fixed rate it only watches, to tell what the server allowed if it throttled.
        None => worker.watching_rate(AdaptiveRate::watching(plan.rate.per_second)),
    };
    let worker = Arc::new(worker);
    if !plan.dry_run {
        tracing::info!(
            "sending {} row(s) to {} (key: {}), at most {} at once, {}",
            work.to_send,
            plan.endpoint,
            describe_keys(plan, &work),
            plan.concurrency,
            match plan.auto_max_rate {
                Some(max) => format!(
                    "--rate auto from {}/s up to {}/s at most",
                    plan.rate.per_second, max.per_second
                ),
                None => format!("{} per second", plan.rate.per_second),
            }
        );
    }
    if plan.dry_run {
        // The preview is the dry run's primary output: standard output, the target first.
        let _ = writeln!(
            std::io::stdout().lock(),
            "Dry run: the bodies that would be sent to {} (key redacted), the first {} of {}:",
            plan.endpoint,
            crate::progress::PREVIEWS.min(scan.valid as usize),
            scan.valid
        );
    }
    let resume = (!plan.dry_run).then(end::this_resume_command);
    let signals = crate::signals::stop_on_signal(stop.clone(), resume, on_quit);
    let display = crate::progress::Progress::new(scan.rows, plan.progress, plan.log_every);
    let mut collector = Collector::new(writer, stop, plan.max_unauthorized, display)?;
    if plan.auto_max_rate.is_some() {
        collector.show_rate(pacer);
    }
    if key_proven {
        collector.key_proven();
    }
    if let Some(hook) = on_first_default_key_ok {
        collector.on_first_default_key_ok(hook);
    }
    let (items, reading) = feed.start()?;
    let outcome = send::run(
        worker.clone(),
        items,
        &mut collector,
        plan.concurrency,
        plan.canary,
    )
    .await;
    signals.abort();
    outcome?;
    // The stream is gone with the run: the thread has ended, or ends at its next batch.
    let read_error = reading
        .join()
        .map_err(|_| anyhow::anyhow!("the thread that reads {file} panicked"))?;
    if let Some(e) = read_error {
        bail!("reading {file} a second time failed, after the rows above were recorded: {e}");
    }
    let mut tally = collector.finish()?;
    if let Some(quota) = tally.quota.as_mut() {
        quota.resume_command = Some(end::this_resume_command());
    }
    // A dry run sends nothing: the controller found nothing to tell.
    tally.auto_rate = worker
        .auto_rate()
        .filter(|_| tally.sent > 0 && !plan.dry_run);
    Ok(tally)
}
