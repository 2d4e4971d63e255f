//! The dialect of a file and its header: the delimiter (detected or forced) and where each
//! known column is.

use super::InputError;

/// The delimiters tried, in order of preference when the header is ambiguous.
pub const CANDIDATE_DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Where each known column is, and the names of all of them.
#[derive(Debug, Clone)]
pub struct Columns {
    /// Position of `auth_uuid`.
    pub auth_uuid: usize,
    /// Position of `state`.
    pub state: usize,
    /// Position of `reasons`, when present.
    pub reasons: Option<usize>,
    /// Position of `api_key`, when present.
    pub api_key: Option<usize>,
    /// Other columns, carried through to the results: position and header name.
    pub extras: Vec<(usize, String)>,
    /// The header's names, trimmed, as written.
    pub names: Vec<String>,
}

impl Columns {
    /// The header name of the column at `index` (1-based position if the row is wider).
    pub fn name(&self, index: usize) -> String {
        self.names
            .get(index)
            .cloned()
            .unwrap_or_else(|| format!("column {}", index + 1))
    }
}

/// The canonical name of a known column, if `name` is one (case and blanks ignored).
fn known_column(name: &str) -> Option<&'static str> {
    let lower = name.trim().to_ascii_lowercase();
    ["auth_uuid", "state", "reasons", "api_key"]
        .into_iter()
        .find(|k| *k == lower)
}

pub(crate) fn parse_header(
    header: &csv::ByteRecord,
    file: &str,
    delimiter: u8,
) -> Result<Columns, InputError> {
    let mut names = Vec::with_capacity(header.len());
    for cell in header.iter() {
        let text = std::str::from_utf8(cell).map_err(|_| InputError::HeaderNotUtf8 {
            file: file.to_string(),
        })?;
        names.push(text.trim().to_string());
    }
    let first_cell = names.first().cloned().unwrap_or_default();
    if uuid::Uuid::try_parse(&first_cell).is_ok() {
        return Err(InputError::NoHeader {
            file: file.to_string(),
            first_cell,
        });
    }
    let mut positions: [Option<usize>; 4] = [None; 4];
    let mut extras = Vec::new();
    for (index, name) in names.iter().enumerate() {
        match known_column(name) {
            Some(known) => {
                let slot = match known {
                    "auth_uuid" => 0,
                    "state" => 1,
                    "reasons" => 2,
                    _ => 3,
                };
                if let Some(first) = positions[slot] {
                    return Err(InputError::DuplicateColumn {
                        file: file.to_string(),
                        name: known.to_string(),
                        first: first + 1,
                        second: index + 1,
                    });
                }
                positions[slot] = Some(index);
            }
            // An unnamed column (a spreadsheet's trailing `;;`) is not carried through.
            None if name.is_empty() => {}
            None => extras.push((index, name.clone())),
        }
    }
    let missing: Vec<&str> = [("auth_uuid", positions[0]), ("state", positions[1])]
        .into_iter()
        .filter(|(_, p)| p.is_none())
        .map(|(n, _)| n)
        .collect();
    if let (Some(auth_uuid), Some(state)) = (positions[0], positions[1]) {
        return Ok(Columns {
            auth_uuid,
            state,
            reasons: positions[2],
            api_key: positions[3],
            extras,
            names,
        });
    }
    let joined_header = names.join(&(delimiter as char).to_string());
    let other_delimiter = CANDIDATE_DELIMITERS
        .iter()
        .find(|d| **d != delimiter && joined_header.contains(**d as char));
    let hint = match other_delimiter {
        Some(d) if names.len() == 1 => format!(
            "; the header seems to be separated by {}: pass --delimiter '{}'",
            describe_delimiter(*d),
            if *d == b'\t' { "tab".to_string() } else { (*d as char).to_string() }
        ),
        _ => "; the header must name the columns auth_uuid and state (reasons and api_key are optional)"
            .to_string(),
    };
    Err(InputError::MissingColumn {
        file: file.to_string(),
        missing: missing.join(" and "),
        found: names
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", "),
        hint,
    })
}

/// A word for a delimiter, for messages.
pub fn describe_delimiter(delimiter: u8) -> String {
    match delimiter {
        b',' => "commas".into(),
        b';' => "semicolons".into(),
        b'\t' => "tabs".into(),
        b'|' => "pipes".into(),
        other => format!("`{}`", other as char),
    }
}

/// Picks the delimiter that splits the header line into the most fields, counting only
/// outside quotes; a comma when none appears (a one-column file).
pub fn detect_delimiter(head: &[u8]) -> u8 {
    let line = match head.iter().position(|&b| b == b'\n') {
        Some(end) => &head[..end],
        None => head,
    };
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for &byte in line {
        if byte == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(i) = CANDIDATE_DELIMITERS.iter().position(|&d| d == byte) {
            counts[i] += 1;
        }
    }
    let mut best = 0;
    for i in 1..counts.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    CANDIDATE_DELIMITERS[best]
}
