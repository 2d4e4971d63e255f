//! The second pass over the input: each row validated again and turned into work for the
//! sending core (a row to send, or a row already decided: invalid, or skipped on resume).

use crate::input::{Columns, CsvInput, InputError};
use crate::results::{Done, Outcome, RowResult};
use crate::send::Item;
use crate::validate::{Checked, Validator};

/// The second pass over the input: every row validated again (with the duplicates found by
/// the scan) and handed to the runner in order, so memory does not grow with the file. It
/// runs on the runner's own thread: reading a buffered file costs less than handing rows
/// between threads.
pub(super) struct Feed {
    reader: CsvInput,
    columns: Columns,
    validator: Validator,
    done: Done,
    record: csv::ByteRecord,
    /// Why reading stopped early, if it did.
    pub(super) error: Option<InputError>,
}

impl Feed {
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
                        Item::Done(Box::new(RowResult::unsent(
                            row,
                            Outcome::Skipped,
                            "ok in a previous run".into(),
                        )))
                    } else {
                        Item::Send(row, request)
                    }
                }
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
