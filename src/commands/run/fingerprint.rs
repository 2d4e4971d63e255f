//! The input's fingerprint: its SHA-256 for the audit, and its size and modification time to
//! notice a file that changes between validation and sending.

use std::path::Path;
use std::time::SystemTime;

/// What identifies the input's content, for the audit and to notice a file that changes
/// between validation and sending.
#[derive(Debug)]
pub(super) struct Fingerprint {
    pub(super) sha256: String,
    len: u64,
    modified: Option<SystemTime>,
}

pub(super) fn fingerprint(path: &Path) -> std::io::Result<Fingerprint> {
    let meta = std::fs::metadata(path)?;
    let sha256 = crate::results::file_sha256(path)?;
    Ok(Fingerprint {
        sha256,
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

impl Fingerprint {
    /// Whether the file still has the size and modification time it had when hashed: a write
    /// changes the modification time, so the file is not read a second time to find out.
    pub(super) fn still_matches(&self, path: &Path) -> std::io::Result<bool> {
        let meta = std::fs::metadata(path)?;
        Ok(meta.len() == self.len && meta.modified().ok() == self.modified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_change_with_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(&path, "abc").unwrap();
        let a = fingerprint(&path).unwrap();
        assert_eq!(
            a.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        std::fs::write(&path, "abd").unwrap();
        assert_ne!(fingerprint(&path).unwrap().sha256, a.sha256);
    }
}
