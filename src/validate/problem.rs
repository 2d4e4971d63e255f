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
        "\"{}\" is not a UUID in canonical form (36 characters like 0190b5a2-7c3e-7d41-9b2a-5f6e1d2c3b4a)",
        crate::text::safe_input_text(value)
    )]
    BadUuid {
        /// The cell, trimmed.
        value: String,
    },
    /// The state is not one of OK, KO, CANCELLED.
    #[error("\"{}\" is not a state: use OK, KO or CANCELLED{}", crate::text::safe_input_text(value), suggestion.map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    UnknownState {
        /// The cell, trimmed.
        value: String,
        /// The closest state, if any.
        suggestion: Option<State>,
    },
    /// A row's own key holds a line break or another control character (as the default key
    /// may not); the key is never shown.
    #[error(
        "the api_key holds a line break or another control character (not shown): a key is one line of printable characters; check how the column was exported"
    )]
    KeyHasControls,
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
    /// The same process appears on several rows: one problem names every line.
    #[error(
        "{uuid} appears on lines {}; rows are sent concurrently, so their order could not be honoured: keep one row per auth_uuid",
        join_lines(lines)
    )]
    Duplicate {
        /// The auth_uuid.
        uuid: Uuid,
        /// Every line with it, in order.
        lines: Vec<u64>,
    },
    /// A cell under a column with no name in the header holds data.
    #[error(
        "column {position} has no name in the header but holds data on this line; a reasons text with the delimiter in it must be in double quotes (or give the column a name)"
    )]
    UnnamedColumn {
        /// 1-based position of the cell.
        position: usize,
    },
    /// A row split in two by a line break typed inside a cell that the export did not quote:
    /// a line with fewer cells than the header and no auth_uuid, right after a row.
    #[error("{}", if *rest {
        format!("this line has fewer cells than the header and no auth_uuid: it looks like the rest of the row on line {other}, cut by a line break typed inside a cell that the export did not put in quotes; remove the line break in the spreadsheet (or export with quoting) and export again")
    } else {
        format!("the row seems to go on on line {other} (a line break typed inside a cell that the export did not put in quotes), so this line holds only part of it; remove the line break in the spreadsheet (or export with quoting) and export again")
    })]
    SplitRow {
        /// The line of the other part.
        other: u64,
        /// Whether this line is the rest (the second part).
        rest: bool,
    },
    /// A quoted cell runs on over what looks like another row of the file.
    #[error(
        "the quoted cell that opens on line {opened} runs on over {} {}, which {} (an auth_uuid, then the delimiter): a closing quote is probably missing on line {opened}",
        if swallowed.len() == 1 { "line" } else { "lines" },
        join_lines(swallowed),
        if swallowed.len() == 1 { "looks like another row" } else { "look like other rows" }
    )]
    SwallowedRow {
        /// The line where the quoted cell opens.
        opened: u64,
        /// Every line inside the cell that looks like a row.
        swallowed: Vec<u64>,
    },
}

/// "2", "2 and 4", "2, 3 and 4".
fn join_lines(lines: &[u64]) -> String {
    match lines {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(u64::to_string).collect();
            format!("{} and {last}", init.join(", "))
        }
    }
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
    /// `FILE:LINE: column NAME: message`, the form every problem is printed in; `at` is
    /// what goes before the line: `FILE:` for a CSV file, `FILE:SHEET!` for a workbook's
    /// sheet (`CsvInput::location`).
    pub fn render(&self, at: &str) -> String {
        match &self.column {
            Some(column) => format!(
                "{at}{}: column {}: {}",
                self.line,
                crate::text::safe_input_text(column),
                self.problem
            ),
            None => format!("{at}{}: {}", self.line, self.problem),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_joined_for_reading() {
        assert_eq!(join_lines(&[2]), "2");
        assert_eq!(join_lines(&[2, 4]), "2 and 4");
        assert_eq!(join_lines(&[2, 3, 4]), "2, 3 and 4");
    }
}
