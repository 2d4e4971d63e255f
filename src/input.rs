//! Reading the input CSV: standard input spooling, BOM, encoding, delimiter detection, the
//! header, and records with their line numbers. Deciding whether a row is right is
//! `validate`'s job, not this module's.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use encoding_rs::Encoding;

/// The longest physical line accepted, in bytes. No valid row comes close (a UUID, a state
/// and at most a few thousand characters of reasons); a longer line is garbage or a file
/// that is not CSV, and must not be read into memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The delimiters tried, in order of preference when the header is ambiguous.
pub const CANDIDATE_DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

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

/// How to read the input.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// A forced delimiter; detected when `None`.
    pub delimiter: Option<u8>,
    /// A non-UTF-8 encoding to decode from; UTF-8 when `None`.
    pub encoding: Option<&'static Encoding>,
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
        })
    }
}

/// Where the input comes from: a file, or standard input copied to a temporary file so that
/// it can be read twice (validation, then sending) like any file.
#[derive(Debug)]
pub struct Source {
    path: PathBuf,
    display: String,
    stdin: bool,
    _spool: Option<tempfile::TempPath>,
}

impl Source {
    /// A file on disk, or `-` for standard input (spooled).
    pub fn open(path: &Path) -> Result<Source, InputError> {
        Source::open_with(path, true)
    }

    /// Like [`Source::open`], but standard input is read directly, once, without a copy
    /// (for `validate`, which reads the input a single time).
    pub fn open_once(path: &Path) -> Result<Source, InputError> {
        Source::open_with(path, false)
    }

    fn open_with(path: &Path, spool_stdin: bool) -> Result<Source, InputError> {
        if path.as_os_str() == "-" && !spool_stdin {
            return Ok(Source {
                path: path.to_path_buf(),
                display: "<stdin>".to_string(),
                stdin: true,
                _spool: None,
            });
        }
        if path.as_os_str() == "-" {
            let display = "<stdin>".to_string();
            let unreadable = |source| InputError::Unreadable {
                file: display.clone(),
                source,
            };
            let mut spool = tempfile::NamedTempFile::new().map_err(unreadable)?;
            io::copy(&mut io::stdin().lock(), spool.as_file_mut()).map_err(unreadable)?;
            let temp = spool.into_temp_path();
            return Ok(Source {
                path: temp.to_path_buf(),
                display,
                stdin: true,
                _spool: Some(temp),
            });
        }
        let display = path.display().to_string();
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => Err(InputError::Unreadable {
                file: display,
                source: io::Error::other("it is a directory, not a file"),
            }),
            Ok(_) => Ok(Source {
                path: path.to_path_buf(),
                display,
                stdin: false,
                _spool: None,
            }),
            Err(source) => Err(InputError::Unreadable {
                file: display,
                source,
            }),
        }
    }

    /// The name to show in messages: the path as given, or `<stdin>`.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The file to read (the spool for standard input).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the input came from standard input.
    pub fn is_stdin(&self) -> bool {
        self.stdin
    }

    /// Opens a fresh reader over the whole input (standard input that was not spooled can
    /// be read only once).
    pub fn reader(&self, options: &ReadOptions) -> Result<CsvInput, InputError> {
        if self.stdin && self._spool.is_none() {
            return CsvInput::new(Box::new(io::stdin()), &self.display, options);
        }
        let file = File::open(&self.path).map_err(|source| InputError::Unreadable {
            file: self.display.clone(),
            source,
        })?;
        CsvInput::new(Box::new(file), &self.display, options)
    }
}

/// Where each known column is, and the names of all of them.
#[derive(Debug, Clone)]
pub struct Columns {
    /// Position of `auth_uuid`.
    pub auth_uuid: usize,
    /// Position of `state`.
    pub state: usize,
    /// Position of `reasons`, when present.
    pub reasons: Option<usize>,
    /// Position of `api_key`, when present.
    pub api_key: Option<usize>,
    /// Other columns, carried through to the results: position and header name.
    pub extras: Vec<(usize, String)>,
    /// The header's names, trimmed, as written.
    pub names: Vec<String>,
}

impl Columns {
    /// The header name of the column at `index` (1-based position if the row is wider).
    pub fn name(&self, index: usize) -> String {
        self.names
            .get(index)
            .cloned()
            .unwrap_or_else(|| format!("column {}", index + 1))
    }
}

/// A CSV reader positioned after the header.
pub struct CsvInput {
    reader: csv::Reader<BufReader<Box<dyn Read + Send>>>,
    columns: Columns,
    delimiter: u8,
    file: String,
}

impl std::fmt::Debug for CsvInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvInput")
            .field("file", &self.file)
            .field("delimiter", &(self.delimiter as char))
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
        let mut limited = BufReader::new(LineLimit::new(raw, MAX_LINE_BYTES));
        let read_err = |e: io::Error| map_io_error(e, file, 1);
        let start = limited.fill_buf().map_err(read_err)?;
        // A UTF-16 file (Excel's "Unicode text") announces itself with a BOM: decode it
        // without asking for --encoding.
        let utf16 = start.starts_with(b"\xFF\xFE") || start.starts_with(b"\xFE\xFF");
        let decoded: Box<dyn Read + Send> = if options.encoding.is_some() || utf16 {
            Box::new(
                encoding_rs_io::DecodeReaderBytesBuilder::new()
                    .encoding(options.encoding)
                    .bom_sniffing(true)
                    .build(limited),
            )
        } else {
            Box::new(limited)
        };
        let mut buffered = BufReader::with_capacity(64 * 1024, decoded);
        let head = buffered.fill_buf().map_err(read_err)?;
        if head[..head.len().min(8192)].contains(&0) {
            return Err(InputError::Binary {
                file: file.to_string(),
            });
        }
        let bom = head.starts_with(b"\xEF\xBB\xBF");
        let delimiter = match options.delimiter {
            Some(d) => d,
            None => detect_delimiter(if bom { &head[3..] } else { head }),
        };
        if bom {
            buffered.consume(3);
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            // Only `\n` ends a record: with the default (`\r\n` too) the reader reports
            // the wrong start line for records after a CRLF. A `\r` left at the end of the
            // last cell is removed by the trimming that every cell gets.
            .terminator(csv::Terminator::Any(b'\n'))
            .delimiter(delimiter)
            .from_reader(buffered);
        let mut header = csv::ByteRecord::new();
        let found = reader
            .read_byte_record(&mut header)
            .map_err(|e| map_csv_error(e, file, 1))?;
        if !found {
            return Err(InputError::Empty {
                file: file.to_string(),
            });
        }
        let columns = parse_header(&header, file, delimiter)?;
        Ok(CsvInput {
            reader,
            columns,
            delimiter,
            file: file.to_string(),
        })
    }

    /// The columns found in the header.
    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// The delimiter in use (detected or forced).
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// Reads the next record into `record`; returns its line number (the line where it
    /// starts), or `None` at the end of the input.
    pub fn next_record(&mut self, record: &mut csv::ByteRecord) -> Result<Option<u64>, InputError> {
        let next_line = self.reader.position().line();
        match self.reader.read_byte_record(record) {
            Ok(true) => Ok(Some(
                record.position().map(|p| p.line()).unwrap_or(next_line),
            )),
            Ok(false) => Ok(None),
            Err(e) => Err(map_csv_error(e, &self.file, next_line)),
        }
    }
}

fn map_csv_error(error: csv::Error, file: &str, line: u64) -> InputError {
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

fn map_io_error(error: io::Error, file: &str, line: u64) -> InputError {
    if let Some(too_long) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<TooLong>())
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

/// The canonical name of a known column, if `name` is one (case and blanks ignored).
fn known_column(name: &str) -> Option<&'static str> {
    let lower = name.trim().to_ascii_lowercase();
    ["auth_uuid", "state", "reasons", "api_key"]
        .into_iter()
        .find(|k| *k == lower)
}

fn parse_header(
    header: &csv::ByteRecord,
    file: &str,
    delimiter: u8,
) -> Result<Columns, InputError> {
    let mut names = Vec::with_capacity(header.len());
    for cell in header.iter() {
        let text = std::str::from_utf8(cell).map_err(|_| InputError::HeaderNotUtf8 {
            file: file.to_string(),
        })?;
        names.push(text.trim().to_string());
    }
    let first_cell = names.first().cloned().unwrap_or_default();
    if uuid::Uuid::try_parse(&first_cell).is_ok() {
        return Err(InputError::NoHeader {
            file: file.to_string(),
            first_cell,
        });
    }
    let mut positions: [Option<usize>; 4] = [None; 4];
    let mut extras = Vec::new();
    for (index, name) in names.iter().enumerate() {
        match known_column(name) {
            Some(known) => {
                let slot = match known {
                    "auth_uuid" => 0,
                    "state" => 1,
                    "reasons" => 2,
                    _ => 3,
                };
                if let Some(first) = positions[slot] {
                    return Err(InputError::DuplicateColumn {
                        file: file.to_string(),
                        name: known.to_string(),
                        first: first + 1,
                        second: index + 1,
                    });
                }
                positions[slot] = Some(index);
            }
            // An unnamed column (a spreadsheet's trailing `;;`) is not carried through.
            None if name.is_empty() => {}
            None => extras.push((index, name.clone())),
        }
    }
    let missing: Vec<&str> = [("auth_uuid", positions[0]), ("state", positions[1])]
        .into_iter()
        .filter(|(_, p)| p.is_none())
        .map(|(n, _)| n)
        .collect();
    if let (Some(auth_uuid), Some(state)) = (positions[0], positions[1]) {
        return Ok(Columns {
            auth_uuid,
            state,
            reasons: positions[2],
            api_key: positions[3],
            extras,
            names,
        });
    }
    let joined_header = names.join(&(delimiter as char).to_string());
    let other_delimiter = CANDIDATE_DELIMITERS
        .iter()
        .find(|d| **d != delimiter && joined_header.contains(**d as char));
    let hint = match other_delimiter {
        Some(d) if names.len() == 1 => format!(
            "; the header seems to be separated by {}: pass --delimiter '{}'",
            describe_delimiter(*d),
            if *d == b'\t' { "tab".to_string() } else { (*d as char).to_string() }
        ),
        _ => "; the header must name the columns auth_uuid and state (reasons and api_key are optional)"
            .to_string(),
    };
    Err(InputError::MissingColumn {
        file: file.to_string(),
        missing: missing.join(" and "),
        found: names
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", "),
        hint,
    })
}

/// A word for a delimiter, for messages.
pub fn describe_delimiter(delimiter: u8) -> String {
    match delimiter {
        b',' => "commas".into(),
        b';' => "semicolons".into(),
        b'\t' => "tabs".into(),
        b'|' => "pipes".into(),
        other => format!("`{}`", other as char),
    }
}

/// Picks the delimiter that splits the header line into the most fields, counting only
/// outside quotes; a comma when none appears (a one-column file).
pub fn detect_delimiter(head: &[u8]) -> u8 {
    let line = match head.iter().position(|&b| b == b'\n') {
        Some(end) => &head[..end],
        None => head,
    };
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for &byte in line {
        if byte == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(i) = CANDIDATE_DELIMITERS.iter().position(|&d| d == byte) {
            counts[i] += 1;
        }
    }
    let mut best = 0;
    for i in 1..counts.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    CANDIDATE_DELIMITERS[best]
}

/// Raised through `io::Error` by [`LineLimit`].
#[derive(Debug)]
struct TooLong {
    line: u64,
    limit: usize,
}

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} is longer than {} bytes", self.line, self.limit)
    }
}

impl std::error::Error for TooLong {}

/// A reader that fails once a physical line grows past a limit, so that a file without
/// newlines is never read whole into a record.
struct LineLimit<R> {
    inner: R,
    limit: usize,
    since_newline: usize,
    line: u64,
}

impl<R> LineLimit<R> {
    fn new(inner: R, limit: usize) -> Self {
        LineLimit {
            inner,
            limit,
            since_newline: 0,
            line: 1,
        }
    }
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = &buf[..n];
        match chunk.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                self.line += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
                self.since_newline = n - last - 1;
            }
            None => self.since_newline += n,
        }
        if self.since_newline > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                TooLong {
                    line: self.line,
                    limit: self.limit,
                },
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(text: &[u8]) -> Result<CsvInput, InputError> {
        CsvInput::new(
            Box::new(io::Cursor::new(text.to_vec())),
            "t.csv",
            &ReadOptions::default(),
        )
    }

    #[test]
    fn detects_each_delimiter_from_the_header() {
        assert_eq!(detect_delimiter(b"auth_uuid,state,reasons\n"), b',');
        assert_eq!(detect_delimiter(b"auth_uuid;state;reasons\r\n"), b';');
        assert_eq!(detect_delimiter(b"auth_uuid\tstate\n"), b'\t');
        assert_eq!(detect_delimiter(b"auth_uuid|state|reasons"), b'|');
        assert_eq!(detect_delimiter(b"\"a;b\",c,d\nx;y;z;w;v"), b',');
        assert_eq!(detect_delimiter(b"auth_uuid\n"), b',');
    }

    #[test]
    fn header_matches_case_and_blanks_and_keeps_extras() {
        let input = open(b" Auth_UUID ;STATE; ticket ;Reasons\n").unwrap();
        let c = input.columns();
        assert_eq!(
            (c.auth_uuid, c.state, c.reasons, c.api_key),
            (0, 1, Some(3), None)
        );
        assert_eq!(c.extras, vec![(2, "ticket".to_string())]);
    }

    #[test]
    fn header_problems_are_named() {
        assert!(matches!(open(b""), Err(InputError::Empty { .. })));
        assert!(matches!(
            open(b"01900000-0000-7000-8000-000000000001,OK\n"),
            Err(InputError::NoHeader { .. })
        ));
        let err = open(b"auth_uuid,reasons\n").unwrap_err().to_string();
        assert!(err.contains("no state column"), "{err}");
        let err = open(b"auth_uuid,state,State\n").unwrap_err().to_string();
        assert!(err.contains("columns 2 and 3"), "{err}");
        assert!(matches!(
            open(b"auth_\xffuuid,state\n"),
            Err(InputError::HeaderNotUtf8 { .. })
        ));
    }

    #[test]
    fn a_forced_wrong_delimiter_gets_a_hint() {
        let options = ReadOptions {
            delimiter: Some(b','),
            encoding: None,
        };
        let err = CsvInput::new(
            Box::new(io::Cursor::new(b"auth_uuid;state\n".to_vec())),
            "t.csv",
            &options,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("--delimiter ';'"), "{err}");
    }

    #[test]
    fn bom_is_stripped_and_lines_are_counted_across_quoted_newlines() {
        let mut input =
            open(b"\xEF\xBB\xBFauth_uuid,state,reasons\r\na,OK,\"two\nlines\"\r\nb,KO,x\r\n")
                .unwrap();
        assert_eq!(input.columns().auth_uuid, 0);
        let mut record = csv::ByteRecord::new();
        assert_eq!(input.next_record(&mut record).unwrap(), Some(2));
        assert_eq!(record[2].trim_ascii(), b"two\nlines");
        assert_eq!(input.next_record(&mut record).unwrap(), Some(4));
        assert_eq!(input.next_record(&mut record).unwrap(), None);
    }

    #[test]
    fn a_huge_line_is_refused_without_reading_it_whole() {
        let mut text = b"auth_uuid,state\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        let mut input = open(&text).unwrap();
        let mut record = csv::ByteRecord::new();
        let err = input.next_record(&mut record).unwrap_err();
        assert!(
            matches!(err, InputError::LineTooLong { line: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn utf16_with_a_bom_is_decoded_and_binary_is_refused() {
        let text = "auth_uuid\tstate\r\na\tOK\r\n";
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
        let mut input = open(&bytes).unwrap();
        assert_eq!(input.delimiter(), b'\t');
        let mut record = csv::ByteRecord::new();
        assert_eq!(input.next_record(&mut record).unwrap(), Some(2));
        assert_eq!(&record[0], b"a");
        assert!(matches!(
            open(b"auth_uuid,state\n\0\0\x01"),
            Err(InputError::Binary { .. })
        ));
    }

    #[test]
    fn latin1_is_decoded_when_asked() {
        let options = ReadOptions::new(None, Some("latin1")).unwrap();
        let mut input = CsvInput::new(
            Box::new(io::Cursor::new(
                b"auth_uuid,state,reasons\na,OK,Cami\xf3n\n".to_vec(),
            )),
            "t.csv",
            &options,
        )
        .unwrap();
        let mut record = csv::ByteRecord::new();
        input.next_record(&mut record).unwrap();
        assert_eq!(std::str::from_utf8(&record[2]).unwrap(), "Camión");
        assert!(ReadOptions::new(None, Some("klingon")).is_err());
    }
}
