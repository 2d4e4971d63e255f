//! Where the input comes from: a file, or standard input copied to a temporary file so that
//! it can be read twice (validation, then sending).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::{CsvInput, InputError, ReadOptions};

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
