//! Pure validation: a CSV record in, a request to send or the list of its problems out
//! (`rules`, `problem`, `state`); and the whole-file scan that finds every problem,
//! duplicates included, before anything is sent (`scan`), and what it learns about lines
//! in relation to other lines (`lines`).

mod lines;
mod problem;
mod rules;
mod scan;
mod state;

pub use lines::{Duplicates, Validator};
pub use problem::{Problem, RowProblem};
pub use rules::{Checked, Request, Row, Rules, check_record, parse_canonical_uuid};
pub use scan::{Scan, scan};
pub use state::State;

#[cfg(test)]
mod tests;
