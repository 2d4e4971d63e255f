//! The second pass over the input: each row validated again and turned into work for the
//! sending core (a row to send, or a row already decided: invalid, or skipped on resume).

use futures::StreamExt;

use crate::input::{Columns, CsvInput, InputError};
use crate::results::{Done, Outcome, RowResult};
use crate::send::Item;
use crate::validate::{Checked, Validator};

/// The second pass over the input: every row validated again (with the duplicates found by
/// the scan) and handed to the runner in order, so memory does not grow with the file. It
/// runs on a thread of its own ([`Feed::start`]), in batches (handing rows one by one between
/// threads would cost more than the work on them), so that a slow read never stalls the
/// runtime's thread.
pub(super) struct Feed {
    reader: CsvInput,
    columns: Columns,
    validator: Validator,
    done: Done,
    record: csv::ByteRecord,
    /// Why reading stopped early, if it did.
    error: Option<InputError>,
}

/// Rows read ahead of the sending at most, in batches of [`BATCH`]: memory stays bounded.
const BATCH: usize = 256;
const BATCHES_AHEAD: usize = 4;

impl Feed {
    /// Reads on a thread of its own: the rows, in order, as a stream; the thread gives why
    /// reading stopped early, if it did. Dropping the stream ends the thread at its next batch.
    pub(super) fn start(
        mut self,
    ) -> anyhow::Result<(
        impl futures::Stream<Item = Item> + Unpin,
        std::thread::JoinHandle<Option<InputError>>,
    )> {
        let (batches, received) = tokio::sync::mpsc::channel::<Vec<Item>>(BATCHES_AHEAD);
        let thread = std::thread::Builder::new()
            .name("input".into())
            .spawn(move || {
                loop {
                    let batch: Vec<Item> = self.by_ref().take(BATCH).collect();
                    if batch.is_empty() || batches.blocking_send(batch).is_err() {
                        return self.error.take();
                    }
                }
            })
            .map_err(|e| anyhow::anyhow!("cannot start the thread that reads the input: {e}"))?;
        let rows = futures::stream::unfold(received, |mut received| async move {
            let batch = received.recv().await?;
            Some((futures::stream::iter(batch), received))
        })
        .flatten();
        Ok((Box::pin(rows), thread))
    }

    pub(super) fn new(reader: CsvInput, validator: Validator, done: Done) -> Feed {
        Feed {
            columns: reader.columns().clone(),
            reader,
            validator,
            done,
            record: csv::ByteRecord::new(),
            error: None,
        }
    }
}

impl Feed {
    /// The rows already done, given back, and why reading stopped early, if it did.
    pub(super) fn into_parts(self) -> (Done, Option<InputError>) {
        (self.done, self.error)
    }
}

/// A row whose `ok` line an earlier run wrote: skipped, and counted but not written again
/// (the job record says how many such rows the run has).
fn already_ok(row: crate::validate::Row) -> Item {
    let mut result = RowResult::unsent(row, Outcome::Skipped, "ok in a previous run".into());
    result.already_recorded = true;
    Item::Done(Box::new(result))
}

impl Iterator for Feed {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        let line = match self.reader.next_record(&mut self.record) {
            Ok(line) => line?,
            Err(e) => {
                self.error = Some(e);
                return None;
            }
        };
        Some(
            match self.validator.check(&self.columns, &self.record, line) {
                Checked::Valid(row, request) => {
                    if self.done.contains(&request) {
                        already_ok(row)
                    } else {
                        Item::Send(row, request)
                    }
                }
                Checked::Repeat(row, _) if self.done.contains_row(&row) => already_ok(row),
                Checked::Repeat(row, first) => Item::Done(Box::new(RowResult::unsent(
                    row,
                    Outcome::Skipped,
                    format!("identical in every cell to line {first}, which is sent: one row"),
                ))),
                Checked::Invalid(row, problems) => {
                    let error = problems
                        .iter()
                        .map(|p| match &p.column {
                            Some(c) => format!("{c}: {}", p.problem),
                            None => p.problem.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    Item::Done(Box::new(RowResult::unsent(row, Outcome::Invalid, error)))
                }
            },
        )
    }
}
