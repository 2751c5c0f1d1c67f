"""One export as a sheet (French headers, typed cells), and its two spreadsheet files.

CSV as French spreadsheet users open it: UTF-8 with a byte-order mark, so that Excel reads the accents as
UTF-8 rather than Windows-1252, and `;` between fields, since French Excel takes the comma for the decimal
separator and splits on `;` (its list separator in the French locale); decimals written with a comma, dates
as dd/mm/yyyy, CRLF line ends (RFC 4180). ODS (the OpenDocument spreadsheet) with typed cells: numbers as
numbers, dates as dates shown dd/mm/yyyy, written with odfdo."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from odfdo import Cell, Column, Document, Row, Style, Table

from services.reporting.labels import date_fr

Value = str | int | float | bool | date | None

CSV_MEDIA_TYPE = "text/csv; charset=utf-8; header=present"
ODS_MEDIA_TYPE = "application/vnd.oasis.opendocument.spreadsheet"

_DATE_STYLE = "date-fr"
_DATE_CELL_STYLE = "cellule-date-fr"


@dataclass(frozen=True)
class Sheet:
    """An export: its sheet's name, its file name (without extension), French headers, rows of values."""

    title: str
    filename: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Value]]


def _text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, date):
        return date_fr(value)
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    return str(value)


def to_csv(sheet: Sheet) -> bytes:
    """The sheet as a French CSV file (BOM, `;`, decimal comma, dd/mm/yyyy)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(sheet.headers)
    writer.writerows([_text(value) for value in row] for row in sheet.rows)
    return buffer.getvalue().encode("utf-8-sig")


def _cell(value: Value) -> Cell:
    if value is None:
        return Cell()
    if isinstance(value, bool):
        return Cell(_text(value))
    if isinstance(value, date):
        return Cell(value, text=date_fr(value), style=_DATE_CELL_STYLE)
    if isinstance(value, int | float):
        return Cell(value, text=_text(value))
    return Cell(value)


def to_ods(sheet: Sheet) -> bytes:
    """The sheet as an OpenDocument spreadsheet, dates typed and shown dd/mm/yyyy."""
    document = Document("spreadsheet")
    document.body.clear()
    document.insert_style(
        f'<number:date-style style:name="{_DATE_STYLE}" number:language="fr" number:country="FR">'
        '<number:day number:style="long"/><number:text>/</number:text>'
        '<number:month number:style="long"/><number:text>/</number:text>'
        '<number:year number:style="long"/></number:date-style>',
        automatic=True,
    )
    document.insert_style(Style("table-cell", name=_DATE_CELL_STYLE, data_style=_DATE_STYLE), automatic=True)
    table = Table(sheet.title[:31])
    table.append_column(Column(repeated=len(sheet.headers)))
    # In the document before it has rows: lxml then moves each row into the document as it comes, where moving
    # the whole table in at the end took time growing with the square of its cells (10,000 rows: 160 s of CPU
    # against 15 s: bench/README.md, « The ODS export »).
    document.body.append(table)
    # Rows built whole then added in one go: Row.append_cell and Table.append_row keep odfdo's caches up to
    # date cell by cell, three times slower, and nothing here reads those caches back.
    rows = []
    for values in [list(sheet.headers), *sheet.rows]:
        row = Row()
        row.extend([_cell(value) for value in values])
        rows.append(row)
    table.extend(rows)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
