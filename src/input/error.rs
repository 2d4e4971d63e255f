//! The errors that stop the reading of an input before or between its rows: the file as a
//! whole, its header, or a record that cannot be read.

use std::io;

/// Problems with the input as a whole, which stop before any row is looked at.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file cannot be opened or read.
    #[error("{file}: cannot read: {source}")]
    Unreadable {
        /// The input as the user named it.
        file: String,
        /// Why.
        source: io::Error,
    },
    /// `--encoding` names no known encoding.
    #[error(
        "unknown encoding `{0}`: use an encoding label such as windows-1252, latin1, iso-8859-15 or utf-8"
    )]
    UnknownEncoding(String),
    /// The file has no bytes at all.
    #[error(
        "{file}: the file is empty; it needs at least a header row such as `auth_uuid,state,reasons`"
    )]
    Empty {
        /// The input as the user named it.
        file: String,
    },
    /// The first row holds data, not column names.
    #[error(
        "{file}:1: the first row looks like data ({first_cell:?}), not a header; add a header row such as `auth_uuid,state,reasons` as the first line"
    )]
    NoHeader {
        /// The input as the user named it.
        file: String,
        /// The first cell of the first row.
        first_cell: String,
    },
    /// The header lacks a required column.
    #[error("{file}:1: the header has no {missing} column (columns found: {found}){hint}")]
    MissingColumn {
        /// The input as the user named it.
        file: String,
        /// The names of the missing columns.
        missing: String,
        /// The columns that the header does have.
        found: String,
        /// What to do, when a likely cause is known.
        hint: String,
    },
    /// Two header cells name the same known column.
    #[error(
        "{file}:1: column `{name}` appears twice in the header (columns {first} and {second}); keep one"
    )]
    DuplicateColumn {
        /// The input as the user named it.
        file: String,
        /// The repeated name.
        name: String,
        /// 1-based position of the first.
        first: usize,
        /// 1-based position of the second.
        second: usize,
    },
    /// The file holds NUL bytes: it is not text.
    #[error(
        "{file}: this is not a text file (it holds NUL bytes); give the CSV file of corrections"
    )]
    Binary {
        /// The input as the user named it.
        file: String,
    },
    /// The header is not valid UTF-8.
    #[error(
        "{file}:1: the header is not valid UTF-8; if the file was saved by a spreadsheet on Windows, run again with --encoding windows-1252"
    )]
    HeaderNotUtf8 {
        /// The input as the user named it.
        file: String,
    },
    /// A physical line is longer than any valid row can be.
    #[error(
        "{file}:{line}: the line is longer than {limit} bytes, which no valid row can be; the file may not be a CSV of corrections, or a quote may be missing its closing quote"
    )]
    LineTooLong {
        /// The input as the user named it.
        file: String,
        /// The line where the limit was passed.
        line: u64,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The CSV reader failed on a record.
    #[error("{file}:{line}: cannot read the CSV: {message}")]
    Csv {
        /// The input as the user named it.
        file: String,
        /// The line of the record.
        line: u64,
        /// What the CSV reader said.
        message: String,
    },
}

impl InputError {
    /// Whether the error is about the file's content (exit 4) rather than about reading it
    /// at all (exit 1).
    pub fn is_invalid_input(&self) -> bool {
        !matches!(
            self,
            InputError::Unreadable { .. } | InputError::UnknownEncoding(_)
        )
    }
}

pub(crate) fn map_csv_error(error: csv::Error, file: &str, line: u64) -> InputError {
    let line = error.position().map(|p| p.line()).unwrap_or(line);
    match error.into_kind() {
        csv::ErrorKind::Io(e) => map_io_error(e, file, line),
        other => InputError::Csv {
            file: file.to_string(),
            line,
            message: format!("{:?}", other),
        },
    }
}

pub(crate) fn map_io_error(error: io::Error, file: &str, line: u64) -> InputError {
    if let Some(too_long) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<crate::input::decode::TooLong>())
    {
        return InputError::LineTooLong {
            file: file.to_string(),
            line: too_long.line,
            limit: too_long.limit,
        };
    }
    if error.kind() == io::ErrorKind::InvalidData {
        // The decoder for --encoding reports malformed input this way.
        return InputError::Csv {
            file: file.to_string(),
            line,
            message: format!("{error}"),
        };
    }
    InputError::Unreadable {
        file: file.to_string(),
        source: error,
    }
}
