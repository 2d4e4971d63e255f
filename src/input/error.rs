//! The errors that stop the reading of an input before or between its rows: the file as a
//! whole, its header, or a record that cannot be read. Messages about the header never print
//! its cells: a file without a header has data there, perhaps a key.

use std::io;

use super::records::RecordError;

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
    /// The file has no header row (no bytes, or blank lines only).
    #[error(
        "{file}: the file is empty; it needs at least a header row such as `auth_uuid,state,reasons`"
    )]
    Empty {
        /// The input as the user named it.
        file: String,
    },
    /// The first row holds data, not column names.
    #[error(
        "{file}:{line}: the first row looks like data (its first cell is a UUID), not a header; add a header row such as `auth_uuid,state,reasons` as the first line"
    )]
    NoHeader {
        /// The input as the user named it.
        file: String,
        /// The line of the first row.
        line: u64,
    },
    /// The header lacks a required column.
    #[error("{file}:{line}: the header has no {missing} column ({count} columns found){hint}")]
    MissingColumn {
        /// The input as the user named it.
        file: String,
        /// The line of the header.
        line: u64,
        /// The names of the missing columns.
        missing: String,
        /// How many columns the header has.
        count: usize,
        /// What to do, when a likely cause is known.
        hint: String,
    },
    /// Header names that are not known columns but are close to one: the data under them
    /// would be ignored (or, for a key, copied into the results). Every such name at once.
    #[error("{file}:{line}: {}", near_miss_message(misses, &format!("\n{file}:{line}: ")))]
    NearMiss {
        /// The input as the user named it.
        file: String,
        /// The line of the header.
        line: u64,
        /// Each look-alike: its 1-based position and the known column it resembles.
        misses: Vec<(usize, &'static str)>,
    },
    /// Two header cells name the same known column.
    #[error(
        "{file}:{line}: column `{name}` appears twice in the header (columns {first} and {second}); keep one"
    )]
    DuplicateColumn {
        /// The input as the user named it.
        file: String,
        /// The line of the header.
        line: u64,
        /// The repeated name.
        name: String,
        /// 1-based position of the first.
        first: usize,
        /// 1-based position of the second.
        second: usize,
    },
    /// The file holds NUL bytes: it is not text.
    #[error(
        "{file}: this is not a text file (it holds NUL bytes); give the CSV file of corrections (a UTF-16 file needs its byte-order mark)"
    )]
    Binary {
        /// The input as the user named it.
        file: String,
    },
    /// `--encoding` names a single-byte encoding, but the file is UTF-8: every accent would be
    /// read as two wrong characters.
    #[error(
        "{file} is UTF-8 ({why}), but --encoding {encoding} was given: every accented letter would be read wrong (razón as razÃ³n) and sent that way. Run again without --encoding"
    )]
    EncodingMismatch {
        /// The input as the user named it.
        file: String,
        /// The encoding asked for.
        encoding: String,
        /// What shows the file is UTF-8.
        why: &'static str,
    },
    /// The header is not valid UTF-8.
    #[error(
        "{file}:{line}: the header is not valid UTF-8; if the file was saved by a spreadsheet on Windows, run again with --encoding windows-1252"
    )]
    HeaderNotUtf8 {
        /// The input as the user named it.
        file: String,
        /// The line of the header.
        line: u64,
    },
    /// A quote is still open at the end of the file.
    #[error(
        "{file}:{line}: a quote opened on this line is never closed, so every line after it would be read as part of one cell; add the closing quote (a quote meant as text inside a quoted cell is written twice: \"\")"
    )]
    UnclosedQuote {
        /// The input as the user named it.
        file: String,
        /// The line where the quote opened.
        line: u64,
    },
    /// Text follows the closing quote of a quoted cell.
    #[error(
        "{file}:{line}: text follows the closing quote of a cell that opened on line {opened}; a quote inside a quoted cell must be written twice (\"\"), or a closing quote is missing on line {opened} and rows after it were read into the cell"
    )]
    TextAfterQuote {
        /// The input as the user named it.
        file: String,
        /// The line of the text.
        line: u64,
        /// The line where the quoted cell opened.
        opened: u64,
    },
    /// A record is longer than any valid row can be.
    #[error(
        "{file}:{line}: the row starting on this line is longer than {limit} bytes, which no valid row can be{}",
        match open_quote {
            Some(q) => format!("; a quote opened on line {q} is probably never closed"),
            None => "; the file may not be a CSV of corrections".to_string(),
        }
    )]
    RecordTooLong {
        /// The input as the user named it.
        file: String,
        /// The line where the record starts.
        line: u64,
        /// The limit, in bytes.
        limit: usize,
        /// The line of a quote still open when the limit was passed.
        open_quote: Option<u64>,
    },
    /// A zip file that is not a workbook this tool reads, or a workbook that cannot be read.
    #[error(
        "{file}: cannot read it as a workbook ({why}); give the .xlsx or .ods file of corrections, or a CSV export of it"
    )]
    NotWorkbook {
        /// The input as the user named it.
        file: String,
        /// What went wrong.
        why: String,
    },
    /// An old binary .xls workbook.
    #[error(
        "{file} is an old Excel workbook (.xls), which this tool does not read; save it as .xlsx (Excel Workbook) or .ods and give that file"
    )]
    OldExcel {
        /// The input as the user named it.
        file: String,
    },
    /// `--sheet` names no sheet of the workbook.
    #[error("{file}: the workbook has no sheet named `{}`; its sheets are: {}", crate::text::safe_input_text(sheet), sheets.iter().map(|s| format!("`{}`", crate::text::safe_input_text(s))).collect::<Vec<_>>().join(", "))]
    NoSuchSheet {
        /// The input as the user named it.
        file: String,
        /// The sheet asked for.
        sheet: String,
        /// The sheets it has.
        sheets: Vec<String>,
    },
    /// No `--sheet`, and the workbook's first sheet is hidden in the spreadsheet.
    #[error("{file}: its first sheet, `{}`, is hidden in the spreadsheet, so it is not the sheet you see when you open the file; pass --sheet NAME to say which sheet to read (its sheets are: {})", crate::text::safe_input_text(sheet), sheets.iter().map(|s| format!("`{}`", crate::text::safe_input_text(s))).collect::<Vec<_>>().join(", "))]
    HiddenSheet {
        /// The input as the user named it.
        file: String,
        /// The first sheet, hidden.
        sheet: String,
        /// The sheets it has.
        sheets: Vec<String>,
    },
    /// The cells of a sheet that hold something span more cells than are read into memory:
    /// usually a stray value or formatted cell far from the table.
    #[error(
        "{file}: sheet {}: its cells span {first}:{last} ({cells} cells), more than this tool reads ({max}); there is probably a value far from the table (at {last}): delete the rows and columns after the table, or copy the table to a new workbook, and save it again",
        crate::text::safe_input_text(sheet)
    )]
    SheetTooWide {
        /// The input as the user named it.
        file: String,
        /// The sheet (for an .ods, the widest table, which calamine would read on opening).
        sheet: String,
        /// The first cell of the span (`A1`).
        first: String,
        /// The last cell of the span (`XFD1048576`).
        last: String,
        /// How many cells the span holds.
        cells: u64,
        /// The most that are read.
        max: u64,
    },
    /// Cells of a workbook that cannot be read as the text the spreadsheet shows: a number
    /// or a date in a known column, a formula without a saved value. Every one at once.
    #[error("{file}: {} cell(s) cannot be sent as written: {}", cells.len(), cells.join("; "))]
    WorkbookCells {
        /// The input as the user named it.
        file: String,
        /// One message per cell, naming it (`Correcciones!B4`).
        cells: Vec<String>,
    },
    /// Rows of the sheet that the spreadsheet hides (by hand or by a filter) hold data.
    #[error(
        "{file}: sheet {}: row(s) {} are hidden or filtered out in the spreadsheet, so what it shows is not everything the file holds; pass --hidden skip to leave them out (they are counted) or --hidden include to send them too",
        crate::text::safe_input_text(sheet),
        lines.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
    )]
    HiddenRows {
        /// The input as the user named it.
        file: String,
        /// The sheet.
        sheet: String,
        /// The sheet row numbers of the hidden rows with data.
        lines: Vec<u64>,
    },
    /// The input is a results or preview file of this tool, not a file of corrections.
    #[error(
        "{file}:{line}: this is a results or preview file written by tecalis-status (it has the columns outcome, http_status and attempts), not a file of corrections; to send its failed rows again, run `tecalis-status report --export-failed FILE` on it and give the file it writes"
    )]
    ResultsFile {
        /// The input as the user named it.
        file: String,
        /// The line of the header.
        line: u64,
    },
    /// Header names that suggest a credential but are not `api_key`: their cells are never
    /// read. Named by position and name (the header, not a cell).
    #[error(
        "{file}:{line}: {}: the name suggests a credential, and only a column named api_key is treated as one (never printed, copied or written); rename it to api_key if it holds the per-row keys, or remove the column from the file",
        columns.iter().map(|(p, n)| format!("column {p} (`{}`)", crate::text::safe_input_text(n))).collect::<Vec<_>>().join(", ")
    )]
    CredentialColumn {
        /// The input as the user named it.
        file: String,
        /// The line of the header.
        line: u64,
        /// Each such column: its 1-based position and its name.
        columns: Vec<(usize, String)>,
    },
    /// The input cannot be decoded.
    #[error("{file}:{line}: cannot decode the text: {message}")]
    Decode {
        /// The input as the user named it.
        file: String,
        /// The line being read.
        line: u64,
        /// What the decoder said.
        message: String,
    },
}

impl InputError {
    /// Whether the error is about the file's content (exit 4) rather than about reading it
    /// at all (exit 1).
    pub fn is_invalid_input(&self) -> bool {
        !matches!(
            self,
            InputError::Unreadable { .. }
                | InputError::UnknownEncoding(_)
                | InputError::EncodingMismatch { .. }
        )
    }

    /// The error for a record that could not be read, at `line` (the next line to read).
    pub(crate) fn from_record(error: RecordError, file: &str, line: u64, limit: usize) -> Self {
        let file = file.to_string();
        match error {
            RecordError::UnclosedQuote { opened } => {
                InputError::UnclosedQuote { file, line: opened }
            }
            RecordError::TextAfterQuote { line, opened } => {
                InputError::TextAfterQuote { file, line, opened }
            }
            RecordError::TooLong { line, open_quote } => InputError::RecordTooLong {
                file,
                line,
                limit,
                open_quote,
            },
            // The decoders report malformed input this way.
            RecordError::Io(e) if e.kind() == io::ErrorKind::InvalidData => InputError::Decode {
                file,
                line,
                message: e.to_string(),
            },
            RecordError::Io(source) => InputError::Unreadable { file, source },
        }
    }
}

/// The message for near-miss header names: one line per name, each after `separator`.
fn near_miss_message(misses: &[(usize, &'static str)], separator: &str) -> String {
    misses
        .iter()
        .map(|(position, known)| {
            format!(
                "column {position} of the header is not a known column but looks like `{known}`; rename it to `{known}` (the data under it would otherwise not be used as {known}), or give an extra column a clearly different name"
            )
        })
        .collect::<Vec<_>>()
        .join(separator)
}
