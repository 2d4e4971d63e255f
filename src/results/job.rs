//! The job record beside a results file (`NAME.results.csv.job.json`): written before the
//! first request, so that `report` can tell a finished job from one that was killed, crashed
//! or is still running, and can find the input again to export exactly what failed.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::files::{Existing, Output};

/// What a run records about itself before its first request, and again when it ends.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JobRecord {
    /// The tool's version.
    pub version: String,
    /// Where the rows were sent: the endpoint (credentials in it hidden), or `sandbox` for a
    /// sandbox (`--sandbox`, a rehearsal), whose address changes with every start. A resume
    /// elsewhere is refused: rows ok there are not ok here (absent in earlier records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The input file, absolute; `None` for standard input.
    pub input: Option<PathBuf>,
    /// SHA-256 of the input's bytes, hex.
    pub input_sha256: String,
    /// The input's delimiter.
    pub delimiter: char,
    /// `--encoding`, when given.
    pub encoding: Option<String>,
    /// The sheet read, when the input is a workbook (absent in records of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// The input's header names, as written.
    pub columns: Vec<String>,
    /// Rows of the input this run takes to an outcome (every row: sent, skipped, invalid,
    /// cancelled).
    pub rows: u64,
    /// Whole lines the results file held before this run appended to it.
    pub lines_before: u64,
    /// Of `rows`, those already ok in those lines (`--resume`): the run writes no line for
    /// them, so it writes `rows - already_recorded` lines (0 in records of earlier versions,
    /// whose resumes wrote a `skipped` line for each).
    #[serde(default)]
    pub already_recorded: u64,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// When it ended, if it did.
    pub finished_at: Option<String>,
    /// Its exit code, if it ended.
    pub exit_code: Option<u8>,
    /// A random salt of this job (hex), for [`JobRecord::key_fingerprint`]; kept by every
    /// run of the job (a resume), new with the job (absent in records of earlier versions).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_salt: String,
    /// The fingerprints of the default keys that made at least one row of this job `ok`:
    /// such a key is not called wrong when a resume's first answers are all 401 (rows of
    /// another customer left from an earlier run). Never the key itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys_ok: Vec<String>,
    /// The run stopped because of the key (the wrong-key stop, `--max-unauthorized`, a
    /// canary answered 401): `report` says to fix the key before resuming, as the run did.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fix_key_first: bool,
    /// The run stopped for a quota (exit 7): when the server takes requests again (RFC 3339),
    /// which `report` repeats with its resume advice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_until: Option<String>,
}

/// Where the job record of a results file lives.
pub fn job_path(results: &Path) -> PathBuf {
    let mut name = results.as_os_str().to_os_string();
    name.push(".job.json");
    PathBuf::from(name)
}

/// A new salt for a job's key fingerprints: 16 random bytes, hex.
pub fn new_key_salt() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl JobRecord {
    /// A fingerprint of `key` for this job: SHA-256 of the job's salt and the key, cut to
    /// 128 bits. It tells whether a later run uses the same key without holding the key:
    /// salted, so that equal keys of two jobs do not show, and one-way.
    pub fn key_fingerprint(&self, key: &secrecy::SecretString) -> String {
        use secrecy::ExposeSecret;
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"tecalis-status job key\0");
        hasher.update(self.key_salt.as_bytes());
        hasher.update(b"\0");
        hasher.update(key.expose_secret().as_bytes());
        hasher.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `key` already made rows of this job `ok` (a run recorded it in [`keys_ok`]).
    ///
    /// [`keys_ok`]: JobRecord::keys_ok
    pub fn key_made_rows_ok(&self, key: &secrecy::SecretString) -> bool {
        !self.key_salt.is_empty() && self.keys_ok.contains(&self.key_fingerprint(key))
    }

    /// The job record as an output of a run: the results file's companion, so it is
    /// replaced with it (the results file itself needs --force or --resume), written whole.
    pub fn output(results: &Path) -> Output {
        Output::new("the job record", job_path(results))
            .existing(Existing::Replace)
            .by_rename()
    }

    /// Writes the record beside `results`, replacing any earlier one whole (a private
    /// temporary file in the same folder, synced, then renamed), so that a reader never sees
    /// half of it; never onto one of `inputs`.
    pub fn write(&self, results: &Path, inputs: &[&Path]) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(self).expect("a record of plain fields serialises");
        Ok(crate::files::write_whole(
            inputs,
            vec![JobRecord::output(results)],
            &json,
        )?)
    }

    /// Reads the record beside `results`; `None` when there is none.
    pub fn read(results: &Path) -> anyhow::Result<Option<JobRecord>> {
        let path = job_path(results);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read the job record {}", path.display()));
            }
        };
        serde_json::from_slice(&text)
            .map(Some)
            .with_context(|| format!("{} is not a job record of tecalis-status", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_beside_its_results() {
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("fix.results.csv");
        assert_eq!(JobRecord::read(&results).unwrap(), None);
        let record = JobRecord {
            target: Some("https://api.example.com/customer/status".into()),
            version: "0.1.0".into(),
            input: Some(dir.path().join("fix.csv")),
            input_sha256: "ab".into(),
            delimiter: ';',
            encoding: Some("windows-1252".into()),
            sheet: None,
            columns: vec!["auth_uuid".into(), "state".into()],
            rows: 3000,
            lines_before: 12,
            already_recorded: 7,
            started_at: "2026-11-26T00:00:00Z".into(),
            finished_at: None,
            exit_code: None,
            key_salt: new_key_salt(),
            keys_ok: Vec::new(),
            fix_key_first: true,
            quota_until: Some("2026-11-26T01:00:00Z".into()),
        };
        record.write(&results, &[]).unwrap();
        assert!(dir.path().join("fix.results.csv.job.json").exists());
        assert_eq!(JobRecord::read(&results).unwrap(), Some(record));
    }

    #[test]
    fn a_key_is_known_by_its_salted_fingerprint_only() {
        let key = secrecy::SecretString::from("5b0f7e3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b");
        let other = secrecy::SecretString::from("5b0f7e3a-1c2d-4e5f-8a9b-0c1d2e3f4a5c");
        let mut record: JobRecord = serde_json::from_str(
            r#"{"version":"0.1.0","input":null,"input_sha256":"","delimiter":",","encoding":null,"columns":[],"rows":1,"lines_before":0,"started_at":"","finished_at":null,"exit_code":null}"#,
        )
        .unwrap();
        // A record of an earlier version knows no key.
        assert!(!record.key_made_rows_ok(&key));
        record.key_salt = new_key_salt();
        record.keys_ok.push(record.key_fingerprint(&key));
        assert!(record.key_made_rows_ok(&key));
        assert!(!record.key_made_rows_ok(&other));
        let json = serde_json::to_string(&record).unwrap();
        assert!(!json.contains("5b0f7e3a"), "{json}");
        // Another job's salt gives another fingerprint.
        let mut elsewhere = record.clone();
        elsewhere.key_salt = new_key_salt();
        assert_ne!(
            elsewhere.key_fingerprint(&key),
            record.key_fingerprint(&key)
        );
    }
}
