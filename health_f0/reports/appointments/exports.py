"""XLSX export of the appointment report: one sheet per level (service, TTYT, Sở Y tế) with real dates and
percentage formats, a sheet of the range's totals per service, and a sheet saying what each column counts."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from health_f0.reports.appointments.selectors import (
    APP_SHARE_TARGET,
    PROVINCE,
    REEXAM_WINDOW_DAYS,
    SERVICE,
    TTYT,
    AppointmentFigures,
    AppointmentReport,
    Unit,
)
from health_f0.reports.common import export
from health_f0.reports.common.export import (
    DATE_FORMAT,
    MINUTES_FORMAT,
    PERCENT_FORMAT,
    append_row,
    number_cell,
)


def headers(with_day: bool = True) -> list[str]:
    return [
        _("Mã"),
        _("Tên"),
        _("Phòng khám/khoa"),
        *([_("Ngày")] if with_day else []),
        _("Đặt qua ứng dụng"),
        _("Đặt qua cổng web"),
        _("Đặt qua điện thoại"),
        _("Đặt tại quầy"),
        _("Tổng lượt đặt"),
        _("Lượt khám (đã tiếp đón)"),
        _("Khám đặt qua ứng dụng"),
        _("Tỷ lệ khám đặt qua ứng dụng"),
        _("Vãng lai"),
        _("Đặt trực tuyến đã xác nhận"),
        _("Đặt trực tuyến bị từ chối"),
        _("Trung vị thời gian xác nhận (phút)"),
        _("Đến khám đúng hẹn"),
        _("Không đến"),
        _("Tỷ lệ không đến"),
        _("Tái khám đến hạn"),
        _("Tái khám đã đến"),
        _("Tỷ lệ tái khám đúng hẹn"),
        _("Tin nhắn lịch hẹn đã gửi"),
        _("Tin nhắn lịch hẹn đã đến máy"),
        _("Tin nhắc lịch đã gửi"),
        _("Tin nhắc lịch đã đến máy"),
        _("Tỷ lệ tin nhắc đến máy"),
    ]


def sheet_titles() -> dict[str, str]:
    return {
        SERVICE: _("Dịch vụ theo ngày"),
        TTYT: _("TTYT theo ngày"),
        PROVINCE: _("Sở Y tế theo ngày"),
    }


def export_filename(date_from: date, date_to: date) -> str:
    return export.export_filename("bao-cao-lich-hen", date_from, date_to)


def report_xlsx(report: AppointmentReport) -> bytes:
    """The report as an XLSX workbook (write-only: rows are streamed, not held as cells)."""
    workbook = Workbook(write_only=True)
    for level, title in sheet_titles().items():
        sheet: Any = workbook.create_sheet(title=title)
        _start(sheet, headers(), freeze="E2")
        for row in report.rows(level):
            append_row(sheet, _values(sheet, row.unit, row.figures, row.day))
    totals: Any = workbook.create_sheet(title=_("Dịch vụ cả kỳ"))
    _start(totals, headers(with_day=False), freeze="D2")
    for unit, figures in report.service_period():
        append_row(totals, _values(totals, unit, figures, None))
    export.notes_sheet(workbook, _("Ghi chú"), notes_lines(report))
    return export.workbook_bytes(workbook)


def notes_lines(report: AppointmentReport) -> list[str]:
    low, high = APP_SHARE_TARGET
    return [
        _("Báo cáo lịch hẹn khám từ %(a)s đến %(b)s.")
        % {"a": f"{report.date_from:%d/%m/%Y}", "b": f"{report.date_to:%d/%m/%Y}"},
        _("Lượt đặt: tính vào ngày đặt lịch, theo kênh; không gồm khám vãng lai."),
        _(
            "Lượt khám: người bệnh được tiếp đón trong ngày (kể cả vãng lai). Tỷ lệ khám đặt qua ứng dụng = "
            "khám đặt qua ứng dụng / lượt khám; chỉ tiêu của kế hoạch: %(low)s–%(high)s %%."
        )
        % {"low": round(low * 100), "high": round(high * 100)},
        _(
            "Thời gian xác nhận: từ lúc người bệnh đặt qua ứng dụng/web đến lúc bộ phận tư vấn đặt lịch xác nhận; "
            "tính theo ngày đặt."
        ),
        _(
            "Tỷ lệ không đến = không đến / (đến khám + không đến) trong số lịch hẹn của ngày; lịch đã huỷ "
            "hoặc chưa rõ kết quả không tính."
        ),
        _(
            "Tái khám đúng hẹn: người bệnh đến vào ngày hẹn, hoặc đến cùng dịch vụ trong vòng %(days)s ngày "
            "sau giờ hẹn."
        )
        % {"days": REEXAM_WINDOW_DAYS},
        _("Tin nhắn: đã gửi = đã chuyển cho nhà mạng; đã đến máy = nhà mạng báo đã đến điện thoại."),
        _(
            "Các dòng cộng dồn (TTYT, Sở Y tế) tính lại tỷ lệ từ tổng số và trung vị từ chính các lượt xác nhận."
        ),
    ]


def _start(sheet: WriteOnlyWorksheet, names: list[str], freeze: str) -> None:
    export.start_sheet(sheet, names, widths=[14, 36, 26] + [13] * (len(names) - 3), freeze=freeze)


def _values(sheet: WriteOnlyWorksheet, unit: Unit, f: AppointmentFigures, day: date | None) -> list[Any]:
    return [
        unit.code,
        unit.name,
        unit.place,
        *([number_cell(sheet, day, DATE_FORMAT)] if day is not None else []),
        f.booked_app,
        f.booked_web,
        f.booked_phone,
        f.booked_desk,
        f.booked,
        f.visits,
        f.visits_app,
        number_cell(sheet, f.app_share, PERCENT_FORMAT),
        f.walk_ins,
        f.confirmed,
        f.declined,
        number_cell(sheet, f.median_confirm_minutes, MINUTES_FORMAT),
        f.came,
        f.no_show,
        number_cell(sheet, f.no_show_rate, PERCENT_FORMAT),
        f.reexam_due,
        f.reexam_came,
        number_cell(sheet, f.reexam_adherence, PERCENT_FORMAT),
        f.notices_sent,
        f.notices_delivered,
        f.reminders_sent,
        f.reminders_delivered,
        number_cell(sheet, f.reminder_delivery_rate, PERCENT_FORMAT),
    ]
