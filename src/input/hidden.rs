//! The rows a workbook hides (hidden by hand, or filtered out), read from the sheet's own XML.
//!
//! calamine reads the cells but does not report hidden rows (its issue 237, closed as not
//! planned), so this reads the row attributes with the zip and XML crates calamine already
//! depends on: `<row r="5" hidden="1">` in an .xlsx sheet (a filter hides rows the same
//! way), `table:visibility="collapse"` or `"filter"` on a `<table:table-row>` of an .ods
//! (with `table:number-rows-repeated` for runs of rows).
//!
//! The same passes measure the span of the cells that hold something (its first and last
//! row and column): calamine keeps every cell of that rectangle in memory, so a stray value
//! far from the table (`XFD1048576`, or a cell repeated across a whole row of an .ods) would
//! make it ask for gigabytes and abort; [`MAX_SPAN_CELLS`] is checked before it reads.

use std::io::{BufReader, Read, Seek};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use zip::ZipArchive;

/// Hidden rows as runs: (first row, 0-based, and how many).
#[derive(Debug, Default)]
pub(crate) struct HiddenRows(Vec<(u64, u64)>);

impl HiddenRows {
    /// Whether the row at `row` (0-based) is hidden.
    pub(crate) fn contains(&self, row: u64) -> bool {
        self.0
            .iter()
            .any(|(start, count)| row >= *start && row - start < *count)
    }
}

/// The most cells the span of a sheet may hold: 1,048,576 rows (a sheet's most) of 16
/// columns. calamine holds each cell of the span twice (values and formulas), some 60 bytes
/// each, so this bounds a sheet to about a gigabyte.
pub(crate) const MAX_SPAN_CELLS: u64 = 1 << 24;

/// The rectangle from the first to the last row and column that hold something (0-based).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    /// The first row and column.
    pub(crate) first: (u64, u64),
    /// The last row and column.
    pub(crate) last: (u64, u64),
    /// Whether any cell holds something.
    any: bool,
}

impl Span {
    /// Takes in the cells of `row` from column `from` to `to`, both included.
    fn add(&mut self, rows: (u64, u64), columns: (u64, u64)) {
        if !self.any {
            *self = Span {
                first: (rows.0, columns.0),
                last: (rows.1, columns.1),
                any: true,
            };
            return;
        }
        self.first = (self.first.0.min(rows.0), self.first.1.min(columns.0));
        self.last = (self.last.0.max(rows.1), self.last.1.max(columns.1));
    }

    /// How many cells the rectangle holds.
    pub(crate) fn cells(&self) -> u64 {
        if !self.any {
            return 0;
        }
        let rows = (self.last.0 - self.first.0).saturating_add(1);
        rows.saturating_mul((self.last.1 - self.first.1).saturating_add(1))
    }
}

/// The 0-based row and column of an A1 reference (`XFD1048576`).
fn cell_reference(reference: &str) -> Option<(u64, u64)> {
    let letters = reference
        .bytes()
        .take_while(u8::is_ascii_alphabetic)
        .count();
    let (column, row) = reference.split_at(letters);
    if letters == 0 || letters > 3 {
        return None;
    }
    let column = column.bytes().fold(0u64, |n, b| {
        n * 26 + u64::from(b.to_ascii_uppercase() - b'A' + 1)
    });
    let row = row.parse::<u64>().ok()?;
    Some((row.checked_sub(1)?, column - 1))
}

/// The value of the attribute whose local name is `name`, if the element has it.
fn attribute(element: &BytesStart<'_>, name: &str) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .map(|a| a.value.into_owned())
}

/// The events of one file in the zip, handed to `visit` until it returns `false`.
fn each_element<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    path: &str,
    mut visit: impl FnMut(&BytesStart<'_>, bool) -> bool,
) -> Result<(), String> {
    let file = zip
        .by_name(path)
        .map_err(|e| format!("{path} is missing from the workbook ({e})"))?;
    let mut reader = Reader::from_reader(BufReader::new(file));
    let mut buf = Vec::new();
    loop {
        let keep_going = match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => visit(&e, false),
            Ok(Event::Empty(e)) => visit(&e, true),
            Ok(Event::Eof) => return Ok(()),
            Ok(_) => true,
            Err(e) => return Err(format!("{path} cannot be read: {e}")),
        };
        if !keep_going {
            return Ok(());
        }
        buf.clear();
    }
}

/// The hidden rows of the .xlsx sheet named `sheet`, and the span of its cells that hold
/// something (a `<c>` element with content; an empty `<c r="…" s="…"/>` is only formatting).
pub(crate) fn xlsx<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    sheet: &str,
) -> Result<(HiddenRows, Span), String> {
    // workbook.xml names the sheet's relationship; the relationships name its part.
    let mut id = None;
    each_element(zip, "xl/workbook.xml", |e, _| {
        if e.local_name().as_ref() == "sheet" && attribute(e, "name").as_deref() == Some(sheet) {
            id = attribute(e, "id");
            return false;
        }
        true
    })?;
    let id = id.ok_or_else(|| format!("no sheet {sheet} in xl/workbook.xml"))?;
    let mut target = None;
    each_element(zip, "xl/_rels/workbook.xml.rels", |e, _| {
        if e.local_name().as_ref() == "Relationship" && attribute(e, "Id").as_deref() == Some(&id) {
            target = attribute(e, "Target");
            return false;
        }
        true
    })?;
    let target = target.ok_or_else(|| format!("no part for sheet {sheet}"))?;
    let path = match target.strip_prefix('/') {
        Some(absolute) => absolute.to_string(),
        None => format!("xl/{target}"),
    };
    let mut hidden = HiddenRows::default();
    let mut span = Span::default();
    let mut next = 0u64;
    let (mut row, mut column) = (0u64, 0u64);
    each_element(zip, &path, |e, empty| {
        match e.local_name().as_ref() {
            "row" => {
                // `r` is 1-based and may be left out, meaning the row after the previous one.
                row = attribute(e, "r")
                    .and_then(|r| r.parse::<u64>().ok())
                    .map_or(next, |r| r.saturating_sub(1));
                if matches!(attribute(e, "hidden").as_deref(), Some("1" | "true")) {
                    hidden.0.push((row, 1));
                }
                next = row + 1;
                column = 0;
            }
            "c" => {
                // `r` may be left out too, meaning the cell after the previous one.
                let (at_row, at_column) = attribute(e, "r")
                    .and_then(|r| cell_reference(&r))
                    .unwrap_or((row, column));
                if !empty {
                    span.add((at_row, at_row), (at_column, at_column));
                }
                column = at_column + 1;
            }
            _ => {}
        }
        true
    })?;
    Ok((hidden, span))
}

/// A row of an .ods table while its cells are read.
struct OdsRow {
    /// Its first row (0-based).
    first: u64,
    /// How many rows it stands for (`table:number-rows-repeated`).
    repeats: u64,
    /// The column of its next cell.
    column: u64,
    /// The first and last columns of its cells with content.
    covered: Option<(u64, u64)>,
}

/// The largest span of cells that hold something among the tables of an .ods, with its
/// table's name. calamine reads every table when it opens the file, expanding
/// `table:number-rows-repeated` and `table:number-columns-repeated`, so this is measured
/// before. A cell holds something when it has content (an empty element is formatting).
pub(crate) fn ods_largest_span<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
) -> Result<Option<(String, Span)>, String> {
    let mut largest: Option<(String, Span)> = None;
    let mut table: Option<(String, Span)> = None;
    let mut row: Option<OdsRow> = None;
    let mut next_row = 0u64;
    let finish_row = |table: &mut Option<(String, Span)>, row: &mut Option<OdsRow>| {
        if let (Some((_, span)), Some(row)) = (table.as_mut(), row.take())
            && let Some(columns) = row.covered
        {
            span.add(
                (row.first, row.first.saturating_add(row.repeats.max(1) - 1)),
                columns,
            );
        }
    };
    let finish_table = |table: &mut Option<(String, Span)>,
                        largest: &mut Option<(String, Span)>| {
        if let Some((name, span)) = table.take()
            && largest
                .as_ref()
                .is_none_or(|(_, l)| span.cells() > l.cells())
        {
            *largest = Some((name, span));
        }
    };
    each_element(zip, "content.xml", |e, empty| {
        let repeated = |name: &str| {
            attribute(e, name)
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(1)
        };
        match e.local_name().as_ref() {
            "table" if !empty => {
                finish_row(&mut table, &mut row);
                finish_table(&mut table, &mut largest);
                table = Some((attribute(e, "name").unwrap_or_default(), Span::default()));
                next_row = 0;
            }
            "table-row" if table.is_some() => {
                finish_row(&mut table, &mut row);
                let repeats = repeated("number-rows-repeated");
                row = Some(OdsRow {
                    first: next_row,
                    repeats,
                    column: 0,
                    covered: None,
                });
                next_row = next_row.saturating_add(repeats);
            }
            "table-cell" | "covered-table-cell" => {
                if let Some(row) = row.as_mut() {
                    let repeats = repeated("number-columns-repeated").max(1);
                    if !empty {
                        let last = row.column.saturating_add(repeats - 1);
                        row.covered =
                            Some(row.covered.map_or((row.column, last), |(f, _)| (f, last)));
                    }
                    row.column = row.column.saturating_add(repeats);
                }
            }
            _ => {}
        }
        true
    })?;
    finish_row(&mut table, &mut row);
    finish_table(&mut table, &mut largest);
    Ok(largest)
}

/// The hidden or filtered-out rows of the .ods sheet (table) named `sheet`.
pub(crate) fn ods<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    sheet: &str,
) -> Result<HiddenRows, String> {
    let mut hidden = HiddenRows::default();
    let mut inside = false;
    let mut next = 0u64;
    each_element(zip, "content.xml", |e, empty| {
        match e.local_name().as_ref() {
            "table" if !empty => {
                if inside {
                    return false;
                }
                inside = attribute(e, "name").as_deref() == Some(sheet);
            }
            "table-row" if inside => {
                let count = attribute(e, "number-rows-repeated")
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(1);
                if matches!(
                    attribute(e, "visibility").as_deref(),
                    Some("collapse" | "filter")
                ) {
                    hidden.0.push((next, count));
                }
                next = next.saturating_add(count);
            }
            _ => {}
        }
        true
    })?;
    Ok(hidden)
}
