//! From the bytes of the file to UTF-8 text: the length limit on a line, and the decoding of
//! UTF-16 and of `--encoding`.

use std::io::{self, Read};

/// Raised through `io::Error` by [`LineLimit`].
#[derive(Debug)]
pub(crate) struct TooLong {
    pub(crate) line: u64,
    pub(crate) limit: usize,
}

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} is longer than {} bytes", self.line, self.limit)
    }
}

impl std::error::Error for TooLong {}

/// A reader that fails once a physical line grows past a limit, so that a file without
/// newlines is never read whole into a record.
pub(crate) struct LineLimit<R> {
    inner: R,
    limit: usize,
    since_newline: usize,
    line: u64,
}

impl<R> LineLimit<R> {
    pub(crate) fn new(inner: R, limit: usize) -> Self {
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
