//! Reading results files, for `--resume` and `report` (everything that needs the final
//! outcome of each row). The rule every reader follows: a results file may hold several lines
//! for one auth_uuid (one per run); the **last** line for an auth_uuid is its final outcome.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;

use anyhow::Context;

use crate::results::{Outcome, check_results_header, restore_cell};
use crate::validate::{Request, parse_canonical_uuid};

/// The rows already done in a previous run: auth_uuid → fingerprint of what was applied.
#[derive(Debug, Default)]
pub struct Done {
    applied: HashMap<RowKey, u64>,
    /// The header of the existing file, to check that appending keeps the same columns.
    pub header: Vec<String>,
    /// Lines read that were not whole (a crash mid-write), ignored.
    pub torn_lines: u64,
    /// Whole lines read.
    pub lines: u64,
}

/// A fingerprint of what a row asks for: state and reasons (absent and empty are the same,
/// as neither sends reasons).
fn fingerprint(state: &str, reasons: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    state.hash(&mut hasher);
    reasons.hash(&mut hasher);
    hasher.finish()
}

impl Done {
    /// Whether `request` was already applied exactly (same auth_uuid, state and reasons) and
    /// its last outcome was `ok` (or `skipped`, which means ok in an earlier run).
    pub fn contains(&self, request: &Request) -> bool {
        self.applied
            .get(&RowKey::Uuid(request.uuid.as_u128()))
            .is_some_and(|f| {
                *f == fingerprint(
                    request.state.as_str(),
                    request.reasons.as_deref().unwrap_or(""),
                )
            })
    }

    /// Rows known to be done.
    pub fn len(&self) -> usize {
        self.applied.len()
    }

    /// Whether no row is known to be done.
    pub fn is_empty(&self) -> bool {
        self.applied.is_empty()
    }
}

/// What identifies a row across runs: its auth_uuid, or its input line when it has none (an
/// invalid row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowKey {
    /// The row's auth_uuid.
    Uuid(u128),
    /// The row's input line.
    Line(u64),
}

impl RowKey {
    /// The key of a results line.
    pub fn of(record: &csv::StringRecord) -> RowKey {
        match parse_canonical_uuid(restore_cell(&record[1])) {
            Some(uuid) => RowKey::Uuid(uuid.as_u128()),
            None => RowKey::Line(record[0].parse().unwrap_or(0)),
        }
    }
}

/// What reading a results file found besides its lines.
#[derive(Debug, Default)]
pub struct ResultsFile {
    /// Its header.
    pub header: Vec<String>,
    /// Whole lines read.
    pub lines: u64,
    /// Lines that were not whole (a run killed while writing), skipped.
    pub torn: u64,
}

/// Reads a results file line by line, after checking its header, and hands each whole line
/// (its 1-based number among the whole lines, the record and its outcome) to `each`. A torn
/// line is counted and skipped. Every reader of results files goes through here, so that
/// they all see the same lines.
pub fn read_lines(
    path: &Path,
    mut each: impl FnMut(u64, &csv::StringRecord, Outcome) -> anyhow::Result<()>,
) -> anyhow::Result<ResultsFile> {
    let shown = path.display();
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read the results file {shown}"))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(std::io::BufReader::new(file));
    let mut found = ResultsFile::default();
    let mut record = csv::StringRecord::new();
    let mut first = true;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            // A torn last line can be cut inside a multi-byte character.
            Err(e) if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) => {
                found.torn += 1;
                continue;
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read the results file {shown}"));
            }
        }
        if first {
            first = false;
            found.header = record.iter().map(str::to_string).collect();
            check_results_header(&found.header, path)?;
            continue;
        }
        let outcome = Outcome::parse(record.get(4).unwrap_or(""));
        match outcome {
            Some(outcome) if record.len() == found.header.len() => {
                found.lines += 1;
                each(found.lines, &record, outcome)?;
            }
            _ => found.torn += 1,
        }
    }
    Ok(found)
}

/// Reads what a results file says is done; a missing file means nothing is done yet.
pub fn read_done(path: &Path) -> anyhow::Result<Done> {
    if !path.exists() {
        return Ok(Done::default());
    }
    let mut applied = HashMap::new();
    let file = read_lines(path, |_, record, outcome| {
        let key = RowKey::of(record);
        if matches!(outcome, Outcome::Ok | Outcome::Skipped) {
            applied.insert(
                key,
                fingerprint(restore_cell(&record[2]), restore_cell(&record[3])),
            );
        } else {
            applied.remove(&key);
        }
        Ok(())
    })?;
    Ok(Done {
        applied,
        header: file.header,
        torn_lines: file.torn,
        lines: file.lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::RESULT_COLUMNS;
    use crate::validate::State;
    use uuid::Uuid;

    const U1: &str = "01900000-0000-7000-8000-000000000001";
    const U2: &str = "01900000-0000-7000-8000-000000000002";
    const U3: &str = "01900000-0000-7000-8000-000000000003";

    fn request(uuid: &str, state: State, reasons: Option<&str>) -> Request {
        Request {
            uuid: Uuid::parse_str(uuid).unwrap(),
            state,
            reasons: reasons.map(str::to_string),
        }
    }

    #[test]
    fn the_last_line_wins_and_a_torn_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let header = RESULT_COLUMNS.join(",");
        let rest = ",,,,,,,,,";
        std::fs::write(
            &path,
            format!(
                "{header}\n2,{U1},OK,,ok{rest}\n3,{U2},KO,'-x,failed{rest}\n3,{U2},KO,'-x,ok{rest}\n4,{U3},OK,,ok{rest}\n4,{U3},OK,,failed{rest}\n2,{U1},OK,,sk"
            ),
        )
        .unwrap();
        let done = read_done(&path).unwrap();
        assert_eq!(done.torn_lines, 1);
        assert!(done.contains(&request(U1, State::Ok, None)));
        assert!(
            !done.contains(&request(U1, State::Ko, None)),
            "another state is new work"
        );
        assert!(
            done.contains(&request(U2, State::Ko, Some("-x"))),
            "neutralised cells are restored"
        );
        assert!(
            !done.contains(&request(U2, State::Ko, Some("other"))),
            "other reasons are new work"
        );
        assert!(
            !done.contains(&request(U3, State::Ok, None)),
            "the later failure wins"
        );
    }

    #[test]
    fn a_missing_file_is_empty_and_a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_done(&dir.path().join("none.csv")).unwrap().is_empty());
        let path = dir.path().join("other.csv");
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        assert!(
            read_done(&path)
                .unwrap_err()
                .to_string()
                .contains("not a results file")
        );
    }
}
