"""What every XLSX export writes its rows with: text that a spreadsheet could read as a formula stays text.

Names, file names, reasons and other text in a report come from people (an uploaded file's name reached the
HIS report); a value starting with "=", "+", "-" or "@" (or a tab or carriage return before one) would be a
formula to Excel or LibreOffice (formula injection, OWASP "CSV injection"). Such text is written as a
string cell with Excel's quote prefix, so it shows as typed and stays text even when the cell is edited.
Numbers, dates and cells the export styled itself are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell

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
