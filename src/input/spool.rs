//! Where the input comes from: a file, or standard input. When the input is read twice
//! (validation, then sending), what is sent must be exactly what was validated, and the
//! audit's SHA-256 the hash of it, even if the file on disk is rewritten during the run:
//! - a regular file is not copied (`$TMPDIR` is often RAM, and a year's input is large): it
//!   is read once when opened, for its hash and the fingerprint of every block, and every
//!   pass then reads it through the same descriptor, block by block, each block checked
//!   before it is used (see `verified.rs`): a change is an error, never a different row;
//! - standard input (and a pipe or other file that cannot be read twice) is copied to an
//!   unnamed temporary file, hashed as it is copied, which leaves nothing on disk after any
//!   exit, `kill -9` included (it may hold an `api_key` column).
//!
//! An input read once (`validate`) is not read ahead: it is fingerprinted as it is read (and
//! standard input or a pipe copied to an unnamed file as it is read), so that the scan can
//! read it again, checked the same way, when its duplicate detection needs a second pass.

use std::fs::File;
use std::io::{self, Seek};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::verified::{Fingerprints, RecordingReader, VerifiedReader};
use super::{CsvInput, InputError, ReadOptions};

/// Where the input comes from: a file, or standard input, spooled or read once.
#[derive(Debug)]
pub struct Source {
    path: PathBuf,
    display: String,
    stdin: bool,
    spool: Option<Spool>,
    /// A regular file read more than once: its descriptor and the fingerprints every pass
    /// is checked against.
    verified: Option<(File, Arc<Fingerprints>)>,
    /// SHA-256 of what every reader reads, hex, when the input is read more than once.
    sha256: Option<String>,
    /// An input read once, recorded by its first reader to be read again if need be.
    recorded: Option<Recorded>,
}

/// An input opened to be read once (`validate`), which its first reader records: the
/// fingerprint of every block and, for standard input or a pipe, a copy.
struct Recorded {
    /// The regular file's descriptor, or the unnamed copy of standard input or a pipe.
    file: File,
    /// Standard input or the pipe, until the first reader takes it.
    stream: Mutex<Option<Box<dyn io::Read + Send>>>,
    /// Whether the first reader was made.
    started: AtomicBool,
    /// The fingerprints, once the first reader reached the end of the input.
    prints: Arc<OnceLock<Arc<Fingerprints>>>,
}

impl std::fmt::Debug for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorded")
            .field("file", &self.file)
            .field("read", &self.prints.get().is_some())
            .finish()
    }
}

impl Recorded {
    fn new(file: File, stream: Option<Box<dyn io::Read + Send>>) -> Recorded {
        Recorded {
            file,
            stream: Mutex::new(stream),
            started: AtomicBool::new(false),
            prints: Arc::new(OnceLock::new()),
        }
    }

    /// The first reader (recording), or a checked reader once the first reached the end.
    fn reader(&self) -> io::Result<Box<dyn io::Read + Send>> {
        if let Some(prints) = self.prints.get() {
            let reader = VerifiedReader::new(self.file.try_clone()?, prints.clone())?;
            return Ok(Box::new(reader));
        }
        if self.started.swap(true, Ordering::SeqCst) {
            return Err(io::Error::other(
                "the input is read a second time before the first read reached its end",
            ));
        }
        let stream = self.stream.lock().ok().and_then(|mut s| s.take());
        let (inner, copy): (Box<dyn io::Read + Send>, _) = match stream {
            Some(stream) => (stream, Some(self.file.try_clone()?)),
            None => {
                let mut file = self.file.try_clone()?;
                file.rewind()?;
                (Box::new(file), None)
            }
        };
        Ok(Box::new(RecordingReader::new(
            inner,
            copy,
            self.prints.clone(),
        )))
    }
}

/// Standard input's copy. On Unix it is an unnamed file (unlinked as it is created: the
/// kernel frees it when the process ends, however it ends), reached by the path of its
/// descriptor so that the rest of the program can treat it like any input file.
#[derive(Debug)]
struct Spool {
    file: File,
    #[cfg(not(unix))]
    _named: tempfile::TempPath,
}

impl Spool {
    /// Copies `input` (standard input, or a file); returns the spool, a path that opens it,
    /// and the SHA-256 of what was copied.
    fn of(mut input: impl io::Read) -> io::Result<(Spool, PathBuf, String)> {
        #[cfg(unix)]
        let (mut file, path) = {
            use std::os::fd::AsRawFd;
            let file = unnamed_copy()?;
            let dir = if cfg!(target_os = "linux") {
                "/proc/self/fd"
            } else {
                "/dev/fd"
            };
            let path = PathBuf::from(format!("{dir}/{}", file.as_raw_fd()));
            (file, path)
        };
        #[cfg(not(unix))]
        let (mut file, path, named) = {
            let named = tempfile::NamedTempFile::new()?;
            let file = named.reopen()?;
            let (_, path) = named.into_parts();
            (file, path.to_path_buf(), path)
        };
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 16];
        loop {
            let n = match input.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buffer[..n]);
            io::Write::write_all(&mut file, &buffer[..n])?;
        }
        file.rewind()?;
        let sha256 = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let spool = Spool {
            file,
            #[cfg(not(unix))]
            _named: named,
        };
        Ok((spool, path, sha256))
    }

    /// A reader from the start of the copy (readers take turns: none reads while another is
    /// in use).
    fn reader(&self) -> io::Result<File> {
        let mut file = self.file.try_clone()?;
        file.rewind()?;
        Ok(file)
    }
}

/// An unnamed file in the temporary folder, for a copy of standard input or a pipe; an error
/// says where it was to be.
fn unnamed_copy() -> io::Result<File> {
    tempfile::tempfile().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot make its copy (an unnamed file) in the temporary folder {} (set \
                 TMPDIR to another): {e}",
                crate::text::shown_path(&std::env::temp_dir())
            ),
        )
    })
}

impl Source {
    /// A file on disk, or `-` for standard input, snapshotted to be read twice.
    pub fn open(path: &Path) -> Result<Source, InputError> {
        Source::open_with(path, true)
    }

    /// Like [`Source::open`], but read directly, once, without a copy (for `validate`,
    /// which reads the input a single time).
    pub fn open_once(path: &Path) -> Result<Source, InputError> {
        Source::open_with(path, false)
    }

    fn open_with(path: &Path, snapshot: bool) -> Result<Source, InputError> {
        let spool_stdin = snapshot;
        let display = "<stdin>".to_string();
        if path.as_os_str() == "-" && !spool_stdin {
            let copy = unnamed_copy().map_err(|source| InputError::Unreadable {
                file: display.clone(),
                source,
            })?;
            return Ok(Source {
                path: path.to_path_buf(),
                display,
                stdin: true,
                spool: None,
                verified: None,
                sha256: None,
                recorded: Some(Recorded::new(copy, Some(Box::new(io::stdin())))),
            });
        }
        if path.as_os_str() == "-" {
            let (spool, path, sha256) =
                Spool::of(io::stdin().lock()).map_err(|source| InputError::Unreadable {
                    file: display.clone(),
                    source,
                })?;
            return Ok(Source {
                path,
                display,
                stdin: true,
                spool: Some(spool),
                verified: None,
                sha256: Some(sha256),
                recorded: None,
            });
        }
        let display = crate::text::shown_path(path);
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => Err(InputError::Unreadable {
                file: display,
                source: io::Error::other("it is a directory, not a file"),
            }),
            Ok(meta) if snapshot => {
                let unreadable = |source| InputError::Unreadable {
                    file: display.clone(),
                    source,
                };
                let mut file = File::open(path).map_err(unreadable)?;
                let (spool, verified, sha256) = if meta.is_file() {
                    let (prints, sha256) = Fingerprints::of(&mut file).map_err(unreadable)?;
                    (None, Some((file, Arc::new(prints))), sha256)
                } else {
                    // A pipe (`<(...)`) or a device cannot be read twice: copied.
                    let (spool, _, sha256) = Spool::of(file).map_err(unreadable)?;
                    (Some(spool), None, sha256)
                };
                Ok(Source {
                    path: path.to_path_buf(),
                    display,
                    stdin: false,
                    spool,
                    verified,
                    sha256: Some(sha256),
                    recorded: None,
                })
            }
            Ok(meta) => {
                let unreadable = |source| InputError::Unreadable {
                    file: display.clone(),
                    source,
                };
                let file = File::open(path).map_err(unreadable)?;
                let recorded = if meta.is_file() {
                    Recorded::new(file, None)
                } else {
                    // A pipe (`<(...)`) or a device: copied as it is read.
                    let copy = unnamed_copy().map_err(unreadable)?;
                    Recorded::new(copy, Some(Box::new(file)))
                };
                Ok(Source {
                    path: path.to_path_buf(),
                    display,
                    stdin: false,
                    spool: None,
                    verified: None,
                    sha256: None,
                    recorded: Some(recorded),
                })
            }
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

    /// The input's path as given (for standard input that was spooled, a path to the
    /// unnamed copy that is valid while this `Source` lives). A file read more than once is
    /// read through the descriptor opened first, not from this path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SHA-256 of what every reader reads, hex, when the input is read more than once.
    pub fn sha256(&self) -> Option<&str> {
        self.sha256.as_deref()
    }

    /// Whether the input came from standard input.
    pub fn is_stdin(&self) -> bool {
        self.stdin
    }

    /// Opens a fresh reader over the whole input. An input opened to be read once
    /// ([`Source::open_once`]) can be read again only after its first reader reached its end.
    pub fn reader(&self, options: &ReadOptions) -> Result<CsvInput, InputError> {
        let unreadable = |source| InputError::Unreadable {
            file: self.display.clone(),
            source,
        };
        if let Some(recorded) = &self.recorded {
            let reader = recorded.reader().map_err(unreadable)?;
            return CsvInput::new(reader, &self.display, options);
        }
        if let Some((file, prints)) = &self.verified {
            let reader = file
                .try_clone()
                .and_then(|file| VerifiedReader::new(file, prints.clone()))
                .map_err(unreadable)?;
            return CsvInput::new(Box::new(reader), &self.display, options);
        }
        let file = match &self.spool {
            Some(spool) => spool.reader().map_err(unreadable)?,
            None => File::open(&self.path).map_err(unreadable)?,
        };
        CsvInput::new(Box::new(file), &self.display, options)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_spool_has_no_name_on_disk_and_reads_from_the_start_each_time() {
        let mut file = tempfile::tempfile().unwrap();
        io::Write::write_all(&mut file, b"auth_uuid,state\n").unwrap();
        let spool = Spool { file };
        let (copy, _, sha256) = Spool::of(&b"abc"[..]).unwrap();
        assert_eq!(
            sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(io::read_to_string(copy.reader().unwrap()).unwrap(), "abc");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(spool.file.metadata().unwrap().nlink(), 0, "unlinked");
        for _ in 0..2 {
            let text = io::read_to_string(spool.reader().unwrap()).unwrap();
            assert_eq!(text, "auth_uuid,state\n");
        }
    }
}
