//! The sandbox's processes: the vendor's process record, and loading them from a seed file
//! (JSON list, or CSV with `auth_uuid,api_key` and optional fields), bundled samples by default.

use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The bundled seed: two customers' processes, matching `samples/corrections.csv`.
pub const BUNDLED_SEED: &str = include_str!("../../samples/sandbox-processes.json");

/// The key of the bundled seed's first customer, used by `run --sandbox`. A sandbox-only
/// value, not a secret.
pub const DEMO_API_KEY: &str = "9d3c8a52-6f0e-4b1a-8c47-2e5d7f1a0b63";

/// One step of a process, as the vendor reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Operation {
    /// DOCUMENTS, HOME, OCR, POL, FINISH, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The operation's name.
    #[serde(default)]
    pub operation: String,
    /// NOT_STARTED, OK, KO, ...
    #[serde(default)]
    pub state: String,
    /// Seconds spent.
    #[serde(default)]
    pub total_time: serde_json::Value,
}

/// A process, with every field of the vendor's 200 answer, and the key that owns it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Process {
    /// The customer's key; never returned by the API.
    #[serde(skip_serializing)]
    pub api_key: String,
    /// The authorization UUID.
    pub auth_uuid: Uuid,
    /// The person's name.
    #[serde(default)]
    pub name: String,
    /// Their document number.
    #[serde(default)]
    pub document_number: String,
    /// Their document type.
    #[serde(default)]
    pub document_type: String,
    /// The process UUID.
    #[serde(default = "Uuid::now_v7")]
    pub process_uuid: Uuid,
    /// Nationality.
    #[serde(default)]
    pub nationality: String,
    /// The customer company.
    #[serde(default)]
    pub company: String,
    /// The profile alias.
    #[serde(default)]
    pub profile_alias: String,
    /// OK, KO, CANCELLED, or whatever the vendor stored.
    #[serde(default)]
    pub status: String,
    /// The stored reasons.
    #[serde(default)]
    pub status_reasons: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created_at: String,
    /// Last update time.
    #[serde(default)]
    pub updated_at: String,
    /// Whether personal data was cleaned.
    #[serde(default)]
    pub cleaned: bool,
    /// The steps of the process.
    #[serde(default)]
    pub operations: Vec<Operation>,
}

impl Process {
    /// A plausible new process, for an unseen auth_uuid when the sandbox accepts them.
    pub fn new(auth_uuid: Uuid, api_key: &str) -> Process {
        let now = now_rfc3339();
        Process {
            api_key: api_key.to_string(),
            auth_uuid,
            name: "SANDBOX PERSON".into(),
            document_number: "00000000T".into(),
            document_type: "ID_CARD".into(),
            process_uuid: Uuid::now_v7(),
            nationality: "ESP".into(),
            company: "Sandbox".into(),
            profile_alias: "default".into(),
            status: "PENDING".into(),
            status_reasons: None,
            created_at: now.clone(),
            updated_at: now,
            cleaned: false,
            operations: vec![Operation {
                kind: "DOCUMENTS".into(),
                operation: "document_capture".into(),
                state: "NOT_STARTED".into(),
                total_time: serde_json::Value::from(0),
            }],
        }
    }
}

/// The current time as the vendor writes it.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// Reads processes from a seed file: a JSON list of processes (with `api_key`), or a CSV
/// whose header has at least `auth_uuid` and `api_key`.
pub fn load(path: &Path) -> anyhow::Result<Vec<Process>> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the seed file {shown}"))?;
    if text.trim_start().starts_with('[') {
        return parse_json(&text).with_context(|| format!("in the seed file {shown}"));
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .with_context(|| format!("cannot read {shown}"))?
        .clone();
    if !headers.iter().any(|h| h == "auth_uuid") || !headers.iter().any(|h| h == "api_key") {
        bail!("{shown}: a CSV seed needs the columns auth_uuid and api_key");
    }
    let mut processes = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("cannot read {shown}"))?;
        let line = index + 2;
        let get = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .unwrap_or("")
        };
        let auth_uuid = Uuid::try_parse(get("auth_uuid"))
            .with_context(|| format!("{shown}:{line}: auth_uuid is not a UUID"))?;
        let mut process = Process::new(auth_uuid, get("api_key"));
        for (field, value) in [
            ("name", &mut process.name),
            ("status", &mut process.status),
            ("company", &mut process.company),
        ] {
            let cell = get(field);
            if !cell.is_empty() {
                *value = cell.to_string();
            }
        }
        let reasons = get("status_reasons");
        process.status_reasons = (!reasons.is_empty()).then(|| reasons.to_string());
        processes.push(process);
    }
    Ok(processes)
}

/// Parses a JSON list of processes.
pub fn parse_json(text: &str) -> anyhow::Result<Vec<Process>> {
    serde_json::from_str(text).context("not a JSON list of processes with auth_uuid and api_key")
}

/// The bundled processes.
pub fn bundled() -> Vec<Process> {
    parse_json(BUNDLED_SEED).expect("the bundled seed is valid JSON, checked by a test")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_seed_has_two_customers() {
        let processes = bundled();
        assert!(processes.len() >= 12);
        let keys: std::collections::BTreeSet<&str> =
            processes.iter().map(|p| p.api_key.as_str()).collect();
        assert_eq!(keys.len(), 2);
        assert!(keys.contains(DEMO_API_KEY));
    }

    #[test]
    fn a_csv_seed_reads_keys_and_optional_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.csv");
        std::fs::write(
            &path,
            "auth_uuid,api_key,name,status_reasons\n01930000-0000-7000-8000-000000000001,k1,ANA,previo\n01930000-0000-7000-8000-000000000002,k2,,\n",
        )
        .unwrap();
        let processes = load(&path).unwrap();
        assert_eq!(processes.len(), 2);
        assert_eq!(
            (processes[0].api_key.as_str(), processes[0].name.as_str()),
            ("k1", "ANA")
        );
        assert_eq!(processes[0].status_reasons.as_deref(), Some("previo"));
        assert_eq!(processes[1].status_reasons, None);
        std::fs::write(
            &path,
            "auth_uuid,name\n01930000-0000-7000-8000-000000000001,x\n",
        )
        .unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("api_key"));
        std::fs::write(&path, "[{\"auth_uuid\": \"nope\", \"api_key\": \"k\"}]").unwrap();
        assert!(load(&path).is_err());
    }

    #[test]
    fn the_key_is_never_serialised() {
        let json = serde_json::to_string(&bundled()[0]).unwrap();
        assert!(!json.contains("api_key"));
        assert!(!json.contains(DEMO_API_KEY));
    }
}
