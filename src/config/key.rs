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
        // The file's whole text is wiped once the key is taken from it.
        let text = secrecy::zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the key file {}", path.display()))?,
        );
        warn_if_readable_by_others(path);
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        if text.trim().is_empty() {
            bail!("the key file {} is empty", path.display());
        }
        // A bare `\r` ends a line too (an old Mac editor).
        let first = text.split(['\n', '\r']).next().unwrap_or("");
        let key = first.trim().to_string();
        if key.is_empty() {
            bail!(
                "the first line of the key file {} is empty; the key must be on the first line",
                path.display()
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

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                "the key file {} can be read by other users (mode {:o}); run: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
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
