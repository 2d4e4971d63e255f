//! From the bytes of the file to UTF-8 text: the byte-order mark, UTF-16 (which announces
//! itself with its mark), `--encoding`, and the refusal of binary files.

use std::io::{self, BufRead, BufReader, Read};

use encoding_rs::Encoding;

use super::InputError;

/// The decoded text of an input, buffered.
pub(crate) type Text = BufReader<Box<dyn Read + Send>>;

/// Wraps `raw` so that it reads as UTF-8 text without a byte-order mark. Cells that are not
/// valid UTF-8 are left as they are, for the row rules to name their line.
pub(crate) fn decode(
    raw: Box<dyn Read + Send>,
    encoding: Option<&'static Encoding>,
    file: &str,
) -> Result<Text, InputError> {
    let unreadable = |source| InputError::Unreadable {
        file: file.to_string(),
        source,
    };
    let (start, raw) = peek(raw, 64 * 1024).map_err(unreadable)?;
    // A UTF-8 byte-order mark says what the file is: it beats --encoding (a cron job that
    // keeps the flag still reads Excel's "CSV UTF-8" export right).
    let encoding = encoding.filter(|_| !start.starts_with(b"\xEF\xBB\xBF"));
    if let Some(encoding) = encoding.filter(|e| *e != encoding_rs::UTF_8)
        && let Some(why) = looks_like_utf8(&start)
    {
        return Err(InputError::EncodingMismatch {
            file: file.to_string(),
            encoding: encoding.name().to_string(),
            why,
        });
    }
    // A UTF-16 file (Excel's "Unicode text") announces itself with a BOM: decode it without
    // asking for --encoding. A UTF-8 BOM beats --encoding too (encoding_rs_io sniffs both).
    let utf16 = start.starts_with(b"\xFF\xFE") || start.starts_with(b"\xFE\xFF");
    let decoded: Box<dyn Read + Send> = if encoding.is_some() || utf16 {
        Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(encoding)
                .bom_sniffing(true)
                .build(raw),
        )
    } else {
        raw
    };
    let (head, text) = peek(decoded, 8192).map_err(unreadable)?;
    if head.contains(&0) {
        return Err(InputError::Binary {
            file: file.to_string(),
        });
    }
    let mut text = BufReader::with_capacity(64 * 1024, text);
    if head.starts_with(b"\xEF\xBB\xBF") {
        // The buffer starts with `head`, which holds the mark.
        text.fill_buf().map_err(unreadable)?;
        text.consume(3);
    }
    Ok(text)
}

/// Whether the start of a file without a byte-order mark shows it is UTF-8: non-ASCII text
/// that is valid UTF-8 (text in a single-byte encoding with accents almost never is: `é` is
/// one byte, 0xE9, which UTF-8 never puts before an ASCII letter). A character cut by the
/// end of the sample is allowed.
fn looks_like_utf8(start: &[u8]) -> Option<&'static str> {
    // A UTF-8 byte-order mark needs no check: it beats --encoding (see `decode`).
    if start.starts_with(b"\xEF\xBB\xBF")
        || start.is_ascii()
        || start.starts_with(b"\xFF\xFE")
        || start.starts_with(b"\xFE\xFF")
    {
        return None;
    }
    match std::str::from_utf8(start) {
        Ok(_) => Some("its accented letters are UTF-8 sequences"),
        Err(e) if e.error_len().is_none() && e.valid_up_to() + 4 > start.len() => {
            Some("its accented letters are UTF-8 sequences")
        }
        Err(_) => None,
    }
}

/// Reads up to `n` bytes (fewer only at the end of the input: a decoder may hand out its
/// text in small pieces) and gives them back with a reader that reads them again first.
fn peek(mut reader: Box<dyn Read + Send>, n: usize) -> io::Result<(Vec<u8>, Box<dyn Read + Send>)> {
    let mut head = Vec::with_capacity(n);
    (&mut reader).take(n as u64).read_to_end(&mut head)?;
    let again = io::Cursor::new(head.clone()).chain(reader);
    Ok((head, Box::new(again)))
}
