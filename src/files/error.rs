//! Why an output cannot be written: one message per case, naming the file, what is wrong and
//! what to do.

use thiserror::Error;

/// Why an output cannot be written. Every message names the file, says what is wrong and
/// what to do; all of them are fatal (exit 1), before anything is sent.
#[derive(Debug, Error)]
pub enum FileError {
    /// The path is a symbolic link (dangling or not).
    #[error(
        "{what} {path} is a symbolic link; tecalis-status never writes through a link (it could point at any file): give the real path"
    )]
    Symlink {
        /// Which output.
        what: &'static str,
        /// Its path, as given.
        path: String,
    },
    /// The path holds a directory, a FIFO, a device or a socket.
    #[error("{what} {path} is {kind}, not a regular file: choose a file path")]
    NotRegular {
        /// Which output.
        what: &'static str,
        /// Its path, as given.
        path: String,
        /// "a directory", "a FIFO", ...
        kind: &'static str,
    },
    /// The file exists and may not be replaced.
    #[error("{what} {path} already exists: {hint}")]
    Exists {
        /// Which output.
        what: &'static str,
        /// Its path, as given.
        path: String,
        /// What to do.
        hint: &'static str,
    },
    /// The output is an input of the run.
    #[error(
        "{what} {path} is the input {input} (the same file, after following links): writing it would destroy what it reads; choose another path"
    )]
    IsInput {
        /// Which output.
        what: &'static str,
        /// Its path, as given.
        path: String,
        /// The input's path, as given.
        input: String,
    },
    /// Two outputs are the same file.
    #[error("{what} {path} and {other_what} {other} are the same file: give each its own path")]
    SameFile {
        /// Which output.
        what: &'static str,
        /// Its path, as given.
        path: String,
        /// The other output.
        other_what: &'static str,
        /// Its path, as given.
        other: String,
    },
    /// The folder to write in does not exist or is not a folder.
    #[error("{what} {path}: the folder {folder} does not exist: create it or choose another path")]
    NoFolder {
        /// Which output.
        what: &'static str,
        /// Its path, as given.
        path: String,
        /// The folder.
        folder: String,
    },
    /// Another process holds the lock.
    #[error(
        "{what} {path} is locked by another run of tecalis-status that is writing it; wait for it to finish or choose another path"
    )]
    Locked {
        /// Which output.
        what: &'static str,
        /// Its path, as given.
        path: String,
    },
    /// The file changed between the check and the opening.
    #[error(
        "{what} {path} changed while it was being opened: check who else writes there, then run again"
    )]
    Changed {
        /// Which output.
        what: &'static str,
        /// Its path, as given.
        path: String,
    },
    /// Another user owns the file, or group or others may write it.
    #[error(
        "{what} {path} {why}: tecalis-status neither writes nor trusts a file another user could have written (it may have been planted); check who wrote it, then move it aside or choose another path"
    )]
    NotOurs {
        /// Which output.
        what: &'static str,
        /// Its path, as given.
        path: String,
        /// "belongs to another user (uid 65534)", "can be written by others (mode 666)".
        why: String,
    },
    /// The path is a file that is never an output (the key file, a job record).
    #[error("{what} {path} is {other}, which is never written over: choose another path")]
    Protected {
        /// Which output.
        what: &'static str,
        /// Its path, as given.
        path: String,
        /// "the key file key.txt", ...
        other: String,
    },
    /// Any other failure of the operating system.
    #[error("cannot {action} {what} {path}: {source}; check the path and its permissions")]
    Io {
        /// Which output.
        what: &'static str,
        /// Its path, as given.
        path: String,
        /// "create", "open", "lock", ...
        action: &'static str,
        /// The cause.
        source: std::io::Error,
    },
}
