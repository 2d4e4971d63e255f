//! A job as the test knows it, independently of the tool's reader: the rows of an input, the
//! whole lines of a results file (up to its last line break), and the requests a sandbox
//! received since a point. The history test compares what the tool says with these.

use std::collections::HashMap;

use rand::Rng;

use tecalis_status::sandbox::Received;

/// One input row: auth_uuid, state, reasons (no cell needs quoting or neutralising).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Row {
    /// The auth_uuid.
    pub uuid: String,
    /// The state.
    pub state: String,
    /// The reasons, empty for none.
    pub reasons: String,
}

/// The input file's text for `rows`.
pub fn input_text(rows: &[Row]) -> String {
    let mut text = String::from("auth_uuid,state,reasons\n");
    for r in rows {
        text.push_str(&format!("{},{},{}\n", r.uuid, r.state, r.reasons));
    }
    text
}

/// One whole line of a results file.
#[derive(Debug, Clone)]
pub struct Line {
    /// The row it is about.
    pub row: Row,
    /// Its outcome.
    pub outcome: String,
}

/// The whole lines of a results file's text: those ended by a line break (the cells the test
/// writes never hold one). An absent file has none.
pub fn whole_lines(text: &str) -> Vec<Line> {
    let whole = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => return Vec::new(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(whole.as_bytes());
    reader
        .records()
        .filter_map(Result::ok)
        .map(|r| Line {
            row: Row {
                uuid: r[1].to_string(),
                state: r[2].to_string(),
                reasons: r[3].to_string(),
            },
            outcome: r[4].to_string(),
        })
        .collect()
}

/// The rows whose last whole line that records an outcome is `ok`: what a resume must not
/// send again with the same cells (a `skipped` line says nothing: SPEC's "only a line that
/// records an outcome").
pub fn done_rows(lines: &[Line]) -> HashMap<String, Row> {
    let mut done = HashMap::new();
    for line in lines {
        match line.outcome.as_str() {
            "skipped" => None,
            "ok" => done.insert(line.row.uuid.clone(), line.row.clone()),
            _ => done.remove(&line.row.uuid),
        };
    }
    done
}

/// The row a received request asks for (`None` for a body that is not one).
pub fn requested(received: &Received) -> Option<Row> {
    let body = received.body.as_ref()?;
    let text = |k: &str| body.get(k).and_then(|v| v.as_str()).map(str::to_string);
    Some(Row {
        uuid: text("auth_uuid")?,
        state: text("state")?,
        reasons: text("reasons").unwrap_or_default(),
    })
}

/// The auth_uuid of the test's row `n`.
pub fn uuid_of(n: u64) -> String {
    format!("01940000-0000-7000-8000-{n:012x}")
}

/// Row `n` with a random state and reasons.
pub fn row(n: u64, rng: &mut impl Rng) -> Row {
    Row {
        uuid: uuid_of(n),
        state: ["OK", "KO", "CANCELLED"][rng.random_range(0..3)].to_string(),
        reasons: ["", "motivo", "duplicado"][rng.random_range(0..3)].to_string(),
    }
}

/// The rows of the last run by its job record's text, and how many of them the results text
/// accounts for: the whole lines after those that were there before it, and the rows it
/// found already ok there (a resume writes no line for them).
pub fn recorded(job: &str, results: &str) -> (u64, u64) {
    let job: serde_json::Value = serde_json::from_str(job).unwrap_or_default();
    let before = job["lines_before"].as_u64().unwrap_or(0);
    let already = job["already_recorded"].as_u64().unwrap_or(0);
    let lines = whole_lines(results).len() as u64;
    (
        job["rows"].as_u64().unwrap_or(0),
        lines.saturating_sub(before) + already,
    )
}
