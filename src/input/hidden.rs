//! The rows a workbook hides (hidden by hand, or filtered out), read from the sheet's own XML.
//!
//! calamine reads the cells but does not report hidden rows (its issue 237, closed as not
//! planned), so this reads the row attributes with the zip and XML crates calamine already
//! depends on: `<row r="5" hidden="1">` in an .xlsx sheet (a filter hides rows the same
//! way), `table:visibility="collapse"` or `"filter"` on a `<table:table-row>` of an .ods
//! (with `table:number-rows-repeated` for runs of rows).

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

/// The hidden rows of the .xlsx sheet named `sheet`.
pub(crate) fn xlsx<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    sheet: &str,
) -> Result<HiddenRows, String> {
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
    let mut next = 0u64;
    each_element(zip, &path, |e, _| {
        if e.local_name().as_ref() == "row" {
            // `r` is 1-based and may be left out, meaning the row after the previous one.
            let row = attribute(e, "r")
                .and_then(|r| r.parse::<u64>().ok())
                .map_or(next, |r| r.saturating_sub(1));
            if matches!(attribute(e, "hidden").as_deref(), Some("1" | "true")) {
                hidden.0.push((row, 1));
            }
            next = row + 1;
        }
        true
    })?;
    Ok(hidden)
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
