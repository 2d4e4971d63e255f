//! The writer of the results file, which the collector alone uses: locked for the whole run,
//! each finished row flushed to the operating system as it is written.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::{ExistingFile, Remote, RowResult, neutralise, result_header};

/// The results CSV, locked for the whole run, with each row flushed as it is written.
pub struct ResultsWriter {
    writer: csv::Writer<File>,
    path: PathBuf,
}

impl std::fmt::Debug for ResultsWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultsWriter")
            .field("path", &self.path)
            .finish()
    }
}

impl ResultsWriter {
    /// Opens (and locks) the results file; writes the header unless appending to a file that
    /// already has one.
    pub fn create(
        path: &Path,
        existing: ExistingFile,
        extras: &[String],
    ) -> anyhow::Result<ResultsWriter> {
        let shown = path.display();
        let exists = path.exists();
        if exists && existing == ExistingFile::Refuse {
            bail!(
                "{shown} already exists: pass --resume to continue that run, --force to overwrite it, or --output to write elsewhere"
            );
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot open the results file {shown}"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "{shown} is locked by another run of tecalis-status that is writing it; wait for it to finish or choose another --output"
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock the results file {shown}"));
            }
        }
        let has_content = file.metadata().map(|m| m.len() > 0).unwrap_or(false);
        let write_header = match existing {
            ExistingFile::Append if has_content => {
                file.seek(SeekFrom::End(0))
                    .with_context(|| format!("cannot append to {shown}"))?;
                ensure_ends_with_newline(&mut file)
                    .with_context(|| format!("cannot append to {shown}"))?;
                false
            }
            _ => {
                file.set_len(0)
                    .with_context(|| format!("cannot truncate {shown}"))?;
                true
            }
        };
        let mut writer = csv::WriterBuilder::new().flexible(false).from_writer(file);
        if write_header {
            writer
                .write_record(result_header(extras))
                .and_then(|_| writer.flush().map_err(csv::Error::from))
                .with_context(|| format!("cannot write the results file {shown}"))?;
        }
        Ok(ResultsWriter {
            writer,
            path: path.to_path_buf(),
        })
    }

    /// Writes one finished row and flushes it to the operating system, so that an
    /// interrupted run loses nothing that finished.
    pub fn write(&mut self, result: &RowResult) -> anyhow::Result<()> {
        self.write_unflushed(result)?;
        self.flush()
    }

    /// Flushes the rows written so far to the operating system.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.writer
            .flush()
            .with_context(|| format!("cannot write the results file {}", self.path.display()))
    }

    /// Writes one finished row into the buffer; [`ResultsWriter::flush`] must follow before
    /// the run waits for anything.
    pub fn write_unflushed(&mut self, result: &RowResult) -> anyhow::Result<()> {
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

/// A crash can leave a last line without its newline; start appending on a fresh line.
fn ensure_ends_with_newline(file: &mut File) -> std::io::Result<()> {
    use std::io::Read;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    file.seek(SeekFrom::End(0))?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
    }
    Ok(())
}
