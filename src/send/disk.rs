//! The results file's own thread: formatting, writing, flushing and syncing the finished
//! rows away from the runtime's one thread, so that a slow disk (an `fdatasync` that takes
//! seconds on a busy or network volume) never stalls the schedule, the signal handler or the
//! latencies `--rate auto` measures, and so that the CPU of writing the rows runs beside the
//! sending on a second core.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::Context;

use crate::results::{ResultsWriter, RowResult, SYNC_EVERY};

/// Batches of finished rows waiting for the disk at most: beyond that the run waits for the
/// disk (a disk slower than the sending for long is then what sets the pace, and memory stays
/// bounded: a batch is at most a few hundred rows).
const QUEUED_BATCHES: usize = 256;

/// The handle of the thread that writes the results file.
pub struct Disk {
    rows: Option<SyncSender<Vec<RowResult>>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
    /// The first error of the thread, taken by the next call that can report it.
    failed: Arc<Mutex<Option<anyhow::Error>>>,
}

impl std::fmt::Debug for Disk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disk").finish_non_exhaustive()
    }
}

impl Disk {
    /// Starts the thread that owns `writer` from now on.
    pub fn start(writer: ResultsWriter) -> anyhow::Result<Disk> {
        let (rows, received) = sync_channel(QUEUED_BATCHES);
        let failed = Arc::new(Mutex::new(None));
        let shared = failed.clone();
        let thread = std::thread::Builder::new()
            .name("results".into())
            .spawn(move || write_rows(writer, &received, &shared))
            .context("cannot start the thread that writes the results")?;
        Ok(Disk {
            rows: Some(rows),
            thread: Some(thread),
            failed,
        })
    }

    /// Hands finished rows to the thread, which writes them and flushes them to the
    /// operating system at once (and syncs them within [`SYNC_EVERY`]). Waits only when
    /// the disk is [`QUEUED_BATCHES`] behind. A write that failed earlier is returned here.
    pub fn write(&mut self, batch: Vec<RowResult>) -> anyhow::Result<()> {
        self.check()?;
        let Some(rows) = &self.rows else {
            return Ok(());
        };
        let sent = match rows.try_send(batch) {
            Err(TrySendError::Full(batch)) => rows.send(batch).map_err(|_| ()),
            other => other.map_err(|_| ()),
        };
        match sent {
            Ok(()) => Ok(()),
            // The thread is gone: it ended on an error, which says why.
            Err(()) => self
                .finish()
                .and_then(|()| anyhow::bail!("the thread that writes the results ended early")),
        }
    }

    /// The thread's first error, if it failed.
    pub fn check(&mut self) -> anyhow::Result<()> {
        match self.failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Waits until every row handed over is written and synced to disk.
    pub fn finish(&mut self) -> anyhow::Result<()> {
        drop(self.rows.take());
        let ended = match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the results thread panicked"))),
            None => Ok(()),
        };
        self.check().and(ended)
    }
}

impl Drop for Disk {
    /// Whatever ends the run (an error, a dropped collector), the rows handed over are
    /// written before the process goes on.
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// The thread: writes each batch and flushes it; syncs when a sync is due, also while no
/// row comes (so the last rows before a quiet spell are synced within about a second); at
/// the end (every sender gone), syncs what is left. After an error it writes nothing more.
fn write_rows(
    mut writer: ResultsWriter,
    received: &Receiver<Vec<RowResult>>,
    failed: &Mutex<Option<anyhow::Error>>,
) -> anyhow::Result<()> {
    let outcome = (|| loop {
        match received.recv_timeout(SYNC_EVERY / 4) {
            Ok(batch) => {
                for result in &batch {
                    writer.write_unflushed(result)?;
                }
                writer.flush()?;
            }
            Err(RecvTimeoutError::Timeout) => writer.sync_if_due()?,
            Err(RecvTimeoutError::Disconnected) => return writer.sync(),
        }
    })();
    if let Err(error) = outcome {
        *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
    }
    Ok(())
}
