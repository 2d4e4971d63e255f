//! Sending: a pacer that hands out send slots on a schedule, workers that each take a row
//! and wait for a slot before every attempt (retries included), the stop policy, and one
//! collector that alone counts the results and hands them to the results file's own
//! thread. A failed row is an outcome, never an `Err`. The pieces depend downward only:
//! `run` → collector → (tally, stop, disk), worker → (pacer, stop).

pub mod adaptive;
pub mod collector;
mod disk;
pub mod pacer;
pub mod stop;
pub mod tally;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use tracing::Instrument;

pub use collector::Collector;
pub use pacer::Pacer;
pub use stop::{Stop, StopReason};
pub use tally::Tally;
pub use worker::Worker;

use crate::results::{Outcome, RowResult};
use crate::validate::{Request, Row};

/// The most finished rows written in one go.
const BATCH: usize = 256;

/// How often the display is refreshed while no row finishes (a pause, slow answers).
const REFRESH: Duration = Duration::from_millis(250);

/// How many rows recorded without waiting between two turns given to the other tasks.
const YIELD_EVERY: u32 = 256;

/// One unit of work from the input.
#[derive(Debug)]
pub enum Item {
    /// A valid row to send.
    Send(Row, Request),
    /// A row already decided (invalid, or skipped by `--resume`): recorded as it is.
    Done(Box<RowResult>),
}

/// Runs every item through the workers and into the collector. The canary rows, if any, go
/// first and one at a time; the rest at most `concurrency` at once. Returns when every item
/// is recorded (rows not sent after a stop are recorded `cancelled`), or at the first error
/// writing the results. An interrupted dry run ends without recording the rest.
pub async fn run(
    worker: Arc<Worker>,
    items: impl futures::Stream<Item = Item> + Unpin,
    collector: &mut Collector,
    concurrency: usize,
    canary: Option<u64>,
) -> anyhow::Result<()> {
    let span = collector.span();
    run_in_span(worker, items, collector, concurrency, canary)
        .instrument(span)
        .await
}

async fn run_in_span(
    worker: Arc<Worker>,
    mut items: impl futures::Stream<Item = Item> + Unpin,
    collector: &mut Collector,
    concurrency: usize,
    canary: Option<u64>,
) -> anyhow::Result<()> {
    let mut turns = Turns::default();
    if let Some(canary) = canary {
        let mut sent = 0;
        while sent < canary {
            let Some(item) = items.next().await else {
                return Ok(());
            };
            let result = match item {
                Item::Done(result) => *result,
                Item::Send(row, request) => {
                    sent += 1;
                    worker.process(row, request).await
                }
            };
            let failed = !matches!(
                result.outcome,
                Outcome::Ok | Outcome::DryRun | Outcome::Skipped | Outcome::Invalid
            );
            // Recorded first, so that a stop the row itself calls for (the 401 limit: exit
            // 5) wins over the canary's own (exit 3).
            collector.record(result)?;
            if failed {
                worker.stop.stop(StopReason::CanaryFailed);
            }
            turns.after(1).await;
        }
    }
    let results = items
        .map(|item| {
            let worker = worker.clone();
            async move {
                match item {
                    Item::Done(result) => *result,
                    Item::Send(row, request) => worker.process(row, request).await,
                }
            }
        })
        .buffer_unordered(concurrency);
    tokio::pin!(results);
    let mut refresh = tokio::time::interval(REFRESH);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            next = results.next() => {
                let Some(result) = next else {
                    return Ok(());
                };
                record_unless_dry_cancelled(&worker, collector, result)?;
                // Rows that finished at the same moment share one write; every row that
                // finished is flushed (and shown) before the run waits for anything again.
                let mut recorded = 1;
                let mut ended = false;
                while recorded < BATCH {
                    match results.next().now_or_never() {
                        Some(Some(result)) => {
                            record_unless_dry_cancelled(&worker, collector, result)?;
                            recorded += 1;
                        }
                        Some(None) => {
                            ended = true;
                            break;
                        }
                        None => break,
                    }
                }
                collector.flush()?;
                if ended || interrupted_dry_run(&worker) {
                    return Ok(());
                }
                turns.after(recorded as u32).await;
            },
            _ = refresh.tick() => collector.tick(worker.pacer.paused())?,
        }
    }
}

/// Records a finished row, except in a dry run the rows cancelled by its interruption: an
/// interrupted dry run records nothing after the signal (the preview says how many rows it
/// holds of all).
fn record_unless_dry_cancelled(
    worker: &Worker,
    collector: &mut Collector,
    result: RowResult,
) -> anyhow::Result<()> {
    if worker.is_dry_run() && result.outcome == Outcome::Cancelled {
        return Ok(());
    }
    collector.record_unflushed(result)
}

/// An interrupted dry run ends at once: its rows would all be `cancelled`, nothing was to
/// be sent, and recording a million of them would keep the operator waiting.
fn interrupted_dry_run(worker: &Worker) -> bool {
    worker.is_dry_run() && worker.stop.reason() == Some(StopReason::Interrupted)
}

/// Gives the other tasks (the signal handler, the display's timer) a turn every
/// [`YIELD_EVERY`] rows: rows that finish without waiting (a dry run, `--resume` skips,
/// cancelled rows) would otherwise keep the single thread to themselves.
#[derive(Debug, Default)]
struct Turns {
    since: u32,
}

impl Turns {
    async fn after(&mut self, rows: u32) {
        self.since += rows;
        if self.since >= YIELD_EVERY {
            self.since = 0;
            tokio::task::yield_now().await;
        }
    }
}
