//! Opening a checked output: in place (no symlink followed, never blocking, verified with
//! `fstat`, locked when asked), or as a private temporary file in the same folder that
//! [`OutputFile::commit`] renames over the path.

use super::*;

/// How an open output is written.
#[derive(Debug)]
enum Target {
    /// The file itself.
    InPlace(File),
    /// A temporary file in the same folder, renamed over `dest` at the end.
    Staged(tempfile::NamedTempFile),
}

/// An open output file. Write to it; call [`OutputFile::commit`] when done (it syncs, and
/// renames a staged file into place). A staged file dropped without `commit` is deleted,
/// leaving the path as it was.
#[derive(Debug)]
pub struct OutputFile {
    pub(super) what: &'static str,
    path: PathBuf,
    existing: Existing,
    target: Target,
}

impl Checked {
    /// The path, as given.
    pub fn path(&self) -> &Path {
        &self.output.path
    }

    /// Whether a file was there at the check (to be replaced or appended to).
    pub fn existed(&self) -> bool {
        self.found.is_some()
    }

    /// Opens the output: created with mode 0600 (an existing file keeps its mode), a
    /// replaced in-place file truncated only once it is locked, an appended one positioned
    /// at its end. Fails without blocking if the path became a symlink, a FIFO or anything
    /// but the file that was checked.
    pub fn open(self) -> Result<OutputFile, FileError> {
        let Checked {
            output,
            found,
            inputs,
        } = self;
        let (what, path) = (output.what, output.path.clone());
        let io = |action, source| FileError::Io {
            what,
            path: shown(&path),
            action,
            source,
        };
        if !output.in_place() {
            let folder = folder_of(&path);
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let staged = tempfile::Builder::new()
                .prefix(&format!(".{name}."))
                .suffix(".tmp")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .tempfile_in(folder)
                .map_err(|e| io("create a temporary file beside", e))?;
            return Ok(OutputFile {
                what,
                path,
                existing: output.existing,
                target: Target::Staged(staged),
            });
        }
        let mut options = OpenOptions::new();
        options
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
        if found.is_none() {
            // It was absent at the check: anything there now was put there since.
            options.create_new(true);
        }
        let mut file = options.open(&path).map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => FileError::Symlink {
                what,
                path: shown(&path),
            },
            Some(libc::ENXIO) => FileError::NotRegular {
                what,
                path: shown(&path),
                kind: "a FIFO",
            },
            Some(libc::EISDIR) => FileError::NotRegular {
                what,
                path: shown(&path),
                kind: "a directory",
            },
            _ if e.kind() == std::io::ErrorKind::AlreadyExists => FileError::Changed {
                what,
                path: shown(&path),
            },
            _ => io("open", e),
        })?;
        let meta = file.metadata().map_err(|e| io("examine", e))?;
        if !meta.file_type().is_file() {
            return Err(FileError::NotRegular {
                what,
                path: shown(&path),
                kind: kind(&meta),
            });
        }
        if found.is_some_and(|id| id != identity(&meta)) {
            return Err(FileError::Changed {
                what,
                path: shown(&path),
            });
        }
        is_not_an_input(&output, identity(&meta), &inputs)?;
        guard::is_not_protected(&output, Some(identity(&meta)), None)?;
        if found.is_some() {
            guard::is_ours(&output, &meta)?;
        }
        if output.lock {
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(FileError::Locked {
                        what,
                        path: shown(&path),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io("lock", e)),
            }
        }
        match output.existing {
            Existing::Append => file.seek(SeekFrom::End(0)).map(drop),
            Existing::Replace | Existing::Refuse => file.set_len(0),
        }
        .map_err(|e| io("prepare", e))?;
        Ok(OutputFile {
            what,
            path,
            existing: output.existing,
            target: Target::InPlace(file),
        })
    }
}

impl OutputFile {
    /// The path it ends up at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file (the temporary one while staged).
    pub fn file(&self) -> &File {
        match &self.target {
            Target::InPlace(file) => file,
            Target::Staged(staged) => staged.as_file(),
        }
    }

    /// The file itself, for a writer that owns it (the results file, locked). A staged
    /// output is given back, since taking its file out would lose the rename.
    pub fn into_file(self) -> Result<File, OutputFile> {
        match self.target {
            Target::InPlace(file) => Ok(file),
            Target::Staged(_) => Err(self),
        }
    }

    /// Syncs the data to disk and, for a staged output, renames it over the path (without
    /// replacing a file that appeared there since the check unless replacing was asked).
    pub fn commit(self) -> Result<(), FileError> {
        let (what, path) = (self.what, self.path);
        let io = |action, source| FileError::Io {
            what,
            path: shown(&path),
            action,
            source,
        };
        match self.target {
            Target::InPlace(mut file) => {
                file.flush().map_err(|e| io("write", e))?;
                file.sync_data().map_err(|e| io("sync", e))
            }
            Target::Staged(mut staged) => {
                staged.flush().map_err(|e| io("write", e))?;
                staged.as_file().sync_data().map_err(|e| io("sync", e))?;
                let persisted = if self.existing == Existing::Replace {
                    staged.persist(&path)
                } else {
                    staged.persist_noclobber(&path)
                };
                persisted.map_err(|e| match e.error.kind() {
                    std::io::ErrorKind::AlreadyExists => FileError::Changed {
                        what,
                        path: shown(&path),
                    },
                    _ => io("rename into", e.error),
                })?;
                // The rename itself is durable once the folder is synced; best effort.
                if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty())
                    && let Ok(folder) = File::open(folder)
                {
                    let _ = folder.sync_all();
                }
                Ok(())
            }
        }
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.target {
            Target::InPlace(file) => file.write(buf),
            Target::Staged(staged) => staged.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.target {
            Target::InPlace(file) => file.flush(),
            Target::Staged(staged) => staged.flush(),
        }
    }
}
