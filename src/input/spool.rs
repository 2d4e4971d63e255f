//! Where the input comes from: a file, or standard input copied to an unnamed temporary file
//! so that it can be read twice (validation, then sending) like any file, and leaves nothing
//! on disk after any exit, `kill -9` included (it may hold an `api_key` column).

use std::fs::File;
use std::io::{self, Seek};
use std::path::{Path, PathBuf};

use super::{CsvInput, InputError, ReadOptions};

/// Where the input comes from: a file, or standard input, spooled or read once.
#[derive(Debug)]
pub struct Source {
    path: PathBuf,
    display: String,
    stdin: bool,
    spool: Option<Spool>,
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
    /// Copies standard input; returns the spool and a path that opens it.
    fn of_stdin() -> io::Result<(Spool, PathBuf)> {
        #[cfg(unix)]
        let (mut file, path) = {
            use std::os::fd::AsRawFd;
            let file = tempfile::tempfile()?;
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
        io::copy(&mut io::stdin().lock(), &mut file)?;
        file.rewind()?;
        let spool = Spool {
            file,
            #[cfg(not(unix))]
            _named: named,
        };
        Ok((spool, path))
    }

    /// A reader from the start of the copy (readers take turns: none reads while another is
    /// in use).
    fn reader(&self) -> io::Result<File> {
        let mut file = self.file.try_clone()?;
        file.rewind()?;
        Ok(file)
    }
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
        let display = "<stdin>".to_string();
        if path.as_os_str() == "-" && !spool_stdin {
            return Ok(Source {
                path: path.to_path_buf(),
                display,
                stdin: true,
                spool: None,
            });
        }
        if path.as_os_str() == "-" {
            let (spool, path) = Spool::of_stdin().map_err(|source| InputError::Unreadable {
                file: display.clone(),
                source,
            })?;
            return Ok(Source {
                path,
                display,
                stdin: true,
                spool: Some(spool),
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
                spool: None,
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

    /// The file to read (for spooled standard input, a path to the unnamed copy that is
    /// valid while this `Source` lives).
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
        let unreadable = |source| InputError::Unreadable {
            file: self.display.clone(),
            source,
        };
        let file = match &self.spool {
            Some(spool) => spool.reader().map_err(unreadable)?,
            None if self.stdin => {
                return CsvInput::new(Box::new(io::stdin()), &self.display, options);
            }
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
        use std::os::unix::fs::MetadataExt;
        assert_eq!(spool.file.metadata().unwrap().nlink(), 0, "unlinked");
        for _ in 0..2 {
            let text = io::read_to_string(spool.reader().unwrap()).unwrap();
            assert_eq!(text, "auth_uuid,state\n");
        }
    }
}
