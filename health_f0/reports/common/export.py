"""What every report's XLSX export is built with, and the one way an export is recorded in the audit log.

Cells: text that a spreadsheet could read as a formula stays text. Names, file names, reasons and other text
in a report come from people (an uploaded file's name reached the HIS report); a value starting with "=",
"+", "-" or "@" (or a tab or carriage return before one) would be a formula to Excel or LibreOffice (formula
injection, OWASP "CSV injection"). Such text is written as a string cell with Excel's quote prefix, so it
shows as typed and stays text even when the cell is edited. Numbers, dates and cells the export styled
itself are left alone.

Audit: an export is an audited read of many patients' figures; `audited_export` writes the row every family
writes (action EXPORT, the facility reported on as target and facility, the report's slug, the range, the
family's counts and the format).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from health_f0.core.audit import audit_log
from health_f0.core.models import AuditLog

DATE_FORMAT = "dd/mm/yyyy"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
PERCENT_FORMAT = "0.0%"
MINUTES_FORMAT = "0.0"
HOURS_FORMAT = "0.00"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS) and value != "-"


def safe_cell(sheet: Any, value: Any) -> Any:
    """`value` ready for `sheet.append`: formula-like text becomes a quoted string cell, the rest as is. A
    cell already built by the export (with a number format or a font) is checked the same way."""
    if isinstance(value, Cell):
        if is_formula_like(value.value):
            value.data_type = "s"
            value.quotePrefix = True
        return value
    if not is_formula_like(value):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # openpyxl would store "=…" as a formula
    cell.quotePrefix = True
    return cell


def safe_row(sheet: Any, values: Iterable[Any]) -> list[Any]:
    """One row for `sheet.append(...)` with every value passed through `safe_cell`."""
    return [safe_cell(sheet, value) for value in values]


def append_row(sheet: Any, values: Iterable[Any]) -> None:
    sheet.append(safe_row(sheet, values))


def number_cell(sheet: Any, value: Any, number_format: str) -> WriteOnlyCell:
    """A cell showing `value` (a date, a rate, minutes, ...) with `number_format`."""
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = number_format
    return cell


def start_sheet(sheet: Any, names: Sequence[str], *, widths: Sequence[float], freeze: str) -> None:
    """Column widths, frozen panes and the bold, wrapped header row of a write-only sheet."""
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = freeze
    bold = Font(bold=True)
    cells = []
    for text in names:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cells.append(cell)
    append_row(sheet, cells)


def notes_sheet(workbook: Workbook, title: str, lines: Iterable[str]) -> None:
    """A sheet of one wide column saying what each figure counts."""
    notes: Any = workbook.create_sheet(title=title)
    notes.column_dimensions["A"].width = 120
    for line in lines:
        append_row(notes, [line])


def workbook_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_filename(prefix: str, date_from: date, date_to: date) -> str:
    """`<prefix>-ddmmyyyy-ddmmyyyy.xlsx`."""
    return f"{prefix}-{date_from:%d%m%Y}-{date_to:%d%m%Y}.xlsx"


def audited_export(
    *,
    user: Any,
    verb: str,
    report: str,
    target: Any,
    date_from: date,
    date_to: date,
    counts: Mapping[str, int],
    filename: str,
    content: bytes,
) -> tuple[str, bytes]:
    """Record the export of `content` in the audit log (target and facility: the facility reported on) and
    return (filename, content). `report` is the report's URL slug, `counts` the family's size figures."""
    audit_log(
        actor=user,
        action=AuditLog.Action.EXPORT,
        verb=verb,
        target=target,
        facility=target,
        data={
            "report": report,
            "from": date_from.isoformat(),
            "to": date_to.isoformat(),
            **counts,
            "format": "xlsx",
        },
    )
    return filename, content
