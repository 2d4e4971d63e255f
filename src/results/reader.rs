//! Reading results files, for `--resume` and `report` (everything that needs the final
//! outcome of each row). The rule every reader follows: a results file may hold several lines
//! for one auth_uuid (one per run); the **last** line for an auth_uuid is its final outcome.

use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::Context;

use super::table::{Merge, Table};
use super::tail::{self, Tail};
use crate::results::{Outcome, check_results_header, restore_cell};
use crate::validate::{Request, Row, parse_canonical_uuid};

/// The rows already done in a previous run: for each, a fingerprint of what was applied, in
/// a compact table (24 bytes a row, so that millions of rows fit in a few tens of MB).
#[derive(Debug, Default)]
pub struct Done {
    applied: Table<Applied>,
    /// The header of the existing file, to check that appending keeps the same columns.
    pub header: Vec<String>,
    /// Whether the last line was not whole (a crash mid-write), so ignored.
    pub torn: bool,
    /// Bytes of a torn last line cut off before appending ([`resume_in`]).
    pub torn_bytes_cut: u64,
    /// Whole lines read.
    pub lines: u64,
}

/// What a row's lines say for `--resume`: the fingerprint of the cells its last `ok` line
/// applied, or 0 when a later line (failed, cancelled...) says it is not ok now.
#[derive(Debug, Clone, Copy)]
struct Applied(u64);

impl Merge for Applied {
    fn merge(&mut self, newer: Self) {
        *self = newer;
    }
}

/// A fingerprint of what a row asks for: state and reasons (absent and empty are the same,
/// as neither sends reasons). Never 0, which [`Applied`] keeps for "not ok".
fn fingerprint(state: &str, reasons: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    state.hash(&mut hasher);
    reasons.hash(&mut hasher);
    hasher.finish().max(1)
}

impl Done {
    /// Whether `request` was already applied exactly (same auth_uuid, state and reasons): its
    /// last line that says anything says `ok`.
    pub fn contains(&self, request: &Request) -> bool {
        self.applied_as(
            RowKey::Uuid(request.uuid.as_u128()),
            fingerprint(
                request.state.as_str(),
                request.reasons.as_deref().unwrap_or(""),
            ),
        )
    }

    /// [`Done::contains`] for a valid row by its cells (a repeat of an earlier row, which
    /// carries no request of its own).
    pub fn contains_row(&self, row: &Row) -> bool {
        parse_canonical_uuid(&row.auth_uuid).is_some_and(|uuid| {
            self.applied_as(
                RowKey::Uuid(uuid.as_u128()),
                fingerprint(&row.state, &row.reasons),
            )
        })
    }

    fn applied_as(&self, key: RowKey, fingerprint: u64) -> bool {
        self.applied
            .get(key.packed())
            .is_some_and(|a| a.0 == fingerprint)
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
    /// The key as a compact table stores it: the auth_uuid, or for a row without one (an
    /// invalid row) its input line under an all-ones prefix (`ffffffff-ffff-ffff-…`, not a
    /// UUID any vendor issues).
    pub fn packed(self) -> [u64; 2] {
        match self {
            RowKey::Uuid(uuid) => [(uuid >> 64) as u64, uuid as u64],
            RowKey::Line(line) => [u64::MAX, line],
        }
    }

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
    /// Whether its last line is torn (not whole: a run stopped while writing it), so ignored.
    pub torn: bool,
}

/// Reads a results file line by line, after checking its header, and hands each whole line
/// (its 1-based number among the whole lines, the record and its outcome) to `each`. Every
/// reader of results files goes through here, so that they all see the same lines.
pub fn read_lines(
    path: &Path,
    each: impl FnMut(u64, &csv::StringRecord, Outcome) -> anyhow::Result<()>,
) -> anyhow::Result<ResultsFile> {
    let file = File::open(path)
        .with_context(|| format!("cannot read the results file {}", path.display()))?;
    read_lines_in(&file, path, each)
}

/// [`read_lines`] through an open descriptor, from its start. The one rule for a whole line:
/// a record that ends with a line break outside quotes (see [`tail::find`]). Only the last
/// line can be torn, and it is ignored (the run that appends cuts it first, under its lock);
/// a line anywhere else that is not a results line is an error naming it.
pub fn read_lines_in(
    file: &File,
    path: &Path,
    mut each: impl FnMut(u64, &csv::StringRecord, Outcome) -> anyhow::Result<()>,
) -> anyhow::Result<ResultsFile> {
    let Tail { whole, len } = tail_of(file, path)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(std::io::BufReader::new(file.take(whole)));
    let mut found = ResultsFile {
        torn: whole < len,
        ..ResultsFile::default()
    };
    let mut record = csv::StringRecord::new();
    let mut first = true;
    let damaged = |line: u64, why: &str| damaged(path, line, why);
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(damaged(
                    line,
                    &format!("not a line of a results file ({e})"),
                ));
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        if first {
            first = false;
            found.header = record.iter().map(str::to_string).collect();
            check_results_header(&found.header, path)?;
            continue;
        }
        if record.len() != found.header.len() {
            return Err(damaged(
                line,
                &format!(
                    "{} cells where the header has {}",
                    record.len(),
                    found.header.len()
                ),
            ));
        }
        let Some(outcome) = Outcome::parse(&record[4]) else {
            return Err(damaged(line, "its outcome column holds no outcome"));
        };
        found.lines += 1;
        each(found.lines, &record, outcome)?;
    }
    Ok(found)
}

/// Where the whole lines of `file` end (see [`tail::find`]), or the error naming a line that
/// is damaged rather than torn.
fn tail_of(file: &File, path: &Path) -> anyhow::Result<Tail> {
    let shown = path.display();
    match tail::find(file).with_context(|| format!("cannot read the results file {shown}"))? {
        Ok(tail) => Ok(tail),
        Err(damage) => Err(damaged(path, damage.line, damage.why)),
    }
}

/// The error for a line that is not a results line.
fn damaged(path: &Path, line: u64, why: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{}, line {line}: {why}; only the last line of a results file can be torn (a run stopped while writing), so this file was changed by other means: restore it, or remove that line if you know its row's outcome; nothing was changed",
        path.display()
    )
}

/// Reads what a results file says is done; a missing file means nothing is done yet.
pub fn read_done(path: &Path) -> anyhow::Result<Done> {
    match File::open(path) {
        Ok(file) => read_done_in(&file, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Done::default()),
        Err(e) => {
            Err(e).with_context(|| format!("cannot read the results file {}", path.display()))
        }
    }
}

/// Takes a results file to append to, opened and locked by the caller: cuts its torn last
/// line (a run killed while writing it), then reads what is done through the same descriptor,
/// so that what is read is exactly what stays, and leaves it positioned at its end.
pub fn resume_in(file: &File, path: &Path) -> anyhow::Result<Done> {
    let shown = path.display();
    let Tail { whole, len } = tail_of(file, path)?;
    if whole < len {
        file.set_len(whole)
            .with_context(|| format!("cannot cut the torn last line of {shown}"))?;
    }
    let mut done = read_done_in(file, path)?;
    done.torn_bytes_cut = len - whole;
    let mut end = file;
    end.seek(SeekFrom::End(0))
        .with_context(|| format!("cannot append to {shown}"))?;
    Ok(done)
}

/// Only a line that records an outcome counts: `ok` says the row is applied with its cells,
/// any other outcome that it is not; a `skipped` line says nothing (a row skipped as ok in an
/// earlier run has that run's `ok` line; a repeat of a row is skipped whatever its first
/// line's fate, which may not even be recorded).
fn read_done_in(file: &File, path: &Path) -> anyhow::Result<Done> {
    let mut applied = Table::default();
    let found = read_lines_in(file, path, |_, record, outcome| {
        let key = RowKey::of(record).packed();
        match outcome {
            Outcome::Skipped => {}
            Outcome::Ok => applied.note(
                key,
                Applied(fingerprint(
                    restore_cell(&record[2]),
                    restore_cell(&record[3]),
                )),
            ),
            _ => applied.note(key, Applied(0)),
        }
        Ok(())
    })?;
    applied.finish();
    applied.retain(|a| a.0 != 0);
    Ok(Done {
        applied,
        header: found.header,
        torn: found.torn,
        torn_bytes_cut: 0,
        lines: found.lines,
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
        assert!(done.torn);
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
    fn only_a_line_that_records_an_outcome_says_whether_a_row_is_done() {
        let header = RESULT_COLUMNS.join(",");
        let rest = ",,,,,,,,,";
        // U1: ok, then skipped by two resumes (files of earlier versions): still done. U2: a
        // repeat's skipped line, and its first row never recorded: not done. U3: ok, failed
        // later, then a skipped line: the failure stands.
        let (_dir, path) = results(&[format!(
            "{header}\n2,{U1},OK,,ok{rest}\n2,{U1},OK,,skipped{rest}\n3,{U2},KO,,skipped{rest}\n4,{U3},OK,,ok{rest}\n4,{U3},OK,,failed{rest}\n5,{U3},OK,,skipped{rest}\n2,{U1},OK,,skipped{rest}\n"
        )]);
        let done = read_done(&path).unwrap();
        assert!(done.contains(&request(U1, State::Ok, None)));
        assert!(!done.contains(&request(U2, State::Ko, None)));
        assert!(!done.contains(&request(U3, State::Ok, None)));
        assert_eq!(done.len(), 1);
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

    fn results(lines: &[String]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        std::fs::write(&path, lines.concat()).unwrap();
        (dir, path)
    }

    #[test]
    fn resuming_cuts_the_torn_line_before_reading_what_is_done() {
        let header = RESULT_COLUMNS.join(",") + "\n";
        let rest = ",,,,,,,,,";
        let u1 = format!("2,{U1},OK,,ok{rest}\n");
        let u2 = format!("3,{U2},KO,,ok{rest}\n");
        // The last line lost only its line break: its cells are all there, but it is torn.
        let (_dir, path) = results(&[header.clone(), u1.clone(), u2.trim_end().to_string()]);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let done = resume_in(&file, &path).unwrap();
        assert_eq!(done.torn_bytes_cut, u2.len() as u64 - 1);
        assert!(done.contains(&request(U1, State::Ok, None)));
        assert!(
            !done.contains(&request(U2, State::Ko, None)),
            "the row of the cut line is sent again"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            header.clone() + &u1
        );
    }

    #[test]
    fn a_damaged_line_before_the_last_is_an_error_naming_it() {
        let header = RESULT_COLUMNS.join(",") + "\n";
        let rest = ",,,,,,,,,";
        let u1 = format!("2,{U1},OK,,ok{rest}\n");
        let u3 = format!("4,{U3},OK,,ok{rest}\n");
        for bad in [
            format!("3,{U2},KO,,ok,,\n"),
            format!("3,{U2},KO,,fine{rest}\n"),
        ] {
            let (_dir, path) = results(&[header.clone(), u1.clone(), bad, u3.clone()]);
            let error = read_done(&path).unwrap_err().to_string();
            assert!(error.contains("r.csv, line 3:"), "{error}");
        }
    }
}
