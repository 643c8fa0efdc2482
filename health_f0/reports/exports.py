"""XLSX export of the home-care monitoring report: one sheet per level, real dates and percentages."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from health_f0.reports.selectors import PROVINCE, STATION, TTYT, MonitoringReport, ReportRow
from health_f0.reports.xlsx_exports import append_row

DATE_FORMAT = "dd/mm/yyyy"
PERCENT_FORMAT = "0.0%"
MINUTES_FORMAT = "0.0"


def headers() -> list[str]:
    return [
        _("Mã đơn vị"),
        _("Tên đơn vị"),
        _("Ngày"),
        _("Đang theo dõi"),
        _("Mới tiếp nhận"),
        _("Hoàn thành cách ly"),
        _("Chuyển viện"),
        _("Đóng hồ sơ khác"),
        _("Đã khai báo"),
        _("Tỷ lệ khai báo"),
        _("Khai báo đúng hạn"),
        _("Tỷ lệ đúng hạn"),
        _("Chưa khai báo"),
        _("Cảnh báo cần theo dõi"),
        _("Cảnh báo cần liên hệ ngay"),
        _("Cảnh báo cấp cứu"),
        _("Cảnh báo đã xử lý"),
        _("Trung vị thời gian xử lý (phút)"),
    ]


def sheet_titles() -> dict[str, str]:
    return {
        STATION: _("Trạm y tế theo ngày"),
        TTYT: _("TTYT theo ngày"),
        PROVINCE: _("Sở Y tế theo ngày"),
    }


def export_filename(date_from: date, date_to: date) -> str:
    return f"bao-cao-theo-doi-{date_from:%d%m%Y}-{date_to:%d%m%Y}.xlsx"


def report_xlsx(report: MonitoringReport) -> bytes:
    """The report as an XLSX workbook (write-only: rows are streamed to the file, not held as cells)."""
    workbook = Workbook(write_only=True)
    for level, title in sheet_titles().items():
        sheet: Any = workbook.create_sheet(title=title)
        _write_sheet(sheet, report.rows(level))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _write_sheet(sheet: WriteOnlyWorksheet, rows: list[ReportRow]) -> None:
    widths = [12, 42, 12] + [14] * 15
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[_column_letter(index)].width = width
    sheet.freeze_panes = "D2"
    bold = Font(bold=True)
    header_cells = []
    for text in headers():
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        header_cells.append(cell)
    append_row(sheet, header_cells)
    for row in rows:
        f = row.figures
        append_row(
            sheet,
            [
                row.unit.code,
                row.unit.name,
                _cell(sheet, row.day, DATE_FORMAT),
                f.active,
                f.new,
                f.completed,
                f.transferred,
                f.closed,
                f.declared,
                _cell(sheet, f.declaration_rate, PERCENT_FORMAT),
                f.on_time,
                _cell(sheet, f.on_time_rate, PERCENT_FORMAT),
                f.silent,
                f.alerts_watch,
                f.alerts_urgent,
                f.alerts_emergency,
                f.acknowledged,
                _cell(sheet, f.median_ack_minutes, MINUTES_FORMAT),
            ],
        )


def _cell(sheet: WriteOnlyWorksheet, value: Any, number_format: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = number_format
    return cell


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)
