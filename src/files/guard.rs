//! What no output may be, beyond the path rules: a file another user owns or that group or
//! others may write (it may have been planted, and `--resume` would trust its lines), and a
//! file this process must never destroy (the key file; the job record, when exporting).

use std::sync::Mutex;

use super::*;

/// A file never to be written over, by its identity when it exists and by where it is.
struct Protected {
    what: String,
    identity: Option<Identity>,
    location: Option<PathBuf>,
}

/// The files registered by [`never_an_output`] in this process.
static PROTECTED: Mutex<Vec<Protected>> = Mutex::new(Vec::new());

/// Registers `path` (described as `what`, e.g. "the key file") as a file no output of this
/// process may be, checked by every output's check and opening (also through a link or a
/// hard link, and when it does not exist yet).
pub fn never_an_output(what: &str, path: &Path) {
    let identity = std::fs::metadata(path).ok().map(|m| identity(&m));
    let location = std::fs::canonicalize(folder_of(path))
        .ok()
        .zip(path.file_name())
        .map(|(folder, name)| folder.join(name));
    let entry = Protected {
        what: format!("{what} {}", shown(path)),
        identity,
        location,
    };
    if let Ok(mut protected) = PROTECTED.lock() {
        protected.push(entry);
    }
}

/// Refuses `output` when it is a registered file: the same file (`found`), or the same
/// place (`location`, for a path that does not exist).
pub(super) fn is_not_protected(
    output: &Output,
    found: Option<Identity>,
    location: Option<&Path>,
) -> Result<(), FileError> {
    let Ok(protected) = PROTECTED.lock() else {
        return Ok(());
    };
    let hit = protected.iter().find(|p| {
        (found.is_some() && p.identity == found)
            || (location.is_some() && p.location.as_deref() == location)
    });
    match hit {
        Some(p) => Err(FileError::Protected {
            what: output.what,
            path: shown(&output.path),
            other: p.what.clone(),
        }),
        None => Ok(()),
    }
}

/// What the job record is called as an output (`results::JobRecord::output`): the only output
/// that may be named `*.job.json`.
const JOB_RECORD: &str = "the job record";

/// Refuses an output other than the job record itself at a job record's name (`X.job.json`):
/// a summary or an export written there would replace the record `report` trusts.
pub(super) fn is_not_a_job_record(output: &Output) -> Result<(), FileError> {
    let named_like_one = output
        .path
        .file_name()
        .is_some_and(|name| name.to_string_lossy().ends_with(".job.json"));
    if named_like_one && output.what != JOB_RECORD {
        return Err(FileError::Protected {
            what: output.what,
            path: shown(&output.path),
            other: "named like a job record (NAME.job.json, beside a results file)".to_string(),
        });
    }
    Ok(())
}

/// Refuses an existing output that another user owns or that group or others may write.
pub(super) fn is_ours(output: &Output, meta: &Metadata) -> Result<(), FileError> {
    // SAFETY: geteuid cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    let why = if meta.uid() != me {
        format!("belongs to another user (uid {})", meta.uid())
    } else if meta.mode() & 0o022 != 0 {
        format!(
            "can be written by other users (mode {:o})",
            meta.mode() & 0o777
        )
    } else {
        return Ok(());
    };
    Err(FileError::NotOurs {
        what: output.what,
        path: shown(&output.path),
        why,
    })
}
