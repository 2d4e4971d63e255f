//! Every output file opened by one rule (SPEC, "Files and the terminal"): never through a
//! symlink or onto anything but a regular file, never the input or another output of the
//! same run, an existing file replaced only when asked, created private (0600), and every
//! path checked together before the first request. The sequence: [`check`] every output of
//! the run at once (touches nothing: fit for a dry run too), then [`Checked::open`] each one
//! before the first request (creates and locks in place, or creates a temporary file beside
//! the path), write, and [`OutputFile::commit`] at the end (syncs; renames a staged file).

use std::fs::{File, Metadata, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What to do when an output's path already holds a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse: the run stops before anything is sent (the default).
    Refuse,
    /// Replace it (`--force`).
    Replace,
    /// Write at its end (`--resume`, for the results file); always in place.
    Append,
}

/// One output file of a run, described before anything is opened.
#[derive(Debug, Clone)]
pub struct Output {
    what: &'static str,
    path: PathBuf,
    existing: Existing,
    by_rename: bool,
    lock: bool,
    hint: &'static str,
}

impl Output {
    /// An output named in messages as `what` (e.g. "the results file"), at `path`: refused
    /// when it exists, written in place, not locked.
    pub fn new(what: &'static str, path: impl Into<PathBuf>) -> Output {
        Output {
            what,
            path: path.into(),
            existing: Existing::Refuse,
            by_rename: false,
            lock: false,
            hint: "pass --force to replace it, or choose another path",
        }
    }

    /// What to do when it exists.
    pub fn existing(mut self, existing: Existing) -> Output {
        self.existing = existing;
        self
    }

    /// Written to a temporary file in the same folder and renamed over the path by
    /// [`OutputFile::commit`], so that a reader never sees it half written (the summary
    /// JSON, the export). Ignored with [`Existing::Append`].
    pub fn by_rename(mut self) -> Output {
        self.by_rename = true;
        self
    }

    /// Locked while open (`File::try_lock`), so that a second run on it refuses to start.
    pub fn locked(mut self) -> Output {
        self.lock = true;
        self
    }

    /// What to tell the operator when it exists and may not be replaced.
    pub fn hint(mut self, hint: &'static str) -> Output {
        self.hint = hint;
        self
    }

    fn in_place(&self) -> bool {
        !self.by_rename || self.existing == Existing::Append
    }
}

/// A path as shown in messages: control characters escaped.
fn shown(path: &Path) -> String {
    crate::text::shown_path(path)
}

/// A file's identity: device and inode.
type Identity = (u64, u64);

fn identity(meta: &Metadata) -> Identity {
    (meta.dev(), meta.ino())
}

/// What a non-regular file is, for messages.
fn kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// An output that passed [`check`], ready to open.
#[derive(Debug)]
pub struct Checked {
    output: Output,
    /// The file there at the check, if any.
    found: Option<Identity>,
    /// Every input's identity, checked again once the file is open.
    inputs: Vec<(Identity, PathBuf)>,
}

/// Checks every output of one run together, before the first request: each is a regular
/// file or absent (never a symlink), in an existing folder, replaceable if it exists, not an
/// input (`inputs` are followed through links: a symlink or a hard link to the input is the
/// input), and no two are the same file. Touches nothing.
pub fn check(inputs: &[&Path], outputs: Vec<Output>) -> Result<Vec<Checked>, FileError> {
    let inputs: Vec<(Identity, PathBuf)> = inputs
        .iter()
        .filter_map(|p| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (identity(&m), p.to_path_buf()))
        })
        .collect();
    let mut checked: Vec<(Checked, Option<PathBuf>)> = Vec::new();
    for output in outputs {
        let (found, location) = check_one(&output, &inputs)?;
        for (earlier, earlier_location) in &checked {
            let same = match (found, earlier.found) {
                (Some(a), Some(b)) => a == b,
                _ => location.is_some() && &location == earlier_location,
            };
            if same {
                return Err(FileError::SameFile {
                    what: output.what,
                    path: shown(&output.path),
                    other_what: earlier.output.what,
                    other: shown(&earlier.output.path),
                });
            }
        }
        let inputs = inputs.clone();
        checked.push((
            Checked {
                output,
                found,
                inputs,
            },
            location,
        ));
    }
    Ok(checked.into_iter().map(|(c, _)| c).collect())
}

/// Writes `bytes` whole into the last of `outputs` (the others are named only so that it is
/// never one of them) by the same rule: checked against `inputs` and the others, opened,
/// written, committed (synced, and renamed into place when staged).
pub fn write_whole(inputs: &[&Path], outputs: Vec<Output>, bytes: &[u8]) -> Result<(), FileError> {
    let mut file = check(inputs, outputs)?
        .pop()
        .expect("write_whole is given at least one output")
        .open()?;
    let (what, path) = (file.what, shown(file.path()));
    file.write_all(bytes).map_err(|source| FileError::Io {
        what,
        path,
        action: "write",
        source,
    })?;
    file.commit()
}

/// One output's checks: its identity if it exists, and where it would be created (the
/// canonical folder and the name) if it does not.
fn check_one(
    output: &Output,
    inputs: &[(Identity, PathBuf)],
) -> Result<(Option<Identity>, Option<PathBuf>), FileError> {
    let (what, path) = (output.what, &output.path);
    guard::is_not_a_job_record(output)?;
    let io = |action, source| FileError::Io {
        what,
        path: shown(path),
        action,
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            if meta.file_type().is_symlink() {
                return Err(FileError::Symlink {
                    what,
                    path: shown(path),
                });
            }
            if !meta.file_type().is_file() {
                return Err(FileError::NotRegular {
                    what,
                    path: shown(path),
                    kind: kind(&meta),
                });
            }
            let found = identity(&meta);
            is_not_an_input(output, found, inputs)?;
            guard::is_not_protected(output, Some(found), None)?;
            guard::is_ours(output, &meta)?;
            if output.existing == Existing::Refuse {
                return Err(FileError::Exists {
                    what,
                    path: shown(path),
                    hint: output.hint,
                });
            }
            if output.in_place() {
                may_write(path).map_err(|e| io("write", e))?;
            } else {
                may_write(&folder_of(path)).map_err(|e| io("create a file beside", e))?;
            }
            Ok((Some(found), None))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let folder = folder_of(path);
            let folder = folder.as_path();
            let no_folder = || FileError::NoFolder {
                what,
                path: shown(path),
                folder: shown(folder),
            };
            let canonical = std::fs::canonicalize(folder).map_err(|_| no_folder())?;
            if !canonical.is_dir() {
                return Err(no_folder());
            }
            let name = path.file_name().ok_or_else(no_folder)?;
            may_write(&canonical).map_err(|e| io("create", e))?;
            let location = canonical.join(name);
            guard::is_not_protected(output, None, Some(&location))?;
            Ok((None, Some(location)))
        }
        Err(e) => Err(io("examine", e)),
    }
}

/// The folder a path is in (`.` for a bare name).
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Whether this process may write `path` (a file, or a folder to create files in), asked
/// of the operating system without touching it (`access(2)`).
fn may_write(path: &Path) -> std::io::Result<()> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: a valid NUL-terminated string that lives across the call.
    if unsafe { libc::access(c_path.as_ptr(), libc::W_OK) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn is_not_an_input(
    output: &Output,
    found: Identity,
    inputs: &[(Identity, PathBuf)],
) -> Result<(), FileError> {
    match inputs.iter().find(|(id, _)| *id == found) {
        Some((_, input)) => Err(FileError::IsInput {
            what: output.what,
            path: shown(&output.path),
            input: shown(input),
        }),
        None => Ok(()),
    }
}

/// Refuses to read as trustworthy a file that another user owns or that group or others may
/// write (a results file or a job record `report` reads: its lines may have been planted, and
/// an export built from them would send rows nobody validated). A missing file passes: the
/// reader says what is missing.
pub fn trusted(what: &'static str, path: &Path) -> Result<(), FileError> {
    match std::fs::metadata(path) {
        Ok(meta) => guard::is_ours(&Output::new(what, path), &meta),
        Err(_) => Ok(()),
    }
}

mod error;
mod guard;
mod open;

pub use error::FileError;
pub use guard::never_an_output;
pub use open::OutputFile;

#[cfg(test)]
mod tests;
