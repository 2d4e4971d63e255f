//! The record splitter: CSV records out of UTF-8 text, each with the line where it starts,
//! under any line ending (`\n`, `\r\n`, a bare `\r`), refusing a quote left open at the end
//! of the file and a record longer than the limit.
//!
//! Why not `csv::Reader`: it accepts the end of the file inside quotes without a word (the
//! rest of the file silently becomes one cell), it counts lines by `\n` only (a file with
//! bare `\r` endings is all "line 1", or one record with `Terminator::Any(b'\n')`), and it
//! puts no bound on a record. Wrapping it could not recover the line where a quote opened.
//! The quoting rules here are RFC 4180's as csv-core reads them, with one leniency kept (a
//! quote inside an unquoted field is a literal) and one refused: text after the closing
//! quote of a field (`"a"b`, which csv-core reads as `ab`) is an error, because that is what
//! a missing closing quote looks like when a later quote closes the cell, rows merged in
//! between. Blanks after a closing quote are allowed. Whatever the csv crate's writer
//! writes reads back the same; `tests/properties.rs` checks exactly that.

use std::io::{self, BufRead};

/// Why a record could not be read.
#[derive(Debug)]
pub(crate) enum RecordError {
    /// The input ended inside a quoted field.
    UnclosedQuote {
        /// The line where the quote opened.
        opened: u64,
    },
    /// Text follows the closing quote of a quoted field (`"a"b`): a quote inside the cell
    /// was not doubled, or a closing quote is missing and a later quote closed the cell.
    TextAfterQuote {
        /// The line of the text.
        line: u64,
        /// The line where the quoted field opened.
        opened: u64,
    },
    /// The record grew past the limit.
    TooLong {
        /// The line where the record starts.
        line: u64,
        /// The line of a quote still open when the limit was passed.
        open_quote: Option<u64>,
    },
    /// Reading (or decoding) failed.
    Io(io::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field: a quote here opens a quoted field.
    StartField,
    /// In an unquoted field.
    InField,
    /// In a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: a second quote is an escaped one.
    QuoteInQuoted,
}

/// Reads records from `inner`, counting physical lines.
pub(crate) struct Records<R> {
    inner: R,
    /// The field delimiter; `None` reads each line as one raw field (quotes kept), to find
    /// the header line before the delimiter is known.
    delimiter: Option<u8>,
    /// The line of the next byte to read.
    line: u64,
    /// The last byte read was a `\r` line break, so a `\n` right after it is the same break.
    after_cr: bool,
    /// The most bytes one record may have.
    limit: usize,
    /// The field being read.
    field: Vec<u8>,
    /// The bytes with no meaning inside an unquoted field (all but the delimiter and line
    /// breaks; a quote there is text).
    plain_unquoted: [bool; 256],
}

/// The bytes with no meaning inside a quoted field: all but the quote and line breaks (which
/// are text there too, but count lines).
const PLAIN_QUOTED: [bool; 256] = {
    let mut plain = [true; 256];
    plain[b'"' as usize] = false;
    plain[b'\r' as usize] = false;
    plain[b'\n' as usize] = false;
    plain
};

/// For the states where every byte needs a look.
const NOTHING_PLAIN: [bool; 256] = [false; 256];

fn plain_unquoted(delimiter: Option<u8>) -> [bool; 256] {
    let mut plain = [true; 256];
    plain[usize::from(b'\r')] = false;
    plain[usize::from(b'\n')] = false;
    if let Some(d) = delimiter {
        plain[usize::from(d)] = false;
    }
    plain
}

impl<R: BufRead> Records<R> {
    /// A splitter over `inner`, at its line 1; `None` reads raw lines (see `delimiter`).
    pub(crate) fn new(inner: R, delimiter: Option<u8>, limit: usize) -> Self {
        Records {
            inner,
            delimiter,
            line: 1,
            after_cr: false,
            limit,
            field: Vec::new(),
            plain_unquoted: plain_unquoted(delimiter),
        }
    }

    /// Sets the delimiter once it is known (after the header line).
    pub(crate) fn set_delimiter(&mut self, delimiter: u8) {
        self.delimiter = Some(delimiter);
        self.plain_unquoted = plain_unquoted(Some(delimiter));
    }

    /// The line of the next byte to read.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// Reads the next record into `record`; returns the line where it starts, or `None` at
    /// the end of the input. Without a delimiter the record is the raw line, quotes and all.
    pub(crate) fn read(
        &mut self,
        record: &mut csv::ByteRecord,
    ) -> Result<Option<u64>, RecordError> {
        record.clear();
        self.field.clear();
        let raw = self.delimiter.is_none();
        // Outside the byte range, so it never matches: the raw mode splits on line breaks only.
        let delimiter = self.delimiter.map_or(u16::MAX, u16::from);
        let mut state = State::StartField;
        let mut started = false;
        let mut start = self.line;
        let mut size = 0usize;
        let mut quote_line = 0;
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(RecordError::Io(e)),
            };
            if buf.is_empty() {
                return match state {
                    State::Quoted => Err(RecordError::UnclosedQuote { opened: quote_line }),
                    _ if !started => Ok(None),
                    _ => {
                        record.push_field(&self.field);
                        Ok(Some(start))
                    }
                };
            }
            let mut used = 0;
            let mut ended = false;
            while used < buf.len() {
                let byte = buf[used];
                if !started {
                    if byte == b'\n' && self.after_cr {
                        self.after_cr = false;
                        used += 1;
                        continue;
                    }
                    started = true;
                    start = self.line;
                }
                // The fast path: a run of plain bytes inside a field is copied at once.
                let plain = match state {
                    State::InField => &self.plain_unquoted,
                    State::Quoted => &PLAIN_QUOTED,
                    _ => &NOTHING_PLAIN,
                };
                let run = buf[used..]
                    .iter()
                    .position(|b| !plain[usize::from(*b)])
                    .unwrap_or(buf.len() - used);
                if run > 0 {
                    size += run;
                    if size > self.limit {
                        self.inner.consume(used + run);
                        return Err(RecordError::TooLong {
                            line: start,
                            open_quote: (state == State::Quoted).then_some(quote_line),
                        });
                    }
                    self.field.extend_from_slice(&buf[used..used + run]);
                    self.after_cr = false;
                    used += run;
                    continue;
                }
                used += 1;
                let prev_cr = std::mem::replace(&mut self.after_cr, false);
                size += 1;
                if size > self.limit {
                    self.inner.consume(used);
                    return Err(RecordError::TooLong {
                        line: start,
                        open_quote: (state == State::Quoted).then_some(quote_line),
                    });
                }
                let is_delimiter = u16::from(byte) == delimiter;
                let is_break = byte == b'\n' || byte == b'\r';
                match state {
                    State::StartField | State::InField | State::QuoteInQuoted if is_break => {
                        self.line += 1;
                        self.after_cr = byte == b'\r';
                        ended = true;
                        break;
                    }
                    State::StartField | State::InField | State::QuoteInQuoted if is_delimiter => {
                        record.push_field(&self.field);
                        self.field.clear();
                        state = State::StartField;
                    }
                    State::StartField if byte == b'"' => {
                        quote_line = self.line;
                        state = State::Quoted;
                        if raw {
                            self.field.push(byte);
                        }
                    }
                    State::QuoteInQuoted if byte == b'"' => {
                        // An escaped quote; the raw mode kept the first one already.
                        self.field.push(byte);
                        state = State::Quoted;
                    }
                    State::QuoteInQuoted if raw => {
                        self.field.push(byte);
                        state = State::InField;
                    }
                    State::QuoteInQuoted if byte == b' ' || byte == b'\t' => {}
                    State::QuoteInQuoted => {
                        self.inner.consume(used);
                        return Err(RecordError::TextAfterQuote {
                            line: self.line,
                            opened: quote_line,
                        });
                    }
                    State::StartField | State::InField => {
                        self.field.push(byte);
                        state = State::InField;
                    }
                    State::Quoted if byte == b'"' => {
                        state = State::QuoteInQuoted;
                        if raw {
                            self.field.push(byte);
                        }
                    }
                    State::Quoted => {
                        if byte == b'\r' || (byte == b'\n' && !prev_cr) {
                            self.line += 1;
                        }
                        self.after_cr = byte == b'\r';
                        self.field.push(byte);
                    }
                }
            }
            self.inner.consume(used);
            if ended {
                record.push_field(&self.field);
                return Ok(Some(start));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &[u8], delimiter: Option<u8>) -> Vec<(u64, Vec<String>)> {
        let mut records = Records::new(io::BufReader::with_capacity(3, text), delimiter, 1000);
        let mut record = csv::ByteRecord::new();
        let mut out = Vec::new();
        while let Some(line) = records.read(&mut record).unwrap() {
            let cells = record
                .iter()
                .map(|c| String::from_utf8(c.to_vec()).unwrap())
                .collect();
            out.push((line, cells));
        }
        out
    }

    #[test]
    fn every_line_ending_counts_one_line() {
        for end in ["\n", "\r\n", "\r"] {
            let text = format!("a,b{end}c,\"d{end}e\"{end}{end}f,g");
            let got = split(text.as_bytes(), Some(b','));
            assert_eq!(
                got,
                vec![
                    (1, vec!["a".into(), "b".into()]),
                    (2, vec!["c".into(), format!("d{end}e")]),
                    (4, vec!["".into()]),
                    (5, vec!["f".into(), "g".into()]),
                ],
                "{end:?}"
            );
        }
    }

    #[test]
    fn quotes_follow_rfc_4180() {
        let got = split(b"\"a\"\"b\",c\"d,\"e\"  ,\"\"\n", Some(b','));
        assert_eq!(
            got,
            vec![(1, vec!["a\"b".into(), "c\"d".into(), "e".into(), "".into()])]
        );
        let mut records = Records::new(&b"a,\"b\nc\"d,e\n"[..], Some(b','), 1000);
        let mut record = csv::ByteRecord::new();
        assert!(matches!(
            records.read(&mut record),
            Err(RecordError::TextAfterQuote { line: 2, opened: 1 })
        ));
    }

    #[test]
    fn the_raw_mode_keeps_quotes_and_splits_lines_only() {
        let got = split(b"\"a,\"\"b\",c\r\nx;y\n", None);
        assert_eq!(
            got,
            vec![(1, vec!["\"a,\"\"b\",c".into()]), (2, vec!["x;y".into()])]
        );
    }

    #[test]
    fn an_open_quote_at_the_end_names_its_line() {
        let mut records = Records::new(&b"a,b\nc,\"d\ne,f\n"[..], Some(b','), 1000);
        let mut record = csv::ByteRecord::new();
        assert_eq!(records.read(&mut record).unwrap(), Some(1));
        assert!(matches!(
            records.read(&mut record),
            Err(RecordError::UnclosedQuote { opened: 2 })
        ));
    }

    #[test]
    fn the_limit_is_on_the_record_across_reads() {
        let text = format!("a\n\"{}\n{}\"\n", "x".repeat(600), "y".repeat(600));
        let mut records = Records::new(
            io::BufReader::with_capacity(64, text.as_bytes()),
            Some(b','),
            1000,
        );
        let mut record = csv::ByteRecord::new();
        assert_eq!(records.read(&mut record).unwrap(), Some(1));
        assert!(matches!(
            records.read(&mut record),
            Err(RecordError::TooLong {
                line: 2,
                open_quote: Some(2)
            })
        ));
    }
}
