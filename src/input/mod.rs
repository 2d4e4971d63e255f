//! Reading the input CSV: standard input spooling (`spool`), decoding (`decode`), the
//! delimiter and the header (`dialect`), and records with their line numbers. Deciding
//! whether a row is right is `validate`'s job, not this module's.

mod decode;
mod dialect;
mod error;
mod spool;

use std::io::{self, BufRead, BufReader, Read};

use encoding_rs::Encoding;

use decode::LineLimit;
use dialect::parse_header;
pub use dialect::{CANDIDATE_DELIMITERS, Columns, describe_delimiter, detect_delimiter};
pub use error::InputError;
use error::{map_csv_error, map_io_error};
pub use spool::Source;

/// The longest physical line accepted, in bytes. No valid row comes close (a UUID, a state
/// and at most a few thousand characters of reasons); a longer line is garbage or a file
/// that is not CSV, and must not be read into memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

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
