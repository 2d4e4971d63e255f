//! Reading the input CSV: standard input spooling and the checked re-reading of a file
//! (`spool`, `verified`), decoding (`decode`), the
//! delimiter, `sep=` line and header (`dialect`), and records with the line where each
//! starts (`records`), blank rows skipped and counted; or a workbook's sheet (`workbook`,
//! `hidden`) read into the same records. Deciding whether a row is right is
//! `validate`'s job, not this module's.

mod decode;
mod dialect;
mod error;
mod hidden;
mod records;
mod spool;
mod verified;
mod workbook;

use std::io::{BufRead, BufReader, Read};

use encoding_rs::Encoding;

use decode::{Text, decode};
pub use dialect::{CANDIDATE_DELIMITERS, Columns, describe_delimiter, detect_delimiter};
use dialect::{is_blank_line, parse_header, sep_line};
pub use error::InputError;
use records::Records;
pub use spool::Source;

/// The longest record accepted, in bytes (a record may span several lines when a quoted
/// cell holds line breaks). No valid row comes close (a UUID, a state and at most a few
/// thousand characters of reasons); a longer one is garbage, a file that is not CSV, or a
/// quote never closed, and must not be read into memory.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Checks an `--encoding` label (for clap: an unknown one is a usage error).
pub fn encoding_label(label: &str) -> Result<String, String> {
    match Encoding::for_label(label.trim().as_bytes()) {
        Some(_) => Ok(label.to_string()),
        None => Err(InputError::UnknownEncoding(label.to_string()).to_string()),
    }
}

/// How to read the input.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// A forced delimiter; detected when `None`.
    pub delimiter: Option<u8>,
    /// A non-UTF-8 encoding to decode from; UTF-8 when `None`.
    pub encoding: Option<&'static Encoding>,
    /// The sheet of a workbook to read (`--sheet`); the first when `None`.
    pub sheet: Option<String>,
    /// What to do with a workbook's hidden or filtered-out rows (`--hidden`); refused when
    /// `None`.
    pub hidden: Option<Hidden>,
}

/// What `--hidden` says to do with a workbook's hidden or filtered-out rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Hidden {
    /// Leave them out (counted, never sent).
    Skip,
    /// Read them like the rows shown.
    Include,
}

impl ReadOptions {
    /// Builds the options from the command-line values, resolving the encoding label.
    pub fn new(delimiter: Option<u8>, encoding: Option<&str>) -> Result<Self, InputError> {
        let encoding = match encoding {
            None => None,
            Some(label) => {
                let enc = Encoding::for_label(label.trim().as_bytes())
                    .ok_or_else(|| InputError::UnknownEncoding(label.to_string()))?;
                if enc == encoding_rs::UTF_8 {
                    None
                } else {
                    Some(enc)
                }
            }
        };
        Ok(ReadOptions {
            delimiter,
            encoding,
            ..ReadOptions::default()
        })
    }
}

/// A CSV reader positioned after the header. It skips blank rows (blank lines, lines of
/// blanks or of delimiters only) and accounts for them in [`CsvInput::blank_rows`].
pub struct CsvInput {
    body: Body,
    columns: Columns,
    file: String,
    blank_rows: u64,
}

/// Where the records come from. One per reader, so the size of the CSV splitter's state
/// beside a sheet's does not matter.
#[allow(clippy::large_enum_variant)]
enum Body {
    /// A CSV text.
    Csv(Records<Text>),
    /// A workbook's sheet, read whole (a sheet has at most about a million rows).
    Sheet {
        /// The sheet's name, for messages.
        name: String,
        /// The rows left.
        rows: std::vec::IntoIter<(u64, Vec<String>)>,
        /// Hidden rows left out (`--hidden skip`).
        hidden_skipped: u64,
    },
}

impl std::fmt::Debug for CsvInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvInput")
            .field("file", &self.file)
            .field("columns", &self.columns)
            .finish()
    }
}

impl CsvInput {
    /// Reads the header from `raw` and prepares to read the records.
    pub fn new(
        raw: Box<dyn Read + Send>,
        file: &str,
        options: &ReadOptions,
    ) -> Result<CsvInput, InputError> {
        let mut raw = BufReader::new(raw);
        let head = raw.fill_buf().map_err(|source| InputError::Unreadable {
            file: file.to_string(),
            source,
        })?;
        match workbook::kind(head) {
            workbook::Kind::Text => {}
            workbook::Kind::OldExcel => {
                return Err(InputError::OldExcel {
                    file: file.to_string(),
                });
            }
            workbook::Kind::Zip => return CsvInput::workbook(raw, file, options),
        }
        let text = decode(Box::new(raw), options.encoding, file)?;
        // The header line is read raw (quotes kept) first: the delimiter is detected on it.
        let mut records = Records::new(text, None, MAX_RECORD_BYTES);
        let mut line_text = csv::ByteRecord::new();
        let mut sep = None;
        let mut blank_rows = 0;
        let header_line = loop {
            let line = records
                .read(&mut line_text)
                .map_err(|e| InputError::from_record(e, file, records.line(), MAX_RECORD_BYTES))?
                .ok_or_else(|| InputError::Empty {
                    file: file.to_string(),
                })?;
            let raw_line = line_text.get(0).unwrap_or_default();
            if line == 1
                && let Some(delimiter) = sep_line(raw_line)
            {
                sep = Some(delimiter);
            } else if is_blank_line(raw_line) {
                blank_rows += 1;
            } else {
                break line;
            }
        };
        let raw_header = line_text.get(0).unwrap_or_default();
        // `--delimiter` beats Excel's `sep=` line, which beats detection.
        let delimiter = options
            .delimiter
            .or(sep)
            .unwrap_or_else(|| detect_delimiter(raw_header));
        let mut header = csv::ByteRecord::new();
        Records::new(raw_header, Some(delimiter), MAX_RECORD_BYTES)
            .read(&mut header)
            .map_err(|_| InputError::UnclosedQuote {
                file: file.to_string(),
                line: header_line,
            })?;
        let columns = parse_header(&header, file, header_line, delimiter)?;
        records.set_delimiter(delimiter);
        Ok(CsvInput {
            body: Body::Csv(records),
            columns,
            file: file.to_string(),
            blank_rows,
        })
    }

    /// Reads a workbook (a zip file) whole, then its sheet.
    fn workbook(
        mut raw: impl Read,
        file: &str,
        options: &ReadOptions,
    ) -> Result<CsvInput, InputError> {
        let mut bytes = Vec::new();
        raw.read_to_end(&mut bytes)
            .map_err(|source| InputError::Unreadable {
                file: file.to_string(),
                source,
            })?;
        let sheet = workbook::read(&bytes, file, options.sheet.as_deref(), options.hidden)?;
        Ok(CsvInput {
            body: Body::Sheet {
                name: sheet.name,
                rows: sheet.rows,
                hidden_skipped: sheet.hidden_skipped,
            },
            columns: sheet.columns,
            file: file.to_string(),
            blank_rows: sheet.blank_rows,
        })
    }

    /// Where a line is, for messages: `FILE:` before a line number of a CSV file,
    /// `FILE:SHEET!` before a row number of a workbook's sheet.
    pub fn location(&self) -> String {
        match &self.body {
            Body::Csv(_) => format!("{}:", self.file),
            Body::Sheet { name, .. } => {
                format!("{}:{}!", self.file, crate::text::safe_input_text(name))
            }
        }
    }

    /// The sheet read, when the input is a workbook.
    pub fn sheet(&self) -> Option<&str> {
        match &self.body {
            Body::Csv(_) => None,
            Body::Sheet { name, .. } => Some(name),
        }
    }

    /// Hidden or filtered-out rows of a workbook left out (`--hidden skip`).
    pub fn hidden_skipped(&self) -> u64 {
        match &self.body {
            Body::Csv(_) => 0,
            Body::Sheet { hidden_skipped, .. } => *hidden_skipped,
        }
    }

    /// The columns found in the header.
    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// The delimiter in use (forced, from `sep=`, or detected).
    pub fn delimiter(&self) -> u8 {
        self.columns.delimiter
    }

    /// How many blank rows were skipped so far (before the header too).
    pub fn blank_rows(&self) -> u64 {
        self.blank_rows
    }

    /// Reads the next row into `record`, skipping blank rows; returns its line number (the
    /// line where it starts), or `None` at the end of the input.
    pub fn next_record(&mut self, record: &mut csv::ByteRecord) -> Result<Option<u64>, InputError> {
        let records = match &mut self.body {
            Body::Csv(records) => records,
            Body::Sheet { rows, .. } => {
                // The sheet's blank rows were left out as it was read.
                record.clear();
                return Ok(rows.next().map(|(line, cells)| {
                    for cell in &cells {
                        record.push_field(cell.as_bytes());
                    }
                    line
                }));
            }
        };
        loop {
            let line = records.read(record).map_err(|e| {
                InputError::from_record(e, &self.file, records.line(), MAX_RECORD_BYTES)
            })?;
            match line {
                Some(_) if record.iter().all(|cell| cell.trim_ascii().is_empty()) => {
                    self.blank_rows += 1;
                }
                line => return Ok(line),
            }
        }
    }
}

#[cfg(test)]
mod tests;
