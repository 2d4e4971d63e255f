//! The one rule for a whole line of a results file, and the only place a line may be torn:
//! the last. The writer quotes a cell only when it must and doubles the quotes inside, so a
//! line it wrote reads back by the strict CSV rule; a line that breaks that rule was changed
//! by other means, and is an error naming it wherever it is, never taken for a torn tail
//! (counting quotes across the whole file once made one stray `"` in line 3 hide, and
//! `--resume` cut, every line after it).

use std::fs::File;
use std::io::{BufRead, Seek, SeekFrom};

/// Where the whole lines of a results file end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    /// The length of the whole records at the start of the file.
    pub whole: u64,
    /// The file's length.
    pub len: u64,
}

/// A line that is neither whole nor a torn last line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damaged {
    /// The line where its record starts (1-based).
    pub line: u64,
    /// What is wrong with it.
    pub why: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a cell.
    CellStart,
    /// In a cell without quotes.
    Plain,
    /// In a quoted cell.
    Quoted,
    /// Just after a quote in a quoted cell: its end, or the first of a doubled quote.
    QuoteInQuoted,
}

/// Finds the whole records at the start of `file`, from its start; leaves the position there.
/// `Err(Ok(damaged))` for a line that the writer cannot have written (a quote inside a cell
/// without quotes, text after a closing quote), or a last record that runs over whole results
/// lines (an opening quote with no end, typed into a line before the last).
pub fn find(file: &File) -> std::io::Result<Result<Tail, Damaged>> {
    let mut file = file;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(0))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let (mut pos, mut line) = (0u64, 1u64);
    let (mut whole, mut record_line) = (0u64, 1u64);
    // The line breaks inside the record being read, outside the first line (for the check of a
    // runaway quote): their positions, kept only while that record lasts.
    let mut breaks: Vec<u64> = Vec::new();
    let mut state = State::CellStart;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        for (i, &byte) in chunk.iter().enumerate() {
            let at = pos + i as u64;
            let next = match (state, byte) {
                (State::Quoted, b'"') => State::QuoteInQuoted,
                (State::Quoted, b'\n') => {
                    breaks.push(at);
                    State::Quoted
                }
                (State::Quoted, _) => State::Quoted,
                (State::QuoteInQuoted, b'"') => State::Quoted,
                (State::CellStart, b'"') => State::Quoted,
                (State::Plain, b'"') => {
                    return Ok(Err(Damaged {
                        line: record_line,
                        why: "a quote inside a cell that is not quoted",
                    }));
                }
                (_, b',') => State::CellStart,
                (_, b'\n') => {
                    whole = at + 1;
                    record_line = line + 1;
                    breaks.clear();
                    State::CellStart
                }
                (State::QuoteInQuoted, _) => {
                    return Ok(Err(Damaged {
                        line: record_line,
                        why: "text after the quote that closes a cell",
                    }));
                }
                (State::CellStart | State::Plain, _) => State::Plain,
            };
            if byte == b'\n' {
                line += 1;
            }
            state = next;
        }
        let n = chunk.len();
        pos += n as u64;
        reader.consume(n);
    }
    drop(reader);
    file.seek(SeekFrom::Start(0))?;
    if whole < pos && !breaks.is_empty() && runs_over_lines(file, &breaks, pos)? {
        return Ok(Err(Damaged {
            line: record_line,
            why: "a quote opens a cell that never ends: the lines after it would be read as its text",
        }));
    }
    Ok(Ok(Tail {
        whole,
        len: len.max(pos),
    }))
}

/// Whether a torn tail that spans line breaks holds, after one, a whole results line of its
/// own (its number, an auth_uuid, then more cells): then a quote was typed into an earlier
/// line, and the tail is not one record cut short.
fn runs_over_lines(mut file: &File, breaks: &[u64], end: u64) -> std::io::Result<bool> {
    use std::io::Read;
    let mut found = false;
    for (k, &at) in breaks.iter().enumerate() {
        let to = breaks.get(k + 1).copied().unwrap_or(end);
        // A results line begins with its line number and the auth_uuid: 60 bytes say enough.
        let take = (to - at - 1).min(60);
        let mut text = vec![0; take as usize];
        file.seek(SeekFrom::Start(at + 1))?;
        file.read_exact(&mut text)?;
        let mut cells = text.split(|&b| b == b',');
        let number = cells.next().unwrap_or_default();
        let uuid = cells.next().unwrap_or_default();
        if !number.is_empty()
            && number.iter().all(u8::is_ascii_digit)
            && std::str::from_utf8(uuid)
                .ok()
                .and_then(crate::validate::parse_canonical_uuid)
                .is_some()
            && cells.next().is_some()
        {
            found = true;
            break;
        }
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(text: &str) -> Result<Tail, Damaged> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        std::fs::write(&path, text).unwrap();
        find(&File::open(&path).unwrap()).unwrap()
    }

    fn whole(text: &str) -> (u64, u64) {
        let t = tail(text).unwrap();
        (t.whole, t.len)
    }

    #[test]
    fn a_whole_record_ends_with_a_line_break_outside_quotes() {
        assert_eq!(whole("h\n1,a\n"), (6, 6));
        assert_eq!(whole("h\n1,a\n2,b"), (6, 9));
        // Cut inside a quoted cell that holds a line break: the break is not a record's end.
        assert_eq!(whole("h\n1,\"x\"\"y\nz\"\n2,\"torn\nmid"), (13, 24));
        assert_eq!(whole("h\n1,\"a,b\"\n2,\"x\"\""), (10, 16));
        assert_eq!(whole("hea"), (0, 3));
        assert_eq!(whole(""), (0, 0));
    }

    const U: &str = "01900000-0000-7000-8000-000000000001";

    #[test]
    fn a_stray_quote_before_the_last_line_is_damage_naming_its_line() {
        let ok = format!("2,{U},OK,,ok\n");
        let head = format!("h\n{ok}");
        let after = ok.repeat(5);
        let inside = format!("{head}3,{U},O\"K,,ok\n{after}");
        assert_eq!(tail(&inside).unwrap_err().line, 3);
        let closed = format!("{head}3,\"{U}\"x,OK,,ok\n{after}");
        assert_eq!(tail(&closed).unwrap_err().line, 3);
        // An opening quote with no end: the rest of the file would be one torn record.
        let open = format!("{head}3,{U},OK,\"why,ok\n{after}");
        assert_eq!(tail(&open).unwrap_err().line, 3);
        // An opening quote that a later quoted cell seems to close: the record began at line 3.
        let quoted = format!("{ok}4,{U},OK,\"a, b\",ok\n");
        let closed_later = format!("{head}3,{U},OK,\"why,ok\n{after}{quoted}{after}");
        assert_eq!(tail(&closed_later).unwrap_err().line, 3);
        // The same quote on the last line is a torn line like any other.
        let last = format!("{head}{ok}3,{U},OK,\"why,ok\n");
        let kept = format!("{head}{ok}").len() as u64;
        assert_eq!(whole(&last), (kept, last.len() as u64));
    }
}
