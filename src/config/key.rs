//! The default API key: from `--api-key-file` (its first line, without a BOM, blanks or `\r`)
//! or `TECALIS_API_KEY`, where it came from (for messages, never the key itself), and the
//! checks that never show it.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};

/// Where the default key came from, for messages (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `TECALIS_API_KEY`.
    Environment,
    /// `--api-key-file PATH`.
    File(PathBuf),
    /// The built-in sandbox's demo key.
    Sandbox,
    /// No default key: every row must carry its own.
    None,
}

/// Reads the default key: `--api-key-file` (its first line, without a UTF-8 BOM, surrounding
/// blanks or `\r`, as Windows Notepad saves it) or `TECALIS_API_KEY`.
pub fn load_key(api_key_file: Option<&Path>) -> anyhow::Result<(Option<SecretString>, KeySource)> {
    if let Some(path) = api_key_file {
        let shown = crate::text::shown_path(path);
        // The file's whole text is wiped once the key is taken from it.
        let text = secrecy::zeroize::Zeroizing::new(
            read_bounded(path).with_context(|| format!("cannot read the key file {shown}"))?,
        );
        warn_if_readable_by_others(path);
        crate::files::never_an_output("the key file", path);
        let path_shown = shown;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        if text.trim().is_empty() {
            bail!("the key file {path_shown} is empty");
        }
        // A bare `\r` ends a line too (an old Mac editor).
        let first = text.split(['\n', '\r']).next().unwrap_or("");
        let key = first.trim().to_string();
        if key.is_empty() {
            bail!(
                "the first line of the key file {path_shown} is empty; the key must be on the first line"
            );
        }
        return Ok((
            Some(SecretString::from(key)),
            KeySource::File(path.to_path_buf()),
        ));
    }
    // The copy read from the environment is wiped; the environment itself is not touched.
    match std::env::var("TECALIS_API_KEY").map(secrecy::zeroize::Zeroizing::new) {
        Ok(key) if !key.trim().is_empty() => Ok((
            Some(SecretString::from(key.trim().to_string())),
            KeySource::Environment,
        )),
        _ => Ok((None, KeySource::None)),
    }
}

/// The most bytes read from a key file: a key is short, and a path to a device or a huge
/// file is refused at once rather than read without end.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// The key file's text, at most [`MAX_KEY_FILE_BYTES`]; more is an error.
fn read_bounded(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let mut bytes = secrecy::zeroize::Zeroizing::new(Vec::new());
    open_without_waiting(path)?
        .take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        bail!(
            "it holds more than {MAX_KEY_FILE_BYTES} bytes, and a key is one short line: check that the path names the key file"
        );
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        anyhow::anyhow!("it is not UTF-8 text: check that the path names the key file")
    })?;
    Ok(text.to_string())
}

/// Opens the key file without waiting for a writer: opening a named pipe (FIFO) that nothing
/// writes to waits for ever, and SIGTERM does not end that wait. Opened non-blocking, then
/// set back to blocking reads, so that a pipe with no writer reads as empty at once and a
/// pipe being written (`--api-key-file <(pass show tecalis)`) is read whole.
#[cfg(unix)]
fn open_without_waiting(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this function owns, with plain integer arguments.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(file)
}

#[cfg(not(unix))]
fn open_without_waiting(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            let shown = crate::text::shown_path(path);
            tracing::warn!(
                "the key file {shown} can be read by other users (mode {:o}); run: chmod 600 {shown}",
                mode & 0o777,
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Checks a key for characters that cannot be sent as they are (a pasted newline or a
/// quote), without ever showing it.
pub fn check_key(key: &SecretString) -> anyhow::Result<()> {
    if key.expose_secret().chars().any(char::is_control) {
        bail!("the API key contains control characters; check TECALIS_API_KEY or the key file");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_control_characters_are_refused_without_showing_them() {
        let err = check_key(&SecretString::from("abc\ndef"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("abc"));
        assert!(check_key(&SecretString::from("9d3c8a52-6f0e")).is_ok());
    }
}
