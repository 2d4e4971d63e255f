//! A regular input file read several times without a copy: read once when it is opened, for
//! its SHA-256 and a fingerprint of every block; every later pass reads the same file (the
//! descriptor opened then, so a file replaced by another keeps being read as it was) and
//! checks each block against its fingerprint before a byte of it is handed on. A block that
//! changed since is an error at that block: nothing from it is validated or sent, so what is
//! sent is exactly what was validated and hashed, without copying the file into `$TMPDIR`.
//! Bytes appended after the length it had when opened are not read (they were not hashed).
//!
//! An input read once (`validate`) is fingerprinted as it is read instead
//! ([`RecordingReader`]), standard input and pipes copied as they are read, so that the scan
//! can read it a second time, checked the same way, when it needs to.

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{self, Read, Seek, Write};
use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};

/// The size of a checked block: big enough that the fingerprints of a 10-million-row file
/// (600 MB) are a few tens of kilobytes, small enough to be a cheap buffer.
const BLOCK: usize = 1 << 16;

/// What the opening read found: the fingerprint of every block, in order.
#[derive(Debug)]
pub(super) struct Fingerprints {
    /// A keyed 64-bit hash of each block (the key is random per process, so no edit can be
    /// made to collide on purpose; an accidental collision is a 2^-64 chance per block).
    blocks: Vec<u64>,
    keys: RandomState,
    /// The file's length when it was read.
    len: u64,
}

impl Fingerprints {
    /// Reads `file` from the start to its end: its fingerprints and its SHA-256, hex.
    pub(super) fn of(file: &mut File) -> io::Result<(Fingerprints, String)> {
        file.rewind()?;
        let keys = RandomState::new();
        let mut hasher = Sha256::new();
        let mut blocks = Vec::new();
        let mut buffer = vec![0u8; BLOCK];
        let mut len = 0u64;
        loop {
            let n = fill(file, &mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            blocks.push(keys.hash_one(&buffer[..n]));
            len += n as u64;
            if n < BLOCK {
                break;
            }
        }
        let sha256 = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok((Fingerprints { blocks, keys, len }, sha256))
    }
}

/// The first read of an input read once: hands the bytes on block by block as they come,
/// fingerprinting each (and writing it to `copy` when the input is standard input or a pipe,
/// which cannot be read again). At the end of the input the fingerprints are published in
/// `done`, for a [`VerifiedReader`] over the file (or the copy) to read it again.
pub(super) struct RecordingReader {
    inner: Box<dyn Read + Send>,
    copy: Option<File>,
    keys: RandomState,
    blocks: Vec<u64>,
    len: u64,
    buffer: Vec<u8>,
    pos: usize,
    filled: usize,
    finished: bool,
    done: Arc<OnceLock<Arc<Fingerprints>>>,
}

impl RecordingReader {
    /// Records what `inner` yields; `copy` (empty, at its start) receives every byte.
    pub(super) fn new(
        inner: Box<dyn Read + Send>,
        copy: Option<File>,
        done: Arc<OnceLock<Arc<Fingerprints>>>,
    ) -> RecordingReader {
        RecordingReader {
            inner,
            copy,
            keys: RandomState::new(),
            blocks: Vec::new(),
            len: 0,
            buffer: vec![0u8; BLOCK],
            pos: 0,
            filled: 0,
            finished: false,
            done,
        }
    }

    /// Reads, records and copies the next block; `Ok(false)` at the end of the input.
    fn next_block(&mut self) -> io::Result<bool> {
        if self.finished {
            return Ok(false);
        }
        let n = fill(&mut self.inner, &mut self.buffer)?;
        if n > 0 {
            self.blocks.push(self.keys.hash_one(&self.buffer[..n]));
            self.len += n as u64;
            if let Some(copy) = &mut self.copy {
                copy.write_all(&self.buffer[..n])?;
            }
        }
        if n < BLOCK {
            self.finished = true;
            let prints = Fingerprints {
                blocks: std::mem::take(&mut self.blocks),
                keys: self.keys.clone(),
                len: self.len,
            };
            // Only the first reader of a source records: the slot is empty here.
            let _ = self.done.set(Arc::new(prints));
        }
        self.pos = 0;
        self.filled = n;
        Ok(n > 0)
    }
}

impl Read for RecordingReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.filled && !self.next_block()? {
            return Ok(0);
        }
        Ok(serve(&self.buffer[..self.filled], &mut self.pos, out))
    }
}

/// A reader over the file that yields only bytes whose block matches its fingerprint.
#[derive(Debug)]
pub(super) struct VerifiedReader {
    file: File,
    prints: Arc<Fingerprints>,
    buffer: Vec<u8>,
    pos: usize,
    filled: usize,
    /// The next block to read.
    index: usize,
}

impl VerifiedReader {
    /// A reader from the start of `file` (its own descriptor: a clone shares the offset, so
    /// readers take turns: none reads while another is in use).
    pub(super) fn new(mut file: File, prints: Arc<Fingerprints>) -> io::Result<VerifiedReader> {
        file.rewind()?;
        Ok(VerifiedReader {
            file,
            prints,
            buffer: vec![0u8; BLOCK],
            pos: 0,
            filled: 0,
            index: 0,
        })
    }

    /// Reads and checks the next block; `Ok(false)` at the end of the file as it was when
    /// opened. Bytes appended since are not read: they were never validated.
    fn next_block(&mut self) -> io::Result<bool> {
        let at = self.index as u64 * BLOCK as u64;
        let want = self.prints.len.saturating_sub(at).min(BLOCK as u64) as usize;
        if want == 0 {
            return Ok(false);
        }
        let n = fill(&mut self.file, &mut self.buffer[..want])?;
        match self.prints.blocks.get(self.index) {
            Some(print) if n == want && *print == self.prints.keys.hash_one(&self.buffer[..n]) => {}
            _ => return Err(changed(at, self.prints.len)),
        }
        self.index += 1;
        self.pos = 0;
        self.filled = n;
        Ok(true)
    }
}

impl Read for VerifiedReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.filled && !self.next_block()? {
            return Ok(0);
        }
        Ok(serve(&self.buffer[..self.filled], &mut self.pos, out))
    }
}

/// Copies into `out` what is left of a block (`block[*pos..]`), as much as fits; moves `pos`.
fn serve(block: &[u8], pos: &mut usize, out: &mut [u8]) -> usize {
    let n = out.len().min(block.len() - *pos);
    out[..n].copy_from_slice(&block[*pos..*pos + n]);
    *pos += n;
    n
}

/// The error for a file that is not what it was when it was opened.
fn changed(at: u64, len: u64) -> io::Error {
    io::Error::other(format!(
        "the file changed on disk while it was in use (it was {len} bytes when opened; the \
         bytes from {at} on differ): nothing from the changed part was read; run again once \
         nothing writes to it, or pass a copy"
    ))
}

/// Reads until `buffer` is full or the input ends; the number of bytes read.
fn fill(file: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buffer.len() {
        match file.read(&mut buffer[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::FileExt;

    fn file_with(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut named = tempfile::NamedTempFile::new().unwrap();
        named.write_all(bytes).unwrap();
        let file = File::open(named.path()).unwrap();
        (named, file)
    }

    fn read_all(file: &File, prints: &Arc<Fingerprints>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        VerifiedReader::new(file.try_clone().unwrap(), prints.clone())?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn an_unchanged_file_reads_whole_as_often_as_asked_and_hashes_like_sha256() {
        let content: Vec<u8> = (0..(3 * BLOCK + 17)).map(|i| (i % 251) as u8).collect();
        let (_named, mut file) = file_with(&content);
        let (prints, sha) = Fingerprints::of(&mut file).unwrap();
        let expected: String = Sha256::digest(&content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(sha, expected);
        let prints = Arc::new(prints);
        for _ in 0..2 {
            assert_eq!(read_all(&file, &prints).unwrap(), content);
        }
        let (_empty, mut none) = file_with(b"");
        let (prints, _) = Fingerprints::of(&mut none).unwrap();
        assert!(read_all(&none, &Arc::new(prints)).unwrap().is_empty());
    }

    #[test]
    fn a_file_changed_in_place_or_cut_is_refused_at_the_changed_block() {
        let content = vec![b'a'; 2 * BLOCK + 10];
        for change in ["in place", "cut"] {
            let (named, mut file) = file_with(&content);
            let (prints, _) = Fingerprints::of(&mut file).unwrap();
            let prints = Arc::new(prints);
            let writer = std::fs::OpenOptions::new()
                .write(true)
                .open(named.path())
                .unwrap();
            match change {
                "in place" => writer.write_all_at(b"b", BLOCK as u64 + 3).unwrap(),
                _ => writer.set_len(BLOCK as u64 + 5).unwrap(),
            }
            let mut reader = VerifiedReader::new(file.try_clone().unwrap(), prints).unwrap();
            let mut first = vec![0u8; BLOCK];
            reader.read_exact(&mut first).unwrap();
            assert_eq!(
                first,
                content[..BLOCK],
                "{change}: the first block is intact"
            );
            let mut rest = Vec::new();
            let error = reader.read_to_end(&mut rest).unwrap_err().to_string();
            assert!(error.contains("changed on disk"), "{change}: {error}");
            assert!(rest.is_empty(), "{change}: nothing of the changed block");
        }
    }

    /// A stream read once is copied as it is read: the copy reads again, checked against
    /// what the first read saw; a copy changed since is refused.
    #[test]
    fn a_recorded_stream_reads_again_from_its_copy_and_a_change_is_refused() {
        let content: Vec<u8> = (0..(2 * BLOCK + 99)).map(|i| (i % 241) as u8).collect();
        let copy = tempfile::tempfile().unwrap();
        let done = Arc::new(OnceLock::new());
        let stream = Box::new(io::Cursor::new(content.clone()));
        let mut first = RecordingReader::new(stream, Some(copy.try_clone().unwrap()), done.clone());
        let mut read = Vec::new();
        let mut chunk = [0u8; 1000];
        assert!(done.get().is_none());
        loop {
            let n = first.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            read.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(read, content);
        let prints: Arc<Fingerprints> = done.get().expect("recorded at the end").clone();
        for _ in 0..2 {
            assert_eq!(read_all(&copy, &prints).unwrap(), content);
        }
        copy.write_all_at(b"x", BLOCK as u64 + 1).unwrap();
        let error = read_all(&copy, &prints).unwrap_err().to_string();
        assert!(error.contains("changed on disk"), "{error}");
    }

    #[test]
    fn bytes_appended_after_opening_are_not_read() {
        let content = vec![b'a'; BLOCK + 10];
        let (named, mut file) = file_with(&content);
        let (prints, _) = Fingerprints::of(&mut file).unwrap();
        let writer = std::fs::OpenOptions::new()
            .append(true)
            .open(named.path())
            .unwrap();
        writer
            .write_all_at(b"\nmore,rows", content.len() as u64)
            .unwrap();
        assert_eq!(read_all(&file, &Arc::new(prints)).unwrap(), content);
    }
}
