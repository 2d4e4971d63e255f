//! The writer of the results file, which the collector alone uses: locked for the whole run,
//! each finished row flushed to the operating system as it is written.

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{Remote, RowResult, neutralise};

/// How often rows that finished are synced to disk while a run goes on: a power cut loses at
/// most the rows of the last interval.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

/// The results CSV, locked for the whole run, with each row flushed as it is written and
/// synced to disk at least every [`SYNC_EVERY`] while rows finish, and at the end.
pub struct ResultsWriter {
    writer: csv::Writer<File>,
    path: PathBuf,
    /// When the file was last synced to disk.
    synced: Instant,
    /// Whether rows were flushed since then.
    dirty: bool,
}

impl std::fmt::Debug for ResultsWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultsWriter")
            .field("path", &self.path)
            .finish()
    }
}

impl ResultsWriter {
    /// Takes the results file, opened and locked by [`crate::files`], and writes `header` (see
    /// [`super::result_header`]) unless appending to a file that already has one (cut of its
    /// torn last line and positioned at its end by [`super::resume_in`]).
    pub fn new(
        file: File,
        path: &Path,
        append: bool,
        header: &[String],
    ) -> anyhow::Result<ResultsWriter> {
        let shown = path.display();
        let write_header = !append || file.metadata().map(|m| m.len() == 0).unwrap_or(true);
        let mut writer = csv::WriterBuilder::new().flexible(false).from_writer(file);
        if write_header {
            writer
                .write_record(header)
                .and_then(|_| writer.flush().map_err(csv::Error::from))
                .with_context(|| format!("cannot write the results file {shown}"))?;
        }
        Ok(ResultsWriter {
            writer,
            path: path.to_path_buf(),
            synced: Instant::now(),
            dirty: false,
        })
    }

    /// Flushes the rows written so far to the operating system, and syncs them to disk when
    /// the last sync is [`SYNC_EVERY`] old.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.writer
            .flush()
            .with_context(|| format!("cannot write the results file {}", self.path.display()))?;
        self.dirty = true;
        self.sync_if_due()
    }

    /// Syncs flushed rows to disk if the last sync is [`SYNC_EVERY`] old: call it on a timer
    /// too, so that the last rows before a quiet spell do not wait for the next one.
    pub fn sync_if_due(&mut self) -> anyhow::Result<()> {
        if self.dirty && self.synced.elapsed() >= SYNC_EVERY {
            self.sync()?;
        }
        Ok(())
    }

    /// Flushes and syncs everything written to disk (`sync_data`): at every stop.
    pub fn sync(&mut self) -> anyhow::Result<()> {
        #[cfg(debug_assertions)]
        slow_sync_for_tests();
        self.writer
            .flush()
            .and_then(|()| self.writer.get_ref().sync_data())
            .with_context(|| format!("cannot sync the results file {}", self.path.display()))?;
        self.synced = Instant::now();
        self.dirty = false;
        Ok(())
    }

    /// Writes one finished row into the buffer; [`ResultsWriter::flush`] must follow before
    /// the run waits for anything.
    /// A row already recorded ok by an earlier run is not written again.
    pub fn write_unflushed(&mut self, result: &RowResult) -> anyhow::Result<()> {
        if result.already_recorded {
            return Ok(());
        }
        let r = result;
        let empty = Remote::default();
        let remote = r.remote.as_ref().unwrap_or(&empty);
        let mut numbers = [
            itoa::Buffer::new(),
            itoa::Buffer::new(),
            itoa::Buffer::new(),
            itoa::Buffer::new(),
        ];
        let [line, status, attempts, latency] = &mut numbers;
        let finished = humantime::format_rfc3339_millis(r.finished_at).to_string();
        let fixed: [Cow<'_, str>; 14] = [
            Cow::Borrowed(line.format(r.row.line)),
            neutralise(&r.row.auth_uuid),
            neutralise(&r.row.state),
            neutralise(&r.row.reasons),
            Cow::Borrowed(r.outcome.as_str()),
            Cow::Borrowed(r.http_status.map(|s| status.format(s)).unwrap_or("")),
            Cow::Borrowed(attempts.format(r.attempts)),
            Cow::Borrowed(r.latency_ms.map(|ms| latency.format(ms)).unwrap_or("")),
            neutralise(&r.error),
            neutralise(&remote.process_uuid),
            neutralise(&remote.status),
            neutralise(&remote.status_reasons),
            neutralise(&remote.updated_at),
            Cow::Owned(finished),
        ];
        let extras: Vec<Cow<'_, str>> = r.row.extras.iter().map(|e| neutralise(e)).collect();
        self.writer
            .write_record(fixed.iter().chain(extras.iter()).map(|c| c.as_bytes()))
            .with_context(|| format!("cannot write the results file {}", self.path.display()))?;
        Ok(())
    }

    /// Where the results go.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Debug builds only (the tests'): `TECALIS_TEST_SYNC_DELAY_MS` makes every sync take that
/// long, so that a test can check that a slow disk does not stall the run.
#[cfg(debug_assertions)]
fn slow_sync_for_tests() {
    if let Some(ms) = std::env::var("TECALIS_TEST_SYNC_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        std::thread::sleep(Duration::from_millis(ms));
    }
}
