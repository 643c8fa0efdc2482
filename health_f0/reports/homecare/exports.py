"""XLSX export of the home-care monitoring report: one sheet per level, real dates and percentages."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from health_f0.reports.common import export
from health_f0.reports.common.export import (
    DATE_FORMAT,
    MINUTES_FORMAT,
    PERCENT_FORMAT,
    append_row,
    number_cell,
)
from health_f0.reports.homecare.selectors import PROVINCE, STATION, TTYT, MonitoringReport, ReportRow


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
    return export.export_filename("bao-cao-theo-doi", date_from, date_to)


def report_xlsx(report: MonitoringReport) -> bytes:
    """The report as an XLSX workbook (write-only: rows are streamed to the file, not held as cells)."""
    workbook = Workbook(write_only=True)
    for level, title in sheet_titles().items():
        sheet: Any = workbook.create_sheet(title=title)
        _write_sheet(sheet, report.rows(level))
    return export.workbook_bytes(workbook)


def _write_sheet(sheet: WriteOnlyWorksheet, rows: list[ReportRow]) -> None:
    export.start_sheet(sheet, headers(), widths=[12, 42, 12] + [14] * 15, freeze="D2")
    for row in rows:
        f = row.figures
        append_row(
            sheet,
            [
                row.unit.code,
                row.unit.name,
                number_cell(sheet, row.day, DATE_FORMAT),
                f.active,
                f.new,
                f.completed,
                f.transferred,
                f.closed,
                f.declared,
                number_cell(sheet, f.declaration_rate, PERCENT_FORMAT),
                f.on_time,
                number_cell(sheet, f.on_time_rate, PERCENT_FORMAT),
                f.silent,
                f.alerts_watch,
                f.alerts_urgent,
                f.alerts_emergency,
                f.acknowledged,
                number_cell(sheet, f.median_ack_minutes, MINUTES_FORMAT),
            ],
        )
