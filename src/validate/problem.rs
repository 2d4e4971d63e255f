//! What can be wrong with a row, and how a problem is printed with its line and column.

use uuid::Uuid;

use super::State;

/// What is wrong with one cell or one row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The row has a different number of fields than the header.
    #[error("{} where the header has {expected}{hint}", count_fields(*found))]
    FieldCount {
        /// Fields in the row.
        found: usize,
        /// Fields in the header.
        expected: usize,
        /// A likely cause.
        hint: &'static str,
    },
    /// A cell is not valid UTF-8.
    #[error(
        "not valid UTF-8 (byte 0x{byte:02X}); if the file was saved by a spreadsheet on Windows, run again with --encoding windows-1252"
    )]
    NotUtf8 {
        /// The first offending byte.
        byte: u8,
    },
    /// A required cell is empty.
    #[error("empty; every row needs {what}")]
    Empty {
        /// What the cell should hold.
        what: &'static str,
    },
    /// The auth_uuid is not a canonical UUID.
    #[error(
        "{value:?} is not a UUID in canonical form (36 characters like 0190b5a2-7c3e-7d41-9b2a-5f6e1d2c3b4a)"
    )]
    BadUuid {
        /// The cell, trimmed.
        value: String,
    },
    /// The state is not one of OK, KO, CANCELLED.
    #[error("{value:?} is not a state: use OK, KO or CANCELLED{}", suggestion.map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    UnknownState {
        /// The cell, trimmed.
        value: String,
        /// The closest state, if any.
        suggestion: Option<State>,
    },
    /// The reasons are longer than the limit.
    #[error(
        "{length} characters, more than the limit of {max}; shorten the text or raise --max-reasons-len"
    )]
    ReasonsTooLong {
        /// Characters in the reasons.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// The same process appears on two rows.
    #[error(
        "{uuid} appears on lines {first} and {second}; rows are sent concurrently, so their order could not be honoured: keep one row per auth_uuid"
    )]
    Duplicate {
        /// The auth_uuid.
        uuid: Uuid,
        /// The first line with it.
        first: u64,
        /// Another line with it.
        second: u64,
    },
}

/// "1 field", "4 fields".
fn count_fields(n: usize) -> String {
    if n == 1 {
        "1 field".to_string()
    } else {
        format!("{n} fields")
    }
}

/// A problem and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// Line in the input where the row starts (the header is line 1).
    pub line: u64,
    /// The column's header name; `None` for the row as a whole.
    pub column: Option<String>,
    /// What is wrong.
    pub problem: Problem,
}

impl RowProblem {
    /// `FILE:LINE: column NAME: message`, the form every problem is printed in.
    pub fn render(&self, file: &str) -> String {
        match &self.column {
            Some(column) => format!("{file}:{}: column {column}: {}", self.line, self.problem),
            None => format!("{file}:{}: {}", self.line, self.problem),
        }
    }
}
