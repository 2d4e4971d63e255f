#!/usr/bin/env python3
"""Writes the workbooks of the corpus (tests/data/*.xlsx, *.ods) as a spreadsheet user would
have them. The outputs are committed, so CI needs no Python packages; run this again only to
change them (`pip install openpyxl odfpy`, then `python3 tests/data/make-workbooks.py` from the
repository root). `libreoffice.xlsx` / `libreoffice.ods` are workbook.xlsx saved again by
LibreOffice (`soffice --headless --convert-to xlsx|ods`), see README.md.
"""

import datetime
import re
import zipfile
from pathlib import Path

import openpyxl
from odf.opendocument import OpenDocumentSpreadsheet
from odf.style import Style, TableProperties
from odf.table import Table, TableCell, TableRow
from odf.text import P

HERE = Path(__file__).resolve().parent

HEADER = ["auth_uuid", "state", "reasons", "nota"]
# (row, cells, how): the sheet row number is the line the tool names.
ROWS = [
    (2, ["0193c001-1a2b-7c3d-8e4f-000000000001", "OK", "Revisión completa, sin incidencias", 12], None),
    (3, ["0193c001-1a2b-7c3d-8e4f-000000000002", "KO", 'Documento "ilegible", repetir', "ñandú"], None),
    (4, ["0193c001-1a2b-7c3d-8e4f-000000000003", "KO", "Línea 1\nLínea 2", ""], None),
    (5, ["0193c001-1a2b-7c3d-8e4f-000000000004", "CANCELLED", "", "sin motivo"], None),
    (6, ["0193c001-1a2b-7c3d-8e4f-000000000005", "OK", "=no es una fórmula", ""], "text"),
    # row 7 is blank
    (8, ["0193c001-1a2b-7c3d-8e4f-000000000006", "KO", "fila oculta", ""], "hidden"),
    (9, ["0193c001-1a2b-7c3d-8e4f-000000000007", "OK", "fila filtrada", ""], "filtered"),
    (10, ["0193c001-1a2b-7c3d-8e4f-000000000008", "ok", 'CONCATENATE("Revisado"," hoy")', "fórmula"], "formula"),
]
CACHED = "Revisado hoy"
OTHER_SHEET = [["auth_uuid", "state"], ["0193c001-1a2b-7c3d-8e4f-000000000009", "OK"]]


def xlsx_book(rows, other=True):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Correcciones"
    sheet.append(HEADER)
    for row, cells, how in rows:
        for column, value in enumerate(cells, start=1):
            if value == "":
                continue
            cell = sheet.cell(row=row, column=column)
            if how == "formula" and column == 3:
                cell.value = "=" + value
            else:
                cell.value = value
                if isinstance(value, str):
                    cell.data_type = "s"  # text, even when it starts with `=`
        if how in ("hidden", "filtered"):
            sheet.row_dimensions[row].hidden = True
    sheet.auto_filter.ref = f"A1:D{max(r for r, _, _ in rows)}"
    if other:
        second = book.create_sheet("Otra")
        for cells in OTHER_SHEET:
            second.append(cells)
    return book


def cache_formula(path, cell_ref, value):
    """openpyxl writes formulas without a value; a spreadsheet saves the value it calculated."""
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    xml, n = re.subn(
        rf'<c r="{cell_ref}"([^>]*)><f>(.*?)</f><v ?/>',
        rf'<c r="{cell_ref}"\1 t="str"><f>\2</f><v>{value}</v>',
        xml,
    )
    assert n == 1, "formula cell not found"
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)


def ods_cell(value, how=None):
    if value == "":
        return TableCell()
    if isinstance(value, (int, float)):
        cell = TableCell(valuetype="float", value=value)
    elif isinstance(value, datetime.date):
        cell = TableCell(valuetype="date", datevalue=value.isoformat())
    elif how == "formula":
        cell = TableCell(valuetype="string", formula="of:=" + value, stringvalue=CACHED)
        value = CACHED
    else:
        cell = TableCell(valuetype="string")
    for i, line in enumerate(str(value).split("\n")):
        cell.addElement(P(text=line))
    return cell


def ods_book(path, rows, other=True):
    doc = OpenDocumentSpreadsheet()
    table = Table(name="Correcciones")
    table.addElement(make_ods_row(HEADER))
    at = 2
    for row, cells, how in rows:
        while at < row:
            table.addElement(TableRow())
            at += 1
        visibility = {"hidden": "collapse", "filtered": "filter"}.get(how)
        table.addElement(make_ods_row(cells, how, visibility))
        at += 1
    doc.spreadsheet.addElement(table)
    if other:
        second = Table(name="Otra")
        for cells in OTHER_SHEET:
            second.addElement(make_ods_row(cells))
        doc.spreadsheet.addElement(second)
    doc.save(str(path))


def make_ods_row(cells, how=None, visibility=None):
    row = TableRow(visibility=visibility) if visibility else TableRow()
    for column, value in enumerate(cells, start=1):
        row.addElement(ods_cell(value, how if column == 3 else None))
    return row


def main():
    # The full case: every kind of cell, a blank row, a hidden and a filtered row, a second
    # sheet, a formula with its saved value.
    path = HERE / "workbook.xlsx"
    xlsx_book(ROWS).save(path)
    cache_formula(path, "C10", CACHED)
    ods_book(HERE / "workbook.ods", ROWS)

    # Cells that cannot be sent as the spreadsheet shows them: a number in state, a date in
    # reasons, a formula that was never calculated.
    typed = [
        (2, ["0193c001-1a2b-7c3d-8e4f-000000000011", 5, "número en state"], None),
        (3, ["0193c001-1a2b-7c3d-8e4f-000000000012", "OK", datetime.date(2026, 1, 5)], None),
        (4, ["0193c001-1a2b-7c3d-8e4f-000000000013", "OK", 'CONCATENATE("a","b")'], "formula"),
        (5, ["0193c001-1a2b-7c3d-8e4f-000000000014", "OK", "bien"], None),
    ]
    xlsx_book(typed, other=False).save(HERE / "typed.xlsx")
    ods_book(HERE / "typed.ods", typed[:2] + typed[3:], other=False)

    # Problems of rows, located by sheet and row: a misspelt state, a zero-width space before
    # a UUID (shown escaped), a valid row.
    problems = [
        (2, ["0193c001-1a2b-7c3d-8e4f-000000000021", "OK", "bien"], None),
        (3, ["0193c001-1a2b-7c3d-8e4f-000000000022", "CANCELED", "mal escrito"], None),
        (4, ["\u200b0193c001-1a2b-7c3d-8e4f-000000000023", "KO", "espacio invisible"], None),
    ]
    xlsx_book(problems, other=False).save(HERE / "problems.xlsx")

    # An old version of the rows kept as a hidden first sheet, the sheet shown second: the
    # first sheet is not what the user sees, so it is not read without --sheet.
    old = [["auth_uuid", "state", "reasons"], ["0193c001-1a2b-7c3d-8e4f-000000000031", "CANCELLED", "versión antigua"]]
    shown = [["auth_uuid", "state", "reasons"], ["0193c001-1a2b-7c3d-8e4f-000000000031", "OK", "la buena"]]
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Antigua"
    for cells in old:
        first.append(cells)
    first.sheet_state = "hidden"
    second = book.create_sheet("Correcciones")
    for cells in shown:
        second.append(cells)
    book.active = 1
    book.save(HERE / "hidden-sheet.xlsx")
    doc = OpenDocumentSpreadsheet()
    hidden = Style(name="ta_hidden", family="table")
    hidden.addElement(TableProperties(display="false"))
    doc.automaticstyles.addElement(hidden)
    for name, rows, style in [("Antigua", old, "ta_hidden"), ("Correcciones", shown, None)]:
        table = Table(name=name, stylename=style) if style else Table(name=name)
        for cells in rows:
            table.addElement(make_ods_row(cells))
        doc.spreadsheet.addElement(table)
    doc.save(str(HERE / "hidden-sheet.ods"))

    # A stray value far from the table: calamine would hold every cell of the span (a
    # value at XFD1048576 asks for 512 GB); an .ods row of one value repeated across 10,000
    # columns and 2,000 rows (20 million cells from a file of a few hundred bytes).
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Correcciones"
    for cells in shown:
        sheet.append(cells)
    sheet["XFD1048576"] = "x"
    book.save(HERE / "far-cell.xlsx")
    doc = OpenDocumentSpreadsheet()
    table = Table(name="Correcciones")
    for cells in shown:
        table.addElement(make_ods_row(cells))
    repeated = TableRow(numberrowsrepeated=2000)
    cell = TableCell(valuetype="string", numbercolumnsrepeated=10000)
    cell.addElement(P(text="x"))
    repeated.addElement(cell)
    table.addElement(repeated)
    doc.spreadsheet.addElement(table)
    doc.save(str(HERE / "repeated-cell.ods"))


if __name__ == "__main__":
    main()
