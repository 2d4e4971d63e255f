//! The collector: the one writer and counter of finished rows. It counts each row, feeds
//! the stop policy, keeps the progress display current to the last finished row, and hands
//! the rows to the results file's own thread (`disk.rs`), which writes, flushes and syncs.

use std::sync::Arc;
use std::time::Instant;

use super::disk::Disk;
use super::pacer::{Pacer, Pause};
use super::stop::{Stop, StopPolicy};
use super::tally::Tally;
use crate::progress::{Progress, Status};
use crate::results::{ResultsWriter, RowResult};

/// The one consumer of finished rows.
pub struct Collector {
    disk: Disk,
    /// Rows recorded since the last flush, on their way to the disk thread.
    batch: Vec<RowResult>,
    tally: Tally,
    stop: Arc<Stop>,
    policy: StopPolicy,
    progress: Progress,
    started: Instant,
    paused: Option<Pause>,
    /// `--rate auto`: the pacer whose current rate the display shows.
    auto_rate: Option<Arc<Pacer>>,
    /// Run once, at the first row that the default key made `ok` (see
    /// [`Collector::on_first_default_key_ok`]).
    first_default_key_ok: Option<Box<dyn FnOnce() + Send>>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("disk", &self.disk)
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// A collector writing to `writer` (from its own thread), stopping `stop` when the rows
    /// call for it (`max_unauthorized` is `--max-unauthorized`), showing its progress on
    /// `progress`.
    pub fn new(
        writer: ResultsWriter,
        stop: Arc<Stop>,
        max_unauthorized: Option<u64>,
        progress: Progress,
    ) -> anyhow::Result<Collector> {
        Ok(Collector {
            disk: Disk::start(writer)?,
            batch: Vec::new(),
            tally: Tally::empty(),
            stop,
            policy: StopPolicy::new(max_unauthorized),
            progress,
            started: Instant::now(),
            paused: None,
            auto_rate: None,
            first_default_key_ok: None,
        })
    }

    /// The default key already made rows of this job `ok`: first answers all 401 are not a
    /// wrong key (see [`StopPolicy::key_proven`]).
    pub fn key_proven(&mut self) {
        self.policy.key_proven();
    }

    /// Runs `hook` once, when the first row sent with the default key (no key of its own)
    /// ends `ok`, before it is written: the run records there that the key works for this
    /// job, which stays true even if the process is killed afterwards.
    pub fn on_first_default_key_ok(&mut self, hook: Box<dyn FnOnce() + Send>) {
        self.first_default_key_ok = Some(hook);
    }

    /// `--rate auto`: shows the current rate of `pacer` with the progress.
    pub fn show_rate(&mut self, pacer: Arc<Pacer>) {
        self.auto_rate = Some(pacer);
    }

    /// The span the run goes in (its progress bar).
    pub fn span(&self) -> tracing::Span {
        self.progress.span().clone()
    }

    /// Writes and counts one finished row, and flushes it.
    pub fn record(&mut self, result: RowResult) -> anyhow::Result<()> {
        self.record_unflushed(result)?;
        self.flush()
    }

    /// Records one finished row without flushing; [`Collector::flush`] must follow before the
    /// run waits for anything.
    pub fn record_unflushed(&mut self, result: RowResult) -> anyhow::Result<()> {
        self.tally.add(&result);
        if result.outcome == crate::results::Outcome::Ok
            && result.attempts > 0
            && result.row.api_key.is_none()
            && let Some(hook) = self.first_default_key_ok.take()
        {
            hook();
        }
        if let Some(reason) = self.policy.observe(&result) {
            self.stop.stop(reason);
        }
        self.progress.preview(&result);
        // A row already recorded ok by an earlier run is counted, and has nothing to write.
        if !result.already_recorded {
            self.batch.push(result);
        }
        Ok(())
    }

    /// Hands the rows recorded so far to the results file's thread (which writes and
    /// flushes them at once), and shows them.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        if !self.batch.is_empty() {
            self.disk.write(std::mem::take(&mut self.batch))?;
        }
        self.show_now();
        Ok(())
    }

    /// Called on a timer: reports a failure of the results file's thread, and shows the
    /// progress with the pause in force now, if any (so that a pause shows while no row
    /// finishes). The thread syncs on its own when a sync is due.
    pub fn tick(&mut self, paused: Option<Pause>) -> anyhow::Result<()> {
        self.disk.check()?;
        self.paused = paused;
        self.show_now();
        Ok(())
    }

    fn show_now(&mut self) {
        let paused = self.paused.and_then(|p| {
            let left = p.until.checked_duration_since(Instant::now())?;
            Some((left, p.retry_after))
        });
        self.progress.show(Status {
            done: self.tally.rows(),
            counts: &self.tally.counts,
            sent: self.tally.sent,
            paused,
            rate: self.auto_rate.as_ref().map(|p| p.rate()),
        });
    }

    /// Ends the run: waits until every row is written and synced to disk, and gives the
    /// counts, timings and stop reason. The progress bar is gone when this returns.
    pub fn finish(mut self) -> anyhow::Result<Tally> {
        self.flush()?;
        self.disk.finish()?;
        let mut tally = self.tally;
        tally.elapsed = self.started.elapsed();
        tally.stopped = self.stop.reason();
        tally.quota = self.stop.quota();
        drop(self.progress);
        Ok(tally)
    }
}
