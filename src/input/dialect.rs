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
    /// The delimiter, which the row rules need to recognise a row swallowed by a quote.
    pub delimiter: u8,
    /// The line of the header (after a `sep=` line or blank lines, it is not line 1).
    pub header_line: u64,
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

/// The known columns, in the order of [`Columns`]' slots.
const KNOWN: [&str; 4] = ["auth_uuid", "state", "reasons", "api_key"];

/// Other names people give the known columns (lower-case, letters and digits only).
const ALIASES: &[(&str, &str)] = &[
    ("uuid", "auth_uuid"),
    ("authid", "auth_uuid"),
    ("authorizationuuid", "auth_uuid"),
    ("authorisationuuid", "auth_uuid"),
    ("status", "state"),
    ("estado", "state"),
    ("estatus", "state"),
    ("newstate", "state"),
    ("statusreasons", "reasons"),
    ("reason", "reasons"),
    ("motivo", "reasons"),
    ("motivos", "reasons"),
    ("razon", "reasons"),
    ("key", "api_key"),
    ("apitoken", "api_key"),
    ("token", "api_key"),
    ("clave", "api_key"),
    ("apikeys", "api_key"),
    ("xapikey", "api_key"),
];

/// The slot of a known column, if `name` is one (case and blanks ignored).
fn known_column(name: &str) -> Option<usize> {
    let lower = name.trim().to_ascii_lowercase();
    KNOWN.iter().position(|k| *k == lower)
}

/// The known column that `name` most likely means, if it is close to one: the same letters
/// in other case or with other separators (`API-Key`), a usual alias (`status`), or a typo.
fn near_miss(name: &str) -> Option<usize> {
    let letters: String = name
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    if letters.is_empty() {
        return None;
    }
    let squeezed = |k: &str| k.replace('_', "");
    if let Some(slot) = KNOWN.iter().position(|k| squeezed(k) == letters) {
        return Some(slot);
    }
    if let Some((_, known)) = ALIASES.iter().find(|(alias, _)| *alias == letters) {
        return known_column(known);
    }
    KNOWN.iter().position(|k| {
        let k = squeezed(k);
        let allowed = if k.len() <= 5 { 1 } else { 2 };
        letters.len() >= 4 && strsim::damerau_levenshtein(&letters, &k) <= allowed
    })
}

/// Words that make a column name suggest a credential (`customer_api_key`, `clave_api`,
/// `Contraseña`, `passwd`): English and Spanish, as the files come from both.
const CREDENTIAL_WORDS: [&str; 10] = [
    "key",
    "token",
    "secret",
    "passw",
    "pwd",
    "clave",
    "contraseña",
    "contrasena",
    "llave",
    "bearer",
];

/// Whether a header name (not `api_key` itself) suggests a credential: its cells are never
/// read, copied or written.
fn is_credential_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    CREDENTIAL_WORDS.iter().any(|word| lower.contains(word))
}

/// Whether the header is the one this tool writes in its results and preview files (the
/// columns `RESULT_COLUMNS` in `results`, which `input` does not depend on): those files
/// are not corrections, and `report --export-failed` makes a corrections file of them.
fn is_results_header(names: &[String]) -> bool {
    ["outcome", "http_status", "attempts", "finished_at"]
        .iter()
        .all(|column| names.iter().any(|n| n.eq_ignore_ascii_case(column)))
}

/// Finds the known columns in a header record read at `line`. Messages name columns by
/// position, never by content: a file without a header has data in its first row.
pub(crate) fn parse_header(
    header: &csv::ByteRecord,
    file: &str,
    line: u64,
    delimiter: u8,
) -> Result<Columns, InputError> {
    let mut names = Vec::with_capacity(header.len());
    for cell in header.iter() {
        let text = std::str::from_utf8(cell).map_err(|_| InputError::HeaderNotUtf8 {
            file: file.to_string(),
            line,
        })?;
        names.push(text.trim().to_string());
    }
    let file = file.to_string();
    if names
        .first()
        .is_some_and(|first| uuid::Uuid::try_parse(first).is_ok())
    {
        return Err(InputError::NoHeader { file, line });
    }
    if is_results_header(&names) {
        return Err(InputError::ResultsFile { file, line });
    }
    let mut positions: [Option<usize>; 4] = [None; 4];
    let mut extras = Vec::new();
    for (index, name) in names.iter().enumerate() {
        match known_column(name) {
            Some(slot) => {
                if let Some(first) = positions[slot] {
                    return Err(InputError::DuplicateColumn {
                        file,
                        line,
                        name: KNOWN[slot].to_string(),
                        first: first + 1,
                        second: index + 1,
                    });
                }
                positions[slot] = Some(index);
            }
            // An unnamed column (a spreadsheet's trailing `;;`) is not carried through; data
            // under it is an error of its row.
            None if name.is_empty() => {}
            None => extras.push((index, name.clone())),
        }
    }
    // A near miss matters only when the column it resembles is absent: next to a real
    // `state`, a `status` column is just another column, carried through.
    let misses: Vec<(usize, &'static str)> = extras
        .iter()
        .filter_map(|(index, name)| {
            near_miss(name)
                .filter(|slot| positions[*slot].is_none())
                .map(|slot| (index + 1, KNOWN[slot]))
        })
        .collect();
    if !misses.is_empty() {
        return Err(InputError::NearMiss { file, line, misses });
    }
    if let (Some(auth_uuid), Some(state)) = (positions[0], positions[1]) {
        // Named only once the header is known to be one (auth_uuid and state found): the
        // first row of a file without a header is data, perhaps a key.
        let credentials: Vec<(usize, String)> = extras
            .iter()
            .filter(|(_, name)| is_credential_name(name))
            .map(|(index, name)| (index + 1, name.clone()))
            .collect();
        if !credentials.is_empty() {
            return Err(InputError::CredentialColumn {
                file,
                line,
                columns: credentials,
            });
        }
        return Ok(Columns {
            auth_uuid,
            state,
            reasons: positions[2],
            api_key: positions[3],
            extras,
            names,
            delimiter,
            header_line: line,
        });
    }
    let missing: Vec<&str> = [0, 1]
        .into_iter()
        .filter(|slot| positions[*slot].is_none())
        .map(|slot| KNOWN[slot])
        .collect();
    let other_delimiter = CANDIDATE_DELIMITERS
        .into_iter()
        .find(|d| *d != delimiter && names.iter().any(|n| n.as_bytes().contains(d)));
    let hint = match other_delimiter {
        Some(d) if names.len() == 1 => format!(
            "; the header seems to be separated by {}: pass --delimiter '{}'",
            describe_delimiter(d),
            if d == b'\t' { "tab".to_string() } else { (d as char).to_string() }
        ),
        _ => "; the header must name the columns auth_uuid and state (reasons and api_key are optional)"
            .to_string(),
    };
    Err(InputError::MissingColumn {
        file,
        line,
        missing: missing.join(" and "),
        count: names.len(),
        hint,
    })
}

/// The delimiter set by Excel's optional first line `sep=X` (also quoted, `"sep=X"`).
pub(crate) fn sep_line(line: &[u8]) -> Option<u8> {
    // Spaces only: the delimiter itself may be a tab.
    let start = line.iter().take_while(|b| **b == b' ').count();
    let end = line.len() - line.iter().rev().take_while(|b| **b == b' ').count();
    let line = line.get(start..end).unwrap_or_default();
    let line = line
        .strip_prefix(b"\"")
        .and_then(|l| l.strip_suffix(b"\""))
        .unwrap_or(line);
    match line {
        [s, e, p, b'=', delimiter] if [*s, *e, *p].eq_ignore_ascii_case(b"sep") => {
            Some(*delimiter).filter(|d| !d.is_ascii_alphanumeric() && *d != b'"')
        }
        _ => None,
    }
}

/// Whether a raw line holds no data: blanks, delimiters and empty quotes only.
pub(crate) fn is_blank_line(line: &[u8]) -> bool {
    line.iter()
        .all(|b| b.is_ascii_whitespace() || *b == b'"' || CANDIDATE_DELIMITERS.contains(b))
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
    let line = match head.iter().position(|&b| b == b'\n' || b == b'\r') {
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
