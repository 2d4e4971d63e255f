//! The workbook reader: an .xlsx or .ods file read as the spreadsheet holds it (calamine does
//! the reading), one sheet, every cell as text exactly as stored, yielding the same records
//! as the CSV reader with the sheet's own row numbers as lines.

use std::io::Cursor;

use calamine::{Data, DataType, Ods, Reader, Sheets, Xlsx, open_workbook_from_rs};
use zip::ZipArchive;

use super::dialect::parse_header;
use super::{Columns, Hidden as HiddenMode, InputError, hidden};

/// The first bytes of a zip file (.xlsx and .ods are zip files).
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// The first bytes of an OLE compound file (an old .xls).
const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0";

/// What the first bytes of an input say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A zip file: perhaps an .xlsx or .ods workbook (its entries decide).
    Zip,
    /// An old binary .xls workbook.
    OldExcel,
    /// Anything else: read as text.
    Text,
}

/// Tells a workbook from a text file by its first bytes, not by its name.
pub(crate) fn kind(head: &[u8]) -> Kind {
    if head.starts_with(ZIP_MAGIC) {
        Kind::Zip
    } else if head.starts_with(OLE_MAGIC) {
        Kind::OldExcel
    } else {
        Kind::Text
    }
}

/// One sheet read into records: the data rows after the header, blank rows left out.
#[derive(Debug)]
pub(crate) struct Sheet {
    /// The sheet's name.
    pub(crate) name: String,
    /// The header's columns.
    pub(crate) columns: Columns,
    /// The data rows, each with its sheet row number (1-based), in order.
    pub(crate) rows: std::vec::IntoIter<(u64, Vec<String>)>,
    /// Blank rows left out (before the header too).
    pub(crate) blank_rows: u64,
    /// Hidden or filtered-out rows left out (`--hidden skip`).
    pub(crate) hidden_skipped: u64,
}

/// `A`, `B`, ..., `Z`, `AA`: the letters of a 0-based column.
fn column_letters(mut column: u32) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (column % 26) as u8);
        if column < 26 {
            break;
        }
        column = column / 26 - 1;
    }
    letters.reverse();
    String::from_utf8_lossy(&letters).into_owned()
}

/// The cell as text, exactly as stored.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Empty => String::new(),
        Data::Bool(true) => "TRUE".to_string(),
        Data::Bool(false) => "FALSE".to_string(),
        other => other.to_string(),
    }
}

/// What a cell that is not text holds, for the message (the value is shown unless the
/// column holds keys).
fn not_text(cell: &Data, show_value: bool) -> Option<String> {
    let what = match cell {
        Data::String(_) | Data::Empty => return None,
        Data::Int(_) | Data::Float(_) => "a number",
        Data::DateTime(_) | Data::DateTimeIso(_) => "a date",
        Data::DurationIso(_) => "a duration",
        Data::Bool(_) => "a TRUE/FALSE value",
        Data::Error(_) => "an error value",
    };
    // A date is stored as a day count, which would only confuse.
    let show_value = show_value && !matches!(cell, Data::DateTime(_));
    Some(if show_value {
        format!(
            "{what} ({}), not text",
            crate::text::safe_input_text(&cell_text(cell))
        )
    } else {
        format!("{what}, not text")
    })
}

/// An opened workbook, the name of the sheet to read and its hidden rows.
type Opened<'a> = (Sheets<Cursor<&'a [u8]>>, String, HiddenRows);

/// Opens the workbook in `bytes` (a zip file), the sheet `wanted` or the first one.
fn open<'a>(bytes: &'a [u8], file: &str, wanted: Option<&str>) -> Result<Opened<'a>, InputError> {
    let not_workbook = |why: String| InputError::NotWorkbook {
        file: file.to_string(),
        why,
    };
    let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| not_workbook(e.to_string()))?;
    let is_xlsx = zip.index_for_name("xl/workbook.xml").is_some();
    let is_ods = zip.index_for_name("content.xml").is_some();
    if is_ods && !is_xlsx {
        // calamine expands every table of an .ods when it opens it: measured first.
        if let Some((sheet, span)) = hidden::ods_largest_span(&mut zip).map_err(not_workbook)? {
            too_wide(file, &sheet, span)?;
        }
    }
    let book = if is_xlsx {
        Sheets::Xlsx(
            open_workbook_from_rs::<Xlsx<_>, _>(Cursor::new(bytes))
                .map_err(|e| not_workbook(e.to_string()))?,
        )
    } else if is_ods {
        Sheets::Ods(
            open_workbook_from_rs::<Ods<_>, _>(Cursor::new(bytes))
                .map_err(|e| not_workbook(e.to_string()))?,
        )
    } else {
        return Err(not_workbook(
            "it is a zip file but neither an .xlsx nor an .ods workbook".to_string(),
        ));
    };
    let names = book.sheet_names();
    let name = match wanted {
        Some(wanted) => names
            .iter()
            .find(|n| n.as_str() == wanted)
            .or_else(|| {
                names
                    .iter()
                    .find(|n| n.trim().eq_ignore_ascii_case(wanted.trim()))
            })
            .cloned()
            .ok_or_else(|| InputError::NoSuchSheet {
                file: file.to_string(),
                sheet: wanted.to_string(),
                sheets: names.clone(),
            })?,
        None => {
            let first = names
                .first()
                .cloned()
                .ok_or_else(|| not_workbook("it has no sheet".to_string()))?;
            // The first sheet is read only when the spreadsheet shows it: a hidden one (an
            // old version kept out of sight) is not what the user sees when opening the file.
            let hidden = book
                .sheets_metadata()
                .first()
                .is_some_and(|sheet| sheet.visible != calamine::SheetVisible::Visible);
            if hidden {
                return Err(InputError::HiddenSheet {
                    file: file.to_string(),
                    sheet: first,
                    sheets: names,
                });
            }
            first
        }
    };
    let hidden = if is_xlsx {
        // The sheet is read by calamine only later (worksheet_range): measured here.
        let (hidden, span) = hidden::xlsx(&mut zip, &name).map_err(not_workbook)?;
        too_wide(file, &name, span)?;
        hidden
    } else {
        hidden::ods(&mut zip, &name).map_err(not_workbook)?
    };
    Ok((book, name, hidden))
}

/// Refuses a sheet whose cells with something in them span more than calamine should hold.
fn too_wide(file: &str, sheet: &str, span: hidden::Span) -> Result<(), InputError> {
    if span.cells() <= hidden::MAX_SPAN_CELLS {
        return Ok(());
    }
    let at = |(row, column): (u64, u64)| {
        format!(
            "{}{}",
            column_letters(u32::try_from(column).unwrap_or(u32::MAX)),
            row.saturating_add(1)
        )
    };
    Err(InputError::SheetTooWide {
        file: file.to_string(),
        sheet: sheet.to_string(),
        first: at(span.first),
        last: at(span.last),
        cells: span.cells(),
        max: hidden::MAX_SPAN_CELLS,
    })
}

use hidden::HiddenRows;

/// Reads one sheet of the workbook in `bytes` into records, refusing what could not be sent
/// as the spreadsheet shows it: a number or a date in a known column, a formula without a
/// saved value, hidden rows (unless `hidden_mode` says what was meant). Every such cell and
/// row is named at once.
pub(crate) fn read(
    bytes: &[u8],
    file: &str,
    wanted: Option<&str>,
    hidden_mode: Option<HiddenMode>,
) -> Result<Sheet, InputError> {
    let (mut book, name, hidden) = open(bytes, file, wanted)?;
    let not_workbook = |e: calamine::Error| InputError::NotWorkbook {
        file: file.to_string(),
        why: e.to_string(),
    };
    let range = book.worksheet_range(&name).map_err(not_workbook)?;
    let formulas = book.worksheet_formula(&name).map_err(not_workbook)?;
    let place = format!("{file} (sheet {})", crate::text::safe_input_text(&name));
    let (mut blank_rows, mut hidden_skipped) = (0, 0);
    let Some((first_row, first_column)) = range.start() else {
        return Err(InputError::Empty { file: place });
    };
    let mut columns: Option<Columns> = None;
    let mut rows = Vec::new();
    let mut bad_cells = Vec::new();
    let mut hidden_lines = Vec::new();
    for (offset, cells) in range.rows().enumerate() {
        let row = u64::from(first_row) + offset as u64;
        let line = row + 1;
        // Cells before the range's first column are empty: keep positions as in the sheet.
        let mut text: Vec<String> = vec![String::new(); first_column as usize];
        text.extend(cells.iter().map(cell_text));
        while text.last().is_some_and(|c| c.is_empty()) {
            text.pop();
        }
        if text.iter().all(|c| c.trim().is_empty()) {
            blank_rows += 1;
            continue;
        }
        let Some(columns) = &columns else {
            let header: csv::ByteRecord = text.iter().map(String::as_bytes).collect();
            columns = Some(parse_header(&header, &place, line, b',')?);
            continue;
        };
        if hidden.contains(row) {
            match hidden_mode {
                Some(HiddenMode::Skip) => {
                    hidden_skipped += 1;
                    continue;
                }
                Some(HiddenMode::Include) => {}
                None => {
                    hidden_lines.push(line);
                    continue;
                }
            }
        }
        for (index, cell) in cells.iter().enumerate() {
            let column = first_column + index as u32;
            let position = (row as u32, column);
            let at = || {
                format!(
                    "{}!{}{line}",
                    crate::text::safe_input_text(&name),
                    column_letters(column)
                )
            };
            let has_formula = formulas.get_value(position).is_some_and(|f| !f.is_empty());
            if has_formula && cell.is_empty() {
                bad_cells.push(format!(
                    "{}: a formula with no saved value: open the workbook in a spreadsheet and save it again (which calculates it), or type the value",
                    at()
                ));
                continue;
            }
            let known = known_column(columns, column as usize);
            if let Some(known) = known
                && let Some(what) = not_text(cell, known != "api_key")
            {
                bad_cells.push(format!(
                    "{} (column {known}): {what}; format the column as Text and type the value again (or start it with an apostrophe)",
                    at()
                ));
            }
        }
        // Every row as wide as the header at least, as a spreadsheet's CSV export writes it
        // (the sheet has those cells, empty).
        if text.len() < columns.names.len() {
            text.resize(columns.names.len(), String::new());
        }
        rows.push((line, text));
    }
    let Some(columns) = columns else {
        return Err(InputError::Empty { file: place });
    };
    if !bad_cells.is_empty() {
        return Err(InputError::WorkbookCells {
            file: file.to_string(),
            cells: bad_cells,
        });
    }
    if !hidden_lines.is_empty() {
        return Err(InputError::HiddenRows {
            file: file.to_string(),
            sheet: name,
            lines: hidden_lines,
        });
    }
    Ok(Sheet {
        name,
        columns,
        rows: rows.into_iter(),
        blank_rows,
        hidden_skipped,
    })
}

/// The known column at `index`, if it is one.
fn known_column(columns: &Columns, index: usize) -> Option<&'static str> {
    if index == columns.auth_uuid {
        Some("auth_uuid")
    } else if index == columns.state {
        Some("state")
    } else if Some(index) == columns.reasons {
        Some("reasons")
    } else if Some(index) == columns.api_key {
        Some("api_key")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_lettered_as_spreadsheets_do() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }

    #[test]
    fn the_kind_is_told_by_content() {
        assert_eq!(kind(b"PK\x03\x04rest"), Kind::Zip);
        assert_eq!(kind(b"\xD0\xCF\x11\xE0rest"), Kind::OldExcel);
        assert_eq!(kind(b"auth_uuid,state"), Kind::Text);
    }
}
